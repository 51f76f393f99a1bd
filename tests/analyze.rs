//! `switchyard analyze` as a user runs it: the built binary, on snapshot files.

use std::process::{Command, Output};

use serde_json::Value;
use switchyard_graph::analytics::{
    AnalyticsConfig, Metric, NetworkAnalytics, WeightKind, Weighting,
};
use switchyard_graph::testing::{data_file, load_bundled};

fn analyze(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("analyze")
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run switchyard")
}

fn files() -> [String; 2] {
    ["channels", "nodes"].map(|k| {
        data_file(&format!("{k}-2019-05-14.json.xz"))
            .to_string_lossy()
            .into_owned()
    })
}

#[test]
fn analyze_files_ranks_like_the_engine() {
    let [channels, nodes] = files();
    let out = analyze(&[
        "--metric",
        "betweenness",
        "--weight",
        "hops",
        "--limit",
        "5",
        "--json",
        "--file",
        &channels,
        &nodes,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let body: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");

    let snapshot = load_bundled("2019-05-14");
    let config = AnalyticsConfig {
        weightings: vec![Weighting::Hops],
        ..AnalyticsConfig::default()
    };
    let engine = NetworkAnalytics::compute(&snapshot, &config).unwrap();
    let top = engine
        .top(Metric::Betweenness(WeightKind::Hops), 5)
        .unwrap();
    let nodes_out = body["nodes"].as_array().unwrap();
    assert_eq!(nodes_out.len(), 5);
    for (i, (id, value)) in top.iter().enumerate() {
        let n = &nodes_out[i];
        assert_eq!(n["position"], i + 1);
        assert_eq!(n["node_id"], id.to_hex(), "position {}", i + 1);
        let got = n["value"].as_f64().unwrap();
        assert!(
            (got - value).abs() <= 1e-9 * value.abs(),
            "{got} vs {value}"
        );
    }
    // The shape of GET /v1/analytics/centrality.
    assert_eq!(body["total"], engine.nodes.len());
    assert_eq!(body["metric"], "betweenness");
    assert_eq!(body["weight"], "hops");
    assert_eq!(body["amount_msat"], 100_000_000);
    assert_eq!(body["next_cursor"], 5);
    assert!(
        body["graph_version"].is_null(),
        "files have no graph version"
    );
    assert!(body["computed_at"].as_u64().is_some());

    // The table: a header, one row per node, a summary.
    let out = analyze(&[
        "--metric", "pagerank", "--limit", "3", "--file", &channels, &nodes,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 5, "{table}");
    let top_pagerank = engine.top(Metric::PageRank, 1).unwrap()[0].0.to_hex();
    assert!(
        lines[1].trim_start().starts_with('1') && lines[1].ends_with(&top_pagerank),
        "{table}"
    );
    assert!(
        lines[4].contains(&format!("3 of {} active nodes", engine.nodes.len())),
        "{table}"
    );
}

/// `(node id, value)` of every node in `analyze --json` output, in printed order.
fn ranked_output(out: &Output) -> Vec<(String, f64)> {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    body["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            let id = n["node_id"].as_str().expect("node_id").to_string();
            (id, n["value"].as_f64().expect("value"))
        })
        .collect()
}

/// A betweenness or closeness runs its one kernel instead of every metric: the whole ranking
/// (every active node, its value, the order with ties by node id) must be the one the full
/// computation gives. Betweenness sums per worker, so values are compared to 1e-9 relative
/// and the order by value, with exact ties (the many zeros) by node id.
#[test]
fn analyze_single_kernel_ranks_every_node_like_the_full_computation() {
    let [channels, nodes] = files();
    let snapshot = load_bundled("2019-05-14");
    let config = AnalyticsConfig {
        weightings: vec![Weighting::Fee {
            amount_msat: 100_000_000,
        }],
        ..AnalyticsConfig::default()
    };
    let engine = NetworkAnalytics::compute(&snapshot, &config).unwrap();
    let cases = [
        ("betweenness", Metric::Betweenness(WeightKind::Fee)),
        ("closeness", Metric::ClosenessIn(WeightKind::Fee)),
        ("closeness_out", Metric::ClosenessOut(WeightKind::Fee)),
    ];
    for (name, metric) in cases {
        let out = ranked_output(&analyze(&[
            "--metric", name, "--weight", "fee", "--limit", "1000000", "--json", "--file",
            &channels, &nodes,
        ]));
        let expected: std::collections::HashMap<String, f64> = engine
            .top(metric, usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(id, v)| (id.to_hex(), v))
            .collect();
        assert_eq!(out.len(), expected.len(), "{name}: every active node");
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
        for (id, got) in &out {
            let want = expected
                .get(id)
                .unwrap_or_else(|| panic!("{name}: {id} not active"));
            assert!(close(*got, *want), "{name} {id}: {got} vs {want}");
        }
        for pair in out.windows(2) {
            let ((a_id, a), (b_id, b)) = (&pair[0], &pair[1]);
            assert!(a >= b, "{name}: {a_id} {a} before {b_id} {b}");
            if a == b {
                assert!(
                    a_id < b_id,
                    "{name}: tie {a} not by node id: {a_id}, {b_id}"
                );
            }
        }
        if name == "betweenness" {
            let zeros = out.iter().filter(|(_, v)| *v == 0.0).count();
            assert!(
                zeros > 1,
                "betweenness has ties (zeros) whose order is checked"
            );
        }
    }
}

#[test]
fn analyze_reports_bad_input_clearly() {
    let out = analyze(&["--file", "/nonexistent/channels.json"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error:") && stderr.contains("/nonexistent/channels.json"),
        "{stderr}"
    );

    let [channels, _] = files();
    let out = analyze(&["--amount-sat", "0", "--file", &channels]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--amount-sat must be at least 1"));

    let out = analyze(&["--metric", "fame"]);
    assert_eq!(out.status.code(), Some(2), "usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values"));
}

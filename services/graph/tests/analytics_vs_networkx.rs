//! The analytics engine against networkx on the 2019-05-14 snapshot: the fixture
//! `fixtures/analytics-2019-05-14.json.xz` is written by `scripts/analytics_reference.py`
//! (networkx reading the same `data/*.json.xz` files independently); this test never runs
//! networkx. Tolerances: betweenness and closeness 1e-9 relative, PageRank 1e-6 relative,
//! components, diameter and core numbers exact.

use std::io::Read;
use std::path::Path;

use serde_json::Value;
use switchyard_graph::analytics::{ActiveGraph, PageRankWeight, Weighting};
use switchyard_graph::{GraphBuilder, Snapshot};

const DATE: &str = "2019-05-14";

fn data_dir() -> std::path::PathBuf {
    std::env::var_os("SWITCHYARD_DATA_DIR")
        .map(Into::into)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data"))
}

fn snapshot() -> Snapshot {
    let mut b = GraphBuilder::default();
    for kind in ["channels", "nodes"] {
        let path = data_dir().join(format!("{kind}-{DATE}.json.xz"));
        switchyard_graph::load::read_file(&path, |r| {
            b.add(r);
            true
        })
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    b.build()
}

fn fixture() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/fixtures/analytics-{DATE}.json.xz"));
    let mut text = String::new();
    liblzma::read::XzDecoder::new(std::fs::File::open(&path).expect("fixture present"))
        .read_to_string(&mut text)
        .expect("fixture is xz json");
    serde_json::from_str(&text).expect("fixture parses")
}

fn floats(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key}"))
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Largest relative error of `ours` (active order, mapped through `pos`) against `theirs`
/// (fixture order); values below `floor` in magnitude compare absolutely.
fn max_rel(ours: &[f64], pos: &[usize], theirs: &[f64], floor: f64) -> f64 {
    ours.iter()
        .enumerate()
        .map(|(a, &x)| {
            let y = theirs[pos[a]];
            (x - y).abs() / y.abs().max(x.abs()).max(floor)
        })
        .fold(0.0, f64::max)
}

/// Component partition as sorted member lists in fixture numbering.
fn partition(label: &[u32], pos: &[usize]) -> Vec<Vec<u64>> {
    let k = label.iter().map(|&l| l as usize + 1).max().unwrap_or(0);
    let mut parts = vec![Vec::new(); k];
    for (a, &l) in label.iter().enumerate() {
        parts[l as usize].push(pos[a] as u64);
    }
    for p in &mut parts {
        p.sort_unstable();
    }
    parts.sort();
    parts
}

fn fixture_partition(v: &Value) -> Vec<Vec<u64>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap())
                .collect()
        })
        .collect()
}

#[test]
fn analytics_match_networkx_on_2019_05_14() {
    let fx = fixture();
    let g = snapshot();
    let ag = ActiveGraph::new(&g);
    let amount = fx["amount_msat"].as_u64().unwrap();
    let fee = Weighting::Fee {
        amount_msat: amount,
    };

    // Same graph: the same nodes (sorted ids) and the same number of directed pairs.
    let ids: Vec<String> = fx["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ag.node_count(), ids.len());
    assert_eq!(ag.edge_count() as u64, fx["pairs"].as_u64().unwrap());
    let pos: Vec<usize> = (0..ag.node_count())
        .map(|a| {
            let hex = g.node(ag.snapshot_node(a)).id.to_hex();
            ids.binary_search(&hex)
                .unwrap_or_else(|_| panic!("{hex} not in the reference graph"))
        })
        .collect();

    let mut report = Vec::new();
    let mut check = |name: &str, err: f64, tol: f64| {
        report.push(format!("{name}: max relative error {err:.3e}"));
        assert!(err <= tol, "{name}: max relative error {err:e} > {tol:e}");
    };

    for (w, key) in [
        (Weighting::Hops, "betweenness_hops"),
        (fee, "betweenness_fee"),
    ] {
        let b = ag.betweenness(&g, w).unwrap();
        check(key, max_rel(&b.node, &pos, &floats(&fx, key), 1.0), 1e-9);
        if matches!(w, Weighting::Hops) {
            let reference = fx["edge_betweenness_hops"].as_array().unwrap();
            assert_eq!(reference.len(), ag.edge_count());
            let mut theirs = std::collections::HashMap::new();
            for r in reference {
                let r = r.as_array().unwrap();
                theirs.insert(
                    (
                        r[0].as_u64().unwrap() as usize,
                        r[1].as_u64().unwrap() as usize,
                    ),
                    r[2].as_f64().unwrap(),
                );
            }
            let err = (0..ag.edge_count())
                .map(|e| {
                    let (u, v) = ag.edge_endpoints(e);
                    let y = theirs[&(pos[u], pos[v])];
                    (b.edge[e] - y).abs() / y.abs().max(b.edge[e].abs()).max(1.0)
                })
                .fold(0.0, f64::max);
            check("edge_betweenness_hops", err, 1e-9);
        }
    }
    for (w, outgoing, key) in [
        (Weighting::Hops, false, "closeness_in_hops"),
        (Weighting::Hops, true, "closeness_out_hops"),
        (fee, false, "closeness_in_fee"),
    ] {
        let c = ag.closeness(&g, w, outgoing).unwrap();
        check(key, max_rel(&c, &pos, &floats(&fx, key), 1e-300), 1e-9);
    }
    for (w, key) in [
        (PageRankWeight::Unweighted, "pagerank_unweighted"),
        (PageRankWeight::Capacity, "pagerank_capacity"),
    ] {
        let p = ag.pagerank(&g, w, 0.85, 1e-10, 1000).unwrap();
        assert!(p.converged);
        check(key, max_rel(&p.rank, &pos, &floats(&fx, key), 1e-300), 1e-6);
    }

    assert_eq!(
        partition(&ag.weak_components().label, &pos),
        fixture_partition(&fx["weak_components"])
    );
    let scc = ag.strong_components();
    assert_eq!(
        partition(&scc.label, &pos),
        fixture_partition(&fx["strong_components"])
    );
    assert_eq!(
        ag.largest_scc_diameter(&scc),
        fx["diameter_largest_scc_hops"].as_u64().unwrap()
    );
    let cores = ag.core_numbers();
    let theirs = fx["core_number"].as_array().unwrap();
    for (a, &c) in cores.iter().enumerate() {
        assert_eq!(
            u64::from(c),
            theirs[pos[a]].as_u64().unwrap(),
            "core number of {}",
            ids[pos[a]]
        );
    }
    report.push(format!(
        "exact: {} weak components, {} strong components, largest SCC diameter {} hops, max core {}",
        ag.weak_components().sizes.len(),
        scc.sizes.len(),
        fx["diameter_largest_scc_hops"],
        cores.iter().max().copied().unwrap_or(0)
    ));
    println!("{}", report.join("\n"));
}

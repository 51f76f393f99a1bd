//! `switchyard fees plan|simulate --file` as a user runs them: the built binary, offline on
//! snapshot files, answering what the pure crate answers on the same graph.

use std::process::{Command, Output};

use serde_json::Value;
use switchyard_fees::demand::{AmountDistribution, RandomDemand};
use switchyard_fees::rules::Strategy;
use switchyard_fees::{Balances, DemandSpec, PlanRequest, PolicyOverride, Rules, SimulateRequest};
use switchyard_graph::testing::{data_file, load_bundled};
use switchyard_graph::{NodeId, Snapshot};

fn fees(args: &[&str]) -> Output {
    let files = ["channels", "nodes"].map(|k| {
        data_file(&format!("{k}-2019-05-14.json.xz"))
            .to_string_lossy()
            .into_owned()
    });
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .arg("fees")
        .args(args)
        .arg("--file")
        .args(&files)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run switchyard")
}

fn json_of(out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// The node with the most channels, and one of its channels.
fn busy_node(g: &Snapshot) -> (NodeId, String) {
    let u = (0..g.node_count() as u32)
        .max_by_key(|&u| (g.out_edges(u).len(), u))
        .expect("nodes");
    let e = g.out_edges(u)[0];
    let scid = g.channel(Snapshot::edge_channel(e)).scid;
    (g.node(u).id, scid.to_string())
}

#[test]
fn offline_plan_and_simulate_answer_what_the_crate_answers() {
    let g = load_bundled("2019-05-14");
    let (node, scid) = busy_node(&g);
    let id = node.to_string();

    let out = fees(&[
        "simulate",
        "--node",
        &id,
        "--override",
        &format!("{scid}:0:1"),
        "--payments",
        "400",
        "--seed",
        "3",
        "--min-sat",
        "10",
        "--max-sat",
        "50000",
        "--json",
    ]);
    let req = SimulateRequest {
        node,
        overrides: vec![PolicyOverride {
            scid: scid.parse().unwrap(),
            from: node,
            base_fee_msat: 0,
            fee_ppm: 1,
        }],
        demand: DemandSpec::Random(RandomDemand {
            amounts: AmountDistribution::LogUniform {
                min_sat: 10,
                max_sat: 50_000,
            },
            ..RandomDemand::new(400, 3)
        }),
        return_routes: false,
    };
    let want = switchyard_fees::simulate(&g, &req, &Balances::HalfCapacity).unwrap();
    assert_eq!(json_of(&out), serde_json::to_value(&want).unwrap());

    let out = fees(&[
        "plan",
        "--node",
        &id,
        "--strategy",
        "proportional",
        "--payments",
        "300",
        "--seed",
        "2",
        "--json",
    ]);
    let req = PlanRequest {
        node,
        rules: Rules::default(),
        strategy: Strategy::named("proportional"),
        channels: vec![],
        balances: Balances::HalfCapacity,
        demand: DemandSpec::Random(RandomDemand::new(300, 2)),
    };
    let want = switchyard_fees::plan(&g, &req).unwrap();
    assert_eq!(json_of(&out), serde_json::to_value(&want).unwrap());

    // The table names every channel.
    let out = fees(&[
        "plan",
        "--node",
        &id,
        "--strategy",
        "proportional",
        "--payments",
        "300",
    ]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(table.contains(&scid), "{table}");
}

#[test]
fn offline_bad_input_gets_a_clear_error() {
    let out = fees(&["plan", "--payments", "10"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--node"));
    let out = fees(&["plan", "--node", "02zz", "--payments", "10"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a node id"));
    let out = fees(&[
        "simulate",
        "--node",
        &"02".repeat(33),
        "--override",
        "1x2x3:0",
        "--payments",
        "10",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SCID:BASE_FEE_MSAT:FEE_PPM"));
}

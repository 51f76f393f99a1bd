//! The fees endpoints over real HTTP on the 2019-05-14 graph in a real Postgres: plans,
//! what-if simulations, bad input, the controller's history.

use serde_json::{json, Value};
use switchyard_graph::{NodeId, Scid, Snapshot};
use switchyard_store::queries::fees::{self as fq, FeeMode, NewFeeChange};

use crate::http::{get_token, send, send_with, Reply};
use crate::{error_code, start};

const FILES: [&str; 2] = ["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"];
/// The secp256k1 generator: a valid public key no Lightning node uses.
const NOBODY: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

/// `GET path` with the read token (plans and the change history show the node's own data),
/// on a second server over the same state that knows that token.
async fn read(s: &crate::Server, path: &str) -> Reply {
    let auth = switchyard_api::auth::Auth::fixed(Some(crate::auth::READ), None);
    let addr = crate::auth::serve_with(s, auth).await;
    get_token(addr, path, crate::auth::READ).await
}

/// `POST /v1/fees/simulate` with the read token (for our own node a simulation uses our
/// balances), like [`read`].
async fn simulate_raw(s: &crate::Server, body: &str) -> Reply {
    let auth = switchyard_api::auth::Auth::fixed(Some(crate::auth::READ), None);
    let addr = crate::auth::serve_with(s, auth).await;
    let bearer = format!("Bearer {}", crate::auth::READ);
    let headers = [("Authorization", bearer.as_str())];
    send_with(addr, "POST", "/v1/fees/simulate", body, &headers).await
}

/// [`simulate_raw`] with a JSON body.
async fn simulate(s: &crate::Server, body: &Value) -> Reply {
    simulate_raw(s, &body.to_string()).await
}

/// A node with 20 to 40 channel directions out of it, each with a policy: a mid-sized router.
fn mid_node(g: &Snapshot) -> NodeId {
    (0..g.node_count() as u32)
        .find(|&n| (20..=40).contains(&g.out_edges(n).len()))
        .map(|n| g.node(n).id)
        .expect("a node with 20 to 40 channels")
}

#[tokio::test]
async fn plan_lists_every_direction_of_the_node_and_is_deterministic() {
    let s = start(&FILES).await;
    assert!(s.state.refresh_graph().await.unwrap());
    let g = s.state.graph().unwrap();
    let node = mid_node(&g.snapshot);
    let n = g.snapshot.node_idx(&node).unwrap();
    let path = format!("/v1/fees/plan?node={node}&payments=300&seed=3");
    let r = read(&s, &path).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let plan = r.json();
    assert_eq!(plan["node"], node.to_string());
    assert_eq!(plan["strategy"], "rules");
    let rows = plan["channels"].as_array().unwrap();
    assert_eq!(rows.len(), g.snapshot.out_edges(n).len());
    let mut sum = 0;
    for row in rows {
        assert_eq!(row["from"], node.to_string());
        assert!(row["scid"].as_str().unwrap().parse::<Scid>().is_ok());
        for k in ["current", "proposed"] {
            assert!(row[k]["base_fee_msat"].is_u64() && row[k]["fee_ppm"].is_u64());
        }
        // The default rules: flow between 1 and 2,000 ppm (or kept for a disabled direction).
        let ppm = row["proposed"]["fee_ppm"].as_u64().unwrap();
        assert!(
            (1..=2000).contains(&ppm) || row["proposed"] == row["current"],
            "{row}"
        );
        assert!(!row["reason"].as_str().unwrap().is_empty());
        sum += row["expected_revenue_msat"].as_u64().unwrap();
    }
    assert_eq!(sum, plan["expected_revenue_msat"].as_u64().unwrap());
    assert_eq!(read(&s, &path).await.json(), plan, "same seed, same plan");

    // A forced strategy names itself; proportional with half balances is the midpoint.
    let r = read(&s, &format!("{path}&strategy=proportional")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let p = r.json();
    assert_eq!(p["strategy"], "proportional");
    for row in p["channels"].as_array().unwrap() {
        if row["proposed"] != row["current"] {
            assert_eq!(row["strategy"], "proportional");
            let ppm = row["proposed"]["fee_ppm"].as_u64().unwrap();
            assert!((990..=1010).contains(&ppm), "{row}");
        }
    }
}

fn out_flow<'a>(result: &'a Value, scid: &str) -> &'a Value {
    result["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["scid"] == scid && c["direction"] == "out")
        .unwrap()
}

#[tokio::test]
async fn simulate_moves_payments_off_a_channel_priced_near_u32_max() {
    let s = start(&FILES).await;
    assert!(s.state.refresh_graph().await.unwrap());
    let g = s.state.graph().unwrap();
    // The node forwarding the most payments of a demand among the ten biggest by channels.
    let demand = json!({"payments": 3000, "seed": 11, "amount_sat": {"min": 1000, "max": 200000}});
    let mut best: Option<(u64, NodeId, Value)> = None;
    for &n in g.by_channels.iter().take(10) {
        let id = g.snapshot.node(n).id;
        let r = simulate(&s, &json!({"node": id, "demand": demand})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        let f = v["node"]["forwarded"].as_u64().unwrap();
        if best.as_ref().is_none_or(|b| f > b.0) {
            best = Some((f, id, v));
        }
    }
    let (forwarded, node, base) = best.unwrap();
    assert!(forwarded > 0);
    assert_eq!(base["payments"], 3000);
    assert_eq!(base["changed_routes"], 0);
    assert!(base.get("routes").is_none(), "routes only when asked");
    // Its busiest outgoing direction.
    let busiest = base["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["direction"] == "out")
        .max_by_key(|c| c["payments"].as_u64().unwrap())
        .unwrap()
        .clone();
    let moved = busiest["payments"].as_u64().unwrap();
    assert!(moved > 0);
    let scid = busiest["scid"].as_str().unwrap().to_string();
    let body = json!({
        "node": node,
        "overrides": [{"scid": scid, "from": node, "base_fee_msat": u32::MAX, "fee_ppm": u32::MAX}],
        "demand": demand,
        "return_routes": true,
    });
    let r = simulate(&s, &body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let what_if = r.json();
    // Only N's own payments still cross it: a payer's first hop costs it nothing.
    let after = out_flow(&what_if, &scid);
    assert!(
        after["payments"].as_u64().unwrap() < moved,
        "{after} vs {busiest}"
    );
    assert_eq!(
        after["revenue_msat"], 0,
        "nobody pays ~4,295 sat + 429,496% to cross it"
    );
    assert!(
        what_if["changed_routes"].as_u64().unwrap() >= moved - after["payments"].as_u64().unwrap()
    );
    assert!(what_if["node"]["forwarded"].as_u64().unwrap() < forwarded);
    // The routes returned (the first 1,000) cross that direction only as N's first hop.
    let routes = what_if["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 1000);
    for r in routes.iter().filter(|r| !r.is_null()) {
        for (i, h) in r["hops"].as_array().unwrap().iter().enumerate() {
            let crosses = h["scid"] == scid && h["from"] == node.to_string();
            assert!(!crosses || i == 0, "{h}");
        }
    }
    // A seed gives the same answer twice.
    assert_eq!(simulate(&s, &body).await.json(), what_if);
}

#[tokio::test]
async fn bad_input_gets_clear_errors_never_500() {
    let s = start(&FILES).await;
    assert!(s.state.refresh_graph().await.unwrap());
    let g = s.state.graph().unwrap();
    let node = mid_node(&g.snapshot);
    let n = g.snapshot.node_idx(&node).unwrap();
    let own_scid = g
        .snapshot
        .channel(Snapshot::edge_channel(g.snapshot.out_edges(n)[0]))
        .scid;
    // A channel that is not the node's.
    let other = (0..g.snapshot.channel_count() as u32)
        .map(|c| g.snapshot.channel(c))
        .find(|c| !c.nodes.contains(&n))
        .unwrap()
        .scid;
    let demand = json!({"payments": 10});
    let ov = |scid: &str, from: &str| {
        json!({"node": node, "demand": demand,
               "overrides": [{"scid": scid, "from": from, "base_fee_msat": 0, "fee_ppm": 1}]})
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"node": NOBODY, "demand": demand}),
            404,
            "unknown_node",
        ),
        (
            json!({"node": "02zz", "demand": demand}),
            400,
            "invalid_node_id",
        ),
        (ov("1x2", &node.to_string()), 400, "invalid_scid"),
        (
            ov(&other.to_string(), &node.to_string()),
            400,
            "not_node_direction",
        ),
        (ov("999999x1x0", &node.to_string()), 400, "unknown_channel"),
        (ov(&own_scid.to_string(), NOBODY), 400, "not_node_direction"),
        (
            json!({"node": node, "demand": demand, "overrides": [{"scid": own_scid}]}),
            400,
            "invalid_body",
        ),
        (
            json!({"node": node, "demand": {"payments": 100_001}}),
            422,
            "demand_too_large",
        ),
        (
            json!({"node": node, "demand": {"payments": 5, "list": []}}),
            400,
            "invalid_demand",
        ),
        (json!({"node": node, "demand": {}}), 400, "invalid_demand"),
        (
            json!({"node": node, "demand": {"payments": 5, "amount_sat": {"min": 9, "max": 3}}}),
            400,
            "invalid_demand",
        ),
        (
            json!({"node": node, "demand": {"list": [{"source": node, "destination": NOBODY, "amount_msat": 0}]}}),
            400,
            "invalid_request",
        ),
        (
            json!({"node": node, "demand": demand, "bogus": 1}),
            400,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        let r = simulate(&s, &body).await;
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (status, code),
            "{body}: {}",
            r.body
        );
    }
    let r = simulate(&s, &json!({"node": node, "demand": {"payments": 100_001}})).await;
    assert!(
        r.body.contains("100000"),
        "the limit is in the message: {}",
        r.body
    );
    let r = simulate_raw(&s, "{not json").await;
    assert_eq!(r.status, 400, "{}", r.body);

    let plans: [(String, u16, &str); 5] = [
        (format!("node={NOBODY}&payments=10"), 404, "unknown_node"),
        ("node=xyz".into(), 400, "invalid_node_id"),
        (
            format!("node={node}&strategy=static"),
            400,
            "invalid_strategy",
        ),
        (
            format!("node={node}&payments=20001"),
            422,
            "demand_too_large",
        ),
        (format!("node={node}&payments=-1"), 400, "invalid_query"),
    ];
    for (q, status, code) in plans {
        let r = read(&s, &format!("/v1/fees/plan?{q}")).await;
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (status, code),
            "{q}: {}",
            r.body
        );
    }
    let r = read(&s, "/v1/fees/plan").await;
    assert_eq!(r.status, 400, "{}", r.body);

    // Apply changes the node: refused without a configured token, before anything else.
    let r = send(s.addr, "POST", "/v1/fees/apply", "").await;
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (403, "auth_not_configured")
    );
}

#[tokio::test]
async fn history_lists_recorded_changes_newest_first_with_filters() {
    let s = start(&[]).await;
    let empty = read(&s, "/v1/fees/history").await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(empty.json(), json!({"changes": []}));
    let me = NodeId::from_hex(NOBODY).unwrap();
    let a = Scid::new(700_000, 5, 1).unwrap();
    let b = Scid::new(700_001, 6, 0).unwrap();
    for (scid, ppm) in [(a, 10), (b, 20), (a, 30)] {
        let c = NewFeeChange {
            scid,
            from: me,
            old_base_fee_msat: 1000,
            old_fee_ppm: 1,
            new_base_fee_msat: 0,
            new_fee_ppm: ppm,
            strategy: "flow".into(),
            rule: "default".into(),
            reason: "test".into(),
            expected_revenue_msat: 5,
            mode: FeeMode::Apply,
            applied: true,
        };
        fq::record_change(s.state.store.pool(), &c).await.unwrap();
    }
    let all = read(&s, "/v1/fees/history").await.json();
    let ppms: Vec<u64> = all["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["new_fee_ppm"].as_u64().unwrap())
        .collect();
    assert_eq!(ppms, vec![30, 20, 10]);
    assert_eq!(all["changes"][0]["from"], NOBODY);
    assert_eq!(all["changes"][0]["scid"], a.to_string());
    let only_a = read(&s, &format!("/v1/fees/history?scid={a}&limit=1"))
        .await
        .json();
    assert_eq!(only_a["changes"].as_array().unwrap().len(), 1);
    assert_eq!(only_a["changes"][0]["new_fee_ppm"], 30);
    let later = read(&s, "/v1/fees/history?since=4000000000").await.json();
    assert_eq!(later["changes"].as_array().unwrap().len(), 0);
    for q in ["scid=nope", "limit=abc", "since=x", "what=1"] {
        let r = read(&s, &format!("/v1/fees/history?{q}")).await;
        assert_eq!(r.status, 400, "{q}: {}", r.body);
    }
}

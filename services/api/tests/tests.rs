//! The API over real HTTP, against a real Postgres holding the real 2019 graph.

mod analytics_history;
mod asof_gossip;
mod auth;
mod fees;
mod fees_regtest;
mod history;
mod http;
mod lightning;
mod limits;
#[path = "../../../tests/support/line.rs"]
mod line;
mod node;
mod prom;
mod reach;
mod time_travel;

use std::sync::Arc;

use serde_json::Value;
use switchyard_api::metrics::Metrics;
use switchyard_api::AppState;
use switchyard_graph::testing::data_file;
use switchyard_store::import::{import, ImportOptions, ImportSource};
use switchyard_store::testing::TestDb;

use http::{get, Reply};

struct Server {
    addr: std::net::SocketAddr,
    state: AppState,
    _db: TestDb,
}

async fn start(files: &[&str]) -> Server {
    start_runs(&[files]).await
}

/// A server over a fresh database into which each group of files was imported, in order,
/// one import run per group.
async fn start_runs(runs: &[&[&str]]) -> Server {
    start_limited(runs, switchyard_api::limits::Limits::default()).await
}

/// [`start_runs`] with the API's `limits`.
async fn start_limited(runs: &[&[&str]], limits: switchyard_api::limits::Limits) -> Server {
    let db = TestDb::new().await;
    let metrics = Arc::new(Metrics::new());
    for files in runs.iter().filter(|f| !f.is_empty()) {
        let sources: Vec<_> = files
            .iter()
            .map(|f| ImportSource::File(data_file(f)))
            .collect();
        let reports = import(
            &db.store,
            &sources,
            ImportOptions::default(),
            Arc::new(|_| {}),
        )
        .await;
        metrics.record_import(reports.as_deref().map_err(|_| ()));
        reports.unwrap();
    }
    let state = AppState::new(db.store.clone(), metrics).with_limits(limits);
    let addr = serve_on_loopback(state.clone()).await;
    Server {
        addr,
        state,
        _db: db,
    }
}

/// Serves `state` on a free loopback port for the rest of the test; returns the address.
async fn serve_on_loopback(state: AppState) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        switchyard_api::serve(listener, state, std::future::pending())
            .await
            .unwrap();
    });
    addr
}

fn error_code(r: &Reply) -> String {
    serde_json::from_str::<Value>(&r.body)
        .ok()
        .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[tokio::test]
async fn readiness_follows_the_graph_and_errors_are_json() {
    let s = start(&[]).await;
    assert_eq!(get(s.addr, "/healthz").await.status, 200);
    let r = get(s.addr, "/readyz").await;
    assert_eq!(r.status, 503, "no graph loaded yet");
    assert_eq!(r.json()["database"], true);
    let r = get(s.addr, "/v1/network/stats").await;
    assert_eq!((r.status, error_code(&r).as_str()), (503, "not_ready"));

    s.state.refresh_graph().await.unwrap();
    let r = get(s.addr, "/readyz").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = get(s.addr, "/v1/network/stats").await;
    assert_eq!(r.json()["stats"]["nodes"], 0);

    let r = get(s.addr, "/v1/no/such/route").await;
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (404, "route_not_found")
    );
    let r = http::request(s.addr, "POST", "/v1/network/stats").await;
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (405, "method_not_allowed")
    );
}

#[tokio::test]
async fn endpoints_on_the_2019_graph() {
    let s = start(&["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"]).await;
    assert!(s.state.refresh_graph().await.unwrap());
    let graph = s.state.graph().unwrap();

    // Network stats agree with the snapshot.
    let stats = get(s.addr, "/v1/network/stats").await;
    assert_eq!(stats.status, 200);
    assert!(stats
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let st = &stats.json()["stats"];
    assert_eq!(st["channels"], graph.snapshot.channel_count() as u64);
    assert_eq!(st["nodes"], graph.snapshot.node_count() as u64);
    assert!(st["fee_ppm"]["p50"].as_u64().is_some());
    assert!(st["components"]["largest_nodes"].as_u64().unwrap() > 1000);

    // Pagination walks every node exactly once, in order.
    for sort in ["capacity", "channels"] {
        let mut seen = std::collections::HashSet::new();
        let mut cursor: Option<String> = None;
        let mut last_key = u64::MAX;
        let key = if sort == "capacity" {
            "capacity_sat"
        } else {
            "channels"
        };
        loop {
            let path = match &cursor {
                None => format!("/v1/nodes?sort={sort}&limit=1000"),
                Some(c) => format!("/v1/nodes?sort={sort}&limit=1000&cursor={c}"),
            };
            let page = get(s.addr, &path).await;
            assert_eq!(page.status, 200, "{}", page.body);
            let body = page.json();
            for n in body["nodes"].as_array().unwrap() {
                let k = n[key].as_u64().unwrap();
                assert!(k <= last_key, "{sort} order");
                last_key = k;
                assert!(
                    seen.insert(n["node_id"].as_str().unwrap().to_owned()),
                    "duplicate"
                );
            }
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(
            seen.len(),
            graph.snapshot.node_count(),
            "{sort}: every node once"
        );
    }
    let top = get(s.addr, "/v1/nodes?limit=1").await.json();
    let top_id = top["nodes"][0]["node_id"].as_str().unwrap().to_owned();
    let top_idx = graph.snapshot.node_idx(&top_id.parse().unwrap()).unwrap();
    let max_cap = (0..graph.snapshot.node_count() as u32)
        .map(|n| graph.snapshot.node_capacity_sat(n))
        .max();
    assert_eq!(Some(graph.snapshot.node_capacity_sat(top_idx)), max_cap);

    // Node detail.
    let node = get(s.addr, &format!("/v1/nodes/{top_id}")).await;
    assert_eq!(node.status, 200);
    let body = node.json();
    assert_eq!(
        body["channel_count"],
        graph.snapshot.channels_of(top_idx).len()
    );
    assert_eq!(
        body["capacity_sat"],
        graph.snapshot.node_capacity_sat(top_idx)
    );
    assert!(body["announcement"]["alias"].is_string());
    assert!(!body["announcement_history"].as_array().unwrap().is_empty());

    // Channel detail, by both id forms.
    let scid = "505149x622x0";
    let by_text = get(s.addr, &format!("/v1/channels/{scid}")).await;
    assert_eq!(by_text.status, 200, "{}", by_text.body);
    let u64_form = by_text.json()["scid_u64"].as_u64().unwrap();
    let by_num = get(s.addr, &format!("/v1/channels/{u64_form}")).await;
    assert_eq!(by_text.json(), by_num.json());
    let ch = by_text.json();
    assert_eq!(ch["capacity_sat"], 300_000);
    assert_eq!(ch["policies"]["node_1_to_node_2"]["fee_base_msat"], 1000);
    assert_eq!(ch["policies"]["node_2_to_node_1"]["cltv_delta"], 14);
    assert_eq!(ch["history"].as_array().unwrap().len(), 2);

    // Bad input: 400 with a code; unknown: 404; never 500.
    for (path, status, code) in [
        ("/v1/nodes/02zz", 400, "invalid_node_id"),
        (
            "/v1/nodes/0250373555232cec757ea141273e75381c84cc3ab22f1e3a3ca5a2dc55b1904c2",
            400,
            "invalid_node_id",
        ),
        (
            "/v1/nodes/020000000000000000000000000000000000000000000000000000000000000000",
            400,
            "invalid_node_id",
        ),
        (
            "/v1/nodes/0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
            404,
            "node_not_found",
        ),
        ("/v1/channels/1x2", 400, "invalid_scid"),
        ("/v1/channels/99999999x1x1", 400, "invalid_scid"),
        ("/v1/channels/-5", 400, "invalid_scid"),
        ("/v1/channels/1x1x1", 404, "channel_not_found"),
        ("/v1/nodes?limit=0", 400, "invalid_limit"),
        ("/v1/nodes?limit=abc", 400, "invalid_query"),
        ("/v1/nodes?sort=fees", 400, "invalid_query"),
        ("/v1/nodes?cursor=garbage", 400, "invalid_cursor"),
    ] {
        let r = get(s.addr, path).await;
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (status, code),
            "{path}: {}",
            r.body
        );
        assert!(r.json()["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }

    // Routes: the API answers what the engine answers; reasons come as 422 codes.
    let by_cap = get(s.addr, "/v1/nodes?limit=3").await.json();
    let ids: Vec<String> = by_cap["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["node_id"].as_str().unwrap().to_owned())
        .collect();
    let query =
        serde_json::json!({"source": ids[0], "destination": ids[1], "amount_msat": 100_000_000u64});
    let r = http::post_json(s.addr, "/v1/routes", &query).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let route = r.json();
    let expected = graph
        .routing
        .find_route(&serde_json::from_value(query.clone()).unwrap())
        .unwrap();
    assert_eq!(route["total_fee_msat"], expected.total_fee_msat);
    let hops = route["hops"].as_array().unwrap();
    assert_eq!(hops[0]["from"], ids[0].as_str());
    assert_eq!(hops[hops.len() - 1]["to"], ids[1].as_str());
    for w in hops.windows(2) {
        assert_eq!(w[0]["to"], w[1]["from"], "hops chain");
    }
    let unknown = serde_json::json!({"source": ids[0], "amount_msat": 1000,
        "destination": "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"});
    let r = http::post_json(s.addr, "/v1/routes", &unknown).await;
    assert_eq!((r.status, error_code(&r).as_str()), (422, "unknown_node"));
    // 10,000 BTC: more than any channel holds.
    let too_big = serde_json::json!({"source": ids[0], "destination": ids[1], "amount_msat": 1_000_000_000_000_000u64});
    let r = http::post_json(s.addr, "/v1/routes", &too_big).await;
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (422, "no_route_capacity"),
        "{}",
        r.body
    );
    let zero = serde_json::json!({"source": ids[0], "destination": ids[1], "amount_msat": 0});
    let r = http::post_json(s.addr, "/v1/routes", &zero).await;
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (400, "invalid_request")
    );
    for bad in ["{", "{\"source\": 5}", "[]"] {
        let r = http::send(s.addr, "POST", "/v1/routes", bad).await;
        assert_eq!(
            (r.status, error_code(&r).as_str()),
            (400, "invalid_body"),
            "{bad}"
        );
    }
    let batch = serde_json::json!({"queries": [query, unknown, {"source": ids[1], "destination": ids[2], "amount_msat": 1000}]});
    let r = http::post_json(s.addr, "/v1/routes/batch", &batch).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 3);
    assert_eq!(
        results[0]["route"]["total_fee_msat"], expected.total_fee_msat,
        "input order"
    );
    assert_eq!(results[1]["error"]["code"], "unknown_node");
    let r = http::post_json(
        s.addr,
        "/v1/routes/batch",
        &serde_json::json!({"queries": []}),
    )
    .await;
    assert_eq!((r.status, error_code(&r).as_str()), (400, "invalid_batch"));
    let matrix = serde_json::json!({"sources": [ids[0], ids[1]], "destinations": [ids[1], ids[2]], "amount_msat": 10_000_000u64});
    let r = http::post_json(s.addr, "/v1/routes/matrix", &matrix).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let m = r.json();
    assert_eq!(
        m["cells"][0][0]["fee_msat"],
        expected_fee(&graph, &ids[0], &ids[1], 10_000_000)
    );
    let mpp = serde_json::json!({"source": ids[0], "destination": ids[1], "amount_msat": 200_000_000u64, "force_split": true});
    let r = http::post_json(s.addr, "/v1/routes/mpp", &mpp).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let parts = r.json()["parts"].as_array().unwrap().clone();
    let sum: u64 = parts
        .iter()
        .map(|p| p["amount_msat"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, 200_000_000, "parts sum to the amount");

    // Analytics: pending until the background worker has run, then served.
    let r = get(s.addr, "/v1/analytics/centrality?metric=betweenness").await;
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (503, "analytics_pending")
    );
    // Our "own node" is the top node by capacity; its rank shows up as a metric.
    let mut with_own = s.state.clone();
    with_own.own_node = Some(ids[0].parse().unwrap());
    let worker =
        with_own.spawn_analytics_worker(switchyard_graph::analytics::AnalyticsConfig::default());
    s.state.refresh_graph().await.unwrap(); // no change; the worker was notified at the first load
    for _ in 0..600 {
        if s.state.analytics().is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    worker.abort();
    let a = s
        .state
        .analytics()
        .expect("analytics computed within two minutes");
    assert_eq!(a.version, graph.version);
    // The rank's uptime component comes from the store's gossip history (one observation: the
    // snapshot's time), for every active node.
    let uptime = switchyard_store::queries::history::node_uptime(s.state.store.pool())
        .await
        .unwrap();
    assert_eq!(uptime.points.len(), 1);
    for (i, id) in a.analytics.nodes.iter().enumerate() {
        let u = a.analytics.rank[i].components.uptime;
        assert!(u.is_some(), "{id} has uptime");
        assert_eq!(u, uptime.by_node.get(id).copied());
    }
    let r = get(
        s.addr,
        "/v1/analytics/centrality?metric=betweenness&weight=fee&limit=5",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let page = r.json();
    // Stable names, as the query spells them (not a Debug rendering).
    assert_eq!(page["metric"], "betweenness");
    assert_eq!(page["weight"], "fee");
    let values: Vec<f64> = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["value"].as_f64().unwrap())
        .collect();
    assert!(
        values.windows(2).all(|w| w[0] >= w[1]) && values.len() == 5,
        "{values:?}"
    );
    let top_node = page["nodes"][0]["node_id"].as_str().unwrap().to_owned();
    let expected_top = a
        .analytics
        .top(
            switchyard_graph::analytics::Metric::Betweenness(
                switchyard_graph::analytics::WeightKind::Fee,
            ),
            1,
        )
        .unwrap()[0]
        .0
        .to_hex();
    assert_eq!(top_node, expected_top);
    let next = page["next_cursor"].as_u64().unwrap();
    let page2 = get(
        s.addr,
        &format!("/v1/analytics/centrality?metric=betweenness&weight=fee&limit=5&cursor={next}"),
    )
    .await
    .json();
    assert!(page2["nodes"][0]["value"].as_f64().unwrap() <= values[4]);
    let r = get(s.addr, &format!("/v1/analytics/nodes/{top_node}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["node"]["pagerank"]["percentile"].as_f64().unwrap() > 0.5);
    let r = get(s.addr, "/v1/analytics/channels/505149x622x0").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["channel"]["weighted"].as_array().unwrap().len() == 3);
    for (path, status, code) in [
        ("/v1/analytics/centrality?metric=nope", 400, "invalid_query"),
        ("/v1/analytics/centrality?metric=pagerank&amount_msat=5", 400, "amount_not_served"),
        ("/v1/analytics/nodes/0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798", 404, "node_not_active"),
        ("/v1/analytics/channels/1x1x1", 404, "channel_not_active"),
        ("/v1/analytics/channels/zz", 400, "invalid_scid"),
    ] {
        let r = get(s.addr, path).await;
        assert_eq!((r.status, error_code(&r).as_str()), (status, code), "{path}: {}", r.body);
    }

    // Metrics: valid exposition text, graph gauges, import counters and per-route series.
    let metrics = get(s.addr, "/metrics").await;
    assert_eq!(metrics.status, 200);
    let samples = prom::parse(&metrics.body).unwrap_or_else(|e| panic!("{e}\n{}", metrics.body));
    let value = |name: &str, labels: &[(&str, &str)]| prom::find(&samples, name, labels);
    assert_eq!(
        value("switchyard_graph_channels", &[]),
        Some(graph.snapshot.channel_count() as f64)
    );
    assert_eq!(
        value("switchyard_import_runs_total", &[("outcome", "imported")]),
        Some(2.0)
    );
    assert!(
        value(
            "switchyard_import_rows_total",
            &[("kind", "channel_updates")]
        )
        .unwrap()
            > 60_000.0
    );
    assert!(
        value(
            "switchyard_http_requests_total",
            &[("route", "/v1/nodes/{pubkey}"), ("status", "404")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        value(
            "switchyard_http_request_duration_seconds_count",
            &[("route", "/v1/network/stats")]
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        value(
            "switchyard_route_queries_total",
            &[("model", "fee"), ("outcome", "found")]
        )
        .unwrap()
            >= 2.0
    );
    assert!(value("switchyard_route_queries_total", &[("outcome", "no_route")]).unwrap() >= 1.0);
    let analytics = s.state.analytics().unwrap();
    let own: switchyard_graph::NodeId = ids[0].parse().unwrap();
    let rank = switchyard_api::state::betweenness_rank(&analytics.analytics, &own).unwrap();
    let by_position = analytics
        .analytics
        .top(
            switchyard_graph::analytics::Metric::Betweenness(
                switchyard_graph::analytics::WeightKind::Fee,
            ),
            usize::MAX,
        )
        .unwrap();
    let own_value = by_position.iter().find(|(id, _)| *id == own).unwrap().1;
    let first_equal = by_position
        .iter()
        .position(|(_, v)| *v == own_value)
        .unwrap()
        + 1;
    assert_eq!(rank, first_equal);
    assert_eq!(
        value("switchyard_own_node_betweenness_rank", &[]),
        Some(rank as f64)
    );
}

fn expected_fee(
    graph: &switchyard_api::GraphView,
    from: &str,
    to: &str,
    amount_msat: u64,
) -> Value {
    let req = switchyard_graph::route::RouteRequest::new(
        from.parse().unwrap(),
        to.parse().unwrap(),
        amount_msat,
    );
    match graph.routing.find_route(&req) {
        Ok(r) => Value::from(r.total_fee_msat),
        Err(_) => Value::Null,
    }
}

#[tokio::test]
async fn openapi_document_lists_exactly_the_routes() {
    let s = start(&[]).await;
    s.state.refresh_graph().await.unwrap();
    let doc = get(s.addr, "/v1/openapi.json").await;
    assert_eq!(doc.status, 200);
    let doc: Value = doc.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut routes: Vec<(String, String)> = switchyard_api::ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    routes.sort();
    assert_eq!(documented, routes);
    // `at` is documented on exactly the routes that take it.
    let mut with_at: Vec<(String, String)> = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            if params
                .iter()
                .any(|p| p["name"] == "at" && p["in"] == "query")
            {
                with_at.push((method.clone(), path.clone()));
            }
        }
    }
    with_at.sort();
    let mut at_routes: Vec<(String, String)> = switchyard_api::AT_ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    at_routes.sort();
    assert_eq!(with_at, at_routes);
    // Each operation's security says what the route's class needs (none: the document's
    // default, public data).
    for (method, path, access) in switchyard_api::ROUTES {
        let op = &doc["paths"][path][method];
        let security = if op.get("security").is_some() {
            &op["security"]
        } else {
            &doc["security"]
        };
        let mut schemes: Vec<&str> = security
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_object().unwrap().keys().map(String::as_str))
            .collect();
        schemes.sort();
        let mut expected = access.schemes().to_vec();
        if *access == switchyard_api::Access::Public {
            expected = vec!["adminToken", "readToken"];
            assert!(
                security
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r.as_object().unwrap().is_empty()),
                "{method} {path}: public, so a token is optional"
            );
        }
        expected.sort();
        assert_eq!(schemes, expected, "{method} {path} ({access:?})");
        for scheme in &schemes {
            assert!(doc["components"]["securitySchemes"][scheme].is_object());
        }
    }
    // Every listed route is served (not the router's fallback).
    for (_, path, _) in switchyard_api::ROUTES {
        let concrete = path
            .replace(
                "{pubkey}",
                "0250373555232cec757ea141273e75381c84cc3ab22f1e3a3ca5a2dc55b1904c24",
            )
            .replace("{scid}", "505149x622x0");
        let r = get(s.addr, &concrete).await;
        assert_ne!(error_code(&r), "route_not_found", "{path}");
    }
    // Every $ref resolves.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"").skip(1) {
        let target = r.split('"').next().unwrap();
        let mut node = &doc;
        for part in target.trim_start_matches("#/").split('/') {
            node = &node[part];
        }
        assert!(!node.is_null(), "dangling $ref {target}");
    }
}

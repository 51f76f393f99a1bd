//! The graph as of an instant over real HTTP: January's and then May's 2019 snapshots in one
//! database answer "as of January" exactly as a database holding January alone answers now,
//! and the same for May and for now; diffs, bad input, analytics as of an instant, the
//! analytics backfill and a node's series.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};
use switchyard_graph::load::{self, Record};
use switchyard_graph::testing::data_file;
use switchyard_graph::Scid;
use switchyard_store::testing::announcements_differing;
pub(crate) use switchyard_store::testing::snapshot_time;

use crate::http::{get, post_json, Reply};
use crate::{error_code, start_runs, Server};

pub(crate) const JAN: &[&str] = &["channels-2019-01-18.json.xz", "nodes-2019-01-18.json.xz"];
pub(crate) const MAY: &[&str] = &["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"];

/// Where a store holding January's and May's snapshots legitimately answers otherwise than
/// one holding a single snapshot (computed from the files): nodes whose newest announcement
/// differs (with the one the combined store shows), and channel directions the single
/// snapshot has no policy for while January's has one (stale by May; May's node left them
/// out, the combined store keeps them).
#[derive(Default)]
struct Differences {
    announcements: HashMap<String, Option<(u32, String)>>,
    directions: HashSet<(String, u8)>,
    /// How many of `directions` January's policy leaves enabled: exactly the enabled
    /// directions the combined store has more (nothing else differs).
    enabled_extra: u64,
}

impl Differences {
    fn of(alone: &[&str], at: i64) -> Differences {
        let announcements = announcements_differing(&[JAN[1], MAY[1]], alone[1], at)
            .into_iter()
            .map(|(id, a)| (id.to_hex(), a))
            .collect();
        let mut directions = HashSet::new();
        let mut enabled_extra = 0;
        if alone[0] == MAY[0] {
            // Each direction with a policy, and whether the policy leaves it enabled.
            let dirs = |f: &str| -> (HashMap<(Scid, u8), bool>, HashSet<Scid>) {
                let mut d = HashMap::new();
                let mut c = HashSet::new();
                for r in load::read_file_to_vec(&data_file(f)).unwrap() {
                    match r {
                        Record::Update(u) => {
                            d.insert((u.scid, u.direction), !u.disabled);
                        }
                        Record::Channel(ch) => {
                            c.insert(ch.scid);
                        }
                        Record::Node(_) => {}
                    }
                }
                (d, c)
            };
            let ((jan, _), (may, may_channels)) = (dirs(JAN[0]), dirs(MAY[0]));
            let stale: Vec<_> = jan
                .into_iter()
                .filter(|(k, _)| may_channels.contains(&k.0) && !may.contains_key(k))
                .collect();
            enabled_extra = stale.iter().filter(|(_, enabled)| *enabled).count() as u64;
            directions = stale
                .into_iter()
                .map(|((s, d), _)| (s.to_string(), d))
                .collect();
        }
        Differences {
            announcements,
            directions,
            enabled_extra,
        }
    }

    /// Whether `got` (the combined store's answer) may differ from `want` (the single
    /// snapshot's) because of the extra directions: a route that crosses one of them, or,
    /// where the single snapshot finds no path at all (`no_route_disconnected`), a no-route
    /// answer that got further (a path exists over an extra direction but cannot carry the
    /// amount, or costs too much): extra enabled directions can only connect more.
    fn explains(&self, got: &Value, want: &Value) -> bool {
        if self.crosses(got) || self.crosses(&got["route"]) {
            return true;
        }
        let code = |v: &Value| {
            v["error"]["code"]
                .as_str()
                .or(v["error"].as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let (g, w) = (code(got), code(want));
        self.enabled_extra > 0
            && w == "no_route_disconnected"
            && g.starts_with("no_route_")
            && g != w
    }

    /// Whether a route's hops cross a direction the single snapshot has no policy for.
    fn crosses(&self, route: &Value) -> bool {
        route["hops"].as_array().into_iter().flatten().any(|h| {
            let d = u8::from(h["from"].as_str() > h["to"].as_str());
            self.directions
                .contains(&(h["scid"].as_str().unwrap_or_default().to_owned(), d))
        })
    }
}

fn ok(r: Reply) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

/// Removes what differs between two stores holding the same graph data: when rows were
/// written (`received_at` of imported rows is the time the import ran), which version of the
/// store answered, when the view was built, and the `as_of` echo.
fn strip(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in ["received_at", "graph_version", "loaded_at", "as_of"] {
                    m.remove(k);
                }
                m.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    v
}

/// Every node of a node list, all pages.
async fn all_nodes(s: &Server, sort: &str, at: &str) -> (u64, Vec<Value>) {
    let mut nodes = Vec::new();
    let mut cursor: Option<String> = None;
    let total = loop {
        let mut path = format!("/v1/nodes?sort={sort}&limit=1000{at}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = ok(get(s.addr, &path).await);
        nodes.extend(page["nodes"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break page["total"].as_u64().unwrap(),
        }
    };
    (total, nodes)
}

/// 200 route queries between nodes of `nodes` with at least two channels (fixed seed), all
/// cost models and amounts from 1,000 to 100,000 sat. (Any node with a channel and up to
/// 1,000,000 sat found routes for only 74 of 200 queries on January 2019's graph: too few
/// found routes to compare; the no-route answers are compared too.)
fn queries(nodes: &[Value]) -> Vec<Value> {
    let ids: Vec<&str> = nodes
        .iter()
        .filter(|n| n["channels"].as_u64() >= Some(2))
        .map(|n| n["node_id"].as_str().unwrap())
        .collect();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: usize| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % n as u64) as usize
    };
    (0..200)
        .map(|i| {
            let (a, b) = (ids[next(ids.len())], ids[next(ids.len())]);
            let amount_msat = [1_000_000u64, 10_000_000, 100_000_000][i % 3];
            let cost_model = ["fee", "probability", "balanced"][(i / 3) % 3];
            json!({
                "source": a,
                "destination": b,
                "amount_msat": amount_msat,
                "cost_model": cost_model,
            })
        })
        .collect()
}

/// Sets to null the policies of `node_detail`'s channels in `dirs` (by channel direction).
fn drop_node_policies(mut node: Value, dirs: &HashSet<(String, u8)>) -> Value {
    let own = node["node_id"].as_str().unwrap_or_default().to_owned();
    for c in node["channels"].as_array_mut().into_iter().flatten() {
        let scid = c["scid"].as_str().unwrap_or_default().to_owned();
        // Direction 0 goes from node_1, the smaller id (BOLT 7).
        let out = u8::from(own.as_str() > c["peer"].as_str().unwrap_or_default());
        for (key, d) in [("outgoing", out), ("incoming", 1 - out)] {
            if dirs.contains(&(scid.clone(), d)) {
                c[key] = Value::Null;
            }
        }
    }
    node
}

/// What `s` answers `at` (a query suffix like `&at=123`, or empty) against what `alone`
/// answers now: stats, both node lists, node and channel details, 200 routes one by one and
/// as a batch, a matrix and MPPs, equal field for field but for `diff` (see [`Differences`]).
/// `history_grows`: `s` may know more history (first seen earlier, older versions) than
/// `alone`, which it does when `at` is after data `alone` lacks.
async fn assert_answers_alike(
    s: &Server,
    at: &str,
    alone: &Server,
    diff: &Differences,
    history_grows: bool,
) {
    let q = at.replace('&', "?");
    assert_stats_alike(s, &q, alone, diff).await;
    let sample_nodes = assert_node_lists_alike(s, at, alone, diff).await;
    assert_details_alike(s, &q, alone, diff, &sample_nodes, history_grows).await;
    assert_routes_alike(s, &q, alone, diff, &sample_nodes).await;
}

/// Network statistics as of `q` (`?at=...` or empty) on `s` against `alone`'s current ones.
async fn assert_stats_alike(s: &Server, q: &str, alone: &Server, diff: &Differences) {
    let stats = ok(get(s.addr, &format!("/v1/network/stats{q}")).await)["stats"].clone();
    let want = ok(get(alone.addr, "/v1/network/stats").await)["stats"].clone();
    if !diff.directions.is_empty() {
        // Policies differ only where the single snapshot has none: the rest of the network
        // is the same; more enabled directions.
        assert_eq!(
            stats["enabled_directions"].as_u64().unwrap(),
            want["enabled_directions"].as_u64().unwrap() + diff.enabled_extra,
            "enabled directions{q}: exactly January's enabled policies May's file lacks"
        );
        for k in ["nodes", "channels", "capacity_sat"] {
            assert_eq!(stats[k], want[k], "{k}{q}");
        }
    } else {
        // The history of several snapshots knows announcements signed by `at` that the single
        // snapshot had not received (`diff.announcements`): as of `at` those nodes count as
        // announced (the as-of rule: the newest announcement signed by `at`), so
        // `nodes_announced` differs by exactly them; everything else is equal.
        let mut want = want;
        let (_, alone_nodes) = all_nodes(alone, "capacity", "").await;
        let mut delta = 0i64;
        for n in &alone_nodes {
            if let Some(a) = diff.announcements.get(n["node_id"].as_str().unwrap()) {
                delta += i64::from(a.is_some()) - i64::from(!n["alias"].is_null());
            }
        }
        let announced = want["nodes_announced"].as_i64().unwrap() + delta;
        want["nodes_announced"] = json!(announced);
        assert_eq!(stats, want, "stats{q}");
    }
}

/// Both node lists (by capacity, by channels), whole; returns `alone`'s list by channels, the
/// sample the other checks use.
async fn assert_node_lists_alike(
    s: &Server,
    at: &str,
    alone: &Server,
    diff: &Differences,
) -> Vec<Value> {
    let q = at.replace('&', "?");
    let mut sample_nodes = Vec::new();
    for sort in ["capacity", "channels"] {
        let (total, mut got) = all_nodes(s, sort, at).await;
        let (want_total, want) = all_nodes(alone, sort, "").await;
        assert_eq!(total, want_total, "{sort}{q}");
        for n in got.iter_mut() {
            if let Some(a) = diff.announcements.get(n["node_id"].as_str().unwrap()) {
                assert_eq!(n["alias"], json!(a.as_ref().map(|a| &a.1)));
                n["alias"] = Value::Null;
            }
        }
        let strip_alias = |v: &[Value]| -> Vec<Value> {
            v.iter()
                .map(|n| {
                    let mut n = n.clone();
                    if diff
                        .announcements
                        .contains_key(n["node_id"].as_str().unwrap())
                    {
                        n["alias"] = Value::Null;
                    }
                    n
                })
                .collect()
        };
        assert_eq!(got, strip_alias(&want), "node list by {sort}{q}");
        sample_nodes = want;
    }
    sample_nodes
}

/// Node details of every 25th sampled node and channel details of some of their channels.
async fn assert_details_alike(
    s: &Server,
    q: &str,
    alone: &Server,
    diff: &Differences,
    sample_nodes: &[Value],
    history_grows: bool,
) {
    // Node details: every 25th node (those whose announcement differs left out).
    for n in sample_nodes.iter().step_by(25) {
        let id = n["node_id"].as_str().unwrap();
        if diff.announcements.contains_key(id) {
            continue;
        }
        let got = strip(ok(get(s.addr, &format!("/v1/nodes/{id}{q}")).await));
        let want = strip(ok(get(alone.addr, &format!("/v1/nodes/{id}")).await));
        let got = drop_node_policies(got, &diff.directions);
        let want = drop_node_policies(want, &diff.directions);
        assert_same_history(got, want, history_grows, &format!("node {id}{q}"));
    }
    // Channel details: channels of the first 60 nodes of the list, every 7th.
    let mut scids = HashSet::new();
    for n in sample_nodes.iter().take(60) {
        let id = n["node_id"].as_str().unwrap();
        let node = ok(get(alone.addr, &format!("/v1/nodes/{id}")).await);
        for c in node["channels"].as_array().unwrap().iter().step_by(7) {
            scids.insert(c["scid"].as_str().unwrap().to_owned());
        }
    }
    assert!(scids.len() > 50, "{} channels sampled", scids.len());
    for scid in &scids {
        let mut got = strip(ok(get(s.addr, &format!("/v1/channels/{scid}{q}")).await));
        let want = strip(ok(get(alone.addr, &format!("/v1/channels/{scid}")).await));
        for (key, d) in [("node_1_to_node_2", 0u8), ("node_2_to_node_1", 1)] {
            if diff.directions.contains(&(scid.clone(), d)) {
                assert!(want["policies"][key].is_null() && !got["policies"][key].is_null());
                got["policies"][key] = Value::Null;
            }
        }
        assert_same_history(got, want, history_grows, &format!("channel {scid}{q}"));
    }
}

/// Routes between sampled nodes: 200 single queries, a batch, a matrix and MPPs.
async fn assert_routes_alike(
    s: &Server,
    q: &str,
    alone: &Server,
    diff: &Differences,
    sample_nodes: &[Value],
) {
    // 200 routes, one by one, then as one batch; a matrix; multi-part payments. Where the
    // networks differ (directions only the combined store has), a different route must
    // cross one of them.
    let queries = queries(sample_nodes);
    let same_route = |got: &Reply, want: &Reply, what: &str| {
        let (g, w) = (got.json(), want.json());
        if (got.status, &g) != (want.status, &w) {
            assert!(
                (got.status == 200 || got.status == want.status) && diff.explains(&g, &w),
                "{what}: {g} vs {w}"
            );
        }
    };
    let mut found = 0;
    for query in &queries {
        let got = post_json(s.addr, &format!("/v1/routes{q}"), query).await;
        let want = post_json(alone.addr, "/v1/routes", query).await;
        same_route(&got, &want, &format!("{query}{q}"));
        found += usize::from(want.status == 200);
    }
    // Enough found routes for the comparison to mean something (January: 100+, May: 90+).
    assert!(found >= 80, "{found} of 200 queries found a route{q}");
    let batch = json!({ "queries": queries });
    let got = ok(post_json(s.addr, &format!("/v1/routes/batch{q}"), &batch).await);
    let want = ok(post_json(alone.addr, "/v1/routes/batch", &batch).await);
    for (g, w) in got["results"]
        .as_array()
        .unwrap()
        .iter()
        .zip(want["results"].as_array().unwrap())
    {
        assert!(g == w || diff.explains(g, w), "batch{q}: {g} vs {w}");
    }
    let ends: Vec<&Value> = queries.iter().take(6).map(|q| &q["source"]).collect();
    let matrix = json!({"sources": ends, "destinations": ends, "amount_msat": 50_000_000});
    let got = ok(post_json(s.addr, &format!("/v1/routes/matrix{q}"), &matrix).await);
    if diff.directions.is_empty() {
        assert_eq!(
            got,
            ok(post_json(alone.addr, "/v1/routes/matrix", &matrix).await)
        );
    }
    for query in queries.iter().take(5) {
        let mut mpp = query.clone();
        mpp["force_split"] = json!(true);
        let got = post_json(s.addr, &format!("/v1/routes/mpp{q}"), &mpp).await;
        let want = post_json(alone.addr, "/v1/routes/mpp", &mpp).await;
        let (g, w) = (got.json(), want.json());
        let crosses = g["parts"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| diff.crosses(p));
        assert!(
            (got.status, &g) == (want.status, &w) || crosses || diff.explains(&g, &w),
            "mpp {mpp}{q}: {} {g}\n vs alone: {} {w}",
            got.status,
            want.status
        );
    }
}

/// Details are equal, except that with `history_grows` the combined store may have seen
/// the thing earlier (`first_seen`) and hold older versions (`history`,
/// `announcement_history`): those must then extend what the other store has.
fn assert_same_history(mut got: Value, mut want: Value, history_grows: bool, what: &str) {
    if history_grows {
        for list in ["history", "announcement_history"] {
            if let (Some(g), Some(w)) = (got.get(list).cloned(), want.get(list).cloned()) {
                let (g, w) = (g.as_array().unwrap().clone(), w.as_array().unwrap().clone());
                assert!(
                    w.iter().all(|x| g.contains(x)),
                    "{what}: {list} is a superset"
                );
                got[list] = Value::Null;
                want[list] = Value::Null;
            }
        }
        assert!(
            got["first_seen"].as_i64() <= want["first_seen"].as_i64(),
            "{what}"
        );
        got["first_seen"] = Value::Null;
        want["first_seen"] = Value::Null;
    }
    assert_eq!(got, want, "{what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_as_of_each_snapshot_answers_like_that_snapshot_alone() {
    let both = start_runs(&[JAN, MAY]).await;
    let jan = start_runs(&[JAN]).await;
    let may = start_runs(&[MAY]).await;
    for s in [&both, &jan, &may] {
        s.state.refresh_graph().await.unwrap();
    }
    let (t_jan, t_may) = (snapshot_time(JAN[0]), snapshot_time(MAY[0]));
    let jan_diff = Differences::of(JAN, t_jan);
    assert!(jan_diff.announcements.len() < 10 && jan_diff.directions.is_empty());
    assert_answers_alike(&both, &format!("&at={t_jan}"), &jan, &jan_diff, false).await;
    // RFC 3339 names the same instant as the unix seconds.
    let rfc = switchyard_store::time::Time(t_jan).to_string();
    assert_eq!(
        ok(get(both.addr, &format!("/v1/network/stats?at={rfc}")).await)["stats"],
        ok(get(both.addr, &format!("/v1/network/stats?at={t_jan}")).await)["stats"]
    );
    let may_diff = Differences::of(MAY, i64::MAX);
    assert!(!may_diff.announcements.is_empty() && may_diff.directions.len() > 1000);
    assert_answers_alike(&both, &format!("&at={t_may}"), &may, &may_diff, true).await;
    assert_answers_alike(&both, "", &may, &may_diff, true).await;
    // Past views are cached: the second request for an instant is a cache hit.
    let hits = |s: &Server| {
        s.state
            .metrics
            .time_travel
            .asof_requests
            .with_label_values(&["hit"])
            .get()
    };
    let before = hits(&both);
    ok(get(both.addr, &format!("/v1/network/stats?at={t_jan}")).await);
    assert_eq!(hits(&both), before + 1);
    let (entries, bytes) = both.state.asof.views.usage();
    assert_eq!(entries, 1);
    assert!(bytes > 1_000_000, "{bytes} bytes for the January graph");
}

#[tokio::test]
async fn bad_instants_and_ranges_are_refused_clearly() {
    let s = start_runs(&[JAN, MAY]).await;
    s.state.refresh_graph().await.unwrap();
    let t_jan = snapshot_time(JAN[0]);
    for (path, status, code) in [
        ("/v1/network/stats?at=yesterday", 400, "invalid_time"),
        ("/v1/network/stats?at=2019-02-30T00:00:00Z", 400, "invalid_time"),
        ("/v1/nodes?at=-5", 400, "invalid_time"),
        ("/v1/channels/505149x622x0?at=1.5", 400, "invalid_time"),
        ("/v1/analytics/centrality?metric=rank&at=x", 400, "invalid_time"),
        ("/v1/network/diff?from=x", 400, "invalid_time"),
        ("/v1/network/diff?from=1557000000&to=1550000000", 400, "invalid_range"),
        ("/v1/network/diff?limit=100001", 400, "invalid_limit"),
        ("/v1/network/diff?from=1000", 404, "before_first_data"),
        (
            "/v1/analytics/nodes/03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f/history?from=2019-01-01&to=2020-01-02",
            400,
            "range_too_large",
        ),
        ("/v1/analytics/nodes/03zz/history", 400, "invalid_node_id"),
    ] {
        let r = get(s.addr, path).await;
        assert_eq!((r.status, error_code(&r).as_str()), (status, code), "{path}: {}", r.body);
    }
    let r = get(s.addr, "/v1/analytics/nodes/03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f/history?from=2019-01-01&to=2020-01-02").await;
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("366"));
    // Before the first data: 404 naming the first available time.
    for path in [
        "/v1/network/stats",
        "/v1/nodes",
        "/v1/channels/505149x622x0",
    ] {
        let r = get(s.addr, &format!("{path}?at={}", t_jan - 1)).await;
        assert_eq!(r.status, 404, "{path}");
        let e = &r.json()["error"];
        assert_eq!(e["code"], "before_first_data");
        assert_eq!(e["first_available"], t_jan);
        assert_eq!(
            e["first_available_time"],
            switchyard_store::time::Time(t_jan).to_string()
        );
    }
    let r = post_json(
        s.addr,
        &format!("/v1/routes?at={}", t_jan - 1),
        &json!({"source": "03864ef025fde8fb587d989186ce6a4a186895ee44a926bfc370e2c366597a3f8f",
                "destination": "0217890e3aad8d35bc054f43acc00084b25229ecff0ab68debd82883ad65ee8266",
                "amount_msat": 1000}),
    )
    .await;
    assert_eq!(error_code(&r), "before_first_data");
    // The future is now.
    assert_eq!(
        ok(get(s.addr, "/v1/network/stats?at=2999-01-01T00:00:00Z").await),
        ok(get(s.addr, "/v1/network/stats").await)
    );
    // A channel not opened yet then is not found then, and is found after.
    let scids = |f: &str| -> HashSet<switchyard_graph::Scid> {
        load::read_file_to_vec(&data_file(f))
            .unwrap()
            .into_iter()
            .filter_map(|r| match r {
                Record::Channel(c) => Some(c.scid),
                _ => None,
            })
            .collect()
    };
    let jan_scids = scids(JAN[0]);
    let may_only = scids(MAY[0])
        .into_iter()
        .filter(|s| !jan_scids.contains(s))
        .min()
        .unwrap();
    let r = get(s.addr, &format!("/v1/channels/{may_only}?at={t_jan}")).await;
    assert_eq!(
        (r.status, error_code(&r).as_str()),
        (404, "channel_not_found")
    );
    assert!(r.body.contains("as of"), "{}", r.body);
    assert_eq!(
        get(s.addr, &format!("/v1/channels/{may_only}"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn the_diff_endpoint_names_what_changed() {
    let s = start_runs(&[JAN, MAY]).await;
    s.state.refresh_graph().await.unwrap();
    let (t_jan, t_may) = (snapshot_time(JAN[0]), snapshot_time(MAY[0]));
    let d = ok(get(
        s.addr,
        &format!("/v1/network/diff?from={t_jan}&to={t_may}&limit=5"),
    )
    .await);
    let jan_day = switchyard_store::time::Time(t_jan).day();
    let may_day = switchyard_store::time::Time(t_may).day();
    let churn = ok(get(
        s.addr,
        &format!("/v1/network/churn?from={jan_day}&to={may_day}&limit=5"),
    )
    .await);
    for k in [
        "channels_opened",
        "channels_closed",
        "capacity_added_sat",
        "capacity_removed_sat",
        "nodes_appeared",
        "nodes_disappeared",
        "opened",
        "closed",
        "appeared",
        "disappeared",
    ] {
        assert_eq!(d[k], churn[k], "{k}");
    }
    assert_eq!(
        (d["from"].as_i64(), d["to"].as_i64()),
        (Some(t_jan), Some(t_may))
    );
    let p = &d["policies"];
    assert!(p["changed"].as_u64().unwrap() > 1000, "{p}");
    assert_eq!(p["largest"].as_array().unwrap().len(), 5);
    // Defaults: the last day of data, which holds May's snapshot.
    let d = ok(get(s.addr, "/v1/network/diff").await);
    assert_eq!(d["to"], t_may);
    assert_eq!(d["from"], t_may - 86_400);
    assert_eq!(d["channels_opened"], churn["channels_opened"]);
}

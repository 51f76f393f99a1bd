//! The history endpoints over real HTTP, on the two 2019 snapshots imported one after the
//! other; expectations come from the files (graph loader), not from the store.

use std::collections::{HashMap, HashSet};

use serde_json::Value;
use switchyard_graph::load::{self, Record};
use switchyard_graph::testing::data_file;
use switchyard_graph::{NodeId, Scid};
use switchyard_store::queries::history::Day;

use crate::http::get;
use crate::{error_code, start_runs};

/// What a channels file says.
struct Facts {
    time: i64,
    capacity: HashMap<Scid, u64>,
    nodes: HashSet<NodeId>,
    /// Per direction: (timestamp, base, ppm).
    fees: HashMap<(Scid, u8), (u32, u32, u32)>,
}

fn facts(file: &str) -> Facts {
    let mut f = Facts {
        time: 0,
        capacity: HashMap::new(),
        nodes: HashSet::new(),
        fees: HashMap::new(),
    };
    for r in load::read_file_to_vec(&data_file(file)).unwrap() {
        match r {
            Record::Channel(c) => {
                f.capacity.insert(c.scid, c.capacity_sat);
                f.nodes.extend([c.node_1, c.node_2]);
            }
            Record::Update(u) => {
                f.time = f.time.max(i64::from(u.timestamp));
                f.fees.insert(
                    (u.scid, u.direction),
                    (u.timestamp, u.fee_base_msat, u.fee_ppm),
                );
            }
            Record::Node(_) => {}
        }
    }
    f
}

/// Aliases by node, with the announcement timestamp.
fn aliases(file: &str) -> HashMap<NodeId, (u32, String)> {
    load::read_file_to_vec(&data_file(file))
        .unwrap()
        .into_iter()
        .filter_map(|r| match r {
            Record::Node(n) => n.announcement.map(|a| (n.node_id, (a.timestamp, a.alias))),
            _ => None,
        })
        .collect()
}

fn ok(r: crate::http::Reply) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()
}

#[tokio::test]
async fn history_endpoints_on_january_then_may() {
    let s = start_runs(&[
        &["channels-2019-01-18.json.xz", "nodes-2019-01-18.json.xz"],
        &["channels-2019-05-14.json.xz", "nodes-2019-05-14.json.xz"],
    ])
    .await;
    s.state.refresh_graph().await.unwrap();
    let jan = facts("channels-2019-01-18.json.xz");
    let may = facts("channels-2019-05-14.json.xz");
    let (jan_day, may_day) = (Day::from_unix(jan.time), Day::from_unix(may.time));

    // The series spans January..May (the gossip time of the snapshots, not the import time),
    // with each file's counts on its date and the January state carried in between.
    let body = ok(get(
        s.addr,
        "/v1/network/history?from=2019-01-01&to=2019-05-31&step=day",
    )
    .await);
    assert_eq!(body["data_from"], jan_day.to_string());
    assert_eq!(body["data_to"], may_day.to_string());
    let points = body["points"].as_array().unwrap();
    assert_eq!(points.len(), (may_day.0 - jan_day.0 + 1) as usize);
    let by_date: HashMap<&str, &Value> = points
        .iter()
        .map(|p| (p["date"].as_str().unwrap(), p))
        .collect();
    for (f, day) in [(&jan, jan_day), (&may, may_day)] {
        let p = by_date[day.to_string().as_str()];
        assert_eq!(p["snapshot"], true, "{day}");
        assert_eq!(p["channels"], f.capacity.len() as u64, "{day}");
        assert_eq!(p["nodes"], f.nodes.len() as u64, "{day}");
        assert_eq!(p["capacity_sat"], f.capacity.values().sum::<u64>(), "{day}");
    }
    let march = by_date["2019-03-01"];
    assert_eq!(march["snapshot"], false);
    assert_eq!(march["channels"], jan.capacity.len() as u64);
    // The newest day is the served graph: same channels, capacity and median fees.
    let stats = ok(get(s.addr, "/v1/network/stats").await)["stats"].clone();
    let last = points.last().unwrap();
    assert_eq!(last["channels"], stats["channels"]);
    assert_eq!(last["capacity_sat"], stats["capacity_sat"]);
    assert_eq!(last["enabled_directions"], stats["enabled_directions"]);
    assert_eq!(last["median_fee_ppm"], stats["fee_ppm"]["p50"]);
    assert_eq!(last["median_fee_base_msat"], stats["fee_base_msat"]["p50"]);
    // Defaults: the last 30 days of data.
    let body = ok(get(s.addr, "/v1/network/history").await);
    let points = body["points"].as_array().unwrap();
    assert_eq!(points.len(), 30);
    assert_eq!(points[29]["date"], may_day.to_string());
    let weekly = ok(get(
        s.addr,
        &format!("/v1/network/history?from={jan_day}&to={may_day}&step=week"),
    )
    .await);
    assert_eq!(weekly["points"].as_array().unwrap().len(), 17);

    // Churn between the snapshot dates: the difference of the files.
    let jan_scids: HashSet<Scid> = jan.capacity.keys().copied().collect();
    let may_scids: HashSet<Scid> = may.capacity.keys().copied().collect();
    let closed: HashSet<Scid> = jan_scids.difference(&may_scids).copied().collect();
    let churn = ok(get(
        s.addr,
        &format!("/v1/network/churn?from={jan_day}&to={may_day}&limit=100000"),
    )
    .await);
    assert_eq!(churn["channels_closed"], closed.len() as u64);
    assert_eq!(
        churn["channels_opened"],
        may_scids.difference(&jan_scids).count() as u64
    );
    assert_eq!(
        churn["nodes_appeared"],
        may.nodes.difference(&jan.nodes).count() as u64
    );
    assert_eq!(
        churn["nodes_disappeared"],
        jan.nodes.difference(&may.nodes).count() as u64
    );
    // The largest channel present in January and gone in May (ties: lowest scid).
    let gone = *closed
        .iter()
        .max_by_key(|s| (jan.capacity[*s], std::cmp::Reverse(**s)))
        .unwrap();
    let listed: Vec<&str> = churn["closed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["scid"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), closed.len());
    assert_eq!(listed[0], gone.to_string());
    let first_page = ok(get(
        s.addr,
        &format!("/v1/network/churn?from={jan_day}&to={may_day}"),
    )
    .await);
    assert_eq!(first_page["closed"].as_array().unwrap().len(), 100);
    assert_eq!(first_page["closed"][0]["scid"], gone.to_string());

    // ... and closed in its own history, at the May snapshot time.
    let h = ok(get(s.addr, &format!("/v1/channels/{gone}/history")).await);
    let events = h["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "closed");
    assert_eq!(last["time"], may.time);
    assert!(events.iter().any(|e| e["kind"] == "opened"));
    assert_eq!(h["channel"]["closed_at"], may.time);
    let times: Vec<i64> = events.iter().map(|e| e["time"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");
    // The u64 form names the same channel.
    let same = ok(get(s.addr, &format!("/v1/channels/{}/history", gone.0)).await);
    assert_eq!(same, h);

    // A fee change between the snapshots shows in the channel's history.
    let (&(scid, dir), &(ts, base, ppm)) = may
        .fees
        .iter()
        .filter(|(k, (ts, b, p))| {
            jan.fees
                .get(k)
                .is_some_and(|(jts, jb, jp)| jts < ts && (jb, jp) != (b, p))
        })
        .min_by_key(|(k, _)| **k)
        .unwrap();
    let (_, old_base, old_ppm) = jan.fees[&(scid, dir)];
    let h = ok(get(s.addr, &format!("/v1/channels/{scid}/history")).await);
    let change = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "fee_changed" && e["direction"] == dir)
        .unwrap_or_else(|| panic!("no fee change in {h}"));
    assert_eq!(change["time"], ts);
    assert_eq!(change["from"]["fee_base_msat"], old_base);
    assert_eq!(change["from"]["fee_ppm"], old_ppm);
    assert_eq!(change["to"]["fee_base_msat"], base);
    assert_eq!(change["to"]["fee_ppm"], ppm);

    // A node that renamed itself between the snapshots; and an endpoint of the closed channel.
    let (jan_alias, may_alias) = (
        aliases("nodes-2019-01-18.json.xz"),
        aliases("nodes-2019-05-14.json.xz"),
    );
    let (renamed, (_, new_alias)) = may_alias
        .iter()
        .filter(|(id, (ts, alias))| {
            jan_alias
                .get(id)
                .is_some_and(|(jts, jalias)| jts < ts && jalias != alias)
        })
        .min_by_key(|(id, _)| **id)
        .unwrap();
    let h = ok(get(s.addr, &format!("/v1/nodes/{renamed}/history")).await);
    let change = h["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "announcement_changed" && e.get("alias").is_some())
        .unwrap_or_else(|| panic!("no alias change in {h}"));
    assert_eq!(change["alias"]["from"], jan_alias[renamed].1.as_str());
    assert_eq!(change["alias"]["to"], new_alias.as_str());
    let node_1 = churn["closed"][0]["node_1"].as_str().unwrap();
    let h = ok(get(s.addr, &format!("/v1/nodes/{node_1}/history")).await);
    assert!(h["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["kind"] == "channel_closed" && e["scid"] == gone.to_string()));

    // Bad input: 400 with a code; unknown ids: 404.
    let unknown_node = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
    for (path, status, code) in [
        (
            "/v1/network/history?from=2019-05-14&to=2019-01-19",
            400,
            "invalid_range",
        ),
        (
            "/v1/network/history?from=2018-01-01&to=2019-05-14",
            400,
            "range_too_large",
        ),
        (
            "/v1/network/history?from=2012-01-01&to=2019-05-14&step=week",
            400,
            "range_too_large",
        ),
        ("/v1/network/history?from=2019-02-30", 400, "invalid_date"),
        ("/v1/network/history?to=yesterday", 400, "invalid_date"),
        ("/v1/network/history?step=hour", 400, "invalid_query"),
        (
            "/v1/network/churn?from=2019-05-14&to=2019-01-19",
            400,
            "invalid_range",
        ),
        ("/v1/network/churn?from=2019-13-01", 400, "invalid_date"),
        ("/v1/network/churn?limit=1000001", 400, "invalid_limit"),
        ("/v1/network/churn?limit=-1", 400, "invalid_query"),
        ("/v1/channels/1x2/history", 400, "invalid_scid"),
        ("/v1/channels/1x1x1/history", 404, "channel_not_found"),
        ("/v1/nodes/02zz/history", 400, "invalid_node_id"),
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
    let r = get(s.addr, &format!("/v1/nodes/{unknown_node}/history")).await;
    assert_eq!((r.status, error_code(&r).as_str()), (404, "node_not_found"));
    // The longest accepted daily range: 366 points.
    let r = get(s.addr, "/v1/network/history?from=2019-01-01&to=2020-01-01").await;
    assert_eq!(r.status, 200, "{}", r.body);
}

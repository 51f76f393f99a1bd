//! Analytics kept over time: the backfill of past days equals computing each day's graph from
//! scratch, resumes where it stopped, and is served as a node's series; analytics as of a past
//! instant are computed in the background on first request.

use std::collections::HashMap;

use serde_json::Value;
use switchyard_api::backfill::{backfill, day_instant};
use switchyard_graph::analytics::{AnalyticsConfig, NetworkAnalytics, Weighting};
use switchyard_graph::NodeId;
use switchyard_store::queries::history::{node_uptime_until, Day};
use switchyard_store::time::Time;

use crate::http::get;
use crate::start_runs;
use crate::time_travel::{snapshot_time, JAN, MAY};

const NOW: i64 = 4_000_000_000;

/// Each active node's stored metrics of the day run `day`: betweenness and closeness by
/// weighting (hops, fee, probability), PageRank (both), rank score, position and
/// percentile.
async fn stored(pool: &sqlx::PgPool, day: Day) -> HashMap<NodeId, (Vec<f64>, i32)> {
    type Row = (
        Vec<u8>,
        f64,
        f64,
        f64,
        f64,
        f64,
        f64,
        f64,
        f64,
        f64,
        i32,
        f64,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT m.node_id, m.betweenness_hops, m.betweenness_fee, m.betweenness_probability, \
         m.closeness_hops, m.closeness_fee, m.closeness_probability, m.pagerank, \
         m.pagerank_capacity, m.rank_score, m.rank_position, m.rank_percentile \
         FROM analytics_node_metrics m JOIN analytics_runs r ON r.id = m.run_id \
         WHERE r.kind = 'day' AND r.day = DATE '1970-01-01' + $1::integer",
    )
    .bind(day.0)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|r| {
            let id = NodeId::from_bytes_unchecked(r.0.try_into().unwrap());
            (
                id,
                (
                    vec![r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.11],
                    r.10,
                ),
            )
        })
        .collect()
}

/// The same, computed from scratch: the day's graph and uptime read from the store, analysed.
fn metrics_of(a: &NetworkAnalytics) -> HashMap<NodeId, (Vec<f64>, i32)> {
    let slot = |w: &Weighting| match w {
        Weighting::Hops => 0,
        Weighting::Fee { .. } => 1,
        Weighting::Probability { .. } => 2,
    };
    let mut by = vec![None; 3];
    for m in &a.weighted {
        by[slot(&m.weighting)] = Some(m);
    }
    let by: Vec<_> = by.into_iter().map(|m| m.unwrap()).collect();
    a.nodes
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let mut v: Vec<f64> = by.iter().map(|m| m.betweenness[i]).collect();
            v.extend(by.iter().map(|m| m.closeness_in[i]));
            v.extend([
                a.pagerank[i],
                a.pagerank_capacity[i],
                a.rank[i].score,
                a.rank[i].percentile,
            ]);
            (*id, (v, a.rank[i].position as i32))
        })
        .collect()
}

/// Equal up to a parse of the JSON number (serde_json may round the last bit).
fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1e-12)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfilled_days_equal_each_day_computed_from_scratch_and_resume() {
    let s = start_runs(&[JAN, MAY]).await;
    let store = &s.state.store;
    let config = AnalyticsConfig::for_amount(100_000_000);
    let may_day = Time(snapshot_time(MAY[0])).day();
    let (first, last) = (may_day.plus(-2), may_day);
    // Two days first, then the three: only the missing day is computed.
    let days_done = std::sync::Mutex::new(Vec::new());
    let r = backfill(store, &config, first.plus(1), last, NOW, |d| {
        days_done.lock().unwrap().push(d.day)
    })
    .await
    .unwrap();
    assert_eq!((r.days_computed, r.days_skipped), (2, 0));
    let r = backfill(store, &config, first, last, NOW, |d| {
        days_done.lock().unwrap().push(d.day)
    })
    .await
    .unwrap();
    assert_eq!((r.days_computed, r.days_skipped), (1, 2));
    assert_eq!(
        *days_done.lock().unwrap(),
        [first.plus(1), last, first],
        "each day computed once"
    );
    // Days after the data or not over yet are left out.
    let r = backfill(store, &config, last, last.plus(400), NOW, |_| {})
        .await
        .unwrap();
    assert_eq!((r.days_computed, r.to), (0, Some(last)));

    let mut sizes = Vec::new();
    for day in [first, first.plus(1), last] {
        let at = day_instant(day);
        let (g, _, _) = switchyard_store::graph::load_resolved(store, at, NOW)
            .await
            .unwrap();
        let uptime = node_uptime_until(store.pool(), Some(at)).await.unwrap();
        let a = NetworkAnalytics::compute_with_uptime(&g, &config, Some(&uptime.by_node)).unwrap();
        let want = metrics_of(&a);
        let got = stored(store.pool(), day).await;
        assert_eq!(got.len(), want.len(), "{day}: active nodes");
        // Exactly: the sums over sources come out the same whatever the scheduling (see
        // `switchyard_graph::analytics`), so the ranks and percentiles built on them do too.
        for (id, want) in &want {
            assert_eq!(got.get(id), Some(want), "{day} {id}");
        }
        sizes.push(want.len());
    }
    assert!(
        sizes[2] > sizes[0],
        "May's graph replaces January's on its day: {sizes:?}"
    );

    // The series of the best-ranked node of May's day, over HTTP.
    let top = stored(store.pool(), last)
        .await
        .into_iter()
        .find(|(_, (_, pos))| *pos == 1)
        .unwrap()
        .0;
    let series: Value = get(
        s.addr,
        &format!("/v1/analytics/nodes/{top}/history?from={first}&to={last}"),
    )
    .await
    .json();
    assert_eq!(series["runs"], 3, "{series}");
    let points = series["points"].as_array().unwrap();
    assert_eq!(points.last().unwrap()["rank"]["position"], 1);
    assert_eq!(points.last().unwrap()["day"], last.to_string());
    assert_eq!(points.last().unwrap()["as_of"], day_instant(last).0);
    assert!(points
        .windows(2)
        .all(|w| w[0]["as_of"].as_i64() < w[1]["as_of"].as_i64()));
    // Defaults: the 30 days up to the newest stored run.
    let series: Value = get(s.addr, &format!("/v1/analytics/nodes/{top}/history"))
        .await
        .json();
    assert_eq!(series["to"], last.to_string());
    assert_eq!(series["runs"], 3);
    // A node the store never saw.
    let r = get(
        s.addr,
        "/v1/analytics/nodes/020000000000000000000000000000000000000000000000000000000000000001/history",
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analytics_as_of_an_instant_are_computed_once_in_the_background() {
    let s = start_runs(&[JAN, MAY]).await;
    s.state.refresh_graph().await.unwrap();
    let worker = s
        .state
        .spawn_analytics_worker(AnalyticsConfig::for_amount(100_000_000));
    let t_jan = snapshot_time(JAN[0]);
    let path = format!("/v1/analytics/centrality?metric=rank&limit=10&at={t_jan}");
    let first = get(s.addr, &path).await;
    assert_eq!(first.status, 503, "{}", first.body);
    assert_eq!(crate::error_code(&first), "analytics_pending");
    let mut body = None;
    for _ in 0..600 {
        let r = get(s.addr, &path).await;
        if r.status == 200 {
            body = Some(r.json());
            break;
        }
        assert_eq!(r.status, 503, "{}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let body = body.expect("analytics as of January within a minute");
    assert_eq!(body["as_of"], t_jan);
    // From scratch: January's graph from the store, uptime known then.
    let (g, _) = switchyard_store::graph::load_snapshot_at(&s.state.store, Time(t_jan))
        .await
        .unwrap();
    let uptime = node_uptime_until(s.state.store.pool(), Some(Time(t_jan)))
        .await
        .unwrap();
    let a = NetworkAnalytics::compute_with_uptime(
        &g,
        &AnalyticsConfig::for_amount(100_000_000),
        Some(&uptime.by_node),
    )
    .unwrap();
    let want = a
        .top(switchyard_graph::analytics::Metric::Rank, 10)
        .unwrap();
    let got = body["nodes"].as_array().unwrap();
    for (g, (id, score)) in got.iter().zip(&want) {
        assert_eq!(g["node_id"], id.to_hex());
        assert!(close(g["value"].as_f64().unwrap(), *score));
    }
    // Node and channel reports of the same instant come from the same computation.
    let id = want[0].0;
    let node = get(s.addr, &format!("/v1/analytics/nodes/{id}?at={t_jan}"))
        .await
        .json();
    assert_eq!(node["node"]["rank"]["position"], 1);
    // Without `at`: the current graph's analytics, and the worker kept them as a version run.
    let mut current = get(s.addr, "/v1/analytics/centrality?metric=rank&limit=1").await;
    for _ in 0..600 {
        if current.status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        current = get(s.addr, "/v1/analytics/centrality?metric=rank&limit=1").await;
    }
    assert_eq!(current.status, 200);
    assert!(current.json().get("as_of").is_none());
    let top = current.json()["nodes"][0]["node_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut versions = Value::Null;
    for _ in 0..100 {
        versions = get(
            s.addr,
            &format!("/v1/analytics/nodes/{top}/history?kind=version"),
        )
        .await
        .json();
        if versions["runs"] == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(versions["runs"], 1, "{versions}");
    assert_eq!(versions["points"][0]["rank"]["position"], 1);
    worker.abort();
}

//! Network analytics of the served snapshot, computed in the background per snapshot: a
//! request never waits for a computation (503 `analytics_pending` until the first is done).
//! With `at`, the same of the graph as of that instant (computed in the background on first
//! request, see [`crate::asof`]). A node's metrics over time come from the store's analytics
//! history (`/v1/analytics/nodes/{pubkey}/history`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_graph::analytics::{Metric, WeightKind};
use switchyard_graph::NodeId;
use switchyard_store::queries::analytics::{self, NodeSeries, SeriesKind};
use switchyard_store::queries::history::{Day, SeriesRange, Step};

use super::history::parse_day;
use super::{parse_node_id, parse_scid};
use crate::asof::AtQuery;
use crate::error::{ApiError, ApiResult};
use crate::state::{AnalyticsView, AppState};

/// Adds `as_of` to an answer computed on the graph as of a past instant.
fn with_as_of(mut body: Value, v: &AnalyticsView) -> Value {
    if let Some(t) = v.as_of {
        body["as_of"] = json!(t.0);
    }
    body
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricName {
    Betweenness,
    Closeness,
    ClosenessOut,
    Pagerank,
    PagerankCapacity,
    Rank,
}

/// The stable names of a metric in requests and answers: `metric` as the query parameter
/// spells it (`betweenness`, `closeness`, `closeness_out`, `pagerank`, `pagerank_capacity`,
/// `rank`) and the weighting for the metrics that have one. Answers carry these, never a
/// Rust `Debug` rendering, so clients can compare them.
pub fn metric_label(metric: Metric) -> (&'static str, Option<WeightKind>) {
    match metric {
        Metric::Betweenness(w) => ("betweenness", Some(w)),
        Metric::ClosenessIn(w) => ("closeness", Some(w)),
        Metric::ClosenessOut(w) => ("closeness_out", Some(w)),
        Metric::PageRank => ("pagerank", None),
        Metric::PageRankCapacity => ("pagerank_capacity", None),
        Metric::Rank => ("rank", None),
    }
}

#[derive(Debug, Deserialize)]
pub struct CentralityQuery {
    metric: MetricName,
    #[serde(default)]
    weight: Option<WeightKind>,
    amount_msat: Option<u64>,
    limit: Option<usize>,
    cursor: Option<usize>,
    /// The graph as of this instant (unix seconds or RFC 3339).
    at: Option<String>,
}

/// `GET /v1/analytics/centrality`: nodes by a centrality metric, highest first.
pub async fn centrality(
    State(state): State<AppState>,
    query: Result<Query<CentralityQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    let v = state.analytics_at(q.at.as_deref()).await?;
    let served = v.analytics.config.amount_msat;
    if q.amount_msat.is_some_and(|a| a != served) {
        return Err(ApiError::bad_request(
            "amount_not_served",
            format!(
                "analytics are computed for amount_msat={served} (set with --analytics-amount-sat)"
            ),
        ));
    }
    let weight = q.weight.unwrap_or(WeightKind::Fee);
    let metric = match q.metric {
        MetricName::Betweenness => Metric::Betweenness(weight),
        MetricName::Closeness => Metric::ClosenessIn(weight),
        MetricName::ClosenessOut => Metric::ClosenessOut(weight),
        MetricName::Pagerank => Metric::PageRank,
        MetricName::PagerankCapacity => Metric::PageRankCapacity,
        MetricName::Rank => Metric::Rank,
    };
    let limit = q.limit.unwrap_or(50);
    if limit == 0 || limit > 1000 {
        return Err(ApiError::bad_request(
            "invalid_limit",
            "limit must be between 1 and 1000",
        ));
    }
    let start = q.cursor.unwrap_or(0);
    let all = v
        .analytics
        .top(metric, usize::MAX)
        .map_err(|e| ApiError::bad_request("metric_not_computed", e.to_string()))?;
    let page: Vec<Value> = all
        .iter()
        .enumerate()
        .skip(start)
        .take(limit)
        .map(|(i, (id, value))| json!({"position": i + 1, "node_id": id, "value": value}))
        .collect();
    // `cursor` is the caller's, up to usize::MAX (fuzz/regressions/api_request).
    let next = start.checked_add(limit).filter(|&end| end < all.len());
    let (name, weight) = metric_label(metric);
    Ok(Json(with_as_of(
        json!({
            "graph_version": v.version,
            "computed_at": v.computed_at,
            "amount_msat": served,
            "metric": name,
            "weight": weight,
            "total": all.len(),
            "nodes": page,
            "next_cursor": next,
        }),
        &v,
    )))
}

/// `GET /v1/analytics/nodes/{pubkey}`: every metric of one node, with percentiles and rank.
pub async fn node(
    State(state): State<AppState>,
    Path(pubkey): Path<String>,
    query: Result<Query<AtQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    let id: NodeId = parse_node_id(&pubkey)?;
    let v = state.analytics_at(q.at.as_deref()).await?;
    let report = v.analytics.node(&id).ok_or_else(|| {
        ApiError::not_found(
            "node_not_active",
            format!("{id} has no enabled channel in the analysed graph"),
        )
    })?;
    Ok(Json(with_as_of(
        json!({"graph_version": v.version, "amount_msat": v.analytics.config.amount_msat, "node": report}),
        &v,
    )))
}

/// `GET /v1/analytics/channels/{scid}`: edge betweenness and share of routes per direction.
pub async fn channel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<AtQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    let scid = parse_scid(&id)?;
    let v = state.analytics_at(q.at.as_deref()).await?;
    let report = v.analytics.channel(scid).ok_or_else(|| {
        ApiError::not_found(
            "channel_not_active",
            format!("{scid} has no enabled direction in the analysed graph"),
        )
    })?;
    Ok(Json(with_as_of(
        json!({"graph_version": v.version, "amount_msat": v.analytics.config.amount_msat, "channel": report}),
        &v,
    )))
}

#[derive(Debug, Deserialize)]
pub struct HistoryQuery {
    from: Option<String>,
    to: Option<String>,
    #[serde(default)]
    kind: SeriesKind,
    amount_msat: Option<u64>,
}

/// Points of a node's series by default: the last 30 days of stored runs.
const DEFAULT_HISTORY_DAYS: i32 = 30;

/// `GET /v1/analytics/nodes/{pubkey}/history?from=&to=&kind=day|version&amount_msat=`: one
/// node's metrics in each stored run (a day of history, or a computed graph version).
pub async fn node_history(
    State(state): State<AppState>,
    Path(pubkey): Path<String>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> ApiResult<Json<NodeSeries>> {
    let Query(q) = query?;
    let id = parse_node_id(&pubkey)?;
    let amount = q
        .amount_msat
        .unwrap_or_else(|| state.analytics_config().amount_msat);
    let pool = state.store.pool();
    let (from, to) = (
        parse_day("from", q.from.as_deref())?,
        parse_day("to", q.to.as_deref())?,
    );
    let to = match to {
        Some(t) => t,
        None => {
            let newest = analytics::newest_run(pool, q.kind, amount).await?;
            let newest = newest
                .map(Day::from_unix)
                .unwrap_or_else(|| Day::from_unix(crate::state::unix_now() as i64));
            from.map_or(newest, |f| newest.max(f))
        }
    };
    let from = from.unwrap_or(to.plus(1 - DEFAULT_HISTORY_DAYS));
    SeriesRange::new(from, to, Step::Day)?;
    if switchyard_store::queries::nodes::get(pool, &id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(
            "node_not_found",
            format!("no node {id}"),
        ));
    }
    Ok(Json(
        analytics::node_series(pool, &id, q.kind, amount, from, to).await?,
    ))
}

//! Network analytics of the served snapshot, computed in the background per snapshot: a
//! request never waits for a computation (503 `analytics_pending` until the first is done).

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_graph::analytics::{Metric, WeightKind};
use switchyard_graph::NodeId;

use super::{parse_node_id, parse_scid};
use crate::error::{ApiError, ApiResult};
use crate::state::{AnalyticsView, AppState};

fn view(state: &AppState) -> ApiResult<Arc<AnalyticsView>> {
    state.analytics().ok_or_else(|| ApiError::Unavailable {
        code: "analytics_pending",
        message: "analytics are being computed for the current graph; retry shortly".into(),
    })
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
}

/// `GET /v1/analytics/centrality`: nodes by a centrality metric, highest first.
pub async fn centrality(
    State(state): State<AppState>,
    query: Result<Query<CentralityQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    let v = view(&state)?;
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
    Ok(Json(json!({
        "graph_version": v.version,
        "computed_at": v.computed_at,
        "amount_msat": served,
        "metric": name,
        "weight": weight,
        "total": all.len(),
        "nodes": page,
        "next_cursor": next,
    })))
}

/// `GET /v1/analytics/nodes/{pubkey}`: every metric of one node, with percentiles and rank.
pub async fn node(
    State(state): State<AppState>,
    Path(pubkey): Path<String>,
) -> ApiResult<Json<Value>> {
    let id: NodeId = parse_node_id(&pubkey)?;
    let v = view(&state)?;
    let report = v.analytics.node(&id).ok_or_else(|| {
        ApiError::not_found(
            "node_not_active",
            format!("{id} has no enabled channel in the analysed graph"),
        )
    })?;
    Ok(Json(
        json!({"graph_version": v.version, "amount_msat": v.analytics.config.amount_msat, "node": report}),
    ))
}

/// `GET /v1/analytics/channels/{scid}`: edge betweenness and share of routes per direction.
pub async fn channel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scid = parse_scid(&id)?;
    let v = view(&state)?;
    let report = v.analytics.channel(scid).ok_or_else(|| {
        ApiError::not_found(
            "channel_not_active",
            format!("{scid} has no enabled direction in the analysed graph"),
        )
    })?;
    Ok(Json(
        json!({"graph_version": v.version, "amount_msat": v.analytics.config.amount_msat, "channel": report}),
    ))
}

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use switchyard_graph::{NodeId, NodeIdx, Policy};

use super::parse_node_id;
use crate::asof::AtQuery;
use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, GraphView};

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NodeSort {
    #[default]
    Capacity,
    Channels,
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    sort: NodeSort,
    limit: Option<usize>,
    cursor: Option<String>,
    /// The graph as of this instant (unix seconds or RFC 3339).
    at: Option<String>,
}

#[derive(Serialize)]
struct NodeSummary {
    node_id: NodeId,
    alias: Option<String>,
    capacity_sat: u64,
    channels: usize,
}

fn sort_key(g: &GraphView, sort: NodeSort, n: NodeIdx) -> u64 {
    match sort {
        NodeSort::Capacity => g.node_capacity_sat[n as usize],
        NodeSort::Channels => g.snapshot.channels_of(n).len() as u64,
    }
}

/// Nodes ordered by capacity or channel count (descending, ties by node id), paginated with
/// an opaque keyset cursor that stays valid across snapshot swaps.
pub async fn list(
    State(state): State<AppState>,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let g = state.view_at(q.at.as_deref()).await?;
    let order = match q.sort {
        NodeSort::Capacity => &g.by_capacity,
        NodeSort::Channels => &g.by_channels,
    };
    let start = match &q.cursor {
        None => 0,
        Some(c) => {
            let bad = || ApiError::bad_request("invalid_cursor", format!("invalid cursor {c:?}"));
            let (key, id) = c.split_once('.').ok_or_else(bad)?;
            let key: u64 = key.parse().map_err(|_| bad())?;
            let id: NodeId = id.parse().map_err(|_| bad())?;
            order.partition_point(|&n| {
                let k = sort_key(&g, q.sort, n);
                k > key || (k == key && g.snapshot.node(n).id <= id)
            })
        }
    };
    let page = &order[start.min(order.len())..(start + limit).min(order.len())];
    let nodes: Vec<NodeSummary> = page
        .iter()
        .map(|&n| NodeSummary {
            node_id: g.snapshot.node(n).id,
            alias: g.snapshot.node(n).alias.as_deref().map(str::to_owned),
            capacity_sat: g.node_capacity_sat[n as usize],
            channels: g.snapshot.channels_of(n).len(),
        })
        .collect();
    let next_cursor = (start + limit < order.len())
        .then(|| page.last())
        .flatten()
        .map(|&n| format!("{}.{}", sort_key(&g, q.sort, n), g.snapshot.node(n).id));
    let mut body = json!({
        "graph_version": g.version,
        "total": order.len(),
        "nodes": nodes,
        "next_cursor": next_cursor,
    });
    if let Some(t) = g.as_of {
        body["as_of"] = json!(t.0);
    }
    Ok(Json(body))
}

fn policy_json(p: Option<&Policy>) -> Value {
    match p {
        None => Value::Null,
        Some(p) => json!(p),
    }
}

/// A node: its announcement, current channels and capacity, and its announcement history;
/// with `at`, as they stood then.
pub async fn get(
    State(state): State<AppState>,
    Path(pubkey): Path<String>,
    query: Result<Query<AtQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = query?;
    let id = parse_node_id(&pubkey)?;
    let g = state.view_at(q.at.as_deref()).await?;
    let pool = state.store.pool();
    let (row, history) = match g.as_of {
        None => (
            switchyard_store::queries::nodes::get(pool, &id).await?,
            switchyard_store::queries::nodes::announcements(pool, &id).await?,
        ),
        Some(t) => match switchyard_store::queries::asof::node_at(pool, &id, t).await? {
            Some((row, history)) => (Some(row), history),
            None => (None, Vec::new()),
        },
    };
    let in_graph = g.snapshot.node_idx(&id);
    if row.is_none() && in_graph.is_none() {
        let when = g.as_of.map(|t| format!(" as of {t}")).unwrap_or_default();
        return Err(ApiError::not_found(
            "node_not_found",
            format!("no node {id}{when}"),
        ));
    }
    let mut channels = Vec::new();
    let mut capacity_sat = 0;
    if let Some(n) = in_graph {
        capacity_sat = g.node_capacity_sat[n as usize];
        for &c in g.snapshot.channels_of(n) {
            let ch = g.snapshot.channel(c);
            let side = usize::from(ch.nodes[1] == n);
            let peer = g.snapshot.node(ch.nodes[1 - side]);
            channels.push(json!({
                "scid": ch.scid,
                "peer": peer.id,
                "peer_alias": peer.alias.as_deref(),
                "capacity_sat": ch.capacity_sat,
                "outgoing": policy_json(ch.policies[side].as_ref()),
                "incoming": policy_json(ch.policies[1 - side].as_ref()),
            }));
        }
    }
    let mut body = json!({
        "node_id": id,
        "in_graph": in_graph.is_some(),
        "announcement": history.first(),
        "first_seen": row.as_ref().map(|r| r.first_seen),
        "last_seen": row.as_ref().map(|r| r.last_seen),
        "capacity_sat": capacity_sat,
        "channel_count": channels.len(),
        "channels": channels,
        "announcement_history": history,
    });
    if let Some(t) = g.as_of {
        body["as_of"] = json!(t.0);
    }
    Ok(Json(body))
}

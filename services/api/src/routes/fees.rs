//! Fee strategies: a plan for any node, a what-if simulation, the controller run now, and the
//! controller's history. Planning and simulating are CPU work on the blocking pool (rayon
//! inside), never on the async workers.
//!
//! For our own node (the running node's id) a plan uses our real balances, our books'
//! activity and the controller's rules; for any other node, half of each channel's capacity
//! on each side and the default rules (`switchyard_fees::Rules::default`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use switchyard_fees::demand::{AmountDistribution, RandomDemand, MAX_PAYMENTS};
use switchyard_fees::rules::Strategy;
use switchyard_fees::{
    Balances, DemandSpec, FeesError, Payment, PlanRequest, PolicyOverride, Rules, SimulateRequest,
};
use switchyard_graph::{NodeId, Scid};
use switchyard_node::fees_ctl::RunRequest;
use switchyard_store::queries::fees::{self as fq, FeeMode, HistoryFilter};

use super::node::node;
use super::own::node_error;
use super::{parse_node_id, parse_scid};
use crate::auth::require_token;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Most payments a plan's demand may hold (a plan re-routes them per candidate fee).
pub const MAX_PLAN_PAYMENTS: usize = 20_000;
/// Payments a plan simulates when the query does not say.
pub const DEFAULT_PLAN_PAYMENTS: usize = 2_000;

fn fees_error(e: FeesError) -> ApiError {
    let code = e.code();
    match e {
        FeesError::UnknownNode(_) => ApiError::not_found(code, e.to_string()),
        FeesError::DemandTooLarge { .. } => ApiError::Unprocessable {
            code,
            message: e.to_string(),
        },
        _ => ApiError::bad_request(code, e.to_string()),
    }
}

fn strategy(name: Option<&str>) -> ApiResult<Option<Strategy>> {
    name.map(|n| {
        Strategy::named(n).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_strategy",
                format!(
                    "strategy must be proportional, competitive, cost_floor or flow, not {n:?} \
                     (static needs its fee: use a rules file)"
                ),
            )
        })
    })
    .transpose()
}

/// Our node's balances and rules when `id` is the running node, else none.
async fn own_inputs(
    state: &AppState,
    id: &NodeId,
) -> ApiResult<Option<switchyard_node::fees_ctl::OwnInputs>> {
    match &state.node {
        Some(n) if n.graph_node_id() == *id => Ok(Some(n.fee_inputs().await.map_err(node_error)?)),
        _ => Ok(None),
    }
}

async fn compute<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&switchyard_graph::Snapshot) -> Result<T, FeesError> + Send + 'static,
) -> ApiResult<T> {
    let g = state.graph().ok_or(ApiError::NotReady)?;
    tokio::task::spawn_blocking(move || work(&g.snapshot))
        .await
        .map_err(|e| ApiError::Internal(format!("fees worker: {e}")))?
        .map_err(fees_error)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    node: String,
    strategy: Option<String>,
    payments: Option<usize>,
    seed: Option<u64>,
}

/// `GET /v1/fees/plan?node=ID[&strategy=..][&payments=N][&seed=S]`.
pub async fn plan(
    State(state): State<AppState>,
    q: Result<Query<PlanQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q?;
    let id = parse_node_id(&q.node)?;
    let forced = strategy(q.strategy.as_deref())?;
    let payments = q.payments.unwrap_or(DEFAULT_PLAN_PAYMENTS);
    if payments > MAX_PLAN_PAYMENTS {
        return Err(ApiError::Unprocessable {
            code: "demand_too_large",
            message: format!(
                "a plan simulates at most {MAX_PLAN_PAYMENTS} payments, not {payments}"
            ),
        });
    }
    let own = own_inputs(&state, &id).await?;
    let (rules, channels, balances) = match own {
        Some(o) => (o.rules, o.channels, o.balances),
        None => (Rules::default(), Vec::new(), Balances::HalfCapacity),
    };
    let req = PlanRequest {
        node: id,
        rules,
        strategy: forced,
        channels,
        balances,
        demand: DemandSpec::Random(RandomDemand::new(payments, q.seed.unwrap_or(0))),
    };
    let plan = compute(&state, move |g| switchyard_fees::plan(g, &req)).await?;
    Ok(Json(json!(plan)))
}

/// `amount_sat` of a random demand.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountRange {
    min: u64,
    max: u64,
}

/// One payment of an explicit demand; the fee ceiling defaults to a wallet's (1% + 50 sat).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListedPayment {
    source: String,
    destination: String,
    amount_msat: u64,
    max_fee_msat: Option<u64>,
}

/// `demand`: `{"payments", "seed", "amount_sat": {"min", "max"}}` or `{"list": [...]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemandBody {
    payments: Option<usize>,
    seed: Option<u64>,
    amount_sat: Option<AmountRange>,
    list: Option<Vec<ListedPayment>>,
}

/// `POST /v1/fees/simulate`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulateBody {
    node: String,
    #[serde(default)]
    overrides: Vec<OverrideBody>,
    demand: DemandBody,
    #[serde(default)]
    return_routes: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    scid: String,
    from: String,
    base_fee_msat: u32,
    fee_ppm: u32,
}

fn demand_spec(d: DemandBody) -> ApiResult<DemandSpec> {
    match (d.payments, d.list) {
        (Some(n), None) => {
            let mut r = RandomDemand::new(n, d.seed.unwrap_or(0));
            if let Some(a) = d.amount_sat {
                if a.min == 0 || a.min > a.max {
                    return Err(ApiError::bad_request(
                        "invalid_demand",
                        "amount_sat needs 0 < min <= max",
                    ));
                }
                r.amounts = AmountDistribution::LogUniform {
                    min_sat: a.min,
                    max_sat: a.max,
                };
            }
            Ok(DemandSpec::Random(r))
        }
        (None, Some(list)) if d.seed.is_none() && d.amount_sat.is_none() => {
            if list.len() > MAX_PAYMENTS {
                return Err(fees_error(FeesError::DemandTooLarge {
                    requested: list.len(),
                    limit: MAX_PAYMENTS,
                }));
            }
            let list = list
                .into_iter()
                .map(|p| {
                    let mut out = Payment::new(
                        parse_node_id(&p.source)?,
                        parse_node_id(&p.destination)?,
                        p.amount_msat,
                    );
                    out.max_fee_msat = p.max_fee_msat.unwrap_or(out.max_fee_msat);
                    Ok(out)
                })
                .collect::<ApiResult<Vec<_>>>()?;
            Ok(DemandSpec::List { list })
        }
        _ => Err(ApiError::bad_request(
            "invalid_demand",
            "demand is either {\"payments\", \"seed\", \"amount_sat\"} or {\"list\"}",
        )),
    }
}

fn overrides(v: Vec<OverrideBody>) -> ApiResult<Vec<PolicyOverride>> {
    v.into_iter()
        .map(|o| {
            Ok(PolicyOverride {
                scid: parse_scid(&o.scid)?,
                from: parse_node_id(&o.from)?,
                base_fee_msat: o.base_fee_msat,
                fee_ppm: o.fee_ppm,
            })
        })
        .collect()
}

/// `POST /v1/fees/simulate`: what-if for any node (see the module documentation).
pub async fn simulate(
    State(state): State<AppState>,
    body: Result<Json<SimulateBody>, JsonRejection>,
) -> ApiResult<Json<Value>> {
    let Json(b) = body?;
    let node = parse_node_id(&b.node)?;
    let req = SimulateRequest {
        node,
        overrides: overrides(b.overrides)?,
        demand: demand_spec(b.demand)?,
        return_routes: b.return_routes,
    };
    let balances = own_inputs(&state, &node)
        .await?
        .map_or(Balances::HalfCapacity, |o| o.balances);
    let result = compute(&state, move |g| {
        switchyard_fees::simulate(g, &req, &balances)
    })
    .await?;
    Ok(Json(json!(result)))
}

/// `POST /v1/fees/apply`'s body (all optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyBody {
    strategy: Option<String>,
    channels: Option<Vec<String>>,
    /// `true` plans without applying (the controller's dry run).
    #[serde(default)]
    dry_run: bool,
}

/// `POST /v1/fees/apply` (token): runs the controller once now, on the served graph.
pub async fn apply(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<Value>> {
    require_token(&state, &headers)?;
    let b: ApplyBody = if body.iter().all(u8::is_ascii_whitespace) {
        ApplyBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))?
    };
    let handle = node(&state)?;
    let channels = b
        .channels
        .map(|v| {
            v.iter()
                .map(|s| parse_scid(s))
                .collect::<ApiResult<Vec<Scid>>>()
        })
        .transpose()?;
    let req = RunRequest {
        mode: if b.dry_run {
            FeeMode::DryRun
        } else {
            FeeMode::Apply
        },
        strategy: strategy(b.strategy.as_deref())?,
        channels,
    };
    let graph = state.graph().map(|g| Arc::clone(&g.snapshot));
    let report = handle.run_fees(graph, req).await.map_err(node_error)?;
    Ok(Json(json!(report)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    scid: Option<String>,
    /// Unix seconds.
    since: Option<i64>,
    limit: Option<i64>,
}

/// `GET /v1/fees/history`: the controller's applied changes, newest first.
pub async fn history(
    State(state): State<AppState>,
    q: Result<Query<HistoryQuery>, QueryRejection>,
) -> ApiResult<Json<Value>> {
    let Query(q) = q?;
    let filter = HistoryFilter {
        scid: q.scid.as_deref().map(parse_scid).transpose()?,
        since: q.since,
        limit: q.limit.unwrap_or(100).clamp(1, 10_000),
    };
    let rows = fq::history(state.store.pool(), filter).await?;
    Ok(Json(json!({ "changes": rows })))
}

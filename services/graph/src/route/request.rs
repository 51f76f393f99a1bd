//! The request and answer types of single-path routing: [`RouteRequest`], [`Route`] and its
//! [`Hop`]s, the [`CostModel`], and why no route was returned ([`RouteError`]).

use crate::types::{NodeId, Scid};

/// What the search minimises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostModel {
    /// Least total fee (exact, see the search module documentation).
    #[default]
    Fee,
    /// Highest success probability under the uniform-liquidity prior (`sum of -ln P`).
    Probability,
    /// Fee plus a price on uncertainty, per hop: `fee + (BALANCED_MSAT_PER_NEG_LN_P +
    /// BALANCED_MSAT_PER_NEG_LN_P_PER_MIB_MSAT x amount / 2^20) x (-ln P)`, LDK's default
    /// liquidity penalties expressed in natural logarithms.
    Balanced,
}

/// One payment route query. Omitted optional fields take the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RouteRequest {
    /// The paying node (its first hop charges no fee).
    pub source: NodeId,
    /// The receiving node.
    pub destination: NodeId,
    /// Amount delivered to the destination (> 0).
    pub amount_msat: u64,
    #[serde(default)]
    /// What the search minimises (default `fee`).
    pub cost_model: CostModel,
    /// Limit on `total_fee_msat`; none by default.
    #[serde(default)]
    pub max_fee_msat: Option<u64>,
    /// 1..=20, default 20.
    #[serde(default)]
    pub max_hops: Option<u8>,
    /// Limit on the total cltv (final delta included), default 2016.
    #[serde(default)]
    pub max_cltv: Option<u32>,
    /// The destination's final cltv delta, default 18.
    #[serde(default)]
    pub final_cltv_delta: Option<u16>,
    /// Nodes the route must avoid (unknown ids are ignored; source and destination refused).
    #[serde(default)]
    pub exclude_nodes: Vec<NodeId>,
    /// Channels the route must avoid, both directions (unknown scids are ignored).
    #[serde(default)]
    pub exclude_channels: Vec<Scid>,
}

impl RouteRequest {
    /// A fee-model request with every limit at its default.
    pub fn new(source: NodeId, destination: NodeId, amount_msat: u64) -> Self {
        RouteRequest {
            source,
            destination,
            amount_msat,
            cost_model: CostModel::Fee,
            max_fee_msat: None,
            max_hops: None,
            max_cltv: None,
            final_cltv_delta: None,
            exclude_nodes: Vec::new(),
            exclude_channels: Vec::new(),
        }
    }

    /// The same request under another cost model.
    pub fn with_model(mut self, model: CostModel) -> Self {
        self.cost_model = model;
        self
    }
}

/// One hop of a [`Route`]; see the module documentation for the exact semantics.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hop {
    /// The channel used.
    pub scid: Scid,
    /// The node that forwards over this channel (the payer on the first hop).
    pub from: NodeId,
    /// The node that receives over this channel.
    pub to: NodeId,
    /// HTLC amount carried over this hop's channel.
    pub amount_to_forward_msat: u64,
    /// Fee charged by `from` for this channel (0 on the payer's first hop).
    pub fee_msat: u64,
    /// Cltv delta added by `from` (0 on the payer's first hop).
    pub cltv_delta: u16,
    /// The channel's capacity (sat).
    pub capacity_sat: u64,
    /// `(capacity + 1 - amount) / (capacity + 1)`, msat.
    pub probability: f64,
}

/// A single-path route.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Route {
    /// The hops from source to destination, in order.
    pub hops: Vec<Hop>,
    /// Amount delivered to the destination.
    pub amount_msat: u64,
    /// Sum of the hops' fees (the payer's first channel charges nothing).
    pub total_fee_msat: u64,
    /// What the sender sends: `amount_msat + total_fee_msat`.
    pub total_amount_msat: u64,
    /// Final cltv delta plus every hop's `cltv_delta`.
    pub total_cltv: u32,
    /// The destination's final cltv delta (blocks) used.
    pub final_cltv_delta: u16,
    /// Product of the hops' probabilities.
    pub probability: f64,
    /// The model this route was chosen under, and its cost there: msat for `fee` and
    /// `balanced`, `-ln probability` for `probability`.
    pub cost_model: CostModel,
    /// The route's cost under `cost_model`: msat for `fee` and `balanced`, `-ln probability`
    /// for `probability`.
    pub cost: f64,
}

/// Why no route was returned. Invalid requests map to HTTP 400, the rest to 422.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("invalid request: {0}")]
    /// Malformed request (amount, limits, excluded endpoints); the reason is given.
    InvalidRequest(String),
    #[error("unknown source node {0}")]
    /// The source is not in the graph.
    UnknownSource(NodeId),
    #[error("unknown destination node {0}")]
    /// The destination is not in the graph.
    UnknownDestination(NodeId),
    #[error("source and destination are the same node")]
    /// Source and destination are the same node.
    SameNode,
    #[error("the source cannot reach the destination over enabled channels")]
    /// No path of enabled channels joins source and destination.
    Disconnected,
    #[error("no path can carry the amount (capacity, htlc limits or exclusions)")]
    /// Paths exist, but none can carry the amount.
    Capacity,
    #[error("every path that can carry the amount costs more than the fee limit")]
    /// Routes exist, but each costs more than `max_fee_msat`.
    FeeLimit,
    #[error("every path that can carry the amount exceeds the cltv limit")]
    /// Routes exist, but each needs more than `max_cltv` blocks.
    CltvLimit,
    #[error("every path that can carry the amount needs more hops than allowed")]
    /// Routes exist, but each needs more than `max_hops` hops.
    HopLimit,
    /// The cheapest path breaks the cltv or hop limit, and the exact search among the paths
    /// within them gave up at its budget ([`RoutingIndex::label_budget`]) before it could
    /// find the cheapest one or prove there is none. Looser limits usually avoid it.
    #[error("the exact search within the cltv and hop limits gave up after {labels} labels (its budget) without deciding")]
    SearchBudget {
        /// The label budget that was used up.
        labels: usize,
    },
}

impl RouteError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            RouteError::InvalidRequest(_) => "invalid_request",
            RouteError::UnknownSource(_) | RouteError::UnknownDestination(_) => "unknown_node",
            RouteError::SameNode => "same_node",
            RouteError::Disconnected => "no_route_disconnected",
            RouteError::Capacity => "no_route_capacity",
            RouteError::FeeLimit => "no_route_fee_limit",
            RouteError::CltvLimit => "no_route_cltv_limit",
            RouteError::HopLimit => "no_route_hop_limit",
            RouteError::SearchBudget { .. } => "search_budget_exceeded",
        }
    }

    /// Whether the request itself was malformed (HTTP 400) rather than unroutable (422).
    pub fn is_invalid_request(&self) -> bool {
        matches!(self, RouteError::InvalidRequest(_) | RouteError::SameNode)
    }
}

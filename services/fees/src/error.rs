//! The crate's typed errors: what a caller (the API) maps to 404 / 400 / 413.

use switchyard_graph::{NodeId, Scid};

/// Why a simulation, curve or plan request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeesError {
    /// The node under study is not in the graph (HTTP 404).
    #[error("unknown node {0}")]
    UnknownNode(NodeId),
    /// An override names a channel the graph does not have (HTTP 400).
    #[error("override: unknown channel {0}")]
    UnknownChannel(Scid),
    /// An override or balance names a direction that does not leave the node under study,
    /// or a channel that is not the node's (HTTP 400).
    #[error("override: channel {scid} has no direction from {from} that belongs to the node under study")]
    NotNodeDirection {
        /// The channel named.
        scid: Scid,
        /// The node named as the direction's sender.
        from: NodeId,
    },
    /// An override names a direction without any announced policy (HTTP 400).
    #[error("override: channel {scid} has no policy in the direction from {from}")]
    NoPolicy {
        /// The channel named.
        scid: Scid,
        /// The node named as the direction's sender.
        from: NodeId,
    },
    /// A balance larger than the channel, or other inconsistent input (HTTP 400).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// The demand asks for more payments than allowed (HTTP 413).
    #[error("demand of {requested} payments exceeds the limit of {limit}")]
    DemandTooLarge {
        /// Payments asked for.
        requested: usize,
        /// The most allowed ([`crate::demand::MAX_PAYMENTS`]).
        limit: usize,
    },
}

impl FeesError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            FeesError::UnknownNode(_) => "unknown_node",
            FeesError::UnknownChannel(_) => "unknown_channel",
            FeesError::NotNodeDirection { .. } => "not_node_direction",
            FeesError::NoPolicy { .. } => "no_policy",
            FeesError::Invalid(_) => "invalid_request",
            FeesError::DemandTooLarge { .. } => "demand_too_large",
        }
    }
}

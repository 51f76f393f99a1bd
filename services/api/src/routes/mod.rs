//! Handlers, one module per resource. Each extracts, calls the store or the graph, and maps.

pub mod analytics;
pub mod channels;
pub mod fees;
pub mod health;
pub mod history;
pub mod network;
pub mod node;
pub mod nodes;
pub mod own;
pub mod routing;

use switchyard_graph::{NodeId, Scid};

use crate::error::ApiError;

pub(crate) fn parse_node_id(s: &str) -> Result<NodeId, ApiError> {
    s.parse().map_err(|e| {
        ApiError::bad_request("invalid_node_id", format!("invalid node id {s:?}: {e}"))
    })
}

pub(crate) fn parse_scid(s: &str) -> Result<Scid, ApiError> {
    s.parse().map_err(|e| {
        ApiError::bad_request(
            "invalid_scid",
            format!("invalid short channel id {s:?}: {e}"),
        )
    })
}

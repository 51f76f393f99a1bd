//! # switchyard-graph: the pure graph engine
//!
//! Owns the in-memory channel graph ([`Snapshot`]), the readers that turn graph files into
//! [`Record`]s ([`load`]), and the computations on the graph: network statistics
//! ([`stats`]), pathfinding ([`route`]) and network analytics ([`analytics`]). Fee strategies
//! are not here: they live in their own crate, over this one's public API.
//!
//! It must not touch a database or the network, must not be `async`, and must not log in hot
//! loops: that keeps it fast to test and to benchmark. Parallel work uses rayon. `unsafe`
//! code is denied everywhere but the one prefetch-hint module.
//!
//! # Brief overview
//! ```
//! use switchyard_graph::{load, NetworkStats, Snapshot};
//! let json = r#"{"channels": [{
//!     "source": "0250373555232cec757ea141273e75381c84cc3ab22f1e3a3ca5a2dc55b1904c24",
//!     "destination": "02ef61a252f9504a42fc264a28476f44cea0711a44b2da0bd729ad52aaee9d86b7",
//!     "short_channel_id": "505149x622x0", "satoshis": 300000, "channel_flags": 0,
//!     "active": true, "last_update": 1557455485, "base_fee_millisatoshi": 1000,
//!     "fee_per_millionth": 10, "delay": 14 }]}"#;
//! let mut records = Vec::new();
//! load::read_records(json.as_bytes(), "example.json", |r| { records.push(r); true }).unwrap();
//! let graph = Snapshot::from_records(records);
//! assert_eq!(NetworkStats::compute(&graph).enabled_directions, 1);
//! ```

#![warn(missing_docs)]

pub mod analytics;
pub mod load;
#[allow(unsafe_code)]
mod prefetch;
mod radix;
pub mod route;
pub mod snapshot;
pub mod stats;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod types;

pub use load::{LoadError, Record};
pub use snapshot::{
    Channel, ChannelIdx, EdgeIdx, GraphBuilder, Node, NodeIdx, PatchError, Policy, Snapshot,
};
pub use stats::NetworkStats;
pub use types::{IdError, NodeId, Scid};

//! # switchyard-fees: pricing a node's channels from simulated network flow
//!
//! Given a graph [`Snapshot`](switchyard_graph::Snapshot), a node under study N and a
//! demand (payments between other nodes), this crate answers "what does N earn, and on which
//! channel, if it charges this?" and proposes fees from it:
//!
//! * [`demand`]: a seeded, deterministic generator of payments (or an explicit list);
//! * [`scenario`]: the graph as N's payers see it under what-if policy overrides and
//!   N's balances (htlc_max caps), and the routing index over it (on the split graph, where
//!   each outgoing direction of N is its own channel, so a route can avoid one direction);
//! * [`sim`]: route every payment with the fee-model router and account N's flow and revenue
//!   per channel direction ([`simulate`]);
//! * [`curves`]: per channel of N, revenue as a function of its fee (a payment counts for a
//!   channel when every cheapest route uses it), computed from each payment's best route
//!   through and around the channel, exact against the naive oracle ([`curves::naive`])
//!   which re-routes everything per candidate; a [`Session`] carries what does not depend on
//!   N's fees from one computation to the next (the `flow` strategy's rounds);
//! * [`whatif`]: a [`Baseline`] routes a demand once and answers what-ifs by routing again
//!   only the payments an override can move (cost-exact; see its documentation);
//! * [`strategy`], [`plan()`], [`rules`]: fee strategies (`static`, `proportional`,
//!   `competitive`, `cost_floor`, `flow`), a plan per channel, and the TOML rules file that
//!   picks a strategy per channel.
//!
//! It is pure computation on rayon: no I/O, no async, no logging. Callers (the node's
//! controller, the API, the CLI) bring the snapshot, the balances and the books, and store
//! or serve the results; every result struct is serde-serializable.

#![warn(missing_docs)]

pub mod curves;
pub mod demand;
mod error;
pub mod plan;
pub mod rules;
pub mod scenario;
pub mod sim;
mod split;
pub mod strategy;
mod suffix;
pub mod whatif;

pub use demand::{Demand, DemandSpec, Payment};
pub use error::FeesError;

pub use curves::{CurvePoint, Curves, RevenueCurve, Session, Work};
pub use plan::{plan, ChannelPlan, Plan, PlanRequest};
pub use rules::{ChannelState, Rules, RulesError};
pub use scenario::{Balances, ChannelBalance, FeePolicy, PolicyOverride, Scenario};
pub use sim::{simulate, simulate_with_work, SimWork, SimulateRequest, SimulationResult};
pub use whatif::Baseline;

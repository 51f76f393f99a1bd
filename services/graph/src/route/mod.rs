//! # Pathfinding on a [`Snapshot`]
//!
//! Lightning-correct payment routes: single-path search under three cost models
//! ([`CostModel`]), multi-part payments by min-cost flow ([`RoutingIndex::find_mpp`]), and
//! batch / many-to-many queries on rayon. Build a [`RoutingIndex`] once per snapshot, then
//! query it from any thread.
//!
//! Pure computation: no I/O, no logging, no async. Requests come straight from HTTP users, so
//! nothing here panics on caller input; every refusal is a [`RouteError`] with a stable
//! [`RouteError::code`].
//!
//! ## Route semantics (what [`validate::validate_route`] re-derives independently)
//! A route is hops `h_0 .. h_{k-1}`, `h_0` leaving the source and `h_{k-1}` reaching the
//! destination. For hop `i`:
//! * `amount_to_forward_msat` is the HTLC amount carried over the hop's channel, delivered to
//!   `to`. The last hop carries exactly the payment amount.
//! * `fee_msat` is what `from` charges for forwarding over this channel, by the channel
//!   direction's policy: `base + floor(amount_to_forward_msat x ppm / 10^6)`; 0 for `h_0`
//!   (the payer pays no fee to itself). `amount_to_forward(h_{i-1}) = amount_to_forward(h_i) +
//!   fee(h_i)`.
//! * `cltv_delta` is the delta `from` adds (its policy's `cltv_expiry_delta`); 0 for `h_0`.
//!   `total_cltv = final_cltv_delta + sum of cltv_delta`, which must not exceed `max_cltv`.
//! * every hop: direction enabled, `htlc_minimum <= amount <= min(htlc_maximum, capacity)`.
//!
//! `total_fee_msat` excludes the payer's first channel (as LDK's `get_total_fees`), and
//! `total_amount_msat = amount_msat + total_fee_msat` is what the sender sends.
//! `probability` is the product over *all* hops (the first included: the source's balance is
//! not known to an explorer) of `(capacity + 1 - amount) / (capacity + 1)`, capacity and amount
//! in msat (uniform liquidity prior). `cost` is the route's cost under the request's model.
//!
//! Fee arithmetic saturates (`u64`, with `u128` products): a policy may charge up to
//! `u32::MAX` msat plus `u32::MAX` ppm, which on large amounts exceeds `u64`. Such a hop can
//! never be on a route (the payer would have to send more than any channel carries), and
//! the search drops the labels it gives instead of wrapping around.
//!
//! ## Files
//! `request.rs` (the request and answer types), `index/` (the [`RoutingIndex`] and its
//! layout), `search/` (the searches), `matrix.rs`, [`mpp`] (multi-part payments) and
//! [`validate`] (the independent route validator); this file resolves requests and turns
//! found paths into [`Route`]s.

mod index;
mod matrix;
pub mod mpp;
mod request;
mod search;
#[cfg(test)]
mod tests;
pub mod validate;

use std::sync::Arc;

use rayon::prelude::*;

pub use index::RoutingIndex;
pub use matrix::{Matrix, MatrixCell};
pub use mpp::{MppRequest, MppRoute};
pub use request::{CostModel, Hop, Route, RouteError, RouteRequest};
/// Tests only: scan in-edge lists longer than `min` lazily in fee order, at least `batch`
/// edges per visit (`None`: the defaults), on this thread. Lets small test graphs exercise
/// what only hubs use otherwise.
#[cfg(feature = "testing")]
#[doc(hidden)]
pub fn set_lazy_scan_for_tests(v: Option<(usize, usize)>) {
    search::LAZY_OVERRIDE.with(|c| c.set(v));
}
/// Tests only: this thread's fee-search work so far (nodes settled, edges relaxed).
#[cfg(feature = "testing")]
#[doc(hidden)]
pub fn fee_search_work_for_tests() -> (u64, u64) {
    search::WORK.with(|c| c.get())
}
pub use search::{LABELS_PER_GRAPH_ELEMENT, MAX_LABEL_BUDGET, MIN_LABEL_BUDGET, WORK_PER_LABEL};

use crate::snapshot::Snapshot;
use search::{Failure, Found, Query};

/// Most hops a route may have (the onion's limit with the legacy payload, as in LDK).
pub const MAX_HOPS: u8 = 20;
/// Default limit on the total cltv delta (LDK's and CLN's default is about two weeks).
pub const DEFAULT_MAX_CLTV: u32 = 2016;
/// Default cltv delta the destination requires.
pub const DEFAULT_FINAL_CLTV_DELTA: u16 = 18;
/// Largest amount accepted: all bitcoin there will ever be, in msat.
pub const MAX_AMOUNT_MSAT: u64 = 21_000_000 * 100_000_000 * 1000;

/// Balanced model: price (msat) of one unit of `-ln P` per hop. LDK's default scorer charges
/// `liquidity_penalty_multiplier_msat = 30,000` per unit of `-log10 P`; 30,000 / ln 10 = 13,029.
pub const BALANCED_MSAT_PER_NEG_LN_P: f64 = 13_029.0;
/// Balanced model: additional price per unit of `-ln P` per 2^20 msat carried, from LDK's
/// `liquidity_penalty_amount_multiplier_msat = 192` per `-log10 P` (192 / ln 10 = 83.38).
pub const BALANCED_MSAT_PER_NEG_LN_P_PER_MIB_MSAT: f64 = 83.38;

/// `-ln((capacity + 1 - amount) / (capacity + 1))`, amounts in msat.
pub(crate) fn hop_neg_ln_p(amount: u64, cap_msat: u64) -> f64 {
    if amount > cap_msat {
        return f64::INFINITY;
    }
    let c = cap_msat as f64 + 1.0;
    -((c - amount as f64) / c).ln()
}

/// The balanced model's per-hop cost (see [`CostModel::Balanced`]).
pub(crate) fn balanced_hop_cost(fee: u64, amount: u64, neg_ln_p: f64) -> f64 {
    fee as f64
        + (BALANCED_MSAT_PER_NEG_LN_P
            + BALANCED_MSAT_PER_NEG_LN_P_PER_MIB_MSAT * amount as f64 / 1_048_576.0)
            * neg_ln_p
}

impl RoutingIndex {
    /// Builds an index from a snapshot held elsewhere (convenience over [`RoutingIndex::build`]).
    pub fn from_snapshot(snapshot: &Snapshot) -> RoutingIndex {
        RoutingIndex::build(Arc::new(snapshot.clone()))
    }

    pub(crate) fn resolve(&self, r: &RouteRequest) -> Result<Query, RouteError> {
        let g = &*self.snapshot;
        if r.amount_msat == 0 || r.amount_msat > MAX_AMOUNT_MSAT {
            return Err(RouteError::InvalidRequest(format!(
                "amount_msat must be in 1..={MAX_AMOUNT_MSAT}"
            )));
        }
        let max_hops = r.max_hops.unwrap_or(MAX_HOPS);
        if max_hops == 0 || max_hops > MAX_HOPS {
            return Err(RouteError::InvalidRequest(format!(
                "max_hops must be in 1..={MAX_HOPS}"
            )));
        }
        let final_cltv = u32::from(r.final_cltv_delta.unwrap_or(DEFAULT_FINAL_CLTV_DELTA));
        let max_cltv = r.max_cltv.unwrap_or(DEFAULT_MAX_CLTV);
        if final_cltv > max_cltv {
            return Err(RouteError::InvalidRequest(
                "final_cltv_delta exceeds max_cltv".to_string(),
            ));
        }
        let src = self
            .node_by_id(&r.source)
            .ok_or(RouteError::UnknownSource(r.source))?;
        let dst = self
            .node_by_id(&r.destination)
            .ok_or(RouteError::UnknownDestination(r.destination))?;
        if src == dst {
            return Err(RouteError::SameNode);
        }
        let mut exclude_nodes = Vec::with_capacity(r.exclude_nodes.len());
        for id in &r.exclude_nodes {
            if *id == r.source || *id == r.destination {
                return Err(RouteError::InvalidRequest(
                    "exclude_nodes must not contain the source or the destination".to_string(),
                ));
            }
            if let Some(i) = self.node_by_id(id) {
                exclude_nodes.push(i);
            }
        }
        let exclude_channels = r
            .exclude_channels
            .iter()
            .filter_map(|s| g.channel_idx(*s))
            .collect();
        Ok(Query {
            src,
            dst,
            amount: r.amount_msat,
            model: r.cost_model,
            max_fee: r.max_fee_msat.unwrap_or(u64::MAX),
            max_hops,
            max_cltv,
            final_cltv,
            exclude_nodes,
            exclude_channels,
        })
    }

    /// The best single-path route for the request under its cost model. For `probability` and
    /// `balanced` (heuristic searches), when the heuristic finds nothing the fee model's
    /// exact search decides, so every model finds a route exactly when one exists (within the
    /// exact search's label budget, [`RouteError::SearchBudget`]).
    pub fn find_route(&self, request: &RouteRequest) -> Result<Route, RouteError> {
        let q = self.resolve(request)?;
        self.route_query(&q)
    }

    pub(crate) fn route_query(&self, q: &Query) -> Result<Route, RouteError> {
        let found = search::with_scratch(self, |sc| {
            if !self.reachable(q.src, q.dst, sc) {
                return Err(RouteError::Disconnected);
            }
            // Amounts only grow toward the source: if none of its channels can carry the
            // amount itself, no search is needed (otherwise it would explore everything).
            let src_can_carry = self
                .edges
                .out_slots(q.src)
                .iter()
                .any(|&s| self.edges.hot()[s as usize].htlc_max >= q.amount);
            if !src_can_carry {
                return Err(RouteError::Capacity);
            }
            self.begin_search(q, sc);
            Ok(match q.model {
                CostModel::Fee => self.search_fee(q, sc),
                CostModel::Probability | CostModel::Balanced => match self.search_cost(q, sc) {
                    // The single-label heuristic can miss routes that only exist thanks to
                    // limits or htlc minimums; the exact fee search then decides existence.
                    Found::None(_) => {
                        self.begin_search(q, sc);
                        self.search_fee(q, sc)
                    }
                    found => found,
                },
            })
        })?;
        match found {
            Found::Path(path) => Ok(self.build_route(&path, q)),
            Found::None(f) => Err(match f {
                Failure::Capacity => RouteError::Capacity,
                Failure::FeeLimit => RouteError::FeeLimit,
                Failure::CltvLimit => RouteError::CltvLimit,
                Failure::HopLimit => RouteError::HopLimit,
                Failure::SearchBudget => RouteError::SearchBudget {
                    labels: self.label_budget(),
                },
            }),
        }
    }

    /// Many queries at once on rayon; results in input order.
    pub fn find_routes(&self, requests: &[RouteRequest]) -> Vec<Result<Route, RouteError>> {
        requests.par_iter().map(|r| self.find_route(r)).collect()
    }

    /// Turns index slots (payment order) into a [`Route`] with amounts, fees, cltv and
    /// probability, all evaluated the same way whichever model chose the path.
    pub(crate) fn build_route(&self, path: &[u32], q: &Query) -> Route {
        let g = &*self.snapshot;
        let k = path.len();
        let mut hops: Vec<Hop> = Vec::with_capacity(k);
        let mut amount = q.amount;
        let mut cost = 0.0;
        for (i, &s) in path.iter().enumerate().rev() {
            let s = s as usize;
            let e = self.edges.edge(s);
            let (fee, cltv_delta) = if i == 0 {
                (0, 0)
            } else {
                (self.edges.fee(s, amount), self.edges.hot()[s].cltv)
            };
            let neg_ln_p = hop_neg_ln_p(amount, self.edges.cap_msat(s));
            cost += match q.model {
                CostModel::Fee => fee as f64,
                CostModel::Probability => neg_ln_p,
                CostModel::Balanced => balanced_hop_cost(fee, amount, neg_ln_p),
            };
            let ch = g.channel(Snapshot::edge_channel(e));
            hops.push(Hop {
                scid: ch.scid,
                from: g.node(g.edge_from(e)).id,
                to: g.node(g.edge_to(e)).id,
                amount_to_forward_msat: amount,
                fee_msat: fee,
                cltv_delta,
                capacity_sat: ch.capacity_sat,
                probability: (-neg_ln_p).exp(),
            });
            amount = amount.saturating_add(fee);
        }
        hops.reverse();
        // A route's amounts never exceed its first hop's limit (the searches drop labels past
        // what the payer can send), so these sums cannot overflow; saturating all the same.
        let total_fee = hops.iter().fold(0u64, |t, h| t.saturating_add(h.fee_msat));
        let total_cltv = q.final_cltv + hops.iter().map(|h| u32::from(h.cltv_delta)).sum::<u32>();
        Route {
            amount_msat: q.amount,
            total_fee_msat: total_fee,
            total_amount_msat: q.amount.saturating_add(total_fee),
            total_cltv,
            final_cltv_delta: q.final_cltv as u16,
            probability: hops.iter().map(|h| h.probability).product(),
            cost_model: q.model,
            cost,
            hops,
        }
    }
}

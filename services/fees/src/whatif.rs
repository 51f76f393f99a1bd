//! What-ifs against a kept baseline: a node's demand routed once at its current fees, then
//! any number of what-ifs (policy overrides on N's outgoing directions) that route again
//! only the payments whose route an override can change.
//!
//! **Which payments.** For the changed directions c_k at their new fees f_k, the fast
//! revenue curves of a [`Session`] (the baseline's routes as its baseline, the f_k as the
//! grid) say per payment whether a route through c_k at f_k may cost less than, or as much
//! as, its best route around c_k (`Session::may_change`). A payment whose baseline route
//! crosses no c_k and for which the curves found no such route keeps its baseline route: its
//! cost did not change, no route avoiding every c_k changed, and a simple route crosses N
//! once, so every route through some c_k costs at least as much (or, for a payment that
//! found no route, more than its fee ceiling). Its route is still a cheapest one, and a payer
//! does not switch between equally cheap routes. Every other payment is routed on the
//! what-if's scenario. `changed_routes` counts the re-routed payments whose route (or
//! failure) differs from the baseline's.
//!
//! **Versus [`crate::sim::simulate`].** Every payment gets a route of the same cost (or
//! fails) as when every payment is routed under the what-if; N's flow can differ only where
//! a payment has several equally cheap routes and the two pick different ones (`simulate`
//! keeps the router's pick on one side or the other, see [`crate::sim`]; a payment the
//! curves' bounds skipped keeps its baseline route here even when a route through a c_k
//! costs exactly as much).
//!
//! The session keeps what does not depend on N's fees (prefix routes, suffix labels) from
//! one what-if to the next, so a baseline answers a series of what-ifs much cheaper than
//! each alone (the first one examines every payment). Like the rest of the crate: pure
//! computation on rayon, the same result for any number of threads.

use rayon::prelude::*;
use switchyard_graph::route::{Route, RouteError};
use switchyard_graph::{EdgeIdx, NodeId};

use crate::curves::{Session, Work};
use crate::demand::Demand;
use crate::scenario::{request, Balances, FeePolicy, PolicyOverride, Scenario};
use crate::sim::{result, route_all, route_key, SimWork, SimulationResult};
use crate::FeesError;

/// A what-if's routes ([`Baseline::routes_under`]).
#[derive(Debug, Clone)]
pub struct Routed {
    /// The scenario under the what-if.
    pub scenario: Scenario,
    /// Every payment's route (or failure), in input order.
    pub routes: Vec<Result<Route, RouteError>>,
    /// Payments whose route (or failure) differs from the baseline's.
    pub changed_routes: u64,
    /// The work (see [`Baseline::what_if`]).
    pub work: SimWork,
}

/// A node's demand routed at its current fees, to answer what-ifs from (see the module
/// documentation).
pub struct Baseline<'d> {
    scenario: Scenario,
    routes: Vec<Result<Route, RouteError>>,
    session: Session<'d>,
    /// Work of the computations so far (the curves' routes and examinations).
    curve_work: Work,
}

impl<'d> Baseline<'d> {
    /// Routes `demand` for `node` on `graph` with N's `balances` (one routing index, every
    /// payment routed once).
    pub fn new(
        graph: &switchyard_graph::Snapshot,
        node: &NodeId,
        balances: &Balances,
        demand: &'d Demand,
    ) -> Result<Baseline<'d>, FeesError> {
        let scenario = Scenario::new(graph, node, balances, &[])?;
        Ok(Baseline::from_scenario(scenario, demand))
    }

    /// Routes `demand` on `scenario` (N's current fees).
    pub fn from_scenario(scenario: Scenario, demand: &'d Demand) -> Baseline<'d> {
        let routes = route_all(&scenario, demand);
        Baseline {
            scenario,
            routes,
            session: Session::new(demand),
            curve_work: Work::default(),
        }
    }

    /// The scenario at N's current fees.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The payments' routes at N's current fees (input order).
    pub fn routes(&self) -> &[Result<Route, RouteError>] {
        &self.routes
    }

    /// Work of the revenue-curve computations the what-ifs so far took.
    pub fn curve_work(&self) -> Work {
        self.curve_work
    }

    /// The simulation under `overrides` (checked as [`Scenario::new`] checks them), with its
    /// work: `baseline_routes` is 0 (the baseline was routed before), `what_if_routes` the
    /// payments routed again, `reused_routes` the others.
    pub fn what_if(
        &mut self,
        overrides: &[PolicyOverride],
        return_routes: bool,
    ) -> Result<(SimulationResult, SimWork), FeesError> {
        let r = self.routes_under(overrides)?;
        let answer = result(&r.scenario, r.routes, r.changed_routes, return_routes);
        Ok((answer, r.work))
    }

    /// [`Baseline::what_if`] before accounting: every payment's route.
    pub fn routes_under(&mut self, overrides: &[PolicyOverride]) -> Result<Routed, FeesError> {
        let base = &self.scenario;
        let changes: Vec<(EdgeIdx, FeePolicy)> = base
            .override_changes(overrides)?
            .into_iter()
            .filter(|&(e, f)| base.fee_of(e) != f)
            .collect();
        let n = self.routes.len() as u64;
        let mut work = SimWork {
            reused_routes: n,
            ..SimWork::default()
        };
        if changes.is_empty() {
            return Ok(Routed {
                scenario: base.clone(),
                routes: self.routes.clone(),
                changed_routes: 0,
                work,
            });
        }
        let what_if = base.with_fees(&changes);
        work.indexes_built = 1;
        let stays = self.stays(&changes);
        let out: Vec<(Result<Route, RouteError>, bool)> = self
            .routes
            .par_iter()
            .zip(&self.session.demand().payments)
            .enumerate()
            .map(|(i, (r, p))| {
                if stays.as_ref().is_some_and(|s| s[i]) {
                    return (r.clone(), false);
                }
                let again = what_if.find_route(&request(p));
                let changed = route_key(&again) != route_key(r);
                (again, changed)
            })
            .collect();
        let rerouted = stays
            .as_ref()
            .map_or(n, |s| s.iter().filter(|&&k| !k).count() as u64);
        (work.what_if_routes, work.reused_routes) = (rerouted, n - rerouted);
        let changed = out.iter().filter(|x| x.1).count() as u64;
        let routes = out.into_iter().map(|x| x.0).collect();
        Ok(Routed {
            scenario: what_if,
            routes,
            changed_routes: changed,
            work,
        })
    }

    /// Per payment, whether its baseline route stays a cheapest route under `changes`
    /// (see the module documentation); `None`: route every payment again.
    fn stays(&mut self, changes: &[(EdgeIdx, FeePolicy)]) -> Option<Vec<bool>> {
        let (work, may) = self.session.moved_by(&self.scenario, changes, &self.routes);
        self.curve_work = self.curve_work.add(work);
        Some(may?.into_iter().map(|m| !m).collect())
    }
}

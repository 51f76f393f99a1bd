//! The fast curves, per payment: the costs around N's channels, what N earns when the
//! payment does not cross a channel, the suffix labels, exact suffixes through one channel,
//! and the certificate that the fee N earns is the same on every cheapest route.

use switchyard_graph::route::{Route, RouteError, RouteRequest};
use switchyard_graph::{EdgeIdx, NodeIdx};

use super::channel::within;
use super::fast::{Answer, Cell, Ctx, Memo, Out, Quiet, INF};
use super::oracle::{avoiding, Undecided};
use super::{out_hop, OutHop, Reason, Work};
use crate::demand::Payment;
use crate::scenario::request;
use crate::suffix::{bucket_of, Label, Suffix, NO_SLOT};

/// The costs the tie rule compares a payment's through routes with (see `fast`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Thresholds {
    /// The baseline route's cost (`INF`: no route within the ceiling).
    pub cost0: u64,
    /// Where the baseline route crosses an outgoing direction of N.
    pub h0: Option<OutHop>,
    /// The best route avoiding `h0`'s direction, and where it crosses another.
    pub cost_a: u64,
    pub h1: Option<OutHop>,
    /// The best route avoiding both (`None`: the router gave up).
    pub cost_b: Option<u64>,
    pub max_fee: u64,
}

/// Which baseline fee a payment's default rests on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Rests {
    Nothing,
    /// `h0`'s, on the baseline route.
    First,
    /// `h1`'s, on the best route avoiding `h0`.
    Second,
}

impl Thresholds {
    /// The best cost avoiding direction `e`.
    pub(super) fn avoid(&self, e: EdgeIdx) -> u64 {
        match self.h0 {
            Some(h) if h.edge == e => self.cost_a,
            _ => self.cost0,
        }
    }

    /// Whether every cheapest baseline route crosses `h0`.
    pub(super) fn strict0(&self) -> bool {
        self.h0.is_some() && self.cost_a > self.cost0
    }

    /// What N earns when the payment does not cross `e` (every cheapest route avoiding `e`
    /// crossing one channel of N); `None` when a route the answer needs gave up.
    pub(super) fn default(&self, e: EdgeIdx) -> Option<(u64, Rests)> {
        let Some(h0) = self.h0 else {
            return Some((0, Rests::Nothing));
        };
        if e == h0.edge {
            let Some(h1) = self.h1 else {
                return Some((0, Rests::Nothing));
            };
            let cb = self.cost_b?;
            return Some(if cb > self.cost_a {
                (h1.fee, Rests::Second)
            } else {
                (0, Rests::Nothing)
            });
        }
        let beyond = if self.h1.is_some_and(|h1| h1.edge == e) {
            self.cost_b? > self.cost0
        } else {
            self.strict0()
        };
        Some(if beyond {
            (h0.fee, Rests::First)
        } else {
            (0, Rests::Nothing)
        })
    }

    /// The largest cost of a route through `e` that matters (`None`: none): below the cut it
    /// counts, and equal to the best route around `e` it is a tie, which matters when the
    /// default is not 0.
    pub(super) fn lim(&self, e: EdgeIdx) -> Option<u64> {
        let avoid = self.avoid(e);
        let cut = Self::cut(avoid, self.max_fee);
        let tie = avoid != INF && self.default(e).is_none_or(|(v, _)| v != 0);
        if tie {
            Some(cut)
        } else {
            cut.checked_sub(1)
        }
    }
}

/// A route's cost for the thresholds: `INF` when none was found, `Err` when the router
/// gave up.
fn route_cost(r: &Result<Route, RouteError>) -> Result<u64, Undecided> {
    match r {
        Ok(r) => Ok(r.total_fee_msat),
        Err(RouteError::SearchBudget { .. }) => Err(Undecided),
        Err(_) => Ok(INF),
    }
}

/// One payment's evaluation context.
pub(super) struct Pay<'p> {
    pub p: &'p Payment,
    pub s: NodeIdx,
    pub d: NodeIdx,
    /// Relaxed fee distances into N and out of N at the payment's bucket.
    pub into: &'p [u64],
    pub out_of: &'p [u64],
    /// Least fee of any prefix s -> N (relaxed).
    pub lb_pre: u64,
    pub th: Thresholds,
    /// A lower bound on the prefix fee at amounts at N of at least `q_from`.
    pub q_lb: u64,
    pub q_from: u64,
}

impl Pay<'_> {
    /// The lower bound on the prefix fee at `amount` at N.
    pub(super) fn prefix_floor(&self, amount: u64) -> u64 {
        if amount >= self.q_from {
            self.q_lb
        } else {
            self.lb_pre
        }
    }
}

impl Ctx<'_> {
    /// One payment's contribution (see the `fast` module documentation).
    pub(super) fn examine(
        &self,
        p: &Payment,
        memo: &mut Memo,
        base: Option<&Result<Route, RouteError>>,
    ) -> Out {
        let mut out = Out {
            work: Work {
                payments: 1,
                ..Work::default()
            },
            ..Out::default()
        };
        let g = &*self.sc.snapshot;
        let n = self.sc.node;
        let (Some(s), Some(d)) = (g.node_idx(&p.source), g.node_idx(&p.destination)) else {
            out.work.payments_skipped = 1;
            return out;
        };
        if s == n || d == n || p.amount_msat == 0 {
            out.work.payments_skipped = 1;
            return out;
        }
        let b = bucket_of(p.amount_msat);
        let (into, out_of) = self.relaxed(b);
        let lb_pre = *memo
            .lb_pre
            .get_or_insert_with(|| self.adj.prefix_bound(s, n, into));
        let lb_n = lb_pre
            .saturating_add(self.min_fee(b))
            .saturating_add(out_of[d as usize]);
        let cut = |c: u64| Thresholds::cut(c, p.max_fee_msat);
        let quiet = memo
            .quiet
            .is_some_and(|q| q.floor.is_some() || lb_n >= cut(q.cost0));
        if quiet {
            out.work.payments_skipped = 1;
            out.work.payments_reused = 1;
            return out;
        }
        memo.quiet = None;
        let owned;
        let r0 = match base {
            Some(r) => r,
            None => {
                out.work.baseline_routes = 1;
                owned = self.sc.find_route(&request(p));
                &owned
            }
        };
        let Ok(th) = self.thresholds(p, r0, memo, &mut out.work) else {
            out.excluded = true;
            out.work.payments_undecided = 1;
            return out;
        };
        if th.h0.is_none() && lb_n >= cut(th.cost0) {
            memo.quiet = Some(Quiet {
                cost0: th.cost0,
                floor: None,
            });
            out.work.payments_skipped = 1;
            return out;
        }
        out.base = th.h0.filter(|_| th.strict0());
        self.defaults(&th, &mut out);
        let mut pay = Pay {
            p,
            s,
            d,
            into,
            out_of,
            lb_pre,
            th,
            q_lb: lb_pre,
            q_from: 0,
        };
        if let Some(worst) = self.worst(&pay.th) {
            // The prefix at the least amount at N bounds every through route from below.
            let a = p.amount_msat;
            let (q, from) = self.floor_at(&pay, a, worst, memo, &mut out.work);
            if from == a && q > pay.lb_pre {
                pay.lb_pre = q;
            }
        }
        let suffix = self.suffix_for(&pay, memo, &mut out.work);
        if suffix.is_none() && th.h0.is_none() {
            // No route through N can cost less than the baseline's, whatever N charges.
            memo.quiet = Some(Quiet {
                cost0: th.cost0,
                floor: Some(pay.lb_pre),
            });
            out.work.payments_skipped = 1;
            return out;
        }
        if let Some(sfx) = &suffix {
            (pay.q_lb, pay.q_from) = self.floor_prefix(&pay, sfx, memo, &mut out.work);
            for k in 0..self.edges.len() {
                self.channel(&pay, sfx, k, memo, &mut out);
            }
        }
        self.check_unique(&pay, suffix.as_ref(), memo, &mut out);
        if suffix.is_some() {
            memo.suffix = suffix;
        }
        out
    }

    /// The baseline route's cost and crossing, and the routes around it (see `fast`);
    /// `Err` when the payment is left out.
    fn thresholds(
        &self,
        p: &Payment,
        r0: &Result<Route, RouteError>,
        memo: &mut Memo,
        work: &mut Work,
    ) -> Result<Thresholds, Undecided> {
        let (g, me) = (&*self.sc.snapshot, &self.sc.node_id);
        let cost = route_cost;
        let th = Thresholds {
            cost0: cost(r0)?,
            h0: r0.as_ref().ok().and_then(|r| out_hop(g, me, r)),
            cost_a: INF,
            h1: None,
            cost_b: Some(INF),
            max_fee: p.max_fee_msat,
        };
        let Some(h0) = th.h0 else {
            return Ok(th);
        };
        // The routes around h0 depend only on the scenario and h0's direction: on the
        // scenario of an earlier computation they are known.
        if let Some((epoch, known)) = memo.around {
            if epoch == self.epoch && known.map(|k| k.h0.map(|h| h.edge)) == Ok(Some(h0.edge)) {
                work.reused_answers += 1;
                return known.map(|k| Thresholds {
                    cost_a: k.cost_a,
                    h1: k.h1,
                    cost_b: k.cost_b,
                    ..th
                });
            }
        }
        let known = self.around(p, th, h0, work);
        memo.around = Some((self.epoch, known));
        known
    }

    /// `th` completed with the routes around `h0` (and around the next channel of N).
    fn around(
        &self,
        p: &Payment,
        mut th: Thresholds,
        h0: OutHop,
        work: &mut Work,
    ) -> Result<Thresholds, Undecided> {
        let (g, me) = (&*self.sc.snapshot, &self.sc.node_id);
        let cost = route_cost;
        work.avoid_routes += 1;
        let ra = avoiding(self.sc, p, &[h0.edge]);
        th.cost_a = cost(&ra)?;
        th.h1 = ra.ok().and_then(|r| out_hop(g, me, &r));
        if let Some(h1) = th.h1 {
            work.avoid_routes += 1;
            th.cost_b = cost(&avoiding(self.sc, p, &[h0.edge, h1.edge])).ok();
        }
        Ok(th)
    }

    /// The payment's defaults per channel (see [`Out`]).
    fn defaults(&self, th: &Thresholds, out: &mut Out) {
        out.def_other = if th.strict0() {
            th.h0.map_or(0, |h| h.fee)
        } else {
            0
        };
        for h in [th.h0, th.h1].into_iter().flatten() {
            if let Some(k) = self.k_of(h.edge) {
                let v = th.default(h.edge).map_or(0, |x| x.0);
                out.def_k.push((k as u32, v));
            }
        }
    }

    /// The largest cost of a through route that matters for any channel (its count, a
    /// tie, or a certificate); `None`: none matters.
    pub(super) fn worst(&self, th: &Thresholds) -> Option<u64> {
        let mut worst = self.edges.iter().filter_map(|&e| th.lim(e)).max();
        let rests = |r: Rests| {
            self.edges
                .iter()
                .any(|&e| th.default(e).is_some_and(|(v, x)| v != 0 && x == r))
        };
        if rests(Rests::First) {
            worst = worst.max(Some(th.cost0));
        }
        if rests(Rests::Second) {
            worst = worst.max(Some(th.cost_a));
        }
        worst
    }

    /// The suffix labels for this payment, searched or from an earlier round; `None` when
    /// no route through N can matter.
    fn suffix_for(&self, pay: &Pay, memo: &mut Memo, work: &mut Work) -> Option<Suffix> {
        let a = pay.p.amount_msat;
        let bound = a
            .saturating_add(self.worst(&pay.th)?)
            .checked_sub(pay.lb_pre)
            .filter(|&b| b >= a)?; // every label is at least `a`
        if let Some(s) = memo.suffix.take().filter(|s| s.bound >= bound) {
            work.reused_answers += 1;
            return Some(s);
        }
        let sfx = self.adj.suffix(
            pay.d,
            a,
            [self.sc.node, pay.s],
            bound,
            pay.out_of,
            self.slot_of,
            self.targets,
        );
        work.suffix_searches += 1;
        work.settled_nodes += sfx.settled;
        Some(sfx)
    }

    /// The least amount at peer over routes through `e` that can matter (cost at most
    /// `lim`), with its suffix: the label when it is certified and `e` can carry it, else
    /// an exact suffix route; `None` when no route through `e` can cost at most `lim`.
    pub(super) fn exact_label(
        &self,
        pay: &Pay,
        sfx: &Suffix,
        e: EdgeIdx,
        lim: u64,
        memo: &mut Memo,
        work: &mut Work,
    ) -> Answer<Label> {
        let g = &*self.sc.snapshot;
        let Some(pol) = g.edge_policy(e).filter(|p| !p.disabled) else {
            return Ok(None);
        };
        let cap = g
            .channel(e >> 1)
            .capacity_sat
            .saturating_mul(1000)
            .min(pol.htlc_max_msat);
        let slot = self.slot_of[g.edge_to(e) as usize];
        if slot == NO_SLOT {
            return Ok(None);
        }
        let a = pay.p.amount_msat;
        let lower = match sfx.label(slot) {
            Some(l) if l.exact && l.amount >= pol.htlc_min_msat => {
                return Ok((l.amount <= cap).then(|| l.clone()));
            }
            Some(l) if l.exact => pol.htlc_min_msat,
            Some(_) => a.max(pol.htlc_min_msat),
            None if sfx.unreached_is_certain() => return Ok(None),
            None => sfx
                .min_reject
                .min(sfx.bound.saturating_add(1))
                .max(a)
                .max(pol.htlc_min_msat),
        };
        // Every route through e costs at least (amount at peer - a) + the least prefix fee.
        if lower > cap || (lower - a).saturating_add(pay.lb_pre) > lim {
            return Ok(None);
        }
        self.forced(pay, e, lim - pay.lb_pre, memo, work)
    }

    /// The router's best suffix through `e`: N -> d with N's other outgoing directions and
    /// the payer excluded, its fee (the amount at peer less `a`) at most `limit`.
    fn forced(
        &self,
        pay: &Pay,
        e: EdgeIdx,
        limit: u64,
        memo: &mut Memo,
        work: &mut Work,
    ) -> Answer<Label> {
        let p = pay.p;
        let a = p.amount_msat;
        if let Some((_, lim0, ans)) = memo.forced.iter().find(|x| x.0 == e) {
            let hit = match ans {
                Ok(Some(l)) => Some(Ok((l.amount - a <= limit).then(|| l.clone()))),
                Ok(None) if *lim0 >= limit => Some(Ok(None)),
                Err(_) if *lim0 == limit => Some(Err(Undecided)),
                _ => None,
            };
            if let Some(hit) = hit {
                work.reused_answers += 1;
                return hit;
            }
        }
        let g = &*self.sc.snapshot;
        let split = self.sc.split();
        let cltv = g.edge_policy(e).map_or(0, |p| p.cltv_delta);
        let final_cltv = u32::from(p.final_cltv_delta);
        let max_cltv = p.max_cltv.checked_sub(u32::from(cltv));
        let ans = match max_cltv.filter(|&m| m >= final_cltv && p.max_hops >= 2) {
            None => Ok(None),
            Some(max_cltv) => {
                work.suffix_routes += 1;
                let req = RouteRequest {
                    max_fee_msat: Some(limit),
                    max_hops: Some(p.max_hops - 1),
                    max_cltv: Some(max_cltv),
                    final_cltv_delta: Some(p.final_cltv_delta),
                    exclude_nodes: vec![p.source],
                    exclude_channels: split
                        .dirs()
                        .iter()
                        .filter(|x| x.edge != e)
                        .map(|x| x.fake)
                        .collect(),
                    ..RouteRequest::new(self.sc.node_id, p.destination, a)
                };
                within(self.sc, req).map(|r| {
                    r.map(|r| Label {
                        amount: r.total_amount_msat,
                        exact: true,
                        path: r
                            .hops
                            .iter()
                            .skip(1)
                            .filter_map(|h| g.node_idx(&h.to))
                            .collect(),
                        cltv: r.total_cltv - final_cltv,
                    })
                })
            }
        };
        memo.forced.retain(|x| x.0 != e);
        memo.forced.push((e, limit, ans.clone()));
        ans
    }

    /// Whether N's fee on `h` (crossed by a route costing `cost`) is the same on every
    /// cheapest route through `h`'s direction (see `fast`).
    fn certified(
        &self,
        pay: &Pay,
        sfx: &Suffix,
        h: OutHop,
        cost: u64,
        memo: &mut Memo,
        work: &mut Work,
    ) -> bool {
        let a = pay.p.amount_msat;
        let Ok(Some(lab)) = self.exact_label(pay, sfx, h.edge, cost, memo, work) else {
            return false;
        };
        let a_n = h.at_node();
        let Some(qlim) = a_n.checked_sub(a).and_then(|x| cost.checked_sub(x)) else {
            return false;
        };
        if lab.amount != h.carried {
            return false;
        }
        let cltv = self
            .sc
            .snapshot
            .edge_policy(h.edge)
            .map_or(0, |p| p.cltv_delta);
        match self.prefix(pay, a_n, cltv, qlim, memo, work) {
            Ok(Some(pf)) if pf.fee == qlim => self.monotone(pay, a_n, a.saturating_add(cost), memo),
            _ => false,
        }
    }

    /// Hands to the oracle every undecided point of the channels whose default rests on a
    /// fee that cannot be shown unique.
    fn check_unique(&self, pay: &Pay, sfx: Option<&Suffix>, memo: &mut Memo, out: &mut Out) {
        let th = pay.th;
        let mut failed = [false; 2];
        for (i, r) in [Rests::First, Rests::Second].into_iter().enumerate() {
            let (h, cost) = if i == 0 {
                (th.h0, th.cost0)
            } else {
                (th.h1, th.cost_a)
            };
            let needed = self
                .edges
                .iter()
                .any(|&e| th.default(e).is_some_and(|(v, x)| v != 0 && x == r));
            if let (true, Some(h)) = (needed, h) {
                failed[i] =
                    !sfx.is_some_and(|s| self.certified(pay, s, h, cost, memo, &mut out.work));
            }
        }
        if failed == [false, false] {
            return;
        }
        for (k, &e) in self.edges.iter().enumerate() {
            let rests = th.default(e).filter(|&(v, _)| v != 0).map(|x| x.1);
            let i = match rests {
                Some(Rests::First) => 0,
                Some(Rests::Second) => 1,
                _ => continue,
            };
            if failed[i] {
                self.fallback_rest(k, Reason::NotUnique, out);
            }
        }
    }

    /// Every candidate of channel `k` (but its current fee) not decided yet goes to the
    /// oracle for `why`.
    pub(super) fn fallback_rest(&self, k: usize, why: Reason, out: &mut Out) {
        let cur = self.sc.fee_of(self.edges[k]);
        for (f, &fee) in self.grid.iter().enumerate() {
            let done = out
                .cells
                .iter()
                .any(|c| c.0 as usize == k && c.1 as usize == f);
            if fee != cur && !done {
                out.push(k, f, Cell::Fallback(why));
            }
        }
    }
}

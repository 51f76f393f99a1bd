//! The fast curves, per (payment, channel): the candidates of one channel in increasing
//! amount at N, decided by bounds where they can be and by prefix routes where they cannot.

use switchyard_graph::route::{Route, RouteError, RouteRequest};
use switchyard_graph::EdgeIdx;

use super::fast::{Answer, Cell, Ctx, Memo, Out, Prefix, PrefixEntry, INF};
use super::oracle::Undecided;
use super::payment::{Pay, Thresholds};
use super::{Reason, Work};
use crate::scenario::Scenario;
use crate::suffix::{Label, Suffix};

/// The router's best route for `req` on `sc`'s split graph if it costs at most
/// `req.max_fee_msat`; `Err` when the router gave up. A search that gives up under a fee
/// limit is asked again without it (a limit just below the best route's cost can send the
/// search into its label budget where the unlimited search answers at once), then without
/// the hop and cltv limits too (a lower bound: nothing within the fee limit there is
/// nothing within it here).
pub(super) fn within(sc: &Scenario, req: RouteRequest) -> Answer<Route> {
    let limit = req.max_fee_msat.unwrap_or(u64::MAX);
    let cheap_enough = |r: Route| (r.total_fee_msat <= limit).then_some(r);
    match sc.find_split(&req) {
        Ok(r) => return Ok(Some(r)),
        Err(RouteError::SearchBudget { .. }) => {}
        Err(_) => return Ok(None),
    }
    let unlimited = RouteRequest {
        max_fee_msat: None,
        ..req
    };
    match sc.find_split(&unlimited) {
        Ok(r) => return Ok(cheap_enough(r)),
        Err(RouteError::SearchBudget { .. }) => {}
        Err(_) => return Ok(None),
    }
    let loose = RouteRequest {
        max_hops: None,
        max_cltv: Some(u32::MAX),
        ..unlimited
    };
    match sc.find_split(&loose) {
        Ok(r) if r.total_fee_msat > limit => Ok(None),
        Ok(_) | Err(RouteError::SearchBudget { .. }) => Err(Undecided),
        Err(_) => Ok(None),
    }
}

/// What one candidate of one channel comes to for one payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// The payment counts for the channel.
    Through,
    /// Its best route through the channel ties with the best around it.
    Tie,
    /// It does not cross the channel (the default holds); `last`: nor at any larger amount.
    Above {
        last: bool,
    },
    Fallback(Reason),
}

impl Ctx<'_> {
    /// Decides channel `k`'s candidates for one payment into `out` (see `fast`).
    pub(super) fn channel(
        &self,
        pay: &Pay,
        sfx: &Suffix,
        k: usize,
        memo: &mut Memo,
        out: &mut Out,
    ) {
        let e = self.edges[k];
        let Some(lim) = pay.th.lim(e) else {
            return;
        };
        let Some((default, _)) = pay.th.default(e) else {
            self.fallback_rest(k, Reason::SearchBudget, out);
            return;
        };
        let lab = match self.exact_label(pay, sfx, e, lim, memo, &mut out.work) {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(Undecided) => {
                self.fallback_rest(k, Reason::SearchBudget, out);
                return;
            }
        };
        let a = pay.p.amount_msat;
        let cur = self.sc.fee_of(e);
        let mut order: Vec<(u64, usize)> = self
            .grid
            .iter()
            .enumerate()
            .filter(|(_, f)| **f != cur)
            .map(|(f, fee)| (lab.amount.saturating_add(fee.fee_msat(lab.amount)), f))
            .collect();
        order.sort_unstable();
        // Candidates with the same amount at N share a verdict; after a tie or a final
        // "above", only those still follow.
        let mut prev: Option<(u64, Verdict)> = None;
        for (a_n, f) in order {
            let verdict = match prev {
                Some((x, v)) if x == a_n => v,
                Some((_, Verdict::Tie | Verdict::Above { last: true })) => break,
                _ => {
                    let lb = (a_n - a).saturating_add(pay.prefix_floor(a_n));
                    if lb > lim {
                        break; // this and every larger amount at N cost too much
                    }
                    self.decide(pay, e, &lab, a_n, lim, memo, &mut out.work)
                }
            };
            prev = Some((a_n, verdict));
            match verdict {
                Verdict::Through => {
                    let fee = self.grid[f].fee_msat(lab.amount);
                    out.push(k, f, Cell::Through(fee));
                }
                Verdict::Tie if default != 0 => out.push(k, f, Cell::Tie),
                Verdict::Tie | Verdict::Above { .. } => {}
                Verdict::Fallback(r) => out.push(k, f, Cell::Fallback(r)),
            }
        }
    }

    /// One candidate with `a_n` at N, through `e` with suffix `lab` (see `fast`).
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        pay: &Pay,
        e: EdgeIdx,
        lab: &Label,
        a_n: u64,
        lim: u64,
        memo: &mut Memo,
        work: &mut Work,
    ) -> Verdict {
        let p = pay.p;
        let a = p.amount_msat;
        let spent = a_n - a;
        let qlim = lim - spent; // the caller checked spent <= lim
        let cltv = self.sc.snapshot.edge_policy(e).map_or(0, |p| p.cltv_delta);
        let pf = match self.prefix(pay, a_n, cltv, qlim, memo, work) {
            Err(Undecided) => return Verdict::Fallback(Reason::SearchBudget),
            Ok(None) => {
                // No route with `a_n` at N costs at most `lim`; a larger amount neither,
                // unless an htlc_minimum opens a cheaper prefix.
                return if self.monotone(pay, a_n, a.saturating_add(lim), memo) {
                    Verdict::Above { last: true }
                } else {
                    Verdict::Fallback(Reason::HtlcMin)
                };
            }
            Ok(Some(pf)) => pf,
        };
        let t = spent + pf.fee;
        if !self.monotone(pay, a_n, a.saturating_add(t), memo) {
            return Verdict::Fallback(Reason::HtlcMin);
        }
        if let Some(why) = self.unjoinable(pay, e, lab, &pf) {
            // `t` is only a lower bound; the prefix that fits the suffix decides when it
            // costs as much.
            match self.restricted(pay, e, lab, a_n, qlim, work) {
                Ok(Some(fee)) if fee == pf.fee => {}
                Err(Undecided) => return Verdict::Fallback(Reason::SearchBudget),
                _ => return Verdict::Fallback(why),
            }
        }
        let avoid = pay.th.avoid(e);
        if t < Thresholds::cut(avoid, p.max_fee_msat) {
            Verdict::Through
        } else if t == avoid {
            Verdict::Tie
        } else {
            Verdict::Above {
                last: self.monotone(pay, a_n, a.saturating_add(lim), memo),
            }
        }
    }

    /// Why prefix `pf` + `e` + suffix `lab` is not a valid route, if it is not.
    fn unjoinable(&self, pay: &Pay, e: EdgeIdx, lab: &Label, pf: &Prefix) -> Option<Reason> {
        let peer = self.sc.snapshot.edge_to(e);
        if pf.nodes.iter().any(|x| *x == peer || lab.path.contains(x)) {
            return Some(Reason::NotSimple);
        }
        let p = pay.p;
        let hops = pf.hops + 1 + lab.path.len();
        let cltv = u64::from(pf.cltv) + u64::from(lab.cltv);
        if hops > usize::from(p.max_hops) || cltv > u64::from(p.max_cltv) {
            return Some(Reason::Limits);
        }
        None
    }

    /// The best prefix that joins suffix `lab` through `e` into a valid route: avoiding the
    /// suffix's nodes, within the hops and cltv the suffix leaves; its fee.
    fn restricted(
        &self,
        pay: &Pay,
        e: EdgeIdx,
        lab: &Label,
        a_n: u64,
        qlim: u64,
        work: &mut Work,
    ) -> Answer<u64> {
        let g = &*self.sc.snapshot;
        let p = pay.p;
        let cltv = g.edge_policy(e).map_or(0, |p| p.cltv_delta);
        let final_cltv = u32::from(p.final_cltv_delta) + u32::from(cltv) + lab.cltv;
        let hops = usize::from(p.max_hops).checked_sub(1 + lab.path.len());
        let (Some(hops), Ok(final_cltv)) = (hops.filter(|&h| h >= 1), u16::try_from(final_cltv))
        else {
            return Ok(None);
        };
        if u32::from(final_cltv) > p.max_cltv {
            return Ok(None);
        }
        let peer = g.edge_to(e);
        // The suffix's nodes: neither the payer nor N, so the router accepts them.
        let mut exclude: Vec<_> = lab.path.iter().map(|&x| g.node(x).id).collect();
        exclude.push(g.node(peer).id);
        work.prefix_routes += 1;
        let req = RouteRequest {
            max_fee_msat: Some(qlim),
            max_hops: Some(hops as u8),
            max_cltv: Some(p.max_cltv),
            final_cltv_delta: Some(final_cltv),
            exclude_nodes: exclude,
            ..RouteRequest::new(p.source, self.sc.node_id, a_n)
        };
        within(self.sc, req).map(|r| r.map(|r| r.total_fee_msat))
    }

    /// Whether no route with more than `lo` at N, its payer sending at most `hi`, can have
    /// a cheaper prefix than `lo`'s (no htlc_minimum in reach in between; see `fast`).
    pub(super) fn monotone(&self, pay: &Pay, lo: u64, hi: u64, memo: &mut Memo) -> bool {
        let (s, n) = (pay.s, self.sc.node);
        if !self
            .adj
            .opens_within(lo, hi, s, n, pay.into, pay.p.amount_msat)
        {
            return true;
        }
        // Some direction might open: unless no path to N carries more than `lo` at all.
        let widest = *memo.widest.get_or_insert_with(|| self.adj.widest(s, n));
        widest <= lo
    }

    /// The router's prefix s -> N delivering `amount`, with the loosest limits a route
    /// through a direction of cltv delta `cltv` allows (one hop less, final delta plus
    /// `cltv`), its fee at most `limit`; cached per payment across rounds.
    pub(super) fn prefix(
        &self,
        pay: &Pay,
        amount: u64,
        cltv: u16,
        limit: u64,
        memo: &mut Memo,
        work: &mut Work,
    ) -> Answer<Prefix> {
        let entry = memo
            .prefix
            .iter()
            .find(|x| x.amount == amount && x.cltv == cltv);
        if let Some(x) = entry {
            let hit = match &x.answer {
                Ok(Some(pf)) => Some(Ok((pf.fee <= limit).then(|| pf.clone()))),
                Ok(None) if x.limit >= limit => Some(Ok(None)),
                Err(_) if x.limit == limit => Some(Err(Undecided)),
                _ => None,
            };
            if let Some(hit) = hit {
                work.reused_answers += 1;
                return hit;
            }
        }
        let p = pay.p;
        let g = &*self.sc.snapshot;
        let final_cltv = u32::from(p.final_cltv_delta) + u32::from(cltv);
        let answer = if p.max_hops < 2 || final_cltv > p.max_cltv || final_cltv > 0xFFFF {
            Ok(None)
        } else {
            work.prefix_routes += 1;
            let req = RouteRequest {
                max_fee_msat: Some(limit),
                max_hops: Some(p.max_hops - 1),
                max_cltv: Some(p.max_cltv),
                final_cltv_delta: Some(final_cltv as u16),
                ..RouteRequest::new(p.source, self.sc.node_id, amount)
            };
            within(self.sc, req).map(|r| {
                r.map(|r| Prefix {
                    fee: r.total_fee_msat,
                    nodes: r.hops.iter().filter_map(|h| g.node_idx(&h.from)).collect(),
                    hops: r.hops.len(),
                    cltv: r.total_cltv,
                })
            })
        };
        memo.prefix
            .retain(|x| !(x.amount == amount && x.cltv == cltv));
        memo.prefix.push(PrefixEntry {
            amount,
            cltv,
            limit,
            answer: answer.clone(),
        });
        answer
    }

    /// A lower bound on the prefix fee from one prefix route at the least amount at N in
    /// play (`(bound, from amount)`; `(lb_pre, 0)` when none helps): prefix fees do not
    /// decrease with the amount when no htlc_minimum is in reach.
    pub(super) fn floor_prefix(
        &self,
        pay: &Pay,
        sfx: &Suffix,
        memo: &mut Memo,
        work: &mut Work,
    ) -> (u64, u64) {
        let g = &*self.sc.snapshot;
        let a = pay.p.amount_msat;
        let mut least = INF;
        let Some(worst) = self.worst(&pay.th) else {
            return (pay.lb_pre, 0);
        };
        for &e in self.edges {
            let (Some(lim), Some(pol)) = (pay.th.lim(e), g.edge_policy(e)) else {
                continue;
            };
            let slot = self.slot_of[g.edge_to(e) as usize];
            let Some(l) = sfx.label(slot).filter(|l| l.exact) else {
                continue;
            };
            if pol.disabled || l.amount < pol.htlc_min_msat || l.amount > pol.htlc_max_msat {
                continue;
            }
            let cur = self.sc.fee_of(e);
            let Some(a_n) = self
                .grid
                .iter()
                .filter(|f| **f != cur)
                .map(|f| l.amount.saturating_add(f.fee_msat(l.amount)))
                .min()
            else {
                continue;
            };
            if (a_n - a).saturating_add(pay.lb_pre) <= lim {
                least = least.min(a_n);
            }
        }
        if least == INF {
            return (pay.lb_pre, 0);
        }
        self.floor_at(pay, least, worst, memo, work)
    }

    /// `(bound, amount)`: the prefix fee at `amount` at N bounds every larger amount's
    /// from below when no htlc_minimum is in reach up to cost `worst`; `(lb_pre, 0)` when
    /// it cannot be used.
    pub(super) fn floor_at(
        &self,
        pay: &Pay,
        amount: u64,
        worst: u64,
        memo: &mut Memo,
        work: &mut Work,
    ) -> (u64, u64) {
        let a = pay.p.amount_msat;
        let Some(qlim) = amount.checked_sub(a).and_then(|x| worst.checked_sub(x)) else {
            return (pay.lb_pre, 0);
        };
        if !self.monotone(pay, amount, a.saturating_add(worst), memo) {
            return (pay.lb_pre, 0);
        }
        match self.prefix(pay, amount, 0, qlim, memo, work) {
            Ok(Some(pf)) => (pf.fee.max(pay.lb_pre), amount),
            Ok(None) => (qlim.saturating_add(1), amount),
            Err(Undecided) => (pay.lb_pre, 0),
        }
    }
}

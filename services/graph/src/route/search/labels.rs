//! Steps 2 and 3 of the fee model (see the [search documentation](super)): label-setting
//! searches on (amount, cltv, hops) within the cltv and hop limits, under a label budget.

use std::cmp::Reverse;

use super::{Query, Scratch, SlotPath, NONE};
use crate::route::index::{RoutingIndex, INF};

/// Labels a label-setting search (steps 2 and 3) may create per node and per enabled edge of
/// the index. Realistic cltv-limited queries need a few labels per node they reach; a
/// budget in proportion to the graph keeps one search's memory (48 bytes a label with its
/// heap entry) to a fraction of the index's own, on any graph.
pub const LABELS_PER_GRAPH_ELEMENT: usize = 4;
/// Floor of the label budget, so that small graphs still get an exhaustive search.
pub const MIN_LABEL_BUDGET: usize = 50_000;
/// Ceiling of the label budget (about 100 MB of labels), whatever the graph's size.
pub const MAX_LABEL_BUDGET: usize = 2_000_000;
/// Work units (in-edges scanned, dominance comparisons) a label search may spend per label of
/// its budget: bounds the time of searches that scan much and create little.
pub const WORK_PER_LABEL: usize = 32;

/// One label of a label search: a partial path from the destination back to `node`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Label {
    amt: u64,
    cltv: u32,
    hops: u8,
    node: u32,
    /// The label this one extends (towards the destination), `NONE` for the first.
    parent: u32,
    /// The slot from `node` to the parent's node, `NONE` for the first.
    slot: u32,
    /// Step 2: the next settled label at the same node, `NONE` at the end.
    next_at_node: u32,
}

/// Outcome of step 2 or 3.
pub(super) enum LabelOutcome {
    Certified(SlotPath),
    Uncertified(SlotPath),
    Nothing {
        min_rejected: bool,
    },
    /// The label or work budget ran out first.
    Budget,
}

/// One label search's budget and what it gathers.
struct LabelSearch {
    /// Step 3 (no dominance) rather than step 2.
    exhaustive: bool,
    budget: usize,
    work_left: usize,
    /// Least amount over edges rejected by their htlc_minimum (see step 1).
    reject_bound: u64,
    min_rejected: bool,
}

impl RoutingIndex {
    /// Steps 2 (`exhaustive == false`) and 3 of the module documentation.
    pub(super) fn fee_labels(&self, q: &Query, sc: &mut Scratch, exhaustive: bool) -> LabelOutcome {
        let gen = sc.gen;
        let (src, dst, amount) = (q.src, q.dst, q.amount);
        let budget = self.label_budget();
        let mut ls = LabelSearch {
            exhaustive,
            budget,
            work_left: budget.saturating_mul(WORK_PER_LABEL),
            reject_bound: INF,
            min_rejected: false,
        };
        let h0 = self.bound(dst, amount, src, sc);
        if h0 == INF
            || q.over_fee_limit(amount, h0)
            || sc.lb_cltv[dst as usize].saturating_add(q.final_cltv) > q.max_cltv
        {
            return LabelOutcome::Nothing {
                min_rejected: false,
            };
        }
        sc.labels.push(Label {
            amt: amount,
            cltv: q.final_cltv,
            hops: 0,
            node: dst,
            parent: NONE,
            slot: NONE,
            next_at_node: NONE,
        });
        sc.heap.push(Reverse((amount.saturating_add(h0), 0)));
        while let Some(Reverse((_, li))) = sc.heap.pop() {
            let l = sc.labels[li as usize];
            let v = l.node;
            if !exhaustive && self.dominated(&l, sc, &mut ls.work_left) {
                continue;
            }
            if v == src {
                let path = self.label_path(li, sc);
                return if l.amt <= ls.reject_bound {
                    LabelOutcome::Certified(path)
                } else {
                    LabelOutcome::Uncertified(path)
                };
            }
            if !exhaustive {
                let vi = v as usize;
                let head = if sc.head_gen[vi] == gen {
                    sc.head[vi]
                } else {
                    NONE
                };
                sc.labels[li as usize].next_at_node = head;
                sc.head[vi] = li;
                sc.head_gen[vi] = gen;
            }
            if l.hops >= q.max_hops {
                continue;
            }
            if !self.expand_label(q, sc, &mut ls, li) {
                return LabelOutcome::Budget;
            }
        }
        LabelOutcome::Nothing {
            min_rejected: ls.min_rejected,
        }
    }

    /// Queues the labels label `li` gives over its node's in-edges; false when the budget
    /// ran out.
    fn expand_label(&self, q: &Query, sc: &mut Scratch, ls: &mut LabelSearch, li: u32) -> bool {
        let l = sc.labels[li as usize];
        let scan = self.edges.in_slots(l.node);
        ls.work_left = match ls.work_left.checked_sub(scan.len()) {
            Some(w) => w,
            None => return false,
        };
        for slot in scan {
            let Some((nl, key)) = self.next_label(q, sc, ls, &l, li, slot) else {
                continue;
            };
            if !ls.exhaustive && self.dominated(&nl, sc, &mut ls.work_left) {
                continue;
            }
            if sc.labels.len() >= ls.budget || ls.work_left == 0 {
                return false;
            }
            sc.labels.push(nl);
            sc.heap.push(Reverse((key, (sc.labels.len() - 1) as u32)));
        }
        true
    }

    /// The label that `l` (at `li`) gives over in-edge `slot`, with its key, unless the edge
    /// cannot carry it, the path would repeat a node, or the label cannot end in a route
    /// within the limits: whatever path it takes back to the source adds at least the least
    /// cltv and hops to there and the fee bound, so such labels are dropped now instead of
    /// multiplying (exact: only such labels go).
    #[inline]
    fn next_label(
        &self,
        q: &Query,
        sc: &mut Scratch,
        ls: &mut LabelSearch,
        l: &Label,
        li: u32,
        slot: usize,
    ) -> Option<(Label, u64)> {
        let e = &self.edges.hot()[slot];
        let u = e.from;
        if u == q.dst || self.edge_excluded(slot, sc) || self.on_label_path(li, u, sc) {
            return None;
        }
        let a = l.amt;
        if a > e.htlc_max {
            return None;
        }
        if a < e.htlc_min {
            let b = self.edges.inbound(slot, e.htlc_min, u == q.src);
            ls.reject_bound = ls.reject_bound.min(b);
            ls.min_rejected = true;
            return None;
        }
        let nu = self.edges.inbound(slot, a, u == q.src);
        let ncltv = if u == q.src {
            l.cltv
        } else {
            l.cltv + u32::from(e.cltv)
        };
        let ui = u as usize;
        if ncltv.saturating_add(sc.lb_cltv[ui]) > q.max_cltv
            || u32::from(l.hops) + 1 + u32::from(sc.lb_hops[ui]) > u32::from(q.max_hops)
            || q.over_fee_limit(nu, 0)
        {
            return None;
        }
        let h = self.bound(u, nu, q.src, sc);
        if h == INF || nu.saturating_add(h) > sc.src_cap || q.over_fee_limit(nu, h) {
            return None;
        }
        let nl = Label {
            amt: nu,
            cltv: ncltv,
            hops: l.hops + 1,
            node: u,
            parent: li,
            slot: slot as u32,
            next_at_node: NONE,
        };
        Some((nl, nu.saturating_add(h)))
    }

    /// Fills `lb_cltv` and `lb_hops` for the label searches (steps 2 and 3): over the edges
    /// that can carry the amount (every hop carries at least it) and are not excluded, the
    /// least sum of cltv deltas (the payer's first hop adds none) and the fewest hops from the
    /// source to each node; `u32::MAX` / `u8::MAX` where none within the limits. O(edges),
    /// once per query, and only queries that need a label search, far dearer, pay it.
    pub(super) fn limit_bounds(&self, q: &Query, sc: &mut Scratch) {
        let n = self.n;
        sc.lb_cltv.clear();
        sc.lb_cltv.resize(n, u32::MAX);
        sc.lb_hops.clear();
        sc.lb_hops.resize(n, u8::MAX);
        let usable = |s: usize, sc: &Scratch| {
            self.edges.hot()[s].htlc_max >= q.amount
                && !self.edge_excluded(s, sc)
                && sc.excl_node[self.edges.to(s) as usize] != sc.gen
        };
        let src = q.src as usize;
        sc.lb_hops[src] = 0;
        sc.stack.clear();
        sc.stack.push(q.src);
        let mut next = Vec::new();
        let mut depth = 0u8;
        while !sc.stack.is_empty() && depth < q.max_hops {
            depth += 1;
            next.clear();
            for i in 0..sc.stack.len() {
                let x = sc.stack[i];
                for &s in self.edges.out_slots(x) {
                    let (s, y) = (s as usize, self.edges.to(s as usize) as usize);
                    if sc.lb_hops[y] == u8::MAX && usable(s, sc) {
                        sc.lb_hops[y] = depth;
                        next.push(y as u32);
                    }
                }
            }
            std::mem::swap(&mut sc.stack, &mut next);
        }
        sc.heap.clear();
        sc.lb_cltv[src] = 0;
        sc.heap.push(Reverse((0, q.src)));
        let reach = u64::from(q.max_cltv.saturating_sub(q.final_cltv));
        while let Some(Reverse((d, x))) = sc.heap.pop() {
            if d > u64::from(sc.lb_cltv[x as usize]) {
                continue;
            }
            if d > reach {
                break;
            }
            for &s in self.edges.out_slots(x) {
                let (s, y) = (s as usize, self.edges.to(s as usize) as usize);
                let w = if x == q.src {
                    0
                } else {
                    u64::from(self.edges.hot()[s].cltv)
                };
                let nd = d + w;
                if nd <= reach && nd < u64::from(sc.lb_cltv[y]) && usable(s, sc) {
                    sc.lb_cltv[y] = nd as u32;
                    sc.heap.push(Reverse((nd, y as u32)));
                }
            }
        }
    }

    /// Whether a settled label at `l`'s node is no worse than `l` in amount, cltv and hops.
    /// Each comparison costs a unit of `work_left`; at zero it stops and answers `false`
    /// (keeping a label is always safe), and the caller then gives up on its budget.
    fn dominated(&self, l: &Label, sc: &Scratch, work_left: &mut usize) -> bool {
        let vi = l.node as usize;
        if sc.head_gen[vi] != sc.gen {
            return false;
        }
        let mut m = sc.head[vi];
        while m != NONE {
            if *work_left == 0 {
                return false;
            }
            *work_left -= 1;
            let o = &sc.labels[m as usize];
            if o.amt <= l.amt && o.cltv <= l.cltv && o.hops <= l.hops {
                return true;
            }
            m = o.next_at_node;
        }
        false
    }

    fn on_label_path(&self, mut li: u32, u: u32, sc: &Scratch) -> bool {
        while li != NONE {
            let l = &sc.labels[li as usize];
            if l.node == u {
                return true;
            }
            li = l.parent;
        }
        false
    }

    fn label_path(&self, mut li: u32, sc: &Scratch) -> SlotPath {
        let mut path = Vec::new();
        while li != NONE {
            let l = &sc.labels[li as usize];
            if l.slot != NONE {
                path.push(l.slot);
            }
            li = l.parent;
        }
        path
    }
}

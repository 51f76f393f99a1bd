//! The probability and balanced models (see the [search documentation](super)): a
//! single-label heuristic, as a lazy A\* on cost.

use super::{prefetch_tail, Failure, Found, Query, Scratch, PREFETCH_TAIL};
use crate::route::index::{RoutingIndex, INF};
use crate::route::{
    balanced_hop_cost, hop_neg_ln_p, CostModel, BALANCED_MSAT_PER_NEG_LN_P,
    BALANCED_MSAT_PER_NEG_LN_P_PER_MIB_MSAT,
};

/// The balanced model's price of one unit of `-ln P` on a hop carrying `amount` (at least).
#[inline]
fn balanced_price(amount: u64) -> f64 {
    BALANCED_MSAT_PER_NEG_LN_P
        + BALANCED_MSAT_PER_NEG_LN_P_PER_MIB_MSAT * amount as f64 / 1_048_576.0
}

impl RoutingIndex {
    /// Probability and balanced models (module documentation: a heuristic), as a lazy A*:
    /// `prob_bound` for probability, the landmark fee bound + priced `prob_bound` for
    /// balanced. Finding nothing, it does not say why: the caller lets the exact fee search
    /// decide.
    pub(crate) fn search_cost(&self, q: &Query, sc: &mut Scratch) -> Found {
        let gen = sc.gen;
        let (src, dst, amount) = (q.src, q.dst, q.amount);
        let balanced = q.model == CostModel::Balanced;
        let fee_limited = q.max_fee != u64::MAX;
        sc.node[dst as usize].seen = gen;
        sc.node[dst as usize].dist = amount;
        sc.node[dst as usize].cost = 0.0;
        sc.node[dst as usize].cltv = q.final_cltv;
        sc.hops[dst as usize] = 0;
        // The radix heap, on the costs' bits: non-negative f64s order as their bits do, and
        // the keys are monotone (consistent bound), as in the fee search.
        sc.rheap.clear();
        sc.rheap.push(0f64.to_bits(), dst);
        while let Some((key, v)) = sc.rheap.pop() {
            let vi = v as usize;
            if sc.node[vi].settled == gen {
                continue;
            }
            // Landmark bounds on `-ln P` were tried and did not pay off (the uncertainty of
            // big channels is so small that they barely prune). The fee bound guides the
            // balanced model, and is INF where the landmarks prove that no first hop of the
            // source reaches `v` at this amount. The probability model skips it unless the
            // request limits the fee: that pruning saved less than the landmark rows cost it
            // to read (callgrind: a quarter of its cache misses; 2026 graph median -38%, same
            // routes; a query without a route is decided by the fee search anyway). Under a
            // fee limit, a label whose amount plus the bound already breaks it goes at once.
            let a = sc.node[vi].dist;
            let hf = if balanced || fee_limited {
                self.bound(v, a, src, sc)
            } else {
                0
            };
            if hf == INF || (fee_limited && q.over_fee_limit(a, hf)) {
                sc.node[vi].settled = gen;
                continue;
            }
            let hp = self.prob_bound(v, q, sc);
            if hp == f64::INFINITY {
                sc.node[vi].settled = gen;
                continue;
            }
            let h = if balanced {
                hf as f64 + balanced_price(amount) * hp
            } else {
                hp
            };
            let real = sc.node[vi].cost + h;
            if f64::from_bits(key) < real {
                sc.rheap.push(real.to_bits(), v);
                continue;
            }
            sc.node[vi].settled = gen;
            if v == src {
                return Found::Path(self.tree_path(src, dst, sc));
            }
            if sc.hops[vi] < q.max_hops {
                self.relax_cost(q, sc, v, real);
            }
        }
        Found::None(Failure::Capacity)
    }

    /// Relaxes the in-edges of `v`, settled at key `real`, under the cost model.
    #[inline(always)]
    fn relax_cost(&self, q: &Query, sc: &mut Scratch, v: u32, real: f64) {
        let (gen, vi) = (sc.gen, v as usize);
        let balanced = q.model == CostModel::Balanced;
        let (a, c, cl, hop) = (
            sc.node[vi].dist,
            sc.node[vi].cost,
            sc.node[vi].cltv,
            sc.hops[vi],
        );
        // Dead-end tails only matter as the payer (see `fee_single`).
        for part in self.edges.in_parts(v, sc.bounds[vi].first_hop == gen) {
            let (first, end) = (part.start, part.end);
            for (k, e) in self.edges.hot()[part].iter().enumerate() {
                // Sorted by htlc_max, largest first: no later edge carries `a` either.
                if a > e.htlc_max {
                    break;
                }
                if first + k + PREFETCH_TAIL < end {
                    prefetch_tail(self, sc, first + k + PREFETCH_TAIL);
                }
                let slot = first + k;
                let u = e.from;
                let ui = u as usize;
                if sc.node[ui].settled == gen
                    || u == q.dst
                    || a < e.htlc_min
                    || self.edge_excluded(slot, sc)
                {
                    continue;
                }
                let (fee, ncl) = if u == q.src {
                    (0, cl)
                } else {
                    (e.fee(a), cl + u32::from(e.cltv))
                };
                let nu = a.saturating_add(fee);
                // Past the cltv or fee limit, or more than the source could send (see
                // `fee_single`).
                if ncl > q.max_cltv || q.over_fee_limit(nu, 0) || nu > sc.src_cap {
                    continue;
                }
                let neg_ln_p = hop_neg_ln_p(a, self.edges.cap_msat(slot));
                let nc = c + if balanced {
                    balanced_hop_cost(fee, a, neg_ln_p)
                } else {
                    neg_ln_p
                };
                if sc.node[ui].seen == gen && nc >= sc.node[ui].cost {
                    continue;
                }
                sc.node[ui].seen = gen;
                sc.node[ui].dist = nu;
                sc.node[ui].cost = nc;
                sc.node[ui].cltv = ncl;
                sc.hops[ui] = hop + 1;
                sc.node[ui].parent = slot as u32;
                // The bound is consistent, so nc + h(u) >= c + h(v) = real; a key that is a
                // rounding error too high only delays the node, it is never dropped.
                sc.rheap.push(nc.max(real).to_bits(), u);
            }
        }
    }
}

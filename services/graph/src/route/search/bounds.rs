//! Per-query setup (exclusions, the source's first hops, landmark offsets) and the A\*
//! bounds of the searches: the fee bound (`bound`) and the probability bound (`prob_bound`).

use super::{Query, Scratch};
use crate::route::hop_neg_ln_p;
use crate::route::index::{RoutingIndex, INF, LANDMARKS, LM_INF, LM_SAT};

impl RoutingIndex {
    /// Marks excluded nodes and channels and computes the landmark offsets for this query.
    /// Must run after `reachable` (which uses `seen`), and bumps the generation.
    pub(crate) fn begin_search(&self, q: &Query, sc: &mut Scratch) {
        sc.next_gen();
        let gen = sc.gen;
        sc.any_excluded = !q.exclude_nodes.is_empty() || !q.exclude_channels.is_empty();
        for &u in &q.exclude_nodes {
            sc.excl_node[u as usize] = gen;
        }
        for &c in &q.exclude_channels {
            sc.excl_chan[c as usize] = gen;
        }
        sc.bucket = Self::bucket_for(q.amount);
        sc.amount = q.amount;
        sc.src_cap = 0;
        sc.first_neg_ln_p = f64::INFINITY;
        for &s in self.edges.out_slots(q.src) {
            let s = s as usize;
            let to = self.edges.to(s) as usize;
            if self.edge_excluded(s, sc) || sc.excl_node[to] == gen {
                continue;
            }
            let htlc_max = self.edges.hot()[s].htlc_max;
            sc.src_cap = sc.src_cap.max(htlc_max);
            if htlc_max >= q.amount {
                sc.bounds[to].first_hop = gen;
                let p = hop_neg_ln_p(q.amount, self.edges.cap_msat(s));
                sc.first_neg_ln_p = sc.first_neg_ln_p.min(p);
            }
        }
        self.landmark_offsets(q, sc);
    }

    /// The source's own first channel is free, so the fees still to come from node u are at
    /// least the fee distance from some out-neighbour w of the source to u. With a = max_w
    /// d(L, w) and b = min_w d(w, L), d(w, u) >= d(L, u) - a and >= b - d(u, L): fills
    /// `lm_a` and `lm_b`.
    fn landmark_offsets(&self, q: &Query, sc: &mut Scratch) {
        sc.lm_a = [0; LANDMARKS];
        sc.lm_b = [LM_INF; LANDMARKS];
        // Only first hops that can carry more than the amount count: the bound only serves
        // labels above the amount (see `bound`). One table row per first hop: a hub source
        // has thousands.
        for &slot in self.edges.out_slots(q.src) {
            if self.edges.hot()[slot as usize].htlc_max <= q.amount {
                continue;
            }
            let w = self.edges.to(slot as usize) as usize;
            if self.landmarks.row_unknown(w) {
                // Nothing known of d(L, w) or d(w, L): no bound from any landmark.
                sc.lm_a = [LM_SAT; LANDMARKS];
                sc.lm_b = [0; LANDMARKS];
                break;
            }
            let row = self.landmarks.row(sc.bucket, w);
            for l in 0..LANDMARKS {
                sc.lm_a[l] = sc.lm_a[l].max(row[l]);
                sc.lm_b[l] = sc.lm_b[l].min(row[LANDMARKS + l]);
            }
        }
    }

    /// Admissible, consistent lower bound on the fees still to be added between `u` and the
    /// source for a label of amount `a` at `u`; `INF` when no out-neighbour of the source
    /// reaches `u` with more than the payment amount.
    ///
    /// A label above the payment amount (some fee is paid downstream of `u`, the usual case)
    /// makes every hop between the source and `u` carry more than the amount, so the landmark
    /// tables and the forward ball leave out edges whose limit is the amount or less. A label
    /// of exactly the amount (`u` is the destination, or only zero-fee hops follow) gets the
    /// cheapest-in-edge bound alone. Still consistent: an edge into a label of exactly the
    /// amount charges at least that bound, and labels above the amount only have labels above
    /// it upstream.
    #[inline]
    pub(super) fn bound(&self, u: u32, a: u64, src: u32, sc: &mut Scratch) -> u64 {
        if u == src {
            return 0;
        }
        let ui = u as usize;
        if a <= sc.amount {
            return if sc.bounds[ui].first_hop == sc.gen {
                0
            } else {
                self.in_bounds.fee_min(sc.bucket, ui)
            };
        }
        if sc.bounds[ui].h_gen == sc.h_stamp {
            return sc.bounds[ui].h;
        }
        let mut h = self.landmarks.bound(ui, sc.bucket, &sc.lm_a, &sc.lm_b);
        // Unless `u` is the head of a (free) first hop, the hop into `u` charges at least its
        // cheapest in-edge's fee; consistent for the same reason as `prob_bound`.
        if h != INF && sc.bounds[ui].first_hop != sc.gen {
            h = h.max(self.in_bounds.fee_min(sc.bucket, ui));
        }
        if sc.f_on {
            h = h.max(if sc.ball[ui].done == sc.f_gen {
                sc.ball[ui].dist
            } else {
                sc.f_radius
            });
        }
        sc.bounds[ui].h_gen = sc.h_stamp;
        sc.bounds[ui].h = h;
        h
    }

    /// Lower bound on the `-ln P` still to come between the source and `v` (first hop
    /// included): the cheapest usable first hop, plus, unless `v` is the head of one, the
    /// cheapest edge into `v` (every hop carries at least the amount, and the cost grows
    /// with it). Consistent: an edge `x -> v` costs at least the second term, and `x`'s own
    /// bound is at least the first. `INF` when no edge into `v` carries the amount.
    #[inline]
    pub(super) fn prob_bound(&self, v: u32, q: &Query, sc: &Scratch) -> f64 {
        if v == q.src {
            return 0.0;
        }
        let vi = v as usize;
        if sc.bounds[vi].first_hop == sc.gen {
            return sc.first_neg_ln_p;
        }
        let cap = self.in_bounds.cap_max(sc.bucket, vi);
        sc.first_neg_ln_p + hop_neg_ln_p(q.amount, cap)
    }
}

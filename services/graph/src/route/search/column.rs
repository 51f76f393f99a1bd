//! The matrix's columns (see the [search documentation](super)): one plain backward
//! Dijkstra per destination settles every source of the matrix.

use std::cmp::Reverse;

use super::{with_scratch, Query, SlotPath};
use crate::route::index::{RoutingIndex, INF};

impl RoutingIndex {
    /// Fee model, default limits, no exclusions: one backward search from `dst` that settles
    /// every source at once (the matrix's column). `Some(path)` is the cheapest route, found
    /// and certified exactly as step 1 of the module documentation does it for one source;
    /// `None` means "not decided here" (no certified route), and the caller asks
    /// `find_route` for that pair. A source's own first channel is free, so each source
    /// takes the first (least) label offered over one of its out-edges, while the same node
    /// is relaxed as an ordinary, fee-charging node for the other sources.
    pub(crate) fn fee_column(
        &self,
        dst: u32,
        amount: u64,
        sources: &[u32],
        q: &Query,
    ) -> Vec<Option<SlotPath>> {
        with_scratch(self, |sc| {
            let gen = sc.gen;
            let mut answer: Vec<Option<(u64, u32, bool)>> = vec![None; sources.len()];
            // head/head_gen map a source node to its first position in `sources`.
            let mut pending = 0usize;
            for (i, &x) in sources.iter().enumerate() {
                let xi = x as usize;
                if x != dst && sc.head_gen[xi] != gen {
                    sc.head_gen[xi] = gen;
                    sc.head[xi] = i as u32;
                    pending += 1;
                }
            }
            let mut reject_bound = INF;
            sc.node[dst as usize].seen = gen;
            sc.node[dst as usize].dist = amount;
            sc.heap.push(Reverse((amount, dst)));
            while let Some(Reverse((a, v))) = sc.heap.pop() {
                let vi = v as usize;
                if pending == 0 {
                    break;
                }
                if sc.node[vi].settled == gen || a > sc.node[vi].dist {
                    continue;
                }
                sc.node[vi].settled = gen;
                // Every tail may be one of the sources: both parts.
                for part in self.edges.in_parts(v, true) {
                    let first = part.start;
                    for (k, e) in self.edges.hot()[part].iter().enumerate() {
                        if a > e.htlc_max {
                            break;
                        }
                        let slot = first + k;
                        let u = e.from;
                        let ui = u as usize;
                        if u == dst {
                            continue;
                        }
                        if a < e.htlc_min {
                            // As a source, u would need at least the minimum; as a forwarder,
                            // the minimum plus its fee. The smaller bound covers both.
                            reject_bound = reject_bound.min(e.htlc_min);
                            continue;
                        }
                        if sc.head_gen[ui] == gen {
                            let pos = sc.head[ui] as usize;
                            if answer[pos].is_none() {
                                answer[pos] = Some((a, slot as u32, a <= reject_bound));
                                pending -= 1;
                            }
                        }
                        if sc.node[ui].settled == gen {
                            continue;
                        }
                        let nu = a.saturating_add(e.fee(a));
                        if sc.node[ui].seen == gen && nu >= sc.node[ui].dist {
                            continue;
                        }
                        sc.node[ui].seen = gen;
                        sc.node[ui].dist = nu;
                        sc.node[ui].parent = slot as u32;
                        sc.heap.push(Reverse((nu, u)));
                    }
                }
            }
            sources
                .iter()
                .map(|&x| {
                    let xi = x as usize;
                    if x == dst || sc.head_gen[xi] != gen {
                        return None;
                    }
                    let (_, slot, certified) = answer[sc.head[xi] as usize]?;
                    if !certified {
                        return None;
                    }
                    let mut path = vec![slot];
                    let mut y = self.edges.to(slot as usize);
                    while y != dst && path.len() <= self.n {
                        let p = sc.node[y as usize].parent;
                        path.push(p);
                        y = self.edges.to(p as usize);
                    }
                    let (cltv, hops) = self.path_cltv_hops(&path, q);
                    (cltv <= q.max_cltv && hops <= u32::from(q.max_hops)).then_some(path)
                })
                .collect()
        })
    }
}

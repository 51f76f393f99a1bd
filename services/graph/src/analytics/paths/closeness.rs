//! Closeness (networkx's, with Wasserman-Faust scaling) and the hop diameter of a strongly
//! connected component (see the [paths documentation](super)).

use super::{dominated_out_edges, per_worker, pruned_searches, Leaves, Queue, Sums};
use crate::analytics::graph::{ActiveGraph, Adj, Cost};

/// Per-worker state of a distance-only search.
struct Dist<C: Cost> {
    d: Vec<C>,
    order: Vec<u32>,
    heap: C::Queue,
}

impl<C: Cost> Dist<C> {
    fn new(n: usize) -> Self {
        Dist {
            d: vec![C::INF; n],
            order: Vec::with_capacity(n),
            heap: C::Queue::default(),
        }
    }

    /// Distances from `s` along `adj` (weights `w`, or `unit` for every hop): fills `d` and
    /// `order` (the reached nodes, `s` first, by non-decreasing distance).
    fn search(&mut self, adj: &Adj, w: &[C], unit: Option<C>, s: u32) {
        let Dist { d, order, heap } = self;
        d[s as usize] = C::ZERO;
        if let Some(one) = unit {
            order.push(s);
            let mut head = 0;
            while head < order.len() {
                let v = order[head] as usize;
                head += 1;
                let nd = d[v].plus(one);
                for &x in &adj.nbr[adj.range(v as u32)] {
                    if d[x as usize] == C::INF {
                        d[x as usize] = nd;
                        order.push(x);
                    }
                }
            }
            return;
        }
        heap.push(C::ZERO, s);
        while let Some((dv, v)) = heap.pop() {
            if dv > d[v as usize] {
                continue;
            }
            order.push(v);
            let r = adj.range(v);
            for (&x, &c) in adj.nbr[r.clone()].iter().zip(&w[r]) {
                let nd = dv.plus(c);
                if nd < d[x as usize] {
                    d[x as usize] = nd;
                    heap.push(nd, x);
                }
            }
        }
    }

    fn reset(&mut self) {
        for &v in &self.order {
            self.d[v as usize] = C::INF;
        }
        self.order.clear();
        self.heap.clear();
    }
}

/// Per-worker state of a closeness search: its distances, the reach it found per source
/// (what adds up, see [`Sums`]) and the dominated edges it found.
struct Searcher<C: Cost> {
    sc: Dist<C>,
    found: Vec<(u32, Reach)>,
    dead: Vec<u32>,
}

impl<C: Cost> Sums for Searcher<C> {
    type Acc = Vec<(u32, Reach)>;
    fn sums(&mut self) -> &mut Vec<(u32, Reach)> {
        &mut self.found
    }
    fn empty_sums(&self) -> Vec<(u32, Reach)> {
        Vec::new()
    }
}

/// Per-node reach and total distance of one direction (see [`closeness`]).
#[derive(Debug, Clone, Copy, Default)]
struct Reach {
    /// Nodes reached, the node itself included.
    count: u64,
    total: f64,
}

/// Closeness as networkx computes it, with Wasserman-Faust scaling:
/// `c(v) = (r - 1)^2 / ((n - 1) * total)`, `r` = nodes that reach `v` (or that `v` reaches,
/// for `outgoing`), `v` included, `total` their summed distance; 0 when `total` is 0.
/// `outgoing == false` is networkx's default for directed graphs (distance *to* `v`).
pub(crate) fn closeness<C: Cost>(
    ag: &ActiveGraph,
    out_w: &[C],
    in_w: &[C],
    unit: Option<C>,
    outgoing: bool,
) -> Vec<f64> {
    let n = ag.node_count();
    // Search along the direction the distances are measured: from v for outgoing, into v
    // (the reversed graph) for incoming.
    let (adj, w, radj, rw) = if outgoing {
        (&ag.out, out_w, &ag.inn, in_w)
    } else {
        (&ag.inn, in_w, &ag.out, out_w)
    };
    let leaves = Leaves::new(adj, radj, w, rw);
    let mut sources: Vec<u32> = (0..n as u32)
        .filter(|&v| !leaves.is_leaf[v as usize])
        .collect();
    let parts = pruned_searches(
        adj,
        w,
        &leaves.is_leaf,
        ag.edge_count(),
        &mut sources,
        || Searcher {
            sc: Dist::<C>::new(n),
            found: Vec::new(),
            dead: Vec::new(),
        },
        |st| &mut st.dead,
        |Searcher { sc, found, dead }, live, live_w, s| {
            sc.search(live, live_w, unit, s);
            if unit.is_none() {
                dominated_out_edges(adj, w, &sc.d, s, dead);
            }
            let count = sc.order.len() as u64;
            let mut total = C::ZERO;
            let mut totf = 0.0f64;
            for &v in &sc.order {
                // Integer costs sum exactly; f64 costs sum in settle order.
                total = total.plus(sc.d[v as usize]);
                totf += sc.d[v as usize].as_f64();
            }
            let tot = if total == C::INF {
                totf
            } else {
                total.as_f64()
            };
            found.push((s, Reach { count, total: tot }));
            for &(v, vu, _) in leaves.of(s) {
                let c = match unit {
                    Some(one) => one,
                    None => leaf_weight(adj, w, v, vu),
                };
                let dv = sc.d[v as usize];
                let v_in = dv != C::INF;
                // From v: every node u reaches (v itself excepted) at c more, plus v.
                let others = count - u64::from(v_in);
                let sum_u = if v_in { tot - dv.as_f64() } else { tot };
                found.push((
                    v,
                    Reach {
                        count: others + 1,
                        total: sum_u + c.as_f64() * others as f64,
                    },
                ));
            }
            sc.reset();
        },
    );
    let mut reach = vec![Reach::default(); n];
    for found in parts {
        for (v, r) in found {
            reach[v as usize] = r;
        }
    }
    reach
        .iter()
        .map(|r| {
            if r.total > 0.0 && n > 1 {
                let k = (r.count - 1) as f64;
                (k / r.total) * (k / (n - 1) as f64)
            } else {
                0.0
            }
        })
        .collect()
}

/// The weight of the hop `v -> u` (edge `vu`) along `adj`.
fn leaf_weight<C: Cost>(adj: &Adj, w: &[C], v: u32, vu: u32) -> C {
    adj.range(v)
        .find(|&i| adj.eid[i] == vu)
        .map_or(C::INF, |i| w[i])
}

/// The hop diameter of the nodes in `members` (one strongly connected component): the
/// largest hop distance between two of them. Shortest paths between two nodes of a strongly
/// connected component stay inside it, so plain BFS on the whole graph gives the same answer.
pub(crate) fn hop_diameter(ag: &ActiveGraph, members: &[u32]) -> u64 {
    let n = ag.node_count();
    let mut inside = vec![false; n];
    for &v in members {
        inside[v as usize] = true;
    }
    per_worker(
        members,
        4,
        Vec::new(),
        || (Dist::<u64>::new(n), 0u64),
        |(sc, ecc), &s| {
            sc.search(&ag.out, &[], Some(1u64), s);
            for &v in &sc.order {
                if inside[v as usize] {
                    *ecc = (*ecc).max(sc.d[v as usize]);
                }
            }
            sc.reset();
        },
    )
    .into_iter()
    .map(|(_, ecc)| ecc)
    .max()
    .unwrap_or(0)
}

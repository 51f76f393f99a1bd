//! Shortest-path metrics on the [`ActiveGraph`]: exact betweenness (Brandes, node and edge),
//! closeness, and the hop diameter. Sources run in parallel with rayon; every worker keeps its
//! own scratch arrays and accumulators (allocated once per rayon job, reset sparsely per
//! source), and the partial sums are added at the end: no lock, no allocation per source.
//!
//! Degree-1 folding: a *leaf* is a node with exactly one neighbour `u` (in either direction)
//! where `u` itself has at least two. Every shortest path from a leaf `v` is the hop `v -> u`
//! followed by a shortest path from `u`, with the same path counts, and no shortest path
//! passes through a leaf. So leaves are not run as sources: `u`'s dependencies are counted
//! `1 + L(u)` times (`L(u)` = leaves of `u` with a usable hop into `u`) and the few terms that
//! differ (the dependency of `u` itself, the hops `v -> u` and `u -> v`) are added in closed
//! form. Closeness folds leaves the same way.

use rayon::prelude::*;

use super::graph::{ActiveGraph, Adj, Cost};

/// Per-node search state, kept together so that a visit touches one cache line.
#[derive(Clone, Copy)]
struct St<C> {
    d: C,
    /// Number of shortest paths from the source.
    sigma: f64,
    /// Brandes dependency.
    delta: f64,
}

/// Per-source scratch space, reused across sources.
struct Scratch<C: Cost> {
    st: Vec<St<C>>,
    order: Vec<u32>,
    heap: C::Queue,
}

impl<C: Cost> Scratch<C> {
    fn new(n: usize) -> Self {
        Scratch {
            st: vec![
                St {
                    d: C::INF,
                    sigma: 0.0,
                    delta: 0.0
                };
                n
            ],
            order: Vec::with_capacity(n),
            heap: C::Queue::default(),
        }
    }
    fn reset(&mut self) {
        for &v in &self.order {
            self.st[v as usize] = St {
                d: C::INF,
                sigma: 0.0,
                delta: 0.0,
            };
        }
        self.order.clear();
        self.heap.clear();
    }
}

/// A min-priority queue of `(cost, node)` for Dijkstra. Pops never go below the last popped
/// cost (Dijkstra's keys are monotone), which the radix heap relies on.
pub(crate) trait Queue<C>: Default + Send {
    fn push(&mut self, cost: C, v: u32);
    fn pop(&mut self) -> Option<(C, u32)>;
    fn clear(&mut self);
}

/// Binary min-heap with lazy deletion (for `f64` costs).
pub(crate) struct BinaryQueue<C>(Vec<(C, u32)>);

impl<C> Default for BinaryQueue<C> {
    fn default() -> Self {
        BinaryQueue(Vec::new())
    }
}

impl<C: Cost> Queue<C> for BinaryQueue<C> {
    #[inline]
    fn push(&mut self, cost: C, v: u32) {
        let h = &mut self.0;
        h.push((cost, v));
        let mut i = h.len() - 1;
        while i > 0 {
            let p = (i - 1) / 2;
            if h[i].0 < h[p].0 {
                h.swap(i, p);
                i = p;
            } else {
                break;
            }
        }
    }
    #[inline]
    fn pop(&mut self) -> Option<(C, u32)> {
        let h = &mut self.0;
        let last = h.pop()?;
        if h.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut h[0], last);
        let n = h.len();
        let mut i = 0;
        loop {
            let l = 2 * i + 1;
            if l >= n {
                break;
            }
            let r = l + 1;
            let c = if r < n && h[r].0 < h[l].0 { r } else { l };
            if h[c].0 < h[i].0 {
                h.swap(c, i);
                i = c;
            } else {
                break;
            }
        }
        Some(top)
    }
    fn clear(&mut self) {
        self.0.clear();
    }
}

/// Radix heap for integer costs: an item sits in the bucket of the highest bit in which its
/// key differs from the last popped key, so a push is O(1) and each item moves down at most
/// 64 times in total.
pub(crate) struct RadixQueue {
    last: u64,
    len: usize,
    buckets: [Vec<(u64, u32)>; 65],
}

impl Default for RadixQueue {
    fn default() -> Self {
        RadixQueue {
            last: 0,
            len: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
        }
    }
}

impl Queue<u64> for RadixQueue {
    #[inline]
    fn push(&mut self, cost: u64, v: u32) {
        let b = (64 - (cost ^ self.last).leading_zeros()) as usize;
        self.buckets[b].push((cost, v));
        self.len += 1;
    }
    #[inline]
    fn pop(&mut self) -> Option<(u64, u32)> {
        if self.len == 0 {
            return None;
        }
        if self.buckets[0].is_empty() {
            let i = (1..65)
                .find(|&i| !self.buckets[i].is_empty())
                .expect("len > 0");
            let items = std::mem::take(&mut self.buckets[i]);
            self.last = items.iter().map(|x| x.0).min().expect("non-empty");
            for &(c, v) in &items {
                let b = (64 - (c ^ self.last).leading_zeros()) as usize;
                self.buckets[b].push((c, v));
            }
            // Hand the emptied allocation back so buckets keep their capacity.
            let mut items = items;
            items.clear();
            self.buckets[i] = items;
        }
        self.len -= 1;
        self.buckets[0].pop()
    }
    fn clear(&mut self) {
        for b in &mut self.buckets {
            b.clear();
        }
        self.len = 0;
        self.last = 0;
    }
}

/// Single-source shortest paths from `s` over `adj` (weights `w`, or unit weights when
/// `unit`): fills `dist`, `sigma` (number of shortest paths) and `order` (non-decreasing
/// distance). Weights are positive, so a node's count is final when it is settled.
fn sssp<C: Cost>(adj: &Adj, w: &[C], unit: Option<C>, s: u32, sc: &mut Scratch<C>) {
    sc.st[s as usize].d = C::ZERO;
    sc.st[s as usize].sigma = 1.0;
    if let Some(one) = unit {
        sc.order.push(s);
        let mut head = 0;
        while head < sc.order.len() {
            let v = sc.order[head];
            head += 1;
            let nd = sc.st[v as usize].d.plus(one);
            let sv = sc.st[v as usize].sigma;
            for i in adj.range(v) {
                let x = adj.nbr[i] as usize;
                let dx = sc.st[x].d;
                if dx == C::INF {
                    sc.st[x].d = nd;
                    sc.st[x].sigma = sv;
                    sc.order.push(x as u32);
                } else if dx == nd {
                    sc.st[x].sigma += sv;
                }
            }
        }
        return;
    }
    sc.heap.push(C::ZERO, s);
    while let Some((d, v)) = sc.heap.pop() {
        if d > sc.st[v as usize].d {
            continue;
        }
        sc.order.push(v);
        let sv = sc.st[v as usize].sigma;
        for i in adj.range(v) {
            let c = w[i];
            if c == C::INF {
                continue;
            }
            let x = adj.nbr[i] as usize;
            let nd = d.plus(c);
            let dx = sc.st[x].d;
            if nd < dx {
                sc.st[x].d = nd;
                sc.st[x].sigma = sv;
                sc.heap.push(nd, x as u32);
            } else if nd == dx {
                sc.st[x].sigma += sv;
            }
        }
    }
}

/// Leaf folding data (see the module doc). Computed per weighting, since a weighting may make
/// a hop unusable.
struct Leaves {
    /// Whether a node is a folded leaf (never run as a source).
    is_leaf: Vec<bool>,
    /// For each non-leaf `u`: its leaves `v` that have a usable hop `v -> u`, as
    /// `(v, edge v->u, edge u->v or u32::MAX)`, in `items[off[u]..off[u+1]]`.
    off: Vec<u32>,
    items: Vec<(u32, u32, u32)>,
}

impl Leaves {
    fn new<C: Cost>(out: &Adj, inn: &Adj, out_w: &[C], in_w: &[C]) -> Leaves {
        let n = out.off.len() - 1;
        // The unique neighbour of v when it has exactly one (in either direction).
        let single = |v: u32| -> Option<u32> {
            let mut only = None;
            for adj in [out, inn] {
                for i in adj.range(v) {
                    let x = adj.nbr[i];
                    match only {
                        None => only = Some(x),
                        Some(y) if y == x => {}
                        Some(_) => return None,
                    }
                }
            }
            only
        };
        let neighbour: Vec<Option<u32>> = (0..n as u32).map(single).collect();
        let mut is_leaf = vec![false; n];
        let mut per: Vec<(u32, u32, u32, u32)> = Vec::new();
        for v in 0..n as u32 {
            let Some(u) = neighbour[v as usize] else {
                continue;
            };
            if neighbour[u as usize].is_some() {
                continue; // u is a leaf too (a two-node component): run both normally
            }
            is_leaf[v as usize] = true;
            let find = |adj: &Adj, w: &[C], a: u32, b: u32| {
                adj.range(a)
                    .find(|&i| adj.nbr[i] == b && w[i] != C::INF)
                    .map(|i| adj.eid[i])
            };
            if let Some(vu) = find(out, out_w, v, u) {
                let uv = find(inn, in_w, v, u).unwrap_or(u32::MAX);
                per.push((u, v, vu, uv));
            }
        }
        per.sort_unstable();
        let mut off = vec![0u32; n + 1];
        for &(u, ..) in &per {
            off[u as usize + 1] += 1;
        }
        for i in 0..n {
            off[i + 1] += off[i];
        }
        let items = per.into_iter().map(|(_, v, vu, uv)| (v, vu, uv)).collect();
        Leaves {
            is_leaf,
            off,
            items,
        }
    }
    fn of(&self, u: u32) -> &[(u32, u32, u32)] {
        &self.items[self.off[u as usize] as usize..self.off[u as usize + 1] as usize]
    }
}

/// Raw (unnormalized) betweenness of one weighting, in active-node / collapsed-edge order.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawBetweenness {
    pub node: Vec<f64>,
    pub edge: Vec<f64>,
    /// Ordered pairs `(s, t)`, `s != t`, with `t` reachable from `s`.
    pub reachable_pairs: u64,
}

struct Acc<C: Cost> {
    sc: Scratch<C>,
    node: Vec<f64>,
    /// Edge dependencies by in-adjacency position (written sequentially per target).
    edge_in: Vec<f64>,
    /// Closed-form leaf corrections by collapsed edge id.
    edge: Vec<f64>,
    pairs: u64,
}

/// Exact betweenness (Brandes 2001): for every source, shortest-path counts forward, then
/// dependencies back in reverse settle order; predecessors are found by re-checking
/// `dist[u] + w == dist[v]` on the in-edges instead of storing lists.
pub(crate) fn betweenness<C: Cost>(
    ag: &ActiveGraph,
    out_w: &[C],
    in_w: &[C],
    unit: Option<C>,
) -> RawBetweenness {
    let n = ag.node_count();
    let m = ag.edge_count();
    let leaves = Leaves::new(&ag.out, &ag.inn, out_w, in_w);
    let sources: Vec<u32> = (0..n as u32)
        .filter(|&v| !leaves.is_leaf[v as usize])
        .collect();
    let new_acc = || Acc {
        sc: Scratch::<C>::new(n),
        node: vec![0.0; n],
        edge_in: vec![0.0; m],
        edge: vec![0.0; m],
        pairs: 0,
    };
    sources
        .par_iter()
        .with_min_len(8)
        .fold(new_acc, |mut a, &s| {
            sssp(&ag.out, out_w, unit, s, &mut a.sc);
            let my = leaves.of(s);
            let mult = 1.0 + my.len() as f64;
            let sc = &mut a.sc;
            for &t in sc.order.iter().rev() {
                let t = t as usize;
                let dt = sc.st[t].d;
                let coeff = (1.0 + sc.st[t].delta) / sc.st[t].sigma;
                for i in ag.inn.range(t as u32) {
                    let u = ag.inn.nbr[i] as usize;
                    let c = match unit {
                        Some(one) => one,
                        None => in_w[i],
                    };
                    if c != C::INF && sc.st[u].d.plus(c) == dt {
                        let x = sc.st[u].sigma * coeff;
                        sc.st[u].delta += x;
                        a.edge_in[i] += x * mult;
                    }
                }
                if t != s as usize {
                    a.node[t] += sc.st[t].delta * mult;
                }
            }
            let reach = sc.order.len() as u64;
            a.pairs += reach - 1;
            for &(v, vu, uv) in my {
                let v_reached = u64::from(sc.st[v as usize].d != C::INF);
                let targets = reach - v_reached;
                a.pairs += targets;
                a.node[s as usize] += (targets - 1) as f64;
                a.edge[vu as usize] += targets as f64;
                if v_reached == 1 && uv != u32::MAX {
                    a.edge[uv as usize] -= 1.0;
                }
            }
            sc.reset();
            a
        })
        .map(|mut a| {
            for (i, &x) in a.edge_in.iter().enumerate() {
                a.edge[ag.inn.eid[i] as usize] += x;
            }
            RawBetweenness {
                node: a.node,
                edge: a.edge,
                reachable_pairs: a.pairs,
            }
        })
        .reduce(
            || RawBetweenness {
                node: vec![0.0; n],
                edge: vec![0.0; m],
                reachable_pairs: 0,
            },
            |mut x, y| {
                x.node.iter_mut().zip(&y.node).for_each(|(a, b)| *a += b);
                x.edge.iter_mut().zip(&y.edge).for_each(|(a, b)| *a += b);
                x.reachable_pairs += y.reachable_pairs;
                x
            },
        )
}

/// Per-node reach and total distance of one direction (see [`closeness`]).
#[derive(Debug, Clone, Copy, Default)]
struct Reach {
    /// Nodes reached, the node itself included.
    count: u64,
    total: f64,
}

/// A source's reach, and that of the leaves folded into it.
type SourceReach = (u32, Reach, Vec<(u32, Reach)>);

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
    let sources: Vec<u32> = (0..n as u32)
        .filter(|&v| !leaves.is_leaf[v as usize])
        .collect();
    let mut reach = vec![Reach::default(); n];
    let part: Vec<SourceReach> = sources
        .par_iter()
        .with_min_len(8)
        .map_init(
            || Scratch::<C>::new(n),
            |sc, &s| {
                sssp(adj, w, unit, s, sc);
                let count = sc.order.len() as u64;
                let mut total = C::ZERO;
                let mut totf = 0.0f64;
                for &v in &sc.order {
                    // Integer costs sum exactly; f64 costs sum in settle order.
                    total = total.plus(sc.st[v as usize].d);
                    totf += sc.st[v as usize].d.as_f64();
                }
                let tot = if total == C::INF {
                    totf
                } else {
                    total.as_f64()
                };
                let mut folded = Vec::new();
                for &(v, vu, _) in leaves.of(s) {
                    let c = match unit {
                        Some(one) => one,
                        None => leaf_weight(adj, w, v, vu),
                    };
                    let dv = sc.st[v as usize].d;
                    let v_in = dv != C::INF;
                    // From v: every node u reaches (v itself excepted) at c more, plus v.
                    let others = count - u64::from(v_in);
                    let sum_u = if v_in { tot - dv.as_f64() } else { tot };
                    folded.push((
                        v,
                        Reach {
                            count: others + 1,
                            total: sum_u + c.as_f64() * others as f64,
                        },
                    ));
                }
                sc.reset();
                (s, Reach { count, total: tot }, folded)
            },
        )
        .collect();
    for (s, r, folded) in part {
        reach[s as usize] = r;
        for (v, rv) in folded {
            reach[v as usize] = rv;
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
    members
        .par_iter()
        .with_min_len(8)
        .map_init(
            || Scratch::<u64>::new(n),
            |sc, &s| {
                sssp(&ag.out, &[], Some(1u64), s, sc);
                let ecc = sc
                    .order
                    .iter()
                    .filter(|&&v| inside[v as usize])
                    .map(|&v| sc.st[v as usize].d)
                    .max()
                    .unwrap_or(0);
                sc.reset();
                ecc
            },
        )
        .max()
        .unwrap_or(0)
}

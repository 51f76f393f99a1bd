//! Exact betweenness (Brandes 2001), node and edge: breadth-first for hop counts, Dijkstra
//! for weights (see the [paths documentation](super)).

use super::{
    dominated_out_edges, into_sums, new_slots, per_worker_ordered, pruned_searches, Leaves, Queue,
    RawBetweenness, Sums,
};
use crate::analytics::graph::{ActiveGraph, Adj, Cost};

/// Marks a node reached over two or more tight edges (its predecessors are found by
/// re-checking its in-edges).
const TIE: u32 = u32::MAX;
/// Level of a node the breadth-first search has not reached.
const UNSEEN: u32 = u32::MAX;

/// Per-worker state of a weighted Brandes search: per-node arrays (reset sparsely through
/// `order` after each source) and the worker's partial sums.
struct Weighted<C: Cost> {
    d: Vec<C>,
    /// Number of shortest paths from the source.
    sigma: Vec<f64>,
    /// Brandes dependency.
    delta: Vec<f64>,
    /// The collapsed edge a node was reached over when it is its only tight in-edge, else
    /// [`TIE`]. Valid for reached nodes other than the source.
    pred: Vec<u32>,
    /// Reached nodes in settle order (non-decreasing distance).
    order: Vec<u32>,
    heap: C::Queue,
    /// Partial sums; `acc.edge` by collapsed edge id.
    acc: RawBetweenness,
    /// Dominated edges found (see [`pruned_searches`]).
    dead: Vec<u32>,
}

impl<C: Cost> Sums for Weighted<C> {
    type Acc = RawBetweenness;
    fn sums(&mut self) -> &mut RawBetweenness {
        &mut self.acc
    }
    fn empty_sums(&self) -> RawBetweenness {
        RawBetweenness::zero(self.acc.node.len(), self.acc.edge.len())
    }
}

/// What every hop-count search needs beyond the adjacency, built once per run.
struct HopIndex {
    /// Out-adjacency position of each in-adjacency entry (the same edge).
    in_to_out: Vec<u32>,
    /// Tail node of each out-adjacency position.
    tail: Vec<u32>,
    /// Out-degree and in-degree per node.
    out_deg: Vec<u32>,
    in_deg: Vec<u32>,
}

impl HopIndex {
    fn new(ag: &ActiveGraph) -> HopIndex {
        let (out, inn) = (&ag.out, &ag.inn);
        let n = out.off.len() - 1;
        let mut out_pos = vec![0u32; out.eid.len()];
        let mut tail = vec![0u32; out.nbr.len()];
        for v in 0..n as u32 {
            for i in out.range(v) {
                out_pos[out.eid[i] as usize] = i as u32;
                tail[i] = v;
            }
        }
        let degree = |adj: &Adj| (0..n as u32).map(|v| adj.range(v).len() as u32).collect();
        HopIndex {
            in_to_out: inn.eid.iter().map(|&e| out_pos[e as usize]).collect(),
            tail,
            out_deg: degree(out),
            in_deg: degree(inn),
        }
    }
}

/// Per-worker state of a hop-count Brandes search (breadth-first).
///
/// The per-node arrays are `n` rounded up to a power of two long, the per-edge ones `m`
/// rounded up: indexes masked with `len - 1` are provably in bounds, which lets the compiler
/// drop the bounds checks from the inner loops (a sixth of the time) without `unsafe`.
struct Hops {
    level: Vec<u32>,
    sigma: Vec<f64>,
    /// `(1 + delta(v)) / sigma(v)`, what `v` passes back to each of its predecessors per
    /// path to them.
    coeff: Vec<f64>,
    /// Sum of the successors' `coeff` pushed back to a node (zero outside the backward pass).
    pulled: Vec<f64>,
    /// Breadth-first order: the search fills a prefix (never reallocated); level `l` is
    /// `order[level_start[l]..level_start[l + 1]]`.
    order: Vec<u32>,
    level_start: Vec<u32>,
    /// The shortest-path DAG: out-adjacency positions of the edges from level `l - 1` into
    /// level `l` in `dag[dag_start[l]..dag_start[l + 1]]`. The backward pass walks only these,
    /// without re-testing levels.
    dag: Vec<u32>,
    dag_start: Vec<u32>,
    /// Partial sums.
    sums: HopSums,
}

/// What hop-count searches add up over sources.
struct HopSums {
    /// `raw.edge` (closed-form leaf terms) by collapsed edge id.
    raw: RawBetweenness,
    /// Edge dependencies by out-adjacency position (as long as `Hops::dag`).
    edge_out: Vec<f64>,
}

impl Sums for Hops {
    type Acc = HopSums;
    fn sums(&mut self) -> &mut HopSums {
        &mut self.sums
    }
    fn empty_sums(&self) -> HopSums {
        let raw = &self.sums.raw;
        HopSums {
            raw: RawBetweenness::zero(raw.node.len(), raw.edge.len()),
            edge_out: vec![0.0; self.sums.edge_out.len()],
        }
    }
}

/// Exact betweenness (Brandes 2001), one search per non-leaf source, in parallel. With
/// `unit` weights the search is a breadth-first search whose backward pass *pulls* each
/// node's dependency from its successors along the out-edges (no scattered writes); with
/// weights it is Dijkstra that remembers, per node, the single tight in-edge it was reached
/// over, so the backward pass only re-checks the in-edges of nodes with tied shortest paths.
pub(crate) fn betweenness<C: Cost>(
    ag: &ActiveGraph,
    out_w: &[C],
    in_w: &[C],
    unit: Option<C>,
) -> RawBetweenness {
    let n = ag.node_count();
    let m = ag.edge_count();
    let leaves = Leaves::new(&ag.out, &ag.inn, out_w, in_w);
    let mut sources: Vec<u32> = (0..n as u32)
        .filter(|&v| !leaves.is_leaf[v as usize])
        .collect();
    let parts: Vec<RawBetweenness> = if unit.is_some() {
        let hop_index = HopIndex::new(ag);
        let slots = new_slots();
        per_worker_ordered(
            &sources,
            0,
            &slots,
            Vec::new(),
            || {
                let (n2, m2) = (n.next_power_of_two(), m.next_power_of_two());
                Hops {
                    level: vec![UNSEEN; n2],
                    sigma: vec![0.0; n2],
                    coeff: vec![0.0; n2],
                    pulled: vec![0.0; n2],
                    order: vec![0; n2],
                    level_start: vec![0; n2 + 2],
                    dag: vec![0; m2],
                    dag_start: vec![0; n2 + 2],
                    sums: HopSums {
                        raw: RawBetweenness::zero(n, m),
                        edge_out: vec![0.0; m2],
                    },
                }
            },
            |h, &s| hop_source(ag, &hop_index, &leaves, s, h),
        );
        into_sums(slots)
            .into_iter()
            .map(|mut h| {
                for (&x, &e) in h.edge_out.iter().zip(&ag.out.eid) {
                    h.raw.edge[e as usize] += x;
                }
                h.raw
            })
            .collect()
    } else {
        pruned_searches(
            &ag.out,
            out_w,
            &leaves.is_leaf,
            m,
            &mut sources,
            || Weighted::<C> {
                d: vec![C::INF; n],
                sigma: vec![0.0; n],
                delta: vec![0.0; n],
                pred: vec![TIE; n],
                order: Vec::with_capacity(n),
                heap: C::Queue::default(),
                acc: RawBetweenness::zero(n, m),
                dead: Vec::new(),
            },
            |st| &mut st.dead,
            |st, live, live_w, s| {
                weighted_source(ag, live, live_w, in_w, &leaves, s, st);
                dominated_out_edges(&ag.out, out_w, &st.d, s, &mut st.dead);
                st.reset();
            },
        )
    };
    let mut parts = parts.into_iter();
    let mut total = parts.next().unwrap_or_else(|| RawBetweenness::zero(n, m));
    for p in parts {
        total.add(&p);
    }
    total
}

/// The closed-form terms of the leaves folded into source `s` (see the module doc), given
/// which nodes the search from `s` reached (`reached(v)`) and how many (`reach`, `s`
/// included).
fn leaf_terms(
    leaves: &Leaves,
    s: u32,
    reach: u64,
    reached: impl Fn(u32) -> bool,
    acc: &mut RawBetweenness,
) {
    acc.reachable_pairs += reach - 1;
    for &(v, vu, uv) in leaves.of(s) {
        let v_reached = u64::from(reached(v));
        let targets = reach - v_reached;
        acc.reachable_pairs += targets;
        acc.node[s as usize] += (targets - 1) as f64;
        acc.edge[vu as usize] += targets as f64;
        if v_reached == 1 && uv != u32::MAX {
            acc.edge[uv as usize] -= 1.0;
        }
    }
}

/// One source of hop betweenness: level-synchronous BFS counting shortest paths, then the
/// dependencies level by level from the deepest, pushed back along the recorded DAG edges.
///
/// Each level is found top-down (scanning the frontier's out-edges) or bottom-up (scanning
/// the in-edges of every node not reached yet, summing the path counts of those in the
/// frontier), whichever scans fewer edges: on the Lightning graph the frontier two or three
/// hops out holds most hubs, whose edges lead almost only to nodes already reached, while
/// the few nodes left have few in-edges (direction-optimizing BFS, Beamer et al. 2012;
/// path counts need every in-edge of a new node, so the bottom-up step does not stop early).
/// Resets the per-node arrays it touched.
fn hop_source(ag: &ActiveGraph, hx: &HopIndex, leaves: &Leaves, s: u32, h: &mut Hops) {
    let (reached, depth) = hop_levels(ag, hx, s, h);
    hop_dependencies(ag, hx, leaves, s, depth, h);
    let Hops {
        level, order, sums, ..
    } = h;
    let order = &order[..reached];
    leaf_terms(
        leaves,
        s,
        order.len() as u64,
        |v| level[v as usize] != UNSEEN,
        &mut sums.raw,
    );
    for &v in order {
        level[v as usize] = UNSEEN;
    }
}

/// The forward pass of [`hop_source`]: levels, path counts and the shortest-path DAG, level
/// by level top-down or bottom-up. Returns the number of nodes reached and the depth (levels
/// `0..depth` are non-empty).
fn hop_levels(ag: &ActiveGraph, hx: &HopIndex, s: u32, h: &mut Hops) -> (usize, u32) {
    let (out, inn) = (&ag.out, &ag.inn);
    let n = out.off.len() - 1;
    let (nm, mm) = (h.level.len() - 1, h.dag.len() - 1);
    let level = &mut h.level[..=nm];
    let sigma = &mut h.sigma[..=nm];
    let order = &mut h.order[..=nm];
    let dag = &mut h.dag[..=mm];
    let (level_start, dag_start) = (&mut h.level_start, &mut h.dag_start);
    let si = s as usize & nm;
    level[si] = 0;
    sigma[si] = 1.0;
    order[0] = s;
    level_start[0] = 0;
    dag_start[0] = 0;
    dag_start[1] = 0;
    let mut reached = 1;
    // Edges a bottom-up step would scan: the in-edges of nodes not reached yet.
    let mut unreached_in = out.nbr.len() as u64 - u64::from(hx.in_deg[s as usize]);
    let mut frontier_out = u64::from(hx.out_deg[s as usize]);
    let mut k = 0;
    let mut depth = 0u32;
    loop {
        let (lo, hi) = (level_start[depth as usize] as usize, reached);
        level_start[depth as usize + 1] = hi as u32;
        if lo == hi {
            break;
        }
        let next = depth + 1;
        let mut new_out = 0u64;
        if frontier_out > unreached_in + n as u64 / 4 {
            for y in 0..n {
                let y = y & nm;
                if level[y] != UNSEEN {
                    continue;
                }
                let mut sum = 0.0;
                let k0 = k;
                for j in inn.range(y as u32) {
                    let u = inn.nbr[j] as usize & nm;
                    if level[u] == depth {
                        sum += sigma[u];
                        dag[k & mm] = hx.in_to_out[j];
                        k += 1;
                    }
                }
                if k > k0 {
                    level[y] = next;
                    sigma[y] = sum;
                    order[reached & nm] = y as u32;
                    reached += 1;
                    unreached_in -= u64::from(hx.in_deg[y]);
                    new_out += u64::from(hx.out_deg[y]);
                }
            }
        } else {
            for pos in lo..hi {
                let v = order[pos & nm] as usize & nm;
                let sv = sigma[v];
                let r = out.range(v as u32);
                for (i, &x) in r.clone().zip(&out.nbr[r]) {
                    let x = x as usize & nm;
                    let lx = level[x];
                    if lx == UNSEEN {
                        level[x] = next;
                        sigma[x] = sv;
                        order[reached & nm] = x as u32;
                        reached += 1;
                        unreached_in -= u64::from(hx.in_deg[x]);
                        new_out += u64::from(hx.out_deg[x]);
                    } else if lx == next {
                        sigma[x] += sv;
                    }
                    // Written unconditionally, kept only for DAG edges: no branch to
                    // mispredict.
                    dag[k & mm] = i as u32;
                    k += usize::from(lx == UNSEEN || lx == next);
                }
            }
        }
        dag_start[next as usize + 1] = k as u32;
        frontier_out = new_out;
        depth = next;
    }
    (reached, depth)
}

/// The backward pass of [`hop_source`]: dependencies from the deepest level back to the
/// source, pulled along the DAG edges the forward pass recorded.
fn hop_dependencies(
    ag: &ActiveGraph,
    hx: &HopIndex,
    leaves: &Leaves,
    s: u32,
    depth: u32,
    h: &mut Hops,
) {
    let out = &ag.out;
    let (nm, mm) = (h.level.len() - 1, h.dag.len() - 1);
    let sigma = &h.sigma[..=nm];
    let coeff = &mut h.coeff[..=nm];
    let pulled = &mut h.pulled[..=nm];
    let order = &h.order[..=nm];
    let dag = &h.dag[..=mm];
    let edge_out = &mut h.sums.edge_out[..=mm];
    let (level_start, dag_start) = (&h.level_start, &h.dag_start);
    let acc = &mut h.sums.raw;
    let si = s as usize & nm;
    let mult = 1.0 + leaves.of(s).len() as f64;
    for l in (0..depth as usize).rev() {
        for pos in level_start[l] as usize..level_start[l + 1] as usize {
            let v = order[pos & nm] as usize & nm;
            let sv = sigma[v];
            let delta = sv * pulled[v];
            pulled[v] = 0.0;
            coeff[v] = (1.0 + delta) / sv;
            if v != si {
                acc.node[v] += delta * mult;
            }
        }
        if l == 0 {
            break;
        }
        for &i in &dag[dag_start[l] as usize..dag_start[l + 1] as usize] {
            let i = i as usize & mm;
            let c = coeff[out.nbr[i] as usize & nm];
            let v = hx.tail[i] as usize & nm;
            pulled[v] += c;
            edge_out[i] += c * sigma[v] * mult;
        }
    }
}

/// One source of weighted betweenness: Dijkstra counting shortest paths and recording each
/// node's unique tight in-edge (or [`TIE`]), then the dependencies in reverse settle order,
/// pushed to the single predecessor or, for tied nodes, to every tight in-neighbour.
fn weighted_source<C: Cost>(
    ag: &ActiveGraph,
    out: &Adj,
    out_w: &[C],
    in_w: &[C],
    leaves: &Leaves,
    s: u32,
    st: &mut Weighted<C>,
) {
    let inn = &ag.inn;
    let Weighted {
        d,
        sigma,
        delta,
        pred,
        order,
        heap,
        acc,
        ..
    } = st;
    d[s as usize] = C::ZERO;
    sigma[s as usize] = 1.0;
    heap.push(C::ZERO, s);
    while let Some((dv, v)) = heap.pop() {
        let v = v as usize;
        if dv > d[v] {
            continue;
        }
        order.push(v as u32);
        let sv = sigma[v];
        let r = out.range(v as u32);
        for ((&x, &c), &e) in out.nbr[r.clone()]
            .iter()
            .zip(&out_w[r.clone()])
            .zip(&out.eid[r])
        {
            // `out` holds usable edges only.
            let x = x as usize;
            let nd = dv.plus(c);
            let dx = d[x];
            if nd < dx {
                d[x] = nd;
                sigma[x] = sv;
                pred[x] = e;
                heap.push(nd, x as u32);
            } else if nd == dx {
                sigma[x] += sv;
                pred[x] = TIE;
            }
        }
    }
    let mult = 1.0 + leaves.of(s).len() as f64;
    // order[0] is the source: it has no predecessor and is an endpoint of all its pairs.
    for &t in order[1..].iter().rev() {
        let t = t as usize;
        let dt = delta[t];
        acc.node[t] += dt * mult;
        let coeff = (1.0 + dt) / sigma[t];
        let p = pred[t];
        if p != TIE {
            let u = ag.edge_from[p as usize] as usize;
            let x = sigma[u] * coeff;
            delta[u] += x;
            acc.edge[p as usize] += x * mult;
        } else {
            let r = inn.range(t as u32);
            for ((&u, &c), &e) in inn.nbr[r.clone()]
                .iter()
                .zip(&in_w[r.clone()])
                .zip(&inn.eid[r])
            {
                let u = u as usize;
                if c != C::INF && d[u].plus(c) == d[t] {
                    let x = sigma[u] * coeff;
                    delta[u] += x;
                    acc.edge[e as usize] += x * mult;
                }
            }
        }
    }
    leaf_terms(
        leaves,
        s,
        order.len() as u64,
        |v| d[v as usize] != C::INF,
        acc,
    );
}

impl<C: Cost> Weighted<C> {
    /// Clears what the last search wrote.
    fn reset(&mut self) {
        for &v in &self.order {
            let v = v as usize;
            self.d[v] = C::INF;
            self.sigma[v] = 0.0;
            self.delta[v] = 0.0;
        }
        self.order.clear();
        self.heap.clear();
    }
}

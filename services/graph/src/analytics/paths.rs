//! Shortest-path metrics on the [`ActiveGraph`]: exact betweenness (Brandes, node and edge),
//! closeness, and the hop diameter. Sources run in parallel on rayon's pool: one state per
//! worker thread (scratch arrays reset sparsely per source, and partial sums), sources taken
//! a few at a time from a shared counter, the partial sums added at the end: no lock in the
//! searches, no allocation per source.
//!
//! Kernels: hop counts run a breadth-first search whose backward pass pulls dependencies
//! along the out-edges; weighted searches run Dijkstra (radix heap for integer costs) and
//! remember each node's unique tight in-edge, so the backward pass re-checks in-edges only
//! for nodes with tied shortest paths. For integer costs, edges longer than the distance
//! between their endpoints (*dominated*: on no shortest path) are dropped between rounds of
//! sources, as the searches find them (see [`pruned_searches`]).
//!
//! Degree-1 folding: a *leaf* is a node with exactly one neighbour `u` (in either direction)
//! where `u` itself has at least two. Every shortest path from a leaf `v` is the hop `v -> u`
//! followed by a shortest path from `u`, with the same path counts, and no shortest path
//! passes through a leaf. So leaves are not run as sources: `u`'s dependencies are counted
//! `1 + L(u)` times (`L(u)` = leaves of `u` with a usable hop into `u`) and the few terms that
//! differ (the dependency of `u` itself, the hops `v -> u` and `u -> v`) are added in closed
//! form. Closeness folds leaves the same way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

use super::graph::{ActiveGraph, Adj, Cost};

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

/// Runs `work` on every item of `items` on rayon's pool with one state per worker (taken
/// from `pool`, or made by `init`, when the worker takes its first chunk) and returns every
/// state, the unused ones from `pool` included. Workers take `chunk` items at a time from a
/// shared counter, so the load balances itself without splitting the state: no per-source or
/// per-split allocation, one accumulator per thread.
fn per_worker<T: Sync, S: Send>(
    items: &[T],
    chunk: usize,
    pool: Vec<S>,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) + Sync,
) -> Vec<S> {
    let next = AtomicUsize::new(0);
    let pool = Mutex::new(pool);
    let take = || {
        pool.lock()
            .ok()
            .and_then(|mut p| p.pop())
            .unwrap_or_else(&init)
    };
    let workers = rayon::current_num_threads()
        .min(items.len().div_ceil(chunk))
        .max(1);
    let mut used: Vec<S> = (0..workers)
        .into_par_iter()
        .with_max_len(1)
        .filter_map(|_| {
            let mut state: Option<S> = None;
            loop {
                let start = next.fetch_add(chunk, Ordering::Relaxed);
                if start >= items.len() {
                    return state;
                }
                let st = state.get_or_insert_with(take);
                for item in &items[start..(start + chunk).min(items.len())] {
                    work(st, item);
                }
            }
        })
        .collect();
    used.extend(pool.into_inner().unwrap_or_else(|e| e.into_inner()));
    used
}

/// The part of an adjacency searches still need, with its weights: no unusable edge (weight
/// [`Cost::INF`]), no out-edge of a folded leaf (no search other than the leaf's own can use
/// it: every path to the leaf arrives from its one neighbour) and no edge found *dominated*
/// (see [`pruned_searches`]).
fn live_adjacency<C: Cost>(adj: &Adj, w: &[C], is_leaf: &[bool], dead: &[bool]) -> (Adj, Vec<C>) {
    let n = adj.off.len() - 1;
    let mut live = Adj {
        off: Vec::with_capacity(n + 1),
        nbr: Vec::with_capacity(adj.nbr.len()),
        eid: Vec::with_capacity(adj.nbr.len()),
    };
    let mut lw = Vec::with_capacity(adj.nbr.len());
    live.off.push(0);
    for v in 0..n as u32 {
        if !is_leaf[v as usize] {
            for i in adj.range(v) {
                if w[i] != C::INF && !dead[adj.eid[i] as usize] {
                    live.nbr.push(adj.nbr[i]);
                    live.eid.push(adj.eid[i]);
                    lw.push(w[i]);
                }
            }
        }
        live.off.push(live.nbr.len() as u32);
    }
    (live, lw)
}

/// Sources per round of [`pruned_searches`]: the adjacency is rebuilt after each.
const ROUNDS: [usize; 4] = [16, 64, 256, 1024];

/// Runs weighted searches from `sources` (best first: most edges along `adj` first) in rounds,
/// dropping *dominated* edges between rounds. An edge `u -> v` of weight `w` is dominated when
/// `dist(u, v) < w`: then no shortest path from any source uses it (it would make
/// `dist(s, v) = dist(s, u) + w > dist(s, u) + dist(u, v)`), so dropping it changes no
/// distance, no path count and no tie. The search from `u` itself gives `dist(u, .)`, so
/// `work(state, live adjacency, live weights, s, dead)` pushes the ids of `s`'s dominated
/// out-edges (along the full `adj`) to `dead`; `dead_of` gives a state's list. Only exact for
/// integer costs (floating-point sums are not associative), so `C::EXACT` gates the pruning.
#[allow(clippy::too_many_arguments)]
fn pruned_searches<C: Cost, S: Send>(
    adj: &Adj,
    w: &[C],
    is_leaf: &[bool],
    m: usize,
    sources: &mut [u32],
    init: impl Fn() -> S + Sync,
    dead_of: impl Fn(&mut S) -> &mut Vec<u32>,
    work: impl Fn(&mut S, &Adj, &[C], u32) + Sync,
) -> Vec<S> {
    sources.sort_by_key(|&v| std::cmp::Reverse(adj.range(v).len()));
    let mut dead = vec![false; m];
    let mut states = Vec::new();
    let mut start = 0;
    for round in 0.. {
        if start >= sources.len() {
            break;
        }
        let end = match ROUNDS.get(round) {
            Some(&k) if C::EXACT => k.min(sources.len()),
            _ => sources.len(),
        };
        let (live, lw) = live_adjacency(adj, w, is_leaf, &dead);
        states = per_worker(&sources[start..end], 4, states, &init, |st, &s| {
            work(st, &live, &lw, s)
        });
        for st in &mut states {
            for e in dead_of(st).drain(..) {
                dead[e as usize] = true;
            }
        }
        start = end;
    }
    states
}

/// Pushes to `dead` the ids of `s`'s out-edges along `adj` (weights `w`) that are longer
/// than the distance `d` to their head, found by the search from `s` (see
/// [`pruned_searches`]).
fn dominated_out_edges<C: Cost>(adj: &Adj, w: &[C], d: &[C], s: u32, dead: &mut Vec<u32>) {
    if !C::EXACT {
        return;
    }
    for i in adj.range(s) {
        if w[i] != C::INF && d[adj.nbr[i] as usize] < w[i] {
            dead.push(adj.eid[i]);
        }
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

impl RawBetweenness {
    fn zero(n: usize, m: usize) -> Self {
        RawBetweenness {
            node: vec![0.0; n],
            edge: vec![0.0; m],
            reachable_pairs: 0,
        }
    }
    fn add(&mut self, o: &RawBetweenness) {
        self.node.iter_mut().zip(&o.node).for_each(|(a, b)| *a += b);
        self.edge.iter_mut().zip(&o.edge).for_each(|(a, b)| *a += b);
        self.reachable_pairs += o.reachable_pairs;
    }
}

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
    /// Edge dependencies by out-adjacency position.
    edge_out: Vec<f64>,
    /// Partial sums; `acc.edge` (closed-form leaf terms) by collapsed edge id.
    acc: RawBetweenness,
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
        per_worker(
            &sources,
            4,
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
                    edge_out: vec![0.0; m2],
                    acc: RawBetweenness::zero(n, m),
                }
            },
            |h, &s| hop_source(ag, &hop_index, &leaves, s, h),
        )
        .into_iter()
        .map(|mut h| {
            for (&x, &e) in h.edge_out.iter().zip(&ag.out.eid) {
                h.acc.edge[e as usize] += x;
            }
            h.acc
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
        .into_iter()
        .map(|st| st.acc)
        .collect()
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
    let (out, inn) = (&ag.out, &ag.inn);
    let n = out.off.len() - 1;
    let (nm, mm) = (h.level.len() - 1, h.edge_out.len() - 1);
    let level = &mut h.level[..=nm];
    let sigma = &mut h.sigma[..=nm];
    let coeff = &mut h.coeff[..=nm];
    let pulled = &mut h.pulled[..=nm];
    let order = &mut h.order[..=nm];
    let dag = &mut h.dag[..=mm];
    let edge_out = &mut h.edge_out[..=mm];
    let (level_start, dag_start) = (&mut h.level_start, &mut h.dag_start);
    let acc = &mut h.acc;
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
    // Levels 0..depth are non-empty; dependencies from the deepest level back to the source.
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
    let order = &order[..reached];
    leaf_terms(
        leaves,
        s,
        order.len() as u64,
        |v| level[v as usize] != UNSEEN,
        acc,
    );
    for &v in order {
        level[v as usize] = UNSEEN;
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
        || (Dist::<C>::new(n), Vec::<(u32, Reach)>::new(), Vec::new()),
        |(_, _, dead)| dead,
        |(sc, found, dead), live, live_w, s| {
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
    for (_, found, _) in parts {
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

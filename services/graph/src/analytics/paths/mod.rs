//! Shortest-path metrics on the [`ActiveGraph`](super::ActiveGraph): exact betweenness
//! (Brandes, node and edge), closeness, and the hop diameter. Sources run in parallel on
//! rayon's pool: one state per worker thread (scratch arrays reset sparsely per source, and
//! partial sums), sources taken a few at a time from a shared counter, the partial sums added
//! at the end: no lock in the searches, no allocation per source.
//!
//! Kernels: hop counts run a breadth-first search whose backward pass pulls dependencies
//! along the out-edges; weighted searches run Dijkstra (the crate's radix heap for integer costs) and
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
//!
//! Files: this one holds what the metrics share (queues, leaf folding, the per-worker pool,
//! dominated-edge pruning); `brandes.rs` betweenness, `closeness.rs` closeness and the hop
//! diameter.

mod brandes;
mod closeness;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use rayon::prelude::*;

pub(crate) use brandes::betweenness;
pub(crate) use closeness::{closeness, hop_diameter};

use super::graph::{Adj, Cost};
use crate::radix::RadixHeap;

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

/// The shared radix heap ([`crate::radix`]) for integer costs.
impl Queue<u64> for RadixHeap {
    #[inline]
    fn push(&mut self, cost: u64, v: u32) {
        RadixHeap::push(self, cost, v);
    }
    #[inline]
    fn pop(&mut self) -> Option<(u64, u32)> {
        RadixHeap::pop(self)
    }
    fn clear(&mut self) {
        RadixHeap::clear(self);
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

/// Accumulators of [`per_worker_ordered`]: a fixed number, so that sums do not depend on the
/// number of threads either.
const SLOTS: usize = 16;

/// A search state whose results add up over sources: `sums` is the part that does
/// (betweenness partial sums, per-source closeness results), `empty_sums` a fresh one.
pub(super) trait Sums: Send {
    type Acc: Send;
    fn sums(&mut self) -> &mut Self::Acc;
    fn empty_sums(&self) -> Self::Acc;
}

/// Like [`per_worker`], but the sums come out the same whatever the scheduling: item
/// `first + i` goes to accumulator `(first + i) % SLOTS` of `slots`, each accumulator takes
/// its items in order on one worker at a time (swapped into that worker's state), and the
/// caller adds the accumulators up in slot order. Floating-point addition is not
/// associative: with one accumulator per worker, which sources a worker happened to take
/// changed the last bits of a sum from run to run, and two nodes whose betweenness ties
/// exactly in one run could differ in the next, which moves their percentiles and every rank
/// built on them (a backfilled day then disagreed with the same day computed again).
fn per_worker_ordered<T: Sync, S: Sums>(
    items: &[T],
    first: usize,
    slots: &[Mutex<Option<S::Acc>>],
    pool: Vec<S>,
    init: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, &T) + Sync,
) -> Vec<S> {
    let k = slots.len();
    let ids: Vec<usize> = (0..k).collect();
    per_worker(&ids, 1, pool, init, |st, &slot| {
        // The first item `i` with `(first + i) % k == slot`.
        let start = (slot + k - first % k) % k;
        if start >= items.len() {
            return;
        }
        let mut held = slots[slot].lock().unwrap_or_else(|e| e.into_inner());
        let mut acc = held.take().unwrap_or_else(|| st.empty_sums());
        std::mem::swap(st.sums(), &mut acc);
        for item in items[start..].iter().step_by(k) {
            work(st, item);
        }
        std::mem::swap(st.sums(), &mut acc);
        *held = Some(acc);
    })
}

/// Fresh, empty accumulators for [`per_worker_ordered`].
fn new_slots<A>() -> Vec<Mutex<Option<A>>> {
    (0..SLOTS).map(|_| Mutex::new(None)).collect()
}

/// The accumulators that took items, in slot order.
fn into_sums<A>(slots: Vec<Mutex<Option<A>>>) -> Vec<A> {
    slots
        .into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
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
/// Returns the sums (see [`per_worker_ordered`]) in slot order.
#[allow(clippy::too_many_arguments)]
fn pruned_searches<C: Cost, S: Sums>(
    adj: &Adj,
    w: &[C],
    is_leaf: &[bool],
    m: usize,
    sources: &mut [u32],
    init: impl Fn() -> S + Sync,
    dead_of: impl Fn(&mut S) -> &mut Vec<u32>,
    work: impl Fn(&mut S, &Adj, &[C], u32) + Sync,
) -> Vec<S::Acc> {
    sources.sort_by_key(|&v| std::cmp::Reverse(adj.range(v).len()));
    let mut dead = vec![false; m];
    let mut states = Vec::new();
    let slots = new_slots();
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
        states = per_worker_ordered(
            &sources[start..end],
            start,
            &slots,
            states,
            &init,
            |st, &s| work(st, &live, &lw, s),
        );
        for st in &mut states {
            for e in dead_of(st).drain(..) {
                dead[e as usize] = true;
            }
        }
        start = end;
    }
    into_sums(slots)
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

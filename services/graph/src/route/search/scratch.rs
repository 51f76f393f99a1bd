//! The searches' per-thread state: per-node arrays stamped with a generation number, so that
//! a query costs nothing proportional to the graph's size, and the queues and label buffers,
//! kept between queries.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::labels::Label;
use super::NONE;
use crate::radix::RadixHeap;
use crate::route::index::{RoutingIndex, LANDMARKS};

/// Capacity of the per-thread label and heap buffers kept between queries; a search that grew
/// them past it gives the memory back at the next query.
const RETAINED_BUFFER: usize = 1 << 16;

/// What a relaxation reads and writes of the tail node, in one aligned half cache line: a
/// search relaxes tens of edges per node it settles, into nodes all over the graph, and a
/// query's time is mostly cache misses (the same query repeated runs two to three times
/// faster than the first time). Kept in six arrays, a relaxation missed up to six times.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(super) struct NodeState {
    /// The label's amount.
    pub dist: u64,
    /// The label's cost (probability and balanced models).
    pub cost: f64,
    pub seen: u32,
    pub settled: u32,
    pub parent: u32,
    pub cltv: u32,
}

impl Default for NodeState {
    fn default() -> Self {
        NodeState {
            dist: 0,
            cost: 0.0,
            seen: 0,
            settled: 0,
            parent: NONE,
            cltv: 0,
        }
    }
}

/// What a fee bound evaluation reads of a node (besides the index's landmark row).
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(super) struct BoundState {
    /// The cached bound, valid when `h_gen` is the scratch's `h_stamp`.
    pub h: u64,
    pub h_gen: u32,
    /// Stamped with the generation when the node is the head of a usable first hop.
    pub first_hop: u32,
}

/// The forward ball's state of a node (stamped with the ball's generation).
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(super) struct BallState {
    pub dist: u64,
    pub done: u32,
    pub seen: u32,
}

/// Per-thread reusable search state; arrays are stamped with a generation number so a query
/// costs nothing proportional to the graph size.
#[derive(Default)]
pub(crate) struct Scratch {
    pub(super) gen: u32,
    /// What every relaxation reads and writes of a node, together (see [`NodeState`]).
    pub(super) node: Vec<NodeState>,
    pub(super) hops: Vec<u8>,
    /// Per node, what a fee bound evaluation reads (see [`BoundState`]).
    pub(super) bounds: Vec<BoundState>,
    /// What `BoundState::h_gen` is compared with: renewed with every generation, and when
    /// the forward ball raises the bounds mid-search.
    pub(super) h_stamp: u32,
    pub(super) excl_node: Vec<u32>,
    pub(super) excl_chan: Vec<u32>,
    pub(super) heap: BinaryHeap<Reverse<(u64, u32)>>,
    /// The fee and probability searches' queue (their keys are monotone: integers, or
    /// non-negative f64 costs by their bits).
    pub(super) rheap: RadixHeap,
    /// The forward ball (see `forward_ball`): its own generation, so it outlives the
    /// fee search's several passes; distances, settled stamps, queue.
    pub(super) f_on: bool,
    pub(super) f_gen: u32,
    pub(super) ball: Vec<BallState>,
    pub(super) f_heap: RadixHeap,
    pub(super) f_size: usize,
    /// Least forward distance of any node outside the ball; `INF` when the ball holds every
    /// node the source reaches.
    pub(super) f_radius: u64,
    pub(super) labels: Vec<Label>,
    pub(super) head: Vec<u32>,
    pub(super) head_gen: Vec<u32>,
    pub(super) stack: Vec<u32>,
    /// Label searches only: least cltv deltas and fewest hops from the source to each node
    /// (see `limit_bounds`).
    pub(super) lb_cltv: Vec<u32>,
    pub(super) lb_hops: Vec<u8>,
    /// Per-query landmark offsets (see `begin_search`).
    pub(super) lm_a: [u32; LANDMARKS],
    pub(super) lm_b: [u32; LANDMARKS],
    /// Least `-ln P` of any usable first hop of the source.
    pub(super) first_neg_ln_p: f64,

    pub(super) bucket: usize,
    /// The payment amount: labels above it get the landmark and ball bounds (see `bound`).
    pub(super) amount: u64,
    pub(super) any_excluded: bool,
    /// The most the source can send over any one of its usable first channels: no label
    /// whose amount plus fee bound exceeds it can end in a route.
    pub(super) src_cap: u64,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

#[cfg(test)]
pub(crate) fn buffer_lens() -> (usize, usize) {
    SCRATCH.with(|cell| {
        let sc = cell.borrow();
        (sc.labels.len(), sc.heap.len())
    })
}

/// Runs `f` with this thread's scratch prepared for `idx` and a fresh generation.
pub(crate) fn with_scratch<R>(idx: &RoutingIndex, f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| {
        let mut sc = cell.borrow_mut();
        sc.prepare(idx.n, idx.snapshot.channel_count());
        f(&mut sc)
    })
}

impl Scratch {
    fn prepare(&mut self, n: usize, channels: usize) {
        // Any reallocation restarts the generations, so every stamped array is renewed.
        if self.node.len() < n || self.excl_chan.len() < channels {
            let n = n.max(self.node.len());
            self.excl_chan = vec![0; channels.max(self.excl_chan.len())];
            self.node = vec![NodeState::default(); n];
            self.hops = vec![0; n];
            self.bounds = vec![BoundState::default(); n];
            self.h_stamp = 0;

            self.excl_node = vec![0; n];
            self.head = vec![NONE; n];
            self.head_gen = vec![0; n];
            self.ball = vec![BallState::default(); n];
            self.f_gen = 0;
            self.gen = 0;
        }
        self.f_on = false;
        self.labels.shrink_to(RETAINED_BUFFER);
        self.heap.shrink_to(RETAINED_BUFFER);
        self.rheap.shrink_to(RETAINED_BUFFER);
        self.next_gen();
    }

    pub(super) fn next_h_stamp(&mut self) {
        self.h_stamp = self.h_stamp.wrapping_add(1);
        if self.h_stamp == 0 {
            self.bounds.iter_mut().for_each(|x| x.h_gen = 0);
            self.h_stamp = 1;
        }
    }

    pub(super) fn next_gen(&mut self) {
        self.next_h_stamp();
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            for x in &mut self.node {
                (x.seen, x.settled) = (0, 0);
            }
            self.bounds.iter_mut().for_each(|x| x.first_hop = 0);
            for v in [&mut self.excl_node, &mut self.excl_chan, &mut self.head_gen] {
                v.iter_mut().for_each(|x| *x = 0);
            }
            self.gen = 1;
        }
        self.heap.clear();
        self.rheap.clear();
        self.labels.clear();
    }
}

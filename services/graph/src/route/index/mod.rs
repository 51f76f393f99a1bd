//! # The routing index
//!
//! A compact, search-friendly copy of a [`Snapshot`]'s enabled edges, plus the precomputed
//! data that makes queries fast (landmark fee bounds, fee orders, reachability). Built once
//! per snapshot; read-only afterwards, so it is shared freely between threads. It must not
//! hold per-query state (that lives in the searches' thread-local scratch).
//!
//! ## Layout
//! A query's time is mostly cache misses, not instructions (the same query repeated runs two
//! to three times faster than the first time), so the index is laid out for what one search
//! step reads. Each part is one struct with its own file:
//! * **Node numbering** ([`NodeOrder`], `nodes.rs`). Nodes are numbered in the index's own
//!   order, not the snapshot's: the snapshot sorts nodes by id, which scatters neighbours
//!   over memory. Breadth-first from the best-connected node, a hub's neighbours sit next to
//!   each other and the busy core of the graph packs into a few cache-resident pages.
//!   Requests and routes speak snapshot ids; the index maps them at the boundary.
//! * **Edges** ([`Edges`], `edges.rs`). The searches run from the destination back to the
//!   source, so the main adjacency is reverse: node `v`'s in-edges are the *slots*
//!   `in_off[v]..in_off[v+1]`, in two parts split at `in_mid[v]` (edges whose tail has
//!   another in-neighbour first; tails that can only be entered from `v` last, since they
//!   matter only as the payer), each sorted by htlc_max, largest first, so a scan stops at
//!   the first edge that cannot carry its label. What a scan reads of a slot is one
//!   [`HotEdge`] (limits, tail, fee, cltv: half a cache line, aligned); the head, snapshot
//!   edge and capacity are cold per-slot arrays. A forward adjacency over the same slots
//!   lists each node's out-edges, with the forward ball's fields as contiguous [`OutEdge`]
//!   runs.
//! * **Per landmark bucket** ([`FeeOrders`], [`InBounds`], `buckets.rs`). Bounds are
//!   precomputed for the amounts of [`LANDMARK_BUCKETS_MSAT`]; a query uses the largest
//!   bucket at or below its amount (every hop forwards at least the amount and fees grow with
//!   it, so fees at the bucket amount are lower bounds). Per bucket: every in-edge part and
//!   out-edge list ordered by fee at the bucket amount (hubs' lists are scanned lazily in that
//!   order), and per node the cheapest fee and the largest capacity of its in-edges that can
//!   carry the bucket amount.
//! * **Landmark tables** ([`Landmarks`], `landmarks.rs`). [`LANDMARKS`] landmarks spread over
//!   the hub's strongly connected part; per bucket and node one [`LandmarkRow`] (one cache
//!   line: the fee distances from and to every landmark as `u32`, saturating at [`LM_SAT`]).
//!   They give the searches' A* bound. A payer's index may borrow them from the cached index
//!   ([`RoutingIndex::build_with_landmarks_of`]).
//! * **Reachability** ([`Reachability`], `nodes.rs`). Who reaches the hub (index node 0) and
//!   is reached from it: "is there a path at all" in O(1) for most pairs.

mod buckets;
mod edges;
mod landmarks;
mod nodes;

use std::sync::Arc;

pub(crate) use buckets::{FeeOrders, InBounds};
pub(crate) use edges::{Edges, HotEdge, OutEdge};
pub(crate) use landmarks::Landmarks;
pub(crate) use nodes::{NodeOrder, Reachability};

pub(crate) use crate::snapshot::policy_fee;
use crate::snapshot::{NodeIdx, Snapshot};
use crate::types::NodeId;

/// Query amounts (msat) for which landmark distances are precomputed. A query of amount A
/// uses the largest bucket <= A: every hop forwards at least A, fees are monotone in the
/// amount, so fees at the bucket amount are lower bounds on the real fees (admissible).
pub(crate) const LANDMARK_BUCKETS_MSAT: [u64; 5] =
    [0, 1_000_000, 10_000_000, 100_000_000, 1_000_000_000];
/// Number of landmarks (ALT). Eight is the usual sweet spot between bound quality and memory.
pub(crate) const LANDMARKS: usize = 8;
/// "Unreachable" in search bounds.
pub(crate) const INF: u64 = u64::MAX;
/// "Unreachable" in the compact landmark table.
pub(crate) const LM_INF: u32 = u32::MAX;
/// "At least this much" in the compact landmark table (distances are stored as u32 to keep
/// a node's 16 distances in one cache line; larger ones saturate here, which the bound
/// handles so that it stays admissible).
pub(crate) const LM_SAT: u32 = u32::MAX - 1;

/// The routing index of one snapshot (see the module documentation for its layout).
#[derive(Debug)]
pub struct RoutingIndex {
    pub(in crate::route) snapshot: Arc<Snapshot>,
    /// Number of nodes (the snapshot's).
    pub(in crate::route) n: usize,
    pub(in crate::route) nodes: NodeOrder,
    pub(in crate::route) edges: Edges,
    pub(in crate::route) orders: FeeOrders,
    pub(in crate::route) in_bounds: InBounds,
    pub(in crate::route) landmarks: Landmarks,
    pub(in crate::route) reach: Reachability,
}

impl RoutingIndex {
    /// Everything but the landmark tables, nodes numbered as `nodes` says.
    fn without_landmarks(snapshot: Arc<Snapshot>, nodes: NodeOrder) -> RoutingIndex {
        let n = snapshot.node_count();
        debug_assert_eq!(nodes.len(), n);
        let edges = Edges::build(&snapshot, nodes.order(), nodes.rank());
        let orders = FeeOrders::build(&edges);
        let in_bounds = InBounds::build(&edges, n);
        let reach = Reachability::new(&edges, n);
        RoutingIndex {
            snapshot,
            n,
            nodes,
            edges,
            orders,
            in_bounds,
            landmarks: Landmarks::default(),
            reach,
        }
    }

    /// Builds the index (compact arrays, reachability, landmark tables; rayon-parallel).
    pub fn build(snapshot: Arc<Snapshot>) -> RoutingIndex {
        let nodes = NodeOrder::by_locality(&snapshot);
        let mut idx = Self::without_landmarks(snapshot, nodes);
        idx.landmarks = Landmarks::compute(&idx.edges, &idx.reach, idx.n);
        idx
    }

    /// Builds the index of a payer's variant of `base`'s graph, borrowing `base`'s landmark
    /// tables instead of computing new ones (which is most of the cost of a build).
    ///
    /// The bounds stay admissible only if, compared with `base`, `snapshot` *adds* no edge
    /// except edges out of the payer (its own channels, whose hop is free) and edges into the
    /// payee or into nodes `base` does not have (route hints), and otherwise only removes
    /// edges or lowers their limits: a shortest fee path between two other nodes can then
    /// only get longer, and landmark distances of `base` still bound it from below. Nodes
    /// `base` does not have get no landmark bound. The caller checks the condition.
    ///
    /// A `base` without landmark tables (an empty graph: a node whose channels are all
    /// private) has nothing to lend: the index is then built whole.
    pub fn build_with_landmarks_of(snapshot: Arc<Snapshot>, base: &RoutingIndex) -> RoutingIndex {
        if base.landmarks.is_empty() {
            return Self::build(snapshot);
        }
        // The base's order where it has the node (its neighbourhoods are this graph's, less
        // a few edges), new nodes last: cheaper than ordering afresh for every payment.
        let in_base: Vec<Option<u32>> = (0..snapshot.node_count() as NodeIdx)
            .map(|u| base.node_by_id(&snapshot.node(u).id))
            .collect();
        let mut order: Vec<NodeIdx> = (0..snapshot.node_count() as NodeIdx).collect();
        order.sort_by_key(|&u| (in_base[u as usize].unwrap_or(u32::MAX), u));
        let mut idx = Self::without_landmarks(snapshot, NodeOrder::new(order));
        if idx.n == 0 {
            return idx;
        }
        let order = idx.nodes.order();
        idx.landmarks = Landmarks::borrowed(&base.landmarks, idx.n, |u| in_base[order[u] as usize]);
        idx
    }

    /// The snapshot this index was built from.
    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// Bytes held by the index's own arrays (the snapshot itself is not counted).
    pub fn heap_bytes(&self) -> usize {
        self.nodes.heap_bytes()
            + self.edges.heap_bytes()
            + self.orders.heap_bytes()
            + self.in_bounds.heap_bytes()
            + self.landmarks.heap_bytes()
            + self.reach.heap_bytes()
    }

    /// Number of enabled directed edges in the index.
    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    /// Most labels one label-setting search (the fee model's steps 2 and 3, see the search
    /// module) may create: [`LABELS_PER_GRAPH_ELEMENT`] per node and per enabled edge, within
    /// [`MIN_LABEL_BUDGET`]..=[`MAX_LABEL_BUDGET`].
    ///
    /// [`LABELS_PER_GRAPH_ELEMENT`]: super::LABELS_PER_GRAPH_ELEMENT
    /// [`MIN_LABEL_BUDGET`]: super::MIN_LABEL_BUDGET
    /// [`MAX_LABEL_BUDGET`]: super::MAX_LABEL_BUDGET
    pub fn label_budget(&self) -> usize {
        use super::search::{LABELS_PER_GRAPH_ELEMENT, MAX_LABEL_BUDGET, MIN_LABEL_BUDGET};
        (self.n + self.edge_count())
            .saturating_mul(LABELS_PER_GRAPH_ELEMENT)
            .clamp(MIN_LABEL_BUDGET, MAX_LABEL_BUDGET)
    }

    /// The index's node for a snapshot node.
    #[inline]
    pub(crate) fn node_of(&self, u: NodeIdx) -> u32 {
        self.nodes.index_of(u)
    }

    /// The index's node for a node id, if the snapshot has it.
    pub(crate) fn node_by_id(&self, id: &NodeId) -> Option<u32> {
        self.snapshot.node_idx(id).map(|u| self.node_of(u))
    }

    /// Index of the landmark bucket for a query amount.
    pub(crate) fn bucket_for(amount: u64) -> usize {
        LANDMARK_BUCKETS_MSAT
            .iter()
            .rposition(|&b| b <= amount)
            .unwrap_or(0)
    }
}

//! The index's node numbering (breadth-first from the best-connected node) and the
//! reachability of its hub, which answers most "is there any path" questions in O(1).

use std::collections::VecDeque;

use super::edges::Edges;
use crate::snapshot::{NodeIdx, Snapshot};

/// The index's own node numbering: `order[i]` is the snapshot node of index node `i`, `rank`
/// its inverse (see the [index documentation](super) for why).
#[derive(Debug)]
pub(crate) struct NodeOrder {
    order: Vec<NodeIdx>,
    rank: Vec<u32>,
}

impl NodeOrder {
    /// The numbering that lists the snapshot's nodes as `order` does.
    pub(super) fn new(order: Vec<NodeIdx>) -> NodeOrder {
        let mut rank = vec![0u32; order.len()];
        for (i, &u) in order.iter().enumerate() {
            rank[u as usize] = i as u32;
        }
        NodeOrder { order, rank }
    }

    /// The locality order of `g` (see [`locality_order`]).
    pub(super) fn by_locality(g: &Snapshot) -> NodeOrder {
        NodeOrder::new(locality_order(g))
    }

    /// Number of nodes.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// The snapshot node of each index node, in index order.
    #[inline]
    pub(crate) fn order(&self) -> &[NodeIdx] {
        &self.order
    }

    /// The index node of each snapshot node.
    #[inline]
    pub(crate) fn rank(&self) -> &[u32] {
        &self.rank
    }

    /// The index node of snapshot node `u`.
    #[inline]
    pub(crate) fn index_of(&self, u: NodeIdx) -> u32 {
        self.rank[u as usize]
    }

    pub(super) fn heap_bytes(&self) -> usize {
        4 * (self.order.capacity() + self.rank.capacity())
    }
}

/// The index's node order: breadth-first over enabled edges (either direction) from the node
/// with the most, each node's unplaced neighbours best-connected first; every further
/// component likewise from its best-connected node. Ties go to the lower snapshot index, so
/// the order is a function of the graph.
fn locality_order(g: &Snapshot) -> Vec<NodeIdx> {
    let n = g.node_count();
    let enabled = |edges: &[u32]| edges.iter().filter(|&&e| g.edge_enabled(e)).count();
    let degree: Vec<usize> = (0..n as NodeIdx)
        .map(|u| enabled(g.out_edges(u)) + enabled(g.in_edges(u)))
        .collect();
    let best_connected_first = |&u: &NodeIdx| (std::cmp::Reverse(degree[u as usize]), u);
    let mut starts: Vec<NodeIdx> = (0..n as NodeIdx).collect();
    starts.sort_by_key(best_connected_first);
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    let mut next = Vec::new();
    for start in starts {
        if placed[start as usize] {
            continue;
        }
        placed[start as usize] = true;
        order.push(start);
        let mut head = order.len() - 1;
        while let Some(&u) = order.get(head) {
            head += 1;
            next.clear();
            let outs = g.out_edges(u).iter().map(|&e| (e, g.edge_to(e)));
            let ins = g.in_edges(u).iter().map(|&e| (e, g.edge_from(e)));
            next.extend(
                outs.chain(ins)
                    .filter(|&(e, v)| g.edge_enabled(e) && !placed[v as usize])
                    .map(|(_, v)| v),
            );
            next.sort_by_key(best_connected_first);
            next.dedup();
            for &v in &next {
                placed[v as usize] = true;
            }
            order.extend_from_slice(&next);
        }
    }
    order
}

/// The reachability hub (index node 0: the order starts at the best-connected node, and a
/// payer's view keeps its base's order) and who reaches it / is reached from it.
#[derive(Debug)]
pub(crate) struct Reachability {
    hub: u32,
    reaches_hub: Vec<bool>,
    reached_from_hub: Vec<bool>,
}

impl Reachability {
    pub(super) fn new(edges: &Edges, n: usize) -> Reachability {
        let hub = 0;
        if n == 0 {
            return Reachability {
                hub,
                reaches_hub: Vec::new(),
                reached_from_hub: Vec::new(),
            };
        }
        Reachability {
            hub,
            reached_from_hub: bfs(edges, n, hub, true),
            reaches_hub: bfs(edges, n, hub, false),
        }
    }

    /// The hub.
    #[inline]
    pub(crate) fn hub(&self) -> u32 {
        self.hub
    }

    /// Whether `u` reaches the hub.
    #[inline]
    pub(crate) fn reaches_hub(&self, u: u32) -> bool {
        self.reaches_hub[u as usize]
    }

    /// Whether the hub reaches `u`.
    #[inline]
    pub(crate) fn reached_from_hub(&self, u: u32) -> bool {
        self.reached_from_hub[u as usize]
    }

    /// Whether `u` lies in the hub's strongly connected part.
    #[inline]
    pub(crate) fn in_core(&self, u: u32) -> bool {
        self.reaches_hub(u) && self.reached_from_hub(u)
    }

    pub(super) fn heap_bytes(&self) -> usize {
        self.reaches_hub.capacity() + self.reached_from_hub.capacity()
    }
}

/// Nodes reachable from (`forward`) or reaching (`!forward`) `start` over enabled edges.
fn bfs(edges: &Edges, n: usize, start: u32, forward: bool) -> Vec<bool> {
    let mut seen = vec![false; n];
    let mut queue = VecDeque::from([start]);
    seen[start as usize] = true;
    while let Some(x) = queue.pop_front() {
        let mut visit = |y: u32| {
            if !seen[y as usize] {
                seen[y as usize] = true;
                queue.push_back(y);
            }
        };
        if forward {
            for &s in edges.out_slots(x) {
                visit(edges.to(s as usize));
            }
        } else {
            for s in edges.in_slots(x) {
                visit(edges.from(s));
            }
        }
    }
    seen
}

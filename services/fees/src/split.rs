//! The *split* graph every scenario routes on: the node under study N's outgoing directions
//! moved onto made-up channels.
//!
//! The router can exclude a channel, not a direction; but "the best route avoiding N -> peer"
//! must still be allowed to come in over peer -> N. So each channel of N that has a policy in
//! the direction leaving N is split in two: the real scid keeps only the direction into N,
//! and a made-up scid (not in the graph, from the top of the scid space down) carries the
//! direction out of N, with the same endpoints, capacity and policy. Excluding the made-up
//! scid forbids exactly N -> peer. Routing on the split graph is routing on the real one:
//! the same directed edges with the same policies, under other names; [`Split::unsplit`] gives
//! a route its real scids back.
//!
//! Nodes keep their indexes (every node of the real snapshot is added, sorted by id as
//! always), so a `NodeIdx` means the same node in both graphs.

use std::collections::{HashMap, HashSet};

use switchyard_graph::load::{ChannelRecord, NodeRecord, Record};
use switchyard_graph::route::Route;
use switchyard_graph::{Channel, EdgeIdx, GraphBuilder, NodeIdx, Scid, Snapshot};

/// One of N's outgoing directions and its made-up channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FakeDir {
    /// The direction in the real snapshot.
    pub edge: EdgeIdx,
    pub real: Scid,
    pub fake: Scid,
    /// The made-up direction in the split snapshot.
    pub fake_edge: EdgeIdx,
}

/// N's split directions: looked up by real edge or by made-up scid.
#[derive(Debug, Clone, Default)]
pub(crate) struct Split {
    /// Sorted by `edge`.
    dirs: Vec<FakeDir>,
    by_fake: HashMap<Scid, usize>,
}

fn channel_record(g: &Snapshot, scid: Scid, ch: &Channel) -> ChannelRecord {
    ChannelRecord {
        scid,
        node_1: g.node(ch.nodes[0]).id,
        node_2: g.node(ch.nodes[1]).id,
        capacity_sat: ch.capacity_sat,
        funding_outpoint: None,
    }
}

impl Split {
    /// The split snapshot of `g` for `node` (see the module documentation).
    pub(crate) fn build(g: &Snapshot, node: NodeIdx) -> (Snapshot, Split) {
        let taken: HashSet<Scid> = g.channels().iter().map(|c| c.scid).collect();
        let mut next = (0xFF_FFFFu64 << 40) | (0xFF_FFFFu64 << 16);
        let mut b = GraphBuilder::default();
        for n in g.nodes() {
            b.add(Record::Node(NodeRecord {
                node_id: n.id,
                announcement: None,
            }));
        }
        let mut made: Vec<(EdgeIdx, Scid, Scid, u8)> = Vec::new();
        for ch in g.channels() {
            b.add(Record::Channel(channel_record(g, ch.scid, ch)));
        }
        for (ci, ch) in g.channels().iter().enumerate() {
            for dir in 0..2u8 {
                let Some(p) = ch.policies[dir as usize] else {
                    continue;
                };
                if ch.nodes[dir as usize] != node {
                    b.add_update(p.to_update(ch.scid, dir));
                    continue;
                }
                while taken.contains(&Scid(next)) {
                    next -= 1 << 16;
                }
                let fake = Scid(next);
                next -= 1 << 16;
                b.add(Record::Channel(channel_record(g, fake, ch)));
                b.add_update(p.to_update(fake, dir));
                made.push((ci as u32 * 2 + u32::from(dir), ch.scid, fake, dir));
            }
        }
        let split = b.build();
        let mut dirs: Vec<FakeDir> = made
            .into_iter()
            .filter_map(|(edge, real, fake, dir)| {
                let c = split.channel_idx(fake)?;
                Some(FakeDir {
                    edge,
                    real,
                    fake,
                    fake_edge: c * 2 + u32::from(dir),
                })
            })
            .collect();
        dirs.sort_unstable_by_key(|d| d.edge);
        let by_fake = dirs.iter().enumerate().map(|(i, d)| (d.fake, i)).collect();
        (split, Split { dirs, by_fake })
    }

    /// N's split direction for real edge `edge`, if it is one.
    pub(crate) fn of_edge(&self, edge: EdgeIdx) -> Option<&FakeDir> {
        self.dirs
            .binary_search_by_key(&edge, |d| d.edge)
            .ok()
            .map(|i| &self.dirs[i])
    }

    /// N's split direction whose made-up scid is `scid`, if any.
    pub(crate) fn of_fake(&self, scid: Scid) -> Option<&FakeDir> {
        self.by_fake.get(&scid).map(|&i| &self.dirs[i])
    }

    /// Every split direction, by real edge.
    pub(crate) fn dirs(&self) -> &[FakeDir] {
        &self.dirs
    }

    /// `route` with real scids (a route found on the split graph).
    pub(crate) fn unsplit(&self, mut route: Route) -> Route {
        for h in &mut route.hops {
            if let Some(d) = self.of_fake(h.scid) {
                h.scid = d.real;
            }
        }
        route
    }

    /// The scids to exclude on the split graph for real scids `real`: a channel of N is
    /// excluded in both directions (its real scid and its made-up one).
    pub(crate) fn exclusions(&self, real: &[Scid]) -> Vec<Scid> {
        let mut out = real.to_vec();
        out.extend(
            self.dirs
                .iter()
                .filter(|d| real.contains(&d.real))
                .map(|d| d.fake),
        );
        out
    }
}

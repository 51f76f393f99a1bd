//! Small hand-built graphs for tests (here and in other crates, behind the `testing`
//! feature). Node `i` has the public key of secret key `i + 1`, so ids are real points.

use crate::load::{ChannelRecord, NodeAnnouncement, NodeRecord, Record, UpdateRecord};
use crate::snapshot::{EdgeIdx, NodeIdx, Snapshot};
use crate::types::{NodeId, Scid};

/// Builds records for a graph of numbered nodes.
#[derive(Debug, Default, Clone)]
pub struct TestGraph {
    nodes: u32,
    records: Vec<Record>,
    next_block: u32,
}

impl TestGraph {
    /// A graph of `nodes` nodes (each with an announcement) and no channels.
    pub fn new(nodes: u32) -> Self {
        let records = (0..nodes)
            .map(|i| {
                Record::Node(NodeRecord {
                    node_id: Self::node_id(i),
                    announcement: Some(NodeAnnouncement {
                        timestamp: 1,
                        alias: format!("node-{i}"),
                        color: "000000".into(),
                        addresses: Vec::new(),
                        features_hex: String::new(),
                    }),
                })
            })
            .collect();
        TestGraph {
            nodes,
            records,
            next_block: 100_000,
        }
    }

    /// The id of test node `i`.
    pub fn node_id(i: u32) -> NodeId {
        let secp = secp256k1::Secp256k1::signing_only();
        let mut secret = [0u8; 32];
        secret[28..].copy_from_slice(&(i + 1).to_be_bytes());
        let sk = secp256k1::SecretKey::from_slice(&secret).expect("1..2^32 is a valid secret key");
        NodeId(secp256k1::PublicKey::from_secret_key(&secp, &sk).serialize())
    }

    /// Number of test nodes (ids `0..node_count`).
    pub fn node_count(&self) -> u32 {
        self.nodes
    }

    /// Adds a channel between test nodes `a` and `b`; returns its scid.
    pub fn channel(&mut self, a: u32, b: u32, capacity_sat: u64) -> Scid {
        assert!(a < self.nodes && b < self.nodes && a != b);
        let scid = Scid::new(self.next_block, 1, 0).expect("test blocks stay small");
        self.next_block += 1;
        let (x, y) = (Self::node_id(a), Self::node_id(b));
        let (node_1, node_2) = if x < y { (x, y) } else { (y, x) };
        self.records.push(Record::Channel(ChannelRecord {
            scid,
            node_1,
            node_2,
            capacity_sat,
            funding_outpoint: None,
        }));
        scid
    }

    /// Sets the policy of the direction leaving test node `from` (which must be an endpoint).
    pub fn policy(&mut self, scid: Scid, from: u32, base_msat: u32, ppm: u32, cltv: u16) {
        self.policy_at(scid, from, base_msat, ppm, cltv, 10);
    }

    /// Like [`TestGraph::policy`], with an explicit update timestamp.
    pub fn policy_at(
        &mut self,
        scid: Scid,
        from: u32,
        base_msat: u32,
        ppm: u32,
        cltv: u16,
        ts: u32,
    ) {
        self.update(UpdateRecord {
            scid,
            direction: self.direction_from(scid, from),
            timestamp: ts,
            message_flags: 1,
            channel_flags: 0,
            disabled: false,
            cltv_delta: cltv,
            htlc_min_msat: 0,
            htlc_max_msat: None,
            fee_base_msat: base_msat,
            fee_ppm: ppm,
        });
    }

    /// Adds a full update record (its `direction` is used as given).
    pub fn update(&mut self, mut u: UpdateRecord) {
        u.channel_flags = u.direction | if u.disabled { 2 } else { 0 };
        self.records.push(Record::Update(u));
    }

    /// The BOLT 7 direction of the edge leaving test node `from` on `scid`.
    pub fn direction_from(&self, scid: Scid, from: u32) -> u8 {
        let id = Self::node_id(from);
        for r in &self.records {
            if let Record::Channel(c) = r {
                if c.scid == scid {
                    assert!(
                        c.node_1 == id || c.node_2 == id,
                        "node {from} is not on {scid}"
                    );
                    return if c.node_1 == id { 0 } else { 1 };
                }
            }
        }
        panic!("unknown channel {scid}");
    }

    /// The records added so far, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Builds a snapshot from the records added so far.
    pub fn build(&self) -> Snapshot {
        Snapshot::from_records(self.records.iter().cloned())
    }
}

/// The path of a bundled graph file (e.g. `channels-2019-05-14.json.xz`): the
/// `SWITCHYARD_GRAPH_DATA` directory if set, else the repository's `data/` directory.
pub fn data_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::var_os("SWITCHYARD_GRAPH_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data"));
    dir.join(name)
}

/// Loads a bundled snapshot (`"2019-05-14"`, `"2019-01-18"` or `"2026-02-03"`): channels and
/// nodes files together.
pub fn load_bundled(date: &str) -> Snapshot {
    let mut b = crate::GraphBuilder::default();
    for kind in ["channels", "nodes"] {
        let path = data_file(&format!("{kind}-{date}.json.xz"));
        crate::load::read_file(&path, |r| {
            b.add(r);
            true
        })
        .unwrap_or_else(|e| panic!("loading {}: {e}", path.display()));
    }
    b.build()
}

/// A synthetic graph `k` times the size of `g` with (nearly) the same degree, capacity and
/// policy distributions, for scaling benchmarks: `k` relabelled copies of `g` (copy `c` of
/// node `i` gets a made-up id encoding `(c, i)`, copy `c` of channel `j` the scid
/// `(c+1)x(j)x0`), in which about 10% of the channels (chosen by a fixed hash) have their
/// second endpoint moved to the same node's copy in another copy, so the copies form one
/// network. Every channel keeps its capacity and both policies, and the summed degree of the
/// `k` copies of a node is exactly `k` times its degree; a single copy's degree can differ
/// (a leaf whose only channel moved away becomes isolated), so the active graph can have
/// slightly fewer than `k` times the nodes.
pub fn scaled_copies(g: &Snapshot, k: u32) -> Snapshot {
    let id = |copy: u32, node: u32| {
        let mut b = [0u8; 33];
        b[0] = 2;
        b[1..5].copy_from_slice(&copy.to_be_bytes());
        b[5..9].copy_from_slice(&node.to_be_bytes());
        NodeId::from_bytes_unchecked(b)
    };
    let mut builder = crate::GraphBuilder::default();
    for copy in 0..k {
        for (j, ch) in g.channels().iter().enumerate() {
            let j = j as u32;
            let h =
                (u64::from(copy) << 32 | u64::from(j)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 20;
            let other = if k > 1 && h % 1000 < 100 {
                (copy + 1 + (h / 1000) as u32 % (k - 1)) % k
            } else {
                copy
            };
            let ends = [id(copy, ch.nodes[0]), id(other, ch.nodes[1])];
            // BOLT 7 order: node_1 is the lesser id; policies follow their sender.
            let flip = ends[0] > ends[1];
            let scid = Scid::new(copy + 1, j, 0).expect("scaled graphs stay below 2^24 channels");
            builder.add_channel(ChannelRecord {
                scid,
                node_1: ends[usize::from(flip)],
                node_2: ends[usize::from(!flip)],
                capacity_sat: ch.capacity_sat,
                funding_outpoint: None,
            });
            for (dir, p) in ch.policies.iter().enumerate() {
                let Some(p) = p else { continue };
                builder.add_update(p.to_update(scid, (dir as u8) ^ u8::from(flip)));
            }
        }
    }
    builder.build()
}

/// The ppm of the directions [`do_not_use`] reprices: at least this, at most `u32::MAX`.
pub const DO_NOT_USE_PPM: u32 = u32::MAX - 999;

fn do_not_use_hash(x: u64) -> u64 {
    (x ^ 0xd0_0de5).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32
}

/// Whether [`do_not_use`] prices every direction into snapshot node `u` near `u32::MAX` ppm
/// (a fixed, hash-chosen 2% of the nodes).
pub fn do_not_use_traps(u: NodeIdx) -> bool {
    do_not_use_hash(u64::from(u) << 40 | 1) % 100 < 2
}

/// A builder holding `g`'s channels and, for each direction with a policy, the update
/// `update(edge, the policy's own update)` returns (`None`: the direction has no policy),
/// for tests and benches that vary a real graph. Nodes come with their channels only.
pub fn rebuilt(
    g: &Snapshot,
    mut update: impl FnMut(EdgeIdx, UpdateRecord) -> Option<UpdateRecord>,
) -> crate::GraphBuilder {
    let mut builder = crate::GraphBuilder::default();
    for (ci, ch) in g.channels().iter().enumerate() {
        builder.add_channel(ChannelRecord {
            scid: ch.scid,
            node_1: g.node(ch.nodes[0]).id,
            node_2: g.node(ch.nodes[1]).id,
            capacity_sat: ch.capacity_sat,
            funding_outpoint: None,
        });
        for (dir, p) in ch.policies.iter().enumerate() {
            let Some(p) = p else { continue };
            let e = 2 * ci as EdgeIdx + dir as EdgeIdx;
            if let Some(u) = update(e, p.to_update(ch.scid, dir as u8)) {
                builder.add_update(u);
            }
        }
    }
    builder
}

/// `g` with some directions priced near `u32::MAX` ppm ([`DO_NOT_USE_PPM`] and up), as LND
/// nodes price a channel they do not want used: a fixed, hash-chosen 3% of the enabled
/// directions, and every direction into the nodes [`do_not_use_traps`] names (2%), which are
/// then reachable only over such directions. Everything else is kept, node numbering
/// included.
pub fn do_not_use(g: &Snapshot) -> Snapshot {
    let mut builder = rebuilt(g, |e, mut u| {
        let h = do_not_use_hash(u64::from(e));
        if h % 100 < 3 || do_not_use_traps(g.edge_to(e)) {
            u.fee_ppm = u32::MAX - (h % 1000) as u32;
        }
        Some(u)
    });
    for n in g.nodes() {
        builder.add_node(NodeRecord {
            node_id: n.id,
            announcement: None,
        });
    }
    builder.build()
}

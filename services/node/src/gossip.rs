//! Gossip in, history out: a [`RoutingMessageHandler`] around LDK's `P2PGossipSync` that
//! records every message LDK accepts, counts every one it rejects (by reason), rate-limits
//! floods of `channel_update`s, and hands accepted messages to a batch writer so the message
//! path never waits on the database.
//!
//! Channel announcements checked asynchronously against the chain are accepted later, inside
//! LDK; they come back to us as `Broadcast*` events from the inner handler, which is where
//! we record them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::PublicKey;
use lightning::ln::msgs::{
    BaseMessageHandler, ChannelAnnouncement, ChannelUpdate, ErrorAction, Init, LightningError,
    MessageSendEvent, NodeAnnouncement, QueryChannelRange, QueryShortChannelIds, ReplyChannelRange,
    ReplyShortChannelIdsEnd, RoutingMessageHandler, SocketAddress,
};
use lightning::routing::gossip::{NodeId as LdkNodeId, P2PGossipSync};
use lightning::types::features::{InitFeatures, NodeFeatures};
use lightning::util::logger::Level;
use lightning::util::ser::Writeable;
use switchyard_graph::{NodeId, Scid};
use switchyard_store::gossip::{GossipBatch, GossipChannel, GossipNode, GossipUpdate};
use switchyard_store::Store;
use tokio::sync::{mpsc, oneshot};

use crate::chain::ChainSource;
use crate::config::GossipLimits;
use crate::logger::LdkLogger;
use crate::metrics::NodeMetrics;
use crate::Graph;

/// LDK's gossip handler over our graph, with the chain as UTXO lookup.
pub type GossipSync = P2PGossipSync<Arc<Graph>, Arc<ChainSource>, Arc<LdkLogger>>;

/// The three gossip message types, as metric labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgType {
    /// `channel_announcement` (type 256).
    ChannelAnnouncement,
    /// `channel_update` (type 258).
    ChannelUpdate,
    /// `node_announcement` (type 257).
    NodeAnnouncement,
}

impl MsgType {
    /// The metric label (`channel_announcement`, `channel_update`, `node_announcement`).
    pub fn label(self) -> &'static str {
        match self {
            MsgType::ChannelAnnouncement => "channel_announcement",
            MsgType::ChannelUpdate => "channel_update",
            MsgType::NodeAnnouncement => "node_announcement",
        }
    }
    fn index(self) -> usize {
        match self {
            MsgType::ChannelAnnouncement => 0,
            MsgType::ChannelUpdate => 1,
            MsgType::NodeAnnouncement => 2,
        }
    }
    fn wire_type(self) -> u16 {
        match self {
            MsgType::ChannelAnnouncement => 256,
            MsgType::NodeAnnouncement => 257,
            MsgType::ChannelUpdate => 258,
        }
    }
}

/// What an LDK error on a gossip message means for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Waiting for the funding lookup; accepted or not later.
    Pending,
    /// Already known (same or older timestamp, same channel).
    Duplicate,
    /// Refused for the given (bounded) reason.
    Rejected(&'static str),
}

/// Maps LDK's error text to a bounded reason. LDK reports gossip errors as strings; the
/// mapping is tested against LDK's real messages so a change in LDK shows up as a test failure.
pub fn classify(err: &LightningError) -> Verdict {
    let e = err.err.as_str();
    if e.contains("being checked async")
        || e.contains("already being checked")
        || e.starts_with("Awaiting channel_announcement validation")
    {
        Verdict::Pending
    } else if e.contains("same timestamp")
        || e.starts_with("Already have")
        || e.contains("Update older than last processed")
    {
        Verdict::Duplicate
    } else if e.contains("Invalid signature") {
        Verdict::Rejected("bad_signature")
    } else if e.contains("UTXO")
        || e.contains("on-chain script")
        || e.contains("unknown chain")
        || e.contains("genesis hash")
    {
        Verdict::Rejected("bad_utxo")
    } else if e.contains("older than two weeks") || e.contains("in the future") {
        Verdict::Rejected("stale")
    } else if e.contains("Couldn't find channel") || e.contains("No existing channels") {
        Verdict::Rejected("unknown_channel")
    } else if e.contains("rate limit") {
        Verdict::Rejected("rate_limited")
    } else if e.contains("Invalid public key") || e.contains("parse") || e.contains("itself") {
        Verdict::Rejected("malformed")
    } else if e.contains("removed from our network graph recently") {
        Verdict::Rejected("recently_closed")
    } else {
        Verdict::Rejected("other")
    }
}

enum Queued {
    Record(Box<Record>, Instant),
    Flush(oneshot::Sender<()>),
}

enum Record {
    Channel(GossipChannel),
    Update(GossipUpdate),
    Node(GossipNode),
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The routing message handler the `PeerManager` talks to.
pub struct RecordingGossip {
    inner: Arc<GossipSync>,
    chain: Option<Arc<ChainSource>>,
    queue: mpsc::UnboundedSender<Queued>,
    queued: Arc<AtomicUsize>,
    /// Who sent an announcement that is waiting for its funding check.
    pending_from: Mutex<HashMap<u64, PublicKey>>,
    /// Unix seconds of the last gossip message from a peer.
    last_message: std::sync::atomic::AtomicI64,
    buckets: Mutex<HashMap<(u64, u8), Bucket>>,
    limits: GossipLimits,
    metrics: Arc<NodeMetrics>,
    /// `gossip_messages{outcome="accepted"}` per type, resolved once: the hot path skips the
    /// label lookup.
    accepted: [prometheus::IntCounter; 3],
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn our_id(id: &LdkNodeId) -> Option<NodeId> {
    <[u8; 33]>::try_from(id.as_slice())
        .ok()
        .map(NodeId::from_bytes_unchecked)
}

fn peer_id(p: &PublicKey) -> NodeId {
    NodeId::from_bytes_unchecked(p.serialize())
}

/// The wire message (type, then body): what [`crate::raw_gossip::decode`] reads back.
fn raw(t: MsgType, body: &impl Writeable) -> Vec<u8> {
    crate::raw_gossip::wire_bytes(t.wire_type(), body)
}

/// Addresses in the same JSON shape the file import writes.
pub fn addresses_json(addrs: &[SocketAddress]) -> serde_json::Value {
    let list: Vec<serde_json::Value> = addrs
        .iter()
        .map(|a| {
            let (kind, host, port) = match a {
                SocketAddress::TcpIpV4 { addr, port } => {
                    ("ipv4", std::net::Ipv4Addr::from(*addr).to_string(), *port)
                }
                SocketAddress::TcpIpV6 { addr, port } => {
                    ("ipv6", std::net::Ipv6Addr::from(*addr).to_string(), *port)
                }
                SocketAddress::OnionV2(_) => ("torv2", a.to_string(), 0),
                SocketAddress::OnionV3 { port, .. } => {
                    let s = a.to_string();
                    let host = s.rsplit_once(':').map(|(h, _)| h.to_string()).unwrap_or(s);
                    ("torv3", host, *port)
                }
                SocketAddress::Hostname { hostname, port } => ("dns", hostname.to_string(), *port),
            };
            serde_json::json!({"type": kind, "address": host, "port": port})
        })
        .collect();
    serde_json::Value::Array(list)
}

impl RecordingGossip {
    /// Wraps `inner` and starts the batch writer on the current runtime.
    pub fn new(
        inner: Arc<GossipSync>,
        chain: Option<Arc<ChainSource>>,
        store: Store,
        limits: GossipLimits,
        metrics: Arc<NodeMetrics>,
    ) -> (Arc<RecordingGossip>, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let writer = tokio::spawn(run_writer(store, rx, queued.clone(), metrics.clone()));
        let accepted = [
            MsgType::ChannelAnnouncement,
            MsgType::ChannelUpdate,
            MsgType::NodeAnnouncement,
        ]
        .map(|t| {
            metrics
                .gossip_messages
                .with_label_values(&[t.label(), "accepted"])
        });
        let g = Arc::new(RecordingGossip {
            inner,
            chain,
            queue: tx,
            queued,
            pending_from: Mutex::new(HashMap::new()),
            last_message: std::sync::atomic::AtomicI64::new(0),
            buckets: Mutex::new(HashMap::new()),
            limits,
            metrics,
            accepted,
        });
        (g, writer)
    }

    /// LDK's gossip handler, for the peer manager.
    pub fn inner(&self) -> &Arc<GossipSync> {
        &self.inner
    }

    /// Messages accepted but not yet in the store.
    pub fn store_queue_len(&self) -> usize {
        self.queued.load(Ordering::Acquire)
    }

    /// Waits until everything accepted before this call is committed to the store.
    pub async fn flush(&self) {
        let (tx, rx) = oneshot::channel();
        if self.queue.send(Queued::Flush(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    fn enqueue(&self, r: Record) {
        self.queued.fetch_add(1, Ordering::AcqRel);
        self.metrics.store_queue.inc();
        if self
            .queue
            .send(Queued::Record(Box::new(r), Instant::now()))
            .is_err()
        {
            // The writer is gone only during shutdown.
            self.queued.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!("gossip writer stopped; message not recorded");
        }
    }

    /// Seconds since a peer last sent us gossip, if ever.
    pub fn seconds_since_last_message(&self) -> Option<i64> {
        let t = self.last_message.load(Ordering::Acquire);
        (t > 0).then(|| now_unix() - t)
    }

    fn touch(&self) {
        // Both feeding threads would otherwise write the same cache line for every message.
        let now = now_unix();
        if self.last_message.load(Ordering::Relaxed) != now {
            self.last_message.store(now, Ordering::Release);
        }
    }

    fn count_accepted(&self, t: MsgType) {
        self.touch();
        self.accepted[t.index()].inc();
    }

    fn count(&self, t: MsgType, outcome: &str) {
        self.touch();
        self.metrics
            .gossip_messages
            .with_label_values(&[t.label(), outcome])
            .inc();
    }

    /// Counts a rejection decided outside `handle_*` (the async funding check).
    pub(crate) fn count_rejected(&self, t: MsgType, reason: &'static str) {
        self.count(t, "rejected");
        self.metrics
            .gossip_rejected
            .with_label_values(&[t.label(), reason])
            .inc();
    }

    fn judge(&self, t: MsgType, r: &Result<bool, LightningError>) -> Option<Verdict> {
        match r {
            Ok(_) => {
                self.count_accepted(t);
                None
            }
            Err(e) => {
                let v = classify(e);
                match v {
                    Verdict::Pending => self.count(t, "pending"),
                    Verdict::Duplicate => self.count(t, "duplicate"),
                    Verdict::Rejected(reason) => {
                        tracing::debug!(r#type = t.label(), reason, error = %e.err, "gossip rejected");
                        self.count_rejected(t, reason);
                    }
                }
                Some(v)
            }
        }
    }

    fn record_channel(&self, peer: Option<PublicKey>, msg: &ChannelAnnouncement) {
        let c = &msg.contents;
        let (Some(node_1), Some(node_2)) = (our_id(&c.node_id_1), our_id(&c.node_id_2)) else {
            return;
        };
        // The funding lookup knows the amount; no need to take LDK's graph lock for it.
        let (funding_outpoint, capacity_sat) = self
            .chain
            .as_ref()
            .and_then(|ch| ch.take_funding(c.short_channel_id))
            .map_or((None, 0), |(op, sat)| (Some(op), sat));
        self.enqueue(Record::Channel(GossipChannel {
            scid: Scid::from_i64(c.short_channel_id as i64),
            node_1,
            node_2,
            capacity_sat,
            funding_outpoint,
            raw: raw(MsgType::ChannelAnnouncement, msg),
            peer: peer.as_ref().map(peer_id),
            received_at: now_unix(),
        }));
    }

    fn record_update(&self, peer: Option<PublicKey>, msg: &ChannelUpdate) {
        let peer = peer.as_ref().map(peer_id);
        let row = crate::raw_gossip::update_row(msg, peer, now_unix());
        self.enqueue(Record::Update(row));
    }

    fn record_node(&self, peer: Option<PublicKey>, msg: &NodeAnnouncement) {
        let peer = peer.as_ref().map(peer_id);
        if let Some(row) = crate::raw_gossip::node_row(msg, peer, now_unix()) {
            self.enqueue(Record::Node(row));
        }
    }

    /// Token bucket per channel direction: `update_burst` at once, then one per interval.
    fn allow_update(&self, msg: &ChannelUpdate) -> bool {
        let key = (
            msg.contents.short_channel_id,
            msg.contents.channel_flags & 1,
        );
        let now = Instant::now();
        let burst = self.limits.update_burst.max(1) as f64;
        let per_sec = 1.0 / self.limits.update_interval.as_secs_f64().max(1e-3);
        let Ok(mut buckets) = self.buckets.lock() else {
            return true;
        };
        if buckets.len() > 1_000_000 {
            // Bounded memory under a flood of distinct ids: forget history, not correctness.
            buckets.retain(|_, b| now.duration_since(b.last) < Duration::from_secs(3600));
        }
        let b = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * per_sec).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub(crate) fn note_pending_resolved(&self, scid: u64) -> Option<PublicKey> {
        self.pending_from
            .lock()
            .ok()
            .and_then(|mut m| m.remove(&scid))
    }
}

impl BaseMessageHandler for RecordingGossip {
    fn get_and_clear_pending_msg_events(&self) -> Vec<MessageSendEvent> {
        let events = self.inner.get_and_clear_pending_msg_events();
        for ev in &events {
            // Broadcasts from the inner handler are messages accepted after an async check.
            match ev {
                MessageSendEvent::BroadcastChannelAnnouncement { msg, update_msg } => {
                    let peer = self.note_pending_resolved(msg.contents.short_channel_id);
                    self.count_accepted(MsgType::ChannelAnnouncement);
                    self.record_channel(peer, msg);
                    if let Some(u) = update_msg {
                        self.count_accepted(MsgType::ChannelUpdate);
                        self.record_update(None, u);
                    }
                }
                MessageSendEvent::BroadcastChannelUpdate { msg } => {
                    self.count_accepted(MsgType::ChannelUpdate);
                    self.record_update(None, msg);
                }
                MessageSendEvent::BroadcastNodeAnnouncement { msg } => {
                    self.count_accepted(MsgType::NodeAnnouncement);
                    self.record_node(None, msg);
                }
                _ => {}
            }
        }
        events
    }

    fn peer_disconnected(&self, their_node_id: PublicKey) {
        self.inner.peer_disconnected(their_node_id)
    }

    fn provided_node_features(&self) -> NodeFeatures {
        self.inner.provided_node_features()
    }

    fn provided_init_features(&self, their_node_id: PublicKey) -> InitFeatures {
        self.inner.provided_init_features(their_node_id)
    }

    fn peer_connected(
        &self,
        their_node_id: PublicKey,
        msg: &Init,
        inbound: bool,
    ) -> Result<(), ()> {
        self.inner.peer_connected(their_node_id, msg, inbound)
    }
}

impl RoutingMessageHandler for RecordingGossip {
    fn handle_node_announcement(
        &self,
        their_node_id: Option<PublicKey>,
        msg: &NodeAnnouncement,
    ) -> Result<bool, LightningError> {
        let r = self.inner.handle_node_announcement(their_node_id, msg);
        if self.judge(MsgType::NodeAnnouncement, &r).is_none() {
            self.record_node(their_node_id, msg);
        }
        r
    }

    fn handle_channel_announcement(
        &self,
        their_node_id: Option<PublicKey>,
        msg: &ChannelAnnouncement,
    ) -> Result<bool, LightningError> {
        let r = self.inner.handle_channel_announcement(their_node_id, msg);
        match self.judge(MsgType::ChannelAnnouncement, &r) {
            None => self.record_channel(their_node_id, msg),
            Some(Verdict::Pending) => {
                if let (Some(p), Ok(mut m)) = (their_node_id, self.pending_from.lock()) {
                    m.insert(msg.contents.short_channel_id, p);
                }
            }
            Some(_) => {}
        }
        r
    }

    fn handle_channel_update(
        &self,
        their_node_id: Option<PublicKey>,
        msg: &ChannelUpdate,
    ) -> Result<bool, LightningError> {
        if their_node_id.is_some() && !self.allow_update(msg) {
            let e = LightningError {
                err: "channel_update rate limit exceeded for this channel direction".to_string(),
                action: ErrorAction::IgnoreAndLog(Level::Debug),
            };
            self.judge(MsgType::ChannelUpdate, &Err(e.clone()));
            return Err(e);
        }
        let r = self.inner.handle_channel_update(their_node_id, msg);
        if self.judge(MsgType::ChannelUpdate, &r).is_none() {
            self.record_update(their_node_id, msg);
        }
        r
    }

    fn get_next_channel_announcement(
        &self,
        starting_point: u64,
    ) -> Option<(
        ChannelAnnouncement,
        Option<ChannelUpdate>,
        Option<ChannelUpdate>,
    )> {
        self.inner.get_next_channel_announcement(starting_point)
    }

    fn get_next_node_announcement(
        &self,
        starting_point: Option<&LdkNodeId>,
    ) -> Option<NodeAnnouncement> {
        self.inner.get_next_node_announcement(starting_point)
    }

    fn handle_reply_channel_range(
        &self,
        their_node_id: PublicKey,
        msg: ReplyChannelRange,
    ) -> Result<(), LightningError> {
        self.inner.handle_reply_channel_range(their_node_id, msg)
    }

    fn handle_reply_short_channel_ids_end(
        &self,
        their_node_id: PublicKey,
        msg: ReplyShortChannelIdsEnd,
    ) -> Result<(), LightningError> {
        self.inner
            .handle_reply_short_channel_ids_end(their_node_id, msg)
    }

    fn handle_query_channel_range(
        &self,
        their_node_id: PublicKey,
        msg: QueryChannelRange,
    ) -> Result<(), LightningError> {
        self.inner.handle_query_channel_range(their_node_id, msg)
    }

    fn handle_query_short_channel_ids(
        &self,
        their_node_id: PublicKey,
        msg: QueryShortChannelIds,
    ) -> Result<(), LightningError> {
        self.inner
            .handle_query_short_channel_ids(their_node_id, msg)
    }

    fn processing_queue_high(&self) -> bool {
        // Backpressure: when the store falls behind, LDK stops reading gossip from peers.
        self.inner.processing_queue_high() || self.store_queue_len() > self.limits.max_store_queue
    }
}

const BATCH_MAX: usize = 5_000;
const BATCH_WAIT: Duration = Duration::from_millis(50);
const BATCH_POLL: Duration = Duration::from_millis(5);

/// Drains the queue into store transactions. A failed write is retried with backoff and the
/// batch is kept: nothing accepted is ever dropped while the process lives.
async fn run_writer(
    store: Store,
    mut rx: mpsc::UnboundedReceiver<Queued>,
    queued: Arc<AtomicUsize>,
    metrics: Arc<NodeMetrics>,
) {
    let mut closed = false;
    while !closed {
        let Some(first) = rx.recv().await else {
            break;
        };
        let mut batch = GossipBatch::default();
        let mut oldest: Option<Instant> = None;
        let mut flushes = Vec::new();
        let mut add =
            |q: Queued, batch: &mut GossipBatch, flushes: &mut Vec<oneshot::Sender<()>>| match q {
                Queued::Record(r, at) => {
                    oldest = Some(oldest.map_or(at, |o: Instant| o.min(at)));
                    match *r {
                        Record::Channel(c) => batch.channels.push(c),
                        Record::Update(u) => batch.updates.push(u),
                        Record::Node(n) => batch.nodes.push(n),
                    }
                }
                Queued::Flush(ack) => flushes.push(ack),
            };
        add(first, &mut batch, &mut flushes);
        // Collect for up to BATCH_WAIT by polling the queue every BATCH_POLL, not by waiting on
        // it: a receiver parked on the queue is woken (a futex call on the sending thread, a
        // thread switch here) for every message, which costs more CPU than the message itself.
        let deadline = tokio::time::Instant::now() + BATCH_WAIT;
        loop {
            while batch.len() < BATCH_MAX && flushes.is_empty() {
                match rx.try_recv() {
                    Ok(q) => add(q, &mut batch, &mut flushes),
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            let now = tokio::time::Instant::now();
            if closed || batch.len() >= BATCH_MAX || !flushes.is_empty() || now >= deadline {
                break;
            }
            tokio::time::sleep_until(deadline.min(now + BATCH_POLL)).await;
        }
        let n = batch.len();
        if n > 0 {
            let mut backoff = Duration::from_millis(100);
            loop {
                match switchyard_store::gossip::record(&store, &batch).await {
                    Ok(report) => {
                        if report.updates_orphaned > 0 {
                            tracing::warn!(
                                orphaned = report.updates_orphaned,
                                "channel_updates for channels not in the store were skipped"
                            );
                        }
                        break;
                    }
                    Err(e) => {
                        metrics.store_write_errors.inc();
                        tracing::warn!(error = %e, messages = n, retry_in = ?backoff, "gossip batch write failed");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(30));
                    }
                }
            }
            queued.fetch_sub(n, Ordering::AcqRel);
            metrics.store_queue.sub(n as i64);
            metrics.store_batch_size.observe(n as f64);
            if let Some(o) = oldest {
                metrics.store_lag_seconds.set(o.elapsed().as_secs_f64());
            }
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> LightningError {
        LightningError {
            err: s.to_string(),
            action: ErrorAction::IgnoreError,
        }
    }

    #[test]
    fn ldk_errors_map_to_bounded_reasons() {
        assert_eq!(
            classify(&err("Channel being checked async")),
            Verdict::Pending
        );
        assert_eq!(
            classify(&err(
                "Awaiting channel_announcement validation to accept channel_update"
            )),
            Verdict::Pending
        );
        assert_eq!(
            classify(&err(
                "Update had the same timestamp as last processed update"
            )),
            Verdict::Duplicate
        );
        assert_eq!(
            classify(&err("Already have chain-validated channel")),
            Verdict::Duplicate
        );
        assert_eq!(
            classify(&err("Invalid signature on channel_update message")),
            Verdict::Rejected("bad_signature")
        );
        assert_eq!(
            classify(&err("Channel announced without corresponding UTXO entry")),
            Verdict::Rejected("bad_utxo")
        );
        assert_eq!(
            classify(&err("channel_update is older than two weeks old")),
            Verdict::Rejected("stale")
        );
        assert_eq!(
            classify(&err("Couldn't find channel for update")),
            Verdict::Rejected("unknown_channel")
        );
        assert_eq!(classify(&err("something new")), Verdict::Rejected("other"));
    }
}

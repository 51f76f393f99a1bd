//! A real LDK peer that serves a fixed script of gossip messages — good, bad or hostile —
//! over a real Noise connection, to test what the node does with them.
//!
//! It answers the node's `gossip_timestamp_filter` with a full sync of its script (through
//! LDK's own `PeerManager` backfill), and [`GossipPeer::broadcast`] pushes further messages to
//! every connected peer (floods, late updates).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::secp256k1::PublicKey;
use lightning::ln::msgs::{
    BaseMessageHandler, ChannelAnnouncement, ChannelUpdate, Init, LightningError, MessageSendEvent,
    NodeAnnouncement, QueryChannelRange, QueryShortChannelIds, ReplyChannelRange,
    ReplyShortChannelIdsEnd, RoutingMessageHandler,
};
use lightning::ln::peer_handler::{
    ErroringMessageHandler, IgnoringMessageHandler, MessageHandler, PeerManager,
};
use lightning::routing::gossip::NodeId;
use lightning::sign::KeysManager;
use lightning::types::features::{InitFeatures, NodeFeatures};
use lightning::util::logger::{Logger, Record};
use lightning_net_tokio::SocketDescriptor;

/// Discards LDK's logs of the test peer.
pub struct QuietLogger;
impl Logger for QuietLogger {
    fn log(&self, _record: Record) {}
}

type ChannelEntry = (
    ChannelAnnouncement,
    Option<ChannelUpdate>,
    Option<ChannelUpdate>,
);

/// The scripted routing handler.
#[derive(Default)]
pub struct ScriptedGossip {
    channels: Mutex<BTreeMap<u64, ChannelEntry>>,
    nodes: Mutex<BTreeMap<NodeId, NodeAnnouncement>>,
    outbox: Mutex<Vec<MessageSendEvent>>,
}

impl ScriptedGossip {
    /// Adds a channel announcement (and the updates served with it) to the sync script.
    pub fn add_channel(
        &self,
        announcement: ChannelAnnouncement,
        update_1: Option<ChannelUpdate>,
        update_2: Option<ChannelUpdate>,
    ) {
        let scid = announcement.contents.short_channel_id;
        if let Ok(mut c) = self.channels.lock() {
            c.insert(scid, (announcement, update_1, update_2));
        }
    }

    /// Adds a node announcement to the sync script.
    pub fn add_node(&self, announcement: NodeAnnouncement) {
        if let Ok(mut n) = self.nodes.lock() {
            n.insert(announcement.contents.node_id, announcement);
        }
    }
}

impl BaseMessageHandler for ScriptedGossip {
    fn get_and_clear_pending_msg_events(&self) -> Vec<MessageSendEvent> {
        self.outbox
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }
    fn peer_disconnected(&self, _their_node_id: PublicKey) {}
    fn provided_node_features(&self) -> NodeFeatures {
        NodeFeatures::empty()
    }
    fn provided_init_features(&self, _their_node_id: PublicKey) -> InitFeatures {
        let mut f = InitFeatures::empty();
        f.set_gossip_queries_optional();
        f
    }
    fn peer_connected(&self, _id: PublicKey, _msg: &Init, _inbound: bool) -> Result<(), ()> {
        Ok(())
    }
}

impl RoutingMessageHandler for ScriptedGossip {
    fn handle_node_announcement(
        &self,
        _their_node_id: Option<PublicKey>,
        _msg: &NodeAnnouncement,
    ) -> Result<bool, LightningError> {
        Ok(false)
    }
    fn handle_channel_announcement(
        &self,
        _their_node_id: Option<PublicKey>,
        _msg: &ChannelAnnouncement,
    ) -> Result<bool, LightningError> {
        Ok(false)
    }
    fn handle_channel_update(
        &self,
        _their_node_id: Option<PublicKey>,
        _msg: &ChannelUpdate,
    ) -> Result<bool, LightningError> {
        Ok(false)
    }
    fn get_next_channel_announcement(&self, starting_point: u64) -> Option<ChannelEntry> {
        let c = self.channels.lock().ok()?;
        c.range(starting_point..).next().map(|(_, v)| v.clone())
    }
    fn get_next_node_announcement(
        &self,
        starting_point: Option<&NodeId>,
    ) -> Option<NodeAnnouncement> {
        let n = self.nodes.lock().ok()?;
        match starting_point {
            None => n.values().next().cloned(),
            Some(s) => n
                .range((std::ops::Bound::Excluded(*s), std::ops::Bound::Unbounded))
                .next()
                .map(|(_, v)| v.clone()),
        }
    }
    fn handle_reply_channel_range(
        &self,
        _their_node_id: PublicKey,
        _msg: ReplyChannelRange,
    ) -> Result<(), LightningError> {
        Ok(())
    }
    fn handle_reply_short_channel_ids_end(
        &self,
        _their_node_id: PublicKey,
        _msg: ReplyShortChannelIdsEnd,
    ) -> Result<(), LightningError> {
        Ok(())
    }
    fn handle_query_channel_range(
        &self,
        _their_node_id: PublicKey,
        _msg: QueryChannelRange,
    ) -> Result<(), LightningError> {
        Ok(())
    }
    fn handle_query_short_channel_ids(
        &self,
        _their_node_id: PublicKey,
        _msg: QueryShortChannelIds,
    ) -> Result<(), LightningError> {
        Ok(())
    }
    fn processing_queue_high(&self) -> bool {
        false
    }
}

/// The test peer's `PeerManager`.
pub type ScriptedPeerManager = PeerManager<
    SocketDescriptor,
    Arc<ErroringMessageHandler>,
    Arc<ScriptedGossip>,
    Arc<IgnoringMessageHandler>,
    Arc<QuietLogger>,
    Arc<IgnoringMessageHandler>,
    Arc<KeysManager>,
    Arc<IgnoringMessageHandler>,
>;

/// An LDK peer listening on loopback, serving [`ScriptedGossip`]. Needs a tokio runtime.
pub struct GossipPeer {
    /// The script: add messages before the node connects, or broadcast them later.
    pub gossip: Arc<ScriptedGossip>,
    /// The peer's `PeerManager`.
    pub peer_manager: Arc<ScriptedPeerManager>,
    node_id: PublicKey,
    addr: SocketAddr,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl GossipPeer {
    /// Starts a peer with identity `secret` listening on 127.0.0.1 (a free port).
    pub async fn start(secret: [u8; 32]) -> std::io::Result<GossipPeer> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let keys = Arc::new(KeysManager::new(
            &secret,
            now.as_secs(),
            now.subsec_nanos(),
            true,
        ));
        let gossip = Arc::new(ScriptedGossip::default());
        let pm = Arc::new(PeerManager::new(
            MessageHandler {
                chan_handler: Arc::new(ErroringMessageHandler::new()),
                route_handler: gossip.clone(),
                onion_message_handler: Arc::new(IgnoringMessageHandler {}),
                custom_message_handler: Arc::new(IgnoringMessageHandler {}),
                send_only_message_handler: Arc::new(IgnoringMessageHandler {}),
            },
            now.as_secs() as u32,
            &secret,
            Arc::new(QuietLogger),
            keys.clone(),
        ));
        let node_id = {
            use lightning::sign::{NodeSigner, Recipient};
            keys.get_node_id(Recipient::Node)
                .map_err(|_| std::io::Error::other("no node id"))?
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let accept_pm = pm.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if let Ok(s) = stream.into_std() {
                    tokio::spawn(lightning_net_tokio::setup_inbound(accept_pm.clone(), s));
                }
            }
        });
        let tick_pm = pm.clone();
        let ticker = tokio::spawn(async move {
            let mut i = tokio::time::interval(Duration::from_millis(50));
            loop {
                i.tick().await;
                tick_pm.process_events();
            }
        });
        Ok(GossipPeer {
            gossip,
            peer_manager: pm,
            node_id,
            addr,
            tasks: vec![accept, ticker],
        })
    }

    /// The peer's node id.
    pub fn node_id(&self) -> PublicKey {
        self.node_id
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `pubkey@127.0.0.1:port`, for the node's `--connect`.
    pub fn connect_string(&self) -> String {
        format!("{}@{}", self.node_id, self.addr)
    }

    /// Sends `events` (e.g. `BroadcastChannelUpdate`) to every connected peer.
    pub fn broadcast(&self, events: Vec<MessageSendEvent>) {
        if let Ok(mut o) = self.gossip.outbox.lock() {
            o.extend(events);
        }
        self.peer_manager.process_events();
    }

    /// Connects out to `node_id` at `addr` (for tests where the peer dials the node).
    pub async fn connect_to(&self, node_id: PublicKey, addr: SocketAddr) -> bool {
        lightning_net_tokio::connect_outbound(self.peer_manager.clone(), node_id, addr)
            .await
            .is_some()
    }
}

impl Drop for GossipPeer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.peer_manager.disconnect_all_peers();
    }
}

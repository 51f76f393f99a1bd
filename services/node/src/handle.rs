//! # [`NodeHandle`]: everything the API may do with the node
//!
//! The HTTP API holds the node only through this handle: status and peers, connecting to a
//! peer, our channels (list, open, close), the forwarding policy (get, set), invoices,
//! payments (BOLT 11, keysend), the on-chain wallet (balance, address, send) and the fee
//! controller (its plan inputs, a run now; `crate::fees_ctl`). Requests and
//! answers are the typed structs below; the API parses what people type into them (a bad
//! string is the API's 400) and renders the answers as JSON. Nothing else of the node (LDK's
//! channel manager, the peer manager, the graph) is reachable through it.
//!
//! ## Contract
//! - **Never blocks the caller's thread**: methods that wait (the store, the wallet, bitcoind,
//!   a peer's handshake) are `async`; the others return at once.
//! - **Actions return when started, not when done**: an opened channel is pending, a payment
//!   is `pending` until LDK's event lands in the books (`GET /v1/payments/{id}` reads them
//!   from the store, not through this handle).
//! - **Errors** are [`NodeError`]s, to be mapped by variant: `Rejected`, `Lightning`,
//!   `Wallet` and `Connect` mean the request was understood and cannot be done (the API's
//!   422); `NotFound`, no such channel of ours (404); `InvalidPeer`, a peer that cannot be
//!   (400); `Unavailable`, not now (503): the node runs without bitcoind (the wallet, opening
//!   channels) or its channels are still catching up (below). Any other variant is a fault
//!   of the node or the store (500).
//!
//! ## While the node catches up
//! After a start, nothing drives the channel manager until every restored channel monitor
//! has caught up with the chain and is watched (`ln::chain_feed`), which takes as long as
//! bitcoind needs to serve the missed blocks. Meanwhile: [`NodeHandle::status`] and
//! [`NodeHandle::peers`] answer (no peer is connected, `sync_state` is `no_peers`);
//! [`NodeHandle::channels`], [`NodeHandle::policy`], [`NodeHandle::set_policy`],
//! [`NodeHandle::create_invoice`] and the wallet work on the restored state;
//! [`NodeHandle::connect`] saves the peer, waits up to 20 s and then answers `Unavailable`
//! (the peer is connected once the node is ready); [`NodeHandle::close_channel`],
//! [`NodeHandle::pay_invoice`] and [`NodeHandle::keysend`] answer `Unavailable` at once;
//! [`NodeHandle::open_channel`] fails like any open to a peer that is not connected
//! (`Lightning`).

use std::sync::Arc;

use bitcoin::secp256k1::PublicKey;
use bitcoin::{Address, Network, Txid};
use lightning_invoice::Bolt11Invoice;
use serde::Serialize;

pub use crate::config::PeerSpec;
pub use crate::ln::{ChannelPolicyView, ChannelRef, ForwardingPolicy, OwnChannel, PolicyUpdate};
pub use crate::wallet::WalletBalance;
pub use crate::{ChainStatus, NodeStatus, PeerStatus};

use crate::error::NodeError;
use crate::Node;

/// The API's handle to a running node (module documentation). Cheap to clone.
#[derive(Clone)]
pub struct NodeHandle {
    node: Arc<Node>,
}

/// Who a new channel goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerTarget {
    /// A peer we are connected to.
    Connected(PublicKey),
    /// A peer to connect to first (and to keep connected, as [`NodeHandle::connect`]).
    Connect(PeerSpec),
}

impl PeerTarget {
    /// The peer's node id.
    pub fn node_id(&self) -> PublicKey {
        match self {
            PeerTarget::Connected(id) => *id,
            PeerTarget::Connect(spec) => spec.node_id,
        }
    }
}

/// A channel to open, funded from the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenChannel {
    /// The peer: already connected, or to connect to first.
    pub peer: PeerTarget,
    /// At least 20,000 sat, and no more than the wallet can spend.
    pub amount_sat: u64,
    /// Given to the peer at open; at most the channel's value.
    pub push_msat: u64,
    /// Announce the channel to the network (a routing node wants forwards).
    pub announce: bool,
}

/// Our channels and the policy new ones get.
#[derive(Debug, Clone, Serialize)]
pub struct OwnChannels {
    /// Ordered by channel id.
    pub channels: Vec<OwnChannel>,
    /// The policy new channels get.
    pub default_policy: ForwardingPolicy,
}

/// What a policy change did.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyChanged {
    /// Open channels whose policy was changed.
    pub channels_updated: usize,
    /// The default for new channels, after the change.
    pub default_policy: ForwardingPolicy,
}

/// A BOLT 11 invoice to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceRequest {
    /// `None`: the payer chooses the amount.
    pub amount_msat: Option<u64>,
    /// The invoice's description.
    pub description: String,
    /// Seconds until the invoice expires.
    pub expiry_secs: u32,
}

/// A created invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedInvoice {
    /// The invoice, BOLT 11 encoded.
    pub bolt11: String,
    /// Hex.
    pub payment_hash: String,
}

/// A BOLT 11 invoice to pay.
#[derive(Debug, Clone)]
pub struct PayInvoice {
    /// The invoice.
    pub invoice: Bolt11Invoice,
    /// Required when the invoice names no amount; refused when it names another.
    pub amount_msat: Option<u64>,
    /// Most the routes may charge, summed over all parts.
    pub max_fee_msat: Option<u64>,
}

/// A spontaneous payment (keysend).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keysend {
    /// The payee.
    pub destination: PublicKey,
    /// Positive.
    pub amount_msat: u64,
    /// Most the route may charge in fees (msat); `None`: the router's default.
    pub max_fee_msat: Option<u64>,
}

/// A payment that was handed to LDK; its outcome lands in the books.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentStarted {
    /// Hex: the key of `GET /v1/payments/{id}`.
    pub payment_id: String,
}

/// On-chain funds to send from the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOnchain {
    /// Checked for the wallet's network ([`NodeHandle::wallet_network`]).
    pub address: Address,
    /// `None`: everything the wallet holds.
    pub amount_sat: Option<u64>,
}

/// The source recorded for peers added through the handle.
const SOURCE: &str = "api";

impl NodeHandle {
    /// The handle to `node`.
    pub fn new(node: Arc<Node>) -> NodeHandle {
        NodeHandle { node }
    }

    /// Identity, addresses, peers, gossip and chain state.
    pub fn status(&self) -> NodeStatus {
        self.node.status()
    }

    /// Connected peers and the ones the node keeps trying, with the last outcome of each.
    pub async fn peers(&self) -> Result<Vec<PeerStatus>, NodeError> {
        self.node.peers().await
    }

    /// Connects now and keeps the peer connected from then on, across restarts. The peer is
    /// remembered even when this fails (`Connect` says why; `Unavailable` while catching up).
    pub async fn connect(&self, peer: PeerSpec) -> Result<(), NodeError> {
        self.node.add_peer(peer, SOURCE).await
    }

    /// Our channels with balances, HTLCs in flight and policy.
    pub fn channels(&self) -> OwnChannels {
        let ln = self.node.lightning();
        OwnChannels {
            channels: ln.channels(),
            default_policy: ln.policy(),
        }
    }

    /// Opens a channel (connecting first for [`PeerTarget::Connect`]); returns the channel id
    /// LDK assigned for now. The funding transaction is built when the peer accepts.
    pub async fn open_channel(&self, req: OpenChannel) -> Result<String, NodeError> {
        if let PeerTarget::Connect(spec) = &req.peer {
            self.connect(spec.clone()).await?;
        }
        self.node.lightning().open_channel(
            req.peer.node_id(),
            req.amount_sat,
            req.push_msat,
            req.announce,
        )
    }

    /// Starts a cooperative close, or a force close with `force`.
    pub fn close_channel(&self, channel: ChannelRef, force: bool) -> Result<(), NodeError> {
        self.node.lightning().close_channel(channel, force)
    }

    /// The policy new channels get.
    pub fn policy(&self) -> ForwardingPolicy {
        self.node.lightning().policy()
    }

    /// Changes the forwarding policy of one channel, or of every channel and the default
    /// with `None`; LDK announces it in a `channel_update`.
    pub fn set_policy(
        &self,
        channel: Option<ChannelRef>,
        update: PolicyUpdate,
    ) -> Result<PolicyChanged, NodeError> {
        let ln = self.node.lightning();
        let channels_updated = ln.set_policy(channel, update)?;
        Ok(PolicyChanged {
            channels_updated,
            default_policy: ln.policy(),
        })
    }

    /// Our node id in the graph's terms.
    pub fn graph_node_id(&self) -> switchyard_graph::NodeId {
        switchyard_graph::NodeId::from_bytes_unchecked(self.node.node_id().serialize())
    }

    /// What a fee plan for our node needs: the rules, our channels' real balances and their
    /// activity from the books (see `crate::fees_ctl`).
    pub async fn fee_inputs(&self) -> Result<crate::fees_ctl::OwnInputs, NodeError> {
        crate::fees_ctl::inputs(&self.node).await
    }

    /// Runs the fee controller once now on `graph` (`None`: the store's); see
    /// `crate::fees_ctl` for what a dry run and an applying run do.
    pub async fn run_fees(
        &self,
        graph: Option<Arc<switchyard_graph::Snapshot>>,
        req: crate::fees_ctl::RunRequest,
    ) -> Result<crate::fees_ctl::RunReport, NodeError> {
        crate::fees_ctl::run(&self.node, graph, req).await
    }

    /// Creates an invoice (booked with the next write of the channel manager).
    pub fn create_invoice(&self, req: InvoiceRequest) -> Result<CreatedInvoice, NodeError> {
        let invoice = self.node.lightning().create_invoice(
            req.amount_msat,
            &req.description,
            req.expiry_secs,
        )?;
        Ok(CreatedInvoice {
            bolt11: invoice.to_string(),
            payment_hash: invoice.payment_hash().to_string(),
        })
    }

    /// Starts paying an invoice.
    pub fn pay_invoice(&self, req: PayInvoice) -> Result<PaymentStarted, NodeError> {
        let payment_id =
            self.node
                .lightning()
                .pay_invoice(&req.invoice, req.amount_msat, req.max_fee_msat)?;
        Ok(PaymentStarted { payment_id })
    }

    /// Starts a keysend.
    pub fn keysend(&self, req: Keysend) -> Result<PaymentStarted, NodeError> {
        let payment_id =
            self.node
                .lightning()
                .keysend(req.destination, req.amount_msat, req.max_fee_msat)?;
        Ok(PaymentStarted { payment_id })
    }

    /// The wallet's network, to check an address against before [`NodeHandle::send_onchain`].
    pub fn wallet_network(&self) -> Result<Network, NodeError> {
        Ok(self.node.lightning().wallet()?.network())
    }

    /// The on-chain balance.
    pub async fn wallet_balance(&self) -> Result<WalletBalance, NodeError> {
        let w = self.node.lightning().wallet()?.clone();
        tokio::task::spawn_blocking(move || w.balance())
            .await
            .map_err(|e| NodeError::Internal(format!("wallet task: {e}")))?
    }

    /// A fresh receive address of the wallet.
    pub async fn new_address(&self) -> Result<Address, NodeError> {
        let w = self.node.lightning().wallet()?.clone();
        tokio::task::spawn_blocking(move || w.new_address())
            .await
            .map_err(|e| NodeError::Internal(format!("wallet task: {e}")))?
    }

    /// Sends on-chain funds; returns the transaction id once bitcoind accepted it.
    pub async fn send_onchain(&self, req: SendOnchain) -> Result<Txid, NodeError> {
        self.node
            .lightning()
            .send_onchain(&req.address, req.amount_sat)
            .await
    }
}

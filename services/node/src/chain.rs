//! bitcoind over JSON-RPC: the funding check behind every `channel_announcement` (LDK's
//! [`UtxoLookup`], answered asynchronously so lookups never block peers), the chain tip, and
//! the watch for spent funding outputs that closes channels in the store.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bitcoin::blockdata::constants::ChainHash;
use bitcoin::consensus::deserialize;
use bitcoin::hex::FromHex;
use bitcoin::{Amount, Block, BlockHash, Network, OutPoint, ScriptBuf, TxOut, Txid};
use lightning::routing::utxo::{UtxoFuture, UtxoLookup, UtxoLookupError, UtxoResult};
use lightning_block_sync::http::HttpEndpoint;
use lightning_block_sync::rpc::{RpcClient, RpcError};
use serde_json::{json, Value};
use switchyard_graph::Scid;
use switchyard_store::Store;
use tokio::sync::{watch, Notify, Semaphore};

use crate::config::{BitcoindConfig, RpcAuth};
use crate::error::NodeError;
use crate::gossip::{MsgType, RecordingGossip};
use crate::metrics::NodeMetrics;
use crate::Graph;

/// A lookup that takes longer than this is answered "unknown": pending checks hold up
/// LDK's gossip processing, so they must stay short.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(10);
/// Blocks whose txid lists are kept for lookups (announcements cluster by block).
const BLOCK_CACHE: usize = 64;

fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for c in input.chunks(3) {
        let n = (c[0] as u32) << 16
            | (*c.get(1).unwrap_or(&0) as u32) << 8
            | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What happened to a funding lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FundingCheck {
    /// The output exists and is unspent.
    Unspent {
        /// The funding outpoint.
        outpoint: OutPoint,
        /// The output (its value is the channel's capacity).
        txout: TxOut,
    },
    /// No block at that height, or no transaction/output at that position.
    Missing,
    /// The transaction exists but the output is not in the UTXO set: spent, or the
    /// output index is beyond the transaction's outputs.
    Spent,
}

/// The chain as bitcoind sees it.
pub struct ChainSource {
    rpc: Arc<RpcClient>,
    network: Network,
    runtime: tokio::runtime::Handle,
    block_txids: Mutex<HashMap<u32, Arc<Vec<Txid>>>>,
    /// Outpoints and amounts (sat) of verified fundings, until the announcement is recorded.
    outpoints: Mutex<HashMap<u64, (String, u64)>>,
    /// Ourselves, to hand lookups to tasks from LDK's `&self` callback.
    me: Weak<ChainSource>,
    gossip: OnceLock<Weak<RecordingGossip>>,
    graph: OnceLock<Arc<Graph>>,
    /// Wakes the event loop after an async check resolved (so results go out promptly).
    pub(crate) events: Arc<Notify>,
    lookups: Semaphore,
    metrics: Arc<NodeMetrics>,
}

fn rpc_err(method: &str, e: std::io::Error) -> NodeError {
    let message = match e.get_ref().and_then(|i| i.downcast_ref::<RpcError>()) {
        Some(r) => format!("{} (code {})", r.message, r.code),
        None => e.to_string(),
    };
    NodeError::Rpc {
        method: method.to_string(),
        message,
    }
}

fn rpc_code(e: &std::io::Error) -> Option<i64> {
    e.get_ref()
        .and_then(|i| i.downcast_ref::<RpcError>())
        .map(|r| r.code)
}

impl ChainSource {
    /// Connects to bitcoind and checks that it serves `network`.
    pub async fn connect(
        cfg: &BitcoindConfig,
        network: Network,
        metrics: Arc<NodeMetrics>,
    ) -> Result<Arc<ChainSource>, NodeError> {
        let credentials = match &cfg.auth {
            RpcAuth::UserPass { user, password } => format!("{user}:{password}"),
            RpcAuth::Cookie(path) => std::fs::read_to_string(path)
                .map_err(|e| NodeError::io(path, e))?
                .trim()
                .to_string(),
        };
        let (host, port) = cfg
            .rpc_address
            .rsplit_once(':')
            .and_then(|(h, p)| p.parse::<u16>().ok().map(|p| (h.to_string(), p)))
            .ok_or_else(|| {
                NodeError::Config(format!(
                    "bitcoind RPC address {:?} is not host:port",
                    cfg.rpc_address
                ))
            })?;
        let endpoint = HttpEndpoint::for_host(host).with_port(port);
        let source = Arc::new_cyclic(|me| ChainSource {
            me: me.clone(),
            rpc: Arc::new(RpcClient::new(&base64(credentials.as_bytes()), endpoint)),
            network,
            runtime: tokio::runtime::Handle::current(),
            block_txids: Mutex::new(HashMap::new()),
            outpoints: Mutex::new(HashMap::new()),
            gossip: OnceLock::new(),
            graph: OnceLock::new(),
            events: Arc::new(Notify::new()),
            lookups: Semaphore::new(16),
            metrics,
        });
        let info = source.call("getblockchaininfo", &[]).await?;
        let chain = info["chain"].as_str().unwrap_or("");
        let expected = match network {
            Network::Bitcoin => "main",
            Network::Testnet => "test",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        };
        if chain != expected {
            return Err(NodeError::Config(format!(
                "bitcoind at {} serves chain {chain:?}, but the node runs on {expected:?}",
                cfg.rpc_address
            )));
        }
        Ok(source)
    }

    /// Wires the gossip handler and graph in once they exist (they hold this source).
    pub(crate) fn attach(&self, gossip: &Arc<RecordingGossip>, graph: Arc<Graph>) {
        let _ = self.gossip.set(Arc::downgrade(gossip));
        let _ = self.graph.set(graph);
    }

    /// The RPC client, for the block feed of the channel layer.
    pub fn rpc_client(&self) -> Arc<RpcClient> {
        self.rpc.clone()
    }

    /// Calls a bitcoind RPC `method` with `params`; errors carry the method and bitcoind's
    /// message.
    pub async fn call(&self, method: &str, params: &[Value]) -> Result<Value, NodeError> {
        self.rpc
            .call_method::<Value>(method, params)
            .await
            .map_err(|e| rpc_err(method, e))
    }

    /// Height and header time of the best block.
    pub async fn tip(&self) -> Result<(u32, BlockHash, i64), NodeError> {
        let hash = self.call("getbestblockhash", &[]).await?;
        let header = self
            .call("getblockheader", std::slice::from_ref(&hash))
            .await?;
        let height = header["height"].as_u64().unwrap_or(0) as u32;
        let time = header["time"].as_i64().unwrap_or(0);
        let hash = hash
            .as_str()
            .and_then(|s| BlockHash::from_str(s).ok())
            .ok_or_else(|| NodeError::Rpc {
                method: "getbestblockhash".into(),
                message: "not a block hash".into(),
            })?;
        Ok((height, hash, time))
    }

    async fn txids_at(&self, height: u32) -> Result<Option<Arc<Vec<Txid>>>, NodeError> {
        if let Some(t) = self
            .block_txids
            .lock()
            .ok()
            .and_then(|c| c.get(&height).cloned())
        {
            return Ok(Some(t));
        }
        let hash = match self
            .rpc
            .call_method::<Value>("getblockhash", &[json!(height)])
            .await
        {
            Ok(h) => h,
            // -8: height out of range.
            Err(e) if rpc_code(&e) == Some(-8) => return Ok(None),
            Err(e) => return Err(rpc_err("getblockhash", e)),
        };
        let block = self.call("getblock", &[hash, json!(1)]).await?;
        let txids: Vec<Txid> = block["tx"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_str().and_then(|s| Txid::from_str(s).ok()))
                    .collect()
            })
            .unwrap_or_default();
        let txids = Arc::new(txids);
        if let Ok(mut c) = self.block_txids.lock() {
            if c.len() >= BLOCK_CACHE {
                c.clear();
            }
            c.insert(height, txids.clone());
        }
        Ok(Some(txids))
    }

    /// Finds the output a short channel id points at and whether it is unspent.
    pub async fn check_funding(&self, scid: u64) -> Result<FundingCheck, NodeError> {
        let s = Scid::from_i64(scid as i64);
        let Some(txids) = self.txids_at(s.block()).await? else {
            return Ok(FundingCheck::Missing);
        };
        let Some(txid) = txids.get(s.tx_index() as usize) else {
            return Ok(FundingCheck::Missing);
        };
        let vout = s.output_index() as u32;
        let out = self
            .call(
                "gettxout",
                &[json!(txid.to_string()), json!(vout), json!(false)],
            )
            .await?;
        if out.is_null() {
            // The transaction is in the block, so the output was spent (or never existed).
            return Ok(FundingCheck::Spent);
        }
        let value = out["value"].as_f64().unwrap_or(-1.0);
        let amount = Amount::from_btc(value).map_err(|e| NodeError::Rpc {
            method: "gettxout".into(),
            message: format!("bad value {value}: {e}"),
        })?;
        let script = out["scriptPubKey"]["hex"]
            .as_str()
            .and_then(|h| Vec::<u8>::from_hex(h).ok())
            .ok_or_else(|| NodeError::Rpc {
                method: "gettxout".into(),
                message: "missing scriptPubKey".into(),
            })?;
        Ok(FundingCheck::Unspent {
            outpoint: OutPoint { txid: *txid, vout },
            txout: TxOut {
                value: amount,
                script_pubkey: ScriptBuf::from_bytes(script),
            },
        })
    }

    /// The verified funding outpoint and amount of `scid`, once (the recorder takes it).
    pub(crate) fn take_funding(&self, scid: u64) -> Option<(String, u64)> {
        self.outpoints.lock().ok().and_then(|mut m| m.remove(&scid))
    }

    async fn resolve(self: Arc<Self>, scid: u64, future: UtxoFuture) {
        let result = match tokio::time::timeout(LOOKUP_TIMEOUT, async {
            let _permit = self.lookups.acquire().await;
            self.check_funding(scid).await
        })
        .await
        {
            Ok(Ok(FundingCheck::Unspent { outpoint, txout })) => {
                if let Ok(mut m) = self.outpoints.lock() {
                    m.insert(scid, (outpoint.to_string(), txout.value.to_sat()));
                }
                Ok(txout)
            }
            Ok(Ok(FundingCheck::Missing)) => Err(("unknown_utxo", UtxoLookupError::UnknownTx)),
            Ok(Ok(FundingCheck::Spent)) => Err(("spent_utxo", UtxoLookupError::UnknownTx)),
            Ok(Err(e)) => {
                tracing::warn!(scid = %Scid::from_i64(scid as i64), error = %e, "funding lookup failed");
                Err(("lookup_failed", UtxoLookupError::UnknownTx))
            }
            Err(_) => Err(("lookup_timeout", UtxoLookupError::UnknownTx)),
        };
        let (Some(gossip), Some(graph)) =
            (self.gossip.get().and_then(Weak::upgrade), self.graph.get())
        else {
            return;
        };
        match result {
            Ok(txout) => {
                future.resolve(graph, gossip.inner().clone(), Ok(txout));
                if graph.read_only().channel(scid).is_none() {
                    // LDK refused it after the lookup: keys don't match the output's script.
                    gossip.note_pending_resolved(scid);
                    self.take_funding(scid);
                    gossip.count_rejected(MsgType::ChannelAnnouncement, "bad_utxo");
                }
            }
            Err((reason, e)) => {
                future.resolve(graph, gossip.inner().clone(), Err(e));
                gossip.note_pending_resolved(scid);
                gossip.count_rejected(MsgType::ChannelAnnouncement, reason);
            }
        }
        self.events.notify_one();
    }

    /// Follows the tip: publishes it, and closes channels whose funding output a new block
    /// spends. Runs until `shutdown` flips.
    pub(crate) async fn watch(
        self: Arc<Self>,
        store: Store,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut scanned: Option<u32> = None;
        let mut down = false;
        loop {
            match self.tip().await {
                Ok((height, _hash, time)) => {
                    if std::mem::take(&mut down) {
                        tracing::info!(height, "bitcoind reachable again");
                    }
                    self.metrics.chain_tip_height.set(height as i64);
                    self.metrics.chain_tip_timestamp.set(time);
                    let from = scanned.map_or(height, |s| s + 1);
                    if from <= height {
                        match self.scan_spends(&store, from, height).await {
                            Ok(()) => scanned = Some(height),
                            Err(e) => {
                                tracing::warn!(error = %e, "scanning blocks for channel closes")
                            }
                        }
                    }
                }
                // Once per outage: the poll runs several times a second.
                Err(e) if !down => {
                    down = true;
                    tracing::warn!(error = %e, "bitcoind unreachable; retrying")
                }
                Err(_) => {}
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn scan_spends(&self, store: &Store, from: u32, to: u32) -> Result<(), NodeError> {
        let watched: HashMap<OutPoint, Scid> =
            switchyard_store::gossip::open_funding_outpoints(store)
                .await?
                .into_iter()
                .filter_map(|(scid, op)| OutPoint::from_str(&op).ok().map(|o| (o, scid)))
                .collect();
        if watched.is_empty() {
            return Ok(());
        }
        let mut spent = Vec::new();
        for h in from..=to {
            let hash = self.call("getblockhash", &[json!(h)]).await?;
            let hex = self.call("getblock", &[hash, json!(0)]).await?;
            let bytes = hex
                .as_str()
                .and_then(|h| Vec::<u8>::from_hex(h).ok())
                .ok_or_else(|| NodeError::Rpc {
                    method: "getblock".into(),
                    message: "not hex".into(),
                })?;
            let block: Block = deserialize(&bytes).map_err(|e| NodeError::Rpc {
                method: "getblock".into(),
                message: format!("undecodable block {h}: {e}"),
            })?;
            for tx in &block.txdata {
                for input in &tx.input {
                    if let Some(scid) = watched.get(&input.previous_output) {
                        spent.push((*scid, h));
                    }
                }
            }
        }
        if !spent.is_empty() {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let n = switchyard_store::gossip::close_spent(store, &spent, now).await?;
            self.metrics.channels_closed_onchain.inc_by(n);
            if let Some(graph) = self.graph.get() {
                for (scid, _) in &spent {
                    graph.channel_failed_permanent(scid.to_i64() as u64);
                }
            }
            tracing::info!(closed = n, "channels closed on chain");
        }
        Ok(())
    }
}

impl UtxoLookup for ChainSource {
    fn get_utxo(&self, chain_hash: &ChainHash, short_channel_id: u64) -> UtxoResult {
        if *chain_hash != ChainHash::using_genesis_block(self.network) {
            return UtxoResult::Sync(Err(UtxoLookupError::UnknownChain));
        }
        let Some(me) = self.me.upgrade() else {
            return UtxoResult::Sync(Err(UtxoLookupError::UnknownTx));
        };
        let future = UtxoFuture::new();
        self.runtime
            .spawn(me.resolve(short_channel_id, future.clone()));
        UtxoResult::Async(future)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }
}

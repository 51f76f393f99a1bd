//! LDK's view of bitcoind for the channel layer: fee rates per confirmation target
//! ([`FeeEstimates`], LDK's `FeeEstimator`) and transactions out ([`Broadcaster`], LDK's
//! `BroadcasterInterface`, over `sendrawtransaction`).
//!
//! It must not block LDK: estimates are read from atomics refreshed by the chain feed, and
//! broadcasts are handed to the runtime.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use bitcoin::Transaction;
use lightning::chain::chaininterface::{BroadcasterInterface, ConfirmationTarget, FeeEstimator};
use lightning::chain::BestBlock;
use lightning_block_sync::rpc::RpcClient;

use crate::error::NodeError;

/// Fee rates (sat per 1000 weight units) per LDK confirmation target: from bitcoind's
/// `estimatesmartfee`, refreshed by the chain task, with fixed fallbacks where bitcoind has no
/// estimate (regtest, a fresh node).
pub struct FeeEstimates {
    rates: [AtomicU32; 9],
}

/// LDK's floor (1 sat/vB).
const MIN_FEERATE: u32 = 253;

fn target_slot(t: ConfirmationTarget) -> usize {
    match t {
        ConfirmationTarget::MaximumFeeEstimate => 0,
        ConfirmationTarget::UrgentOnChainSweep => 1,
        ConfirmationTarget::MinAllowedAnchorChannelRemoteFee => 2,
        ConfirmationTarget::MinAllowedNonAnchorChannelRemoteFee => 3,
        ConfirmationTarget::AnchorChannelFee => 4,
        ConfirmationTarget::NonAnchorChannelFee => 5,
        ConfirmationTarget::ChannelCloseMinimum => 6,
        ConfirmationTarget::OutputSpendingFee => 7,
    }
}

/// (confirmation target in blocks, fallback sat/kw) per slot.
const TARGETS: [(u16, u32); 8] = [
    (1, 5000),
    (1, 5000),
    (1008, MIN_FEERATE),
    (1008, MIN_FEERATE),
    (1008, MIN_FEERATE),
    (6, 2000),
    (144, MIN_FEERATE),
    (12, 1000),
];

impl FeeEstimates {
    /// Estimates at their built-in defaults until bitcoind is asked.
    pub fn new() -> FeeEstimates {
        let rates =
            std::array::from_fn(|i| AtomicU32::new(TARGETS.get(i).map_or(MIN_FEERATE, |t| t.1)));
        FeeEstimates { rates }
    }

    /// Asks bitcoind for each target; keeps the previous value where it has no estimate.
    pub async fn refresh(&self, rpc: &RpcClient) {
        for (slot, (blocks, _)) in TARGETS.iter().enumerate() {
            let r = rpc
                .call_method::<serde_json::Value>(
                    "estimatesmartfee",
                    &[serde_json::json!(blocks), serde_json::json!("ECONOMICAL")],
                )
                .await;
            if let Some(btc_per_kvb) = r.ok().and_then(|v| v["feerate"].as_f64()) {
                // BTC/kvB -> sat/kw: x 1e8 sat/BTC, / 4 weight units per vbyte.
                let mut sat_per_kw = (btc_per_kvb * 1e8 / 4.0) as u32;
                if slot == 2 || slot == 3 {
                    // Be lenient with what peers propose: bitcoind's long-horizon estimate,
                    // minus a margin, so a small disagreement does not close channels.
                    sat_per_kw = sat_per_kw.saturating_sub(250);
                }
                self.rates[slot].store(sat_per_kw.max(MIN_FEERATE), Ordering::Relaxed);
            }
        }
    }

    /// The fee rate (sat per 1000 weight units) for `t`.
    pub fn rate(&self, t: ConfirmationTarget) -> u32 {
        self.rates[target_slot(t)]
            .load(Ordering::Relaxed)
            .max(MIN_FEERATE)
    }
}

impl Default for FeeEstimates {
    fn default() -> Self {
        Self::new()
    }
}

impl FeeEstimator for FeeEstimates {
    fn get_est_sat_per_1000_weight(&self, t: ConfirmationTarget) -> u32 {
        self.rate(t)
    }
}

/// Hands transactions to bitcoind (`sendrawtransaction`) on the runtime, off LDK's locks.
pub struct Broadcaster {
    rpc: Option<Arc<RpcClient>>,
    runtime: tokio::runtime::Handle,
}

impl Broadcaster {
    /// A broadcaster over bitcoind's RPC, spawning on `runtime`; without RPC (`None`) a
    /// broadcast is only logged as impossible.
    pub fn new(rpc: Option<Arc<RpcClient>>, runtime: tokio::runtime::Handle) -> Broadcaster {
        Broadcaster { rpc, runtime }
    }

    /// Sends one transaction and waits for bitcoind's answer.
    pub async fn send(&self, tx: &Transaction) -> Result<bitcoin::Txid, NodeError> {
        let Some(rpc) = &self.rpc else {
            return Err(NodeError::Unavailable("no bitcoind configured".into()));
        };
        let hex = bitcoin::consensus::encode::serialize_hex(tx);
        rpc.call_method::<serde_json::Value>("sendrawtransaction", &[serde_json::json!(hex)])
            .await
            .map_err(|e| NodeError::Rpc {
                method: "sendrawtransaction".into(),
                message: e.to_string(),
            })?;
        Ok(tx.compute_txid())
    }
}

impl BroadcasterInterface for Broadcaster {
    fn broadcast_transactions(&self, txs: &[&Transaction]) {
        let Some(rpc) = self.rpc.clone() else {
            tracing::warn!(count = txs.len(), "no bitcoind: cannot broadcast");
            return;
        };
        for tx in txs {
            let txid = tx.compute_txid();
            let hex = bitcoin::consensus::encode::serialize_hex(*tx);
            let rpc = rpc.clone();
            self.runtime.spawn(async move {
                match rpc
                    .call_method::<serde_json::Value>(
                        "sendrawtransaction",
                        &[serde_json::json!(hex)],
                    )
                    .await
                {
                    Ok(_) => tracing::info!(%txid, "transaction broadcast"),
                    // LDK rebroadcasts what matters; "already in chain" and the like are
                    // normal for claims that were already sent.
                    Err(e) => tracing::debug!(%txid, error = %e, "broadcast refused"),
                }
            });
        }
    }
}

/// bitcoind's best block.
pub(crate) async fn chain_tip(rpc: &RpcClient) -> Result<BestBlock, NodeError> {
    use lightning_block_sync::BlockSource;
    let (hash, height) = rpc.get_best_block().await.map_err(|e| NodeError::Rpc {
        method: "getbestblockhash".into(),
        message: format!("{e:?}"),
    })?;
    Ok(BestBlock::new(hash, height.unwrap_or(0)))
}

//! The block feed: at start, every chain listener (the channel manager, each restored monitor,
//! the wallet, the sweeper) is brought from where it stopped to bitcoind's tip
//! (`lightning-block-sync`'s `synchronize_listeners`); then the monitors go to the chain
//! monitor and an `SpvClient` polls for new blocks, handing each to every listener.
//!
//! Until the restored monitors are in the chain monitor, nothing may drive the channel
//! manager (peers, events, payments, closes): an update it generated for a channel whose
//! monitor is not registered yet would be lost. This module owns that gate
//! ([`Lightning::wait_channels_watched`]).

use std::sync::Arc;
use std::time::Duration;

use lightning::chain::channelmonitor::ChannelMonitor;
use lightning::chain::{BestBlock, Listen};
use lightning::sign::InMemorySigner;
use lightning_block_sync::poll::ChainPoller;
use lightning_block_sync::rpc::RpcClient;
use lightning_block_sync::{init, SpvClient, UnboundedCache};
use tokio::sync::watch;

use super::{Broadcaster, FeeEstimates, Lightning};
use crate::error::NodeError;
use crate::LdkLogger;

/// The error for a request refused until the restored channels are watched (see
/// [`Lightning::wait_channels_watched`]); `then` says what happens next.
pub(crate) fn catching_up(then: &str) -> NodeError {
    NodeError::Unavailable(format!(
        "the node's channels are still catching up with the chain (is bitcoind reachable?); {then}"
    ))
}

impl Lightning {
    /// Brings every chain listener to bitcoind's tip, hands the monitors to the chain
    /// monitor, then follows the chain: each new block goes to the channel manager, the
    /// monitors, the wallet and the sweeper. Without bitcoind, only registers the monitors.
    pub async fn run_chain_feed(
        self: Arc<Self>,
        poll: Duration,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let Some(rpc) = self.rpc.clone() else {
            self.watch_pending_monitors();
            return;
        };
        let mut cache = UnboundedCache::new();
        let tip = loop {
            match self.synchronize(&rpc, &mut cache).await {
                Ok(tip) => break tip,
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        peers_wait = !self.channels_watched(),
                        "syncing channels with the chain; retrying"
                    );
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
        };
        self.watch_pending_monitors();
        let listener = FeedListener(self.clone());
        let poller = ChainPoller::new(rpc.clone(), self.network);
        let mut spv = SpvClient::new(tip, poller, &mut cache, &listener);
        let mut last_fee_refresh = std::time::Instant::now();
        let mut was_down = false;
        loop {
            match spv.poll_best_tip().await {
                Ok((tip, _)) => {
                    // Outputs of closed channels become spendable at some height: sweep
                    // them when it comes, not at the next minute's timer.
                    if let (lightning_block_sync::poll::ChainTip::Better(_), Some(s)) =
                        (tip, &self.sweeper)
                    {
                        let s = s.clone();
                        let _ = tokio::task::spawn_blocking(move || {
                            s.regenerate_and_broadcast_spend_if_necessary()
                        })
                        .await;
                    }
                    if was_down {
                        tracing::info!("bitcoind is back");
                        was_down = false;
                    }
                }
                Err(e) => {
                    if !was_down {
                        tracing::warn!(error = ?e, "bitcoind unreachable; channels keep running, blocks will be caught up");
                        was_down = true;
                    }
                }
            }
            if last_fee_refresh.elapsed() > Duration::from_secs(300) {
                self.fees.refresh(&rpc).await;
                last_fee_refresh = std::time::Instant::now();
            }
            tokio::select! {
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn synchronize(
        &self,
        rpc: &Arc<RpcClient>,
        cache: &mut UnboundedCache,
    ) -> Result<lightning_block_sync::poll::ValidatedBlockHeader, NodeError> {
        let monitors: Vec<(bitcoin::BlockHash, ChannelMonitor<InMemorySigner>)> = self
            .pending_monitors
            .lock()
            .map(|mut m| m.drain(..).collect())
            .map_err(|_| NodeError::Lightning("lock poisoned".into()))?;
        let result = {
            let monitor_listeners: Vec<_> = monitors
                .iter()
                .map(|(best, m)| {
                    (
                        *best,
                        MonitorListener {
                            monitor: m,
                            broadcaster: self.broadcaster.clone(),
                            fees: self.fees.clone(),
                            logger: Arc::new(LdkLogger),
                        },
                    )
                })
                .collect();
            let mut listeners: Vec<(bitcoin::BlockHash, &(dyn Listen + Send + Sync))> = vec![(
                self.manager_best,
                &*self.manager as &(dyn Listen + Send + Sync),
            )];
            for (best, l) in &monitor_listeners {
                listeners.push((*best, l as &(dyn Listen + Send + Sync)));
            }
            if let Some(w) = &self.wallet {
                if let Some(b) = w.best_block() {
                    listeners.push((b.block_hash, &**w as &(dyn Listen + Send + Sync)));
                }
            }
            if let Some(s) = &self.sweeper {
                listeners.push((
                    s.current_best_block().block_hash,
                    &**s as &(dyn Listen + Send + Sync),
                ));
            }
            init::synchronize_listeners(rpc.clone(), self.network, cache, listeners)
                .await
                .map_err(|e| NodeError::Rpc {
                    method: "sync".into(),
                    message: format!("{e:?}"),
                })
        };
        // Synced or not, the monitors go back: a retry starts from where each one got to.
        if let Ok(mut m) = self.pending_monitors.lock() {
            m.extend(monitors);
        }
        result
    }

    fn watch_pending_monitors(&self) {
        let monitors: Vec<_> = self
            .pending_monitors
            .lock()
            .map(|mut m| m.drain(..).collect())
            .unwrap_or_default();
        let restored = monitors.len();
        for (_, monitor) in monitors {
            let id = monitor.channel_id();
            // Not written again: it is as stored, plus blocks it will see again after a
            // crash (LDK's `load_existing_monitor`).
            if let Err(e) = self.chain_monitor.load_existing_monitor(id, monitor) {
                tracing::error!(channel = %id, error = ?e, "cannot watch a restored channel monitor");
            }
        }
        if !self.channels_watched.send_replace(true) {
            tracing::info!(
                channels = restored,
                "restored channels follow the chain; peers and payments go ahead"
            );
        }
    }

    /// Whether the restored channels are watched (see `wait_channels_watched`).
    pub fn channels_watched(&self) -> bool {
        *self.channels_watched.borrow()
    }

    /// Waits until every restored channel monitor has caught up with the chain and is in the
    /// chain monitor: only then may peers, events or the API drive the channel manager.
    /// Returns false if `shutdown` comes first.
    pub async fn wait_channels_watched(&self, shutdown: &mut watch::Receiver<bool>) -> bool {
        let mut watched = self.channels_watched.subscribe();
        tokio::select! {
            r = watched.wait_for(|w| *w) => r.is_ok(),
            _ = shutdown.wait_for(|s| *s) => false,
        }
    }

    pub(super) fn ensure_channels_watched(&self) -> Result<(), NodeError> {
        if self.channels_watched() {
            return Ok(());
        }
        Err(catching_up("try again shortly"))
    }
}

/// Hands each block to every chain listener of the node.
struct FeedListener(Arc<Lightning>);

impl Listen for FeedListener {
    fn filtered_block_connected(
        &self,
        header: &bitcoin::block::Header,
        txdata: &lightning::chain::transaction::TransactionData,
        height: u32,
    ) {
        self.0
            .manager
            .filtered_block_connected(header, txdata, height);
        self.0
            .chain_monitor
            .filtered_block_connected(header, txdata, height);
        if let Some(s) = &self.0.sweeper {
            s.filtered_block_connected(header, txdata, height);
        }
    }

    fn block_connected(&self, block: &bitcoin::Block, height: u32) {
        self.0.manager.block_connected(block, height);
        self.0.chain_monitor.block_connected(block, height);
        if let Some(w) = &self.0.wallet {
            w.block_connected(block, height);
        }
        if let Some(s) = &self.0.sweeper {
            s.block_connected(block, height);
        }
        self.0.metrics.ln_chain_height.set(height as i64);
    }

    fn blocks_disconnected(&self, fork_point: BestBlock) {
        self.0.manager.blocks_disconnected(fork_point);
        self.0.chain_monitor.blocks_disconnected(fork_point);
        if let Some(w) = &self.0.wallet {
            w.blocks_disconnected(fork_point);
        }
        if let Some(s) = &self.0.sweeper {
            s.blocks_disconnected(fork_point);
        }
    }
}

/// A restored monitor catching up to the tip before the chain monitor takes it over.
struct MonitorListener<'a> {
    monitor: &'a ChannelMonitor<InMemorySigner>,
    broadcaster: Arc<Broadcaster>,
    fees: Arc<FeeEstimates>,
    logger: Arc<LdkLogger>,
}

impl Listen for MonitorListener<'_> {
    fn filtered_block_connected(
        &self,
        header: &bitcoin::block::Header,
        txdata: &lightning::chain::transaction::TransactionData,
        height: u32,
    ) {
        self.monitor.block_connected(
            header,
            txdata,
            height,
            &*self.broadcaster,
            &*self.fees,
            &self.logger,
        );
    }

    fn blocks_disconnected(&self, fork_point: BestBlock) {
        self.monitor
            .blocks_disconnected(fork_point, &*self.broadcaster, &*self.fees, &self.logger);
    }
}

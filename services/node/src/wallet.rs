//! The on-chain wallet: BIP84 (native segwit) keys derived from the node seed, kept by BDK,
//! fed by the same block stream as LDK (so it needs no bitcoind wallet and no extra RPC),
//! and persisted as BDK change sets in the store's key-value table.
//!
//! It funds channels, takes change and receives what LDK sweeps from closed channels. It must
//! not talk to bitcoind itself: blocks come in through [`Listen`], transactions go out through
//! the node's broadcaster.

use std::sync::Mutex;

use bdk_wallet::bitcoin::bip32::Xpriv;
use bdk_wallet::chain::BlockId;
use bdk_wallet::template::Bip84;
use bdk_wallet::{ChangeSet, KeychainKind, SignOptions, Wallet};
use bitcoin::hashes::{sha256, Hash, HashEngine};
use bitcoin::{Address, Amount, Block, FeeRate, Network, ScriptBuf, Transaction, Txid};
use lightning::chain::{BestBlock, Listen};
use lightning::sign::ChangeDestinationSourceSync;
use lightning::util::persist::KVStoreSync;
use serde::Serialize;

use crate::error::NodeError;
use crate::kv::PgKvStore;

const KV_NAMESPACE: &str = "switchyard_wallet";
const KV_KEY: &str = "bdk_changeset";

/// Balances in satoshis, as BDK classifies them.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct WalletBalance {
    /// Confirmed and spendable now.
    pub confirmed_sat: u64,
    /// Unconfirmed outputs of our own transactions (change).
    pub trusted_pending_sat: u64,
    /// Unconfirmed outputs from others.
    pub untrusted_pending_sat: u64,
    /// Coinbase outputs not yet 100 blocks deep.
    pub immature_sat: u64,
    /// Sum of the four.
    pub total_sat: u64,
}

/// Thread-safe BDK wallet with write-through persistence: every change is in the store before
/// the call that made it returns.
pub struct OnchainWallet {
    inner: Mutex<Inner>,
    kv: PgKvStore,
    network: Network,
}

struct Inner {
    wallet: Wallet,
    /// Everything persisted so far (BDK change sets merge; the merged set rebuilds the wallet).
    persisted: ChangeSet,
}

/// The wallet's master key: a hash of the node seed with a domain tag, so the Lightning keys
/// and the wallet keys never coincide even though one backup restores both.
fn wallet_master(seed: &[u8; 32], network: Network) -> Result<Xpriv, NodeError> {
    let mut engine = sha256::Hash::engine();
    engine.input(b"switchyard/onchain-wallet/v1");
    engine.input(seed);
    let derived = sha256::Hash::from_engine(engine);
    Xpriv::new_master(network, derived.as_byte_array())
        .map_err(|e| NodeError::Wallet(format!("deriving the wallet key: {e}")))
}

impl OnchainWallet {
    /// Loads the wallet from the store, or creates it with its birthday at `tip` (blocks
    /// before the birthday are never scanned: a new seed has no older coins).
    pub fn load_or_create(
        seed: &[u8; 32],
        network: Network,
        kv: PgKvStore,
        tip: Option<BestBlock>,
    ) -> Result<OnchainWallet, NodeError> {
        let master = wallet_master(seed, network)?;
        let external = Bip84(master, KeychainKind::External);
        let internal = Bip84(master, KeychainKind::Internal);
        let stored = match kv.read(KV_NAMESPACE, "", KV_KEY) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == lightning::io::ErrorKind::NotFound => None,
            Err(e) => return Err(NodeError::Wallet(format!("reading the wallet: {e}"))),
        };
        let inner = match stored {
            Some(bytes) => {
                let changeset: ChangeSet = serde_json::from_slice(&bytes)
                    .map_err(|e| NodeError::Wallet(format!("stored wallet is unreadable: {e}")))?;
                let wallet = Wallet::load()
                    .descriptor(KeychainKind::External, Some(external))
                    .descriptor(KeychainKind::Internal, Some(internal))
                    .extract_keys()
                    .check_network(network)
                    .load_wallet_no_persist(changeset.clone())
                    .map_err(|e| NodeError::Wallet(format!("loading the wallet: {e}")))?
                    .ok_or_else(|| NodeError::Wallet("stored wallet is empty".into()))?;
                Inner {
                    wallet,
                    persisted: changeset,
                }
            }
            None => {
                let mut wallet = Wallet::create(external, internal)
                    .network(network)
                    .create_wallet_no_persist()
                    .map_err(|e| NodeError::Wallet(format!("creating the wallet: {e}")))?;
                if let Some(tip) = tip.filter(|t| t.height > 0) {
                    let chain = wallet.latest_checkpoint().insert(BlockId {
                        height: tip.height,
                        hash: tip.block_hash,
                    });
                    wallet
                        .apply_update(bdk_wallet::Update {
                            chain: Some(chain),
                            ..Default::default()
                        })
                        .map_err(|e| {
                            NodeError::Wallet(format!("setting the wallet birthday: {e}"))
                        })?;
                    tracing::debug!(height = tip.height, "wallet birthday");
                }
                Inner {
                    wallet,
                    persisted: ChangeSet::default(),
                }
            }
        };
        let me = OnchainWallet {
            inner: Mutex::new(inner),
            kv,
            network,
        };
        me.with(|_| Ok(()))?;
        Ok(me)
    }

    /// Runs `f` on the wallet and persists what it changed before returning.
    fn with<T>(&self, f: impl FnOnce(&mut Wallet) -> Result<T, NodeError>) -> Result<T, NodeError> {
        let mut inner = self
            .inner
            .lock()
            .map_err(|_| NodeError::Wallet("wallet lock poisoned".into()))?;
        let out = f(&mut inner.wallet)?;
        if let Some(staged) = inner.wallet.take_staged() {
            let mut merged = inner.persisted.clone();
            bdk_wallet::chain::Merge::merge(&mut merged, staged);
            let bytes = serde_json::to_vec(&merged)
                .map_err(|e| NodeError::Wallet(format!("encoding the wallet: {e}")))?;
            self.kv
                .write(KV_NAMESPACE, "", KV_KEY, bytes)
                .map_err(|e| NodeError::Wallet(format!("persisting the wallet: {e}")))?;
            inner.persisted = merged;
        }
        Ok(out)
    }

    /// The network the wallet's addresses are for.
    pub fn network(&self) -> Network {
        self.network
    }

    /// The block the wallet has seen last.
    pub fn best_block(&self) -> Option<BestBlock> {
        let inner = self.inner.lock().ok()?;
        let cp = inner.wallet.latest_checkpoint();
        Some(BestBlock::new(cp.hash(), cp.height()))
    }

    /// The balance if the wallet is not busy (for metrics, which must never wait).
    pub fn try_balance(&self) -> Option<WalletBalance> {
        let inner = self.inner.try_lock().ok()?;
        Some(balance_of(&inner.wallet))
    }

    /// The balance (waits while the wallet is busy).
    pub fn balance(&self) -> Result<WalletBalance, NodeError> {
        self.with(|w| Ok(balance_of(w)))
    }

    /// A fresh receive address (persisted, so it is watched after a restart).
    pub fn new_address(&self) -> Result<Address, NodeError> {
        self.with(|w| Ok(w.reveal_next_address(KeychainKind::External).address))
    }

    /// Builds and signs a transaction paying `amount` to `script` (a channel's funding
    /// output), change back to us. The transaction is recorded as unconfirmed so its inputs
    /// are not spent twice; broadcasting is the caller's job.
    pub fn build_payment(
        &self,
        script: ScriptBuf,
        amount: Amount,
        fee_rate: FeeRate,
    ) -> Result<Transaction, NodeError> {
        self.with(|w| {
            let mut builder = w.build_tx();
            builder.add_recipient(script, amount).fee_rate(fee_rate);
            let psbt = builder.finish().map_err(|e| {
                NodeError::Wallet(format!("cannot fund {} sat: {e}", amount.to_sat()))
            })?;
            sign_and_record(w, psbt)
        })
    }

    /// Sends `amount` (or everything with `None`) to `address`; returns the signed transaction.
    pub fn build_send(
        &self,
        address: &Address,
        amount: Option<Amount>,
        fee_rate: FeeRate,
    ) -> Result<Transaction, NodeError> {
        match amount {
            Some(a) => self.build_payment(address.script_pubkey(), a, fee_rate),
            None => self.with(|w| {
                let mut builder = w.build_tx();
                builder
                    .drain_wallet()
                    .drain_to(address.script_pubkey())
                    .fee_rate(fee_rate);
                let psbt = builder
                    .finish()
                    .map_err(|e| NodeError::Wallet(format!("cannot send everything: {e}")))?;
                sign_and_record(w, psbt)
            }),
        }
    }

    /// Forgets an unconfirmed transaction of ours that will never be broadcast (a funding
    /// that LDK refused), freeing its inputs.
    pub fn cancel(&self, tx: &Transaction) {
        if let Err(e) = self.with(|w| {
            w.cancel_tx(tx);
            Ok(())
        }) {
            tracing::warn!(error = %e, "releasing the inputs of a cancelled transaction");
        }
    }

    /// Whether the wallet knows transaction `txid` (ours, or paying us).
    pub fn is_mine(&self, txid: &Txid) -> bool {
        self.inner
            .lock()
            .map(|i| i.wallet.get_tx(*txid).is_some())
            .unwrap_or(false)
    }
}

/// Signs `psbt`, and records the transaction as unconfirmed so its inputs are not spent twice.
fn sign_and_record(
    w: &mut Wallet,
    mut psbt: bdk_wallet::bitcoin::Psbt,
) -> Result<Transaction, NodeError> {
    let finalized = w
        .sign(&mut psbt, SignOptions::default())
        .map_err(|e| NodeError::Wallet(format!("signing: {e}")))?;
    if !finalized {
        return Err(NodeError::Wallet(
            "the wallet could not sign every input".into(),
        ));
    }
    let tx = psbt
        .extract_tx()
        .map_err(|e| NodeError::Wallet(format!("extracting the transaction: {e}")))?;
    w.apply_unconfirmed_txs([(tx.clone(), now_secs())]);
    Ok(tx)
}

fn balance_of(w: &Wallet) -> WalletBalance {
    let b = w.balance();
    WalletBalance {
        confirmed_sat: b.confirmed.to_sat(),
        trusted_pending_sat: b.trusted_pending.to_sat(),
        untrusted_pending_sat: b.untrusted_pending.to_sat(),
        immature_sat: b.immature.to_sat(),
        total_sat: b.total().to_sat(),
    }
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Listen for OnchainWallet {
    fn filtered_block_connected(
        &self,
        _header: &bitcoin::block::Header,
        _txdata: &lightning::chain::transaction::TransactionData,
        _height: u32,
    ) {
        // The feed always hands over full blocks (`block_connected`), which BDK needs.
    }

    fn block_connected(&self, block: &Block, height: u32) {
        let result = self.with(|w| {
            let tip = w.latest_checkpoint();
            if height <= tip.height()
                && tip.get(height).map(|c| c.hash()) == Some(block.block_hash())
            {
                return Ok(());
            }
            let connected_to = if tip.height() + 1 == height {
                tip.block_id()
            } else {
                BlockId {
                    height: height.saturating_sub(1),
                    hash: block.header.prev_blockhash,
                }
            };
            w.apply_block_connected_to(block, height, connected_to)
                .map_err(|e| NodeError::Wallet(format!("block {height}: {e}")))
        });
        if let Err(e) = result {
            tracing::warn!(error = %e, "wallet could not apply a block");
        }
    }

    fn blocks_disconnected(&self, fork_point: BestBlock) {
        // BDK replaces displaced blocks when the new branch connects; nothing to undo here.
        tracing::debug!(height = fork_point.height, "wallet: blocks disconnected");
    }
}

impl ChangeDestinationSourceSync for OnchainWallet {
    fn get_change_destination_script(&self) -> Result<ScriptBuf, ()> {
        self.with(|w| {
            Ok(w.reveal_next_address(KeychainKind::Internal)
                .address
                .script_pubkey())
        })
        .map_err(|e| tracing::warn!(error = %e, "no change address for a sweep"))
    }
}

//! [`BitcoindUtxoLookup`]: LDK's [`UtxoLookup`] answered synchronously from bitcoind.

use bitcoin::constants::ChainHash;
use bitcoin::{Network, TxOut};
use lightning::routing::utxo::{UtxoLookup, UtxoLookupError, UtxoResult};

use crate::bitcoind::{block_hash, get_block, get_tx_out};
use crate::error::{Error, Result};
use crate::gossip::scid_parts;
use crate::rpc::RpcClient;

/// Resolves a `short_channel_id` (BOLT 7) to its funding output through bitcoind RPC:
/// block at the height, transaction at the index, output at the index, and only if that
/// output is unspent in the confirmed UTXO set. Blocking; meant for tests, where LDK's
/// [`NetworkGraph::update_channel_from_announcement`] can take it as `&Some(&lookup)`.
///
/// [`NetworkGraph::update_channel_from_announcement`]: lightning::routing::gossip::NetworkGraph::update_channel_from_announcement
#[derive(Clone, Debug)]
pub struct BitcoindUtxoLookup {
    rpc: RpcClient,
}

impl BitcoindUtxoLookup {
    /// A lookup over the given RPC client (usually from [`crate::Bitcoind::utxo_lookup`]).
    pub fn new(rpc: RpcClient) -> Self {
        BitcoindUtxoLookup { rpc }
    }

    /// The unspent funding output for `short_channel_id`, or `None` if the block, transaction
    /// or output does not exist or the output is spent.
    ///
    /// # Errors
    /// RPC failures other than "no such block height".
    pub fn lookup(&self, short_channel_id: u64) -> Result<Option<TxOut>> {
        let (height, tx_index, vout) = scid_parts(short_channel_id);
        let hash = match block_hash(&self.rpc, height) {
            Ok(hash) => hash,
            // -8: "Block height out of range".
            Err(Error::Rpc { code: -8, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let block = get_block(&self.rpc, &hash)?;
        let Some(tx) = block.txdata.get(tx_index as usize) else {
            return Ok(None);
        };
        if tx.output.get(usize::from(vout)).is_none() {
            return Ok(None);
        }
        get_tx_out(&self.rpc, &tx.compute_txid(), u32::from(vout), false)
    }
}

impl UtxoLookup for BitcoindUtxoLookup {
    fn get_utxo(&self, chain_hash: &ChainHash, short_channel_id: u64) -> UtxoResult {
        if *chain_hash != ChainHash::using_genesis_block(Network::Regtest) {
            return UtxoResult::Sync(Err(UtxoLookupError::UnknownChain));
        }
        // An RPC failure is reported as an unknown transaction: LDK has no other error.
        UtxoResult::Sync(match self.lookup(short_channel_id) {
            Ok(Some(txout)) => Ok(txout),
            Ok(None) | Err(_) => Err(UtxoLookupError::UnknownTx),
        })
    }
}

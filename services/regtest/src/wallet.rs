//! [`Wallet`]: one P2WPKH test key that mines its own coins and pays from them.

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{All, Message, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Address, Amount, BlockHash, CompressedPublicKey, Network, OutPoint, Script, ScriptBuf,
    Sequence, Transaction, TxIn, TxOut, Witness,
};
use serde_json::{json, Value};

use crate::bitcoind::{mine, send_raw_transaction, tip_height, Bitcoind};
use crate::error::{Error, Result};
use crate::random_secret_key;
use crate::rpc::RpcClient;

/// Blocks before a coinbase output can be spent (consensus rule).
pub const COINBASE_MATURITY: u32 = 100;

/// Fee paid per input by [`Wallet::spend_to`], plus the same again per transaction:
/// comfortably above the minimum relay fee for P2WPKH inputs (about 68 vbytes each).
pub const FEE_PER_INPUT_SAT: u64 = 1_000;

/// Change below this is left to the fee rather than creating a dust output.
const MIN_CHANGE_SAT: u64 = 1_000;

/// A coin the wallet can spend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Utxo {
    /// Where it is.
    pub outpoint: OutPoint,
    /// Its value and script (always the wallet's P2WPKH script).
    pub txout: TxOut,
    /// For coinbase outputs, the height of their block (they mature 100 blocks later).
    pub coinbase_height: Option<u32>,
}

/// A single-key P2WPKH wallet for tests. bitcoind is built without a wallet, so coins come
/// from mining to this key: [`Wallet::fund`] mines 101 blocks, which makes the first
/// coinbase (50 BTC on a fresh regtest chain) spendable. [`Wallet::spend_to`] builds, signs
/// and broadcasts a segwit v0 payment with change back to the wallet.
///
/// The wallet tracks its coins itself (coinbases of blocks it mined, its change, and
/// outputs handed to [`Wallet::track`]); it does not scan the chain.
#[derive(Debug)]
pub struct Wallet {
    rpc: RpcClient,
    secp: Secp256k1<All>,
    secret_key: SecretKey,
    public_key: CompressedPublicKey,
    address: Address,
    utxos: Vec<Utxo>,
}

impl Wallet {
    /// A wallet with a fresh random key on `bitcoind`'s chain. It holds an RPC handle, not a
    /// borrow, so it can outlive the borrow (but not the process).
    ///
    /// # Errors
    /// None in practice; kept fallible for key generation.
    pub fn new(bitcoind: &Bitcoind) -> Result<Wallet> {
        Self::from_secret_key(bitcoind, random_secret_key())
    }

    /// A wallet for a given key (for deterministic tests).
    ///
    /// # Errors
    /// None in practice.
    pub fn from_secret_key(bitcoind: &Bitcoind, secret_key: SecretKey) -> Result<Wallet> {
        let secp = Secp256k1::new();
        let public_key = CompressedPublicKey(secret_key.public_key(&secp));
        let address = Address::p2wpkh(&public_key, Network::Regtest);
        Ok(Wallet {
            rpc: bitcoind.client(),
            secp,
            secret_key,
            public_key,
            address,
            utxos: Vec::new(),
        })
    }

    /// The wallet's regtest address (`bcrt1q…`).
    pub fn address(&self) -> &Address {
        &self.address
    }

    /// The wallet's output script.
    pub fn script_pubkey(&self) -> ScriptBuf {
        self.address.script_pubkey()
    }

    /// The wallet's public key.
    pub fn public_key(&self) -> CompressedPublicKey {
        self.public_key
    }

    /// Mines 101 blocks to the wallet so that at least one 50 BTC coinbase is spendable.
    ///
    /// # Errors
    /// RPC errors.
    pub fn fund(&mut self) -> Result<()> {
        self.mine(COINBASE_MATURITY + 1).map(|_| ())
    }

    /// Mines `n` blocks paying the wallet and tracks their coinbase outputs (use this rather
    /// than [`Bitcoind::mine`] when you want the coins, e.g. to confirm a transaction).
    ///
    /// # Errors
    /// RPC errors.
    pub fn mine(&mut self, n: u32) -> Result<Vec<BlockHash>> {
        let hashes = mine(&self.rpc, n, &self.address)?;
        let script = self.script_pubkey();
        for hash in &hashes {
            let (height, coinbase) = coinbase_of(&self.rpc, hash)?;
            let txid = coinbase.compute_txid();
            for (vout, txout) in coinbase.output.into_iter().enumerate() {
                if txout.script_pubkey == script {
                    self.utxos.push(Utxo {
                        outpoint: OutPoint::new(txid, vout as u32),
                        txout,
                        coinbase_height: Some(height),
                    });
                }
            }
        }
        Ok(hashes)
    }

    /// Adds an output paying this wallet (e.g. from a channel close) to the tracked coins.
    /// Outputs for other scripts are ignored.
    pub fn track(&mut self, outpoint: OutPoint, txout: TxOut) {
        if txout.script_pubkey == self.script_pubkey()
            && !self.utxos.iter().any(|u| u.outpoint == outpoint)
        {
            self.utxos.push(Utxo {
                outpoint,
                txout,
                coinbase_height: None,
            });
        }
    }

    /// Coins spendable in the next block: mature coinbases and everything else tracked
    /// (including unconfirmed change).
    ///
    /// # Errors
    /// RPC errors (reading the tip height).
    pub fn spendable(&self) -> Result<Vec<Utxo>> {
        let next_height = tip_height(&self.rpc)? + 1;
        Ok(self
            .utxos
            .iter()
            .filter(|u| {
                u.coinbase_height
                    .is_none_or(|h| next_height >= h + COINBASE_MATURITY)
            })
            .cloned()
            .collect())
    }

    /// The total of [`Wallet::spendable`].
    ///
    /// # Errors
    /// RPC errors.
    pub fn balance(&self) -> Result<Amount> {
        Ok(self.spendable()?.iter().map(|u| u.txout.value).sum())
    }

    /// Pays `amount` to `script_pubkey` from spendable coins, with change back to the wallet;
    /// signs (segwit v0, `SIGHASH_ALL`), broadcasts, and returns the transaction and the
    /// index of the payment output (always 0; change, if any, is output 1). The payment is
    /// unconfirmed: mine to confirm it. Fee: [`FEE_PER_INPUT_SAT`] × (inputs + 1).
    ///
    /// # Errors
    /// [`Error::InsufficientFunds`] if the spendable coins do not cover amount plus fee;
    /// [`Error::Rpc`] if bitcoind rejects the transaction (e.g. a dust amount).
    pub fn spend_to(
        &mut self,
        script_pubkey: &Script,
        amount: Amount,
    ) -> Result<(Transaction, u32)> {
        let tx = self.build_spend(script_pubkey, amount)?;
        send_raw_transaction(&self.rpc, &tx)?;
        let txid = tx.compute_txid();
        self.utxos
            .retain(|u| !tx.input.iter().any(|i| i.previous_output == u.outpoint));
        if let Some(change) = tx.output.get(1) {
            self.utxos.push(Utxo {
                outpoint: OutPoint::new(txid, 1),
                txout: change.clone(),
                coinbase_height: None,
            });
        }
        Ok((tx, 0))
    }

    /// Like [`Wallet::spend_to`] but only builds and signs: nothing is broadcast and the
    /// wallet's coins are unchanged.
    ///
    /// # Errors
    /// [`Error::InsufficientFunds`].
    pub fn build_spend(&self, script_pubkey: &Script, amount: Amount) -> Result<Transaction> {
        // Largest coins first: few inputs, and confirmed coinbases before small change.
        let mut coins = self.spendable()?;
        coins.sort_by_key(|u| std::cmp::Reverse(u.txout.value));
        let available_sat: u64 = coins.iter().map(|u| u.txout.value.to_sat()).sum();
        let mut selected = Vec::new();
        let mut total_sat = 0u64;
        let mut needed_sat = amount.to_sat() + FEE_PER_INPUT_SAT;
        for coin in coins {
            if total_sat >= needed_sat {
                break;
            }
            total_sat += coin.txout.value.to_sat();
            needed_sat += FEE_PER_INPUT_SAT;
            selected.push(coin);
        }
        if total_sat < needed_sat {
            return Err(Error::InsufficientFunds {
                needed_sat,
                available_sat,
            });
        }

        let mut output = vec![TxOut {
            value: amount,
            script_pubkey: script_pubkey.to_owned(),
        }];
        let change_sat = total_sat - needed_sat;
        if change_sat >= MIN_CHANGE_SAT {
            output.push(TxOut {
                value: Amount::from_sat(change_sat),
                script_pubkey: self.script_pubkey(),
            });
        }
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: selected
                .iter()
                .map(|u| TxIn {
                    previous_output: u.outpoint,
                    script_sig: ScriptBuf::new(),
                    sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                    witness: Witness::new(),
                })
                .collect(),
            output,
        };
        for (index, coin) in selected.iter().enumerate() {
            let witness = self.sign_p2wpkh(&tx, index, coin.txout.value)?;
            tx.input[index].witness = witness;
        }
        Ok(tx)
    }

    /// The P2WPKH witness (`<sig> <pubkey>`) for input `index` of `tx` spending one of this
    /// wallet's outputs worth `value`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if `index` is not an input of `tx`.
    pub fn sign_p2wpkh(&self, tx: &Transaction, index: usize, value: Amount) -> Result<Witness> {
        let sighash = SighashCache::new(tx)
            .p2wpkh_signature_hash(index, &self.script_pubkey(), value, EcdsaSighashType::All)
            .map_err(|e| Error::InvalidParameter(format!("signing input {index}: {e}")))?;
        let message = Message::from_digest(sighash.to_byte_array());
        let signature = bitcoin::ecdsa::Signature {
            signature: self.secp.sign_ecdsa(&message, &self.secret_key),
            sighash_type: EcdsaSighashType::All,
        };
        Ok(Witness::p2wpkh(&signature, &self.public_key.0))
    }
}

/// The height and coinbase transaction of a block (`getblock` verbosity 2).
fn coinbase_of(rpc: &RpcClient, hash: &BlockHash) -> Result<(u32, Transaction)> {
    let method = "getblock";
    let reply = rpc.call(method, json!([hash.to_string(), 2]))?;
    let bad = |detail: String| Error::BadResponse {
        method: method.to_owned(),
        detail,
    };
    let height = reply
        .get("height")
        .and_then(Value::as_u64)
        .and_then(|h| u32::try_from(h).ok())
        .ok_or_else(|| bad(format!("no height for block {hash}")))?;
    let hex = reply
        .pointer("/tx/0/hex")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("no coinbase hex in block {hash}")))?;
    let tx = bitcoin::consensus::encode::deserialize_hex(hex).map_err(|e| bad(e.to_string()))?;
    Ok((height, tx))
}

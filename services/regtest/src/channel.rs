//! [`ChannelFixture`]: a real 2-of-2 funding output on regtest plus correctly (and
//! deliberately incorrectly) signed BOLT 7 gossip for it.

use bitcoin::absolute::LockTime;
use bitcoin::blockdata::opcodes::all::OP_CHECKMULTISIG;
use bitcoin::blockdata::script::Builder;
use bitcoin::hashes::Hash;
use bitcoin::secp256k1::{Message, PublicKey, Secp256k1, SecretKey};
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, BlockHash, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use lightning::ln::msgs::{ChannelAnnouncement, ChannelUpdate, UnsignedChannelAnnouncement};
use lightning::routing::gossip::NodeId;
use lightning::types::features::ChannelFeatures;

use crate::bitcoind::{get_block, send_raw_transaction, Bitcoind};
use crate::error::{Error, Result};
use crate::gossip::{
    corrupt_signature, regtest_chain_hash, scid, sign_channel_announcement, sign_channel_update,
    AnnouncementKeys, Policy,
};
use crate::random_secret_key;
use crate::rpc::RpcClient;
use crate::wallet::Wallet;

/// Confirmations [`ChannelFixture::open`] mines: BOLT 7 nodes announce a channel after 6.
pub const ANNOUNCEMENT_CONFIRMATIONS: u32 = 6;

/// Fee of the transaction [`ChannelFixture::close_onchain`] builds.
pub const CLOSE_FEE_SAT: u64 = 2_000;

/// Which way a `channel_update` points, in terms of the nodes as passed to
/// [`ChannelFixture::open`]: `AToB` is A's policy for forwarding to B, signed by A.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Originates at node A (the first key given to [`ChannelFixture::open`]).
    AToB,
    /// Originates at node B.
    BToA,
}

/// The BOLT 3 funding witness script: `OP_2 <key1> <key2> OP_2 OP_CHECKMULTISIG` with the
/// two compressed keys sorted lexicographically.
pub fn funding_script(a: &PublicKey, b: &PublicKey) -> ScriptBuf {
    let (first, second) = sorted(a, b);
    Builder::new()
        .push_int(2)
        .push_slice(first.serialize())
        .push_slice(second.serialize())
        .push_int(2)
        .push_opcode(OP_CHECKMULTISIG)
        .into_script()
}

fn sorted<'a>(a: &'a PublicKey, b: &'a PublicKey) -> (&'a PublicKey, &'a PublicKey) {
    if a.serialize() <= b.serialize() {
        (a, b)
    } else {
        (b, a)
    }
}

/// A channel between two node keys the test holds, funded on regtest and buried under 6
/// blocks, with everything needed to forge its gossip.
///
/// ```no_run
/// # use switchyard_regtest::*;
/// # use bitcoin::secp256k1::SecretKey;
/// # fn main() -> Result<()> {
/// let btc = Bitcoind::start()?;
/// let mut wallet = Wallet::new(&btc)?;
/// wallet.fund()?;
/// let (a, b) = (SecretKey::from_slice(&[1; 32])?, SecretKey::from_slice(&[2; 32])?);
/// let ch = ChannelFixture::open(&btc, &mut wallet, &a, &b, 1_000_000)?;
/// let ts = now_timestamp();
/// let announcement = ch.announcement();
/// let a_to_b = ch.update(Direction::AToB, ch.default_policy(), ts);
/// let b_to_a = ch.update(Direction::BToA, Policy { fee_ppm: 500, ..ch.default_policy() }, ts);
/// // ... feed them to the node, then:
/// ch.close_onchain(&mut wallet)?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ChannelFixture {
    rpc: RpcClient,
    node_a: SecretKey,
    node_b: SecretKey,
    funding_key_a: SecretKey,
    funding_key_b: SecretKey,
    a_is_node_1: bool,
    capacity: Amount,
    funding_tx: Transaction,
    funding_vout: u32,
    block_hash: BlockHash,
    block_height: u32,
    tx_index: u32,
    block_tx_count: u32,
}

impl ChannelFixture {
    /// Creates fresh funding keys for A and B, pays `capacity_sat` from `wallet` to their
    /// P2WSH 2-of-2, mines [`ANNOUNCEMENT_CONFIRMATIONS`] blocks to the wallet, and finds
    /// the funding transaction's position for the `short_channel_id`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if A and B are the same key; wallet and RPC errors;
    /// [`Error::NotConfirmed`] if the funding transaction is not in the next block.
    pub fn open(
        bitcoind: &Bitcoind,
        wallet: &mut Wallet,
        node_a: &SecretKey,
        node_b: &SecretKey,
        capacity_sat: u64,
    ) -> Result<ChannelFixture> {
        if node_a == node_b {
            return Err(Error::InvalidParameter(
                "a channel needs two different node keys".to_owned(),
            ));
        }
        let secp = Secp256k1::new();
        let funding_key_a = random_secret_key();
        let funding_key_b = random_secret_key();
        let script = funding_script(
            &funding_key_a.public_key(&secp),
            &funding_key_b.public_key(&secp),
        );
        let capacity = Amount::from_sat(capacity_sat);
        let (funding_tx, funding_vout) = wallet.spend_to(&script.to_p2wsh(), capacity)?;
        let txid = funding_tx.compute_txid();

        let hashes = wallet.mine(ANNOUNCEMENT_CONFIRMATIONS)?;
        let block_hash = *hashes.first().ok_or_else(|| Error::BadResponse {
            method: "generatetoaddress".to_owned(),
            detail: "no blocks mined".to_owned(),
        })?;
        let block = get_block(&bitcoind.client(), &block_hash)?;
        let tx_index = block
            .txdata
            .iter()
            .position(|tx| tx.compute_txid() == txid)
            .ok_or(Error::NotConfirmed { txid, block_hash })?;
        let block_height = bitcoind.block_height(&block_hash)?;

        let a_is_node_1 =
            node_a.public_key(&secp).serialize() < node_b.public_key(&secp).serialize();
        Ok(ChannelFixture {
            rpc: bitcoind.client(),
            node_a: *node_a,
            node_b: *node_b,
            funding_key_a,
            funding_key_b,
            a_is_node_1,
            capacity,
            funding_tx,
            funding_vout,
            block_hash,
            block_height,
            tx_index: tx_index as u32,
            block_tx_count: block.txdata.len() as u32,
        })
    }

    /// The BOLT 7 `short_channel_id`: funding block height, index in the block, output.
    pub fn short_channel_id(&self) -> u64 {
        scid(self.block_height, self.tx_index, self.funding_vout as u16)
    }

    /// The channel's capacity (the funding output's value).
    pub fn capacity(&self) -> Amount {
        self.capacity
    }

    /// The funding transaction.
    pub fn funding_tx(&self) -> &Transaction {
        &self.funding_tx
    }

    /// The funding output's outpoint.
    pub fn funding_outpoint(&self) -> OutPoint {
        OutPoint::new(self.funding_tx.compute_txid(), self.funding_vout)
    }

    /// The funding output (P2WSH of [`ChannelFixture::funding_script`], value = capacity).
    pub fn funding_txout(&self) -> TxOut {
        self.funding_tx.output[self.funding_vout as usize].clone()
    }

    /// The 2-of-2 witness script.
    pub fn funding_script(&self) -> ScriptBuf {
        let secp = Secp256k1::signing_only();
        funding_script(
            &self.funding_key_a.public_key(&secp),
            &self.funding_key_b.public_key(&secp),
        )
    }

    /// Hash of the block that confirmed the funding transaction.
    pub fn block_hash(&self) -> BlockHash {
        self.block_hash
    }

    /// Height of that block.
    pub fn block_height(&self) -> u32 {
        self.block_height
    }

    /// Index of the funding transaction in that block.
    pub fn tx_index(&self) -> u32 {
        self.tx_index
    }

    /// Node A's public key (the first key given to [`ChannelFixture::open`]).
    pub fn node_a(&self) -> PublicKey {
        self.node_a.public_key(&Secp256k1::signing_only())
    }

    /// Node B's public key.
    pub fn node_b(&self) -> PublicKey {
        self.node_b.public_key(&Secp256k1::signing_only())
    }

    /// `node_id_1` of the announcement: the lexicographically smaller of A and B.
    pub fn node_1(&self) -> PublicKey {
        if self.a_is_node_1 {
            self.node_a()
        } else {
            self.node_b()
        }
    }

    /// `node_id_2` of the announcement.
    pub fn node_2(&self) -> PublicKey {
        if self.a_is_node_1 {
            self.node_b()
        } else {
            self.node_a()
        }
    }

    /// Whether node A is `node_id_1`.
    pub fn a_is_node_1(&self) -> bool {
        self.a_is_node_1
    }

    /// The secret funding keys of A and B (for tests that sign their own spends).
    pub fn funding_keys(&self) -> (SecretKey, SecretKey) {
        (self.funding_key_a, self.funding_key_b)
    }

    /// The BOLT 7 direction bit (`channel_flags & 1`) of `direction`: 0 when the update
    /// originates at node_1.
    pub fn direction_bit(&self, direction: Direction) -> u8 {
        let from_a = direction == Direction::AToB;
        u8::from(from_a != self.a_is_node_1)
    }

    /// [`Policy::default_for_capacity`] for this channel.
    pub fn default_policy(&self) -> Policy {
        Policy::default_for_capacity(self.capacity.to_sat())
    }

    /// The unsigned announcement (empty features, regtest chain hash, node and bitcoin keys
    /// in node_1/node_2 order).
    pub fn unsigned_announcement(&self) -> UnsignedChannelAnnouncement {
        self.unsigned_announcement_for(self.short_channel_id())
    }

    fn unsigned_announcement_for(&self, short_channel_id: u64) -> UnsignedChannelAnnouncement {
        let secp = Secp256k1::signing_only();
        let (node_1, node_2, btc_1, btc_2) = self.ordered_keys();
        let id = |k: &SecretKey| NodeId::from_pubkey(&k.public_key(&secp));
        UnsignedChannelAnnouncement {
            features: ChannelFeatures::empty(),
            chain_hash: regtest_chain_hash(),
            short_channel_id,
            node_id_1: id(node_1),
            node_id_2: id(node_2),
            bitcoin_key_1: id(btc_1),
            bitcoin_key_2: id(btc_2),
            excess_data: Vec::new(),
        }
    }

    /// (node_1, node_2, bitcoin_1, bitcoin_2) secrets.
    fn ordered_keys(&self) -> (&SecretKey, &SecretKey, &SecretKey, &SecretKey) {
        if self.a_is_node_1 {
            (
                &self.node_a,
                &self.node_b,
                &self.funding_key_a,
                &self.funding_key_b,
            )
        } else {
            (
                &self.node_b,
                &self.node_a,
                &self.funding_key_b,
                &self.funding_key_a,
            )
        }
    }

    /// The `channel_announcement`, signed by both nodes and both funding keys.
    pub fn announcement(&self) -> ChannelAnnouncement {
        self.announcement_for_scid(self.short_channel_id())
    }

    /// A correctly signed announcement of this channel's keys under another
    /// `short_channel_id`. Its signatures verify, but the UTXO check should fail (or find
    /// a different script).
    pub fn announcement_for_scid(&self, short_channel_id: u64) -> ChannelAnnouncement {
        let (node_1, node_2, bitcoin_1, bitcoin_2) = self.ordered_keys();
        sign_channel_announcement(
            self.unsigned_announcement_for(short_channel_id),
            AnnouncementKeys {
                node_1,
                node_2,
                bitcoin_1,
                bitcoin_2,
            },
        )
    }

    /// A correctly signed announcement whose funding output does not exist: the real
    /// funding block's height, but a transaction index one past the block's last
    /// transaction.
    pub fn announcement_for_missing_utxo(&self) -> ChannelAnnouncement {
        self.announcement_for_scid(scid(self.block_height, self.block_tx_count, 0))
    }

    /// The real announcement with `node_signature_1` corrupted: still a well-formed
    /// signature, but it does not verify.
    pub fn announcement_with_bad_signature(&self) -> ChannelAnnouncement {
        let mut announcement = self.announcement();
        let (node_1, ..) = self.ordered_keys();
        announcement.node_signature_1 = corrupt_signature(&announcement.node_signature_1, node_1);
        announcement
    }

    /// A `channel_update` for `direction`, signed by the originating node.
    pub fn update(&self, direction: Direction, policy: Policy, timestamp: u32) -> ChannelUpdate {
        let contents = policy.to_unsigned_update(
            self.short_channel_id(),
            self.direction_bit(direction),
            timestamp,
        );
        sign_channel_update(contents, self.origin_key(direction))
    }

    /// Like [`ChannelFixture::update`] but with a corrupted signature.
    pub fn update_with_bad_signature(
        &self,
        direction: Direction,
        policy: Policy,
        timestamp: u32,
    ) -> ChannelUpdate {
        let mut update = self.update(direction, policy, timestamp);
        update.signature = corrupt_signature(&update.signature, self.origin_key(direction));
        update
    }

    fn origin_key(&self, direction: Direction) -> &SecretKey {
        match direction {
            Direction::AToB => &self.node_a,
            Direction::BToA => &self.node_b,
        }
    }

    /// The secret key of node A or B (as given to [`ChannelFixture::open`]), e.g. for
    /// [`crate::node_announcement`].
    pub fn node_secret(&self, direction: Direction) -> SecretKey {
        *self.origin_key(direction)
    }

    /// Closes the channel on chain: spends the funding output with both funding keys
    /// (witness `0 <sig1> <sig2> <script>`, signatures in script key order) to the wallet
    /// (capacity minus [`CLOSE_FEE_SAT`]), broadcasts, mines one block to the wallet and
    /// tracks the output in it. Returns the closing transaction; its block is the new tip.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] if the capacity does not cover the fee; RPC errors
    /// (e.g. the funding output is already spent).
    pub fn close_onchain(&self, wallet: &mut Wallet) -> Result<Transaction> {
        let value = self
            .capacity
            .to_sat()
            .checked_sub(CLOSE_FEE_SAT)
            .filter(|v| *v >= 1_000)
            .ok_or_else(|| {
                Error::InvalidParameter(format!(
                    "capacity {} cannot pay the {CLOSE_FEE_SAT} sat close fee",
                    self.capacity
                ))
            })?;
        let mut tx = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: self.funding_outpoint(),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(value),
                script_pubkey: wallet.script_pubkey(),
            }],
        };
        let script = self.funding_script();
        let sighash = SighashCache::new(&tx)
            .p2wsh_signature_hash(0, &script, self.capacity, EcdsaSighashType::All)
            .map_err(|e| Error::InvalidParameter(format!("close sighash: {e}")))?;
        let message = Message::from_digest(sighash.to_byte_array());
        let secp = Secp256k1::new();
        let sig = |key: &SecretKey| bitcoin::ecdsa::Signature {
            signature: secp.sign_ecdsa(&message, key),
            sighash_type: EcdsaSighashType::All,
        };
        let (mut first, mut second) = (&self.funding_key_a, &self.funding_key_b);
        if first.public_key(&secp).serialize() > second.public_key(&secp).serialize() {
            std::mem::swap(&mut first, &mut second);
        }
        let mut witness = Witness::new();
        witness.push([]);
        witness.push(sig(first).serialize());
        witness.push(sig(second).serialize());
        witness.push(script.as_bytes());
        tx.input[0].witness = witness;

        send_raw_transaction(&self.rpc, &tx)?;
        wallet.mine(1)?;
        wallet.track(OutPoint::new(tx.compute_txid(), 0), tx.output[0].clone());
        Ok(tx)
    }
}

//! The operator's books: forwards, payments and invoices of our own node.

use serde::Serialize;
use sqlx::{PgExecutor, Postgres, Transaction};

use crate::error::{Error, Result};

/// One resolved forward, as the node's book-keeper records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRecord {
    /// Unix milliseconds.
    pub resolved_at_ms: i64,
    /// Whether the HTLC was settled (else it failed).
    pub settled: bool,
    /// Channel id (LDK's 32-byte id) the HTLC came in on, when known.
    pub in_channel_id: Option<[u8; 32]>,
    /// Channel id the HTLC went out on, when known.
    pub out_channel_id: Option<[u8; 32]>,
    /// Short channel id (as i64) it came in on, when known.
    pub in_scid: Option<i64>,
    /// Short channel id (as i64) it went out on, when known.
    pub out_scid: Option<i64>,
    /// The peer it came from, when known.
    pub in_peer: Option<[u8; 33]>,
    /// The peer it went to, when known.
    pub out_peer: Option<[u8; 33]>,
    /// Amount received (msat), when known.
    pub amount_in_msat: Option<i64>,
    /// Amount forwarded (msat), when known.
    pub amount_out_msat: Option<i64>,
    /// Fee earned (msat); 0 for a failed forward.
    pub fee_msat: i64,
    /// Why it failed; `None` when settled.
    pub failure_reason: Option<String>,
    /// How long the HTLC was held (ms), when measured.
    pub duration_ms: Option<i64>,
}

/// A change to the books, in the order the node saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookEntry {
    /// A forward resolved (settled or failed).
    Forward(ForwardRecord),
    /// We started paying.
    PaymentStarted {
        /// Our id of the payment.
        payment_id: [u8; 32],
        /// The payment hash.
        payment_hash: [u8; 32],
        /// `bolt11` or `keysend`.
        kind: &'static str,
        /// The payee, when known.
        destination: Option<[u8; 33]>,
        /// Amount (msat) to deliver.
        amount_msat: i64,
        /// The invoice paid, for `bolt11`.
        bolt11: Option<String>,
    },
    /// A payment succeeded.
    PaymentSucceeded {
        /// Our id of the payment.
        payment_id: [u8; 32],
        /// Total fee paid (msat), when known.
        fee_msat: Option<i64>,
        /// The preimage that proves payment.
        preimage: [u8; 32],
    },
    /// One path (part) of a payment arrived; `parts` counts them. Paths resolve after the
    /// payment is known to have succeeded, so this is an entry of its own.
    PathSucceeded {
        /// Our id of the payment.
        payment_id: [u8; 32],
    },
    /// A payment failed (a succeeded one stays succeeded).
    PaymentFailed {
        /// Our id of the payment.
        payment_id: [u8; 32],
        /// Why it failed.
        reason: String,
    },
    /// We issued an invoice.
    InvoiceCreated {
        /// The invoice's payment hash.
        payment_hash: [u8; 32],
        /// The encoded invoice.
        bolt11: String,
        /// Amount asked (msat); `None` for an open amount.
        amount_msat: Option<i64>,
        /// The invoice's description.
        description: String,
        /// When it expires (unix seconds).
        expires_at: i64,
    },
    /// An invoice was paid.
    InvoicePaid {
        /// The invoice's payment hash.
        payment_hash: [u8; 32],
        /// Amount received (msat).
        received_msat: i64,
    },
}

/// Writes a batch of entries in one transaction (all or nothing).
pub async fn record(tx: &mut Transaction<'_, Postgres>, entries: &[BookEntry]) -> Result<()> {
    for e in entries {
        match e {
            BookEntry::Forward(f) => {
                sqlx::query(
                    "INSERT INTO forwards (resolved_at, outcome, in_channel_id, out_channel_id, \
                     in_scid, out_scid, in_peer, out_peer, amount_in_msat, amount_out_msat, fee_msat, \
                     failure_reason, duration_ms) \
                     VALUES (to_timestamp($1::double precision / 1000), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(f.resolved_at_ms)
                .bind(if f.settled { "settled" } else { "failed" })
                .bind(f.in_channel_id.map(|c| c.to_vec()))
                .bind(f.out_channel_id.map(|c| c.to_vec()))
                .bind(f.in_scid)
                .bind(f.out_scid)
                .bind(f.in_peer.map(|c| c.to_vec()))
                .bind(f.out_peer.map(|c| c.to_vec()))
                .bind(f.amount_in_msat)
                .bind(f.amount_out_msat)
                .bind(f.fee_msat)
                .bind(f.failure_reason.as_deref())
                .bind(f.duration_ms)
                .execute(&mut **tx)
                .await?;
            }
            BookEntry::PaymentStarted {
                payment_id,
                payment_hash,
                kind,
                destination,
                amount_msat,
                bolt11,
            } => {
                sqlx::query(
                    "INSERT INTO payments (payment_id, payment_hash, kind, destination, amount_msat, status, bolt11) \
                     VALUES ($1, $2, $3, $4, $5, 'pending', $6) ON CONFLICT (payment_id) DO NOTHING",
                )
                .bind(payment_id.as_slice())
                .bind(payment_hash.as_slice())
                .bind(*kind)
                .bind(destination.map(|d| d.to_vec()))
                .bind(amount_msat)
                .bind(bolt11.as_deref())
                .execute(&mut **tx)
                .await?;
            }
            BookEntry::PaymentSucceeded {
                payment_id,
                fee_msat,
                preimage,
            } => {
                sqlx::query(
                    "UPDATE payments SET status = 'succeeded', fee_msat = $2, preimage = $3, \
                     failure_reason = NULL, updated_at = now() WHERE payment_id = $1",
                )
                .bind(payment_id.as_slice())
                .bind(fee_msat)
                .bind(preimage.as_slice())
                .execute(&mut **tx)
                .await?;
            }
            BookEntry::PathSucceeded { payment_id } => {
                sqlx::query(
                    "UPDATE payments SET parts = COALESCE(parts, 0) + 1, updated_at = now() \
                     WHERE payment_id = $1",
                )
                .bind(payment_id.as_slice())
                .execute(&mut **tx)
                .await?;
            }
            BookEntry::PaymentFailed { payment_id, reason } => {
                sqlx::query(
                    "UPDATE payments SET status = 'failed', failure_reason = $2, updated_at = now() \
                     WHERE payment_id = $1 AND status <> 'succeeded'",
                )
                .bind(payment_id.as_slice())
                .bind(reason)
                .execute(&mut **tx)
                .await?;
            }
            BookEntry::InvoiceCreated {
                payment_hash,
                bolt11,
                amount_msat,
                description,
                expires_at,
            } => {
                sqlx::query(
                    "INSERT INTO invoices (payment_hash, bolt11, amount_msat, description, expires_at) \
                     VALUES ($1, $2, $3, $4, to_timestamp($5)) ON CONFLICT (payment_hash) DO NOTHING",
                )
                .bind(payment_hash.as_slice())
                .bind(bolt11)
                .bind(amount_msat)
                .bind(description)
                .bind(*expires_at as f64)
                .execute(&mut **tx)
                .await?;
            }
            BookEntry::InvoicePaid {
                payment_hash,
                received_msat,
            } => {
                sqlx::query(
                    "UPDATE invoices SET status = 'paid', received_msat = $2, paid_at = now() \
                     WHERE payment_hash = $1",
                )
                .bind(payment_hash.as_slice())
                .bind(received_msat)
                .execute(&mut **tx)
                .await?;
            }
        }
    }
    Ok(())
}

/// A forward as the API lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardRow {
    /// Row id (order of recording).
    pub id: i64,
    /// Unix milliseconds.
    pub resolved_at_ms: i64,
    /// `settled` or `failed`.
    pub outcome: String,
    /// Incoming channel id (hex), when known.
    pub in_channel_id: Option<String>,
    /// Outgoing channel id (hex), when known.
    pub out_channel_id: Option<String>,
    /// Incoming short channel id (as i64), when known.
    pub in_scid: Option<i64>,
    /// Outgoing short channel id (as i64), when known.
    pub out_scid: Option<i64>,
    /// Incoming peer (hex), when known.
    pub in_peer: Option<String>,
    /// Outgoing peer (hex), when known.
    pub out_peer: Option<String>,
    /// Amount received (msat), when known.
    pub amount_in_msat: Option<i64>,
    /// Amount forwarded (msat), when known.
    pub amount_out_msat: Option<i64>,
    /// Fee earned (msat); 0 for a failed forward.
    pub fee_msat: i64,
    /// Why it failed; `None` when settled.
    pub failure_reason: Option<String>,
    /// How long the HTLC was held (ms), when measured.
    pub duration_ms: Option<i64>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A `forwards` row as stored (ids as bytes).
#[derive(sqlx::FromRow)]
struct StoredForward {
    id: i64,
    resolved_at_ms: i64,
    outcome: String,
    in_channel_id: Option<Vec<u8>>,
    out_channel_id: Option<Vec<u8>>,
    in_scid: Option<i64>,
    out_scid: Option<i64>,
    in_peer: Option<Vec<u8>>,
    out_peer: Option<Vec<u8>>,
    amount_in_msat: Option<i64>,
    amount_out_msat: Option<i64>,
    fee_msat: i64,
    failure_reason: Option<String>,
    duration_ms: Option<i64>,
}

impl From<StoredForward> for ForwardRow {
    fn from(r: StoredForward) -> Self {
        ForwardRow {
            id: r.id,
            resolved_at_ms: r.resolved_at_ms,
            outcome: r.outcome,
            in_channel_id: r.in_channel_id.as_deref().map(hex),
            out_channel_id: r.out_channel_id.as_deref().map(hex),
            in_scid: r.in_scid,
            out_scid: r.out_scid,
            in_peer: r.in_peer.as_deref().map(hex),
            out_peer: r.out_peer.as_deref().map(hex),
            amount_in_msat: r.amount_in_msat,
            amount_out_msat: r.amount_out_msat,
            fee_msat: r.fee_msat,
            failure_reason: r.failure_reason,
            duration_ms: r.duration_ms,
        }
    }
}

/// Forwards resolved in `[from, to)` (unix seconds), oldest first, at most `limit`.
pub async fn forwards(
    db: impl PgExecutor<'_>,
    from: i64,
    to: i64,
    limit: i64,
) -> Result<Vec<ForwardRow>> {
    let rows: Vec<StoredForward> = sqlx::query_as(
        "SELECT id, (extract(epoch FROM resolved_at) * 1000)::bigint AS resolved_at_ms, outcome, \
         in_channel_id, out_channel_id, in_scid, out_scid, in_peer, out_peer, amount_in_msat, \
         amount_out_msat, fee_msat, failure_reason, duration_ms FROM forwards \
         WHERE resolved_at >= to_timestamp($1) AND resolved_at < to_timestamp($2) \
         ORDER BY resolved_at, id LIMIT $3",
    )
    .bind(from as f64)
    .bind(to as f64)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(ForwardRow::from).collect())
}

/// How to group earnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarningsGroup {
    /// By the outgoing channel (the one whose liquidity earned the fee).
    Channel,
    /// By the outgoing peer.
    Peer,
    /// By UTC day.
    Day,
}

impl std::str::FromStr for EarningsGroup {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "channel" => Ok(EarningsGroup::Channel),
            "peer" => Ok(EarningsGroup::Peer),
            "day" => Ok(EarningsGroup::Day),
            other => Err(Error::InvalidInput(format!(
                "group_by must be channel, peer or day, not {other:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
/// Forwards of one group (channel, peer or day) over a time window.
pub struct EarningsRow {
    /// Channel id (hex), peer id (hex) or day (YYYY-MM-DD); `unknown` when not recorded.
    pub key: String,
    /// Settled forwards.
    pub forwards_settled: i64,
    /// Failed forwards.
    pub forwards_failed: i64,
    /// Fees (msat) of the settled forwards.
    pub fees_earned_msat: i64,
    /// Amount (msat) forwarded out by the settled forwards.
    pub volume_out_msat: i64,
}

/// Fees earned and volume forwarded in `[from, to)` (unix seconds), largest earner first
/// (by day: oldest first).
pub async fn earnings(
    db: impl PgExecutor<'_>,
    group: EarningsGroup,
    from: i64,
    to: i64,
) -> Result<Vec<EarningsRow>> {
    let (key, order) = match group {
        EarningsGroup::Channel => (
            "coalesce(encode(out_channel_id, 'hex'), 'unknown')",
            "4 DESC, 1",
        ),
        EarningsGroup::Peer => ("coalesce(encode(out_peer, 'hex'), 'unknown')", "4 DESC, 1"),
        EarningsGroup::Day => ("to_char(resolved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')", "1"),
    };
    let sql = format!(
        "SELECT {key}, count(*) FILTER (WHERE outcome = 'settled'), \
         count(*) FILTER (WHERE outcome = 'failed'), \
         coalesce(sum(fee_msat) FILTER (WHERE outcome = 'settled'), 0)::bigint, \
         coalesce(sum(amount_out_msat) FILTER (WHERE outcome = 'settled'), 0)::bigint \
         FROM forwards WHERE resolved_at >= to_timestamp($1) AND resolved_at < to_timestamp($2) \
         GROUP BY 1 ORDER BY {order}"
    );
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(&sql)
        .bind(from as f64)
        .bind(to as f64)
        .fetch_all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| EarningsRow {
            key: r.0,
            forwards_settled: r.1,
            forwards_failed: r.2,
            fees_earned_msat: r.3,
            volume_out_msat: r.4,
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
/// A payment as the API lists it.
pub struct PaymentRow {
    /// Our id of the payment (hex).
    pub payment_id: String,
    /// The payment hash (hex).
    pub payment_hash: String,
    /// `bolt11` or `keysend`.
    pub kind: String,
    /// The payee (hex), when known.
    pub destination: Option<String>,
    /// Amount (msat) to deliver.
    pub amount_msat: i64,
    /// Total fee paid (msat); `None` until it succeeded.
    pub fee_msat: Option<i64>,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Why it failed; `None` unless failed.
    pub failure_reason: Option<String>,
    /// The invoice paid, for `bolt11`.
    pub bolt11: Option<String>,
    /// The preimage (hex), once it succeeded.
    pub preimage: Option<String>,
    /// Paths (parts) that arrived; `None` before the first.
    pub parts: Option<i32>,
    /// When it started (unix seconds).
    pub created_at: i64,
    /// Last change (unix seconds).
    pub updated_at: i64,
}

/// A `payments` row as stored (ids and hashes as bytes).
#[derive(sqlx::FromRow)]
struct StoredPayment {
    payment_id: Vec<u8>,
    payment_hash: Vec<u8>,
    kind: String,
    destination: Option<Vec<u8>>,
    amount_msat: i64,
    fee_msat: Option<i64>,
    status: String,
    failure_reason: Option<String>,
    bolt11: Option<String>,
    preimage: Option<Vec<u8>>,
    parts: Option<i32>,
    created_at: i64,
    updated_at: i64,
}

const PAYMENT_COLUMNS: &str =
    "payment_id, payment_hash, kind, destination, amount_msat, fee_msat, \
     status, failure_reason, bolt11, preimage, parts, \
     extract(epoch FROM created_at)::bigint AS created_at, \
     extract(epoch FROM updated_at)::bigint AS updated_at";

impl From<StoredPayment> for PaymentRow {
    fn from(r: StoredPayment) -> Self {
        PaymentRow {
            payment_id: hex(&r.payment_id),
            payment_hash: hex(&r.payment_hash),
            kind: r.kind,
            destination: r.destination.as_deref().map(hex),
            amount_msat: r.amount_msat,
            fee_msat: r.fee_msat,
            status: r.status,
            failure_reason: r.failure_reason,
            bolt11: r.bolt11,
            preimage: r.preimage.as_deref().map(hex),
            parts: r.parts,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// The payment with our id `payment_id`; `None` when unknown.
pub async fn payment(db: impl PgExecutor<'_>, payment_id: &[u8; 32]) -> Result<Option<PaymentRow>> {
    let row: Option<StoredPayment> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments WHERE payment_id = $1"
    ))
    .bind(payment_id.as_slice())
    .fetch_optional(db)
    .await?;
    Ok(row.map(PaymentRow::from))
}

/// The newest payments first.
pub async fn payments(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<PaymentRow>> {
    let rows: Vec<StoredPayment> = sqlx::query_as(&format!(
        "SELECT {PAYMENT_COLUMNS} FROM payments \
         ORDER BY payments.created_at DESC, payment_id LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(PaymentRow::from).collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
/// An invoice we issued, as the API lists it.
pub struct InvoiceRow {
    /// The payment hash (hex).
    pub payment_hash: String,
    /// The encoded invoice.
    pub bolt11: String,
    /// Amount asked (msat); `None` for an open amount.
    pub amount_msat: Option<i64>,
    /// The invoice's description.
    pub description: String,
    /// `open` or `paid`.
    pub status: String,
    /// Amount received (msat); `None` until paid.
    pub received_msat: Option<i64>,
    /// When it was issued (unix seconds).
    pub created_at: i64,
    /// When it expires (unix seconds).
    pub expires_at: i64,
    /// When it was paid (unix seconds); `None` until paid.
    pub paid_at: Option<i64>,
}

/// An `invoices` row as stored (the hash as bytes).
#[derive(sqlx::FromRow)]
struct StoredInvoice {
    payment_hash: Vec<u8>,
    bolt11: String,
    amount_msat: Option<i64>,
    description: String,
    status: String,
    received_msat: Option<i64>,
    created_at: i64,
    expires_at: i64,
    paid_at: Option<i64>,
}

impl From<StoredInvoice> for InvoiceRow {
    fn from(r: StoredInvoice) -> Self {
        InvoiceRow {
            payment_hash: hex(&r.payment_hash),
            bolt11: r.bolt11,
            amount_msat: r.amount_msat,
            description: r.description,
            status: r.status,
            received_msat: r.received_msat,
            created_at: r.created_at,
            expires_at: r.expires_at,
            paid_at: r.paid_at,
        }
    }
}

/// The newest invoices first.
pub async fn invoices(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<InvoiceRow>> {
    let rows: Vec<StoredInvoice> = sqlx::query_as(
        "SELECT payment_hash, bolt11, amount_msat, description, status, received_msat, \
         extract(epoch FROM created_at)::bigint AS created_at, \
         extract(epoch FROM expires_at)::bigint AS expires_at, \
         extract(epoch FROM paid_at)::bigint AS paid_at \
         FROM invoices ORDER BY invoices.created_at DESC, payment_hash LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(InvoiceRow::from).collect())
}

//! Readers for graph files: Core Lightning `listchannels` / `listnodes` JSON and LND
//! `lncli describegraph` JSON, plain, xz or gzip, detected by content.
//!
//! Parsing streams: entries are converted to [`Record`]s and handed to a sink one at a time,
//! so a file never has to fit in memory twice. Every error names the file, the entry and the
//! field. The readers never write anything; what to do with records is the sink's business.
//!
//! **Bounded memory, whatever the input.** One entry is parsed into memory at a time, and no
//! entry (nor a top-level key, nor the text between entries) may take more than
//! [`MAX_ENTRY_BYTES`] of the decompressed stream: past that the read fails with
//! [`LoadError::TooLarge`]. So a compressed bomb, or one endless string, costs at most a few
//! tens of MiB (a parsed entry takes up to ~32 times its text), never the decompressed size.
//! Values of top-level keys the readers do not use are skipped as a stream, without a bound:
//! they cost time proportional to their decompressed size, never memory. JSON nesting is
//! limited to 128 levels (serde_json's recursion limit).

mod cln;
mod lnd;
mod value;

use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::types::{NodeId, Scid};

/// A channel's existence: its endpoints (BOLT 7 order) and capacity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelRecord {
    /// The channel's short channel id.
    pub scid: Scid,
    /// The lexicographically lesser endpoint (`node_id_1`).
    pub node_1: NodeId,
    /// The lexicographically greater endpoint (`node_id_2`).
    pub node_2: NodeId,
    /// Funding amount (sat).
    pub capacity_sat: u64,
    /// `txid:vout`, when the source knows it (LND does).
    pub funding_outpoint: Option<String>,
}

/// One direction's policy as announced in a `channel_update`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRecord {
    /// The channel the update is for.
    pub scid: Scid,
    /// 0: from `node_1` to `node_2`; 1: the other way.
    pub direction: u8,
    /// The update's own timestamp (unix seconds).
    pub timestamp: u32,
    /// BOLT 7 `message_flags` as received (bit 0: `htlc_maximum_msat` present).
    pub message_flags: u8,
    /// BOLT 7 `channel_flags` as received (bit 0: direction, bit 1: disabled).
    pub channel_flags: u8,
    /// Whether this direction is disabled (`channel_flags` bit 1; for Core Lightning also
    /// when `active` is false).
    pub disabled: bool,
    /// Cltv delta (blocks) the sender adds when forwarding.
    pub cltv_delta: u16,
    /// Smallest HTLC (msat) the sender forwards.
    pub htlc_min_msat: u64,
    /// `None` when the source did not say (old gossip); readers assume the capacity.
    pub htlc_max_msat: Option<u64>,
    /// Fixed fee (msat) per forwarded HTLC.
    pub fee_base_msat: u32,
    /// Proportional fee in millionths (ppm) of the forwarded amount.
    pub fee_ppm: u32,
}

/// An advertised network address of a node.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NetAddress {
    /// `ipv4`, `ipv6`, `torv2`, `torv3` or `dns`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Host: IP address, onion address or DNS name.
    pub address: String,
    /// TCP port.
    pub port: u16,
}

/// A node, with its announcement when one is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// The node's public key.
    pub node_id: NodeId,
    /// `None` when the node never announced itself (known only from its channels).
    pub announcement: Option<NodeAnnouncement>,
}

/// The fields of a `node_announcement`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAnnouncement {
    /// Unix seconds; 0 when the source has an alias but no timestamp.
    pub timestamp: u32,
    /// The alias (up to 32 bytes in the message; may be empty).
    pub alias: String,
    /// `rrggbb`.
    pub color: String,
    /// The advertised addresses, in message order.
    pub addresses: Vec<NetAddress>,
    /// Feature bits as hex, as they travel in the message.
    pub features_hex: String,
}

/// One unit of graph data read from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A channel announcement (endpoints and capacity).
    Channel(ChannelRecord),
    /// One direction's `channel_update`.
    Update(UpdateRecord),
    /// A node (with its announcement, if any).
    Node(NodeRecord),
}

/// The kind of file, detected from its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Core Lightning `listchannels` output (`channels` array).
    ClnChannels,
    /// Core Lightning `listnodes` output (`nodes` array).
    ClnNodes,
    /// A document with both Core Lightning `channels` and `nodes` arrays.
    ClnChannelsAndNodes,
    /// LND `lncli describegraph` output (`nodes` and `edges` arrays).
    LndDescribeGraph,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::ClnChannels => "Core Lightning listchannels",
            Format::ClnNodes => "Core Lightning listnodes",
            Format::ClnChannelsAndNodes => "Core Lightning listchannels + listnodes",
            Format::LndDescribeGraph => "LND describegraph",
        })
    }
}

/// What a read produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSummary {
    /// The detected format; `None` only in the default value (a successful read always sets it).
    pub format: Option<Format>,
    /// Entries in the file's `channels` / `edges` arrays.
    pub channel_entries: u64,
    /// Entries in the file's `nodes` array.
    pub node_entries: u64,
    /// Records handed to the sink (a Core Lightning channel entry gives two: channel and update).
    pub records: u64,
}

/// Why a file could not be read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: {source}")]
    /// Reading (or decompressing) the file failed.
    Io {
        /// The file, as named by the caller.
        file: String,
        #[source]
        /// The underlying I/O error.
        source: io::Error,
    },
    #[error("{file}: not valid JSON: {message}")]
    /// The document is not well-formed JSON (or not a JSON object at the top).
    Json {
        /// The file, as named by the caller.
        file: String,
        /// The parser's message (with line and column).
        message: String,
    },
    #[error("{file}: unknown format: {reason}")]
    /// The JSON is valid but has none of the arrays the readers know.
    UnknownFormat {
        /// The file, as named by the caller.
        file: String,
        /// What was expected.
        reason: String,
    },
    #[error("{file}: {collection}[{index}]{}: field `{field}`: {message}", .entry_id.as_ref().map(|id| format!(" ({id})")).unwrap_or_default())]
    /// One entry of an array has a missing or invalid field.
    Entry {
        /// The file, as named by the caller.
        file: String,
        /// `channels`, `nodes` or `edges`.
        collection: &'static str,
        /// Zero-based position in that array.
        index: u64,
        /// The entry's id (scid or node id) when it could be read.
        entry_id: Option<String>,
        /// The field that is missing or invalid.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    #[error("{file}: reading stopped by the consumer")]
    /// The sink returned `false`.
    Aborted {
        /// The file, as named by the caller.
        file: String,
    },
    /// An entry (or other part of the document) is larger than [`MAX_ENTRY_BYTES`].
    #[error("{file}: {part} is larger than {limit} bytes, the most one entry may take")]
    TooLarge {
        /// The file, as named by the caller.
        file: String,
        /// `channels[12]`, or `the document outside the arrays`.
        part: String,
        /// The limit in bytes ([`MAX_ENTRY_BYTES`]).
        limit: u64,
    },
}

/// The most bytes of decompressed JSON one entry may take (with the whitespace before it).
/// Real entries take under 1 KiB; a maximal `node_announcement` (64 KiB on the wire) fits.
pub const MAX_ENTRY_BYTES: u64 = 1 << 20;

/// How many more bytes the part being parsed may read; shared by [`Bounded`] and the visitors.
#[derive(Default)]
struct Budget {
    /// `None`: unbounded (a skipped value, streamed without buffering).
    remaining: Cell<Option<u64>>,
    exceeded: Cell<bool>,
}

impl Budget {
    fn bound(&self, bytes: Option<u64>) {
        self.remaining.set(bytes);
    }
}

/// A reader that fails once the current part of the document outgrows its [`Budget`].
struct Bounded<R> {
    inner: R,
    budget: Rc<Budget>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(left) = self.budget.remaining.get() else {
            return self.inner.read(buf);
        };
        if left == 0 && !buf.is_empty() {
            self.budget.exceeded.set(true);
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "entry larger than the limit",
            ));
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.budget.remaining.set(Some(left - n as u64));
        Ok(n)
    }
}

/// Opens a file, undoing xz or gzip compression detected from the magic bytes.
pub fn open(path: &Path) -> Result<Box<dyn Read + Send>, LoadError> {
    let io_err = |source| LoadError::Io {
        file: path.display().to_string(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    decompress(BufReader::with_capacity(1 << 16, file)).map_err(io_err)
}

/// Wraps `reader` in an xz or gzip decoder when its first bytes say it is compressed.
pub fn decompress<R: BufRead + Send + 'static>(mut reader: R) -> io::Result<Box<dyn Read + Send>> {
    let magic = reader.fill_buf()?;
    Ok(if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Box::new(BufReader::with_capacity(
            1 << 16,
            liblzma::bufread::XzDecoder::new_multi_decoder(reader),
        ))
    } else if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(reader),
        ))
    } else {
        Box::new(reader)
    })
}

/// Reads every record of `path` into `sink`; see [`read_records`].
pub fn read_file(path: &Path, sink: impl FnMut(Record) -> bool) -> Result<ReadSummary, LoadError> {
    let reader = open(path)?;
    read_records(reader, &path.display().to_string(), sink)
}

/// Reads a whole file into records, for tests and benches.
pub fn read_file_to_vec(path: &Path) -> Result<Vec<Record>, LoadError> {
    let mut out = Vec::new();
    read_file(path, |r| {
        out.push(r);
        true
    })?;
    Ok(out)
}

/// Streams the records of one JSON document to `sink`. `sink` returns `false` to stop
/// (the read then fails with [`LoadError::Aborted`]). `file` names the source in errors.
pub fn read_records<R: Read>(
    reader: R,
    file: &str,
    mut sink: impl FnMut(Record) -> bool,
) -> Result<ReadSummary, LoadError> {
    let budget = Rc::new(Budget::default());
    budget.bound(Some(MAX_ENTRY_BYTES));
    let reader = Bounded {
        inner: reader,
        budget: budget.clone(),
    };
    let mut state = ReadState {
        file,
        budget: budget.clone(),
        sink: &mut sink,
        summary: ReadSummary::default(),
        error: None,
        saw_cln_channels: false,
        saw_cln_nodes: false,
        saw_lnd: false,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = TopLevel(&mut state)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    if let Some(err) = state.error.take() {
        return Err(err);
    }
    if budget.exceeded.get() {
        return Err(LoadError::TooLarge {
            file: file.to_owned(),
            part: "the document outside the arrays".into(),
            limit: MAX_ENTRY_BYTES,
        });
    }
    if let Err(e) = result {
        if e.is_io() {
            return Err(LoadError::Io {
                file: file.to_owned(),
                source: io::Error::other(e.to_string()),
            });
        }
        return Err(LoadError::Json {
            file: file.to_owned(),
            message: e.to_string(),
        });
    }
    state.summary.format = match (state.saw_cln_channels, state.saw_cln_nodes, state.saw_lnd) {
        (_, _, true) => Some(Format::LndDescribeGraph),
        (true, true, false) => Some(Format::ClnChannelsAndNodes),
        (true, false, false) => Some(Format::ClnChannels),
        (false, true, false) => Some(Format::ClnNodes),
        (false, false, false) => {
            return Err(LoadError::UnknownFormat {
                file: file.to_owned(),
                reason: "expected a JSON object with a `channels`, `nodes` or `edges` array".into(),
            })
        }
    };
    Ok(state.summary)
}

struct ReadState<'a> {
    file: &'a str,
    budget: Rc<Budget>,
    sink: &'a mut dyn FnMut(Record) -> bool,
    summary: ReadSummary,
    /// Set when our own validation fails; serde only carries a marker error.
    error: Option<LoadError>,
    saw_cln_channels: bool,
    saw_cln_nodes: bool,
    saw_lnd: bool,
}

impl ReadState<'_> {
    fn emit(&mut self, r: Record) -> bool {
        self.summary.records += 1;
        if (self.sink)(r) {
            true
        } else {
            self.error = Some(LoadError::Aborted {
                file: self.file.to_owned(),
            });
            false
        }
    }
}

/// Where an entry came from, for error messages.
pub(crate) struct EntryError {
    pub field: String,
    pub message: String,
}

impl EntryError {
    pub(crate) fn new(field: &str, message: impl Into<String>) -> Self {
        EntryError {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Collection {
    Channels,
    Nodes,
    Edges,
}

impl Collection {
    fn name(self) -> &'static str {
        match self {
            Collection::Channels => "channels",
            Collection::Nodes => "nodes",
            Collection::Edges => "edges",
        }
    }
}

struct TopLevel<'s, 'a>(&'s mut ReadState<'a>);

impl<'de> DeserializeSeed<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object with a `channels`, `nodes` or `edges` array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        loop {
            self.0.budget.bound(Some(MAX_ENTRY_BYTES));
            let Some(key) = map.next_key::<String>()? else {
                break;
            };
            let collection = match key.as_str() {
                "channels" => Collection::Channels,
                "nodes" => Collection::Nodes,
                "edges" => Collection::Edges,
                _ => {
                    // Skipping streams (serde_json keeps nothing of an ignored value).
                    self.0.budget.bound(None);
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            map.next_value_seed(Array {
                state: self.0,
                collection,
            })?;
        }
        Ok(())
    }
}

struct Array<'s, 'a> {
    state: &'s mut ReadState<'a>,
    collection: Collection,
}

impl<'de> DeserializeSeed<'de> for Array<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Array<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an array of {}", self.collection.name())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let state = self.state;
        let mut index = 0u64;
        loop {
            state.budget.bound(Some(MAX_ENTRY_BYTES));
            let entry = match seq.next_element::<serde_json::Value>() {
                Ok(Some(entry)) => entry,
                Ok(None) => break,
                Err(e) => {
                    if state.budget.exceeded.get() {
                        state.error = Some(LoadError::TooLarge {
                            file: state.file.to_owned(),
                            part: format!("{}[{index}]", self.collection.name()),
                            limit: MAX_ENTRY_BYTES,
                        });
                    }
                    return Err(e);
                }
            };
            let obj = match entry {
                serde_json::Value::Object(obj) => obj,
                other => {
                    state.error = Some(LoadError::Entry {
                        file: state.file.to_owned(),
                        collection: self.collection.name(),
                        index,
                        entry_id: None,
                        field: "(entry)".into(),
                        message: format!("expected an object, found {}", value::kind(&other)),
                    });
                    return Err(serde::de::Error::custom("invalid entry"));
                }
            };
            let outcome = match self.collection {
                Collection::Channels => {
                    state.saw_cln_channels = true;
                    state.summary.channel_entries += 1;
                    cln::channel(&obj).map(|(c, u)| vec![Record::Channel(c), Record::Update(u)])
                }
                Collection::Edges => {
                    state.saw_lnd = true;
                    state.summary.channel_entries += 1;
                    lnd::edge(&obj)
                }
                Collection::Nodes => {
                    state.summary.node_entries += 1;
                    if obj.contains_key("pub_key") {
                        state.saw_lnd = true;
                        lnd::node(&obj).map(|n| vec![Record::Node(n)])
                    } else {
                        state.saw_cln_nodes = true;
                        cln::node(&obj).map(|n| vec![Record::Node(n)])
                    }
                }
            };
            match outcome {
                Ok(records) => {
                    for r in records {
                        if !state.emit(r) {
                            return Err(serde::de::Error::custom("aborted"));
                        }
                    }
                }
                Err(e) => {
                    state.error = Some(LoadError::Entry {
                        file: state.file.to_owned(),
                        collection: self.collection.name(),
                        index,
                        entry_id: value::entry_id(&obj),
                        field: e.field,
                        message: e.message,
                    });
                    return Err(serde::de::Error::custom("invalid entry"));
                }
            }
            index += 1;
        }
        Ok(())
    }
}

/// Orders two endpoints per BOLT 7 and says which direction `from` announces.
pub(crate) fn order(from: NodeId, to: NodeId) -> (NodeId, NodeId, u8) {
    if from < to {
        (from, to, 0)
    } else {
        (to, from, 1)
    }
}

#[cfg(test)]
mod tests;

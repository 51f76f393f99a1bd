//! Identifiers used across switchyard: node ids and short channel ids.

use std::fmt;
use std::str::FromStr;

/// Why a textual identifier could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error(
        "node id must be 66 hex characters (a 33-byte compressed public key), got {0} characters"
    )]
    /// The text is not 66 bytes long (the length found is given).
    NodeIdLength(usize),
    #[error("node id is not valid hex")]
    /// The text has a character that is not a hex digit.
    NodeIdHex,
    #[error("node id is not a valid secp256k1 public key")]
    /// The 33 bytes are not a valid compressed secp256k1 point.
    NodeIdCurve,
    #[error("short channel id must be BLOCKxTXxOUTPUT (e.g. 505149x622x0) or a decimal u64")]
    /// The text is neither `BLOCKxTXxOUTPUT` (`:` also accepted) nor a decimal u64.
    ScidSyntax,
    #[error("short channel id part {part} is out of range (block and tx < 2^24, output < 2^16)")]
    /// A part is out of range (`block`, `tx` or `output`, as named).
    ScidRange {
        /// `block`, `tx` or `output`.
        part: &'static str,
    },
}

/// A Lightning node's identity: its 33-byte compressed secp256k1 public key.
///
/// Ordered bytewise, which is the BOLT 7 order of `node_id_1` < `node_id_2`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub [u8; 33]);

impl NodeId {
    /// Parses and checks a hex public key, including that it lies on the curve.
    pub fn from_hex(s: &str) -> Result<Self, IdError> {
        let bytes = decode_hex_33(s)?;
        secp256k1::PublicKey::from_slice(&bytes).map_err(|_| IdError::NodeIdCurve)?;
        Ok(NodeId(bytes))
    }

    /// Parses hex without the curve check (for callers that check separately).
    pub(crate) fn from_hex_unchecked(s: &str) -> Result<Self, IdError> {
        decode_hex_33(s).map(NodeId)
    }

    /// Builds a node id from raw bytes that the caller has already validated.
    pub fn from_bytes_unchecked(bytes: [u8; 33]) -> Self {
        NodeId(bytes)
    }

    /// The 33 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 33] {
        &self.0
    }

    /// The lowercase hex form (66 characters).
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(66);
        for b in self.0 {
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
        out
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn decode_hex_33(s: &str) -> Result<[u8; 33], IdError> {
    let raw = s.as_bytes();
    if raw.len() != 66 {
        return Err(IdError::NodeIdLength(raw.len()));
    }
    let mut out = [0u8; 33];
    for (i, pair) in raw.chunks_exact(2).enumerate() {
        let hi = hex_val(pair[0]).ok_or(IdError::NodeIdHex)?;
        let lo = hex_val(pair[1]).ok_or(IdError::NodeIdHex)?;
        out[i] = (hi << 4) | lo;
    }
    Ok(out)
}

/// Decodes arbitrary-length hex (used for feature bits); `None` if it is not hex.
pub fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let raw = s.as_bytes();
    if raw.len() % 2 != 0 {
        return None;
    }
    raw.chunks_exact(2)
        .map(|p| Some((hex_val(p[0])? << 4) | hex_val(p[1])?))
        .collect()
}

/// Encodes bytes as lowercase hex.
pub fn encode_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NodeId({})", self.to_hex())
    }
}

impl FromStr for NodeId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        NodeId::from_hex(s)
    }
}

impl serde::Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

/// Parses the hex form (as [`NodeId::from_hex`]), so request bodies can carry node ids.
impl<'de> serde::Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        NodeId::from_hex(&s).map_err(serde::de::Error::custom)
    }
}

/// A short channel id (BOLT 7): funding block height, transaction index and output index
/// packed into a u64 as `block << 40 | tx << 16 | output`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scid(pub u64);

impl Scid {
    /// Packs the three parts; fails when `block` or `tx_index` is 2^24 or more.
    pub fn new(block: u32, tx_index: u32, output_index: u16) -> Result<Self, IdError> {
        if block >= 1 << 24 {
            return Err(IdError::ScidRange { part: "block" });
        }
        if tx_index >= 1 << 24 {
            return Err(IdError::ScidRange { part: "tx" });
        }
        Ok(Scid(
            (u64::from(block) << 40) | (u64::from(tx_index) << 16) | u64::from(output_index),
        ))
    }
    /// Funding block height.
    pub fn block(self) -> u32 {
        (self.0 >> 40) as u32
    }
    /// Index of the funding transaction in its block.
    pub fn tx_index(self) -> u32 {
        ((self.0 >> 16) & 0xff_ffff) as u32
    }
    /// Index of the funding output in its transaction.
    pub fn output_index(self) -> u16 {
        (self.0 & 0xffff) as u16
    }
    /// The u64 as a signed integer, for storage in a Postgres BIGINT (bit-for-bit).
    pub fn to_i64(self) -> i64 {
        self.0 as i64
    }
    /// The inverse of [`Scid::to_i64`].
    pub fn from_i64(v: i64) -> Self {
        Scid(v as u64)
    }
}

impl fmt::Display for Scid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}x{}x{}",
            self.block(),
            self.tx_index(),
            self.output_index()
        )
    }
}

impl fmt::Debug for Scid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scid({self})")
    }
}

impl FromStr for Scid {
    type Err = IdError;
    /// Accepts `505149x622x0` (also with `:` as LND prints it) or the plain u64 form.
    fn from_str(s: &str) -> Result<Self, IdError> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse::<u64>().map(Scid).map_err(|_| IdError::ScidSyntax);
        }
        let mut parts = s.split(['x', ':']);
        let mut next = || -> Result<u64, IdError> {
            let p = parts.next().ok_or(IdError::ScidSyntax)?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(IdError::ScidSyntax);
            }
            p.parse::<u64>().map_err(|_| IdError::ScidSyntax)
        };
        let block = next()?;
        let tx = next()?;
        let out = next()?;
        if parts.next().is_some() {
            return Err(IdError::ScidSyntax);
        }
        if block >= 1 << 24 {
            return Err(IdError::ScidRange { part: "block" });
        }
        if tx >= 1 << 24 {
            return Err(IdError::ScidRange { part: "tx" });
        }
        if out >= 1 << 16 {
            return Err(IdError::ScidRange { part: "output" });
        }
        Scid::new(block as u32, tx as u32, out as u16)
    }
}

impl serde::Serialize for Scid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Parses either string form accepted by [`Scid::from_str`].
impl<'de> serde::Deserialize<'de> for Scid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scid_round_trips_both_forms() {
        let s: Scid = "505149x622x0".parse().unwrap();
        assert_eq!(s.block(), 505149);
        assert_eq!(s.tx_index(), 622);
        assert_eq!(s.output_index(), 0);
        assert_eq!(s.to_string(), "505149x622x0");
        let as_u64: Scid = s.0.to_string().parse().unwrap();
        assert_eq!(as_u64, s);
        assert_eq!(Scid::from_i64(s.to_i64()), s);
    }

    #[test]
    fn scid_rejects_garbage_and_overflow() {
        for bad in [
            "",
            "x",
            "1x2",
            "1x2x3x4",
            "ax1x1",
            "16777216x1x1",
            "1x1x65536",
            "-1x2x3",
        ] {
            assert!(bad.parse::<Scid>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn node_id_checks_length_hex_and_curve() {
        let good = "0250373555232cec757ea141273e75381c84cc3ab22f1e3a3ca5a2dc55b1904c24";
        assert_eq!(NodeId::from_hex(good).unwrap().to_hex(), good);
        assert_eq!(NodeId::from_hex("02"), Err(IdError::NodeIdLength(2)));
        let not_hex = good.replace('5', "z");
        assert_eq!(NodeId::from_hex(&not_hex), Err(IdError::NodeIdHex));
        // 0x05 is no valid compressed-key prefix.
        let off_curve = format!("05{}", &good[2..]);
        assert_eq!(NodeId::from_hex(&off_curve), Err(IdError::NodeIdCurve));
    }
}

//! Kafka's record batch format (magic v2), read and written without the client: batches are
//! split out of a fetched blob as they are, their header rewritten for a new producer with the
//! CRC-32C computed again, and, where a batch cannot be copied as it is, its records taken out
//! (decompressed) and written again as a new batch. Records are kept as their bytes from the
//! key on (key, value and headers, in order, duplicates and all), so nothing of theirs is
//! re-serialised. Older message formats (v0 and v1) are read through `kafka-protocol`'s
//! decoder. Pure: no I/O.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::compression::{Compressor, Decompressor, Gzip, Lz4, Snappy, Zstd};
use kafka_protocol::records::RecordBatchDecoder;

/// The size of a v2 batch header, up to the first record.
pub const HEADER: usize = 61;
/// Where the CRC-covered part of a v2 batch starts (the attributes).
const CRC_FROM: usize = 21;
const ATTR_COMPRESSION: i16 = 0x07;
const ATTR_LOG_APPEND_TIME: i16 = 0x08;
const ATTR_TRANSACTIONAL: i16 = 0x10;
const ATTR_CONTROL: i16 = 0x20;
const ATTR_DELETE_HORIZON: i16 = 0x40;

/// Why a batch's records could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a corrupt record batch at offset {offset}: {reason}")]
pub struct CorruptBatch {
    pub offset: i64,
    pub reason: String,
}

/// A batch's codec, as its attributes give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    Gzip,
    Snappy,
    Lz4,
    Zstd,
}

impl Codec {
    pub fn from_bits(bits: i16) -> Option<Codec> {
        Some(match bits & ATTR_COMPRESSION {
            0 => Codec::None,
            1 => Codec::Gzip,
            2 => Codec::Snappy,
            3 => Codec::Lz4,
            4 => Codec::Zstd,
            _ => return None,
        })
    }

    fn bits(self) -> i16 {
        match self {
            Codec::None => 0,
            Codec::Gzip => 1,
            Codec::Snappy => 2,
            Codec::Lz4 => 3,
            Codec::Zstd => 4,
        }
    }

    /// A producer's `compression.type` (Java's and librdkafka's names).
    pub fn from_setting(s: &str) -> Option<Codec> {
        Some(match s.to_ascii_lowercase().as_str() {
            "none" | "uncompressed" | "" => Codec::None,
            "gzip" => Codec::Gzip,
            "snappy" => Codec::Snappy,
            "lz4" => Codec::Lz4,
            "zstd" => Codec::Zstd,
            _ => return None,
        })
    }
}

/// One batch as fetched: its header fields and all its bytes.
#[derive(Debug, Clone)]
pub struct Batch {
    pub bytes: Bytes,
}

impl Batch {
    pub fn base_offset(&self) -> i64 {
        (&self.bytes[0..8]).get_i64()
    }
    pub fn magic(&self) -> i8 {
        self.bytes[16] as i8
    }
    fn attributes(&self) -> i16 {
        (&self.bytes[21..23]).get_i16()
    }
    pub fn last_offset_delta(&self) -> i32 {
        (&self.bytes[23..27]).get_i32()
    }
    pub fn last_offset(&self) -> i64 {
        self.base_offset() + i64::from(self.last_offset_delta())
    }
    pub fn base_timestamp(&self) -> i64 {
        (&self.bytes[27..35]).get_i64()
    }
    pub fn max_timestamp(&self) -> i64 {
        (&self.bytes[35..43]).get_i64()
    }
    pub fn producer_id(&self) -> i64 {
        (&self.bytes[43..51]).get_i64()
    }
    pub fn record_count(&self) -> i32 {
        (&self.bytes[57..61]).get_i32()
    }
    pub fn codec(&self) -> Option<Codec> {
        Codec::from_bits(self.attributes())
    }
    pub fn is_transactional(&self) -> bool {
        self.attributes() & ATTR_TRANSACTIONAL != 0
    }
    pub fn is_control(&self) -> bool {
        self.attributes() & ATTR_CONTROL != 0
    }
    pub fn has_delete_horizon(&self) -> bool {
        self.attributes() & ATTR_DELETE_HORIZON != 0
    }
    pub fn is_log_append_time(&self) -> bool {
        self.attributes() & ATTR_LOG_APPEND_TIME != 0
    }
    /// Whether its offsets run without a gap (compaction leaves gaps and keeps the range).
    pub fn is_contiguous(&self) -> bool {
        i64::from(self.last_offset_delta()) + 1 == i64::from(self.record_count())
    }
    /// Whether the CRC matches the bytes it covers.
    pub fn crc_is_valid(&self) -> bool {
        (&self.bytes[17..21]).get_u32() == crc32c::crc32c(&self.bytes[CRC_FROM..])
    }
}

/// What a fetched blob holds, in order.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A v2 batch.
    Batch(Batch),
    /// A v0 or v1 message (or wrapper of compressed messages): `base` is its first offset as far
    /// as the framing tells (a wrapper's offset is its last inner one).
    Legacy { offset: i64, bytes: Bytes },
}

/// Splits the records of one fetched partition into entries. A batch cut short at the end
/// (the broker stops at the byte limit) is left out.
pub fn split(records: &Bytes) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut at = 0;
    while records.len() - at >= 17 {
        let size = (&records[at + 8..at + 12]).get_i32();
        let Some(end) = usize::try_from(size).ok().map(|s| at + 12 + s) else {
            break;
        };
        if end > records.len() {
            break;
        }
        let bytes = records.slice(at..end);
        let magic = bytes[16];
        if magic >= 2 {
            if bytes.len() < HEADER {
                break;
            }
            out.push(Entry::Batch(Batch { bytes }));
        } else {
            let offset = (&bytes[0..8]).get_i64();
            out.push(Entry::Legacy { offset, bytes });
        }
        at = end;
    }
    out
}

/// The producer fields a copied batch gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerStamp {
    pub producer_id: i64,
    pub epoch: i16,
    pub base_sequence: i32,
    /// Written in a transaction (exactly once).
    pub transactional: bool,
}

/// A copy of `batch` as a client would send it: base offset 0, no leader epoch, transactional
/// only when `stamp` is, `stamp`'s producer, and the CRC computed again. The records are
/// untouched.
pub fn restamp(batch: &Batch, stamp: ProducerStamp) -> Bytes {
    let mut b = BytesMut::from(&batch.bytes[..]);
    b[0..8].copy_from_slice(&0i64.to_be_bytes());
    b[12..16].copy_from_slice(&(-1i32).to_be_bytes());
    let mut attributes = batch.attributes() & !ATTR_TRANSACTIONAL;
    if stamp.transactional {
        attributes |= ATTR_TRANSACTIONAL;
    }
    b[21..23].copy_from_slice(&attributes.to_be_bytes());
    b[43..51].copy_from_slice(&stamp.producer_id.to_be_bytes());
    b[51..53].copy_from_slice(&stamp.epoch.to_be_bytes());
    b[53..57].copy_from_slice(&stamp.base_sequence.to_be_bytes());
    let crc = crc32c::crc32c(&b[CRC_FROM..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b.freeze()
}

/// One record taken out of a batch: its offset and timestamp, and its bytes from the key on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub offset: i64,
    pub timestamp: i64,
    /// Key length, key, value length, value, header count and headers, as written.
    pub body: Bytes,
}

fn corrupt(offset: i64, reason: impl Into<String>) -> CorruptBatch {
    CorruptBatch {
        offset,
        reason: reason.into(),
    }
}

/// The records of a v2 batch, decompressed. A log-append-time batch gives each record the
/// batch's time, as consumers see it.
pub fn records(batch: &Batch) -> Result<Vec<RawRecord>, CorruptBatch> {
    let base = batch.base_offset();
    let codec = batch
        .codec()
        .ok_or_else(|| corrupt(base, "unknown compression codec"))?;
    let mut payload = batch.bytes.slice(HEADER..);
    let data = decompress(codec, &mut payload).map_err(|e| corrupt(base, e))?;
    let (base_ts, append_time) = (batch.base_timestamp(), batch.is_log_append_time());
    let mut buf = data;
    let mut out = Vec::with_capacity(batch.record_count().max(0) as usize);
    for _ in 0..batch.record_count() {
        let len = read_varint(&mut buf).ok_or_else(|| corrupt(base, "record length"))?;
        let len = usize::try_from(len).map_err(|_| corrupt(base, "negative record length"))?;
        if buf.len() < len {
            return Err(corrupt(base, "record past the batch's end"));
        }
        let mut rec = buf.split_to(len);
        if rec.is_empty() {
            return Err(corrupt(base, "empty record"));
        }
        rec.advance(1); // attributes, unused
        let ts_delta = read_varlong(&mut rec).ok_or_else(|| corrupt(base, "timestamp delta"))?;
        let offset_delta = read_varint(&mut rec).ok_or_else(|| corrupt(base, "offset delta"))?;
        out.push(RawRecord {
            offset: base + i64::from(offset_delta),
            timestamp: if append_time {
                batch.max_timestamp()
            } else {
                base_ts + ts_delta
            },
            body: rec,
        });
    }
    Ok(out)
}

/// The records of a v0 or v1 message set (no headers in those formats).
pub fn legacy_records(offset: i64, bytes: &Bytes) -> Result<Vec<RawRecord>, CorruptBatch> {
    let mut buf = bytes.clone();
    let set = RecordBatchDecoder::decode(&mut buf).map_err(|e| corrupt(offset, e.to_string()))?;
    Ok(set
        .records
        .iter()
        .map(|r| {
            let mut body = BytesMut::new();
            put_bytes(&mut body, r.key.as_deref());
            put_bytes(&mut body, r.value.as_deref());
            put_varint(&mut body, 0);
            RawRecord {
                offset: r.offset,
                timestamp: r.timestamp,
                body: body.freeze(),
            }
        })
        .collect())
}

/// A new v2 batch of `records` with offsets 0, 1, … (create time), compressed with `codec`.
pub fn encode(records: &[RawRecord], codec: Codec, stamp: ProducerStamp) -> Result<Bytes, String> {
    encode_with(records, codec, stamp, |i, _| i as i32)
}

/// A v2 batch whose records' offset deltas `delta` gives.
fn encode_with(
    records: &[RawRecord],
    codec: Codec,
    stamp: ProducerStamp,
    delta: impl Fn(usize, &RawRecord) -> i32,
) -> Result<Bytes, String> {
    let first_ts = records.first().map_or(-1, |r| r.timestamp);
    let max_ts = records.iter().map(|r| r.timestamp).max().unwrap_or(-1);
    let mut plain = BytesMut::new();
    for (i, r) in records.iter().enumerate() {
        let mut head = BytesMut::with_capacity(16);
        head.put_i8(0);
        put_varlong(&mut head, r.timestamp - first_ts);
        put_varint(&mut head, delta(i, r));
        put_varint(&mut plain, (head.len() + r.body.len()) as i32);
        plain.put_slice(&head);
        plain.put_slice(&r.body);
    }
    let mut b = BytesMut::with_capacity(HEADER + plain.len());
    b.put_i64(0);
    b.put_i32(0); // length, below
    b.put_i32(-1);
    b.put_i8(2);
    b.put_u32(0); // CRC, below
    b.put_i16(
        codec.bits()
            | if stamp.transactional {
                ATTR_TRANSACTIONAL
            } else {
                0
            },
    );
    b.put_i32(records.last().map_or(0, |r| delta(records.len() - 1, r)));
    b.put_i64(first_ts);
    b.put_i64(max_ts);
    b.put_i64(stamp.producer_id);
    b.put_i16(stamp.epoch);
    b.put_i32(stamp.base_sequence);
    b.put_i32(records.len() as i32);
    compress(codec, plain, &mut b)?;
    let length = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&length.to_be_bytes());
    let crc = crc32c::crc32c(&b[CRC_FROM..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    Ok(b.freeze())
}

fn decompress(codec: Codec, payload: &mut Bytes) -> Result<Bytes, String> {
    let take = |b: &mut Bytes| Ok(std::mem::take(b));
    match codec {
        Codec::None => Ok(std::mem::take(payload)),
        Codec::Gzip => Gzip::decompress(payload, take),
        Codec::Snappy => Snappy::decompress(payload, take),
        Codec::Lz4 => Lz4::decompress(payload, take),
        Codec::Zstd => Zstd::decompress(payload, take),
    }
    .map_err(|e| e.to_string())
}

fn compress(codec: Codec, plain: BytesMut, out: &mut BytesMut) -> Result<(), String> {
    let fill = |b: &mut BytesMut| {
        b.put_slice(&plain);
        Ok(())
    };
    match codec {
        Codec::None => {
            out.put_slice(&plain);
            Ok(())
        }
        Codec::Gzip => Gzip::compress(out, fill),
        Codec::Snappy => Snappy::compress(out, fill),
        Codec::Lz4 => return lz4_fast(&plain, out),
        Codec::Zstd => Zstd::compress(out, fill),
    }
    .map_err(|e| e.to_string())
}

/// An LZ4 frame of independent blocks (Kafka's Java reader takes no linked ones), at LZ4's fast
/// level.
fn lz4_fast(plain: &[u8], out: &mut BytesMut) -> Result<(), String> {
    use std::io::Write;
    let mut encoder = lz4::EncoderBuilder::new()
        .level(1)
        .block_mode(lz4::BlockMode::Independent)
        .build(out.writer())
        .map_err(|e| e.to_string())?;
    encoder.write_all(plain).map_err(|e| e.to_string())?;
    let (_, result) = encoder.finish();
    result.map_err(|e| e.to_string())
}

/// A record's bytes from the key on, for a key and value without headers.
pub fn body(key: Option<&[u8]>, value: Option<&[u8]>) -> Bytes {
    let mut b =
        BytesMut::with_capacity(12 + key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len));
    put_bytes(&mut b, key);
    put_bytes(&mut b, value);
    put_varint(&mut b, 0);
    b.freeze()
}

fn put_bytes(b: &mut BytesMut, v: Option<&[u8]>) {
    match v {
        None => put_varint(b, -1),
        Some(v) => {
            put_varint(b, v.len() as i32);
            b.put_slice(v);
        }
    }
}

fn put_varint(b: &mut BytesMut, v: i32) {
    put_varlong(b, i64::from(v));
}

fn put_varlong(b: &mut BytesMut, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        b.put_u8((z as u8) | 0x80);
        z >>= 7;
    }
    b.put_u8(z as u8);
}

fn read_varlong(b: &mut Bytes) -> Option<i64> {
    let mut z: u64 = 0;
    for shift in (0..70).step_by(7) {
        if b.is_empty() {
            return None;
        }
        let byte = b.get_u8();
        z |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(((z >> 1) as i64) ^ -((z & 1) as i64));
        }
    }
    None
}

fn read_varint(b: &mut Bytes) -> Option<i32> {
    read_varlong(b).and_then(|v| i32::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(seq: i32) -> ProducerStamp {
        ProducerStamp {
            producer_id: 42,
            epoch: 3,
            base_sequence: seq,
            transactional: false,
        }
    }

    fn record(offset: i64, ts: i64, key: &[u8], value: &[u8]) -> RawRecord {
        let mut body = BytesMut::new();
        put_bytes(&mut body, Some(key));
        put_bytes(&mut body, Some(value));
        // Two headers of the same key: kept as written.
        put_varint(&mut body, 2);
        for v in [b"1", b"2"] {
            put_bytes(&mut body, Some(b"h"));
            put_bytes(&mut body, Some(v));
        }
        RawRecord {
            offset,
            timestamp: ts,
            body: body.freeze(),
        }
    }

    /// A batch as a source log holds it: at `base`, with the given records.
    fn source_batch(base: i64, records: &[RawRecord], codec: Codec) -> Batch {
        // Offsets as the records say (gaps included).
        let bytes = encode_with(records, codec, stamp(7), |_, r| (r.offset - base) as i32).unwrap();
        let mut b = BytesMut::from(&bytes[..]);
        b[0..8].copy_from_slice(&base.to_be_bytes());
        Batch { bytes: b.freeze() }
    }

    #[test]
    fn varints_round_trip_with_zigzag() {
        for v in [
            0i64,
            1,
            -1,
            63,
            -64,
            64,
            300,
            -300,
            i64::from(i32::MAX),
            i64::MIN / 2,
        ] {
            let mut b = BytesMut::new();
            put_varlong(&mut b, v);
            assert_eq!(read_varlong(&mut b.freeze()), Some(v));
        }
        let mut b = BytesMut::new();
        put_varint(&mut b, -1);
        assert_eq!(&b[..], &[1]); // Kafka writes a null length as a single 0x01
    }

    #[test]
    fn every_codec_round_trips_records_byte_for_byte() {
        let recs = vec![
            record(10, 1000, b"k1", b"v1"),
            record(11, 999, b"k2", b"v2"),
        ];
        for codec in [
            Codec::None,
            Codec::Gzip,
            Codec::Snappy,
            Codec::Lz4,
            Codec::Zstd,
        ] {
            let batch = source_batch(10, &recs, codec);
            assert!(batch.crc_is_valid(), "{codec:?}");
            assert_eq!(batch.codec(), Some(codec));
            assert_eq!(records(&batch).unwrap(), recs, "{codec:?}");
        }
    }

    #[test]
    fn restamping_changes_only_the_header_and_keeps_the_crc_valid() {
        let recs = vec![record(100, 5, b"a", b"b"), record(101, 6, b"c", b"d")];
        let batch = source_batch(100, &recs, Codec::Lz4);
        let copy = Batch {
            bytes: restamp(&batch, stamp(9)),
        };
        assert!(copy.crc_is_valid());
        assert_eq!(copy.base_offset(), 0);
        assert_eq!(copy.producer_id(), 42);
        assert_eq!((&copy.bytes[53..57]).get_i32(), 9);
        assert_eq!(copy.bytes[HEADER..], batch.bytes[HEADER..]);
        let shifted: Vec<_> = records(&copy).unwrap().iter().map(|r| r.offset).collect();
        assert_eq!(shifted, [0, 1]);
    }

    #[test]
    fn gaps_show_in_the_offset_range_and_split_stops_at_a_cut_batch() {
        let recs = vec![record(5, 1, b"a", b"b"), record(9, 2, b"c", b"d")];
        let gapped = source_batch(5, &recs, Codec::None);
        assert!(!gapped.is_contiguous());
        assert_eq!(gapped.last_offset(), 9);
        let whole = source_batch(10, &[record(10, 3, b"e", b"f")], Codec::None);
        let mut blob = BytesMut::new();
        blob.put_slice(&gapped.bytes);
        blob.put_slice(&whole.bytes);
        blob.put_slice(&whole.bytes[..30]); // cut short by the fetch's byte limit
        let entries = split(&blob.freeze());
        assert_eq!(entries.len(), 2);
        let offsets: Vec<i64> = records(match &entries[0] {
            Entry::Batch(b) => b,
            Entry::Legacy { .. } => unreachable!(),
        })
        .unwrap()
        .iter()
        .map(|r| r.offset)
        .collect();
        assert_eq!(offsets, [5, 9]);
    }

    #[test]
    fn control_and_transactional_bits_are_read_and_restamping_clears_the_transaction() {
        let batch = source_batch(0, &[record(0, 1, b"a", b"b")], Codec::None);
        let mut b = BytesMut::from(&batch.bytes[..]);
        b[21..23].copy_from_slice(&(ATTR_TRANSACTIONAL | ATTR_CONTROL).to_be_bytes());
        let marked = Batch { bytes: b.freeze() };
        assert!(marked.is_transactional() && marked.is_control());
        let copy = Batch {
            bytes: restamp(&marked, stamp(0)),
        };
        assert!(!copy.is_transactional());
    }
}

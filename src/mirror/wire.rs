//! Byte formats of MirrorMaker 2's internal records, compatible with Java's `Heartbeat`,
//! `Checkpoint` and `OffsetSync` (Kafka protocol struct encoding: big-endian integers, strings as
//! an int16 length and UTF-8 bytes). Readers ignore trailing bytes, as Java's do.

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("record too short: needed {needed} more bytes")]
    Truncated { needed: usize },
    #[error("negative string length {0}")]
    NegativeLength(i16),
    #[error("string is not UTF-8")]
    NotUtf8,
    #[error("string of {0} bytes is longer than 32767")]
    TooLong(usize),
}

struct Writer(Vec<u8>);

impl Writer {
    fn with_capacity(n: usize) -> Self {
        Writer(Vec::with_capacity(n))
    }
    fn i16(mut self, v: i16) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i32(mut self, v: i32) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    fn i64(mut self, v: i64) -> Self {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }
    /// Strings longer than 32767 bytes cannot be encoded; callers pass topic, group and alias
    /// names, which Kafka limits far below that, and metadata, which is truncated upstream.
    fn str(self, s: &str) -> Self {
        let len = s.len().min(i16::MAX as usize);
        let mut w = self.i16(len as i16);
        w.0.extend_from_slice(&s.as_bytes()[..len]);
        w
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Truncated {
                needed: n - self.0.len(),
            });
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn i16(&mut self) -> Result<i16, WireError> {
        Ok(i16::from_be_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    fn i32(&mut self) -> Result<i32, WireError> {
        Ok(i32::from_be_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn i64(&mut self) -> Result<i64, WireError> {
        Ok(i64::from_be_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn str(&mut self) -> Result<String, WireError> {
        let len = self.i16()?;
        if len < 0 {
            return Err(WireError::NegativeLength(len));
        }
        let bytes = self.take(len as usize)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| WireError::NotUtf8)
    }
}

/// Checks a string fits Kafka's int16 length, for callers that want to reject rather than cut.
pub fn check_len(s: &str) -> Result<(), WireError> {
    if s.len() > i16::MAX as usize {
        Err(WireError::TooLong(s.len()))
    } else {
        Ok(())
    }
}

/// A heartbeat: `heartbeats` topic, partition 0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub source_cluster_alias: String,
    pub target_cluster_alias: String,
    pub timestamp: i64,
}

impl Heartbeat {
    pub fn record_key(&self) -> Vec<u8> {
        Writer::with_capacity(8)
            .str(&self.source_cluster_alias)
            .str(&self.target_cluster_alias)
            .0
    }
    pub fn record_value(&self) -> Vec<u8> {
        Writer::with_capacity(10).i16(0).i64(self.timestamp).0
    }
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, WireError> {
        let mut k = Reader(key);
        let mut v = Reader(value);
        let source_cluster_alias = k.str()?;
        let target_cluster_alias = k.str()?;
        let _version = v.i16()?;
        Ok(Heartbeat {
            source_cluster_alias,
            target_cluster_alias,
            timestamp: v.i64()?,
        })
    }
}

/// A checkpoint: `<source>.checkpoints.internal` on the target, partition 0. `topic` is the
/// target-side (renamed) topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
    pub metadata: String,
}

impl Checkpoint {
    pub fn record_key(&self) -> Vec<u8> {
        Writer::with_capacity(32)
            .str(&self.group)
            .str(&self.topic)
            .i32(self.partition)
            .0
    }
    pub fn record_value(&self) -> Vec<u8> {
        Writer::with_capacity(20 + self.metadata.len())
            .i16(0)
            .i64(self.upstream_offset)
            .i64(self.downstream_offset)
            .str(&self.metadata)
            .0
    }
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, WireError> {
        let mut k = Reader(key);
        let mut v = Reader(value);
        let (group, topic, partition) = (k.str()?, k.str()?, k.i32()?);
        let _version = v.i16()?;
        Ok(Checkpoint {
            group,
            topic,
            partition,
            upstream_offset: v.i64()?,
            downstream_offset: v.i64()?,
            metadata: v.str()?,
        })
    }
}

/// An offset sync: `mm2-offset-syncs.<other>.internal`, partition 0. `topic` is the source
/// (upstream) topic name. There is no version header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffsetSyncRef<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
}

impl OffsetSyncRef<'_> {
    pub fn record_key(&self) -> Vec<u8> {
        Writer::with_capacity(6 + self.topic.len())
            .str(self.topic)
            .i32(self.partition)
            .0
    }
    pub fn record_value(&self) -> Vec<u8> {
        Writer::with_capacity(16)
            .i64(self.upstream_offset)
            .i64(self.downstream_offset)
            .0
    }
}

/// An owned, decoded offset sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsetSync {
    pub topic: String,
    pub partition: i32,
    pub upstream_offset: i64,
    pub downstream_offset: i64,
}

impl OffsetSync {
    pub fn decode(key: &[u8], value: &[u8]) -> Result<Self, WireError> {
        let mut k = Reader(key);
        let mut v = Reader(value);
        Ok(OffsetSync {
            topic: k.str()?,
            partition: k.i32()?,
            upstream_offset: v.i64()?,
            downstream_offset: v.i64()?,
        })
    }

    pub fn as_ref(&self) -> OffsetSyncRef<'_> {
        OffsetSyncRef {
            topic: &self.topic,
            partition: self.partition,
            upstream_offset: self.upstream_offset,
            downstream_offset: self.downstream_offset,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Golden vectors: the bytes Apache Kafka's own `Heartbeat`, `Checkpoint` and `OffsetSync`
    // classes serialize for the same values.
    #[test]
    fn heartbeat_golden() {
        let h = Heartbeat {
            source_cluster_alias: "A".into(),
            target_cluster_alias: "B".into(),
            timestamp: 1_700_000_000_000,
        };
        assert_eq!(h.record_key(), hex("0001 41 0001 42"));
        assert_eq!(h.record_value(), hex("0000 0000018bcfe56800"));
        assert_eq!(
            Heartbeat::decode(&h.record_key(), &h.record_value()).unwrap(),
            h
        );
    }

    #[test]
    fn checkpoint_golden() {
        let c = Checkpoint {
            group: "g1".into(),
            topic: "A.t".into(),
            partition: 0,
            upstream_offset: 100,
            downstream_offset: 42,
            metadata: String::new(),
        };
        assert_eq!(c.record_key(), hex("0002 6731 0003 412e74 00000000"));
        assert_eq!(
            c.record_value(),
            hex("0000 0000000000000064 000000000000002a 0000")
        );
        let c2 = Checkpoint {
            group: "grp".into(),
            topic: "A.té".into(),
            partition: 3,
            upstream_offset: 1,
            downstream_offset: 2,
            metadata: "meta".into(),
        };
        assert_eq!(c2.record_key(), hex("0003 677270 0005 412e74c3a9 00000003"));
        assert_eq!(
            c2.record_value(),
            hex("0000 0000000000000001 0000000000000002 0004 6d657461")
        );
        // Trailing bytes are ignored, as Java's reader ignores them.
        let mut v = c2.record_value();
        v.extend_from_slice(&[1, 2, 3]);
        assert_eq!(Checkpoint::decode(&c2.record_key(), &v).unwrap(), c2);
    }

    #[test]
    fn offset_sync_golden() {
        let s = OffsetSyncRef {
            topic: "t",
            partition: 0,
            upstream_offset: 100,
            downstream_offset: 42,
        };
        assert_eq!(s.record_key(), hex("0001 74 00000000"));
        assert_eq!(s.record_value(), hex("0000000000000064 000000000000002a"));
        let d = OffsetSync::decode(&s.record_key(), &s.record_value()).unwrap();
        assert_eq!(d.as_ref(), s);
    }

    #[test]
    fn malformed_records_are_errors() {
        assert_eq!(
            OffsetSync::decode(&hex("0005 74"), &[]),
            Err(WireError::Truncated { needed: 4 })
        );
        assert_eq!(
            Heartbeat::decode(&hex("ffff"), &[]),
            Err(WireError::NegativeLength(-1))
        );
        assert_eq!(
            Checkpoint::decode(&hex("0001 ff 0000 00000000"), &hex("0000")),
            Err(WireError::NotUtf8)
        );
    }
}

//! What two copies of a record are compared by: one 64-bit digest per field (key, value, headers,
//! timestamp), so a difference names its field; and which windows a `--sample` compares.

use xxhash_rust::xxh3::{xxh3_64, Xxh3};

/// The digests of one record's fields. A missing key or value hashes differently from an empty
/// one: a tombstone is not an empty value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordDigest {
    pub key: u64,
    pub value: u64,
    pub headers: u64,
    pub timestamp: u64,
}

/// The fields of a record that can differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    Key,
    Value,
    Headers,
    Timestamp,
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Field::Key => "key",
            Field::Value => "value",
            Field::Headers => "headers",
            Field::Timestamp => "timestamp",
        })
    }
}

fn bytes(b: Option<&[u8]>) -> u64 {
    match b {
        None => xxh3_64(b"\x00null"),
        Some(b) => {
            let mut h = Xxh3::new();
            h.update(b"\x01");
            h.update(b);
            h.digest()
        }
    }
}

impl RecordDigest {
    /// `headers` in order, each `(name, value)`: MirrorMaker copies them as they are, order
    /// included.
    pub fn of<'a>(
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: impl IntoIterator<Item = (&'a str, Option<&'a [u8]>)>,
        timestamp: Option<i64>,
    ) -> Self {
        let mut h = Xxh3::new();
        for (name, v) in headers {
            // Lengths first, so that ("ab","c") and ("a","bc") differ.
            h.update(&(name.len() as u64).to_be_bytes());
            h.update(name.as_bytes());
            match v {
                None => h.update(b"\x00"),
                Some(v) => {
                    h.update(b"\x01");
                    h.update(&(v.len() as u64).to_be_bytes());
                    h.update(v);
                }
            }
        }
        RecordDigest {
            key: bytes(key),
            value: bytes(value),
            headers: h.digest(),
            timestamp: timestamp.map_or(u64::MAX, |t| t as u64),
        }
    }

    /// The fields that differ between two records, in the order key, value, headers, timestamp.
    pub fn differing(&self, other: &RecordDigest) -> Vec<Field> {
        [
            (self.key != other.key, Field::Key),
            (self.value != other.value, Field::Value),
            (self.headers != other.headers, Field::Headers),
            (self.timestamp != other.timestamp, Field::Timestamp),
        ]
        .into_iter()
        .filter_map(|(d, f)| d.then_some(f))
        .collect()
    }
}

/// An order-dependent digest of a sequence of records (one side of a window or a partition), to
/// show in the report: equal sequences give equal digests on both sides.
#[derive(Default, Clone)]
pub struct SequenceDigest(Xxh3);

impl std::fmt::Debug for SequenceDigest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SequenceDigest({})", self.hex())
    }
}

impl SequenceDigest {
    pub fn add(&mut self, d: &RecordDigest) {
        for v in [d.key, d.value, d.headers, d.timestamp] {
            self.0.update(&v.to_be_bytes());
        }
    }
    pub fn hex(&self) -> String {
        format!("{:016x}", self.0.digest())
    }
}

/// Which windows `--sample FRACTION` compares: window `index` is compared when a hash of its
/// index falls below the fraction, so the same windows are chosen on every run (a difference
/// found once is found again) and they spread over the whole partition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    fraction: f64,
}

impl Sampler {
    /// `fraction` must be in (0, 1]; the caller checks.
    pub fn new(fraction: f64) -> Self {
        Sampler { fraction }
    }

    pub fn all() -> Self {
        Sampler { fraction: 1.0 }
    }

    pub fn is_all(&self) -> bool {
        self.fraction >= 1.0
    }

    pub fn compares(&self, topic: &str, partition: i32, index: u64) -> bool {
        if self.is_all() {
            return true;
        }
        let mut h = Xxh3::new();
        h.update(topic.as_bytes());
        h.update(&partition.to_be_bytes());
        h.update(&index.to_be_bytes());
        (h.digest() as f64 / u64::MAX as f64) < self.fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_told_apart() {
        let a = RecordDigest::of(Some(b"k"), Some(b"v"), [("h", Some(&b"1"[..]))], Some(5));
        assert_eq!(
            a,
            RecordDigest::of(Some(b"k"), Some(b"v"), [("h", Some(&b"1"[..]))], Some(5))
        );
        let b = RecordDigest::of(Some(b"k"), Some(b""), [("h", None)], Some(6));
        assert_eq!(
            a.differing(&b),
            vec![Field::Value, Field::Headers, Field::Timestamp]
        );
        let tombstone = RecordDigest::of(Some(b"k"), None, [("h", Some(&b"1"[..]))], Some(5));
        assert_eq!(a.differing(&tombstone), vec![Field::Value]);
        let split = RecordDigest::of(None, None, [("ab", Some(&b"c"[..]))], None);
        let other = RecordDigest::of(None, None, [("a", Some(&b"bc"[..]))], None);
        assert_ne!(split.headers, other.headers);
    }

    #[test]
    fn sampling_is_deterministic_and_near_its_fraction() {
        let s = Sampler::new(0.1);
        let chosen: Vec<u64> = (0..10_000).filter(|i| s.compares("t", 0, *i)).collect();
        assert!((800..1200).contains(&chosen.len()), "{}", chosen.len());
        let again: Vec<u64> = (0..10_000).filter(|i| s.compares("t", 0, *i)).collect();
        assert_eq!(chosen, again);
        assert!((0..100).all(|i| Sampler::all().compares("t", 0, i)));
    }
}

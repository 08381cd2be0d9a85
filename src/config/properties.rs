//! Java `.properties` syntax, read exactly as `java.util.Properties.load` reads it (separators `=`,
//! `:` or whitespace, `#`/`!` comments, backslash continuations, `\uXXXX` escapes), keeping the
//! line of every key. It knows nothing of MirrorMaker 2's semantics.

use std::collections::BTreeMap;
use std::path::Path;

use java_properties::{LineContent, PropertiesIter};

use super::error::{ConfigError, Origin, Warning};

/// One key's value, where it came from, and whether it must never be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// The key as the operator wrote it (`A->B.topics`, `MM2_A_TOPICS` names `A.topics`), so
    /// that a message about a value routed elsewhere still points at the right line.
    pub key: String,
    pub value: String,
    pub origin: Origin,
    pub sensitive: bool,
    /// The value as written, when a config provider replaced it (`${file:...:key}`): what
    /// Java MirrorMaker 2 stores in its config topic, leaving the worker to resolve it.
    pub written: Option<String>,
}

impl Setting {
    pub fn new(key: impl Into<String>, value: impl Into<String>, origin: Origin) -> Self {
        let key = key.into();
        Setting {
            sensitive: super::keys::is_sensitive(&key),
            key,
            value: value.into(),
            origin,
            written: None,
        }
    }

    /// A default or derived value for `key`.
    pub fn default_for(key: &str, value: &str) -> Self {
        Setting::new(key, value, Origin::Default)
    }
}

/// The keys of one properties source. Later duplicates win, as in Java.
#[derive(Debug, Clone, Default)]
pub struct Properties {
    map: BTreeMap<String, Setting>,
    warnings: Vec<Warning>,
}

impl Properties {
    /// Reads a file. Its text is UTF-8 (a superset of the ASCII that nearly every file uses).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&bytes).map_err(|(line, message)| ConfigError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        })
    }

    /// Parses properties text; a syntax error comes back as its line and message.
    pub fn parse(bytes: &[u8]) -> Result<Self, (usize, String)> {
        let mut props = Properties::default();
        for line in PropertiesIter::new_with_encoding(bytes, encoding_rs::UTF_8) {
            let line = line.map_err(|e| {
                let n = e.line_number().unwrap_or(0);
                // The crate appends its own "(line_number = N)"; we report the line ourselves.
                let msg = e.to_string();
                let msg = msg
                    .split(" (line_number")
                    .next()
                    .unwrap_or(&msg)
                    .to_string();
                (n, msg)
            })?;
            let n = line.line_number();
            if let LineContent::KVPair(key, value) = line.consume_content() {
                props.insert_line(key, value, n);
            }
        }
        Ok(props)
    }

    fn insert_line(&mut self, key: String, value: String, line: usize) {
        if let Some(prev) = self.map.get(&key) {
            self.warnings.push(Warning::new(
                &key,
                &Origin::Line(line),
                format!("set again (first at {}); the last value wins", prev.origin),
            ));
        }
        // Java's ConfigDef trims every value before use; so do we, once, here.
        let setting = Setting::new(&key, value.trim(), Origin::Line(line));
        self.map.insert(key, setting);
    }

    /// Builds properties from pairs, as if each were a line of a file (for tests and tools).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut props = Properties::default();
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            props.insert_line(k.to_string(), v.to_string(), i + 1);
        }
        props
    }

    pub fn get(&self, key: &str) -> Option<&Setting> {
        self.map.get(key)
    }

    pub fn value(&self, key: &str) -> Option<&str> {
        self.map.get(key).map(|s| s.value.as_str())
    }

    pub fn set(&mut self, key: impl Into<String>, setting: Setting) {
        self.map.insert(key.into(), setting);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Setting)> {
        self.map.iter()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&String, &mut Setting)> {
        self.map.iter_mut()
    }

    pub fn keys(&self) -> impl Iterator<Item = &String> {
        self.map.keys()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Warnings found while reading (duplicate keys).
    pub fn take_warnings(&mut self) -> Vec<Warning> {
        std::mem::take(&mut self.warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Properties {
        Properties::parse(text.as_bytes()).expect("parses")
    }

    #[test]
    fn java_syntax() {
        let cases: &[(&str, &str, &str)] = &[
            ("a=b", "a", "b"),
            ("a = b", "a", "b"),
            ("a:b", "a", "b"),
            ("a : b", "a", "b"),
            ("a b", "a", "b"),
            ("a\tb", "a", "b"),
            ("   a=b   ", "a", "b"),
            ("a=", "a", ""),
            ("a", "a", ""),
            ("a==b", "a", "=b"),
            ("a\\=x=b", "a=x", "b"),
            ("a\\:x:b", "a:x", "b"),
            ("a\\ x b", "a x", "b"),
            ("a=\\u00e9t\\u00E9", "a", "été"),
            ("a=x\\ty", "a", "x\ty"),
            ("a=c:\\\\dir", "a", "c:\\dir"),
            ("A->B.enabled = true", "A->B.enabled", "true"),
            ("a=one, \\\n    two", "a", "one, two"),
            ("a=one\\\r\n  two", "a", "onetwo"),
        ];
        for (text, key, value) in cases {
            let p = parse(text);
            assert_eq!(p.value(key), Some(*value), "input {text:?}");
            assert_eq!(p.len(), 1, "input {text:?}");
        }
    }

    #[test]
    fn comments_and_blank_lines() {
        let p = parse("# c1\n! c2\n\n   # indented\na=1\n");
        assert_eq!(p.len(), 1);
        assert_eq!(p.get("a").unwrap().origin, Origin::Line(5));
    }

    #[test]
    fn continuation_keeps_first_line_number() {
        let p = parse("x=1\ntopics = a, \\\n  b, \\\n  c\ny=2\n");
        assert_eq!(p.value("topics"), Some("a, b, c"));
        assert_eq!(p.get("topics").unwrap().origin, Origin::Line(2));
        assert_eq!(p.get("y").unwrap().origin, Origin::Line(5));
    }

    #[test]
    fn last_duplicate_wins_with_warning() {
        let mut p = parse("a=1\na=2\n");
        assert_eq!(p.value("a"), Some("2"));
        let w = p.take_warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].message.contains("line 1"), "{}", w[0]);
    }

    #[test]
    fn malformed_unicode_escape_names_the_line() {
        let err = Properties::parse(b"a=1\nb=\\u12zz\n").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(err.1.contains("Malformed"), "{}", err.1);
    }
}

//! Reading what the checks look at: rendered Kubernetes resources (as JSON values), quantities,
//! label selectors, and the key/value lines of an mm2.properties.

use serde_json::Value;

/// The rendered resources of one overlay.
pub struct Render {
    pub overlay: String,
    pub docs: Vec<Value>,
}

impl Render {
    pub fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.docs.iter().filter(|d| d["kind"] == kind).collect()
    }

    /// The one resource of `kind`; panics when there is none or more than one.
    pub fn one(&self, kind: &str) -> &Value {
        let found = self.of_kind(kind);
        assert_eq!(
            found.len(),
            1,
            "{}: want exactly one {kind}, found {}",
            self.overlay,
            found.len()
        );
        found[0]
    }

    /// The resource of `kind` named `name`.
    pub fn named(&self, kind: &str, name: &str) -> &Value {
        self.of_kind(kind)
            .into_iter()
            .find(|d| d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{}: no {kind} named {name}", self.overlay))
    }
}

/// A string at a JSON pointer; panics, naming the pointer, when it is missing or not a string.
pub fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {v}"))
}

/// An array at a JSON pointer (empty when missing).
pub fn list<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Whether every label of the selector `matchLabels` is on `labels` with the same value.
pub fn selects(match_labels: &Value, labels: &Value) -> bool {
    match_labels
        .as_object()
        .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| &labels[k] == v))
}

/// A Kubernetes memory quantity (`256Mi`, `1Gi`, `500M`, bytes) in bytes.
pub fn bytes(quantity: &str) -> u64 {
    const UNITS: &[(&str, u64)] = &[
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("k", 1000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    let (number, unit) = UNITS
        .iter()
        .find_map(|(suffix, unit)| quantity.strip_suffix(suffix).map(|n| (n, *unit)))
        .unwrap_or((quantity, 1));
    number
        .parse::<u64>()
        .unwrap_or_else(|_| panic!("memory quantity {quantity}"))
        * unit
}

/// A Kubernetes CPU quantity (`1`, `1.5`, `500m`) in millicores.
pub fn millicores(quantity: &str) -> u64 {
    match quantity.strip_suffix('m') {
        Some(m) => m
            .parse()
            .unwrap_or_else(|_| panic!("cpu quantity {quantity}")),
        None => {
            let cores: f64 = quantity
                .parse()
                .unwrap_or_else(|_| panic!("cpu quantity {quantity}"));
            (cores * 1000.0).round() as u64
        }
    }
}

/// The `key = value` lines of an mm2.properties, in order (comments and blank lines left out;
/// the files checked here use no line continuations).
pub fn properties(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not a key = value line: {l}"));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// The value of `key` in the properties; panics when it is not set.
pub fn property<'a>(props: &'a [(String, String)], key: &str) -> &'a str {
    props
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("mm2.properties does not set {key}"))
}

/// The port of the `listeners` URL (`http://:8083`).
pub fn listeners_port(props: &[(String, String)]) -> u64 {
    let url = property(props, "listeners");
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("listeners = {url}: no port"))
}

/// The `${provider:...}` references of the values, as (provider, the rest: `PATH:KEY` or `VAR`).
pub fn provider_references(props: &[(String, String)]) -> Vec<(String, String)> {
    let re = regex::Regex::new(r"\$\{([a-z]+):([^}]*)\}").unwrap();
    props
        .iter()
        .flat_map(|(_, v)| {
            re.captures_iter(v)
                .map(|c| (c[1].to_string(), c[2].to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

//! Label values as Strimzi's JMX exporter shows Kafka's: a tag value with a character outside
//! `[A-Za-z0-9_-%. \t]` is quoted in its MBean name (`ObjectName.quote`, through Kafka's
//! `Sanitizer.jmxSanitize`), and the exporter keeps the quotes in the label. Dashboards match
//! on them, e.g. `clientid=~".*replication-consumer\""` for Java's `A->B|…|replication-consumer`.

use std::borrow::Cow;

/// `value` as it appears in a label scraped from Java's MBeans.
pub fn label(value: &str) -> Cow<'_, str> {
    let plain = value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '%' | '.' | ' ' | '\t'));
    if plain {
        return Cow::Borrowed(value);
    }
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for c in value.chars() {
        match c {
            '"' | '*' | '?' | '\\' => {
                quoted.push('\\');
                quoted.push(c);
            }
            '\n' => quoted.push_str("\\n"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    Cow::Owned(quoted)
}

#[cfg(test)]
mod tests {
    use super::label;

    #[test]
    fn quotes_what_an_mbean_name_quotes() {
        assert_eq!(label("A.orders"), "A.orders");
        assert_eq!(label("MirrorSourceConnector"), "MirrorSourceConnector");
        assert_eq!(label("my group-1%"), "my group-1%");
        assert_eq!(
            label("A->B|MirrorSourceConnector-0|replication-consumer"),
            "\"A->B|MirrorSourceConnector-0|replication-consumer\""
        );
        assert_eq!(label("a\"b*c?d\\e"), "\"a\\\"b\\*c\\?d\\\\e\"");
        assert_eq!(label("x:y"), "\"x:y\"");
    }
}

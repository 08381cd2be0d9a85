//! Regex lists as MirrorMaker 2's filters read them (`topics`, `groups.exclude`, ...): Java
//! regexes joined with `|` and matched against the whole name (`Matcher.matches`); fancy-regex
//! gives the lookaround Java users write. A leaf: compiled once when the configuration is typed,
//! then copied into the filters.

use fancy_regex::Regex;

/// A list that does not compile, with the joined pattern it was compiled as.
#[derive(Debug, thiserror::Error)]
#[error("`{joined}`: {source}")]
pub struct PatternError {
    joined: String,
    #[source]
    source: Box<fancy_regex::Error>,
}

/// A comma list of regexes, matched as Java's `Pattern.compile(String.join("|", list)).matcher(s).matches()`.
/// Keeps the list it was compiled from: two `Patterns` are equal when their lists are.
#[derive(Debug, Clone)]
pub struct Patterns {
    list: Vec<String>,
    regex: Regex,
}

impl Patterns {
    /// Compiles a list; an empty list matches only the empty string, as in Java.
    pub fn compile(list: &[String]) -> Result<Self, PatternError> {
        let joined = list.join("|");
        let describe = |e: fancy_regex::Error| PatternError {
            joined: joined.clone(),
            source: Box::new(e),
        };
        // Compile it bare first, so an error's position refers to what the operator wrote.
        Regex::new(&joined).map_err(describe)?;
        let regex = Regex::new(&format!("^(?:{joined})$")).map_err(describe)?;
        Ok(Patterns {
            list: list.to_vec(),
            regex,
        })
    }

    /// The empty list: what a typed configuration holds in place of a list that failed to
    /// compile (the error is reported, so that configuration is never used).
    pub fn empty() -> Self {
        Self::compile(&[]).expect("the empty pattern `^(?:)$` compiles")
    }

    /// Whole-string match. A pattern that exhausts the backtracking limit counts as no match.
    pub fn matches(&self, s: &str) -> bool {
        self.regex.is_match(s).unwrap_or(false)
    }

    /// The regexes as configured.
    pub fn list(&self) -> &[String] {
        &self.list
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl PartialEq for Patterns {
    fn eq(&self, other: &Self) -> bool {
        self.list == other.list
    }
}

/// Compares with the configured list, as the `Vec<String>` this replaced did.
impl<const N: usize> PartialEq<[&str; N]> for Patterns {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.list == other[..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::keys;
    use crate::config::settings::split_list;

    fn p(list: &str) -> Patterns {
        Patterns::compile(&split_list(list)).unwrap()
    }

    #[test]
    fn default_topic_excludes() {
        let ex = p(keys::DEFAULT_TOPICS_EXCLUDE);
        for t in [
            "mm2-offsets.A.internal",
            "x-internal",
            "t.replica",
            "__consumer_offsets",
        ] {
            assert!(ex.matches(t), "{t}");
        }
        for t in ["orders", "internal", "replica", "a_b", "heartbeats"] {
            assert!(!ex.matches(t), "{t}");
        }
    }

    #[test]
    fn whole_string_match_and_alternation() {
        let inc = p("foo-.*, bar");
        assert!(inc.matches("foo-1"));
        assert!(inc.matches("bar"));
        assert!(!inc.matches("xbar"));
        assert!(!inc.matches("barx"));
        assert!(!inc.matches("foo"));
    }

    #[test]
    fn empty_list_matches_nothing_real() {
        let none = p("");
        assert!(!none.matches("orders"));
        let empty = Patterns::empty();
        assert!(!empty.matches("orders") && empty.is_empty());
    }

    #[test]
    fn java_lookaround_is_supported() {
        let inc = p("(?!internal-).*");
        assert!(inc.matches("orders"));
        assert!(!inc.matches("internal-x"));
    }

    #[test]
    fn default_group_and_config_excludes() {
        let g = p(keys::DEFAULT_GROUPS_EXCLUDE);
        assert!(g.matches("console-consumer-123") && g.matches("connect-x") && g.matches("__x"));
        assert!(!g.matches("orders-app"));
        let c = p(keys::DEFAULT_CONFIG_PROPERTIES_EXCLUDE);
        assert!(c.matches("min.insync.replicas") && c.matches("message.timestamp.type"));
        assert!(!c.matches("retention.ms") && !c.matches("minXinsync.replicas"));
    }

    #[test]
    fn invalid_regex_is_reported() {
        let err = Patterns::compile(&["(".to_string()])
            .unwrap_err()
            .to_string();
        assert!(err.contains('('), "{err}");
    }

    #[test]
    fn error_names_the_joined_list_as_written() {
        let err = Patterns::compile(&["a".to_string(), "(".to_string()]).unwrap_err();
        assert!(err.to_string().starts_with("`a|(`: "), "{err}");
    }

    #[test]
    fn equal_by_configured_list() {
        assert_eq!(p("a, b"), p("a,b"));
        assert_eq!(p("a, b"), ["a", "b"]);
        assert_ne!(p("a"), p("b"));
    }
}

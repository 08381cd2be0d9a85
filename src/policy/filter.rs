//! MirrorMaker 2's default filters: `topics`/`topics.exclude`, `groups`/`groups.exclude` and
//! `config.properties.exclude`. Patterns are Java regexes joined with `|` and matched against the
//! whole name (`Matcher.matches`); fancy-regex gives the lookaround Java users write.

use fancy_regex::Regex;

use crate::config::FlowSettings;

/// A comma list of regexes, matched as Java's `Pattern.compile(String.join("|", list)).matcher(s).matches()`.
#[derive(Debug, Clone)]
pub struct Patterns(Regex);

impl Patterns {
    /// Compiles a list; an empty list matches only the empty string, as in Java.
    pub fn compile(list: &[String]) -> Result<Self, String> {
        let joined = list.join("|");
        // Compile it bare first, so an error's position refers to what the operator wrote.
        let describe = |e: fancy_regex::Error| format!("`{joined}`: {e}");
        Regex::new(&joined).map_err(describe)?;
        Regex::new(&format!("^(?:{joined})$"))
            .map(Patterns)
            .map_err(describe)
    }

    /// Whole-string match. A pattern that exhausts the backtracking limit counts as no match.
    pub fn matches(&self, s: &str) -> bool {
        self.0.is_match(s).unwrap_or(false)
    }
}

fn compile(list: &[String]) -> Patterns {
    // Lists are validated when the configuration is loaded.
    Patterns::compile(list).unwrap_or_else(|e| panic!("validated pattern failed to compile: {e}"))
}

/// `DefaultTopicFilter`: included and not excluded.
#[derive(Debug, Clone)]
pub struct TopicFilter {
    include: Patterns,
    exclude: Patterns,
}

impl TopicFilter {
    pub fn new(settings: &FlowSettings) -> Self {
        TopicFilter {
            include: compile(&settings.topics),
            exclude: compile(&settings.topics_exclude),
        }
    }

    pub fn should_replicate_topic(&self, topic: &str) -> bool {
        self.include.matches(topic) && !self.exclude.matches(topic)
    }
}

/// `DefaultGroupFilter`: included and not excluded.
#[derive(Debug, Clone)]
pub struct GroupFilter {
    include: Patterns,
    exclude: Patterns,
}

impl GroupFilter {
    pub fn new(settings: &FlowSettings) -> Self {
        GroupFilter {
            include: compile(&settings.groups),
            exclude: compile(&settings.groups_exclude),
        }
    }

    pub fn should_replicate_group(&self, group: &str) -> bool {
        self.include.matches(group) && !self.exclude.matches(group)
    }
}

/// `DefaultConfigPropertyFilter`: every topic config except `config.properties.exclude`.
#[derive(Debug, Clone)]
pub struct ConfigPropertyFilter {
    exclude: Patterns,
}

impl ConfigPropertyFilter {
    pub fn new(settings: &FlowSettings) -> Self {
        ConfigPropertyFilter {
            exclude: compile(&settings.config_properties_exclude),
        }
    }

    pub fn should_replicate_config_property(&self, name: &str) -> bool {
        !self.exclude.matches(name)
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
        let err = Patterns::compile(&["(".to_string()]).unwrap_err();
        assert!(err.contains('('), "{err}");
    }
}

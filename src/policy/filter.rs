//! MirrorMaker 2's default filters: `topics`/`topics.exclude`, `groups`/`groups.exclude` and
//! `config.properties.exclude`, over the pattern lists the configuration compiled
//! ([`Patterns`]), so building a filter cannot fail.

use crate::config::{FlowSettings, Patterns};

/// `DefaultTopicFilter`: included and not excluded.
#[derive(Debug, Clone)]
pub struct TopicFilter {
    include: Patterns,
    exclude: Patterns,
}

impl TopicFilter {
    pub fn new(settings: &FlowSettings) -> Self {
        TopicFilter {
            include: settings.topics.clone(),
            exclude: settings.topics_exclude.clone(),
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
            include: settings.groups.clone(),
            exclude: settings.groups_exclude.clone(),
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
            exclude: settings.config_properties_exclude.clone(),
        }
    }

    pub fn should_replicate_config_property(&self, name: &str) -> bool {
        !self.exclude.matches(name)
    }
}

//! How a herder's connector names are written in its group's config and status topics.
//!
//! connect-mirror-maker names a flow's connectors as Strimzi does, `A->B.MirrorSourceConnector`,
//! because one REST API serves every flow. Java's dedicated MirrorMaker 2 keeps the same flow in
//! the same topics (`mm2-configs.A.internal`, `mm2-status.A.internal` on B) under the bare class
//! names, `MirrorSourceConnector`. So a flow's herder stores names without its `A->B.` prefix:
//! after a switch either way, both read one connector, never two MirrorSources on the same
//! partitions. connect-distributed stores names as they are.

/// The mapping between a herder's names and the names in its topics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredNames {
    /// The prefix herder names carry and stored names lack (`A->B.`).
    prefix: Option<String>,
}

impl StoredNames {
    /// Names stored as they are (connect-distributed).
    pub fn same() -> StoredNames {
        StoredNames::default()
    }

    /// Names stored without `prefix` (connect-mirror-maker's flows, with `A->B.`).
    pub fn without_prefix(prefix: impl Into<String>) -> StoredNames {
        StoredNames {
            prefix: Some(prefix.into()),
        }
    }

    /// The name stored for the herder's `name`.
    pub fn store<'a>(&self, name: &'a str) -> &'a str {
        match &self.prefix {
            Some(p) => name.strip_prefix(p.as_str()).unwrap_or(name),
            None => name,
        }
    }

    /// The herder's name for a stored one, or `None` for a name this herder leaves alone: one
    /// that still carries the prefix, as connect-mirror-maker stored names before it stored
    /// Java's (see [`StoredNames::legacy`]).
    pub fn load(&self, stored: &str) -> Option<String> {
        match &self.prefix {
            Some(p) if stored.starts_with(p.as_str()) => None,
            Some(p) => Some(format!("{p}{stored}")),
            None => Some(stored.to_string()),
        }
    }

    /// The name earlier versions stored for the herder's `name` when it differs from today's:
    /// the full name. A Java herder reading the topic would run it as a second connector, so
    /// it is deleted.
    pub fn legacy<'a>(&self, name: &'a str) -> Option<&'a str> {
        (self.store(name) != name).then_some(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_names_are_stored_as_java_names_them() {
        let names = StoredNames::without_prefix("A->B.");
        assert_eq!(
            names.store("A->B.MirrorSourceConnector"),
            "MirrorSourceConnector"
        );
        assert_eq!(
            names.load("MirrorSourceConnector").as_deref(),
            Some("A->B.MirrorSourceConnector")
        );
        // What earlier versions stored is not taken up again, and is named for deletion.
        assert_eq!(names.load("A->B.MirrorSourceConnector"), None);
        assert_eq!(
            names.legacy("A->B.MirrorSourceConnector"),
            Some("A->B.MirrorSourceConnector")
        );
    }

    #[test]
    fn connect_distributed_stores_names_as_they_are() {
        let names = StoredNames::same();
        assert_eq!(names.store("my-connector"), "my-connector");
        assert_eq!(names.load("my-connector").as_deref(), Some("my-connector"));
        assert_eq!(names.legacy("my-connector"), None);
    }
}

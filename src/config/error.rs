//! Configuration errors and warnings. Each one names the key and where its value came from,
//! so an operator can find the offending line without reading our code.

use std::fmt;
use std::path::PathBuf;

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A line of the properties file (1-based).
    Line(usize),
    /// An environment variable that overrode or added the key.
    Env(String),
    /// MirrorMaker 2's default, or a value derived by its routing rules.
    Default,
    /// The key is absent.
    Unset,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Line(n) => write!(f, "line {n}"),
            Origin::Env(var) => write!(f, "environment variable {var}"),
            Origin::Default => f.write_str("default"),
            Origin::Unset => f.write_str("not set"),
        }
    }
}

/// One problem that makes a configuration unusable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: syntax error at line {line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("`{key}` ({origin}): {message}")]
    Invalid {
        key: String,
        origin: Origin,
        message: String,
    },
}

impl ConfigError {
    pub(crate) fn invalid(
        key: impl Into<String>,
        origin: &Origin,
        message: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            origin: origin.clone(),
            message: message.into(),
        }
    }
}

/// Every problem found in one configuration, so that an operator can fix them in one pass.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl ConfigErrors {
    /// One error per key and origin: a bad value read by several flows or clients is reported
    /// once.
    pub fn deduplicated(errors: Vec<ConfigError>) -> Self {
        let mut seen = std::collections::BTreeSet::new();
        ConfigErrors(
            errors
                .into_iter()
                .filter(|e| match e {
                    ConfigError::Invalid { key, origin, .. } => {
                        seen.insert((key.clone(), origin.to_string()))
                    }
                    other => seen.insert((other.to_string(), String::new())),
                })
                .collect(),
        )
    }
}

/// Several errors on one line, for a log line or a task's failure message (where
/// [`ConfigErrors`]' one-per-line form would not fit).
pub fn join_errors<E: fmt::Display>(errors: &[E]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

/// Something accepted but worth telling the operator: an ignored, deprecated or unknown key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub key: String,
    pub origin: Origin,
    pub message: String,
}

impl Warning {
    pub(crate) fn new(key: impl Into<String>, origin: &Origin, message: impl Into<String>) -> Self {
        Warning {
            key: key.into(),
            origin: origin.clone(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ({}): {}", self.key, self.origin, self.message)
    }
}

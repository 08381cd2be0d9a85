//! Checks every client configuration of every flow with librdkafka, so that a bad client
//! setting fails at load time with its key and line, before anything connects.

use crate::config::{ConfigError, ConfigErrors, Mm2Config, Warning};

use super::props::translate;

/// Translates every client map; returns the warnings, or every error found.
pub fn check_clients(config: &Mm2Config) -> Result<Vec<Warning>, ConfigErrors> {
    let mut warnings: Vec<Warning> = Vec::new();
    let mut errors: Vec<ConfigError> = Vec::new();
    for flow in &config.flows {
        for (label, props) in flow.all_client_props() {
            let label = format!("{} {label}", flow.name());
            match translate(&props, &label) {
                Ok((_, w)) => warnings.extend(w),
                Err(e) => errors.extend(e),
            }
        }
    }
    // The same bad key reaches several clients; say it once per key and line.
    let mut seen = std::collections::BTreeSet::new();
    warnings.retain(|w| seen.insert((w.key.clone(), w.origin.to_string())));
    if errors.is_empty() {
        Ok(warnings)
    } else {
        Err(ConfigErrors::deduplicated(errors))
    }
}

//! Environment overrides, layered over the file with the `config` crate's `Environment` source.
//!
//! `MM2_<KEY>` sets `<KEY>`. Shells cannot put `.`, `-` or `>` in a variable name, so the name is
//! matched case-insensitively with each of those characters written as `_`:
//! `MM2_B_SASL_JAAS_CONFIG` sets `B.sasl.jaas.config` and `MM2_A__B_ENABLED` sets `A->B.enabled`.
//! A name that matches no key of the file nor any key we know is read as `_` → `.` after its
//! cluster or flow prefix (`MM2_B_PRODUCER_LINGER_MS` → `B.producer.linger.ms`): Kafka keys
//! never contain `_`.

use std::collections::HashMap;

use config::Source;

use super::error::{ConfigError, Origin};
use super::keys::{self, Scope};
use super::properties::{Properties, Setting};

/// The prefix of override variables.
pub const PREFIX: &str = "MM2";

/// Applies `MM2_*` overrides from `vars` (the process environment when `None`).
pub fn apply(
    props: &mut Properties,
    vars: Option<HashMap<String, String>>,
) -> Result<(), Vec<ConfigError>> {
    let env = config::Environment::with_prefix(PREFIX)
        .prefix_separator("_")
        .source(vars)
        .collect()
        .map_err(|e| {
            vec![ConfigError::invalid(
                "environment",
                &Origin::Unset,
                e.to_string(),
            )]
        })?;
    let mut overrides: Vec<(String, String)> = env
        .into_iter()
        .map(|(k, v)| (k, v.into_string().unwrap_or_default()))
        .collect();
    // `clusters` first: the other names are matched against its aliases.
    overrides.sort_by_key(|(k, _)| k != "clusters");
    let mut errors = Vec::new();
    for (name, value) in overrides {
        let var = format!("{PREFIX}_{}", name.to_uppercase());
        match key_for(props, &name) {
            Ok(key) => {
                props.set(&key, Setting::new(&key, value.trim(), Origin::Env(var)));
            }
            Err(message) => errors.push(ConfigError::invalid(var, &Origin::Unset, message)),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// `A->B.enabled` → `a__b_enabled`.
fn normalize(key: &str) -> String {
    key.chars()
        .map(|c| match c {
            '.' | '-' | '>' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

fn aliases(props: &Properties) -> Vec<String> {
    props
        .value("clusters")
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|a| !a.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The key a variable name (lowercased, prefix removed) stands for.
fn key_for(props: &Properties, name: &str) -> Result<String, String> {
    let name = normalize(name);
    let aliases = aliases(props);
    let mut candidates: Vec<String> = props.keys().cloned().collect();
    for def in keys::KEYS {
        match def.scope {
            Scope::Driver => candidates.push(def.name.to_string()),
            Scope::Connector => {
                candidates.push(def.name.to_string());
                for (s, t) in pairs(&aliases) {
                    candidates.push(format!("{s}->{t}.{}", def.name));
                }
            }
            Scope::Worker => {
                for a in &aliases {
                    candidates.push(format!("{a}.{}", def.name));
                }
            }
        }
    }
    for a in &aliases {
        candidates.push(format!("{a}.bootstrap.servers"));
    }
    candidates.sort();
    candidates.dedup();
    let matches: Vec<&String> = candidates.iter().filter(|c| normalize(c) == name).collect();
    match matches.as_slice() {
        [one] => return Ok((*one).clone()),
        [] => {}
        many => {
            let list: Vec<&str> = many.iter().map(|s| s.as_str()).collect();
            return Err(format!("matches several keys: {}", list.join(", ")));
        }
    }
    // Not a key we know: keep the flow or cluster prefix as written in `clusters`, and read
    // the rest with `_` as `.`.
    for (s, t) in pairs(&aliases) {
        let prefix = normalize(&format!("{s}->{t}."));
        if let Some(rest) = name.strip_prefix(&prefix) {
            return Ok(format!("{s}->{t}.{}", rest.replace('_', ".")));
        }
    }
    for a in &aliases {
        let prefix = normalize(&format!("{a}."));
        if let Some(rest) = name.strip_prefix(&prefix) {
            return Ok(format!("{a}.{}", rest.replace('_', ".")));
        }
    }
    Ok(name.replace('_', "."))
}

fn pairs(aliases: &[String]) -> impl Iterator<Item = (&String, &String)> {
    aliases
        .iter()
        .flat_map(move |s| aliases.iter().map(move |t| (s, t)))
        .filter(|(s, t)| s != t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply_vars(props: &mut Properties, vars: &[(&str, &str)]) -> Result<(), Vec<ConfigError>> {
        let vars = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        apply(props, Some(vars))
    }

    #[test]
    fn overrides_match_keys_by_shell_name() {
        let mut p = Properties::from_pairs([
            ("clusters", "primary, backup"),
            ("primary.bootstrap.servers", "a:9092"),
            ("primary->backup.enabled", "false"),
        ]);
        apply_vars(
            &mut p,
            &[
                ("MM2_PRIMARY_BOOTSTRAP_SERVERS", "x:1"),
                ("MM2_PRIMARY__BACKUP_ENABLED", "true"),
                ("MM2_BACKUP_BOOTSTRAP_SERVERS", "y:2"),
                ("MM2_BACKUP_PRODUCER_LINGER_MS", "50"),
                ("MM2_PRIMARY__BACKUP_OFFSET_SYNCS_TOPIC_LOCATION", "target"),
                ("MM2_REPLICATION_FACTOR", "1"),
                ("OTHER_VAR", "ignored"),
            ],
        )
        .unwrap();
        assert_eq!(p.value("primary.bootstrap.servers"), Some("x:1"));
        assert_eq!(p.value("primary->backup.enabled"), Some("true"));
        assert_eq!(p.value("backup.bootstrap.servers"), Some("y:2"));
        assert_eq!(p.value("backup.producer.linger.ms"), Some("50"));
        assert_eq!(
            p.value("primary->backup.offset-syncs.topic.location"),
            Some("target")
        );
        assert_eq!(p.value("replication.factor"), Some("1"));
        assert_eq!(
            p.get("replication.factor").unwrap().origin,
            Origin::Env("MM2_REPLICATION_FACTOR".into())
        );
        assert_eq!(p.len(), 7);
    }

    #[test]
    fn clusters_override_applies_before_aliases_are_matched() {
        let mut p = Properties::from_pairs([("clusters", "A")]);
        apply_vars(
            &mut p,
            &[("MM2_CLUSTERS", "A, C"), ("MM2_C_BOOTSTRAP_SERVERS", "c:1")],
        )
        .unwrap();
        assert_eq!(p.value("C.bootstrap.servers"), Some("c:1"));
    }

    #[test]
    fn secrets_from_env_are_sensitive() {
        let mut p = Properties::from_pairs([("clusters", "A, B")]);
        apply_vars(&mut p, &[("MM2_A_SASL_JAAS_CONFIG", "x")]).unwrap();
        assert!(p.get("A.sasl.jaas.config").unwrap().sensitive);
    }

    #[test]
    fn ambiguous_name_is_an_error() {
        let mut p = Properties::from_pairs([("clusters", "a, A")]);
        let errs = apply_vars(&mut p, &[("MM2_A_BOOTSTRAP_SERVERS", "x")]).unwrap_err();
        assert!(errs[0].to_string().contains("several keys"), "{}", errs[0]);
    }
}

//! mm2.properties: parse (`properties`), override from the environment (`env`), resolve
//! config-provider references (`provider`), route keys as MirrorMaker 2 does (`resolve`) and
//! type them (`settings`) into the model (`model`), with regex lists compiled once (`pattern`).
//! `rest` reads the REST server's settings, which the three binaries share.
//! All before any Kafka client is built. Uses no other module of the crate.

pub mod clients;
pub mod env_overrides;
pub mod error;
pub mod keys;
pub mod model;
pub mod pattern;
pub mod properties;
pub mod provider;
pub mod resolve;
pub mod rest;
pub mod settings;

use std::collections::HashMap;
use std::path::Path;

pub use error::{join_errors, ConfigError, ConfigErrors, Origin, Warning};
pub use model::*;
pub use pattern::Patterns;
pub use properties::{Properties, Setting};

/// Where environment overrides and `${env:...}` references are read from.
#[derive(Debug, Clone, Default)]
pub enum Environment {
    /// The process environment.
    #[default]
    Process,
    /// A fixed map (tests).
    Fixed(HashMap<String, String>),
}

/// Loads, overrides, resolves and types a mm2.properties file.
pub fn load(path: &Path, targets: &[String], env: &Environment) -> Result<Mm2Config, ConfigErrors> {
    let props = Properties::from_file(path)?;
    from_properties(props, targets, env)
}

/// The same as [`load`] for properties already parsed.
pub fn from_properties(
    mut props: Properties,
    targets: &[String],
    env: &Environment,
) -> Result<Mm2Config, ConfigErrors> {
    let (vars, lookup): (Option<HashMap<String, String>>, Box<dyn provider::Lookup>) = match env {
        Environment::Process => (None, Box::new(provider::ProcessEnv)),
        Environment::Fixed(map) => (Some(map.clone()), Box::new(map.clone())),
    };
    env_overrides::apply(&mut props, vars).map_err(ConfigErrors)?;
    provider::resolve(&mut props, lookup.as_ref()).map_err(ConfigErrors)?;
    resolve::resolve(props, targets)
}

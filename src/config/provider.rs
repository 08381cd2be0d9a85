//! Config-provider references, `${provider:[path:]key}`, resolved as Kafka's `ConfigTransformer`
//! resolves them, for the providers Kafka ships: `env` (EnvVarConfigProvider), `file`
//! (FileConfigProvider: a key of a properties file) and `directory` (DirectoryConfigProvider: a
//! file's contents). A resolved value is marked sensitive so it is never printed.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::error::{ConfigError, Origin};
use super::properties::Properties;

/// Kafka's `ConfigTransformer.DEFAULT_PATTERN`.
static REFERENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{([^}]*?):(?:([^}]*?):)?([^}]*?)\}").expect("valid regex"));

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProviderKind {
    Env,
    File,
    Directory,
}

impl ProviderKind {
    fn from_class(class: &str) -> Option<Self> {
        match class.rsplit('.').next().unwrap_or(class) {
            "EnvVarConfigProvider" => Some(ProviderKind::Env),
            "FileConfigProvider" => Some(ProviderKind::File),
            "DirectoryConfigProvider" => Some(ProviderKind::Directory),
            _ => None,
        }
    }
}

/// The lookups a provider needs, so tests can supply their own environment.
pub trait Lookup {
    fn env(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct ProcessEnv;

impl Lookup for ProcessEnv {
    fn env(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Lookup for HashMap<String, String> {
    fn env(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// Replaces every `${provider:path:key}` reference in `props`. Providers `env`, `file` and
/// `directory` are always known by those names; `config.providers` may declare more names for
/// the same three classes.
pub fn resolve(props: &mut Properties, lookup: &dyn Lookup) -> Result<(), Vec<ConfigError>> {
    let mut errors = Vec::new();
    let providers = declared_providers(props, &mut errors);
    let mut files: HashMap<String, Result<Properties, String>> = HashMap::new();
    for (key, setting) in props.iter_mut() {
        if !setting.value.contains("${") || key.starts_with("config.providers") {
            continue;
        }
        match substitute(&setting.value, &providers, lookup, &mut files) {
            Ok(Some(value)) => {
                let written = std::mem::replace(&mut setting.value, value.trim().to_string());
                setting.written = Some(written);
                setting.sensitive = true;
            }
            Ok(None) => {}
            Err(message) => errors.push(ConfigError::invalid(key, &setting.origin, message)),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn declared_providers(
    props: &Properties,
    errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, ProviderKind> {
    let mut providers = BTreeMap::from([
        ("env".to_string(), ProviderKind::Env),
        ("file".to_string(), ProviderKind::File),
        ("directory".to_string(), ProviderKind::Directory),
    ]);
    let Some(list) = props.get("config.providers") else {
        return providers;
    };
    for name in list
        .value
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        let class_key = format!("config.providers.{name}.class");
        match props.get(&class_key) {
            None => errors.push(ConfigError::invalid(
                &class_key,
                &Origin::Unset,
                format!("config provider `{name}` is listed in config.providers but has no class"),
            )),
            Some(class) => match ProviderKind::from_class(&class.value) {
                Some(kind) => {
                    providers.insert(name.to_string(), kind);
                }
                None => errors.push(ConfigError::invalid(
                    &class_key,
                    &class.origin,
                    format!(
                        "config provider class `{}` is not supported; use EnvVarConfigProvider, FileConfigProvider or DirectoryConfigProvider",
                        class.value
                    ),
                )),
            },
        }
    }
    providers
}

/// Returns the value with references replaced, `None` when it has none.
fn substitute(
    value: &str,
    providers: &BTreeMap<String, ProviderKind>,
    lookup: &dyn Lookup,
    files: &mut HashMap<String, Result<Properties, String>>,
) -> Result<Option<String>, String> {
    if !REFERENCE.is_match(value) {
        return Ok(None);
    }
    let mut out = String::with_capacity(value.len());
    let mut last = 0;
    for caps in REFERENCE.captures_iter(value) {
        let whole = caps.get(0).expect("match");
        out.push_str(&value[last..whole.start()]);
        last = whole.end();
        let name = &caps[1];
        let path = caps.get(2).map(|m| m.as_str()).unwrap_or("");
        let key = &caps[3];
        let Some(kind) = providers.get(name) else {
            return Err(format!(
                "`{}` names config provider `{name}`, which is not declared in config.providers",
                whole.as_str()
            ));
        };
        out.push_str(&fetch(*kind, path, key, lookup, files)?);
    }
    out.push_str(&value[last..]);
    Ok(Some(out))
}

fn fetch(
    kind: ProviderKind,
    path: &str,
    key: &str,
    lookup: &dyn Lookup,
    files: &mut HashMap<String, Result<Properties, String>>,
) -> Result<String, String> {
    match kind {
        ProviderKind::Env => lookup
            .env(key)
            .ok_or_else(|| format!("environment variable `{key}` is not set")),
        ProviderKind::File => {
            let props =
                files.entry(path.to_string()).or_insert_with(|| {
                    match Properties::from_file(Path::new(path)) {
                        Ok(p) => Ok(p),
                        Err(e) => Err(e.to_string()),
                    }
                });
            let props = props.as_ref().map_err(Clone::clone)?;
            props
                .value(key)
                .map(str::to_string)
                .ok_or_else(|| format!("file `{path}` has no key `{key}`"))
        }
        ProviderKind::Directory => {
            let file = Path::new(path).join(key);
            std::fs::read_to_string(&file)
                .map_err(|e| format!("cannot read `{}`: {e}", file.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn env_reference_is_resolved_and_marked_sensitive() {
        let mut p = Properties::from_pairs([("A.sasl.jaas.config", "x password=\"${env:PW}\";")]);
        resolve(&mut p, &env(&[("PW", "s3cret")])).unwrap();
        let s = p.get("A.sasl.jaas.config").unwrap();
        assert_eq!(s.value, "x password=\"s3cret\";");
        assert!(s.sensitive);
        // The reference as written is kept: Java stores that in its config topic.
        assert_eq!(s.written.as_deref(), Some("x password=\"${env:PW}\";"));
    }

    #[test]
    fn file_and_directory_references() {
        let dir = std::env::temp_dir().join(format!("mm2-provider-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("secrets.properties");
        std::fs::write(&file, "password = hunter2\n").unwrap();
        std::fs::write(dir.join("token"), "tok").unwrap();
        let file_ref = format!("${{file:{}:password}}", file.display());
        let dir_ref = format!("${{secrets:{}:token}}", dir.display());
        let mut p = Properties::from_pairs([
            ("config.providers", "secrets"),
            (
                "config.providers.secrets.class",
                "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
            ),
            ("a", file_ref.as_str()),
            ("b", dir_ref.as_str()),
        ]);
        resolve(&mut p, &env(&[])).unwrap();
        assert_eq!(p.value("a"), Some("hunter2"));
        assert_eq!(p.value("b"), Some("tok"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_key() {
        let mut p = Properties::from_pairs([
            ("a", "${env:NOPE}"),
            ("b", "${vault:/x:y}"),
            ("c", "${file:/does/not/exist:k}"),
        ]);
        let errs = resolve(&mut p, &env(&[])).unwrap_err();
        let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(
            text[0].contains("`a`") && text[0].contains("NOPE"),
            "{}",
            text[0]
        );
        assert!(
            text[1].contains("`b`") && text[1].contains("vault"),
            "{}",
            text[1]
        );
        assert!(
            text[2].contains("`c`") && text[2].contains("cannot read"),
            "{}",
            text[2]
        );
    }

    #[test]
    fn unknown_provider_class_is_rejected() {
        let mut p = Properties::from_pairs([
            ("config.providers", "vault"),
            ("config.providers.vault.class", "com.example.VaultProvider"),
        ]);
        let errs = resolve(&mut p, &env(&[])).unwrap_err();
        assert!(errs[0].to_string().contains("com.example.VaultProvider"));
    }

    #[test]
    fn plain_values_untouched() {
        let mut p = Properties::from_pairs([("a", "$notref"), ("b", "{x}")]);
        resolve(&mut p, &env(&[])).unwrap();
        assert_eq!(p.value("a"), Some("$notref"));
        assert!(!p.get("a").unwrap().sensitive);
    }
}

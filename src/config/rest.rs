//! The REST server's settings, as Kafka Connect's `RestServerConfig` reads them: `listeners`
//! (`http://` and `https://`), the TLS keys of the https listeners, `rest.extension.classes`
//! and `rest.advertised.listener`. Only values are checked here; files are read when the server
//! starts (`rest::tls`, `rest::basic_auth`).
//!
//! The TLS keys follow Connect's all-or-nothing rule (`valuesWithPrefixAllOrNothing`): if any
//! key starts with `listeners.https.`, only such keys configure the listener; otherwise the
//! worker's own `ssl.*` keys do. Keys are never mixed from the two sets.

use std::fmt;
use std::path::PathBuf;

use super::error::{ConfigError, Origin};
use super::model::Props;
use super::properties::Setting;
use super::settings::split_list;

/// Connect's default when `listeners` is unset.
pub const DEFAULT_LISTENERS: &str = "http://:8083";

/// The prefix of the https listener's own TLS keys.
pub const HTTPS_PREFIX: &str = "listeners.https.";

/// The REST extension that turns on HTTP basic authentication.
pub const BASIC_AUTH_EXTENSION: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";

/// The TLS versions Connect enables by default (`ssl.enabled.protocols`).
pub const DEFAULT_PROTOCOLS: &str = "TLSv1.2,TLSv1.3";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        })
    }
}

/// One entry of `listeners`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub scheme: Scheme,
    /// Empty: every interface.
    pub host: String,
    pub port: u16,
}

impl Listener {
    /// The address to bind, as `tokio::net::TcpListener::bind` takes it.
    pub fn bind_addr(&self) -> String {
        match self.host.as_str() {
            "" => format!("0.0.0.0:{}", self.port),
            h if h.contains(':') => format!("[{h}]:{}", self.port),
            h => format!("{h}:{}", self.port),
        }
    }
}

impl fmt::Display for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "{}://[{}]:{}", self.scheme, self.host, self.port)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

/// A value with the key it was read from, for messages that name the setting.
#[derive(Clone, PartialEq, Eq)]
pub struct Keyed<T> {
    /// The key as the operator wrote it (with or without `listeners.https.`).
    pub key: String,
    pub origin: Origin,
    pub value: T,
}

impl<T> Keyed<T> {
    fn of(s: &Setting, value: T) -> Self {
        Keyed {
            key: s.key.clone(),
            origin: s.origin.clone(),
            value,
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Keyed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {:?}", self.key, self.value)
    }
}

/// A password or private key: never shown, not even by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[hidden]")
    }
}

/// How a key or trust store file is encoded (`ssl.keystore.type`, `ssl.truststore.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    Pkcs12,
    Pem,
    /// Unset. Connect's default is JKS, whose Java loader also reads PKCS12 files; here the
    /// file's contents decide between PKCS12 and PEM, and a JKS file is refused.
    Detect,
}

/// Where the listener's private key and certificate chain come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyMaterial {
    /// `ssl.keystore.location`: a PKCS12 keystore, or a PEM file holding the key and chain.
    File {
        location: Keyed<PathBuf>,
        store_type: Keyed<StoreType>,
        password: Option<Keyed<Secret>>,
        /// `ssl.key.password`: decrypts an encrypted PEM key.
        key_password: Option<Keyed<Secret>>,
    },
    /// `ssl.keystore.certificate.chain` and `ssl.keystore.key`, PEM text in the value itself.
    Inline {
        chain: Keyed<String>,
        key: Keyed<Secret>,
        key_password: Option<Keyed<Secret>>,
    },
}

/// The certificates that client certificates are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustMaterial {
    File {
        location: Keyed<PathBuf>,
        store_type: Keyed<StoreType>,
        password: Option<Keyed<Secret>>,
    },
    /// `ssl.truststore.certificates`: PEM text in the value itself.
    Inline(Keyed<String>),
}

/// `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    /// A client certificate is asked for, and checked when one is sent.
    Requested,
    /// A client without a valid certificate cannot connect.
    Required,
}

/// A TLS version of `ssl.enabled.protocols`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    V1,
    V1_1,
    V1_2,
    V1_3,
}

impl TlsVersion {
    fn parse(name: &str) -> Option<TlsVersion> {
        match name {
            "TLSv1" => Some(TlsVersion::V1),
            "TLSv1.1" => Some(TlsVersion::V1_1),
            "TLSv1.2" => Some(TlsVersion::V1_2),
            "TLSv1.3" => Some(TlsVersion::V1_3),
            _ => None,
        }
    }
}

/// The TLS settings of the https listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub key: KeyMaterial,
    pub trust: Option<TrustMaterial>,
    pub client_auth: ClientAuth,
    /// Never empty.
    pub protocols: Vec<TlsVersion>,
}

/// Everything the REST server is configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestSettings {
    pub listeners: Vec<Listener>,
    /// Present exactly when a listener is https.
    pub tls: Option<TlsSettings>,
    /// `rest.extension.classes` names [`BASIC_AUTH_EXTENSION`].
    pub basic_auth: bool,
    /// The listener whose address is the worker's id (`rest.advertised.listener`; otherwise
    /// http when there is an http listener, as Connect chooses).
    pub advertised: Scheme,
}

/// Reads the REST settings of a worker's properties (for connect-mirror-maker, the top-level
/// keys of mm2.properties); problems go to `errors`.
pub fn rest_settings(props: &Props, errors: &mut Vec<ConfigError>) -> RestSettings {
    let listeners = listeners(props.get("listeners"), errors);
    let tls = listeners
        .iter()
        .any(|l| l.scheme == Scheme::Https)
        .then(|| tls_settings(props, errors))
        .flatten();
    RestSettings {
        advertised: advertised(props, &listeners, errors),
        listeners,
        tls,
        basic_auth: extensions(props.get("rest.extension.classes"), errors),
    }
}

/// `listeners`, parsed as Connect's `RestServer` does: `protocol://host:port`, with an IPv6
/// host in brackets and an empty host meaning every interface.
pub fn listeners(setting: Option<&Setting>, errors: &mut Vec<ConfigError>) -> Vec<Listener> {
    let (raw, origin, key) = match setting {
        Some(s) => (s.value.as_str(), s.origin.clone(), s.key.as_str()),
        None => (DEFAULT_LISTENERS, Origin::Default, "listeners"),
    };
    let items = split_list(raw);
    if items.is_empty() {
        errors.push(ConfigError::invalid(
            key,
            &origin,
            "Invalid value for listeners, at least one URL is expected, ex: http://localhost:8080,https://localhost:8443.",
        ));
    }
    let mut out = Vec::new();
    for item in items {
        match parse_listener(&item) {
            Ok(l) => out.push(l),
            Err(message) => errors.push(ConfigError::invalid(
                key,
                &origin,
                format!("`{item}`: {message}"),
            )),
        }
    }
    out
}

fn parse_listener(item: &str) -> Result<Listener, &'static str> {
    const FORMAT: &str = "Listener doesn't have the right format (protocol://hostname:port).";
    let (protocol, rest) = item.split_once("://").ok_or(FORMAT)?;
    let (host, port) = rest.rsplit_once(':').ok_or(FORMAT)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host_ok = host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-%._:".contains(c));
    if !host_ok || port.is_empty() || !port.chars().all(|c| c.is_ascii_digit()) {
        return Err(FORMAT);
    }
    let scheme = match protocol.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err("Listener protocol must be either \"http\" or \"https\"."),
    };
    let port = port
        .parse()
        .map_err(|_| "the port must be between 0 and 65535")?;
    Ok(Listener {
        scheme,
        host: host.to_string(),
        port,
    })
}

fn advertised(props: &Props, listeners: &[Listener], errors: &mut Vec<ConfigError>) -> Scheme {
    let has = |scheme| listeners.iter().any(|l| l.scheme == scheme);
    let Some(s) = props.get("rest.advertised.listener") else {
        return if has(Scheme::Http) || !has(Scheme::Https) {
            Scheme::Http
        } else {
            Scheme::Https
        };
    };
    let scheme = match s.value.trim().to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => {
            errors.push(ConfigError::invalid(
                &s.key,
                &s.origin,
                format!("`{}` is neither http nor https", s.value),
            ));
            return Scheme::Http;
        }
    };
    if !has(scheme) {
        errors.push(ConfigError::invalid(
            &s.key,
            &s.origin,
            format!("no {scheme} listener is configured in `listeners`"),
        ));
    }
    scheme
}

/// Whether `rest.extension.classes` turns basic authentication on; any other class is an
/// error, as no Java plugin can be loaded here.
fn extensions(setting: Option<&Setting>, errors: &mut Vec<ConfigError>) -> bool {
    let Some(s) = setting else {
        return false;
    };
    let mut basic_auth = false;
    for class in split_list(&s.value) {
        if class == BASIC_AUTH_EXTENSION {
            basic_auth = true;
        } else {
            errors.push(ConfigError::invalid(
                &s.key,
                &s.origin,
                format!(
                    "REST extension class `{class}` is not available: Java plugins cannot be \
                     loaded, and the only extension built in is {BASIC_AUTH_EXTENSION}"
                ),
            ));
        }
    }
    basic_auth
}

/// The TLS keys in force: the `listeners.https.` ones with the prefix removed if there is
/// any, else the un-prefixed `ssl.*` ones; and the prefix to name a missing key with.
fn tls_keys(props: &Props) -> (Props, &'static str) {
    let prefixed: Props = props
        .iter()
        .filter_map(|(k, s)| {
            k.strip_prefix(HTTPS_PREFIX)
                .map(|k| (k.to_string(), s.clone()))
        })
        .collect();
    if prefixed.is_empty() {
        (props.clone(), "")
    } else {
        (prefixed, HTTPS_PREFIX)
    }
}

fn tls_settings(props: &Props, errors: &mut Vec<ConfigError>) -> Option<TlsSettings> {
    let (keys, prefix) = tls_keys(props);
    let before = errors.len();
    let listeners = props
        .get("listeners")
        .map_or(Origin::Default, |s| s.origin.clone());
    let key = key_material(&keys, prefix, &listeners, errors);
    let trust = trust_material(&keys, errors);
    let client_auth = client_auth(keys.get("ssl.client.auth"), errors);
    let protocols = protocols(keys.get("ssl.enabled.protocols"), errors);
    match key {
        Some(key) if errors.len() == before => Some(TlsSettings {
            key,
            trust,
            client_auth,
            protocols,
        }),
        _ => None,
    }
}

fn secret(keys: &Props, key: &str) -> Option<Keyed<Secret>> {
    keys.get(key).map(|s| Keyed::of(s, Secret(s.value.clone())))
}

fn store_type(keys: &Props, key: &str, errors: &mut Vec<ConfigError>) -> Keyed<StoreType> {
    let Some(s) = keys.get(key) else {
        return Keyed {
            key: key.to_string(),
            origin: Origin::Default,
            value: StoreType::Detect,
        };
    };
    let value = match s.value.trim().to_ascii_uppercase().as_str() {
        "PKCS12" => StoreType::Pkcs12,
        "PEM" => StoreType::Pem,
        "JKS" | "JCEKS" => {
            errors.push(ConfigError::invalid(
                &s.key,
                &s.origin,
                format!(
                    "{} stores cannot be read here; convert the store to PKCS12 with \
                     `keytool -importkeystore -srckeystore store.jks -destkeystore store.p12 \
                     -deststoretype PKCS12` and set `{}` = PKCS12",
                    s.value.trim(),
                    s.key
                ),
            ));
            StoreType::Detect
        }
        _ => {
            errors.push(ConfigError::invalid(
                &s.key,
                &s.origin,
                format!("unknown store type `{}`: expected PKCS12 or PEM", s.value),
            ));
            StoreType::Detect
        }
    };
    Keyed::of(s, value)
}

fn key_material(
    keys: &Props,
    prefix: &str,
    listeners: &Origin,
    errors: &mut Vec<ConfigError>,
) -> Option<KeyMaterial> {
    let store_type = store_type(keys, "ssl.keystore.type", errors);
    let key_password = secret(keys, "ssl.key.password");
    let chain = keys.get("ssl.keystore.certificate.chain");
    let key = keys.get("ssl.keystore.key");
    let location = keys.get("ssl.keystore.location");
    if chain.is_some() || key.is_some() {
        let (Some(chain), Some(key)) = (chain, key) else {
            let given = chain.or(key).expect("one of the two");
            errors.push(ConfigError::invalid(
                &given.key,
                &given.origin,
                format!(
                    "`{prefix}ssl.keystore.certificate.chain` and `{prefix}ssl.keystore.key` \
                     go together: set both"
                ),
            ));
            return None;
        };
        if store_type.value == StoreType::Pkcs12 {
            errors.push(ConfigError::invalid(
                &store_type.key,
                &store_type.origin,
                "must be PEM when the certificate chain and key are given inline",
            ));
        }
        if let Some(l) = location {
            errors.push(ConfigError::invalid(
                &l.key,
                &l.origin,
                "give either a keystore file or an inline certificate chain and key, not both",
            ));
        }
        return Some(KeyMaterial::Inline {
            chain: Keyed::of(chain, chain.value.clone()),
            key: Keyed::of(key, Secret(key.value.clone())),
            key_password,
        });
    }
    let Some(location) = location else {
        errors.push(ConfigError::invalid(
            "listeners",
            listeners,
            format!(
                "an https listener needs a keystore: set `{prefix}ssl.keystore.location` (or \
                 `{prefix}ssl.keystore.certificate.chain` and `{prefix}ssl.keystore.key`)"
            ),
        ));
        return None;
    };
    Some(KeyMaterial::File {
        location: Keyed::of(location, PathBuf::from(location.value.trim())),
        store_type,
        password: secret(keys, "ssl.keystore.password"),
        key_password,
    })
}

fn trust_material(keys: &Props, errors: &mut Vec<ConfigError>) -> Option<TrustMaterial> {
    let store_type = store_type(keys, "ssl.truststore.type", errors);
    if let Some(s) = keys.get("ssl.truststore.certificates") {
        return Some(TrustMaterial::Inline(Keyed::of(s, s.value.clone())));
    }
    let location = keys.get("ssl.truststore.location")?;
    Some(TrustMaterial::File {
        location: Keyed::of(location, PathBuf::from(location.value.trim())),
        store_type,
        password: secret(keys, "ssl.truststore.password"),
    })
}

fn client_auth(setting: Option<&Setting>, errors: &mut Vec<ConfigError>) -> ClientAuth {
    let Some(s) = setting else {
        return ClientAuth::None;
    };
    // Connect validates the value as given, case included.
    match s.value.trim() {
        "none" => ClientAuth::None,
        "requested" => ClientAuth::Requested,
        "required" => ClientAuth::Required,
        other => {
            errors.push(ConfigError::invalid(
                &s.key,
                &s.origin,
                format!(
                    "Invalid value {other} for configuration ssl.client.auth: String must be \
                     one of: required, requested, none"
                ),
            ));
            ClientAuth::None
        }
    }
}

fn protocols(setting: Option<&Setting>, errors: &mut Vec<ConfigError>) -> Vec<TlsVersion> {
    let raw = setting.map_or(DEFAULT_PROTOCOLS, |s| s.value.as_str());
    let before = errors.len();
    let mut out = Vec::new();
    for name in split_list(raw) {
        match TlsVersion::parse(&name) {
            Some(v) => out.push(v),
            None => {
                let s = setting.expect("the default names known versions");
                errors.push(ConfigError::invalid(
                    &s.key,
                    &s.origin,
                    format!("unknown TLS version `{name}`: expected TLSv1.2 or TLSv1.3 (or the obsolete TLSv1, TLSv1.1)"),
                ));
            }
        }
    }
    match setting {
        Some(s) if out.is_empty() && errors.len() == before => {
            errors.push(ConfigError::invalid(
                &s.key,
                &s.origin,
                "enables no TLS version",
            ));
        }
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .enumerate()
            .map(|(i, (k, v))| (k.to_string(), Setting::new(*k, *v, Origin::Line(i + 1))))
            .collect()
    }

    fn settings(pairs: &[(&str, &str)]) -> Result<RestSettings, String> {
        let mut errors = Vec::new();
        let s = rest_settings(&props(pairs), &mut errors);
        if errors.is_empty() {
            Ok(s)
        } else {
            Err(errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"))
        }
    }

    #[test]
    fn listeners_parse_as_connect_reads_them() {
        let s = settings(&[(
            "listeners",
            "http://:8083, HTTPS://myhost:8443,http://[::1]:0",
        )]);
        // https without any keystore is refused, naming what to set.
        let err = s.unwrap_err();
        assert!(err.contains("`ssl.keystore.location`"), "{err}");
        let s = settings(&[
            (
                "listeners",
                "http://:8083, HTTPS://myhost:8443,http://[::1]:0",
            ),
            ("ssl.keystore.location", "/k.p12"),
        ])
        .unwrap();
        let l = &s.listeners;
        assert_eq!(
            (l[0].scheme, l[0].host.as_str(), l[0].port),
            (Scheme::Http, "", 8083)
        );
        assert_eq!(l[0].bind_addr(), "0.0.0.0:8083");
        assert_eq!((l[1].scheme, l[1].host.as_str()), (Scheme::Https, "myhost"));
        assert_eq!(l[2].bind_addr(), "[::1]:0");
        assert_eq!(s.advertised, Scheme::Http);
        let unset = settings(&[]).unwrap();
        assert_eq!(unset.listeners[0].port, 8083);
        assert!(unset.tls.is_none() && !unset.basic_auth);
    }

    #[test]
    fn bad_listeners_get_connects_messages() {
        let err = settings(&[("listeners", "ftp://:21")]).unwrap_err();
        assert!(
            err.contains("Listener protocol must be either \"http\" or \"https\"."),
            "{err}"
        );
        let err = settings(&[("listeners", "localhost:8083")]).unwrap_err();
        assert!(err.contains("protocol://hostname:port"), "{err}");
        let err = settings(&[("listeners", " , ")]).unwrap_err();
        assert!(err.contains("at least one URL"), "{err}");
    }

    /// One `listeners.https.` key means the un-prefixed `ssl.*` keys are not read at all.
    #[test]
    fn prefixed_keys_are_all_or_nothing() {
        let s = settings(&[
            ("listeners", "https://:8443"),
            ("ssl.keystore.location", "/worker.p12"),
            ("ssl.client.auth", "required"),
        ])
        .unwrap();
        let tls = s.tls.unwrap();
        assert_eq!(tls.client_auth, ClientAuth::Required);
        assert!(
            matches!(&tls.key, KeyMaterial::File { location, .. } if location.value == std::path::Path::new("/worker.p12"))
        );
        let s = settings(&[
            ("listeners", "https://:8443"),
            ("ssl.keystore.location", "/worker.p12"),
            ("ssl.client.auth", "required"),
            ("listeners.https.ssl.keystore.location", "/rest.p12"),
            ("listeners.https.ssl.keystore.password", "pw"),
        ])
        .unwrap();
        let tls = s.tls.unwrap();
        assert_eq!(tls.client_auth, ClientAuth::None, "not taken from ssl.*");
        let KeyMaterial::File {
            location, password, ..
        } = &tls.key
        else {
            panic!("{:?}", tls.key)
        };
        assert_eq!(location.key, "listeners.https.ssl.keystore.location");
        assert_eq!(location.value, std::path::Path::new("/rest.p12"));
        assert_eq!(password.as_ref().unwrap().value.0, "pw");
        assert_eq!(tls.protocols, [TlsVersion::V1_2, TlsVersion::V1_3]);
        // Only the prefixed keys' absence is named.
        let err = settings(&[
            ("listeners", "https://:8443"),
            ("ssl.keystore.location", "/worker.p12"),
            ("listeners.https.ssl.client.auth", "none"),
        ])
        .unwrap_err();
        assert!(
            err.contains("`listeners.https.ssl.keystore.location`"),
            "{err}"
        );
    }

    #[test]
    fn tls_values_are_checked() {
        let base = [
            ("listeners", "https://:8443"),
            ("listeners.https.ssl.keystore.location", "/k"),
        ];
        let with = |extra: (&str, &str)| {
            let mut v = base.to_vec();
            v.push(extra);
            settings(&v).unwrap_err()
        };
        let err = with(("listeners.https.ssl.keystore.type", "JKS"));
        assert!(
            err.contains("`listeners.https.ssl.keystore.type` (line 3)") && err.contains("keytool"),
            "{err}"
        );
        let err = with(("listeners.https.ssl.client.auth", "REQUIRED"));
        assert!(
            err.contains("String must be one of: required, requested, none"),
            "{err}"
        );
        let err = with(("listeners.https.ssl.enabled.protocols", "TLSv1.2,SSLv3"));
        assert!(err.contains("unknown TLS version `SSLv3`"), "{err}");
        let err = with(("listeners.https.ssl.keystore.key", "-----BEGIN"));
        assert!(err.contains("go together"), "{err}");
    }

    #[test]
    fn secrets_are_not_shown_by_debug() {
        let s = settings(&[
            ("listeners", "https://:8443"),
            ("ssl.keystore.location", "/k.p12"),
            ("ssl.keystore.password", "hunter2"),
        ])
        .unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn extensions_and_advertised_listener() {
        let s = settings(&[("rest.extension.classes", BASIC_AUTH_EXTENSION)]).unwrap();
        assert!(s.basic_auth);
        let err = settings(&[("rest.extension.classes", "com.acme.Ext")]).unwrap_err();
        assert!(err.contains("`com.acme.Ext` is not available"), "{err}");
        let s = settings(&[
            ("listeners", "http://:1,https://:2"),
            ("ssl.keystore.location", "/k"),
            ("rest.advertised.listener", "HTTPS"),
        ])
        .unwrap();
        assert_eq!(s.advertised, Scheme::Https);
        let err = settings(&[("rest.advertised.listener", "https")]).unwrap_err();
        assert!(err.contains("no https listener"), "{err}");
    }
}

//! HTTP basic authentication with the semantics of Kafka Connect's
//! `BasicAuthSecurityRestExtension`: every request to a served path must carry
//! `Authorization: Basic …` credentials that the `KafkaConnect` entry of the JAAS file accepts
//! (or, without such an entry, the `other` entry, as JAAS falls back). The one login module
//! available is Connect's `PropertyFileLoginModule`: its `file` option names a properties
//! file of `user=password` lines; an empty file lets every request through, as in Connect.
//!
//! A refused request gets what Connect answers: 401 with the body
//! `User cannot access the resource.` and no `WWW-Authenticate` header. `/health` is no
//! exception (Connect's filter exempts only its signed internal endpoints, which are not
//! served here). Requests to paths that are not served get their 404 or 405 unauthenticated,
//! as in Connect, whose filter runs only once a resource matched.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use tracing::{debug, error, warn};

use super::jaas::{self, Flag, LOGIN_CONFIG_PROPERTY};
use crate::config::Properties;

/// The JAAS entry Connect's filter logs in with.
pub const LOGIN_CONTEXT: &str = "KafkaConnect";

/// The one login module built in.
pub const PROPERTY_FILE_LOGIN_MODULE: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule";

/// Connect's answer to a request it does not authenticate.
const REFUSED: &str = "User cannot access the resource.";

/// Why basic authentication cannot be set up; the worker does not start.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(
        "rest.extension.classes names BasicAuthSecurityRestExtension, which reads its users \
         from a JAAS file, but none is named: add \
         -D{LOGIN_CONFIG_PROPERTY}=/path/to/connect.jaas to KAFKA_OPTS"
    )]
    NoLoginConfig,
    #[error("cannot read the JAAS file {} (-D{LOGIN_CONFIG_PROPERTY} in KAFKA_OPTS): {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the JAAS file {}: syntax error at line {line}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("the JAAS file {} has no `{LOGIN_CONTEXT}` entry (nor an `other` one) for the REST API's users", path.display())]
    NoEntry { path: PathBuf },
    #[error(
        "the JAAS file {}: login module `{class}` is not available; the only one built in is \
         {PROPERTY_FILE_LOGIN_MODULE}",
        path.display()
    )]
    UnknownModule { path: PathBuf, class: String },
    #[error(
        "the JAAS file {}: {PROPERTY_FILE_LOGIN_MODULE} needs the option \
         file=\"/path/to/users.properties\"",
        path.display()
    )]
    NoFile { path: PathBuf },
}

/// One `PropertyFileLoginModule`: its users, read at the first request that needs them and
/// kept from then on, as Connect caches them; a file that cannot be read is tried again at the
/// next request, every request refused meanwhile.
struct UsersFile {
    path: PathBuf,
    users: Mutex<Option<Arc<HashMap<String, String>>>>,
}

impl UsersFile {
    fn users(&self) -> Option<Arc<HashMap<String, String>>> {
        let mut cached = self.users.lock().expect("users lock");
        if cached.is_none() {
            match read_users(&self.path) {
                Ok(users) => {
                    if users.is_empty() {
                        warn!(
                            "the credentials file {} is empty: every request is let through",
                            self.path.display()
                        );
                    }
                    *cached = Some(Arc::new(users));
                }
                Err(e) => error!(
                    "cannot read the credentials file {}: {e}; every request is refused",
                    self.path.display()
                ),
            }
        }
        cached.clone()
    }

    /// `PropertyFileLoginModule.login`.
    fn login(&self, credentials: Option<&Credentials>) -> bool {
        let Some(users) = self.users() else {
            return false;
        };
        if users.is_empty() {
            return true;
        }
        let Some(c) = credentials else {
            return false;
        };
        match users.get(&c.user) {
            Some(expected) => same_secret(&c.password, expected),
            None => {
                // As long as a known user's check, so that timing does not tell who exists.
                let _ = same_secret(&c.password, "");
                false
            }
        }
    }
}

fn read_users(path: &Path) -> Result<HashMap<String, String>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let props = Properties::parse(&bytes)
        .map_err(|(line, message)| format!("syntax error at line {line}: {message}"))?;
    Ok(props
        .iter()
        .map(|(k, s)| (k.clone(), s.value.clone()))
        .collect())
}

/// Compares a password in time that depends on neither value: their digests, compared with
/// OpenSSL's constant-time comparison.
fn same_secret(given: &str, expected: &str) -> bool {
    let (a, b) = (
        openssl::sha::sha256(given.as_bytes()),
        openssl::sha::sha256(expected.as_bytes()),
    );
    openssl::memcmp::eq(&a, &b)
}

/// The user and password of a request.
struct Credentials {
    user: String,
    password: String,
}

/// Java's Base64 decoder takes the padding as optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `Authorization: Basic base64(user:password)`, read as Connect's `BasicAuthCredentials`
/// reads it: any other scheme, or no `:` after a non-empty user, is no credentials.
fn credentials(header: Option<&HeaderValue>) -> Option<Credentials> {
    let value = header?.to_str().ok()?;
    let space = value.find(' ').filter(|&i| i > 0)?;
    if !value[..space].eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = BASE64.decode(value[space + 1..].trim()).ok()?;
    let decoded = String::from_utf8_lossy(&decoded);
    let colon = decoded.find(':').filter(|&i| i > 0)?;
    Some(Credentials {
        user: decoded[..colon].to_string(),
        password: decoded[colon + 1..].to_string(),
    })
}

/// The `KafkaConnect` entry's login modules.
pub struct BasicAuth {
    modules: Vec<(Flag, UsersFile)>,
}

impl BasicAuth {
    /// From the JAAS file that `KAFKA_OPTS` names.
    pub fn from_environment() -> Result<BasicAuth, AuthError> {
        let opts = std::env::var("KAFKA_OPTS").unwrap_or_default();
        let path = jaas::login_config_path(&opts).ok_or(AuthError::NoLoginConfig)?;
        BasicAuth::from_jaas_file(&path)
    }

    pub fn from_jaas_file(path: &Path) -> Result<BasicAuth, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut entries = jaas::parse(&text).map_err(|(line, message)| AuthError::Syntax {
            path: path.to_path_buf(),
            line,
            message,
        })?;
        let modules = entries
            .remove(LOGIN_CONTEXT)
            .or_else(|| entries.remove("other"))
            .filter(|m| !m.is_empty())
            .ok_or_else(|| AuthError::NoEntry {
                path: path.to_path_buf(),
            })?;
        let mut out = Vec::new();
        for m in modules {
            if m.class != PROPERTY_FILE_LOGIN_MODULE {
                return Err(AuthError::UnknownModule {
                    path: path.to_path_buf(),
                    class: m.class,
                });
            }
            let file = m
                .options
                .get("file")
                .filter(|f| !f.trim().is_empty())
                .ok_or_else(|| AuthError::NoFile {
                    path: path.to_path_buf(),
                })?;
            let users = UsersFile {
                path: PathBuf::from(file),
                users: Mutex::new(None),
            };
            // Read now, so that a file that cannot be read is reported at start.
            let _ = users.users();
            out.push((m.flag, users));
        }
        Ok(BasicAuth { modules: out })
    }

    /// Whether the request's `Authorization` header logs in, by JAAS's rules for the flags:
    /// every required and requisite module must accept (a requisite one that refuses ends the
    /// login), a sufficient one that accepts ends it, and with neither required nor requisite
    /// modules one module at least must accept.
    pub fn authenticate(&self, header: Option<&HeaderValue>) -> bool {
        let credentials = credentials(header);
        let (mut any_required, mut required_failed, mut any_ok) = (false, false, false);
        for (flag, users) in &self.modules {
            let ok = users.login(credentials.as_ref());
            any_ok |= ok;
            match flag {
                Flag::Required => {
                    any_required = true;
                    required_failed |= !ok;
                }
                Flag::Requisite => {
                    if !ok {
                        return false;
                    }
                    any_required = true;
                }
                Flag::Sufficient if ok => return !required_failed,
                Flag::Sufficient | Flag::Optional => {}
            }
        }
        if any_required {
            !required_failed
        } else {
            any_ok
        }
    }
}

/// Middleware of every served route.
pub async fn require(State(auth): State<Arc<BasicAuth>>, request: Request, next: Next) -> Response {
    if auth.authenticate(request.headers().get(header::AUTHORIZATION)) {
        return next.run(request).await;
    }
    // Logged at debug only, as Connect does: a mistyped password is not worth a log line.
    debug!(
        "{} {}: request failed authentication",
        request.method(),
        request.uri().path()
    );
    // Connect's JAX-RS answer: the matched resource's media type, the text as the entity.
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        REFUSED,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Dir {
        fn new() -> Dir {
            let d = std::env::temp_dir().join(format!(
                "mm2-basic-auth-{}-{:x}",
                std::process::id(),
                rand::random::<u64>()
            ));
            std::fs::create_dir_all(&d).unwrap();
            Dir(d)
        }

        fn file(&self, name: &str, text: &str) -> PathBuf {
            let p = self.0.join(name);
            std::fs::write(&p, text).unwrap();
            p
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn basic(user_pass: &str) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        ))
        .unwrap()
    }

    fn jaas(dir: &Dir, modules: &str) -> PathBuf {
        dir.file(
            "connect.jaas",
            &format!("KafkaConnect {{\n{modules}\n}};\n"),
        )
    }

    fn module(flag: &str, file: &Path) -> String {
        format!(
            "{PROPERTY_FILE_LOGIN_MODULE} {flag} file=\"{}\";",
            file.display()
        )
    }

    #[test]
    fn credentials_are_read_as_connect_reads_them() {
        let c = credentials(Some(&basic("alice:pa:ss"))).unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("alice", "pa:ss"));
        let unpadded = HeaderValue::from_static("basic YWxpY2U6eHk");
        assert_eq!(credentials(Some(&unpadded)).unwrap().password, "xy");
        for bad in ["Bearer abc", " Basic YTpi", "Basic", "Basic !!!"] {
            assert!(
                credentials(Some(&HeaderValue::from_static(bad))).is_none(),
                "{bad}"
            );
        }
        assert!(credentials(Some(&basic(":nouser"))).is_none());
        assert!(credentials(Some(&basic("nocolon"))).is_none());
        assert!(credentials(None).is_none());
    }

    #[test]
    fn users_of_the_properties_file_log_in() {
        let dir = Dir::new();
        let users = dir.file("users.properties", "alice=secret\nbob: other\n");
        let auth = BasicAuth::from_jaas_file(&jaas(&dir, &module("required", &users))).unwrap();
        assert!(auth.authenticate(Some(&basic("alice:secret"))));
        assert!(auth.authenticate(Some(&basic("bob:other"))));
        assert!(!auth.authenticate(Some(&basic("alice:wrong"))));
        assert!(!auth.authenticate(Some(&basic("mallory:secret"))));
        assert!(!auth.authenticate(None));
    }

    #[test]
    fn an_empty_users_file_lets_everyone_in() {
        let dir = Dir::new();
        let users = dir.file("users.properties", "# nobody\n");
        let auth = BasicAuth::from_jaas_file(&jaas(&dir, &module("required", &users))).unwrap();
        assert!(auth.authenticate(None));
    }

    #[test]
    fn an_unreadable_users_file_refuses_until_it_can_be_read() {
        let dir = Dir::new();
        let users = dir.0.join("later.properties");
        let auth = BasicAuth::from_jaas_file(&jaas(&dir, &module("required", &users))).unwrap();
        assert!(!auth.authenticate(Some(&basic("alice:secret"))));
        std::fs::write(&users, "alice=secret\n").unwrap();
        assert!(auth.authenticate(Some(&basic("alice:secret"))));
        // Kept once read, as Connect keeps it.
        std::fs::write(&users, "alice=changed\n").unwrap();
        assert!(auth.authenticate(Some(&basic("alice:secret"))));
    }

    #[test]
    fn flags_combine_as_jaas_combines_them() {
        let dir = Dir::new();
        let a = dir.file("a.properties", "alice=a\n");
        let b = dir.file("b.properties", "bob=b\n");
        let either = format!("{}\n{}", module("sufficient", &a), module("sufficient", &b));
        let auth = BasicAuth::from_jaas_file(&jaas(&dir, &either)).unwrap();
        assert!(auth.authenticate(Some(&basic("alice:a"))));
        assert!(auth.authenticate(Some(&basic("bob:b"))));
        assert!(!auth.authenticate(Some(&basic("carol:c"))));
        let both = format!("{}\n{}", module("required", &a), module("optional", &b));
        let auth = BasicAuth::from_jaas_file(&jaas(&dir, &both)).unwrap();
        assert!(auth.authenticate(Some(&basic("alice:a"))));
        assert!(!auth.authenticate(Some(&basic("bob:b"))));
    }

    #[test]
    fn setup_errors_are_clear() {
        let dir = Dir::new();
        let err = BasicAuth::from_jaas_file(&dir.0.join("none.jaas"))
            .err()
            .unwrap();
        assert!(matches!(err, AuthError::Read { .. }), "{err}");
        let other = dir.file("other.jaas", "KafkaClient {\n a.B required;\n};\n");
        let err = BasicAuth::from_jaas_file(&other).err().unwrap().to_string();
        assert!(err.contains("no `KafkaConnect` entry"), "{err}");
        let ldap = jaas(&dir, "com.acme.LdapLoginModule required;");
        let err = BasicAuth::from_jaas_file(&ldap).err().unwrap().to_string();
        assert!(
            err.contains("`com.acme.LdapLoginModule` is not available"),
            "{err}"
        );
        let no_file = jaas(&dir, &format!("{PROPERTY_FILE_LOGIN_MODULE} required;"));
        let err = BasicAuth::from_jaas_file(&no_file)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("needs the option file="), "{err}");
        // JAAS's fallback entry serves too.
        let users = dir.file("u.properties", "alice=a\n");
        let fallback = dir.file(
            "fallback.jaas",
            &format!("other {{\n{}\n}};\n", module("required", &users)),
        );
        assert!(BasicAuth::from_jaas_file(&fallback).is_ok());
    }
}

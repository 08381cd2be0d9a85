//! The https listeners' TLS: the key, certificate chain and trusted certificates that
//! [`TlsSettings`] names, read into an OpenSSL acceptor. A PKCS12 keystore or PEM (a file
//! with the key and chain, or both inline); JKS is refused, with the keytool command that
//! converts it. Every error names the setting to fix and never shows a password or a key.

use std::path::PathBuf;

use openssl::error::ErrorStack;
use openssl::pkcs12::Pkcs12;
use openssl::pkey::{PKey, Private};
use openssl::ssl::{SslAcceptor, SslMethod, SslOptions, SslVerifyMode, SslVersion};
use openssl::x509::X509;

use crate::config::rest::{
    ClientAuth, KeyMaterial, Keyed, Secret, StoreType, TlsSettings, TlsVersion, TrustMaterial,
};

/// Why the https listeners cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("`{key}`: cannot read {}: {source}", path.display())]
    Read {
        key: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "`{key}`: {} is a Java keystore (JKS or JCEKS), which cannot be read here; convert it \
         with `keytool -importkeystore -srckeystore {} -destkeystore store.p12 -deststoretype \
         PKCS12` and use the PKCS12 file",
        path.display(),
        path.display()
    )]
    Jks { key: String, path: PathBuf },
    /// `key` is the password's setting.
    #[error("`{key}`: wrong password for {what}")]
    WrongPassword { key: String, what: String },
    #[error("`{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("cannot set up TLS for the https listeners: {0}")]
    OpenSsl(#[from] ErrorStack),
}

/// The listener's private key and certificates.
struct Identity {
    key: PKey<Private>,
    cert: X509,
    chain: Vec<X509>,
}

/// An acceptor for the https listeners, as Connect's `SSLUtils` configures Jetty's.
pub fn acceptor(settings: &TlsSettings) -> Result<SslAcceptor, TlsError> {
    let id = identity(&settings.key)?;
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls_server())?;
    b.set_private_key(&id.key)?;
    b.set_certificate(&id.cert)?;
    for c in &id.chain {
        b.add_extra_chain_cert(c.clone())?;
    }
    if b.check_private_key().is_err() {
        return Err(TlsError::Invalid {
            key: key_setting(&settings.key).to_string(),
            message: "the private key does not belong to the certificate".into(),
        });
    }
    versions(&mut b, &settings.protocols)?;
    if settings.client_auth != ClientAuth::None {
        // Without a truststore Jetty trusts what the keystore holds; so do we.
        let trusted = match &settings.trust {
            Some(t) => trusted(t)?,
            None => std::iter::once(id.cert.clone()).chain(id.chain).collect(),
        };
        for c in &trusted {
            b.cert_store_mut().add_cert(c.clone())?;
            b.add_client_ca(c)?;
        }
        let mut mode = SslVerifyMode::PEER;
        if settings.client_auth == ClientAuth::Required {
            mode |= SslVerifyMode::FAIL_IF_NO_PEER_CERT;
        }
        b.set_verify(mode);
    }
    Ok(b.build())
}

/// The setting that names the private key, for messages.
fn key_setting(k: &KeyMaterial) -> &str {
    match k {
        KeyMaterial::File { location, .. } => &location.key,
        KeyMaterial::Inline { key, .. } => &key.key,
    }
}

/// Enables exactly the listed versions: the range from the lowest to the highest, less any
/// version inside it that is not listed.
fn versions(b: &mut openssl::ssl::SslAcceptorBuilder, list: &[TlsVersion]) -> Result<(), TlsError> {
    let all = [
        (TlsVersion::V1, SslVersion::TLS1, SslOptions::NO_TLSV1),
        (TlsVersion::V1_1, SslVersion::TLS1_1, SslOptions::NO_TLSV1_1),
        (TlsVersion::V1_2, SslVersion::TLS1_2, SslOptions::NO_TLSV1_2),
        (TlsVersion::V1_3, SslVersion::TLS1_3, SslOptions::NO_TLSV1_3),
    ];
    let ssl = |v: TlsVersion| all.iter().find(|(t, ..)| *t == v).map(|(_, s, _)| *s);
    let (Some(&min), Some(&max)) = (list.first(), list.last()) else {
        return Ok(());
    };
    b.clear_options(all.iter().fold(SslOptions::empty(), |o, (.., n)| o | *n));
    b.set_min_proto_version(ssl(min))?;
    b.set_max_proto_version(ssl(max))?;
    for (v, _, no) in all {
        if v > min && v < max && !list.contains(&v) {
            b.set_options(no);
        }
    }
    Ok(())
}

fn read(location: &Keyed<PathBuf>) -> Result<Vec<u8>, TlsError> {
    std::fs::read(&location.value).map_err(|source| TlsError::Read {
        key: location.key.clone(),
        path: location.value.clone(),
        source,
    })
}

/// `…ssl.keystore.location` → `…ssl.keystore.password`: the sibling key, with the same prefix.
fn sibling(key: &str, of: &str, name: &str) -> String {
    match key.strip_suffix(of) {
        Some(prefix) => format!("{prefix}{name}"),
        None => name.to_string(),
    }
}

/// How a store file is encoded.
#[derive(Debug, PartialEq, Eq)]
enum Encoding {
    Pkcs12,
    Pem,
    Jks,
}

fn encoding(bytes: &[u8], declared: StoreType) -> Encoding {
    // JKS and JCEKS files start with these magic numbers, whatever type they were declared.
    if bytes.starts_with(&[0xFE, 0xED, 0xFE, 0xED]) || bytes.starts_with(&[0xCE, 0xCE, 0xCE, 0xCE])
    {
        return Encoding::Jks;
    }
    match declared {
        StoreType::Pkcs12 => Encoding::Pkcs12,
        StoreType::Pem => Encoding::Pem,
        StoreType::Detect if bytes.trim_ascii_start().starts_with(b"-----BEGIN") => Encoding::Pem,
        StoreType::Detect => Encoding::Pkcs12,
    }
}

fn identity(k: &KeyMaterial) -> Result<Identity, TlsError> {
    match k {
        KeyMaterial::File {
            location,
            store_type,
            password,
            key_password,
        } => {
            let bytes = read(location)?;
            match encoding(&bytes, store_type.value) {
                Encoding::Jks => Err(TlsError::Jks {
                    key: location.key.clone(),
                    path: location.value.clone(),
                }),
                Encoding::Pkcs12 => {
                    let password_key = password.as_ref().map_or_else(
                        || {
                            sibling(
                                &location.key,
                                "ssl.keystore.location",
                                "ssl.keystore.password",
                            )
                        },
                        |p| p.key.clone(),
                    );
                    let (key, certs) = pkcs12(&bytes, location, &password_key, password.as_ref())?;
                    let key = key.ok_or_else(|| TlsError::Invalid {
                        key: location.key.clone(),
                        message: format!("{} holds no private key", location.value.display()),
                    })?;
                    identity_of(
                        key,
                        certs,
                        &location.key,
                        &location.value.display().to_string(),
                    )
                }
                Encoding::Pem => {
                    let what = location.value.display().to_string();
                    let key_password_key = key_password.as_ref().map_or_else(
                        || sibling(&location.key, "ssl.keystore.location", "ssl.key.password"),
                        |p| p.key.clone(),
                    );
                    let key = pem_key(
                        &bytes,
                        &location.key,
                        &what,
                        &key_password_key,
                        key_password.as_ref(),
                    )?;
                    let certs = pem_certs(&bytes, &location.key, &what)?;
                    identity_of(key, certs, &location.key, &what)
                }
            }
        }
        KeyMaterial::Inline {
            chain,
            key,
            key_password,
        } => {
            let key_password_key = key_password.as_ref().map_or_else(
                || sibling(&key.key, "ssl.keystore.key", "ssl.key.password"),
                |p| p.key.clone(),
            );
            let pem = normalize_pem(&key.value.0);
            let private = pem_key(
                pem.as_bytes(),
                &key.key,
                "the inline key",
                &key_password_key,
                key_password.as_ref(),
            )?;
            let certs = pem_certs(
                normalize_pem(&chain.value).as_bytes(),
                &chain.key,
                "the inline chain",
            )?;
            identity_of(private, certs, &chain.key, "the inline chain")
        }
    }
}

/// The leaf (the first certificate, or the one matching the key) and the rest as its chain.
fn identity_of(
    key: PKey<Private>,
    mut certs: Vec<X509>,
    setting: &str,
    what: &str,
) -> Result<Identity, TlsError> {
    let leaf = certs
        .iter()
        .position(|c| c.public_key().is_ok_and(|p| p.public_eq(&key)))
        .unwrap_or(0);
    if certs.is_empty() {
        return Err(TlsError::Invalid {
            key: setting.to_string(),
            message: format!("{what} holds no certificate"),
        });
    }
    let cert = certs.remove(leaf);
    Ok(Identity {
        key,
        cert,
        chain: certs,
    })
}

/// A PKCS12 store's private key, if any, and its certificates (the key's first).
fn pkcs12(
    bytes: &[u8],
    location: &Keyed<PathBuf>,
    password_key: &str,
    password: Option<&Keyed<Secret>>,
) -> Result<(Option<PKey<Private>>, Vec<X509>), TlsError> {
    let path = location.value.display().to_string();
    let store = Pkcs12::from_der(bytes).map_err(|_| TlsError::Invalid {
        key: location.key.clone(),
        message: format!("{path} is not a PKCS12 or PEM store"),
    })?;
    let pass = password.map_or("", |p| p.value.0.as_str());
    let parsed = store.parse2(pass).map_err(|e| {
        if has_reason(&e, "mac verify failure") {
            TlsError::WrongPassword {
                key: password_key.to_string(),
                what: path.clone(),
            }
        } else {
            let mut message = format!("cannot open the PKCS12 store {path}: {}", reasons(&e));
            if has_reason(&e, "unsupported") {
                message.push_str(
                    " (it was written with legacy algorithms such as RC2 or 3DES: export it \
                     again with OpenSSL 3 or a current keytool)",
                );
            }
            TlsError::Invalid {
                key: location.key.clone(),
                message,
            }
        }
    })?;
    let mut certs: Vec<X509> = parsed.cert.into_iter().collect();
    certs.extend(parsed.ca.into_iter().flatten());
    Ok((parsed.pkey, certs))
}

fn has_reason(e: &ErrorStack, reason: &str) -> bool {
    e.errors()
        .iter()
        .any(|e| e.reason().is_some_and(|r| r.contains(reason)))
}

/// OpenSSL's reasons, without the file names and lines of its own sources.
fn reasons(e: &ErrorStack) -> String {
    let all: Vec<&str> = e.errors().iter().filter_map(|e| e.reason()).collect();
    if all.is_empty() {
        "unreadable".into()
    } else {
        all.join(", ")
    }
}

/// The PEM private key in `pem`, decrypted with the key password when it is encrypted.
fn pem_key(
    pem: &[u8],
    setting: &str,
    what: &str,
    password_key: &str,
    password: Option<&Keyed<Secret>>,
) -> Result<PKey<Private>, TlsError> {
    let encrypted = contains(pem, b"ENCRYPTED");
    if encrypted && password.is_none() {
        return Err(TlsError::Invalid {
            key: setting.to_string(),
            message: format!("the private key in {what} is encrypted: set `{password_key}`"),
        });
    }
    // A callback always: without one OpenSSL would ask for a password on the terminal.
    let result = PKey::private_key_from_pem_callback(pem, |buf| {
        let p = password.map_or(&b""[..], |p| p.value.0.as_bytes());
        let n = p.len().min(buf.len());
        buf[..n].copy_from_slice(&p[..n]);
        Ok(n)
    });
    result.map_err(|e| {
        if encrypted {
            TlsError::WrongPassword {
                key: password_key.to_string(),
                what: format!("the private key in {what}"),
            }
        } else {
            TlsError::Invalid {
                key: setting.to_string(),
                message: format!("no PEM private key in {what}: {}", reasons(&e)),
            }
        }
    })
}

fn pem_certs(pem: &[u8], setting: &str, what: &str) -> Result<Vec<X509>, TlsError> {
    X509::stack_from_pem(pem).map_err(|e| TlsError::Invalid {
        key: setting.to_string(),
        message: format!("unreadable PEM certificates in {what}: {}", reasons(&e)),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The certificates client certificates are checked against.
fn trusted(t: &TrustMaterial) -> Result<Vec<X509>, TlsError> {
    match t {
        TrustMaterial::Inline(pem) => pem_certs(
            normalize_pem(&pem.value).as_bytes(),
            &pem.key,
            "the inline certificates",
        ),
        TrustMaterial::File {
            location,
            store_type,
            password,
        } => {
            let bytes = read(location)?;
            let what = location.value.display().to_string();
            match encoding(&bytes, store_type.value) {
                Encoding::Jks => Err(TlsError::Jks {
                    key: location.key.clone(),
                    path: location.value.clone(),
                }),
                Encoding::Pem => pem_certs(&bytes, &location.key, &what),
                Encoding::Pkcs12 => {
                    let password_key = password.as_ref().map_or_else(
                        || {
                            sibling(
                                &location.key,
                                "ssl.truststore.location",
                                "ssl.truststore.password",
                            )
                        },
                        |p| p.key.clone(),
                    );
                    let (_, certs) = pkcs12(&bytes, location, &password_key, password.as_ref())?;
                    if certs.is_empty() {
                        return Err(TlsError::Invalid {
                            key: location.key.clone(),
                            message: format!("{what} holds no certificate"),
                        });
                    }
                    Ok(certs)
                }
            }
        }
    }
}

/// PEM text as a properties value may hold it, on one line: each block rewritten with its
/// header, footer and 64-column base64 on lines of their own, as OpenSSL reads PEM.
fn normalize_pem(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + "-----BEGIN ".len()..];
        let Some(label_end) = after.find("-----") else {
            break;
        };
        let label = &after[..label_end];
        let body_start = &after[label_end + 5..];
        let footer = format!("-----END {label}-----");
        let Some(body_end) = body_start.find(&footer) else {
            break;
        };
        let body: String = body_start[..body_end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        out.push_str(&format!("-----BEGIN {label}-----\n"));
        for line in body.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            out.push('\n');
        }
        out.push_str(&footer);
        out.push('\n');
        rest = &body_start[body_end + footer.len()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Origin;

    fn keyed<T>(key: &str, value: T) -> Keyed<T> {
        Keyed {
            key: key.to_string(),
            origin: Origin::Line(1),
            value,
        }
    }

    #[test]
    fn one_line_pem_is_rewrapped() {
        let one = "-----BEGIN CERTIFICATE----- QUJD REVG -----END CERTIFICATE-----";
        assert_eq!(
            normalize_pem(one),
            "-----BEGIN CERTIFICATE-----\nQUJDREVG\n-----END CERTIFICATE-----\n"
        );
    }

    #[test]
    fn jks_files_are_refused_with_the_keytool_command() {
        let dir = std::env::temp_dir().join(format!("mm2-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("server.jks");
        std::fs::write(&path, [0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]).unwrap();
        let material = KeyMaterial::File {
            location: keyed("listeners.https.ssl.keystore.location", path.clone()),
            store_type: keyed("listeners.https.ssl.keystore.type", StoreType::Pkcs12),
            password: Some(keyed(
                "listeners.https.ssl.keystore.password",
                Secret("s3cret".into()),
            )),
            key_password: None,
        };
        let err = identity(&material).err().unwrap().to_string();
        assert!(
            err.starts_with("`listeners.https.ssl.keystore.location`")
                && err.contains("keytool -importkeystore"),
            "{err}"
        );
        assert!(!err.contains("s3cret"));
        std::fs::write(&path, b"not a keystore").unwrap();
        let err = identity(&material).err().unwrap().to_string();
        assert!(err.contains("is not a PKCS12 or PEM store"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_missing_file_names_the_setting() {
        let material = KeyMaterial::File {
            location: keyed("ssl.keystore.location", PathBuf::from("/nonexistent/k.p12")),
            store_type: keyed("ssl.keystore.type", StoreType::Detect),
            password: None,
            key_password: None,
        };
        let err = identity(&material).err().unwrap().to_string();
        assert!(
            err.starts_with("`ssl.keystore.location`: cannot read /nonexistent/k.p12"),
            "{err}"
        );
    }

    #[test]
    fn sibling_keys_keep_the_prefix() {
        assert_eq!(
            sibling(
                "listeners.https.ssl.keystore.location",
                "ssl.keystore.location",
                "ssl.keystore.password"
            ),
            "listeners.https.ssl.keystore.password"
        );
    }

    #[test]
    fn encodings_are_detected() {
        assert_eq!(
            encoding(b"  -----BEGIN PRIVATE KEY", StoreType::Detect),
            Encoding::Pem
        );
        assert_eq!(encoding(&[0x30, 0x82], StoreType::Detect), Encoding::Pkcs12);
        assert_eq!(
            encoding(&[0xCE, 0xCE, 0xCE, 0xCE], StoreType::Pem),
            Encoding::Jks
        );
    }
}

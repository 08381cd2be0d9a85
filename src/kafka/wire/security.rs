//! How to reach a cluster's brokers, read from the same librdkafka settings the record path uses
//! (`kafka::props` has translated Java's keys into them): the bootstrap servers, TLS with its CA,
//! certificate and key, and SASL's mechanism and credentials. Pure, apart from reading the PEM
//! files the settings name.

use std::fmt;

use openssl::pkey::PKey;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::X509;

use super::WireError;
use crate::kafka::ClientProps;

/// The SASL mechanisms the protocol client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Plain,
    ScramSha256,
    ScramSha512,
}

impl Mechanism {
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// SASL credentials. The password is never shown.
#[derive(Clone)]
pub struct Sasl {
    pub mechanism: Mechanism,
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Sasl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sasl")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"[hidden]")
            .finish()
    }
}

/// Everything needed to open an authenticated connection to any broker of one cluster.
#[derive(Clone)]
pub struct Security {
    pub bootstrap: Vec<String>,
    pub client_id: String,
    /// `None` for plaintext.
    pub tls: Option<TlsSettings>,
    pub sasl: Option<Sasl>,
}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Security")
            .field("bootstrap", &self.bootstrap)
            .field("tls", &self.tls.is_some())
            .field("sasl", &self.sasl)
            .finish()
    }
}

/// A TLS client context and whether the broker's name is checked against its certificate.
#[derive(Clone)]
pub struct TlsSettings {
    pub connector: SslConnector,
    pub verify_hostname: bool,
}

impl Security {
    /// Reads the settings of one client. `client_id` is used when `client.id` is not set.
    pub fn from_props(props: &ClientProps, client_id: &str) -> Result<Security, WireError> {
        let bootstrap: Vec<String> = props
            .get("bootstrap.servers")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if bootstrap.is_empty() {
            return Err(WireError::Config("bootstrap.servers is not set".into()));
        }
        let protocol = props
            .get("security.protocol")
            .unwrap_or("plaintext")
            .to_ascii_lowercase();
        let (tls, sasl) = match protocol.as_str() {
            "plaintext" => (false, false),
            "ssl" => (true, false),
            "sasl_plaintext" => (false, true),
            "sasl_ssl" => (true, true),
            other => {
                return Err(WireError::Config(format!(
                    "security.protocol = {other} is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"
                )))
            }
        };
        Ok(Security {
            bootstrap,
            client_id: props.get("client.id").unwrap_or(client_id).to_string(),
            tls: tls.then(|| tls_settings(props)).transpose()?,
            sasl: sasl.then(|| sasl_settings(props)).transpose()?,
        })
    }
}

fn sasl_settings(props: &ClientProps) -> Result<Sasl, WireError> {
    let name = props
        .get("sasl.mechanism")
        .or_else(|| props.get("sasl.mechanisms"))
        .unwrap_or("GSSAPI");
    let mechanism = match name.to_ascii_uppercase().as_str() {
        "PLAIN" => Mechanism::Plain,
        "SCRAM-SHA-256" => Mechanism::ScramSha256,
        "SCRAM-SHA-512" => Mechanism::ScramSha512,
        other => {
            return Err(WireError::Config(format!(
                "sasl.mechanism = {other}: the batch path speaks PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (set copy.batches.enabled = false for the record path)"
            )))
        }
    };
    let get = |key: &str| {
        props
            .get(key)
            .map(str::to_string)
            .ok_or_else(|| WireError::Config(format!("SASL {} needs {key}", mechanism.name())))
    };
    Ok(Sasl {
        mechanism,
        username: get("sasl.username")?,
        password: get("sasl.password")?,
    })
}

fn tls_error(what: &str, e: impl fmt::Display) -> WireError {
    WireError::Config(format!("{what}: {e}"))
}

fn read(key: &str, path: &str) -> Result<Vec<u8>, WireError> {
    std::fs::read(path).map_err(|e| tls_error(&format!("{key} = {path}"), e))
}

fn tls_settings(props: &ClientProps) -> Result<TlsSettings, WireError> {
    let mut b = SslConnector::builder(SslMethod::tls_client()).map_err(|e| tls_error("TLS", e))?;
    let ca = match (props.get("ssl.ca.pem"), props.get("ssl.ca.location")) {
        (Some(pem), _) => Some(pem.as_bytes().to_vec()),
        (None, Some(path)) => Some(read("ssl.ca.location", path)?),
        (None, None) => None,
    };
    if let Some(ca) = ca {
        // The named CAs only, as librdkafka does when ssl.ca.location is set.
        let mut store =
            openssl::x509::store::X509StoreBuilder::new().map_err(|e| tls_error("TLS", e))?;
        for cert in X509::stack_from_pem(&ca).map_err(|e| tls_error("ssl.ca.location", e))? {
            store
                .add_cert(cert)
                .map_err(|e| tls_error("ssl.ca.location", e))?;
        }
        b.set_verify_cert_store(store.build())
            .map_err(|e| tls_error("ssl.ca.location", e))?;
    }
    let key_password = props.get("ssl.key.password").unwrap_or_default();
    let certificate = match (
        props.get("ssl.certificate.pem"),
        props.get("ssl.certificate.location"),
    ) {
        (Some(pem), _) => Some(pem.as_bytes().to_vec()),
        (None, Some(path)) => Some(read("ssl.certificate.location", path)?),
        (None, None) => None,
    };
    let key = match (props.get("ssl.key.pem"), props.get("ssl.key.location")) {
        (Some(pem), _) => Some(pem.as_bytes().to_vec()),
        (None, Some(path)) => Some(read("ssl.key.location", path)?),
        (None, None) => None,
    };
    if let (Some(cert), Some(key)) = (certificate, key) {
        let mut chain = X509::stack_from_pem(&cert)
            .map_err(|e| tls_error("ssl.certificate.location", e))?
            .into_iter();
        let leaf = chain.next().ok_or_else(|| {
            WireError::Config("ssl.certificate.location holds no certificate".into())
        })?;
        b.set_certificate(&leaf)
            .map_err(|e| tls_error("ssl.certificate.location", e))?;
        for c in chain {
            b.add_extra_chain_cert(c)
                .map_err(|e| tls_error("ssl.certificate.location", e))?;
        }
        let pkey = if key_password.is_empty() {
            PKey::private_key_from_pem(&key)
        } else {
            PKey::private_key_from_pem_passphrase(&key, key_password.as_bytes())
        }
        .map_err(|_| {
            WireError::Config(
                "ssl.key.location: the key cannot be read (is ssl.key.password right?)".into(),
            )
        })?;
        b.set_private_key(&pkey)
            .map_err(|e| tls_error("ssl.key.location", e))?;
    }
    if let Some(path) = props.get("ssl.keystore.location") {
        let der = read("ssl.keystore.location", path)?;
        let store = openssl::pkcs12::Pkcs12::from_der(&der)
            .and_then(|p| p.parse2(props.get("ssl.keystore.password").unwrap_or_default()))
            .map_err(|_| WireError::Config("ssl.keystore.location: the PKCS12 keystore cannot be opened (is ssl.keystore.password right?)".into()))?;
        if let (Some(cert), Some(pkey)) = (store.cert, store.pkey) {
            b.set_certificate(&cert)
                .map_err(|e| tls_error("ssl.keystore.location", e))?;
            b.set_private_key(&pkey)
                .map_err(|e| tls_error("ssl.keystore.location", e))?;
        }
        for c in store.ca.into_iter().flatten() {
            b.add_extra_chain_cert(c)
                .map_err(|e| tls_error("ssl.keystore.location", e))?;
        }
    }
    let verify = !props
        .get("enable.ssl.certificate.verification")
        .is_some_and(|v| v.eq_ignore_ascii_case("false"));
    b.set_verify(if verify {
        SslVerifyMode::PEER
    } else {
        SslVerifyMode::NONE
    });
    // librdkafka checks the broker's name unless told `none`, as Java does.
    let verify_hostname = verify
        && !props
            .get("ssl.endpoint.identification.algorithm")
            .is_some_and(|v| v.eq_ignore_ascii_case("none") || v.is_empty());
    Ok(TlsSettings {
        connector: b.build(),
        verify_hostname,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> ClientProps {
        let mut p = ClientProps::default();
        for (k, v) in pairs {
            p.set(k, *v, false);
        }
        p
    }

    #[test]
    fn plaintext_by_default_and_bootstrap_split() {
        let s = Security::from_props(&props(&[("bootstrap.servers", "a:1, b:2")]), "me").unwrap();
        assert_eq!(s.bootstrap, ["a:1", "b:2"]);
        assert!(s.tls.is_none() && s.sasl.is_none());
        assert_eq!(s.client_id, "me");
    }

    #[test]
    fn scram_needs_credentials_and_hides_the_password() {
        let p = props(&[
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "s3cret"),
        ]);
        let s = Security::from_props(&p, "me").unwrap();
        assert_eq!(s.sasl.as_ref().unwrap().mechanism, Mechanism::ScramSha512);
        assert!(!format!("{s:?}").contains("s3cret"));
        let missing = props(&[
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SASL_PLAINTEXT"),
            ("sasl.mechanism", "PLAIN"),
        ]);
        let e = Security::from_props(&missing, "me")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sasl.username"), "{e}");
    }

    #[test]
    fn unknown_protocols_and_mechanisms_are_named() {
        let bad = props(&[("bootstrap.servers", "a:1"), ("security.protocol", "tls")]);
        assert!(Security::from_props(&bad, "me")
            .unwrap_err()
            .to_string()
            .contains("tls"));
        let gssapi = props(&[
            ("bootstrap.servers", "a:1"),
            ("security.protocol", "SASL_SSL"),
        ]);
        let e = Security::from_props(&gssapi, "me").unwrap_err().to_string();
        assert!(e.contains("GSSAPI"), "{e}");
    }
}

//! Java client settings → librdkafka settings. Keys with the same meaning pass through; Java-only
//! keys are translated where librdkafka has an equivalent (`sasl.jaas.config` for PLAIN and
//! SCRAM, PEM trust and key stores, buffer sizes) and rejected by name where it has none (JKS
//! stores, Java plugin classes). librdkafka itself then checks every key and value, without
//! connecting, so a bad setting is caught when the configuration is loaded.

use std::collections::BTreeMap;

use rdkafka::ClientConfig;

use crate::config::{ConfigError, Props, Setting, Warning};

/// A librdkafka configuration with the origin of every key, for messages and redaction.
#[derive(Debug, Clone, Default)]
pub struct ClientProps {
    entries: BTreeMap<String, (String, bool)>,
}

impl ClientProps {
    pub fn set(&mut self, key: &str, value: impl Into<String>, sensitive: bool) {
        self.entries
            .insert(key.to_string(), (value.into(), sensitive));
    }

    /// Sets a key unless the operator set it.
    pub fn set_default(&mut self, key: &str, value: impl Into<String>) {
        self.entries
            .entry(key.to_string())
            .or_insert_with(|| (value.into(), false));
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(|(v, _)| v.as_str())
    }

    /// The rdkafka configuration.
    pub fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        for (k, (v, _)) in &self.entries {
            c.set(k, v);
        }
        c
    }

    /// `key = value` lines with secrets hidden.
    pub fn redacted(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|(k, (v, sensitive))| {
                let shown = if *sensitive || is_librdkafka_secret(k) {
                    "[hidden]".to_string()
                } else {
                    v.clone()
                };
                (k.clone(), shown)
            })
            .collect()
    }
}

fn is_librdkafka_secret(key: &str) -> bool {
    matches!(
        key,
        "sasl.password"
            | "ssl.key.password"
            | "ssl.keystore.password"
            | "ssl.key.pem"
            | "sasl.oauthbearer.client.secret"
    )
}

/// Same name, same meaning in both clients' key sets: passed through.
const RENAMED: &[(&str, &str)] = &[
    ("fetch.max.wait.ms", "fetch.wait.max.ms"),
    ("max.request.size", "message.max.bytes"),
    ("receive.buffer.bytes", "socket.receive.buffer.bytes"),
    ("send.buffer.bytes", "socket.send.buffer.bytes"),
    ("ssl.truststore.certificates", "ssl.ca.pem"),
    ("ssl.keystore.certificate.chain", "ssl.certificate.pem"),
    ("ssl.keystore.key", "ssl.key.pem"),
];

/// Java-only keys with no librdkafka equivalent and no effect on what is replicated: dropped,
/// with a warning when they change behaviour in Java.
const DROPPED_SILENTLY: &[&str] = &[
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "ssl.truststore.type",
    "ssl.keystore.type",
    "ssl.truststore.password",
    // A server's setting (Connect's REST listener reads it from the same keys), which Java
    // clients ignore too.
    "ssl.client.auth",
    "auto.include.jmx.reporter",
    "enable.metrics.push",
];

const DROPPED_WITH_WARNING: &[&str] = &[
    "max.block.ms",
    "max.poll.records",
    "default.api.timeout.ms",
    "exclude.internal.topics",
    "client.dns.lookup",
    "metric.reporters",
    "metrics.num.samples",
    "metrics.recording.level",
    "metrics.sample.window.ms",
    "ssl.protocol",
    "ssl.enabled.protocols",
    "ssl.provider",
    "ssl.keymanager.algorithm",
    "ssl.trustmanager.algorithm",
    "ssl.secure.random.implementation",
    "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.ticket.renew.window.factor",
    "sasl.kerberos.ticket.renew.jitter",
    "sasl.kerberos.min.time.before.relogin",
    "sasl.login.refresh.window.factor",
    "sasl.login.refresh.window.jitter",
    "sasl.login.refresh.min.period.seconds",
    "sasl.login.refresh.buffer.seconds",
    "sasl.login.connect.timeout.ms",
    "sasl.login.read.timeout.ms",
    "sasl.login.retry.backoff.ms",
    "sasl.login.retry.backoff.max.ms",
];

/// Java plugin classes: they would change behaviour, and cannot be loaded here.
const REJECTED: &[(&str, &str)] = &[
    ("interceptor.classes", "Java interceptors cannot be loaded"),
    ("sasl.client.callback.handler.class", "Java callback handlers cannot be loaded"),
    ("sasl.login.callback.handler.class", "Java callback handlers cannot be loaded; use librdkafka's sasl.oauthbearer.* settings for OAUTHBEARER"),
    ("sasl.login.class", "Java login classes cannot be loaded"),
    ("ssl.engine.factory.class", "Java SSL engine factories cannot be loaded"),
    ("partitioner.class", "replicated records keep their source partition; no partitioner is used"),
];

/// Translates one client's Java settings. `label` names the client in messages.
pub fn translate(
    props: &Props,
    label: &str,
) -> Result<(ClientProps, Vec<Warning>), Vec<ConfigError>> {
    let mut t = Translation {
        out: ClientProps::default(),
        warnings: Vec::new(),
        errors: Vec::new(),
        label,
    };
    for (key, s) in props {
        t.one(key, s, props);
    }
    if let Some(s) = props.get("ssl.truststore.location") {
        t.truststore(s, props);
    }
    if let Some(s) = props.get("ssl.keystore.location") {
        t.keystore(s, props);
    }
    if t.errors.is_empty() {
        t.check_with_librdkafka(props);
    }
    if t.errors.is_empty() {
        Ok((t.out, t.warnings))
    } else {
        Err(t.errors)
    }
}

struct Translation<'a> {
    out: ClientProps,
    warnings: Vec<Warning>,
    errors: Vec<ConfigError>,
    label: &'a str,
}

impl Translation<'_> {
    fn error(&mut self, s: &Setting, message: impl Into<String>) {
        let message = format!("{}: {}", self.label, message.into());
        self.errors
            .push(ConfigError::invalid(&s.key, &s.origin, message));
    }

    fn warn(&mut self, s: &Setting, message: impl Into<String>) {
        let message = format!("{}: {}", self.label, message.into());
        self.warnings.push(Warning::new(&s.key, &s.origin, message));
    }

    fn one(&mut self, key: &str, s: &Setting, all: &Props) {
        let v = s.value.as_str();
        if DROPPED_SILENTLY.contains(&key)
            || key == "ssl.truststore.location"
            || key == "ssl.keystore.location"
        {
            return;
        }
        if DROPPED_WITH_WARNING.contains(&key) {
            return self.warn(
                s,
                "Java client setting with no librdkafka equivalent; ignored",
            );
        }
        if let Some((_, why)) = REJECTED.iter().find(|(k, _)| *k == key) {
            return self.error(s, format!("not supported: {why}"));
        }
        if let Some((_, to)) = RENAMED.iter().find(|(from, _)| *from == key) {
            return self.out.set(to, v, s.sensitive);
        }
        match key {
            "sasl.jaas.config" => self.jaas(s, all),
            "buffer.memory" => match v.parse::<u64>() {
                Ok(bytes) => self.out.set(
                    "queue.buffering.max.kbytes",
                    (bytes / 1024).max(1).to_string(),
                    false,
                ),
                Err(_) => self.error(s, format!("expected a number of bytes, got `{v}`")),
            },
            "ssl.endpoint.identification.algorithm" => {
                let alg = if v.is_empty() { "none" } else { v };
                self.out.set(key, alg, false);
            }
            "partition.assignment.strategy" => self.assignors(s),
            _ => self.out.set(key, v, s.sensitive),
        }
    }

    /// `sasl.jaas.config` for PLAIN and SCRAM carries the username and password librdkafka wants.
    fn jaas(&mut self, s: &Setting, all: &Props) {
        let Some(jaas) = Jaas::parse(&s.value) else {
            return self.error(s, "cannot parse the JAAS line; expected `<LoginModule> required username=\"...\" password=\"...\";`");
        };
        let mechanism = all
            .get("sasl.mechanism")
            .map(|m| m.value.to_ascii_uppercase());
        match jaas.module.rsplit('.').next().unwrap_or("") {
            "PlainLoginModule" => {
                if mechanism.is_none() {
                    self.out.set("sasl.mechanism", "PLAIN", false);
                }
            }
            "ScramLoginModule" => {
                if !mechanism.as_deref().is_some_and(|m| m.starts_with("SCRAM-")) {
                    return self.error(s, "ScramLoginModule needs sasl.mechanism = SCRAM-SHA-256 or SCRAM-SHA-512");
                }
            }
            other => {
                return self.error(
                    s,
                    format!("login module `{other}` is not supported; use PlainLoginModule or ScramLoginModule (or librdkafka's own sasl.* settings)"),
                )
            }
        }
        match (jaas.options.get("username"), jaas.options.get("password")) {
            (Some(u), Some(p)) => {
                self.out.set("sasl.username", u.as_str(), false);
                self.out.set("sasl.password", p.as_str(), true);
            }
            _ => self.error(s, "the JAAS line needs both username and password"),
        }
    }

    fn assignors(&mut self, s: &Setting) {
        let mut names = Vec::new();
        for class in s.value.split(',').map(str::trim).filter(|c| !c.is_empty()) {
            let name = match class.rsplit('.').next().unwrap_or(class) {
                "RangeAssignor" | "range" => "range",
                "RoundRobinAssignor" | "roundrobin" => "roundrobin",
                "CooperativeStickyAssignor" | "cooperative-sticky" => "cooperative-sticky",
                other => {
                    return self.error(
                        s,
                        format!("assignor `{other}` has no librdkafka equivalent"),
                    )
                }
            };
            names.push(name);
        }
        self.out
            .set("partition.assignment.strategy", names.join(","), false);
    }

    /// A PEM truststore becomes `ssl.ca.location`; JKS and PKCS12 truststores are rejected.
    fn truststore(&mut self, s: &Setting, all: &Props) {
        let declared = all
            .get("ssl.truststore.type")
            .map(|t| t.value.to_ascii_uppercase());
        let pem = match declared.as_deref() {
            Some("PEM") => true,
            // Java's default type is JKS; accept a PEM file anyway when its content says so.
            None => std::fs::read(&s.value)
                .map(|b| b.windows(10).any(|w| w == b"-----BEGIN"))
                .unwrap_or(false),
            Some(_) => false,
        };
        if pem {
            self.out.set("ssl.ca.location", s.value.as_str(), false);
        } else {
            let kind = declared.unwrap_or_else(|| "JKS".into());
            self.error(s, format!("{kind} truststores are not supported by librdkafka; convert it to PEM (keytool -exportcert -rfc) and set ssl.truststore.type = PEM"));
        }
    }

    /// A PEM keystore holds the certificate and key; a PKCS12 one is read by librdkafka itself.
    fn keystore(&mut self, s: &Setting, all: &Props) {
        let declared = all
            .get("ssl.keystore.type")
            .map(|t| t.value.to_ascii_uppercase());
        match declared.as_deref() {
            Some("PEM") => {
                self.out
                    .set("ssl.certificate.location", s.value.as_str(), false);
                self.out.set("ssl.key.location", s.value.as_str(), false);
            }
            Some("PKCS12") => self
                .out
                .set("ssl.keystore.location", s.value.as_str(), false),
            other => {
                let kind = other.unwrap_or("JKS");
                self.error(s, format!("{kind} keystores are not supported by librdkafka; use ssl.keystore.type = PKCS12 or PEM"));
            }
        }
    }

    /// Lets librdkafka check every key and value, one at a time (no connection is made).
    fn check_with_librdkafka(&mut self, props: &Props) {
        let entries: Vec<(String, String)> = self
            .out
            .entries
            .iter()
            .map(|(k, (v, _))| (k.clone(), v.clone()))
            .collect();
        for (k, v) in entries {
            let mut probe = ClientConfig::new();
            probe.set(&k, &v);
            let Err(rdkafka::error::KafkaError::ClientConfig(_, why, _, _)) =
                probe.create_native_config()
            else {
                continue;
            };
            let shown = if is_librdkafka_secret(&k) {
                "[hidden]"
            } else {
                v.as_str()
            };
            // Point at the Java key the operator wrote, if this one was renamed from it.
            let source = props
                .get(&k)
                .or_else(|| {
                    RENAMED
                        .iter()
                        .find(|(_, to)| *to == k)
                        .and_then(|(from, _)| props.get(*from))
                })
                .cloned()
                .unwrap_or_else(|| Setting::default_for(&k, &v));
            self.error(
                &source,
                format!("librdkafka rejects `{k} = {shown}`: {why}"),
            );
        }
    }
}

/// A parsed JAAS line: `module flag key=value ...;`.
struct Jaas {
    module: String,
    options: BTreeMap<String, String>,
}

impl Jaas {
    fn parse(line: &str) -> Option<Jaas> {
        let line = line.trim().trim_end_matches(';').trim();
        let mut chars = line.chars().peekable();
        let mut word = || -> Option<String> {
            while chars.peek().is_some_and(|c| c.is_whitespace()) {
                chars.next();
            }
            let w: String = std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect();
            (!w.is_empty()).then_some(w)
        };
        let module = word()?;
        let flag = word()?;
        if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str()) {
            return None;
        }
        let rest: String = chars.collect();
        Some(Jaas {
            module,
            options: parse_options(&rest)?,
        })
    }
}

/// `key="quoted value" key2=bare` pairs; quoted values may contain `\"`.
fn parse_options(s: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        if chars.next() != Some('=') || key.is_empty() {
            return None;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '\\' => value.push(chars.next()?),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect();
        }
        out.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                (
                    k.to_string(),
                    Setting::new(*k, *v, crate::config::Origin::Line(i + 1)),
                )
            })
            .collect()
    }

    fn ok(pairs: &[(&str, &str)]) -> ClientProps {
        translate(&props(pairs), "test").expect("translates").0
    }

    fn err(pairs: &[(&str, &str)]) -> String {
        let errs = translate(&props(pairs), "test").unwrap_err();
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn jaas_plain_and_scram() {
        let c = ok(&[
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"p@ss \\\"w\\\"\";"),
        ]);
        assert_eq!(c.get("sasl.username"), Some("alice"));
        assert_eq!(c.get("sasl.password"), Some("p@ss \"w\""));
        let shown = c.redacted();
        assert!(shown
            .iter()
            .any(|(k, v)| k == "sasl.password" && v == "[hidden]"));
        let c = ok(&[("sasl.jaas.config", "org.apache.kafka.common.security.plain.PlainLoginModule required username=u password=p;")]);
        assert_eq!(c.get("sasl.mechanism"), Some("PLAIN"));
        assert_eq!(c.get("sasl.password"), Some("p"));
    }

    #[test]
    fn unsupported_jaas_modules_are_named() {
        let e = err(&[(
            "sasl.jaas.config",
            "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true;",
        )]);
        assert!(
            e.contains("Krb5LoginModule") && e.contains("`sasl.jaas.config` (line 1)"),
            "{e}"
        );
        let e = err(&[("sasl.mechanism", "PLAIN"), ("sasl.jaas.config", "org.apache.kafka.common.security.scram.ScramLoginModule required username=a password=b;")]);
        assert!(e.contains("SCRAM-SHA-256"), "{e}");
    }

    #[test]
    fn truststores() {
        let e = err(&[
            ("ssl.truststore.location", "/etc/kafka/truststore.jks"),
            ("ssl.truststore.password", "x"),
        ]);
        assert!(e.contains("JKS truststores are not supported"), "{e}");
        let c = ok(&[
            ("ssl.truststore.location", "/etc/ca.pem"),
            ("ssl.truststore.type", "PEM"),
        ]);
        assert_eq!(c.get("ssl.ca.location"), Some("/etc/ca.pem"));
        let c = ok(&[
            ("ssl.keystore.location", "/etc/client.p12"),
            ("ssl.keystore.type", "PKCS12"),
            ("ssl.keystore.password", "pw"),
        ]);
        assert_eq!(c.get("ssl.keystore.location"), Some("/etc/client.p12"));
    }

    #[test]
    fn java_keys_are_translated() {
        let c = ok(&[
            ("fetch.max.wait.ms", "100"),
            ("buffer.memory", "33554432"),
            ("max.request.size", "2000000"),
            ("ssl.endpoint.identification.algorithm", ""),
        ]);
        assert_eq!(c.get("fetch.wait.max.ms"), Some("100"));
        assert_eq!(c.get("queue.buffering.max.kbytes"), Some("32768"));
        assert_eq!(c.get("message.max.bytes"), Some("2000000"));
        assert_eq!(c.get("ssl.endpoint.identification.algorithm"), Some("none"));
    }

    #[test]
    fn librdkafka_rejects_unknown_keys_and_bad_values() {
        let e = err(&[("linger.ms", "soon")]);
        assert!(
            e.contains("linger.ms") && e.contains("librdkafka rejects"),
            "{e}"
        );
        let e = err(&[("no.such.setting", "1")]);
        assert!(e.contains("no.such.setting"), "{e}");
        let e = err(&[("interceptor.classes", "com.x.Y")]);
        assert!(e.contains("interceptors"), "{e}");
    }

    #[test]
    fn ignored_java_keys_warn() {
        let (_, w) = translate(
            &props(&[("max.poll.records", "500"), ("key.deserializer", "x")]),
            "test",
        )
        .unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].to_string().contains("max.poll.records"));
    }

    /// The REST listener's un-prefixed TLS keys reach the clients too, as in Java.
    #[test]
    fn the_server_side_client_auth_key_is_dropped() {
        let c = ok(&[("ssl.client.auth", "required")]);
        assert_eq!(c.get("ssl.client.auth"), None);
    }
}

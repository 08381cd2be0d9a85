//! Replication between clusters that require TLS and SASL, as cloud clusters do, configured
//! with Java's client keys in mm2.properties (`security.protocol`, `sasl.jaas.config`, PEM
//! truststores and keystores), which connect-mirror-maker translates for librdkafka. The
//! clusters are scripts/test.sh's Kafka clusters, on Kafka's own listeners:
//! - source A: SSL with a client certificate required (mutual TLS), as Amazon MSK's TLS
//!   authentication; the client key is encrypted;
//! - target B: SASL_SSL with SCRAM-SHA-512.
//!
//! PLAIN goes through the same translation (`sasl.jaas.config` to `sasl.username` and
//! `sasl.password`) and is covered by unit tests only.

mod common;

use std::fs::File;
use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use common::*;

/// A password B refuses.
const WRONG_PASSWORD: &str = "wrong-pass-93be04";

/// The secured listeners of clusters A and B, the test PKI and credentials of scripts/test.sh,
/// with the test's own clients set up for them (`secure`), and aliases of this test's own.
struct Clusters {
    /// A's SSL listener.
    a: String,
    /// B's SASL_SSL listener.
    b: String,
    pki: PathBuf,
    key_password: String,
    user: String,
    password: String,
    aliases: (String, String),
}

impl Clusters {
    fn start() -> Clusters {
        let pki = PathBuf::from(env_var("TEST_KAFKA_PKI"));
        let c = Clusters {
            a: env_var("TEST_SOURCE_SSL_BOOTSTRAP"),
            b: env_var("TEST_TARGET_SASL_BOOTSTRAP"),
            pki,
            key_password: env_var("TEST_CLIENT_KEY_PASSWORD"),
            user: env_var("TEST_SCRAM_USER"),
            password: env_var("TEST_SCRAM_PASSWORD"),
            aliases: aliases(),
        };
        let (ca, client) = (c.path("ca.pem"), c.path("client.pem"));
        secure(
            &c.a,
            &[
                ("security.protocol", "SSL"),
                ("ssl.ca.location", &ca),
                ("ssl.certificate.location", &client),
                ("ssl.key.location", &client),
                ("ssl.key.password", &c.key_password),
            ],
        );
        secure(
            &c.b,
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", &c.user),
                ("sasl.password", &c.password),
                ("ssl.ca.location", &ca),
            ],
        );
        c
    }

    fn path(&self, name: &str) -> String {
        self.pki.join(name).display().to_string()
    }

    /// The secrets that must never be printed.
    fn secrets(&self) -> [&str; 3] {
        [&self.key_password, &self.password, WRONG_PASSWORD]
    }

    fn assert_no_secret(&self, text: &str, what: &str) {
        for secret in self.secrets() {
            assert!(!text.contains(secret), "{what} shows a password");
        }
    }

    /// mm2.properties for A->B in Java's terms, B's password being `b_password`.
    fn config(&self, topic: &str, group: &str, b_password: &str, port: u16) -> TempFile {
        let (a, b) = &self.aliases;
        let text = format!(
            "clusters = {a}, {b}\n\
             {a}.bootstrap.servers = {a_servers}\n\
             {b}.bootstrap.servers = {b_servers}\n\
             {a}->{b}.enabled = true\n\
             {a}->{b}.topics = {topic}\n\
             {a}->{b}.groups = {group}\n\
             {a}.security.protocol = SSL\n\
             {a}.ssl.key.password = {key_password}\n\
             {a}.ssl.truststore.type = PEM\n\
             {a}.ssl.truststore.location = {ca}\n\
             {a}.ssl.keystore.type = PEM\n\
             {a}.ssl.keystore.location = {client}\n\
             {b}.security.protocol = SASL_SSL\n\
             {b}.sasl.mechanism = SCRAM-SHA-512\n\
             {b}.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{b_password}\";\n\
             {b}.ssl.truststore.location = {ca}\n\
             emit.heartbeats.interval.seconds = 1\n\
             emit.checkpoints.interval.seconds = 1\n\
             sync.group.offsets.enabled = true\n\
             sync.group.offsets.interval.seconds = 1\n\
             refresh.groups.interval.seconds = 1\n\
             {settings}\
             {a}.consumer.session.timeout.ms = 6000\n\
             listeners = http://127.0.0.1:{port}\n",
            a_servers = self.a,
            b_servers = self.b,
            key_password = self.key_password,
            user = self.user,
            ca = self.path("ca.pem"),
            client = self.path("client.pem"),
            settings = one_broker_settings(b),
        );
        TempFile::new("mm2.properties", &text)
    }
}

/// connect-mirror-maker or connect-distributed on `config`, logging at debug level into a file.
struct Logged {
    child: Child,
    log: PathBuf,
}

impl Logged {
    fn start(binary: &str, config: &TempFile) -> Logged {
        let log = config.dir().join("process.log");
        let child = Launch::new(binary)
            .arg(&config.path)
            .log_level("debug")
            .env("NO_COLOR", "1")
            .spawn_to(
                File::create(config.dir().join("process.out")).unwrap(),
                File::create(&log).unwrap(),
            );
        Logged { child, log }
    }

    fn mirror_maker(config: &TempFile) -> Logged {
        Logged::start(env!("CARGO_BIN_EXE_connect-mirror-maker"), config)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for `cond`; on a timeout, fails with the end of the process's log.
    fn expect(&self, what: &str, timeout: Duration, cond: impl FnMut() -> bool) {
        if !wait_until(timeout, cond) {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            panic!(
                "{what}: not within {timeout:?}; the log ends:\n{}",
                tail.join("\n")
            );
        }
    }

    fn assert_running(&mut self) {
        assert!(
            matches!(self.child.try_wait(), Ok(None)),
            "the process exited: {}",
            self.log()
        );
    }

    /// SIGTERM; the process must exit 0 within 60 s. Returns its log and standard output.
    fn stop(mut self) -> String {
        let status = terminate(&mut self.child, Duration::from_secs(60));
        let status = status.expect("the process did not stop on SIGTERM");
        assert!(status.success(), "exit status {status}: {}", self.log());
        let out = std::fs::read_to_string(self.log.with_file_name("process.out")).unwrap();
        self.log() + &out
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replicates_records_offsets_and_heartbeats_over_tls_and_sasl() {
    common::require_brokers!();
    let clusters = Clusters::start();
    let (a, b) = (clusters.a.clone(), clusters.b.clone());
    let (a_alias, b_alias) = &clusters.aliases;
    let topic = unique("orders");
    create_topic(&a, &topic, 2).await;
    let records = sample_records(60, 2);
    produce(&a, &topic, &records).await;
    let group = unique("billing");
    commit(&a, &group, &topic, 0, 20);

    let port = free_port();
    let config = clusters.config(&topic, &group, &clusters.password, port);
    let mirror = Logged::mirror_maker(&config);

    let remote = format!("{a_alias}.{topic}");
    mirror.expect("the remote topic", Duration::from_secs(60), || {
        topic_exists(&b, &remote)
    });
    let got = read_exactly(&b, &remote, 2, records.len(), Duration::from_secs(90));
    assert_same_partitions(&got, &records, 2);
    // Offset 20 on A translates to at most 20 on B (at least 1: the first record's sync).
    mirror.expect(
        "the group's offset on B",
        Duration::from_secs(60),
        || matches!(committed(&b, &group, &remote, 0), Some(o) if (1..=20).contains(&o)),
    );
    // A heartbeat of this flow: its key names both aliases.
    mirror.expect("heartbeats on B", Duration::from_secs(30), || {
        topic_exists(&b, "heartbeats")
            && read_topic(&b, "heartbeats").iter().any(|(key, _)| {
                let key = String::from_utf8_lossy(key.as_deref().unwrap_or_default());
                key.contains(a_alias.as_str()) && key.contains(b_alias.as_str())
            })
    });

    // The REST API shows the flow's client settings with their secrets hidden.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let (status, body) = http_get(
        addr,
        &format!(
            "{}/config",
            connector_path(&format!("{a_alias}->{b_alias}.MirrorSourceConnector"))
        ),
    );
    assert_eq!(status, 200, "{body}");
    clusters.assert_no_secret(&body, "the connector config");
    assert!(body.contains("[hidden]"), "{body}");

    clusters.assert_no_secret(&mirror.stop(), "the debug log or standard output");
}

/// A wrong password is reported naming the client and the cause, the process keeps retrying
/// without writing anything, and SIGTERM still stops it cleanly.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_reported_naming_the_client() {
    common::require_brokers!();
    let clusters = Clusters::start();
    let a = clusters.a.clone();
    let (a_alias, b_alias) = &clusters.aliases;
    let topic = unique("orders");
    create_topic(&a, &topic, 1).await;
    produce(&a, &topic, &sample_records(5, 1)).await;

    let config = clusters.config(&topic, "none", WRONG_PASSWORD, free_port());
    let mut mirror = Logged::mirror_maker(&config);
    mirror.expect("the authentication error", Duration::from_secs(60), || {
        // One line names the cause and the client: here the flow's worker group on B.
        mirror.log().lines().any(|l| {
            l.contains("SASL authentication error")
                && l.contains("invalid credentials")
                && l.contains(&format!("client=\"{a_alias}-mm2|"))
        })
    });
    mirror.expect("a retry", Duration::from_secs(60), || {
        mirror.log().contains(&format!(
            "cannot join the worker group {a_alias}-mm2 on {b_alias}"
        ))
    });
    mirror.assert_running();
    clusters.assert_no_secret(&mirror.stop(), "the debug log or standard output");
    assert!(
        !topics(&clusters.b).contains_key(&format!("{a_alias}.{topic}")),
        "nothing may be written without authenticating"
    );
}

/// connect-distributed with its worker group, internal topics and exactly-once source tasks
/// (transactions) on a SASL_SSL cluster, configured as a Java worker is: security keys at the
/// top level for the worker's own clients, and again under `producer.` and `consumer.` for the
/// tasks'.
#[tokio::test(flavor = "multi_thread")]
async fn connect_distributed_runs_exactly_once_tasks_over_sasl_ssl() {
    common::require_brokers!();
    let clusters = Clusters::start();
    let b = clusters.b.clone();
    let id = unique("secure-connect");
    let port = free_port();
    let security = format!(
        "security.protocol=SASL_SSL\n\
         sasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{}\" password=\"{}\";\n\
         ssl.truststore.location={}\n",
        clusters.user,
        clusters.password,
        clusters.path("ca.pem")
    );
    let prefixed = |prefix: &str| {
        security
            .lines()
            .map(|l| format!("{prefix}{l}\n"))
            .collect::<String>()
    };
    let worker = TempFile::new(
        "worker.properties",
        &format!(
            "bootstrap.servers={b}\ngroup.id={id}\n{security}{}{}\
             exactly.once.source.support=enabled\n\
             key.converter=org.apache.kafka.connect.storage.StringConverter\n\
             value.converter=org.apache.kafka.connect.storage.StringConverter\n\
             config.storage.topic={id}-configs\noffset.storage.topic={id}-offsets\n\
             status.storage.topic={id}-status\n\
             config.storage.replication.factor=1\noffset.storage.replication.factor=1\n\
             status.storage.replication.factor=1\n\
             offset.flush.interval.ms=500\nsession.timeout.ms=6000\nheartbeat.interval.ms=1000\n\
             listeners=http://127.0.0.1:{port}\n",
            prefixed("producer."),
            prefixed("consumer."),
        ),
    );
    let process = Logged::start(env!("CARGO_BIN_EXE_connect-distributed"), &worker);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    process.expect("the REST API", Duration::from_secs(60), || {
        std::net::TcpStream::connect(addr).is_ok()
    });

    let input = worker.dir().join("in.txt");
    let lines: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
    std::fs::write(&input, lines[..10].join("\n") + "\n").unwrap();
    // Connect does not create a source connector's topic unless told to (KIP-158).
    let topic = format!("{id}-lines");
    create_topic(&b, &topic, 1).await;
    let body = serde_json::json!({"name": "lines", "config": {
        "connector.class": "FileStreamSource", "file": input.display().to_string(),
        "topic": topic}});
    let (status, text) = http(addr, "POST", "/connectors", Some(&body.to_string()));
    assert_eq!(status, 201, "{text}");
    process.expect("the first lines", Duration::from_secs(60), || {
        topics(&b).contains_key(&topic)
            && read(&b, &topic, 1, 10, Duration::from_secs(1)).len() == 10
    });
    // Lines appended later follow.
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let got = read_exactly(&b, &topic, 1, 20, Duration::from_secs(60));
    let values: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap()).unwrap())
        .collect();
    assert_eq!(values, lines);

    clusters.assert_no_secret(&process.stop(), "the worker's debug log or standard output");
}

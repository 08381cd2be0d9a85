//! Replication between clusters that require TLS and SASL, as cloud clusters do, configured
//! with Java's client keys in mm2.properties (`security.protocol`, `sasl.jaas.config`, PEM
//! truststores and keystores), which connect-mirror-maker translates for librdkafka.
//!
//! tansu 0.6 checks SCRAM credentials but does not serve TLS (its `--cert` is parsed and never
//! used) and offers no PLAIN, so each broker sits behind socat, which terminates TLS and
//! forwards to it:
//! - source A: SSL with a client certificate (mutual TLS), as Amazon MSK's TLS authentication;
//! - target B: SASL_SSL with SCRAM-SHA-512 (a sqlite-backed broker, so the user created before
//!   authentication is switched on survives the restart).
//!
//! PLAIN goes through the same translation (`sasl.jaas.config` to `sasl.username` and
//! `sasl.password`) and is covered by unit tests only.

mod common;

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;

/// The password of the client key (`A.ssl.key.password`).
const KEY_PASSWORD: &str = "key-pass-1c5e9b";
const B_PASSWORD: &str = "scram-pass-7f3a2d";
/// A password B refuses.
const WRONG_PASSWORD: &str = "wrong-pass-93be04";

/// A test CA, a server certificate for 127.0.0.1 and a client certificate, made with the
/// openssl command. `server.pem` and `client.pem` hold certificate and key together, as a Java
/// PEM keystore does; the client key is encrypted with `KEY_PASSWORD`.
struct Pki {
    dir: TempFile,
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki {
            dir: TempFile::new("san.ext", "subjectAltName=IP:127.0.0.1,DNS:localhost\n"),
        };
        pki.run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=mm2-test-ca",
        ]);
        for (name, cn) in [("server", "localhost"), ("client", "mm2-client")] {
            let (key, csr, crt) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
            );
            pki.run(&[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={cn}"),
            ]);
            pki.run(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ]);
            let key = if name == "client" {
                let pass = format!("pass:{KEY_PASSWORD}");
                pki.run(&[
                    "pkcs8",
                    "-topk8",
                    "-in",
                    &key,
                    "-out",
                    "client.enc",
                    "-passout",
                    &pass,
                ]);
                "client.enc".to_string()
            } else {
                key
            };
            let pem = [
                std::fs::read_to_string(pki.path(&crt)).unwrap(),
                std::fs::read_to_string(pki.path(&key)).unwrap(),
            ]
            .concat();
            std::fs::write(pki.path(&format!("{name}.pem")), pem).unwrap();
        }
        pki
    }

    fn run(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(self.dir.dir())
            .output()
            .expect("runs openssl (Debian package openssl)");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    }

    fn path(&self, name: &str) -> String {
        self.dir.dir().join(name).display().to_string()
    }
}

/// socat terminating TLS on `port` and forwarding each connection to a broker on `upstream`;
/// with `client_certs`, a client must present a certificate signed by the test CA. socat forks
/// a child per connection, so it runs in a process group of its own, stopped as a whole.
struct TlsProxy {
    child: Child,
}

impl TlsProxy {
    fn start(pki: &Pki, port: u16, upstream: u16, client_certs: bool) -> TlsProxy {
        use std::os::unix::process::CommandExt;
        let listen = format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},cafile={},verify={}",
            pki.path("server.pem"),
            pki.path("ca.pem"),
            u8::from(client_certs)
        );
        let log = File::create(pki.path(&format!("socat-{port}.log"))).unwrap();
        let mut child = Command::new("socat")
            .args(["-d", "-d"])
            .args([listen, format!("TCP:127.0.0.1:{upstream}")])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("runs socat (Debian package socat)");
        wait_for(Duration::from_secs(10), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        // Not another process that took the port first.
        assert!(
            matches!(child.try_wait(), Ok(None)),
            "socat on {port} exited: {}",
            std::fs::read_to_string(pki.path(&format!("socat-{port}.log"))).unwrap_or_default()
        );
        TlsProxy { child }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// The two secured clusters, with the test's own clients set up for them (`secure`).
struct Clusters {
    pki: Pki,
    a: OwnBroker,
    b: DurableBroker,
    _proxies: [TlsProxy; 2],
}

impl Clusters {
    fn start() -> Clusters {
        let pki = Pki::new();
        let (a_tls, b_tls) = (free_port(), free_port());
        let a = OwnBroker::start_behind_proxy(a_tls);
        let a_proxy = TlsProxy::start(&pki, a_tls, a.port, true);
        let mut b = DurableBroker::start("secured-target");
        b.add_scram_user("mm2", B_PASSWORD);
        b.restart_secured(b_tls);
        let b_proxy = TlsProxy::start(&pki, b_tls, b.port(), false);
        let ca = pki.path("ca.pem");
        let client = pki.path("client.pem");
        secure(
            &a.bootstrap,
            &[
                ("security.protocol", "SSL"),
                ("ssl.ca.location", &ca),
                ("ssl.certificate.location", &client),
                ("ssl.key.location", &client),
                ("ssl.key.password", KEY_PASSWORD),
            ],
        );
        secure(
            &b.bootstrap(),
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "mm2"),
                ("sasl.password", B_PASSWORD),
                ("ssl.ca.location", &ca),
            ],
        );
        Clusters {
            pki,
            a,
            b,
            _proxies: [a_proxy, b_proxy],
        }
    }

    /// mm2.properties for A->B in Java's terms, B's password being `b_password`.
    fn config(&self, topic: &str, group: &str, b_password: &str, port: u16) -> TempFile {
        let text = format!(
            "clusters = A, B\n\
             A.bootstrap.servers = {a}\n\
             B.bootstrap.servers = {b}\n\
             A->B.enabled = true\n\
             A->B.topics = {topic}\n\
             A->B.groups = {group}\n\
             A.security.protocol = SSL\n\
             A.ssl.key.password = {KEY_PASSWORD}\n\
             A.ssl.truststore.type = PEM\n\
             A.ssl.truststore.location = {ca}\n\
             A.ssl.keystore.type = PEM\n\
             A.ssl.keystore.location = {client}\n\
             B.security.protocol = SASL_SSL\n\
             B.sasl.mechanism = SCRAM-SHA-512\n\
             B.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username=\"mm2\" password=\"{b_password}\";\n\
             B.ssl.truststore.location = {ca}\n\
             emit.heartbeats.interval.seconds = 1\n\
             emit.checkpoints.interval.seconds = 1\n\
             sync.group.offsets.enabled = true\n\
             sync.group.offsets.interval.seconds = 1\n\
             refresh.groups.interval.seconds = 1\n\
             {settings}\
             A.consumer.session.timeout.ms = 6000\n\
             listeners = http://127.0.0.1:{port}\n",
            a = self.a.bootstrap,
            b = self.b.bootstrap(),
            ca = self.pki.path("ca.pem"),
            client = self.pki.path("client.pem"),
            settings = one_broker_settings("B"),
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
        let mut cmd = Command::new(binary);
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("MM2_")) {
            cmd.env_remove(k);
        }
        let child = cmd
            .arg(&config.path)
            .env("RUST_LOG", "debug")
            .env("NO_COLOR", "1")
            .stdout(File::create(config.dir().join("process.out")).unwrap())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("starts the process");
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
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let exited = wait_until(Duration::from_secs(60), || {
            matches!(self.child.try_wait(), Ok(Some(_)))
        });
        assert!(exited, "the process did not stop on SIGTERM");
        let status = self.child.wait().unwrap();
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

fn assert_no_secret(text: &str, what: &str) {
    for secret in [KEY_PASSWORD, B_PASSWORD, WRONG_PASSWORD] {
        assert!(!text.contains(secret), "{what} shows a password");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replicates_records_offsets_and_heartbeats_over_tls_and_sasl() {
    let clusters = Clusters::start();
    let (a, b) = (clusters.a.bootstrap.clone(), clusters.b.bootstrap());
    let topic = unique("orders");
    create_topic(&a, &topic, 2).await;
    let records = sample_records(60, 2);
    produce(&a, &topic, &records).await;
    let group = unique("billing");
    commit(&a, &group, &topic, 0, 20);

    let port = free_port();
    let config = clusters.config(&topic, &group, B_PASSWORD, port);
    let mirror = Logged::mirror_maker(&config);

    let remote = format!("A.{topic}");
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
    mirror.expect("heartbeats on B", Duration::from_secs(30), || {
        topic_exists(&b, "heartbeats")
            && !read(&b, "heartbeats", 1, 1, Duration::from_secs(5)).is_empty()
    });

    // The REST API shows the flow's client settings with their secrets hidden.
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let (status, body) = http_get(addr, "/connectors/A-%3EB.MirrorSourceConnector/config");
    assert_eq!(status, 200, "{body}");
    assert_no_secret(&body, "the connector config");
    assert!(body.contains("[hidden]"), "{body}");

    assert_no_secret(&mirror.stop(), "the debug log or standard output");
}

/// A wrong password is reported naming the client and the cause, the process keeps retrying
/// without writing anything, and SIGTERM still stops it cleanly.
#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_password_is_reported_naming_the_client() {
    let clusters = Clusters::start();
    let a = clusters.a.bootstrap.clone();
    let topic = unique("orders");
    create_topic(&a, &topic, 1).await;
    produce(&a, &topic, &sample_records(5, 1)).await;

    let config = clusters.config(&topic, "none", WRONG_PASSWORD, free_port());
    let mut mirror = Logged::mirror_maker(&config);
    mirror.expect("the authentication error", Duration::from_secs(60), || {
        // One line names the cause and the client: here the flow's worker group on B.
        mirror
            .log()
            .lines()
            .any(|l| l.contains("SCRAM authentication failed") && l.contains("client=\"A-mm2|"))
    });
    mirror.expect("a retry", Duration::from_secs(60), || {
        mirror
            .log()
            .contains("cannot join the worker group A-mm2 on B")
    });
    mirror.assert_running();
    assert_no_secret(&mirror.stop(), "the debug log or standard output");
    assert!(
        !topics(&clusters.b.bootstrap()).contains_key(&format!("A.{topic}")),
        "nothing may be written without authenticating"
    );
}

/// connect-distributed with its worker group, internal topics and exactly-once source tasks
/// (transactions) on a SASL_SSL cluster, configured as a Java worker is: security keys at the
/// top level for the worker's own clients, and again under `producer.` and `consumer.` for the
/// tasks'.
#[tokio::test(flavor = "multi_thread")]
async fn connect_distributed_runs_exactly_once_tasks_over_sasl_ssl() {
    let clusters = Clusters::start();
    let b = clusters.b.bootstrap();
    let id = unique("secure-connect");
    let port = free_port();
    let security = format!(
        "security.protocol=SASL_SSL\n\
         sasl.mechanism=SCRAM-SHA-512\n\
         sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"mm2\" password=\"{B_PASSWORD}\";\n\
         ssl.truststore.location={}\n",
        clusters.pki.path("ca.pem")
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

    assert_no_secret(&process.stop(), "the worker's debug log or standard output");
}

//! The REST API over https and behind basic authentication, as Kafka Connect serves it, with
//! curl as the client: a throwaway CA's certificates in a PKCS12 keystore, a PEM bundle and
//! inline PEM; client certificates; Connect's JAAS and users files through KAFKA_OPTS; the
//! same keys at the top level of mm2.properties. No broker is needed: connect-standalone serves
//! its API without one, and connect-mirror-maker serves it while it waits for its clusters.

mod common;

use std::path::Path;

use common::pki::{KEY_PASSWORD, STORE_PASSWORD};
use common::*;

const STANDALONE: &str = env!("CARGO_BIN_EXE_connect-standalone");

/// A worker properties file whose Kafka is nowhere (no connector needs it), plus `extra`.
fn worker_file(extra: &str) -> TempFile {
    let dir = TempFile::new("worker.properties", "");
    let props = format!(
        "bootstrap.servers=127.0.0.1:1\n\
         key.converter=org.apache.kafka.connect.storage.StringConverter\n\
         value.converter=org.apache.kafka.connect.storage.StringConverter\n\
         offset.storage.file.filename={}\n{extra}",
        dir.dir().join("connect.offsets").display()
    );
    std::fs::write(&dir.path, props).unwrap();
    dir
}

/// connect-standalone on `worker`, serving on `port`, with `KAFKA_OPTS` as given (never the
/// test's own).
fn standalone(worker: &Path, port: u16, kafka_opts: Option<&str>) -> ConnectProcess {
    let launch = Launch::new(STANDALONE).arg(worker).env_remove("KAFKA_OPTS");
    let launch = match kafka_opts {
        Some(o) => launch.env("KAFKA_OPTS", o),
        None => launch,
    };
    ConnectProcess::launch(launch, port)
}

/// connect-standalone on `worker` when it must refuse to start: its exit status and stderr.
fn refused(worker: &Path, kafka_opts: Option<&str>) -> (Option<i32>, String) {
    let launch = Launch::new(STANDALONE).arg(worker).env_remove("KAFKA_OPTS");
    let launch = match kafka_opts {
        Some(o) => launch.env("KAFKA_OPTS", o),
        None => launch,
    };
    let out = launch.log_level("warn").output();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn health_url(scheme: &str, port: u16) -> String {
    format!("{scheme}://localhost:{port}/health")
}

fn assert_healthy(a: &Answer) {
    assert_eq!(a.status, Some(200), "{a:?}");
    assert_eq!(a.json()["status"], "healthy", "{a:?}");
}

#[test]
fn https_with_a_pkcs12_keystore_beside_http() {
    let pki = Pki::new();
    let (https, http) = (free_port(), free_port());
    let worker = worker_file(&format!(
        "listeners=https://127.0.0.1:{https},http://127.0.0.1:{http}\n\
         listeners.https.ssl.keystore.location={}\n\
         listeners.https.ssl.keystore.type=PKCS12\n\
         listeners.https.ssl.keystore.password={}\n",
        pki.server_p12.display(),
        STORE_PASSWORD
    ));
    let w = standalone(&worker.path, https, None);

    // The CA verifies the listener's certificate.
    let a = curl_until(200, || {
        Curl::get(&health_url("https", https)).cacert(&pki.ca)
    });
    assert_healthy(&a);
    let connectors = Curl::get(&format!("https://localhost:{https}/connectors"))
        .cacert(&pki.ca)
        .run();
    assert_eq!(
        (connectors.status, connectors.body.as_str()),
        (Some(200), "[]")
    );

    // Without the CA, curl refuses the certificate (60: it does not verify).
    let a = Curl::get(&health_url("https", https)).run();
    assert_eq!((a.exit, a.status), (60, None), "{a:?}");

    // Plain HTTP on the https port gets no HTTP answer at all.
    let a = Curl::get(&health_url("http", https)).run();
    assert!(a.exit != 0 && a.status.is_none(), "{a:?}");

    // The http listener beside it still speaks plain HTTP.
    assert_healthy(&Curl::get(&health_url("http", http)).run());
    w.stop();
}

/// `ssl.keystore.type=PEM`: a file holding an encrypted key and its chain, read through the
/// worker's un-prefixed `ssl.*` keys (no `listeners.https.` key is set); then the chain and key
/// inline, on one line each as a properties file holds them.
#[test]
fn https_with_pem_files_and_inline_pem() {
    let pki = Pki::new();
    let port = free_port();
    let worker = worker_file(&format!(
        "listeners=https://127.0.0.1:{port}\n\
         ssl.keystore.type=PEM\n\
         ssl.keystore.location={}\n\
         ssl.key.password={}\n",
        pki.server_pem_bundle.display(),
        KEY_PASSWORD
    ));
    let w = standalone(&worker.path, port, None);
    assert_healthy(&curl_until(200, || {
        Curl::get(&health_url("https", port)).cacert(&pki.ca)
    }));
    w.stop();

    let one_line = |p: &Path| std::fs::read_to_string(p).unwrap().replace('\n', " ");
    let chain = format!("{} {}", one_line(&pki.server_cert), one_line(&pki.ca));
    let port = free_port();
    let worker = worker_file(&format!(
        "listeners=https://127.0.0.1:{port}\n\
         listeners.https.ssl.keystore.type=PEM\n\
         listeners.https.ssl.keystore.certificate.chain={chain}\n\
         listeners.https.ssl.keystore.key={}\n",
        one_line(&pki.server_key)
    ));
    let w = standalone(&worker.path, port, None);
    assert_healthy(&curl_until(200, || {
        Curl::get(&health_url("https", port)).cacert(&pki.ca)
    }));
    w.stop();
}

/// `ssl.client.auth=required`: a client certificate signed by the truststore's CA gets in, a
/// client without one does not. The worker's own `ssl.*` keys configure the listener here (no
/// `listeners.https.` key is set), and its Kafka clients take them too, as in Connect.
#[test]
fn client_certificates_when_required() {
    let pki = Pki::new();
    let port = free_port();
    let worker = worker_file(&format!(
        "listeners=https://127.0.0.1:{port}\n\
         ssl.keystore.type=PKCS12\n\
         ssl.keystore.location={}\n\
         ssl.keystore.password={}\n\
         ssl.client.auth=required\n\
         ssl.truststore.type=PEM\n\
         ssl.truststore.location={}\n",
        pki.server_p12.display(),
        STORE_PASSWORD,
        pki.ca.display()
    ));
    let w = standalone(&worker.path, port, None);
    let with_cert = || {
        Curl::get(&health_url("https", port))
            .cacert(&pki.ca)
            .client_cert(&pki.client_cert, &pki.client_key)
    };
    assert_healthy(&curl_until(200, with_cert));
    let a = Curl::get(&health_url("https", port)).cacert(&pki.ca).run();
    assert!(a.status.is_none() && a.exit != 0, "{a:?}");
    w.stop();
}

/// Settings that cannot work stop the worker at once (exit status 2) with a message that names
/// the setting, and never shows a password.
#[test]
fn bad_tls_settings_are_named() {
    let pki = Pki::new();
    let listeners = format!("listeners=https://127.0.0.1:{}\n", free_port());
    let cases = [
        (
            format!(
                "listeners.https.ssl.keystore.location={}\n\
                 listeners.https.ssl.keystore.password=not-the-password-31\n",
                pki.server_p12.display()
            ),
            "`listeners.https.ssl.keystore.password`: wrong password",
        ),
        (
            "listeners.https.ssl.keystore.location=/nonexistent/server.p12\n\
             listeners.https.ssl.keystore.password=not-the-password-31\n"
                .to_string(),
            "`listeners.https.ssl.keystore.location`: cannot read /nonexistent/server.p12",
        ),
        (
            format!(
                "listeners.https.ssl.keystore.location={}\n\
                 listeners.https.ssl.keystore.type=JKS\n\
                 listeners.https.ssl.keystore.password=not-the-password-31\n",
                pki.server_p12.display()
            ),
            "keytool -importkeystore",
        ),
        (
            format!(
                "listeners.https.ssl.keystore.location={}\n",
                pki.file("server.jks", &[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2])
                    .display()
            ),
            "is a Java keystore (JKS or JCEKS)",
        ),
        (
            format!(
                "ssl.keystore.type=PEM\nssl.keystore.location={}\n",
                pki.server_pem_bundle.display()
            ),
            "is encrypted: set `ssl.key.password`",
        ),
        (
            "listeners.https.ssl.client.auth=required\n".to_string(),
            "set `listeners.https.ssl.keystore.location`",
        ),
    ];
    for (extra, expected) in cases {
        let worker = worker_file(&format!("{listeners}{extra}"));
        let (code, stderr) = refused(&worker.path, None);
        assert_eq!(code, Some(2), "{extra}: {stderr}");
        assert!(
            stderr.contains(expected),
            "{extra}: expected {expected:?} in {stderr}"
        );
        assert!(!stderr.contains("not-the-password-31"), "{stderr}");
    }
}

/// A JAAS file in Connect's form, with the users file it names.
struct Jaas {
    _users: TempFile,
    jaas: TempFile,
}

impl Jaas {
    fn new(users: &str) -> Jaas {
        let users = TempFile::new("users.properties", users);
        let jaas = TempFile::new(
            "connect.jaas",
            &format!(
                "KafkaConnect {{\n  \
                 org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  \
                 file=\"{}\";\n}};\n",
                users.path.display()
            ),
        );
        Jaas {
            _users: users,
            jaas,
        }
    }

    /// What users put in KAFKA_OPTS.
    fn kafka_opts(&self) -> String {
        format!(
            "-Xmx256M -Djava.security.auth.login.config={}",
            self.jaas.path.display()
        )
    }
}

const BASIC_AUTH: &str =
    "rest.extension.classes=org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension\n";

#[test]
fn basic_authentication_as_connect_has_it() {
    let jaas = Jaas::new("alice=wonder-41\nbob=builder-42\n");
    let port = free_port();
    let worker = worker_file(&format!("listeners=http://127.0.0.1:{port}\n{BASIC_AUTH}"));
    let w = standalone(&worker.path, port, Some(&jaas.kafka_opts()));
    let url = |path: &str| format!("http://localhost:{port}{path}");

    // With the credentials of the users file: served.
    let a = curl_until(200, || {
        Curl::get(&url("/connectors")).user("alice:wonder-41")
    });
    assert_eq!(a.body, "[]");
    let a = Curl::get(&url("/connector-plugins"))
        .user("bob:builder-42")
        .run();
    assert_eq!(a.status, Some(200), "{a:?}");

    // Without, or with wrong ones: Connect's 401, with no challenge.
    for curl in [
        Curl::get(&url("/connectors")),
        Curl::get(&url("/connectors")).user("alice:wrong"),
        Curl::get(&url("/connectors")).user("mallory:wonder-41"),
        Curl::get(&url("/")).user("bob:wonder-41"),
    ] {
        let a = curl.run();
        assert_eq!(a.status, Some(401), "{a:?}");
        assert_eq!(a.body, "User cannot access the resource.");
        assert_eq!(a.header("www-authenticate"), None, "{a:?}");
    }

    // /health is no exception in Connect: its filter exempts only the internal endpoints.
    let a = Curl::get(&url("/health")).run();
    assert_eq!(a.status, Some(401), "{a:?}");
    assert_healthy(&Curl::get(&url("/health")).user("alice:wonder-41").run());

    // What is not served is not authenticated either: 404 and 405, as Connect answers them.
    assert_eq!(Curl::get(&url("/no-such-path")).run().status, Some(404));
    assert_eq!(
        Curl::get(&url("/health")).method("DELETE").run().status,
        Some(405)
    );

    // No password reaches the log, whatever was tried.
    let log = w.log.text();
    for secret in ["wonder-41", "builder-42"] {
        assert!(!log.contains(secret), "{log}");
    }
    w.stop();
}

/// An empty users file lets every request through, as Connect's PropertyFileLoginModule does.
#[test]
fn an_empty_users_file_authenticates_everyone() {
    let jaas = Jaas::new("# no users yet\n");
    let port = free_port();
    let worker = worker_file(&format!("listeners=http://127.0.0.1:{port}\n{BASIC_AUTH}"));
    let w = standalone(&worker.path, port, Some(&jaas.kafka_opts()));
    assert_healthy(&curl_until(200, || Curl::get(&health_url("http", port))));
    w.stop();
}

#[test]
fn basic_authentication_needs_its_jaas_file() {
    let listeners = format!("listeners=http://127.0.0.1:{}\n", free_port());
    let worker = worker_file(&format!("{listeners}{BASIC_AUTH}"));
    let (code, stderr) = refused(&worker.path, None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("-Djava.security.auth.login.config=/path/to/connect.jaas")
            && stderr.contains("KAFKA_OPTS"),
        "{stderr}"
    );
    let (code, stderr) = refused(
        &worker.path,
        Some("-Djava.security.auth.login.config=/nonexistent/connect.jaas"),
    );
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot read the JAAS file /nonexistent/connect.jaas"),
        "{stderr}"
    );

    let worker = worker_file(&format!(
        "{listeners}rest.extension.classes=com.acme.AuditExtension\n"
    ));
    let (code, stderr) = refused(&worker.path, None);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("`rest.extension.classes` (line")
            && stderr.contains("`com.acme.AuditExtension` is not available"),
        "{stderr}"
    );
}

/// connect-mirror-maker reads the same keys at the top level of mm2.properties, as Java's
/// MirrorMaker builds its REST server from them. Its clusters are unreachable here, so it
/// serves /health as 503 for as long as it runs: over https, to the right user only.
#[test]
fn mirror_maker_reads_the_rest_keys_at_the_top_level() {
    let pki = Pki::new();
    let jaas = Jaas::new("alice=wonder-41\n");
    let port = free_port();
    let nowhere = format!("127.0.0.1:{}", free_port());
    let config = TempFile::new(
        "mm2.properties",
        &format!(
            "clusters = A, B\n\
             A.bootstrap.servers = {nowhere}\n\
             B.bootstrap.servers = {nowhere}\n\
             A->B.enabled = true\n\
             emit.heartbeats.enabled = false\n\
             listeners = https://127.0.0.1:{port}\n\
             listeners.https.ssl.keystore.location = {}\n\
             listeners.https.ssl.keystore.password = {}\n\
             {BASIC_AUTH}",
            pki.server_p12.display(),
            STORE_PASSWORD
        ),
    );
    let launch = Launch::mirror_maker()
        .arg(&config.path)
        .env("KAFKA_OPTS", jaas.kafka_opts());
    let mm2 = ConnectProcess::launch(launch, port);
    let a = curl_until(503, || {
        Curl::get(&health_url("https", port))
            .cacert(&pki.ca)
            .user("alice:wonder-41")
    });
    assert_eq!(a.json()["status"], "starting", "{a:?}");
    let a = Curl::get(&health_url("https", port)).cacert(&pki.ca).run();
    assert_eq!(a.status, Some(401), "{a:?}");
    mm2.stop();
}

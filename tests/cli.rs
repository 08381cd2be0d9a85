//! The command line: help, version, `validate`, and one clear error line with exit status 2 for
//! every kind of bad configuration.

mod common;

use common::{mm2, TempFile};

const GOOD: &str = "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n";

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn help_and_version() {
    let out = mm2(&["--help"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("mm2.properties") && text.contains("--clusters") && text.contains("validate"),
        "{text}"
    );
    let out = mm2(&["--version"]);
    assert!(out.status.success());
    assert!(
        stdout(&out).starts_with("connect-mirror-maker "),
        "{}",
        stdout(&out)
    );
}

#[test]
fn missing_argument_is_a_usage_error() {
    let out = mm2(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("mm2.properties"), "{}", stderr(&out));
}

/// (name, file contents, extra args, expected message fragments)
const BAD: &[(&str, &str, &[&str], &[&str])] = &[
    ("syntax", "clusters = A, B\nA.bootstrap.servers = \\u00zz\n", &[], &["syntax error at line 2", "Malformed"]),
    ("no clusters", "A.bootstrap.servers = a:9092\n", &[], &["`clusters` (not set): required"]),
    ("unknown alias", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->C.enabled = true\n", &[], &["`A->C.enabled` (line 4)", "names cluster `C`, which is not in clusters (A, B)"]),
    ("self flow", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->A.enabled = true\n", &[], &["`A->A.enabled` (line 4)", "two different clusters"]),
    ("no bootstrap", "clusters = A, B\nB.bootstrap.servers = b\nA->B.enabled = true\n", &[], &["`A.bootstrap.servers` (not set)", "cluster `A` has no bootstrap.servers and flow A->B is enabled"]),
    ("bad regex", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\nA->B.topics = orders-(\n", &[], &["`A->B.topics` (line 5)", "invalid regular expression"]),
    ("bad interval", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\nrefresh.topics.interval.seconds = ten\n", &[], &["`refresh.topics.interval.seconds` (line 5)", "expected a whole number, got `ten`"]),
    ("bad boolean", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = yes\n", &[], &["`A->B.enabled` (line 4)", "expected true or false, got `yes`"]),
    ("zero tasks", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\ntasks.max = 0\n", &[], &["`tasks.max` (line 5)", "between 1 and"]),
    ("jks truststore", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\nB.ssl.truststore.location = /etc/ts.jks\n", &[], &["`B.ssl.truststore.location` (line 5)", "JKS truststores are not supported"]),
    ("bad client value", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\nB.producer.linger.ms = soon\n", &[], &["`B.producer.linger.ms` (line 5)", "librdkafka rejects `linger.ms = soon`"]),
    ("custom policy", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\nreplication.policy.class = com.acme.MyPolicy\n", &[], &["`replication.policy.class` (line 5)", "com.acme.MyPolicy"]),
    ("unknown --clusters", GOOD, &["--clusters", "C"], &["`C` is not one of the clusters (A, B)"]),
    ("missing env secret", "clusters = A, B\nA.bootstrap.servers = a\nB.bootstrap.servers = b\nA->B.enabled = true\nB.sasl.jaas.config = ${env:MM2_TEST_UNSET_SECRET}\n", &[], &["`B.sasl.jaas.config` (line 5)", "MM2_TEST_UNSET_SECRET` is not set"]),
];

#[test]
fn bad_configurations_exit_2_with_a_clear_line() {
    for (name, text, extra, fragments) in BAD {
        let file = TempFile::new("mm2.properties", text);
        for mode in [None, Some("validate")] {
            let mut args: Vec<&str> = mode.into_iter().collect();
            args.push(file.path.to_str().unwrap());
            args.extend_from_slice(extra);
            let out = mm2(&args);
            let err = stderr(&out);
            assert_eq!(out.status.code(), Some(2), "{name} ({mode:?}): {err}");
            for f in *fragments {
                assert!(
                    err.contains(f),
                    "{name} ({mode:?}): expected `{f}` in:\n{err}"
                );
            }
            assert!(
                err.lines()
                    .all(|l| l.starts_with("connect-mirror-maker: error: ")),
                "{name}: {err}"
            );
            assert!(
                !err.contains("panicked") && !err.contains("backtrace"),
                "{name}: {err}"
            );
        }
    }
}

#[test]
fn missing_file_names_the_path() {
    let out = mm2(&["/no/such/mm2.properties"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("cannot read /no/such/mm2.properties"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn several_errors_are_reported_together() {
    let file = TempFile::new(
        "mm2.properties",
        "clusters = A, B\nA->B.enabled = true\nA->B.topics = (\ntasks.max = x\n",
    );
    let out = mm2(&["validate", file.path.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2));
    for f in [
        "A.bootstrap.servers",
        "B.bootstrap.servers",
        "A->B.topics",
        "tasks.max",
    ] {
        assert!(err.contains(f), "expected {f} in:\n{err}");
    }
}

#[test]
fn validate_prints_flows_with_secrets_hidden() {
    let text = format!(
        "{GOOD}B.security.protocol = SASL_SSL\nB.sasl.mechanism = SCRAM-SHA-256\n\
         B.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username=\"mm2\" password=\"hunter2\";\n\
         A.ssl.key.password = topsecret\ntopcis = oops\n"
    );
    let file = TempFile::new("mm2.properties", &text);
    let out = mm2(&["validate", file.path.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("flow A->B: replication enabled"), "{text}");
    assert!(text.contains("flow B->A: heartbeats only"), "{text}");
    assert!(text.contains("sasl.username = mm2"), "{text}");
    assert!(text.contains("sasl.password = [hidden]"), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("topsecret"),
        "secret printed:\n{text}"
    );
    assert!(text.contains("`topcis` (line 9): unknown key"), "{text}");
}

#[test]
fn clusters_flag_limits_flows_to_those_targets() {
    let file = TempFile::new("mm2.properties", &format!("{GOOD}B->A.enabled = true\n"));
    let out = mm2(&["validate", file.path.to_str().unwrap(), "--clusters", "A"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.contains("flow B->A") && !text.contains("flow A->B"),
        "{text}"
    );
}

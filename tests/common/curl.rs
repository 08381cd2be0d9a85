//! curl as the HTTP client of the REST tests that need a real one: TLS verification against a
//! CA file, client certificates, basic authentication, and the response headers.

use std::path::Path;
use std::process::Command;

use super::wait_until;

/// One curl invocation, built up before it runs.
pub struct Curl {
    cmd: Command,
}

/// What curl saw: `status` is `None` when no HTTP response came (curl's `exit` says why: 60 is a
/// certificate that does not verify, 35 a failed handshake, 52 and 56 a connection closed).
#[derive(Debug)]
pub struct Answer {
    pub exit: i32,
    pub status: Option<u16>,
    /// The response headers, lower-cased names (`name: value` lines).
    pub headers: String,
    pub body: String,
    pub stderr: String,
}

impl Answer {
    /// The body parsed as JSON, panicking with the whole answer if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {self:?}"))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// The marker between the body and the status code on curl's standard output.
const STATUS_MARK: &str = "\n--curl-status:";

impl Curl {
    /// `GET url`, silent but for errors, within 10 s.
    pub fn get(url: &str) -> Curl {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "10", "-D", "-", "-w"])
            .arg(format!("{STATUS_MARK}%{{http_code}}"))
            .arg(url);
        Curl { cmd }
    }

    /// Verifies the server's certificate against `ca`.
    pub fn cacert(mut self, ca: &Path) -> Curl {
        self.cmd.arg("--cacert").arg(ca);
        self
    }

    /// Basic authentication as `user:password`.
    pub fn user(mut self, user_password: &str) -> Curl {
        self.cmd.args(["-u", user_password]);
        self
    }

    /// A client certificate and its key (PEM).
    pub fn client_cert(mut self, cert: &Path, key: &Path) -> Curl {
        self.cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        self
    }

    pub fn method(mut self, method: &str) -> Curl {
        self.cmd.args(["-X", method]);
        self
    }

    pub fn run(mut self) -> Answer {
        let out = self.cmd.output().expect("runs curl");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let (response, code) = stdout.rsplit_once(STATUS_MARK).unwrap_or((&stdout, "000"));
        let status = code.trim().parse().ok().filter(|c| *c != 0);
        // With -D -, the headers come first, then a blank line, then the body.
        let (headers, body) = response
            .split_once("\r\n\r\n")
            .map(|(h, b)| (h.to_string(), b.to_string()))
            .unwrap_or_default();
        Answer {
            exit: out.status.code().unwrap_or(-1),
            status,
            headers,
            body,
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }
}

/// Runs `curl` (built anew by `make` each time) until its answer has `status`, within 60 s;
/// returns that answer, or panics with the last one.
pub fn curl_until(status: u16, mut make: impl FnMut() -> Curl) -> Answer {
    let mut last = None;
    let held = wait_until(std::time::Duration::from_secs(60), || {
        let a = make().run();
        let done = a.status == Some(status);
        last = Some(a);
        done
    });
    let last = last.expect("curl ran");
    assert!(held, "never answered {status}: {last:?}");
    last
}

//! The binaries of this crate as child processes: one launcher that scrubs the test's own
//! `MM2_*` environment (connect-mirror-maker reads its settings from there), sending signals,
//! and the Connect workers tests talk to over REST.

use std::ffi::OsStr;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

use super::{wait_for, wait_until, ProcessLog};

/// A command for one of the binaries, built up before it runs.
pub struct Launch {
    cmd: Command,
    label: String,
}

impl Launch {
    /// `binary` (a path from `env!("CARGO_BIN_EXE_...")`), with no `MM2_*` variable of the
    /// test's environment: only what the test sets on the child reaches it.
    pub fn new(binary: &str) -> Launch {
        let mut cmd = Command::new(binary);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("MM2_") {
                cmd.env_remove(k);
            }
        }
        let label = binary.rsplit('/').next().unwrap_or(binary).to_string();
        Launch { cmd, label }
    }

    /// connect-mirror-maker.
    pub fn mirror_maker() -> Launch {
        Launch::new(env!("CARGO_BIN_EXE_connect-mirror-maker"))
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Launch {
        self.cmd.arg(arg);
        self
    }

    pub fn args(mut self, args: impl IntoIterator<Item = impl AsRef<OsStr>>) -> Launch {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Launch {
        self.cmd.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Launch {
        self.cmd.env_remove(key);
        self
    }

    /// The `RUST_LOG` filter of the child.
    pub fn log_level(self, level: &str) -> Launch {
        self.env("RUST_LOG", level)
    }

    /// The name the child's log lines are echoed under (by default the binary's name).
    pub fn label(mut self, label: &str) -> Launch {
        self.label = label.to_string();
        self
    }

    /// Runs to completion, capturing standard output and error.
    pub fn output(mut self) -> Output {
        self.cmd
            .output()
            .unwrap_or_else(|e| panic!("runs {}: {e}", self.label))
    }

    /// Starts the child with its standard output and error going to `stdout` and `stderr`.
    pub fn spawn_to(mut self, stdout: impl Into<Stdio>, stderr: impl Into<Stdio>) -> Child {
        self.cmd
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("starts {}: {e}", self.label))
    }

    /// Starts the child, collecting its standard error (standard output is dropped).
    pub fn spawn_logged(self) -> (Child, ProcessLog) {
        let label = self.label.clone();
        let mut child = self.spawn_to(Stdio::null(), Stdio::piped());
        let log = ProcessLog::collect(child.stderr.take().unwrap(), &label);
        (child, log)
    }
}

/// Runs the `connect-mirror-maker` binary on `args` to completion, logging warnings only.
pub fn mm2(args: &[&str]) -> Output {
    Launch::mirror_maker().args(args).log_level("warn").output()
}

/// Sends `sig` (as `kill` takes it: "-TERM", "-STOP", ...) to process `pid`.
pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("runs kill")
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// SIGTERM, then the exit status once the child exits within `timeout`; `None` if it does not.
pub fn terminate(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    signal(child.id(), "-TERM");
    let mut status = None;
    wait_until(timeout, || {
        status = child.try_wait().expect("child status");
        status.is_some()
    });
    status
}

/// A Connect worker (connect-standalone, connect-distributed or connect-mirror-maker) with
/// its REST address.
pub struct ConnectProcess {
    pub child: Child,
    pub addr: std::net::SocketAddr,
    /// What it logged (at `CONNECT_LOG`, by default info), for tests that wait on a log line.
    pub log: ProcessLog,
}

impl ConnectProcess {
    /// Starts `binary` (a path from `env!("CARGO_BIN_EXE_...")`) on `args`, listening on
    /// `port`, and waits for its REST API.
    pub fn start(binary: &str, args: &[&std::path::Path], port: u16) -> ConnectProcess {
        ConnectProcess::launch(Launch::new(binary).args(args), port)
    }

    /// Starts `launch`, whose REST API listens on `port`, and waits for that API.
    pub fn launch(launch: Launch, port: u16) -> ConnectProcess {
        let level = std::env::var("CONNECT_LOG").unwrap_or_else(|_| "info".into());
        let label = format!("{}:{port}", launch.label);
        let (child, log) = launch.log_level(&level).label(&label).spawn_logged();
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut process = ConnectProcess { child, addr, log };
        wait_for(Duration::from_secs(60), || {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("{label} exited with {status} before serving REST on {addr}");
            }
            std::net::TcpStream::connect(addr).is_ok()
        });
        process
    }

    /// SIGTERM, and the exit must be clean.
    pub fn stop(mut self) {
        let status = terminate(&mut self.child, Duration::from_secs(60));
        let status = status.expect("worker exits within 60 s of SIGTERM");
        assert!(status.success(), "worker exited with {status}");
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ConnectProcess {
    /// A failing test must not leave its workers running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

//! The external tools of the deploy checks, where scripts/test.sh puts them, and running them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// This checkout.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Where scripts/kafka.sh and scripts/deploy-tools.sh keep tools (`TOOLS_DIR`, or `.tools`).
fn tools_dir() -> PathBuf {
    std::env::var_os("TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join(".tools"))
}

/// Returns the tool's path from the calling test, or returns from the test when it is missing
/// (see `missing`).
macro_rules! tool {
    ($found:expr) => {
        match $found {
            Some(path) => path,
            None => return,
        }
    };
}
pub(crate) use tool;

/// promtool, unpacked from Debian's prometheus package by scripts/deploy-tools.sh.
pub fn promtool() -> Option<PathBuf> {
    installed(tools_dir().join("prometheus/usr/bin/promtool"), "promtool")
}

/// The Python of .tools/deploy-venv: PyYAML, kubernetes-validate and the Prometheus Operator's
/// models (scripts/deploy-requirements.txt).
pub fn python() -> Option<PathBuf> {
    installed(
        tools_dir().join("deploy-venv/bin/python"),
        "the deploy venv",
    )
}

/// kubernetes-validate, in the same venv.
pub fn kubernetes_validate() -> Option<PathBuf> {
    installed(
        tools_dir().join("deploy-venv/bin/kubernetes-validate"),
        "kubernetes-validate",
    )
}

/// kubectl on PATH (Debian's kubernetes-client where install_deps installed it).
pub fn kubectl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("kubectl"))
            .find(|p| p.is_file())
    });
    found.or_else(|| missing("kubectl (not on PATH)"))
}

fn installed(path: PathBuf, what: &str) -> Option<PathBuf> {
    if path.is_file() {
        Some(path)
    } else {
        missing(&format!("{what} ({} does not exist)", path.display()))
    }
}

/// Says on stderr that the calling test is skipped because `what` is missing, or fails it where
/// scripts/test.sh requires every tool.
fn missing(what: &str) -> Option<PathBuf> {
    crate::common::skip_unless_required(
        &format!("{what} is missing"),
        "the tools scripts/test.sh installs",
        &format!(
            "{what} is missing (scripts/test.sh installs it; \
             scripts/deploy-tools.sh alone installs promtool and the venv)"
        ),
    );
    None
}

/// Runs `cmd`, with `stdin` as its standard input, to completion.
pub fn run(cmd: &mut Command, stdin: Option<&str>) -> Output {
    let mut child = cmd
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("runs {cmd:?}: {e}"));
    if let Some(text) = stdin {
        // Written from a thread: a child that answers while reading would otherwise block on
        // a full stdout pipe.
        let mut pipe = child.stdin.take().unwrap();
        let text = text.to_string();
        std::thread::spawn(move || pipe.write_all(text.as_bytes()));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waits for {cmd:?}: {e}"))
}

/// Runs `cmd` and returns its standard output; panics, with both outputs, if it fails.
pub fn run_ok(cmd: &mut Command, stdin: Option<&str>) -> String {
    let out = run(cmd, stdin);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The YAML documents of a file, as JSON values (parsed by PyYAML: no YAML crate here).
pub fn yaml_file(python: &Path, file: &Path) -> Vec<Value> {
    yaml(python, Some(file), None)
}

/// The YAML documents of a text, as JSON values.
pub fn yaml_text(python: &Path, text: &str) -> Vec<Value> {
    yaml(python, None, Some(text))
}

fn yaml(python: &Path, file: Option<&Path>, text: Option<&str>) -> Vec<Value> {
    let mut cmd = Command::new(python);
    cmd.arg(repo().join("tests/deploy/yaml_to_json.py"));
    match file {
        Some(f) => cmd.arg(f),
        None => cmd.arg("-"),
    };
    let out = run_ok(&mut cmd, text);
    let mut files: Vec<Vec<Value>> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("yaml_to_json.py: {e}: {out}"));
    files.pop().expect("one file's documents")
}

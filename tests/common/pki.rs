//! A throwaway PKI made with the `openssl` command-line tool: a CA, a server certificate for
//! `localhost` and 127.0.0.1 (as PEM files, a PKCS12 keystore, and a PEM bundle whose key is
//! encrypted), and a client certificate, all in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::TempFile;

/// The password of the PKCS12 keystore.
pub const STORE_PASSWORD: &str = "store-pw-7c1e";
/// The password of the encrypted PEM key.
pub const KEY_PASSWORD: &str = "key-pw-93ad";

pub struct Pki {
    _dir: TempFile,
    root: PathBuf,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    /// Unencrypted PKCS#8.
    pub server_key: PathBuf,
    /// The server key and certificate and the CA, with [`STORE_PASSWORD`].
    pub server_p12: PathBuf,
    /// The server key encrypted with [`KEY_PASSWORD`], then its certificate and the CA.
    pub server_pem_bundle: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// EC keys: quicker to make than RSA ones.
const NEW_KEY: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl Pki {
    pub fn new() -> Pki {
        let dir = TempFile::new("san.cnf", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
        let root = dir.dir().to_path_buf();
        let run = |args: &[&str]| openssl(&root, args);
        let mut ca = vec!["req", "-x509"];
        ca.extend(NEW_KEY);
        ca.extend([
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=mm2 test CA",
        ]);
        run(&ca);
        for (name, cn) in [("server", "/CN=localhost"), ("client", "/CN=rest-client")] {
            let (key, csr, crt) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.crt"),
            );
            let mut req = vec!["req"];
            req.extend(NEW_KEY);
            req.extend(["-nodes", "-keyout", &key, "-out", &csr, "-subj", cn]);
            run(&req);
            let mut sign = vec![
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &crt,
            ];
            if name == "server" {
                sign.extend(["-extfile", "san.cnf"]);
            }
            run(&sign);
        }
        let pass = format!("pass:{STORE_PASSWORD}");
        run(&[
            "pkcs12",
            "-export",
            "-in",
            "server.crt",
            "-inkey",
            "server.key",
            "-certfile",
            "ca.crt",
            "-out",
            "server.p12",
            "-passout",
            &pass,
        ]);
        let key_pass = format!("pass:{KEY_PASSWORD}");
        run(&[
            "pkcs8",
            "-topk8",
            "-in",
            "server.key",
            "-out",
            "server-enc.key",
            "-passout",
            &key_pass,
        ]);
        let bundle: String = ["server-enc.key", "server.crt", "ca.crt"]
            .iter()
            .map(|f| std::fs::read_to_string(root.join(f)).unwrap())
            .collect();
        std::fs::write(root.join("server-bundle.pem"), bundle).unwrap();
        Pki {
            ca: root.join("ca.crt"),
            server_cert: root.join("server.crt"),
            server_key: root.join("server.key"),
            server_p12: root.join("server.p12"),
            server_pem_bundle: root.join("server-bundle.pem"),
            client_cert: root.join("client.crt"),
            client_key: root.join("client.key"),
            root,
            _dir: dir,
        }
    }

    /// A file of the PKI's directory.
    pub fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let p = self.root.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }
}

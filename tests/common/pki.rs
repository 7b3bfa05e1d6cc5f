//! A test PKI made with the `openssl` CLI (a root, an intermediate, leaves), for the TLS
//! tests: clients trust the root, and a leaf verifies only if its chain is served.

use super::temp_dir;
use std::path::PathBuf;
use std::process::Command;

/// A test PKI made with the `openssl` CLI: a root the clients trust, an intermediate that
/// signs the leaves (so a leaf verifies only if its chain is served).
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = temp_dir("tls-pki");
        let pki = Pki { dir };
        let ca = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
        pki.write("ca.ext", ca);
        pki.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-days",
            "2",
            "-subj",
            "/CN=test root",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        pki.signed(
            "int",
            "test intermediate",
            ("root.pem", "root.key"),
            "ca.ext",
        );
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path(name), text).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap()
    }

    pub fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("openssl is installed (scripts/install-test-deps.sh)");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `stem.pem` and `stem.key`: a P-256 certificate for `cn` signed by `(cert, key)`.
    pub fn signed(&self, stem: &str, cn: &str, ca: (&str, &str), ext: &str) {
        self.signed_with(stem, &format!("/CN={cn}"), ca, ext, EC);
    }

    /// `stem.pem` and `stem.key`: a certificate with a `key` key (`EC` or `RSA`) for the
    /// subject `subject` signed by `(cert, key)` with the extensions in file `ext`.
    pub fn signed_with(
        &self,
        stem: &str,
        subject: &str,
        (ca, ca_key): (&str, &str),
        ext: &str,
        key_kind: &[&str],
    ) {
        let (key, csr, pem) = (
            format!("{stem}.key"),
            format!("{stem}.csr"),
            format!("{stem}.pem"),
        );
        let request = ["-nodes", "-keyout", &key, "-out", &csr, "-subj", subject];
        self.openssl(&[&["req", "-newkey"], key_kind, &request].concat());
        self.openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            "2",
            "-extfile",
            ext,
        ]);
    }

    /// A leaf for `name` signed by the intermediate: `stem.pem` (the leaf alone), `stem.key`.
    pub fn leaf(&self, stem: &str, name: &str) {
        let ext = format!("{stem}.ext");
        self.write(
            &ext,
            &format!(
                "subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\n\
                 keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
            ),
        );
        self.signed(stem, name, ("int.pem", "int.key"), &ext);
    }

    /// HAProxy's one-file form: leaf, intermediate, key.
    pub fn bundle(&self, stem: &str) -> PathBuf {
        let path = self.path(&format!("{stem}.bundle.pem"));
        let text = self.read(&format!("{stem}.pem")) + &self.read("int.pem");
        std::fs::write(&path, text + &self.read(&format!("{stem}.key"))).unwrap();
        path
    }

    /// A server leaf signed by the intermediate, with `key_kind`'s key, subject `/CN=cn` and
    /// the DNS names `sans`: `stem.pem` (the leaf alone), `stem.key`.
    pub fn server_leaf(&self, stem: &str, cn: &str, sans: &[&str], key_kind: &[&str]) {
        let ext = format!("{stem}.ext");
        let sans: Vec<String> = sans.iter().map(|name| format!("DNS:{name}")).collect();
        let alt = match sans.is_empty() {
            true => String::new(),
            false => format!("subjectAltName={}\n", sans.join(",")),
        };
        self.write(
            &ext,
            &format!(
                "{alt}basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
                 extendedKeyUsage=serverAuth\n"
            ),
        );
        let subject = format!("/CN={cn}");
        self.signed_with(stem, &subject, ("int.pem", "int.key"), &ext, key_kind);
    }
}

/// `openssl req -newkey` arguments for a P-256 key and for a 2048-bit RSA key.
pub const EC: &[&str] = &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
pub const RSA: &[&str] = &["rsa:2048"];

//! TLS as runtime state: session ticket keys (`tls-ticket-keys`, `show tls-keys`, `set ssl
//! tls-key`, the generated key carried over an `-x` upgrade), against the real binary with
//! `openssl s_client`, and the command replies compared byte for byte with the real HAProxy
//! 2.6 on the same files.

mod common;

use common::haproxy::haproxy;
use common::*;
use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The name every test certificate is for.
const NAME: &str = "example.test";

/// A PKI with one leaf for [`NAME`], bundled in one file.
fn site() -> (Pki, PathBuf) {
    let pki = Pki::new();
    pki.leaf("site", NAME);
    let bundle = pki.bundle("site");
    (pki, bundle)
}

/// `count` random keys of `size` bytes, base64, one a line, in `dir/name`.
fn key_file(dir: &Path, name: &str, size: usize, count: usize) -> PathBuf {
    let text: String = (0..count)
        .map(|_| format!("{}\n", random_key(size)))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `openssl rand -base64 SIZE`, its lines joined.
fn random_key(size: usize) -> String {
    let out = Command::new("openssl")
        .args(["rand", "-base64", &size.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .collect()
}

/// A TLS frontend on `port` (one bind per `(port, options)`) in front of `backend`, with an
/// admin socket at `socket`. Valid for HAProxy too.
fn config(socket: &str, binds: &[(u16, String)], crt: &Path, backend: u16) -> String {
    let binds: String = binds
        .iter()
        .map(|(port, options)| {
            format!(
                "    bind 127.0.0.1:{port} ssl crt {} {options}\n",
                crt.display()
            )
        })
        .collect();
    format!(
        "global\n    stats socket {socket} level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 2s\n    timeout server 5s\n\
         frontend fe\n{binds}    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{backend}\n"
    )
}

/// `openssl s_client` through `port`: resumes `session` when `resume`, else saves the
/// session it gets there. Whether it resumed, and whether the response came.
fn s_client(port: u16, root: &Path, session: &Path, resume: bool) -> (bool, bool) {
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", NAME, "-ign_eof", "-CAfile"])
        .arg(root)
        .arg(if resume { "-sess_in" } else { "-sess_out" })
        .arg(session)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let request = format!("GET / HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(request.as_bytes()).unwrap();
    drop(stdin);
    let out = wait_output(child, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout);
    (
        text.contains("Reused, TLSv1.3"),
        text.contains("HTTP/1.1 200 OK"),
    )
}

/// How many of `tries` connections to `port` resumed `session` (each one served).
fn resumptions(port: u16, root: &Path, session: &Path, tries: usize) -> usize {
    (0..tries)
        .filter(|_| {
            let (resumed, served) = s_client(port, root, session, true);
            assert!(served, "the request is answered");
            resumed
        })
        .count()
}

/// Waits until the admin socket at `path` takes connections.
fn wait_socket(path: &Path) {
    wait_for(Duration::from_secs(10), || {
        std::os::unix::net::UnixStream::connect(path).is_ok()
    });
}

#[test]
fn tls_keys_commands_answer_as_haproxy_on_the_same_key_files() {
    let (_pki, bundle) = site();
    let dir = temp_dir("tls-keys");
    let k80 = key_file(&dir, "keys80", 80, 4);
    let k48 = key_file(&dir, "keys48", 48, 3);
    let server = backend("s1", "ok", &[]);
    let new48 = random_key(48);
    let new80 = random_key(80);
    let commands = [
        "show tls-keys".to_string(),
        "show tls-keys *".to_string(),
        "show tls-keys #1".to_string(),
        format!("show tls-keys {}", k48.display()),
        "show tls-keys 1".to_string(),
        "show tls-keys #2".to_string(),
        "set ssl tls-key".to_string(),
        "set ssl tls-key #0".to_string(),
        format!("set ssl tls-key 0 {new48}"),
        "set ssl tls-key #0 not-base64!".to_string(),
        format!("set ssl tls-key #0 {new80}"),
        format!("set ssl tls-key #1 {new80}"),
        format!("set ssl tls-key {} {new48}", k48.display()),
        "show tls-keys *".to_string(),
    ];
    let answers = |socket: &Path| -> Vec<String> {
        (commands.iter())
            .map(|c| admin(socket, c))
            .collect::<Vec<_>>()
    };
    let binds = |first: u16| {
        vec![
            (first, format!("tls-ticket-keys {}", k80.display())),
            (free_port(), format!("tls-ticket-keys {}", k48.display())),
            (free_port(), String::new()),
        ]
    };
    let ours = {
        let socket = dir.join("ours.sock");
        let port = free_port();
        let text = config(
            socket.to_str().unwrap(),
            &binds(port),
            &bundle,
            server.port(),
        );
        let _p = pointsman(&text, 2, port);
        wait_socket(&socket);
        answers(&socket)
    };
    let theirs = {
        let socket = dir.join("theirs.sock");
        let port = free_port();
        let text = config(
            socket.to_str().unwrap(),
            &binds(port),
            &bundle,
            server.port(),
        );
        let _h = haproxy(&text, port);
        wait_socket(&socket);
        answers(&socket)
    };
    for ((command, ours), theirs) in commands.iter().zip(&ours).zip(&theirs) {
        assert_eq!(ours, theirs, "{command}");
    }
    assert!(ours[13].contains(&format!("0.2 {new48}\n")), "{}", ours[13]);
}

#[test]
fn key_file_errors_are_haproxys() {
    let dir = temp_dir("tls-keys-bad");
    let (_pki, bundle) = site();
    let k48 = key_file(&dir, "k48", 48, 3);
    let lines = std::fs::read_to_string(&k48).unwrap();
    let first_two: String = lines.lines().take(2).map(|l| format!("{l}\n")).collect();
    let cases = [
        (
            "two",
            first_two.clone(),
            "please supply at least 3 keys in the tls-tickets-file",
        ),
        (
            "bad",
            format!("{first_two}zz!!\n"),
            "unable to decode base64 key on line 3",
        ),
        (
            "mixed",
            format!("{first_two}{}\n", random_key(80)),
            "wrong sized key on line 3",
        ),
    ];
    for (name, text, message) in cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let cfg = config(
            "/dev/null/none",
            &[(1, format!("tls-ticket-keys {}", path.display()))],
            &bundle,
            2,
        );
        let (code, out) = check_config(&cfg);
        assert_ne!(code, 0, "{name}: {out}");
        assert!(
            out.contains(&format!("'{}' : {message}", path.display())),
            "{name}: {out}"
        );
    }
    let missing = config(
        "/dev/null/none",
        &[(1, "tls-ticket-keys /nonexistent".into())],
        &bundle,
        2,
    );
    let (_, out) = check_config(&missing);
    assert!(
        out.contains("'/nonexistent' : unable to load ssl tickets keys file"),
        "{out}"
    );
}

/// Two processes reading the same key file open each other's tickets; once `set ssl
/// tls-key` has pushed the sealing key out of the ring (two new keys), the session no
/// longer resumes.
#[test]
fn the_key_file_seals_tickets_and_set_ssl_tls_key_rotates_them_out() {
    let (pki, bundle) = site();
    let dir = temp_dir("tls-keys-use");
    let keys = key_file(&dir, "keys", 80, 3);
    let server = backend("s1", "ok", &[]);
    let root = pki.path("root.pem");
    let session = dir.join("session.pem");
    let start = |name: &str| {
        let socket = dir.join(format!("{name}.sock"));
        let port = free_port();
        let option = format!("tls-ticket-keys {}", keys.display());
        let text = config(
            socket.to_str().unwrap(),
            &[(port, option)],
            &bundle,
            server.port(),
        );
        let running = pointsman(&text, 2, port);
        wait_socket(&socket);
        (running, socket, port)
    };
    let (_first, first, first_port) = start("first");
    let (second, _, second_port) = start("second");
    let (resumed, served) = s_client(first_port, &root, &session, false);
    assert!(!resumed && served, "a full handshake first");
    let tries = 10;
    assert_eq!(
        resumptions(second_port, &root, &session, tries),
        tries,
        "the other process opens the ticket"
    );
    let reply = admin(&first, &format!("set ssl tls-key #0 {}", random_key(80)));
    assert_eq!(reply, "TLS ticket key updated!\n\n");
    assert_eq!(
        resumptions(first_port, &root, &session, tries),
        tries,
        "one new key: the sealing key still opens"
    );
    admin(&first, &format!("set ssl tls-key #0 {}", random_key(80)));
    assert_eq!(
        resumptions(first_port, &root, &session, tries),
        0,
        "two new keys: on every shard, the sealing key is gone"
    );
    assert_eq!(
        resumptions(second_port, &root, &session, 2),
        2,
        "the other process did not change"
    );
    drop(second);
}

/// Without `tls-ticket-keys`, the key generated at start goes over an `-x` upgrade: a
/// client's session from the old process resumes on every shard of the new one.
#[test]
fn sessions_resume_across_an_x_upgrade() {
    let (pki, bundle) = site();
    let dir = temp_dir("tls-upgrade");
    let server = backend("s1", "ok", &[]);
    let socket = dir.join("admin.sock");
    let port = free_port();
    let text = config(
        socket.to_str().unwrap(),
        &[(port, String::new())],
        &bundle,
        server.port(),
    )
    .replace("level admin", "level admin expose-fd listeners");
    let cfg = dir.join("pointsman.cfg");
    std::fs::write(&cfg, text).unwrap();
    let start = |extra: &[&str]| {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("-f"),
            cfg.as_os_str(),
            OsStr::new("--shards"),
            OsStr::new("2"),
        ];
        args.extend(extra.iter().map(OsStr::new));
        spawn_pointsman(&args, Some(&dir.join("pointsman.log")))
    };
    let mut old = start(&[]);
    wait_for_port(port, Duration::from_secs(10));
    let old_pid = wait_for_new_pid(&socket, None, Duration::from_secs(10));
    let (root, session) = (pki.path("root.pem"), dir.join("session.pem"));
    let (resumed, served) = s_client(port, &root, &session, false);
    assert!(!resumed && served, "a full handshake first");
    let pid = old_pid.to_string();
    let mut new = start(&["-x", socket.to_str().unwrap(), "-sf", &pid]);
    wait_for_new_pid(&socket, Some(old_pid), Duration::from_secs(10));
    assert_eq!(old.wait_exit(Duration::from_secs(15)), Some(0));
    let tries = 20;
    let resumed = resumptions(port, &root, &session, tries);
    println!("resumption rate after the upgrade, 2 shards: {resumed}/{tries}");
    assert_eq!(
        resumed, tries,
        "every connection resumes on the new process"
    );
    new.signal(libc::SIGUSR1);
    assert_eq!(new.wait_exit(Duration::from_secs(15)), Some(0));
}

/// The subject of the certificate `openssl s_client` got from `port` for [`NAME`].
fn served_subject(port: u16) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", NAME])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|l| l.starts_with("subject="));
    line.unwrap_or_else(|| panic!("no subject in {text}"))
        .to_string()
}

/// The same `set|commit|abort ssl cert` sequence on pointsman and HAProxy: the same replies
/// (the transaction's mistakes, bad payloads, a key of another certificate, the commit).
#[test]
fn cert_transactions_answer_as_haproxy() {
    let (pki, bundle) = site();
    pki.server_leaf("next", "next.example", &[NAME], EC);
    let next = pki.read("next.pem") + &pki.read("int.pem") + &pki.read("next.key");
    let wrong_key = pki.read("next.pem") + &pki.read("site.key");
    let file = bundle.display().to_string();
    let dir = temp_dir("cert-tx");
    let server = backend("s1", "ok", &[]);
    let steps: Vec<String> = vec![
        "show ssl cert".into(),
        format!("commit ssl cert {file}"),
        format!("abort ssl cert {file}"),
        format!("set ssl cert {file} <<\nnot a certificate\n"),
        format!("set ssl cert /nope.pem <<\n{next}"),
        format!("set ssl cert {file} <<\n{wrong_key}"),
        format!("commit ssl cert {file}"),
        format!("set ssl cert {file} <<\n{next}"),
        "show ssl cert".into(),
        format!("commit ssl cert /other.pem"),
        format!("abort ssl cert /other.pem"),
        format!("commit ssl cert {file}"),
        "show ssl cert".into(),
        "commit ssl cert".into(),
        "abort ssl cert".into(),
    ];
    let answers = |socket: &Path| -> Vec<String> {
        (steps.iter())
            .map(|step| match step.split_once(" <<\n") {
                Some((line, payload)) => {
                    let input = format!("{line} <<\n{}\n\n", payload.trim_end());
                    socat(&format!("UNIX-CONNECT:{}", socket.display()), &input)
                }
                None => admin(socket, step),
            })
            .collect()
    };
    let run = |name: &str, haproxy_too: bool| {
        let socket = dir.join(format!("{name}.sock"));
        let port = free_port();
        let binds = [(port, String::new()), (free_port(), String::new())];
        let text = config(socket.to_str().unwrap(), &binds, &bundle, server.port());
        if haproxy_too {
            let _h = haproxy(&text, port);
            wait_socket(&socket);
            answers(&socket)
        } else {
            let _p = pointsman(&text, 2, port);
            wait_socket(&socket);
            answers(&socket)
        }
    };
    let ours = run("ours", false);
    let theirs = run("theirs", true);
    for ((step, ours), theirs) in steps.iter().zip(&ours).zip(&theirs) {
        let line = step.lines().next().unwrap();
        assert_eq!(ours, theirs, "{line}");
    }
}

/// A commit under constant TLS load on 2 shards: no request fails, and every handshake
/// afterwards, on either shard, presents the new certificate.
#[test]
fn a_committed_certificate_is_served_by_every_shard_and_no_request_fails() {
    let (pki, bundle) = site();
    pki.server_leaf("next", "next.example", &[NAME], EC);
    let next = pki.read("next.pem") + &pki.read("int.pem") + &pki.read("next.key");
    let server = backend("s1", "ok", &[]);
    let dir = temp_dir("cert-commit");
    let socket = dir.join("admin.sock");
    let port = free_port();
    let text = config(
        socket.to_str().unwrap(),
        &[(port, String::new())],
        &bundle,
        server.port(),
    );
    let _p = pointsman(&text, 2, port);
    wait_socket(&socket);
    assert!(served_subject(port).contains("CN = example.test"));
    let root = pki.path("root.pem");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (stop, root) = (stop.clone(), root.clone());
        std::thread::spawn(move || {
            let (mut done, mut failed) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && done < 2000 {
                let out = Command::new("curl")
                    .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
                    .arg(&root)
                    .args(["--resolve", &format!("{NAME}:{port}:127.0.0.1")])
                    .arg(format!("https://{NAME}:{port}/"))
                    .output()
                    .unwrap();
                done += 1;
                if out.stdout != b"200" {
                    failed += 1;
                }
            }
            (done, failed)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let file = bundle.display();
    let input = format!("set ssl cert {file} <<\n{}\n\n", next.trim_end());
    let created = socat(&format!("UNIX-CONNECT:{}", socket.display()), &input);
    assert_eq!(
        created,
        format!("Transaction created for certificate {file}!\n\n")
    );
    let committed = admin(&socket, &format!("commit ssl cert {file}"));
    assert_eq!(committed, format!("Committing {file}.\nSuccess!\n\n"));
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (done, failed) = load.join().unwrap();
    println!("{done} HTTPS requests during the commit, {failed} failed");
    assert!(done > 5, "the load ran: {done}");
    assert_eq!(failed, 0, "no request fails during the commit");
    for _ in 0..10 {
        let subject = served_subject(port);
        assert!(subject.contains("CN = next.example"), "{subject}");
    }
}

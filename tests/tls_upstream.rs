//! TLS to servers (`server … ssl verify required ca-file F sni EXPR`): the real binary in
//! front of a real nginx TLS listener, certificates made by the `openssl` CLI for each test,
//! and the same config run by the real HAProxy 2.6 where it defines what a client gets.
//! nginx logs, per request, its connection number and whether the TLS session was resumed:
//! that is how the tests count handshakes and pooled connections.

mod common;

use common::haproxy::{assert_refused_by_both, haproxy};
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The name the server certificates are for (and two more for per-request SNI).
const NAME: &str = "backend.test";
const NAMES: [&str; 2] = ["a.backend.test", "b.backend.test"];

/// nginx's log line per request: connection number, `r` if the session was resumed (else
/// `.`), protocol, the SNI it got.
const LOG_FORMAT: &str =
    "log_format tls '$connection $ssl_session_reused $ssl_protocol $ssl_server_name';";

/// A root CA, a server leaf it signs for [`NAME`] and [`NAMES`], and an unrelated CA.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki {
            dir: temp_dir("tls-upstream-pki"),
        };
        pki.root("root");
        pki.root("other");
        let sans: Vec<String> = std::iter::once(NAME)
            .chain(NAMES)
            .map(|n| format!("DNS:{n}"))
            .collect();
        std::fs::write(
            pki.path("leaf.ext"),
            format!(
                "subjectAltName={}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 extendedKeyUsage=serverAuth\n",
                sans.join(",")
            ),
        )
        .unwrap();
        pki.openssl(&[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=backend.test",
        ]);
        pki.openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ]);
        pki
    }

    /// `stem.pem` / `stem.key`: a self-signed P-256 CA.
    fn root(&self, stem: &str) {
        let (key, pem, subject) = (
            format!("{stem}.key"),
            format!("{stem}.pem"),
            format!("/CN=test {stem}"),
        );
        self.openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn openssl(&self, args: &[&str]) {
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
}

/// A private nginx serving `name` over TLS on `port` with the PKI's leaf, logging each
/// request in [`LOG_FORMAT`] to `tls.log` in its directory; `extra` goes in its server block.
fn tls_server(pki: &Pki, name: &str, port: u16, extra: &str) -> (Nginx, PathBuf) {
    let log = temp_dir(&format!("nginx-log-{name}")).join("tls.log");
    let server_extra = format!("access_log {} tls;\n    {extra}", log.display());
    let keys = (pki.path("leaf.pem"), pki.path("leaf.key"));
    let nginx = nginx_tls(name, port, (&keys.0, &keys.1), LOG_FORMAT, &server_extra);
    (nginx, log)
}

/// nginx's log lines, split in words, once there are `count` of them (nginx writes a
/// line after the response is sent).
fn log_lines(log: &Path, count: usize) -> Vec<Vec<String>> {
    let read = || -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let words = |line: &str| line.split(' ').map(str::to_string).collect();
        text.lines().map(words).collect()
    };
    wait_for(Duration::from_secs(5), || read().len() >= count);
    read()
}

/// The config both proxies run: `frontend fe` on `port` in front of `backend bk` whose
/// server lines are `servers`.
fn config(port: u16, servers: &str) -> String {
    format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n{servers}"
    )
}

/// `config` with the admin socket pointsman's harness fills in.
fn with_socket(config: &str) -> String {
    format!("global\n    stats socket @SOCKET@ mode 600 level admin\n{config}")
}

/// `count` GETs of `/`, each on a new client connection; the statuses and bodies.
fn statuses(port: u16, count: usize) -> Vec<(u16, String)> {
    (0..count)
        .map(|_| match get(port, "/") {
            Ok(r) => (r.status, String::from_utf8_lossy(&r.body).into_owned()),
            Err(e) => (0, e.to_string()),
        })
        .collect()
}

#[test]
fn requests_reach_a_verified_tls_server_over_one_pooled_connection_as_through_haproxy() {
    let pki = Pki::new();
    let (_nginx, log) = tls_server(&pki, "tls1", free_port(), "");
    let server = format!(
        "    server s1 127.0.0.1:{} ssl verify required ca-file {} sni str({NAME})\n",
        _nginx.port,
        pki.path("root.pem").display()
    );
    let port = free_port();
    let _p = pointsman(&with_socket(&config(port, &server)), 1, port);
    let answers = statuses(port, 20);
    assert!(
        answers
            .iter()
            .all(|(status, body)| *status == 200 && body == "tls1"),
        "{answers:?}"
    );
    let lines = log_lines(&log, 20);
    assert_eq!(lines.len(), 20, "{lines:?}");
    let connections: std::collections::HashSet<&str> =
        lines.iter().map(|l| l[0].as_str()).collect();
    assert_eq!(
        connections.len(),
        1,
        "one pooled connection carries all: {lines:?}"
    );
    assert!(
        lines.iter().all(|l| l[2] == "TLSv1.3" && l[3] == NAME),
        "TLS 1.3 with the SNI: {lines:?}"
    );
    let hport = free_port();
    let _h = haproxy(&config(hport, &server), hport);
    let through_haproxy = statuses(hport, 5);
    assert!(
        through_haproxy
            .iter()
            .all(|(s, b)| *s == 200 && b == "tls1"),
        "{through_haproxy:?}"
    );
}

#[test]
fn a_new_connection_resumes_the_tls_session_unless_no_ssl_reuse() {
    let pki = Pki::new();
    // The server closes after each request: every request needs a new connection.
    let (_nginx, log) = tls_server(&pki, "tls1", free_port(), "keepalive_requests 1;");
    let root = pki.path("root.pem");
    for (options, resumed) in [("", true), (" no-ssl-reuse", false)] {
        let _ = std::fs::remove_file(&log);
        let server = format!(
            "    server s1 127.0.0.1:{} ssl verify required ca-file {}{options}\n",
            _nginx.port,
            root.display()
        );
        let port = free_port();
        let p = pointsman(&with_socket(&config(port, &server)), 1, port);
        // nginx reopens its log on USR1; a removed log is then created afresh.
        _nginx.proc.signal(libc::SIGUSR1);
        std::thread::sleep(Duration::from_millis(200));
        let answers = statuses(port, 10);
        assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
        let lines = log_lines(&log, 10);
        let reused = lines.iter().filter(|l| l[1] == "r").count();
        let connections: std::collections::HashSet<&str> =
            lines.iter().map(|l| l[0].as_str()).collect();
        assert_eq!(connections.len(), 10, "{options}: {lines:?}");
        match resumed {
            true => assert_eq!(reused, 9, "all but the first resume: {lines:?}"),
            false => assert_eq!(reused, 0, "no-ssl-reuse: {lines:?}"),
        }
        drop(p);
    }
}

#[test]
fn the_sni_expression_names_each_request_and_pools_by_name() {
    let pki = Pki::new();
    let (_nginx, log) = tls_server(&pki, "tls1", free_port(), "");
    let server = format!(
        "    server s1 127.0.0.1:{} ssl verify required ca-file {} sni req.hdr(host)\n",
        _nginx.port,
        pki.path("root.pem").display()
    );
    let port = free_port();
    let _p = pointsman(&with_socket(&config(port, &server)), 1, port);
    for i in 0..6 {
        let host = NAMES[i % 2];
        let mut client = Client::connect(port);
        client.send(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        let response = client.read_response(false).unwrap();
        assert_eq!(response.status, 200);
    }
    let lines = log_lines(&log, 6);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line[3], NAMES[i % 2], "{lines:?}");
    }
    let by_name = |name: &str| -> std::collections::HashSet<String> {
        (lines.iter().filter(|l| l[3] == name))
            .map(|l| l[0].clone())
            .collect()
    };
    let (a, b) = (by_name(NAMES[0]), by_name(NAMES[1]));
    assert_eq!(
        (a.len(), b.len()),
        (1, 1),
        "one connection per name: {lines:?}"
    );
    assert!(a.is_disjoint(&b), "never one for both names: {lines:?}");
}

#[test]
fn verify_required_with_the_wrong_ca_is_a_503_as_haproxy_answers() {
    let pki = Pki::new();
    let (_nginx, log) = tls_server(&pki, "tls1", free_port(), "");
    let server = format!(
        "    server s1 127.0.0.1:{} ssl verify required ca-file {} sni str({NAME})\n",
        _nginx.port,
        pki.path("other.pem").display()
    );
    let port = free_port();
    let _p = pointsman(&with_socket(&config(port, &server)), 1, port);
    let hport = free_port();
    let _h = haproxy(&config(hport, &server), hport);
    for (who, port) in [("pointsman", port), ("haproxy", hport)] {
        let answers = statuses(port, 2);
        assert!(answers.iter().all(|(s, _)| *s == 503), "{who}: {answers:?}");
    }
    std::thread::sleep(Duration::from_millis(300));
    let lines = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(lines.is_empty(), "no request reached the server: {lines}");
}

#[test]
fn a_tls_server_without_a_ca_file_is_refused_as_haproxy_refuses_it() {
    let text = config(1, "    server s1 127.0.0.1:2 ssl\n");
    assert_refused_by_both(
        &text,
        "t.cfg:10",
        "verify is enabled by default but no CA file specified",
    );
    let text = config(
        1,
        "    default-server ssl verify required\n    server s1 127.0.0.1:2\n",
    );
    assert_refused_by_both(&text, "t.cfg:11", "no CA file specified");
    let accepted = config(
        1,
        "    default-server ssl\n    server s1 127.0.0.1:2 verify none\n",
    );
    assert_eq!(check_config(&accepted).0, 0, "{accepted}");
}

#[test]
fn switching_a_tls_server_off_and_on_under_load_loses_no_request() {
    let pki = Pki::new();
    let (n1, _) = tls_server(&pki, "tls1", free_port(), "");
    let (n2, _) = tls_server(&pki, "tls2", free_port(), "");
    let root = pki.path("root.pem");
    let servers = format!(
        "    default-server ssl verify required ca-file {} sni str({NAME})\n\
         \x20   server s1 127.0.0.1:{}\n    server s2 127.0.0.1:{}\n",
        root.display(),
        n1.port,
        n2.port
    );
    let port = free_port();
    let p = pointsman(&with_socket(&config(port, &servers)), 2, port);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                let mut client = Client::connect(port);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && answers.len() < 5000 {
                    match client.get("/") {
                        Ok(r) => answers.push((r.status, String::from_utf8_lossy(&r.body).into())),
                        Err(e) => answers.push((0, e.to_string())),
                    }
                }
                answers
            })
        })
        .collect();
    let started = Instant::now();
    for round in 0..6 {
        std::thread::sleep(Duration::from_millis(200));
        let verb = if round % 2 == 0 { "disable" } else { "enable" };
        assert_eq!(p.admin(&format!("{verb} server bk/s1")), "\n");
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answers: Vec<(u16, String)> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let failed: Vec<_> = answers.iter().filter(|(s, _)| *s != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {}: {:?}",
        failed.len(),
        answers.len(),
        &failed[..failed.len().min(5)]
    );
    let on_s1 = answers.iter().filter(|(_, b)| b == "tls1").count();
    assert!(
        on_s1 > 0 && on_s1 < answers.len() && answers.len() > 100,
        "both servers served {} requests in {:?}",
        answers.len(),
        started.elapsed()
    );
}

/// `show stat`'s status, check status and last check info of `bk/s1` through `socket`,
/// read between two checks (HAProxy marks a check in progress with `* ` and no info).
fn check_columns(socket: &Path) -> (String, String, String) {
    let mut columns = stat_columns(socket);
    let deadline = Instant::now() + Duration::from_secs(2);
    while columns.1.starts_with("* ") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        columns = stat_columns(socket);
    }
    columns
}

fn stat_columns(socket: &Path) -> (String, String, String) {
    let rows = stat_rows(&admin(socket, "show stat"));
    let row = rows
        .iter()
        .find(|r| r["pxname"] == "bk" && r["svname"] == "s1")
        .expect("bk/s1 in show stat");
    let column = |name: &str| row.get(name).cloned().unwrap_or_default();
    (column("status"), column("check_status"), column("last_chk"))
}

#[test]
fn tls_health_checks_pass_and_fail_as_haproxy_reports_them() {
    let pki = Pki::new();
    let (_nginx, _) = tls_server(&pki, "tls1", free_port(), "");
    let cases = [
        // A check over TLS alone: the handshake is the check.
        (
            "root.pem",
            "check-ssl check-sni backend.test",
            ("UP", "L6OK", ""),
        ),
        (
            "other.pem",
            "check-ssl check-sni backend.test",
            ("DOWN", "L6RSP", "SSL handshake failure"),
        ),
        // `ssl` carries the checks over TLS too; an HTTP check then runs inside it.
        (
            "root.pem",
            "ssl check sni str(backend.test) check-sni backend.test",
            ("UP", "L7OK", ""),
        ),
    ];
    for (ca, options, (status, check_status, info)) in cases {
        let option_httpchk = if options.starts_with("ssl") {
            "    option httpchk GET /\n"
        } else {
            ""
        };
        let servers = format!(
            "{option_httpchk}    server s1 127.0.0.1:{} verify required ca-file {} check inter 200 fall 1 rise 1 {options}\n",
            _nginx.port,
            pki.path(ca).display()
        );
        let port = free_port();
        let p = pointsman_logged(&with_socket(&config(port, &servers)), 1, port);
        let hport = free_port();
        let socket = temp_dir("tls-check-haproxy").join("h.sock");
        let haproxy_config = format!(
            "global\n    stats socket {} level admin\n{}",
            socket.display(),
            config(hport, &servers)
        );
        let _h = haproxy(&haproxy_config, hport);
        std::thread::sleep(Duration::from_millis(800));
        let expected = (
            status.to_string(),
            check_status.to_string(),
            info.to_string(),
        );
        assert_eq!(
            check_columns(&socket),
            expected,
            "haproxy, {options} ({ca})"
        );
        // pointsman leaves `last_chk` empty (all checks alike): its log line says the info.
        let (status, check_status, _) = check_columns(&p.socket);
        let pointsman = (status, check_status);
        assert_eq!(
            pointsman,
            (expected.0, expected.1),
            "pointsman, {options} ({ca})"
        );
        if !info.is_empty() {
            let said = format!("reason: Layer6 invalid response, info: \"{info}\"");
            assert!(p.log().contains(&said), "{said}: {}", p.log());
        }
    }
}

#[test]
fn the_httplog_line_marks_a_tls_frontend_with_a_tilde() {
    use std::io::BufRead;
    let pki = Pki::new();
    let bundle = pki.path("leaf.bundle.pem");
    let text = std::fs::read_to_string(pki.path("leaf.pem")).unwrap()
        + &std::fs::read_to_string(pki.path("leaf.key")).unwrap();
    std::fs::write(&bundle, text).unwrap();
    let _backend = nginx("plain", "ok", free_port());
    let (tls_port, plain_port) = (free_port(), free_port());
    let text = format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n\
         defaults\n    mode http\n    log stdout format raw local0\n    option httplog\n\
         \x20   timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{tls_port} ssl crt {}\n    bind 127.0.0.1:{plain_port}\n\
         \x20   default_backend bk\nbackend bk\n    server s1 127.0.0.1:{}\n",
        bundle.display(),
        _backend.port
    );
    let mut p = pointsman_with_stdout(&text, 1, plain_port, std::process::Stdio::piped());
    let resolve = format!("{NAME}:{tls_port}:127.0.0.1");
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(pki.path("root.pem"))
        .args([
            "--resolve",
            &resolve,
            &format!("https://{NAME}:{tls_port}/"),
        ])
        .output()
        .expect("curl is installed");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ok", "{out:?}");
    assert_eq!(get(plain_port, "/").unwrap().status, 200);
    let stdout = p.proc.child.stdout.take().expect("stdout piped");
    let lines: Vec<String> = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .take(2)
        .collect();
    assert!(lines[0].contains("] fe~ bk/s1 "), "TLS: {lines:?}");
    assert!(lines[1].contains("] fe bk/s1 "), "plain: {lines:?}");
}

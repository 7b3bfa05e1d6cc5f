//! TLS on a bind (`bind ADDR ssl crt FILE [alpn LIST]`): real clients (curl, `openssl
//! s_client`, raw sockets) against the real binary, certificates made by the `openssl` CLI for
//! each test (a root, an intermediate and leaves), and the same probes against the real
//! HAProxy 2.6 where it defines what a client gets.

mod common;

use common::haproxy::haproxy;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The name every test certificate is for; clients reach it with `--resolve`.
const NAME: &str = "example.test";

/// A PKI with one leaf for [`NAME`], bundled in one file.
fn site() -> (Pki, PathBuf) {
    let pki = Pki::new();
    pki.leaf("site", NAME);
    let bundle = pki.bundle("site");
    (pki, bundle)
}

/// A frontend terminating TLS on `port` with `crt` in front of `backend` (mode `mode`,
/// `timeout client 1s` so handshakes that stall end quickly). Valid for HAProxy too.
fn tls_config(mode: &str, port: u16, crt: &Path, backend: u16) -> String {
    format!(
        "defaults\n    mode {mode}\n    timeout connect 1s\n    timeout client 1s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port} ssl crt {} alpn http/1.1\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{backend}\n",
        crt.display()
    )
}

/// curl to `https://example.test:PORT` + each path, trusting `root`: its stdout (the bodies,
/// each followed by `-w`'s `write_out`) or a panic with its stderr.
fn curl(port: u16, root: &Path, paths: &[&str], write_out: &str) -> String {
    let root = root.display().to_string();
    let resolve = format!("{NAME}:{port}:127.0.0.1");
    let mut args = vec!["--cacert", &root, "--resolve", &resolve, "-w", write_out];
    let urls: Vec<String> = paths
        .iter()
        .map(|path| format!("https://{NAME}:{port}{path}"))
        .collect();
    let (last, first) = urls.split_last().expect("a path");
    args.extend(first.iter().map(String::as_str));
    curl_args(&args, last)
}

#[test]
fn https_requests_reach_the_backend_over_one_kept_alive_tls_connection() {
    let (pki, bundle) = site();
    let server = backend("s1", "hello over tls", &[]);
    let port = free_port();
    let _p = pointsman(&tls_config("http", port, &bundle, server.port()), 2, port);
    let out = curl(
        port,
        &pki.path("root.pem"),
        &["/a", "/b"],
        " [%{http_code} %{http_version} connects=%{num_connects} verify=%{ssl_verify_result}]\n",
    );
    assert_eq!(
        out,
        "hello over tls [200 1.1 connects=1 verify=0]\nhello over tls [200 1.1 connects=0 verify=0]\n",
        "both requests reach the backend over one verified TLS connection"
    );
    assert_eq!(server.count(), 2);
}

#[test]
fn openssl_s_client_gets_the_chain_alpn_http_1_1_and_a_response() {
    let (pki, bundle) = site();
    let server = backend("s1", "via s_client", &[]);
    let port = free_port();
    let _p = pointsman(&tls_config("http", port, &bundle, server.port()), 1, port);
    let mut child = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            NAME,
        ])
        .args([
            "-alpn",
            "h2,http/1.1",
            "-verify_return_error",
            "-ign_eof",
            "-CAfile",
        ])
        .arg(pki.path("root.pem"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let request = format!("GET / HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let out = wait_output(child, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ALPN protocol: http/1.1"), "{text}");
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    assert!(
        text.contains("1 s:CN = test intermediate"),
        "the intermediate from the crt file is sent: {text}"
    );
    assert!(text.contains("HTTP/1.1 200 OK"), "{text}");
    assert!(text.contains("via s_client"), "{text}");
}

#[test]
fn a_key_in_file_dot_key_beside_a_certificate_under_crt_base_is_used() {
    let pki = Pki::new();
    pki.leaf("site", NAME);
    let chain = pki.path("chain.pem");
    std::fs::write(chain, pki.read("site.pem") + &pki.read("int.pem")).unwrap();
    std::fs::copy(pki.path("site.key"), pki.path("chain.pem.key")).unwrap();
    let server = backend("s1", "key beside", &[]);
    let port = free_port();
    // Named relative to `crt-base`, as HAProxy resolves it.
    let text = format!(
        "global\n    crt-base {}\n{}",
        pki.dir.display(),
        tls_config("http", port, Path::new("chain.pem"), server.port())
    );
    let _p = pointsman(&text, 1, port);
    assert_eq!(
        curl(port, &pki.path("root.pem"), &["/"], " %{http_code}"),
        "key beside 200"
    );
}

#[test]
fn the_stats_page_is_served_over_tls() {
    let (pki, bundle) = site();
    let server = backend("s1", "x", &[]);
    let port = free_port();
    let text = tls_config("http", port, &bundle, server.port()).replace(
        "    default_backend bk\n",
        "    default_backend bk\n    stats enable\n    stats uri /stats\n",
    );
    let _p = pointsman(&text, 1, port);
    let page = curl(port, &pki.path("root.pem"), &["/stats;csv"], "");
    assert!(page.starts_with("# pxname,svname,"), "{page}");
    assert!(page.contains("\nbk,s1,"), "{page}");
}

#[test]
fn mode_tcp_relays_the_decrypted_stream() {
    let (pki, bundle) = site();
    let server = backend("s1", "tcp over tls", &[]);
    let port = free_port();
    let _p = pointsman(&tls_config("tcp", port, &bundle, server.port()), 1, port);
    let out = curl(
        port,
        &pki.path("root.pem"),
        &["/", "/again"],
        " %{http_code}\n",
    );
    assert_eq!(out, "tcp over tls 200\ntcp over tls 200\n");
}

/// What a client that sends `payload` and then waits gets back, and how long until the
/// connection closed (`None`: still open after 4 s).
fn probe(port: u16, payload: &[u8]) -> (Vec<u8>, Option<Duration>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.write_all(payload).unwrap();
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_secs(4)))
        .unwrap();
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return (received, Some(started.elapsed())),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (received, Some(started.elapsed()))
            }
            Err(_) => return (received, None),
        }
    }
}

/// A plain HTTP request, random bytes, a truncated ClientHello and silence on a TLS port:
/// each gets exactly what HAProxy 2.6 gives it (a close with nothing sent; the last two after
/// `timeout client`), and a real client is served right after each.
#[test]
fn non_tls_and_stalled_clients_get_what_haproxy_gives_them_and_the_next_client_is_served() {
    let (pki, bundle) = site();
    let server = backend("s1", "served", &[]);
    let (ours, theirs) = (free_port(), free_port());
    let _p = pointsman(&tls_config("http", ours, &bundle, server.port()), 1, ours);
    let _h = haproxy(&tls_config("http", theirs, &bundle, server.port()), theirs);
    let random: Vec<u8> = (0..300u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let cases: [(&str, &[u8], bool); 4] = [
        ("plain HTTP", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", false),
        ("random bytes", &random, false),
        (
            "truncated ClientHello",
            &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01],
            true,
        ),
        ("silence", b"", true),
    ];
    for (what, payload, waits_for_timeout) in cases {
        let (our_bytes, our_close) = probe(ours, payload);
        let (their_bytes, their_close) = probe(theirs, payload);
        assert_eq!(our_bytes, their_bytes, "{what}: the bytes sent back");
        assert!(our_bytes.is_empty(), "{what}: nothing is sent back");
        let our_close = our_close.unwrap_or_else(|| panic!("{what}: still open after 4 s"));
        let their_close = their_close.expect("haproxy closes");
        if waits_for_timeout {
            assert!(
                our_close >= Duration::from_millis(900) && our_close < Duration::from_millis(2500),
                "{what}: closed after timeout client (1s), as HAProxy ({their_close:?}): {our_close:?}"
            );
        } else {
            assert!(
                our_close < Duration::from_millis(500),
                "{what}: closed at once, as HAProxy ({their_close:?}): {our_close:?}"
            );
        }
        let out = curl(ours, &pki.path("root.pem"), &["/"], "");
        assert_eq!(out, "served", "{what}: the next client is served");
    }
}

/// A stalled handshake costs only its own connection: clients keep being served meanwhile.
#[test]
fn clients_are_served_while_other_handshakes_stall() {
    let (pki, bundle) = site();
    let server = backend("s1", "served", &[]);
    let port = free_port();
    let text = tls_config("http", port, &bundle, server.port())
        .replace("timeout client 1s", "timeout client 10s");
    let _p = pointsman(&text, 1, port);
    let stalled: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(&[0x16, 0x03, 0x01, 0x02]).unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    assert_eq!(curl(port, &pki.path("root.pem"), &["/"], ""), "served");
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(stalled);
}

/// Reads `proc`'s standard output lines into a channel.
fn stdout_lines(p: &mut Pointsman) -> mpsc::Receiver<String> {
    let stdout = p.proc.child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

#[test]
fn failed_handshakes_are_logged_in_haproxys_words() {
    let (_pki, bundle) = site();
    let server = backend("s1", "x", &[]);
    let port = free_port();
    let text = format!(
        "global\n    log stdout format raw local0\n{}",
        tls_config("http", port, &bundle, server.port()).replace(
            "defaults\n",
            "defaults\n    log global\n    option httplog\n"
        )
    );
    let mut p = pointsman_with_stdout(&text, 1, port, Stdio::piped());
    let lines = stdout_lines(&mut p);
    // The harness's wait for the port was a connection closed without a byte.
    let first = lines.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        first.ends_with("] fe/1: Connection closed during SSL handshake"),
        "{first}"
    );
    probe(port, b"GET / HTTP/1.1\r\n\r\n");
    let refused = lines.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(refused.starts_with("127.0.0.1:"), "{refused}");
    assert!(
        refused.ends_with("] fe/1: SSL handshake failure"),
        "{refused}"
    );
    probe(port, b"");
    let timed_out = lines.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(
        timed_out.ends_with("] fe/1: Timeout during SSL handshake"),
        "{timed_out}"
    );
}

#[test]
fn certificate_and_bind_option_errors_name_the_bind_line() {
    let pki = Pki::new();
    pki.leaf("site", NAME);
    let config = |bind_options: &str| {
        format!(
            "defaults\n    mode http\n    timeout client 1s\n\
             frontend fe\n    bind 127.0.0.1:8443 {bind_options}\n    default_backend bk\n\
             backend bk\n    server s1 127.0.0.1:8080\n"
        )
    };
    let missing = pki.path("missing.pem");
    let (code, text) = check_config(&config(&format!("ssl crt {}", missing.display())));
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("t.cfg:5:") && text.contains("missing.pem"),
        "{text}"
    );
    // The leaf alone, with no key in it and no .key beside it.
    let (code, text) = check_config(&config(&format!(
        "ssl crt {}",
        pki.path("site.pem").display()
    )));
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("t.cfg:5:") && text.contains("no private key"),
        "{text}"
    );
    let (code, text) = check_config(&config("ssl"));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("t.cfg:5:") && text.contains("crt"), "{text}");
    let bundle = pki.bundle("site");
    let (code, text) = check_config(&config(&format!(
        "ssl crt {} npn http/1.1",
        bundle.display()
    )));
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("t.cfg:5:") && text.contains("'npn'"),
        "{text}"
    );
    let crt = format!("ssl crt {}", bundle.display());
    let refused = [
        ("ssl-max-ver TLSv1.1", "below TLSv1.2"),
        (
            "ssl-min-ver TLSv1.3 ssl-max-ver TLSv1.2",
            "no version is left",
        ),
        ("ssl-min-ver TLSv1.4", "'TLSv1.4'"),
        ("curves X448", "X448"),
        (
            "ciphersuites TLS_AES_128_CCM_8_SHA256",
            "TLS_AES_128_CCM_8_SHA256",
        ),
        ("verify required", "no CA file specified"),
        ("verify sometimes", "'sometimes'"),
        (
            "ca-file /nonexistent/ca.pem verify optional",
            "/nonexistent/ca.pem",
        ),
    ];
    for (options, message) in refused {
        let (code, text) = check_config(&config(&format!("{crt} {options}")));
        assert_eq!(code, 1, "{options}: {text}");
        assert!(
            text.contains("t.cfg:5:") && text.contains(message),
            "{options}: {text}"
        );
    }
    // Accepted with a warning naming what cannot be honoured.
    let warned = [
        ("ssl-min-ver TLSv1.0", "below TLSv1.2"),
        ("ciphers HIGH:!aNULL", "not interpreted"),
        ("curves X25519:P-521", "P-521"),
    ];
    for (options, message) in warned {
        let (code, text) = check_config(&config(&format!("{crt} {options}")));
        assert_eq!(code, 0, "{options}: {text}");
        assert!(
            text.contains("t.cfg:5:") && text.contains(message),
            "{options}: {text}"
        );
    }
    let two = format!("{crt} crt {}", bundle.display());
    let (code, text) = check_config(&config(&two));
    assert_eq!(code, 0, "several 'crt': {text}");
    let (code, text) = check_config(&config(&format!("ssl crt {}", bundle.display())));
    assert_eq!(code, 0, "{text}");
}

/// A body larger than the socket buffers, to a client that reads slower than it arrives: the
/// relay's writes to the TLS side wait for the socket again and again, and every byte
/// arrives while the keep-alive server then goes quiet.
#[test]
fn a_large_body_reaches_a_slow_tls_reader_whole_through_mode_tcp() {
    let (pki, bundle) = site();
    let size = 24 << 20;
    let server = backend("s1", "", &["--size", &size.to_string()]);
    let port = free_port();
    let text = tls_config("tcp", port, &bundle, server.port())
        .replace("timeout client 1s", "timeout client 10s");
    let _p = pointsman(&text, 1, port);
    let mut command = Command::new("curl");
    command
        .args([
            "-sS",
            "--max-time",
            "8",
            "--limit-rate",
            "8M",
            "-o",
            "/dev/null",
        ])
        .args(["-w", "%{size_download}", "--cacert"])
        .arg(pki.path("root.pem"))
        .args(["--resolve", &format!("{NAME}:{port}:127.0.0.1")])
        .arg(format!("https://{NAME}:{port}/big"));
    let out = command.output().expect("curl is installed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        size.to_string(),
        "the whole body arrives: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl s_client` through `port`, resuming `session` if given (else saving the session
/// it gets to `save`): whether the handshake resumed, and the response it read.
fn s_client(port: u16, root: &Path, session: &Path, resume: bool) -> (bool, String) {
    let mut command = Command::new("openssl");
    command
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            NAME,
        ])
        .args(["-ign_eof", "-CAfile"])
        .arg(root)
        .arg(if resume { "-sess_in" } else { "-sess_out" })
        .arg(session)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    let request = format!("GET / HTTP/1.1\r\nHost: {NAME}\r\nConnection: close\r\n\r\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.as_bytes())
        .unwrap();
    let out = wait_output(child, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (text.contains("Reused, TLSv1.3"), text)
}

/// With 2 shards, a client's next connections land on either core (SO_REUSEPORT spreads
/// them by address and port): every one resumes its TLS 1.3 session, since the ticket key
/// is the process's, not a shard's.
#[test]
fn tls_sessions_resume_on_every_shard() {
    let (pki, bundle) = site();
    let server = backend("s1", "resumed", &[]);
    let port = free_port();
    let _p = pointsman(&tls_config("http", port, &bundle, server.port()), 2, port);
    let (root, session) = (pki.path("root.pem"), pki.path("session.pem"));
    let (resumed, text) = s_client(port, &root, &session, false);
    assert!(
        !resumed && text.contains("resumed"),
        "a full handshake first: {text}"
    );
    let tries = 40;
    let resumed = (0..tries)
        .filter(|_| {
            let (resumed, text) = s_client(port, &root, &session, true);
            assert!(text.contains("HTTP/1.1 200 OK"), "{text}");
            resumed
        })
        .count();
    println!("resumption rate with 2 shards: {resumed}/{tries}");
    assert_eq!(
        resumed, tries,
        "every connection resumes, whichever shard takes it"
    );
}

/// curl with `args` then `url`: its stdout, or a panic with its stderr.
fn curl_args(args: &[&str], url: &str) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl is installed");
    assert!(
        out.status.success(),
        "curl {args:?} {url}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The `ssl_fc*` fetches route as in HAProxy 2.6: the same config on both, the same clients
/// (plain, TLS 1.3 with SNI, TLS 1.2, TLS without SNI) reach the same backends.
#[test]
fn ssl_fc_fetches_route_requests_as_haproxy_does() {
    let (pki, bundle) = site();
    let names = ["plain", "tls13", "tls12", "tls"];
    let servers: Vec<Backend> = names.iter().map(|n| backend(n, n, &[])).collect();
    let config = |plain: u16, tls: u16| {
        let mut text = format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:{plain}\n\
             \x20   bind 127.0.0.1:{tls} ssl crt {} alpn http/1.1\n\
             \x20   use_backend tls13 if {{ ssl_fc_protocol TLSv1.3 }} {{ ssl_fc_sni example.test }} {{ ssl_fc_alpn http/1.1 }} {{ ssl_fc_cipher -m beg TLS_ }}\n\
             \x20   use_backend tls12 if {{ ssl_fc_protocol TLSv1.2 }} {{ ssl_fc_cipher -m beg ECDHE-ECDSA- }}\n\
             \x20   use_backend tls if {{ ssl_fc }}\n\
             \x20   default_backend plain\n",
            bundle.display()
        );
        for (name, server) in names.iter().zip(&servers) {
            text += &format!("backend {name}\n    server s 127.0.0.1:{}\n", server.port());
        }
        text
    };
    let (ours, theirs) = ((free_port(), free_port()), (free_port(), free_port()));
    let _p = pointsman(&config(ours.0, ours.1), 1, ours.0);
    let _h = haproxy(&config(theirs.0, theirs.1), theirs.0);
    let root = pki.path("root.pem");
    let root = root.to_str().unwrap();
    let answers = |(plain, tls): (u16, u16)| -> Vec<String> {
        let resolve = format!("{NAME}:{tls}:127.0.0.1");
        let sni = ["--cacert", root, "--resolve", &resolve];
        let url = format!("https://{NAME}:{tls}/");
        vec![
            curl_args(&[], &format!("http://127.0.0.1:{plain}/")),
            curl_args(&sni, &url),
            curl_args(&[&sni[..], &["--tls-max", "1.2"]].concat(), &url),
            // An IP address in the URL: curl sends no server name.
            curl_args(&["-k"], &format!("https://127.0.0.1:{tls}/")),
        ]
    };
    let theirs = answers(theirs);
    assert_eq!(theirs, names, "haproxy routes each client as expected");
    assert_eq!(
        answers(ours),
        theirs,
        "pointsman routes each client as haproxy does"
    );
}

/// What `openssl s_client` with `args` got from `port`: the handshake summary (`TLSv1.3,
/// Cipher is …`; `None` when refused), the served certificate's subject, and whether a TLS
/// 1.2 session ticket was issued (TLS 1.3 ones are not looked at).
#[derive(Debug, PartialEq)]
struct Handshake {
    summary: Option<String>,
    subject: String,
    ticket: bool,
}

fn handshake(port: u16, args: &[&str]) -> Handshake {
    let child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_output(child, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = (text.lines())
        .find_map(|line| line.strip_prefix("New, "))
        .filter(|summary| !summary.starts_with("(NONE)"))
        .map(str::to_string);
    let subject = (text.lines())
        .find_map(|line| line.strip_prefix("subject="))
        .unwrap_or_default()
        .to_string();
    // Only TLS 1.2's: a TLS 1.3 ticket comes after the handshake, and rustls sends it only
    // once the client's Finished is in, which s_client may not wait for.
    let ticket = text.contains("TLS session ticket lifetime hint")
        && summary.as_deref().is_some_and(|s| s.starts_with("TLSv1.2"));
    Handshake {
        summary,
        subject,
        ticket,
    }
}

/// A frontend terminating TLS on `port` with the bind options `options` (after `ssl`) and
/// the global lines `global`, in front of `backend`. Valid for HAProxy too.
fn tls_config_with(global: &str, port: u16, options: &str, backend: u16) -> String {
    format!(
        "global\n{global}defaults\n    mode http\n    timeout connect 1s\n    timeout client 2s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{port} ssl {options}\n    default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{backend}\n"
    )
}

/// Each probe's handshake on pointsman and on HAProxy with the same config; panics when
/// they differ.
fn same_as_haproxy(config: &dyn Fn(u16) -> String, probes: &[&[&str]]) -> Vec<Handshake> {
    let (ours, theirs) = (free_port(), free_port());
    let _p = pointsman(&config(ours), 1, ours);
    let _h = haproxy(&config(theirs), theirs);
    let theirs: Vec<Handshake> = probes.iter().map(|args| handshake(theirs, args)).collect();
    let ours: Vec<Handshake> = probes.iter().map(|args| handshake(ours, args)).collect();
    for ((probe, ours), theirs) in probes.iter().zip(&ours).zip(&theirs) {
        assert_eq!(
            ours, theirs,
            "{probe:?}: pointsman (left) and haproxy (right)"
        );
    }
    ours
}

fn subjects(handshakes: &[Handshake]) -> Vec<&str> {
    fn subject(h: &Handshake) -> &str {
        match h.summary {
            Some(_) => h.subject.as_str(),
            None => "refused",
        }
    }
    handshakes.iter().map(subject).collect()
}

/// `crt DIR crt FILE`: the directory's certificate files load in name order (its `.ocsp`,
/// `.issuer`, `.sctl` and `.key` files are not certificates), a name picks its certificate
/// by CN or SAN, exact before wildcard, a wildcard covers one label, the first certificate
/// is the default; `strict-sni` refuses instead. The same on HAProxy.
#[test]
fn sni_chooses_among_a_directory_and_files_as_haproxy_does() {
    let pki = Pki::new();
    pki.server_leaf("a", "a.test", &[], EC);
    pki.server_leaf("wild", "wildcard", &["*.wild.test"], EC);
    pki.server_leaf("exact", "exact", &["exact.wild.test"], EC);
    let dir = pki.path("certs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::copy(pki.bundle("a"), dir.join("a.pem")).unwrap();
    let chain = pki.read("wild.pem") + &pki.read("int.pem");
    std::fs::write(dir.join("wild.pem"), chain).unwrap();
    std::fs::copy(pki.path("wild.key"), dir.join("wild.pem.key")).unwrap();
    for stray in ["stray.ocsp", "stray.issuer", "stray.sctl", "stray.key"] {
        std::fs::write(dir.join(stray), "not a certificate\n").unwrap();
    }
    let server = backend("s1", "x", &[]);
    let crts = format!(
        "crt {} crt {}",
        dir.display(),
        pki.bundle("exact").display()
    );
    let probes: [&[&str]; 6] = [
        &["-servername", "a.test"],
        &["-servername", "x.wild.test"],
        &["-servername", "EXACT.wild.test"],
        &["-servername", "deep.x.wild.test"],
        &["-servername", "unknown.test"],
        &["-noservername"],
    ];
    let config = |port| tls_config_with("", port, &crts, server.port());
    let served = same_as_haproxy(&config, &probes);
    let expected = [
        "CN = a.test",
        "CN = wildcard",
        "CN = exact",
        "CN = a.test",
        "CN = a.test",
    ];
    assert_eq!(
        subjects(&served),
        [&expected[..], &["CN = a.test"]].concat()
    );
    let strict = format!("{crts} strict-sni");
    let config = |port| tls_config_with("", port, &strict, server.port());
    let served = same_as_haproxy(&config, &probes);
    let expected = [
        "CN = a.test",
        "CN = wildcard",
        "CN = exact",
        "refused",
        "refused",
    ];
    assert_eq!(subjects(&served), [&expected[..], &["refused"]].concat());
}

/// An RSA and an ECDSA certificate for one name: a client that can use ECDSA gets it (even
/// with the RSA one first on the line, even preferring RSA signatures); one that offers only
/// RSA suites gets the RSA one; without SNI, the first. The same on HAProxy. (A TLS 1.3
/// client verifying only RSA signatures gets the RSA leaf from pointsman; HAProxy refuses it
/// here, since the leaf's issuer signs with ECDSA.)
#[test]
fn ecdsa_or_rsa_is_chosen_by_what_the_client_offers_as_haproxy_does() {
    let pki = Pki::new();
    pki.server_leaf("rsa", "both rsa", &["both.test"], RSA);
    pki.server_leaf("ec", "both ecdsa", &["both.test"], EC);
    let server = backend("s1", "x", &[]);
    let crts = format!(
        "crt {} crt {}",
        pki.bundle("rsa").display(),
        pki.bundle("ec").display()
    );
    let probes: [&[&str]; 5] = [
        &["-servername", "both.test"],
        &["-servername", "both.test", "-tls1_2"],
        // RSA first in the client's order: ECDSA still wins.
        &[
            "-servername",
            "both.test",
            "-sigalgs",
            "rsa_pss_rsae_sha256:ecdsa_secp256r1_sha256",
        ],
        &[
            "-servername",
            "both.test",
            "-tls1_2",
            "-cipher",
            "ECDHE-RSA-AES128-GCM-SHA256",
        ],
        &["-noservername"],
    ];
    let config = |port| tls_config_with("", port, &crts, server.port());
    let served = same_as_haproxy(&config, &probes);
    assert_eq!(
        subjects(&served),
        [
            "CN = both ecdsa",
            "CN = both ecdsa",
            "CN = both ecdsa",
            "CN = both rsa",
            "CN = both rsa"
        ]
    );
}

/// Versions, suites, groups and (TLS 1.2) tickets from bind options and from `ssl-default-bind-*`
/// (the bind's own options win): what a client gets is what HAProxy gives it.
#[test]
fn versions_ciphers_curves_and_tickets_are_what_haproxy_offers() {
    let (_pki, bundle) = site();
    let server = backend("s1", "x", &[]);
    let global = "    ssl-default-bind-options ssl-min-ver TLSv1.3\n";
    let options = format!(
        "crt {} ssl-min-ver TLSv1.2 ciphersuites TLS_CHACHA20_POLY1305_SHA256 \
         ciphers ECDHE-ECDSA-AES128-GCM-SHA256 no-tls-tickets",
        bundle.display()
    );
    let config = |port| tls_config_with(global, port, &options, server.port());
    let served = same_as_haproxy(
        &config,
        &[
            &[],
            &["-tls1_2"],
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"],
            &["-ciphersuites", "TLS_AES_128_GCM_SHA256"],
        ],
    );
    let summaries: Vec<_> = served.iter().map(|h| h.summary.as_deref()).collect();
    assert_eq!(
        summaries,
        [
            Some("TLSv1.3, Cipher is TLS_CHACHA20_POLY1305_SHA256"),
            Some("TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256"),
            None,
            None
        ]
    );
    assert!(!served[1].ticket, "no-tls-tickets: no TLS 1.2 ticket");
    let global = format!(
        "{global}    ssl-default-bind-curves P-384\n    ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256\n"
    );
    let options = format!("crt {}", bundle.display());
    let config = |port| tls_config_with(&global, port, &options, server.port());
    let served = same_as_haproxy(
        &config,
        &[
            &[],
            &["-tls1_2"],
            &["-groups", "X25519"],
            &["-groups", "P-384"],
        ],
    );
    let summaries: Vec<_> = served.iter().map(|h| h.summary.as_deref()).collect();
    let tls13 = Some("TLSv1.3, Cipher is TLS_AES_128_GCM_SHA256");
    assert_eq!(summaries, [tls13, None, None, tls13]);
    let options = format!("crt {} ssl-max-ver TLSv1.2", bundle.display());
    let config = |port| tls_config_with("", port, &options, server.port());
    let served = same_as_haproxy(&config, &[&[]]);
    assert!(served[0].ticket, "a TLS 1.2 ticket by default");
    assert!(
        (served[0].summary.as_deref()).is_some_and(|s| s.starts_with("TLSv1.2, ")),
        "{served:?}"
    );
}

/// curl to `https://example.test:PORT/` trusting `root`, with `args`: the body, or
/// `refused` when the TLS connection failed.
fn body_or_refused(port: u16, root: &Path, args: &[String]) -> String {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert"])
        .arg(root)
        .args(["--resolve", &format!("{NAME}:{port}:127.0.0.1")])
        .args(args)
        .arg(format!("https://{NAME}:{port}/"))
        .output()
        .expect("curl is installed");
    match out.status.success() {
        true => String::from_utf8(out.stdout).unwrap(),
        false => "refused".into(),
    }
}

/// Client certificates: `verify required` refuses a client without one or with one from
/// another CA, `verify optional` lets the first in, and `ssl_c_used`, `ssl_c_verify`,
/// `ssl_c_s_dn` (whole, and one entry) route the others; the same on HAProxy.
#[test]
fn client_certificates_are_verified_and_fetched_as_haproxy_does() {
    let (pki, bundle) = site();
    let ext = "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n";
    pki.write("client.ext", ext);
    for (stem, subject) in [
        ("client1", "/O=Example/CN=client1"),
        ("client2", "/O=Example/OU=a/OU=b/CN=client2"),
        ("client3", "/O=Other/CN=client3"),
    ] {
        pki.signed_with(stem, subject, ("root.pem", "root.key"), "client.ext", EC);
    }
    pki.openssl(
        &[
            &["req", "-x509", "-newkey"],
            EC,
            &[
                "-nodes",
                "-keyout",
                "rogue.key",
                "-out",
                "rogue.pem",
                "-days",
                "2",
            ],
            &["-subj", "/O=Example/CN=client1"],
        ]
        .concat(),
    );
    let names = ["dn", "cn", "used", "none"];
    let servers: Vec<Backend> = names.iter().map(|n| backend(n, n, &[])).collect();
    let root = pki.path("root.pem");
    let config = |required: u16, optional: u16| {
        let tls = format!("ssl crt {} ca-file {}", bundle.display(), root.display());
        let mut text = format!(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
             frontend fe\n    bind 127.0.0.1:{required} {tls} verify required\n\
             \x20   bind 127.0.0.1:{optional} {tls} verify optional\n\
             \x20   use_backend dn if {{ ssl_c_s_dn /O=Example/CN=client1 }} {{ ssl_c_verify 0 }}\n\
             \x20   use_backend cn if {{ ssl_c_s_dn(OU,-1) b }} {{ ssl_c_s_dn(CN) client2 }}\n\
             \x20   use_backend used if {{ ssl_c_used }}\n\
             \x20   default_backend none\n"
        );
        for (name, server) in names.iter().zip(&servers) {
            text += &format!("backend {name}\n    server s 127.0.0.1:{}\n", server.port());
        }
        text
    };
    let cert = |stem: &str| -> Vec<String> {
        let (pem, key) = (
            pki.path(&format!("{stem}.pem")),
            pki.path(&format!("{stem}.key")),
        );
        vec![
            "--cert".into(),
            pem.display().to_string(),
            "--key".into(),
            key.display().to_string(),
        ]
    };
    let probes: [(bool, Vec<String>); 8] = [
        (true, cert("client1")),
        (true, cert("client2")),
        (true, cert("client3")),
        (true, vec![]),
        (true, cert("rogue")),
        (false, vec![]),
        (false, cert("client1")),
        (false, cert("rogue")),
    ];
    let answers = |(required, optional): (u16, u16)| -> Vec<String> {
        (probes.iter())
            .map(|(on_required, args)| {
                let port = if *on_required { required } else { optional };
                body_or_refused(port, &root, args)
            })
            .collect()
    };
    let (ours, theirs) = ((free_port(), free_port()), (free_port(), free_port()));
    let _p = pointsman(&config(ours.0, ours.1), 1, ours.0);
    let _h = haproxy(&config(theirs.0, theirs.1), theirs.0);
    let theirs = answers(theirs);
    let expected = [
        "dn", "cn", "used", "refused", "refused", "none", "dn", "refused",
    ];
    assert_eq!(theirs, expected, "haproxy");
    assert_eq!(answers(ours), theirs, "pointsman as haproxy");
}

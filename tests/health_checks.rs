//! HTTP check rule lists (`http-check connect|send|expect|comment|disable-on-404`) end to end,
//! side by side with the real haproxy 2.6: the same config against the same check server,
//! the same state-change line in the log (its check duration aside), the same `show stat`
//! check columns. And the hostile servers: a response that never ends, a 10 MB response.

mod common;

use common::haproxy::Haproxy;
use common::*;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A server that answers checks like a small HTTP/1.0 application: `/status/N` answers N
/// (with `X-Ready: yes, later` and the body `hello world`), `/endless` sends a body that never
/// ends, `/huge` a 10 MB one. It records each request's head and body.
struct CheckServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl CheckServer {
    fn start() -> CheckServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (s, r) = (stop.clone(), requests.clone());
        thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let (s, r) = (s.clone(), r.clone());
                        thread::spawn(move || answer(conn, &s, &r));
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        CheckServer {
            addr,
            stop,
            requests,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for CheckServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn answer(mut conn: TcpStream, stop: &AtomicBool, requests: &Mutex<Vec<String>>) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    while !bytes.windows(4).any(|w| w == b"\r\n\r\n") {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
        }
    }
    // Give a body a moment to arrive whole (check bodies are a few bytes).
    thread::sleep(Duration::from_millis(20));
    conn.set_nonblocking(true).unwrap();
    while let Ok(n) = conn.read(&mut chunk) {
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
    }
    conn.set_nonblocking(false).unwrap();
    let text = String::from_utf8_lossy(&bytes).to_string();
    requests.lock().unwrap().push(text.clone());
    let path = text.split(' ').nth(1).unwrap_or("/").to_string();
    let _ = match path.as_str() {
        "/endless" => endless(&mut conn, stop),
        "/huge" => huge(&mut conn),
        _ => {
            let code: u16 = path
                .strip_prefix("/status/")
                .and_then(|c| c.parse().ok())
                .unwrap_or(200);
            let reason = match code {
                200 => "OK",
                404 => "Not Found",
                500 => "Internal Server Error",
                _ => "Service Unavailable",
            };
            conn.write_all(
                format!(
                    "HTTP/1.0 {code} {reason}\r\nX-Ready: yes, later\r\nContent-Length: 11\r\n\
                     \r\nhello world"
                )
                .as_bytes(),
            )
        }
    };
}

/// A head, then a byte every 50 ms, for at most 20 s (or until the reader leaves).
fn endless(conn: &mut TcpStream, stop: &AtomicBool) -> std::io::Result<()> {
    conn.write_all(b"HTTP/1.0 200 OK\r\n\r\n")?;
    let until = Instant::now() + Duration::from_secs(20);
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        conn.write_all(b"x")?;
        thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// 10 MB of body, the matching string `found` at 20 000 bytes: past the 16 kB a check reads.
fn huge(conn: &mut TcpStream) -> std::io::Result<()> {
    const SIZE: usize = 10 << 20;
    conn.write_all(format!("HTTP/1.0 200 OK\r\nContent-Length: {SIZE}\r\n\r\n").as_bytes())?;
    let mut block = vec![b'a'; 64 << 10];
    block[20_000..20_005].copy_from_slice(b"found");
    for _ in 0..SIZE / block.len() {
        conn.write_all(&block)?;
    }
    Ok(())
}

/// The config both run: backend `bk` with `lines`, its one server `s` checked every 200 ms.
fn config(port: u16, lines: &str, server: SocketAddr) -> String {
    proxy_config(
        port,
        &format!("{lines}    server s {server} check inter 200ms\n"),
    )
}

/// haproxy on the same config, its log on stdout (a file), its stats socket in its directory.
struct HaproxyRun {
    _proc: Haproxy,
    log: std::path::PathBuf,
    socket: std::path::PathBuf,
}

impl HaproxyRun {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stat(&self) -> HashMap<String, String> {
        stat_row(&admin(&self.socket, "show stat"))
    }
}

fn start_haproxy(config: &str, port: u16) -> HaproxyRun {
    let dir = temp_dir("haproxy-checks");
    let socket = dir.join("admin.sock");
    let text = config
        .replace("@SOCKET@", socket.to_str().unwrap())
        .replacen("global\n", "global\n    log stdout format raw local0\n", 1)
        .replacen("defaults\n", "defaults\n    log global\n", 1);
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, text).unwrap();
    let log = dir.join("haproxy.log");
    let child = Command::new("haproxy")
        .args(["-db", "-f"])
        .arg(&path)
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .expect("haproxy is installed (scripts/install-test-deps.sh)");
    let proc = Haproxy {
        proc: Proc {
            child,
            name: "haproxy".into(),
        },
    };
    wait_for_port(port, Duration::from_secs(10));
    HaproxyRun {
        _proc: proc,
        log,
        socket,
    }
}

/// The row of `bk/s` in a `show stat` CSV.
fn stat_row(csv: &str) -> HashMap<String, String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .trim_start_matches("# ")
        .split(',')
        .collect();
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|row| row.first() == Some(&"bk") && row.get(1) == Some(&"s"))
        .map(|row| {
            header
                .iter()
                .zip(row)
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}

/// The first `Server bk/s …` line of a log, its check duration written `Nms`.
fn state_line(log: &str) -> Option<String> {
    let line = log.lines().find_map(|l| {
        l.find("Server bk/s ")
            .map(|at| l[at..].trim_end().to_string())
    })?;
    Some(match line.split_once("check duration: ") {
        Some((head, tail)) => {
            let rest = tail.trim_start_matches(|c: char| c.is_ascii_digit());
            format!("{head}check duration: N{rest}")
        }
        None => line,
    })
}

/// Waits (bounded) until `ready`; the caller says what is missing if it never is.
fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) {
    let until = Instant::now() + timeout;
    while !ready() && Instant::now() < until {
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `lines` in pointsman and in haproxy against the same check server; returns the
/// state-change line both logged (asserted equal), with the check columns of both.
fn side_by_side(lines: &str, server: &CheckServer) -> (String, HashMap<String, String>) {
    side_by_side_with(lines, server.addr)
}

/// [`side_by_side`] against any server.
fn side_by_side_with(lines: &str, server: SocketAddr) -> (String, HashMap<String, String>) {
    let port = free_port();
    let config = config(port, lines, server);
    let p = pointsman_logged(&config, 1, port);
    let wait = Duration::from_secs(10);
    wait_until(wait, || state_line(&p.log()).is_some());
    let ours =
        state_line(&p.log()).unwrap_or_else(|| panic!("no state line from pointsman: {}", p.log()));
    let stat = p.stat("bk", "s");
    drop(p);
    let h = start_haproxy(&config, port);
    wait_until(wait, || state_line(&h.log()).is_some());
    let theirs =
        state_line(&h.log()).unwrap_or_else(|| panic!("no state line from haproxy: {}", h.log()));
    let their_stat = h.stat();
    assert_eq!(ours, theirs, "pointsman's line, then haproxy's");
    for column in ["check_status", "check_code"] {
        assert_eq!(
            stat[column], their_stat[column],
            "{column}: pointsman {stat:?}\nhaproxy {their_stat:?}"
        );
    }
    (ours, stat)
}

#[test]
fn a_rule_list_runs_its_pairs_in_order_and_reports_the_failing_one() {
    let server = CheckServer::start();
    let lines = "    option httpchk\n\
                 \x20   http-check connect\n\
                 \x20   http-check send meth GET uri /status/200 hdr Host example.com body abc\n\
                 \x20   http-check expect status 200\n\
                 \x20   http-check connect\n\
                 \x20   http-check send meth GET uri /status/404\n\
                 \x20   http-check expect status 200 comment \"second failed\"\n";
    let (line, stat) = side_by_side(lines, &server);
    assert_eq!(
        line,
        "Server bk/s is DOWN, reason: Layer7 wrong status, code: 404, info: \"Not Found \
         comment: second failed\", check duration: Nms. 0 active and 0 backup servers left. \
         0 sessions active, 0 requeued, 0 remaining in queue."
    );
    assert_eq!(stat["check_status"], "L7STS");
    // Both pairs ran, the first with its headers and body, in HAProxy's HTTP/1.0.
    let requests = server.requests();
    let first = requests
        .iter()
        .find(|r| r.starts_with("GET /status/200 HTTP/1.0\r\n"))
        .unwrap_or_else(|| panic!("no first request: {requests:?}"));
    assert!(
        first.to_ascii_lowercase().contains("host: example.com\r\n"),
        "{first}"
    );
    assert!(first.ends_with("\r\n\r\nabc"), "{first:?}");
    assert!(requests.iter().any(|r| r.starts_with("GET /status/404 ")));
}

#[test]
fn body_expectations_read_like_haproxy() {
    let server = CheckServer::start();
    let (line, _) = side_by_side(
        "    option httpchk GET /status/200\n    http-check expect string nomatch\n",
        &server,
    );
    assert!(
        line.contains(
            "reason: Layer7 invalid response, info: \"HTTP content check did not match\""
        ),
        "{line}"
    );
    let (line, _) = side_by_side(
        "    option httpchk GET /status/200\n    http-check expect ! rstring hel+o\n",
        &server,
    );
    assert!(
        line.contains("info: \"HTTP check matched unwanted content\""),
        "{line}"
    );
}

#[test]
fn header_and_status_expectations_keep_a_good_server_up() {
    let server = CheckServer::start();
    let port = free_port();
    let lines = "    option httpchk GET /status/200\n\
                 \x20   http-check expect hdr name x-ready value -m str later\n\
                 \x20   http-check expect fhdr name -m beg X-Re value -m sub yes\n\
                 \x20   http-check expect rstatus ^2\n\
                 \x20   http-check expect ! status 404\n";
    let p = pointsman_logged(&config(port, lines, server.addr), 1, port);
    wait_for(Duration::from_secs(10), || {
        p.stat("bk", "s")["check_status"] == "L7OK"
    });
    assert_eq!(p.stat("bk", "s")["check_code"], "200");
    assert_eq!(p.status("bk", "s"), "UP");
    // A header that is not there: the reason phrase, as haproxy says it.
    let (line, _) = side_by_side(
        "    option httpchk GET /status/200\n    http-check expect hdr name X-Nope\n",
        &server,
    );
    assert!(
        line.contains("reason: Layer7 wrong status, code: 200, info: \"OK\""),
        "{line}"
    );
}

#[test]
fn disable_on_404_drains_a_server_that_answers_404() {
    let server = CheckServer::start();
    let (line, stat) = side_by_side(
        "    option httpchk GET /status/404\n    http-check disable-on-404\n",
        &server,
    );
    assert_eq!(
        line,
        "Server bk/s is stopping, reason: Layer7 check conditionally passed, code: 404, \
         check duration: Nms. 0 active and 0 backup servers online. 0 sessions requeued, 0 \
         total in queue."
    );
    assert_eq!(stat["check_status"], "L7OKC");
    assert_eq!(stat["status"], "NOLB");
}

#[test]
fn a_response_that_never_ends_is_a_timeout_and_a_huge_one_is_judged_on_its_start() {
    let server = CheckServer::start();
    let port = free_port();
    let lines = "    timeout check 300ms\n\
                 \x20   option httpchk GET /endless\n\
                 \x20   http-check expect string found\n";
    let p = pointsman_logged(&config(port, lines, server.addr), 1, port);
    wait_for(Duration::from_secs(10), || p.status("bk", "s") == "DOWN");
    assert_eq!(p.stat("bk", "s")["check_status"], "L7TOUT");
    drop(p);
    let lines = "    option httpchk GET /huge\n    http-check expect string found\n";
    let p = pointsman_logged(&config(port, lines, server.addr), 1, port);
    wait_for(Duration::from_secs(10), || p.status("bk", "s") == "DOWN");
    let stat = p.stat("bk", "s");
    assert_eq!(stat["check_status"], "L7RSP", "{stat:?}");
    // The check read its 16 kB and let go (`found` lies beyond), within its interval.
    assert!(
        stat["check_duration"].parse::<u64>().unwrap() < 200,
        "{stat:?}"
    );
    let log = p.log();
    assert!(
        log.contains("info: \"HTTP content check did not match\""),
        "{log}"
    );
    // The proxy itself is unharmed: the stats socket and the frontend answer.
    assert!(p.admin("show info").contains("Name: "));
    assert!(get(port, "/").is_ok());
}

#[test]
fn misordered_rules_and_bad_patterns_are_refused_by_both_at_their_line() {
    let head = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    \
                timeout server 1s\nbackend bk\n    option httpchk\n";
    let cases = [
        (
            "    http-check send meth GET\n    http-check expect status 200\n    http-check send meth GET\n",
            "t.cfg:10",
            "'http-check send' : unable to add http-check send rule at step 2 (missing connect rule).",
        ),
        (
            "    http-check expect status 200\n    http-check connect port 8080\n",
            "t.cfg:9",
            "'http-check connect' : first step MUST also be a 'connect'",
        ),
        (
            "    http-check expect status 2xx\n",
            "t.cfg:8",
            "'http-check expect' : invalid character 'x' in the list of status codes.",
        ),
        (
            "    http-check expect hdr name\n",
            "t.cfg:8",
            "'http-check expect' : 'hdr' expects at the name keyword as first argument followed by a pattern.",
        ),
        (
            "    http-check send meth GET hdr X-Only-Name\n",
            "t.cfg:8",
            "'http-check send' : 'hdr' expects <name> and <value> as arguments.",
        ),
    ];
    for (lines, at, message) in cases {
        let text = format!("{head}{lines}    server s 127.0.0.1:1 check\n");
        common::haproxy::assert_refused_by_both(&text, at, message);
    }
}

/// A server for tcp-checks: each connection is answered by `answer` while `healthy`, by
/// `sick` otherwise; the test flips it to see a server go DOWN and come back.
struct ProtocolServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    healthy: Arc<AtomicBool>,
}

type Answer = fn(&mut TcpStream);

impl ProtocolServer {
    fn start(answer: Answer, sick: Answer) -> ProtocolServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let healthy = Arc::new(AtomicBool::new(true));
        let (s, h) = (stop.clone(), healthy.clone());
        thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        let respond = if h.load(Ordering::Relaxed) {
                            answer
                        } else {
                            sick
                        };
                        thread::spawn(move || {
                            conn.set_nonblocking(false).unwrap();
                            conn.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
                            respond(&mut conn);
                        });
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        ProtocolServer {
            addr,
            stop,
            healthy,
        }
    }

    fn set_healthy(&self, healthy: bool) {
        self.healthy.store(healthy, Ordering::Relaxed);
    }
}

impl Drop for ProtocolServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Reads what the check sent: its first bytes, then whatever follows within 20 ms (a check's
/// request is one small write), so that closing later sends FIN, not RST.
fn read_request(conn: &mut TcpStream) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 1024];
    let _ = conn.set_read_timeout(Some(Duration::from_secs(1)));
    while let Ok(n) = conn.read(&mut chunk) {
        if n == 0 {
            break;
        }
        bytes.extend_from_slice(&chunk[..n]);
        let _ = conn.set_read_timeout(Some(Duration::from_millis(20)));
    }
    bytes
}

/// Writes `reply`, then waits (bounded) for the check to close first.
fn reply_and_linger(conn: &mut TcpStream, reply: &[u8]) {
    let _ = conn.write_all(reply);
    let _ = conn.set_read_timeout(Some(Duration::from_secs(3)));
    let mut chunk = [0u8; 256];
    while matches!(conn.read(&mut chunk), Ok(n) if n > 0) {}
}

/// Runs `lines` in pointsman, then in haproxy, against `server` made sick: both must log
/// the same DOWN line; then, the server healthy again (with `rise 1`), the same UP line.
/// Returns both lines.
fn down_then_up(lines: &str, server: &ProtocolServer) -> (String, String) {
    let port = free_port();
    let config = proxy_config(
        port,
        &format!(
            "{lines}    server s {} check inter 200ms rise 1 fall 1\n",
            server.addr
        ),
    );
    let wait = Duration::from_secs(10);
    let lines_of = |log: &str| -> (Option<String>, Option<String>) {
        let all: Vec<String> = log.lines().filter_map(state_line).collect();
        let find = |what: &str| all.iter().find(|l| l.contains(what)).cloned();
        (find(" is DOWN"), find(" is UP"))
    };
    server.set_healthy(false);
    let p = pointsman_logged(&config, 1, port);
    wait_until(wait, || lines_of(&p.log()).0.is_some());
    server.set_healthy(true);
    wait_until(wait, || lines_of(&p.log()).1.is_some());
    let ours = lines_of(&p.log());
    let p_log = p.log();
    drop(p);
    server.set_healthy(false);
    let h = start_haproxy(&config, port);
    wait_until(wait, || lines_of(&h.log()).0.is_some());
    server.set_healthy(true);
    wait_until(wait, || lines_of(&h.log()).1.is_some());
    let theirs = lines_of(&h.log());
    let h_log = h.log();
    drop(h);
    assert_eq!(
        ours, theirs,
        "pointsman's lines, then haproxy's: {p_log}\n{h_log}"
    );
    (
        ours.0.expect("a DOWN line from both"),
        ours.1.expect("an UP line from both"),
    )
}

/// Greets like an SMTP or line server, then answers `PING` with `+PONG` and closes.
fn greet_then_pong(conn: &mut TcpStream) {
    let _ = conn.write_all(b"220 hello ready\r\n");
    let request = read_request(conn);
    if request.windows(4).any(|w| w == b"PING") {
        let _ = conn.write_all(b"+PONG\r\n");
    }
}

fn greet_then_close(conn: &mut TcpStream) {
    let _ = conn.write_all(b"220 hello ready\r\n");
    read_request(conn);
}

fn greet_and_hold(conn: &mut TcpStream) {
    reply_and_linger(conn, b"220 hello ready\r\n");
}

fn redis_pong(conn: &mut TcpStream) {
    let request = read_request(conn);
    assert_eq!(request, b"*1\r\n$4\r\nPING\r\n");
    reply_and_linger(conn, b"+PONG\r\n");
}

fn redis_error(conn: &mut TcpStream) {
    read_request(conn);
    // A reply that does not match waits for more until the server closes (as in HAProxy).
    let _ = conn.write_all(b"-ERR unknown command\r\n");
}

/// Greets, answers `HELO localhost` and then `QUIT`, as HAProxy 2.6's check sends them.
fn smtp_ok(conn: &mut TcpStream) {
    let _ = conn.write_all(b"220 mail.example ESMTP\r\n");
    let mut seen = Vec::new();
    loop {
        let request = read_request(conn);
        if request.is_empty() {
            break;
        }
        seen.extend_from_slice(&request);
        if request.starts_with(b"HELO localhost\r\n") {
            let _ = conn.write_all(b"250 mail.example Hello\r\n");
        }
        if request.ends_with(b"QUIT\r\n") {
            let _ = conn.write_all(b"221 2.0.0 Bye\r\n");
        }
    }
    assert_eq!(seen, b"HELO localhost\r\nQUIT\r\n");
}

fn smtp_refuses(conn: &mut TcpStream) {
    reply_and_linger(conn, b"554 no service here\r\n");
}

#[test]
fn tcp_check_rule_lists_fail_and_pass_in_haproxys_words() {
    let server = ProtocolServer::start(greet_then_pong, greet_then_close);
    // A mismatch after the server closed: the step and the rule's comment.
    let (down, up) = down_then_up(
        "    option tcp-check\n\
         \x20   tcp-check send PING\\r\\n comment \"ping it\"\n\
         \x20   tcp-check expect string +PONG comment \"want pong\"\n",
        &server,
    );
    assert!(
        down.contains(
            "reason: Layer7 invalid response, info: \"TCPCHK did not match content '+PONG' at \
             step 2 comment: want pong\""
        ),
        "{down}"
    );
    assert!(
        up.contains("is UP, reason: Layer7 check passed, code: 0, info: \"(tcp-check)\""),
        "{up}"
    );
    // An unwanted match, a regex.
    let (line, _) = side_by_side_with(
        "    option tcp-check\n    tcp-check expect ! rstring ^220 comment \"no greeting\"\n",
        server.addr,
    );
    assert!(
        line.contains(
            "info: \"TCPCHK matched unwanted content (regex) at step 1 comment: no greeting\""
        ),
        "{line}"
    );
}

#[test]
fn tcp_check_timeouts_and_connect_steps_read_like_haproxy() {
    let server = ProtocolServer::start(greet_and_hold, greet_and_hold);
    let (line, stat) = side_by_side_with(
        "    timeout check 300ms\n\
         \x20   option tcp-check\n\
         \x20   tcp-check comment \"the greeting\"\n\
         \x20   tcp-check expect string nomatch\n",
        server.addr,
    );
    assert!(
        line.contains(
            "reason: Layer7 timeout, info: \" at step 2 of tcp-check (expect string 'nomatch') \
             comment: 'the greeting'\""
        ),
        "{line}"
    );
    assert_eq!(stat["check_status"], "L7TOUT");
    let closed = free_port();
    let (line, _) = side_by_side_with(
        &format!("    option tcp-check\n    tcp-check connect port {closed}\n"),
        server.addr,
    );
    assert!(
        line.contains(&format!(
            "info: \"Connection refused at step 1 of tcp-check (connect port {closed})\""
        )),
        "{line}"
    );
}

#[test]
fn redis_and_smtp_checks_are_haproxys() {
    let redis = ProtocolServer::start(redis_pong, redis_error);
    let (down, up) = down_then_up("    option redis-check\n", &redis);
    assert!(
        down.contains("reason: Layer7 wrong status, code: 0, info: \"-ERR unknown command\""),
        "{down}"
    );
    assert!(up.contains("info: \"Redis server is ok\""), "{up}");
    let smtp = ProtocolServer::start(smtp_ok, smtp_refuses);
    let (down, up) = down_then_up("    option smtpchk\n", &smtp);
    assert!(
        down.contains("reason: Layer7 wrong status, code: 554, info: \"no service here\""),
        "{down}"
    );
    assert!(up.contains("code: 221, info: \"2.0.0 Bye\""), "{up}");
}

fn mysql_handshake(conn: &mut TcpStream) {
    let _ = conn.write_all(b"\x08\x00\x00\x00\x0a8.0.36\x00");
    read_request(conn);
    reply_and_linger(conn, b"\x07\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00");
}

fn mysql_denied(conn: &mut TcpStream) {
    let _ = conn.write_all(b"\x08\x00\x00\x00\x0a8.0.36\x00");
    read_request(conn);
    reply_and_linger(conn, b"\x0f\x00\x00\x02\xff\x15\x04#28000Denied");
}

fn pgsql_auth(conn: &mut TcpStream) {
    let request = read_request(conn);
    assert_eq!(request, b"\0\0\0\x12\0\x03\0\0user\0bob\0\0");
    reply_and_linger(conn, b"R\0\0\0\x08\0\0\0\0");
}

fn pgsql_error(conn: &mut TcpStream) {
    read_request(conn);
    reply_and_linger(conn, b"E\0\0\0\x20SFATAL\0no such role\0\0");
}

fn ldap_bound(conn: &mut TcpStream) {
    read_request(conn);
    reply_and_linger(
        conn,
        b"\x30\x0c\x02\x01\x01\x61\x07\x0a\x01\x00\x04\x00\x04\x00",
    );
}

fn garbage(conn: &mut TcpStream) {
    read_request(conn);
    reply_and_linger(conn, b"xyz, not this protocol at all\r\n");
}

#[test]
fn mysql_pgsql_and_ldap_checks_are_haproxys() {
    let mysql = ProtocolServer::start(mysql_handshake, mysql_denied);
    let (down, up) = down_then_up("    option mysql-check user bob\n", &mysql);
    assert!(
        down.contains("reason: Layer7 wrong status, code: 1045, info: \"#28000Denied\""),
        "{down}"
    );
    assert!(up.contains("reason: Layer7 check passed"), "{up}");
    let pgsql = ProtocolServer::start(pgsql_auth, pgsql_error);
    let (down, up) = down_then_up("    option pgsql-check user bob\n", &pgsql);
    assert!(
        down.contains("reason: Layer7 invalid response, info: \"FATAL\""),
        "{down}"
    );
    assert!(up.contains("info: \"PostgreSQL server is ok\""), "{up}");
    let ldap = ProtocolServer::start(ldap_bound, garbage);
    let (down, up) = down_then_up("    option ldap-check\n", &ldap);
    assert!(down.contains("info: \"Not LDAPv3 protocol\""), "{down}");
    assert!(up.contains("reason: Layer7 check passed"), "{up}");
}

/// 10 MB of `a`, the string `found` past the 16 kB a check reads.
fn huge_reply(conn: &mut TcpStream) {
    let mut block = vec![b'a'; 64 << 10];
    block[20_000..20_005].copy_from_slice(b"found");
    for _ in 0..160 {
        if conn.write_all(&block).is_err() {
            return;
        }
    }
}

#[test]
fn a_huge_tcp_check_response_is_judged_on_its_first_16k() {
    let server = ProtocolServer::start(huge_reply, huge_reply);
    let (line, _) = side_by_side_with(
        "    option tcp-check\n    tcp-check expect string found\n",
        server.addr,
    );
    assert!(
        line.contains("info: \"TCPCHK did not match content 'found' at step 1\""),
        "{line}"
    );
}

#[test]
fn bad_tcp_check_lines_are_refused_by_both_at_their_line() {
    let head = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 1s\n    \
                timeout server 1s\nbackend bk\n    option tcp-check\n";
    let cases = [
        (
            "    tcp-check expect status 200\n",
            "'tcp-check expect' : 'only supports min-recv, '[!]binary', '[!]string', \
             '[!]rstring', '[!]string-lf''[!]rbinary', '[!]binary-lf' or comment but got \
             'status' as argument.",
        ),
        (
            "    tcp-check send-binary 2b5\n",
            "'tcp-check send-binary' : '2b5' invalid binary string (an even number of hex \
             digit is expected).",
        ),
        (
            "    tcp-check send\n",
            "'tcp-check send' : 'string' expects a send as argument.",
        ),
        (
            "    tcp-check expect string\n",
            "'tcp-check expect' : 'string' expects a <pattern> as argument.",
        ),
        (
            "    tcp-check connect port 0\n",
            "'tcp-check connect' : expects a valid TCP port (from range 1 to 65535) or a \
             sample expression, got 0.",
        ),
        (
            "    option pgsql-check\n",
            "'option pgsql-check' expects 'user <username>' as argument.",
        ),
    ];
    for (lines, message) in cases {
        let text = format!("{head}{lines}    server s 127.0.0.1:1 check\n");
        common::haproxy::assert_refused_by_both(&text, "t.cfg:8", message);
    }
}

/// Answers `ok` when the check starts with a PROXY v1 header naming its own connection.
fn proxied_hello(conn: &mut TcpStream) {
    let request = read_request(conn);
    let (peer, local) = (conn.peer_addr().unwrap(), conn.local_addr().unwrap());
    let header = format!(
        "PROXY TCP4 {} {} {} {}\r\nhello\r\n",
        peer.ip(),
        local.ip(),
        peer.port(),
        local.port()
    );
    if request == header.as_bytes() {
        let _ = conn.write_all(b"ok\r\n");
    }
}

#[test]
fn tcp_check_connect_send_proxy_names_the_check_connection() {
    let server = ProtocolServer::start(proxied_hello, |conn| {
        read_request(conn);
    });
    let (down, up) = down_then_up(
        "    option tcp-check\n\
         \x20   tcp-check connect send-proxy\n\
         \x20   tcp-check send hello\\r\\n\n\
         \x20   tcp-check expect string ok\n",
        &server,
    );
    assert!(
        down.contains("info: \"TCPCHK got an empty response at step 3\""),
        "{down}"
    );
    assert!(up.contains("info: \"(tcp-check)\""), "{up}");
}

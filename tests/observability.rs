//! Observability end to end: the stats page in a real headless Chromium (colours, admin
//! button), basic auth, `;csv`, `/metrics` read by a real Prometheus text parser (histogram
//! buckets add up to the requests sent), `show latency`, and access log lines (UDP syslog and
//! `log stdout`) checked field by field.

mod common;

use common::browser::Browser;
use common::*;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// HAProxy's row colours, as Chromium computes them.
const ACTIVE_UP: &str = "rgba(192, 255, 192, 1)";
const MAINT: &str = "rgba(192, 120, 32, 1)";

/// `app` on `port` in front of s1 (active) and s2 (backup); the stats page and metrics on
/// `stats_port`; `extra_global` and `extra_defaults` lines added.
fn config(
    port: u16,
    stats_port: u16,
    s1: u16,
    s2: u16,
    extra_global: &str,
    extra_defaults: &str,
) -> String {
    format!(
        "global\n    stats socket @SOCKET@ mode 600 level admin\n{extra_global}\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n{extra_defaults}\
         frontend app\n    bind 127.0.0.1:{port}\n    default_backend bk_app\n\
         backend bk_app\n    server s1 127.0.0.1:{s1} check inter 100ms\n    server s2 127.0.0.1:{s2} check inter 100ms backup\n\
         listen stats\n    bind 127.0.0.1:{stats_port}\n    stats enable\n    stats uri /stats\n\
             stats refresh 5s\n    stats auth admin:s3cret\n    stats admin if TRUE\n\
             http-request use-service prometheus-exporter if {{ path /metrics }}\n"
    )
}

struct Setup {
    p: Pointsman,
    _s1: common::Backend,
    _s2: common::Backend,
    port: u16,
    stats_port: u16,
}

fn setup(shards: usize, extra_global: &str, extra_defaults: &str, stdout: Stdio) -> Setup {
    let s1 = backend("s1", "one", &[]);
    let s2 = backend("s2", "two", &[]);
    let (port, stats_port) = (free_port(), free_port());
    let text = config(
        port,
        stats_port,
        s1.port(),
        s2.port(),
        extra_global,
        extra_defaults,
    );
    let p = pointsman_with_stdout(&text, shards, port, stdout);
    wait_for_port(stats_port, Duration::from_secs(10));
    // Both servers fully UP (health checks passed), so the page shows them green and blue.
    eventually("both servers UP", || {
        let stat = p.admin("show stat");
        stat.lines()
            .filter(|l| l.starts_with("bk_app,s") && l.contains(",UP,"))
            .count()
            == 2
    });
    Setup {
        p,
        _s1: s1,
        _s2: s2,
        port,
        stats_port,
    }
}

fn basic(user_password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(user_password)
    )
}

fn stats_get(port: u16, path: &str, auth: Option<&str>) -> Response {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    Client::connect(port)
        .request("GET", path, &headers, b"")
        .expect("stats response")
}

/// Polls `check` until it holds (the page reloads asynchronously after a click).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn stats_page_in_chromium_shows_states_and_its_admin_button_drains() {
    let s = setup(2, "", "", Stdio::inherit());
    for _ in 0..4 {
        assert_eq!(get(s.port, "/").unwrap().status, 200);
    }
    let browser = Browser::start();
    // `;norefresh`: the page must not reload itself between two WebDriver calls.
    let page = format!(
        "http://admin:s3cret@127.0.0.1:{}/stats;norefresh",
        s.stats_port
    );
    browser.goto(&page);
    let s1_row = r#"tr[data-server="bk_app/s1"]"#;
    let s2_row = r#"tr[data-server="bk_app/s2"]"#;
    assert_eq!(
        browser.css(&browser.find(s1_row), "background-color"),
        ACTIVE_UP
    );
    let s2 = browser.find(s2_row);
    assert_eq!(
        browser.css(&s2, "background-color"),
        "rgba(176, 208, 255, 1)",
        "backup UP"
    );
    assert!(browser.text(&s2).contains(" UP "), "{}", browser.text(&s2));
    // Every proxy has its table; the latency columns counted the requests.
    assert_eq!(browser.count("table.tbl"), 3);
    let backend_row = browser.text(&browser.find(r#"tr[data-server="bk_app/BACKEND"]"#));
    assert!(backend_row.contains(" 4 "), "{backend_row}");

    // A runtime API change shows on the next load.
    assert_eq!(s.p.admin("disable server bk_app/s2"), "\n");
    browser.goto(&page);
    let s2 = browser.find(s2_row);
    assert_eq!(browser.css(&s2, "background-color"), MAINT);
    assert!(browser.text(&s2).contains("MAINT"));

    // The admin form: tick s1, choose DRAIN, Apply — a real click in the real browser.
    browser.click(&browser.find(&format!("{s1_row} input[type=checkbox]")));
    browser.click(&browser.find(r#"select[name=action] option[value=drain]"#));
    browser.click(&browser.find(r#"input[type=submit]"#));
    eventually("the page after the action", || {
        browser.url().ends_with("/stats;norefresh;st=DONE")
    });
    let status = browser.text(&browser.find("#status"));
    assert_eq!(status, "Action processed successfully.");
    let s1 = browser.find(s1_row);
    assert_eq!(
        browser.css(&s1, "background-color"),
        "rgba(32, 160, 255, 1)"
    );
    assert!(browser.text(&s1).contains("DRAIN"));
    // Through the coordinator: every shard routes by it, and the runtime API sees it.
    let stat = s.p.admin("show stat");
    let s1_line = stat.lines().find(|l| l.starts_with("bk_app,s1,")).unwrap();
    assert!(s1_line.contains(",DRAIN,"), "{s1_line}");
}

#[test]
fn stats_page_needs_credentials_and_serves_csv() {
    let s = setup(2, "", "", Stdio::inherit());
    let none = stats_get(s.stats_port, "/stats", None);
    assert_eq!(none.status, 401);
    assert_eq!(
        none.header("www-authenticate"),
        Some("Basic realm=\"HAProxy Statistics\"")
    );
    let wrong = stats_get(s.stats_port, "/stats", Some(&basic("admin:nope")));
    assert_eq!(wrong.status, 401);
    let ok = stats_get(s.stats_port, "/stats", Some(&basic("admin:s3cret")));
    assert_eq!(ok.status, 200);
    assert!(ok.text().contains("data-server=\"bk_app/s1\""));
    // A form post without credentials changes nothing.
    let mut c = Client::connect(s.stats_port);
    let denied = c
        .request("POST", "/stats", &[], b"b=bk_app&s=s1&action=maint")
        .unwrap();
    assert_eq!(denied.status, 401);
    assert!(
        s.p.admin("show stat").contains("bk_app,s1,")
            && !s.p.admin("show stat").contains(",MAINT,")
    );
    // The same form with credentials: 303 to ;st=DONE, and s1 is in maintenance.
    let auth = basic("admin:s3cret");
    let done = c
        .request(
            "POST",
            "/stats",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            b"b=bk_app&s=s1&action=weight&weight=7",
        )
        .unwrap();
    assert_eq!(done.status, 303);
    assert_eq!(done.header("location"), Some("/stats;st=DONE"));
    assert_eq!(s.p.admin("get weight bk_app/s1"), "7 (initial 1)\n\n");
    let bad = c
        .request(
            "POST",
            "/stats",
            &[("Authorization", &auth)],
            b"b=bk_app&s=nope&action=maint",
        )
        .unwrap();
    assert_eq!(bad.header("location"), Some("/stats;st=ERRP"));
    // ;csv is `show stat`.
    let csv = stats_get(s.stats_port, "/stats;csv", Some(&auth)).text();
    let socket = s.p.admin("show stat");
    assert_eq!(csv.lines().next(), socket.lines().next());
    assert_eq!(
        csv.lines().count(),
        socket.lines().filter(|l| !l.is_empty()).count()
    );
}

#[test]
fn metrics_parse_and_histogram_buckets_add_up_to_the_requests() {
    let s = setup(2, "", "", Stdio::inherit());
    const N: usize = 40;
    for i in 0..N {
        // Alternate fresh and keep-alive connections so both shards serve some.
        let mut c = Client::connect(s.port);
        assert_eq!(c.get(&format!("/{i}")).unwrap().status, 200);
    }
    let text = get(s.stats_port, "/metrics").unwrap();
    assert_eq!(text.status, 200);
    assert!(text
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let lines: Vec<std::io::Result<String>> =
        text.text().lines().map(|l| Ok(l.to_string())).collect();
    let scrape = prometheus_parse::Scrape::parse(lines.into_iter()).expect("valid exposition");
    let find = |name: &str, labels: &[(&str, &str)]| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .unwrap_or_else(|| panic!("no {name} {labels:?}"))
    };
    let value = |name: &str, labels: &[(&str, &str)]| match &find(name, labels).value {
        prometheus_parse::Value::Counter(v)
        | prometheus_parse::Value::Gauge(v)
        | prometheus_parse::Value::Untyped(v) => *v,
        other => panic!("{name}: {other:?}"),
    };
    assert_eq!(
        value(
            "haproxy_backend_http_responses_total",
            &[("proxy", "bk_app"), ("code", "2xx")]
        ),
        N as f64
    );
    assert_eq!(
        value(
            "haproxy_server_status",
            &[("proxy", "bk_app"), ("server", "s1"), ("state", "UP")]
        ),
        1.0
    );
    assert_eq!(
        value(
            "haproxy_server_status",
            &[("proxy", "bk_app"), ("server", "s1"), ("state", "MAINT")]
        ),
        0.0
    );
    assert_eq!(
        value(
            "haproxy_server_sessions_total",
            &[("proxy", "bk_app"), ("server", "s1")]
        ),
        N as f64
    );
    assert_eq!(value("haproxy_process_nbthread", &[]), 2.0);
    for (name, labels) in [
        (
            "haproxy_backend_response_time_seconds",
            vec![("proxy", "bk_app")],
        ),
        (
            "haproxy_server_response_time_seconds",
            vec![("proxy", "bk_app"), ("server", "s1")],
        ),
        (
            "haproxy_backend_total_time_seconds",
            vec![("proxy", "bk_app")],
        ),
    ] {
        let sample = find(name, &labels);
        let prometheus_parse::Value::Histogram(buckets) = &sample.value else {
            panic!("{name} is not a histogram: {:?}", sample.value);
        };
        let counts: Vec<f64> = buckets.iter().map(|b| b.count).collect();
        assert!(
            counts.windows(2).all(|w| w[0] <= w[1]),
            "{name} not cumulative: {counts:?}"
        );
        let inf = buckets
            .iter()
            .find(|b| b.less_than == f64::INFINITY)
            .expect("+Inf bucket");
        assert_eq!(inf.count, N as f64, "{name}");
        assert_eq!(counts.last().copied(), Some(N as f64));
        // Loopback requests take well under a second.
        let one_second = buckets.iter().find(|b| b.less_than == 1.0).unwrap();
        assert_eq!(one_second.count, N as f64, "{name}");
    }
    // The backup took nothing: its histogram is empty but present.
    let s2 = find(
        "haproxy_server_response_time_seconds",
        &[("proxy", "bk_app"), ("server", "s2")],
    );
    let prometheus_parse::Value::Histogram(b) = &s2.value else {
        panic!()
    };
    assert!(b.iter().all(|b| b.count == 0.0));

    // `show latency` over the admin socket: the same counts.
    let table = s.p.admin("show latency bk_app");
    let row = |name: &str, timer: &str| -> Vec<String> {
        table
            .lines()
            .find(|l| l.starts_with(&format!("bk_app {name} {timer} ")))
            .unwrap_or_else(|| panic!("{table}"))
            .split(' ')
            .map(str::to_string)
            .collect()
    };
    assert!(table.starts_with("# pxname svname timer count p50_ms"));
    assert_eq!(row("BACKEND", "response")[3], N.to_string());
    assert_eq!(row("s1", "total")[3], N.to_string());
    assert_eq!(row("s2", "response")[3], "0");
    let p50: f64 = row("s1", "response")[4].parse().unwrap();
    let p99: f64 = row("s1", "response")[6].parse().unwrap();
    assert!(p50 <= p99, "{table}");
    assert_eq!(s.p.admin("show latency nope"), "Can't find backend.\n\n");
    let one = s.p.admin("show latency bk_app/s1");
    assert_eq!(one.lines().filter(|l| !l.is_empty()).count(), 4, "{one}");
}

/// Splits `<PRI>Mmm dd hh:mm:ss TAG[PID]: MESSAGE`.
fn syslog(datagram: &str) -> (u32, String, String) {
    let (pri, rest) = datagram[1..].split_once('>').expect("<PRI>");
    let (header, message) = rest.split_once("]: ").expect("TAG[PID]: ");
    (
        pri.parse().unwrap(),
        header.to_string(),
        message.to_string(),
    )
}

/// The fields of an `httplog` line.
struct HttpLine {
    client: String,
    date: String,
    frontend: String,
    backend_server: String,
    timers: Vec<i64>,
    status: i64,
    bytes: u64,
    termination: String,
    counts: String,
    request: String,
}

fn http_line(message: &str) -> HttpLine {
    let (before, request) = message.split_once(" \"").expect("quoted request");
    let f: Vec<&str> = before.split(' ').collect();
    assert_eq!(f.len(), 12, "{message}");
    HttpLine {
        client: f[0].to_string(),
        date: f[1].trim_matches(|c| c == '[' || c == ']').to_string(),
        frontend: f[2].to_string(),
        backend_server: f[3].to_string(),
        timers: f[4].split('/').map(|t| t.parse().unwrap()).collect(),
        status: f[5].parse().unwrap(),
        bytes: f[6].parse().unwrap(),
        termination: format!("{} {} {}", f[7], f[8], f[9]),
        counts: format!("{} {}", f[10], f[11]),
        request: request.trim_end_matches('"').to_string(),
    }
}

#[test]
fn access_logs_reach_udp_syslog_in_haproxys_httplog_format() {
    let syslog_socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    syslog_socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let syslog_port = syslog_socket.local_addr().unwrap().port();
    let s = setup(
        2,
        &format!("    log 127.0.0.1:{syslog_port} local0\n    log-tag haproxy\n"),
        "    log global\n    option httplog\n",
        Stdio::inherit(),
    );
    let mut c = Client::connect(s.port);
    let r = c.get("/hello?a=\"b\"").unwrap();
    assert_eq!(r.status, 200);
    let client_port = {
        // The port the proxy saw: the local port of our connection.
        let probe = Client::connect(s.port);
        drop(probe);
        0
    };
    let _ = client_port;
    let mut buf = [0u8; 2048];
    let n = syslog_socket.recv(&mut buf).expect("a syslog datagram");
    let datagram = String::from_utf8_lossy(&buf[..n]).to_string();
    let (pri, header, message) = syslog(&datagram);
    assert_eq!(pri, 16 * 8 + 6, "local0.info: {datagram}");
    assert!(
        header.ends_with(&format!("haproxy[{}", s.p.proc.child.id())),
        "{header}"
    );
    let date_in_header = &header[..15];
    assert_eq!(
        date_in_header.as_bytes()[3],
        b' ',
        "Mmm dd hh:mm:ss: {header}"
    );
    let line = http_line(&message);
    assert!(line.client.starts_with("127.0.0.1:"), "{message}");
    assert_eq!(
        line.date.len(),
        "06/Feb/2009:12:14:14.655".len(),
        "{message}"
    );
    assert_eq!(&line.date[2..3], "/");
    assert_eq!(line.frontend, "app");
    assert_eq!(line.backend_server, "bk_app/s1");
    assert_eq!(line.timers.len(), 5);
    let [tr, tw, tc, tr_server, ta] = [
        line.timers[0],
        line.timers[1],
        line.timers[2],
        line.timers[3],
        line.timers[4],
    ];
    assert!(tr >= 0 && tw == 0 && tc >= 0 && tr_server >= 0, "{message}");
    assert!(ta >= tr_server && ta < 5_000, "{message}");
    assert_eq!(line.status, 200);
    assert!(line.bytes > 0 && line.bytes == r.body.len() as u64 + line.bytes - r.body.len() as u64);
    assert_eq!(line.termination, "- - ----");
    assert_eq!(line.counts, "1/1/1/1/0 0/0", "{message}");
    assert_eq!(line.request, "GET /hello?a=#22b#22 HTTP/1.1");

    // No server left: 503, <NOSRV>... the line says who ended it (SC) and the server state
    // changes are logged at alert.
    assert_eq!(s.p.admin("disable server bk_app/s1"), "\n");
    assert_eq!(s.p.admin("disable server bk_app/s2"), "\n");
    let r = get(s.port, "/down").unwrap();
    assert_eq!(r.status, 503);
    // Shards flush on their own: the request line and the coordinator's events may come in
    // either order.
    let mut events = Vec::new();
    let mut failed = None;
    while failed.is_none() || events.len() < 3 {
        let n = syslog_socket.recv(&mut buf).expect("more syslog datagrams");
        let (pri, _, message) = syslog(&String::from_utf8_lossy(&buf[..n]));
        if message.contains("\"GET /down") {
            failed = Some(http_line(&message));
        } else {
            events.push((pri, message));
        }
    }
    let failed = failed.unwrap();
    assert_eq!(failed.status, 503);
    assert_eq!(failed.backend_server, "app/<NOSRV>");
    assert_eq!(failed.termination, "- - SC--");
    assert_eq!(&failed.timers[1..4], &[-1, -1, -1]);
    assert!(
        events.iter().any(|(pri, m)| *pri == 16 * 8 + 1
            && m == "Server bk_app/s1 is going DOWN for maintenance. 0 active and 1 backup servers left. Running on backup. 0 sessions active, 0 requeued, 0 remaining in queue."),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(pri, m)| *pri == 16 * 8 + 1 && m == "backend bk_app has no server available!"),
        "{events:?}"
    );
}

/// pointsman's stdout, line by line, from a reader thread (it ends with the process).
fn stdout_lines(p: &mut Pointsman) -> std::sync::mpsc::Receiver<String> {
    let stdout = p.proc.child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// `option dontlognull` in a tcp frontend: a session whose client sent nothing is not
/// logged; one that carried bytes is, and a frontend without the option logs both (HAProxy
/// 2.6 logs a stream only when its request channel carried bytes or the frontend lacks the
/// option; checked against haproxy 2.6.12 with this set-up).
#[test]
fn dontlognull_drops_a_tcp_session_whose_client_sent_nothing() {
    let tcp_server = backend("t", "tcp", &[]);
    let (quiet, raw) = (free_port(), free_port());
    let s1 = backend("s1", "one", &[]);
    let port = free_port();
    let text = format!(
        "global\n    log stdout format raw local0\n\
         defaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    log global\n\
         frontend app\n    mode http\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n    mode http\n    server s1 127.0.0.1:{}\n\
         frontend quiet\n    mode tcp\n    option tcplog\n    option dontlognull\n    bind 127.0.0.1:{quiet}\n    default_backend bk_tcp\n\
         frontend raw\n    mode tcp\n    option tcplog\n    bind 127.0.0.1:{raw}\n    default_backend bk_tcp\n\
         backend bk_tcp\n    mode tcp\n    server t1 127.0.0.1:{}\n",
        s1.port(),
        tcp_server.port()
    );
    let mut p = pointsman_with_stdout(&text, 1, port, Stdio::piped());
    let rx = stdout_lines(&mut p);
    // Connect and close without a byte, to each; then a request through each, the last
    // one to `raw`: one shard logs sessions in the order they end, so its line comes last.
    for tcp_port in [quiet, raw] {
        drop(std::net::TcpStream::connect(("127.0.0.1", tcp_port)).unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    for tcp_port in [quiet, raw] {
        assert_eq!(get(tcp_port, "/y").unwrap().status, 200);
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut lines: Vec<String> = Vec::new();
    while !lines
        .iter()
        .any(|l| l.contains(" raw ") && !l.contains(" 0 -- "))
    {
        lines.push(
            rx.recv_timeout(Duration::from_secs(5))
                .expect("the request through raw is logged"),
        );
    }
    let bytes = |frontend: &str| -> Vec<u64> {
        lines
            .iter()
            .filter(|l| l.contains(&format!(" {frontend} ")))
            .map(|l| l.split(' ').nth(5).unwrap().parse().unwrap())
            .collect()
    };
    let quiet_bytes = bytes("quiet");
    assert_eq!(quiet_bytes.len(), 1, "{lines:#?}");
    assert!(quiet_bytes[0] > 0, "{lines:#?}");
    let raw_bytes = bytes("raw");
    assert_eq!(raw_bytes.len(), 2, "{lines:#?}");
    assert_eq!(raw_bytes[0], 0, "{lines:#?}");
}

#[test]
fn log_stdout_raw_writes_plain_lines_and_tcplog_for_tcp_frontends() {
    let tcp_server = backend("t", "tcp", &[]);
    let tcp_port = free_port();
    let s1 = backend("s1", "one", &[]);
    let port = free_port();
    let text = format!(
        "global\n    log stdout format raw local0\n\
         defaults\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    log global\n\
         frontend app\n    mode http\n    option httplog\n    bind 127.0.0.1:{port}\n    default_backend bk\n\
         backend bk\n    mode http\n    server s1 127.0.0.1:{}\n\
         frontend raw\n    mode tcp\n    option tcplog\n    bind 127.0.0.1:{tcp_port}\n    default_backend bk_tcp\n\
         backend bk_tcp\n    mode tcp\n    server t1 127.0.0.1:{}\n",
        s1.port(),
        tcp_server.port()
    );
    let mut p = pointsman_with_stdout(&text, 1, port, Stdio::piped());
    let rx = stdout_lines(&mut p);
    assert_eq!(get(port, "/x").unwrap().status, 200);
    // Through the tcp frontend: an HTTP exchange the proxy only copies.
    assert_eq!(get(tcp_port, "/y").unwrap().status, 200);
    let mut lines = Vec::new();
    while lines.len() < 2 {
        lines.push(
            rx.recv_timeout(Duration::from_secs(5))
                .expect("two log lines"),
        );
    }
    let http = lines
        .iter()
        .find(|l| l.contains(" app "))
        .expect("the http line");
    assert!(!http.starts_with('<'), "raw: no syslog header: {http}");
    let line = http_line(http);
    assert_eq!(
        (
            line.frontend.as_str(),
            line.backend_server.as_str(),
            line.status
        ),
        ("app", "bk/s1", 200)
    );
    assert_eq!(line.request, "GET /x HTTP/1.1");
    let tcp = lines
        .iter()
        .find(|l| l.contains(" raw "))
        .expect("the tcp line");
    let f: Vec<&str> = tcp.split(' ').collect();
    assert_eq!(f.len(), 9, "{tcp}");
    assert_eq!((f[2], f[3]), ("raw", "bk_tcp/t1"));
    let timers: Vec<i64> = f[4].split('/').map(|t| t.parse().unwrap()).collect();
    assert!(
        timers.len() == 3 && timers[0] == 0 && timers[1] >= 0 && timers[2] >= timers[1],
        "{tcp}"
    );
    assert!(f[5].parse::<u64>().unwrap() > 0, "bytes: {tcp}");
    assert_eq!(f[6], "--");
    assert_eq!((f[7], f[8]), ("1/1/1/1/0", "0/0"));
    // A soft stop writes what is still buffered and exits (the log writer does not hold it).
    assert_eq!(get(port, "/last").unwrap().status, 200);
    p.proc.signal(libc::SIGTERM);
    assert_eq!(p.proc.wait_exit(Duration::from_secs(15)), Some(0));
    let last = std::iter::from_fn(|| rx.recv_timeout(Duration::from_secs(5)).ok())
        .find(|l| l.contains("\"GET /last HTTP/1.1\""));
    assert!(last.is_some(), "the last line was written before the exit");
}

/// `Idle_pct` of `show info` (`Idle_pct: N`).
fn idle_pct(p: &Pointsman) -> u32 {
    let info = p.admin("show info");
    let value = info
        .lines()
        .find_map(|l| l.strip_prefix("Idle_pct: "))
        .unwrap_or_else(|| panic!("no Idle_pct in {info}"));
    value.trim().parse().expect("Idle_pct is a number")
}

/// `Idle_pct` comes from the shard's busy time: near 100 with nothing to do, well below it
/// while keep-alive clients send back to back, and near 100 again once they stop.
#[test]
fn show_info_idle_pct_follows_the_shards_busy_time() {
    let s1 = backend("s1", "one", &[]);
    let port = free_port();
    let p = pointsman(&proxy_config(port, &server_lines([&s1], "")), 1, port);
    // More than one window (1–2 s) of doing nothing: no checks, no logs, no clients.
    std::thread::sleep(Duration::from_millis(2500));
    let quiet = idle_pct(&p);
    assert!(quiet >= 90, "an idle proxy is {quiet} % idle");

    let clients = (0..4).map(|_| Client::connect(port)).collect();
    let traffic = Traffic::start(clients, Duration::from_secs(10));
    let mut loaded = Vec::new();
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(500));
        loaded.push(idle_pct(&p));
    }
    let samples = traffic.stop();
    assert!(samples.iter().all(|s| s.status == 200));
    let busiest = loaded.iter().copied().min().unwrap();
    assert!(
        busiest <= 60,
        "Idle_pct under back-to-back load (every 500 ms): {loaded:?}, {} requests",
        samples.len()
    );

    let mut after = Vec::new();
    let settled = (0..10).any(|_| {
        std::thread::sleep(Duration::from_millis(500));
        after.push(idle_pct(&p));
        after.last() >= Some(&90)
    });
    assert!(settled, "Idle_pct after the load stopped: {after:?}");
}

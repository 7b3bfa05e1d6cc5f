//! `show stat` counters as HAProxy 2.6 counts them, side by side: one config run by the real
//! haproxy and by pointsman, the same requests to each (served, denied by `http-request` and
//! `http-response`, answered by `return` and `redirect`, a dead server retried, a backend
//! without a usable server, a retry redispatched to another server), then every FRONTEND,
//! BACKEND and server row's event counters compared column by column. Dashboards and scripts
//! built on HAProxy's counters read these.

mod common;

use common::haproxy::haproxy;
use common::{admin, backends, free_port, pointsman, stat_rows, temp_dir, Client};
use std::collections::BTreeMap;
use std::path::Path;

/// The columns compared: events, not sizes or timings (bytes differ by the fields each proxy
/// adds; times by the machine).
const COLUMNS: &[&str] = &[
    "stot",
    "req_tot",
    "dreq",
    "dresp",
    "intercepted",
    "ereq",
    "econ",
    "eresp",
    "wretr",
    "wredis",
    "lbtot",
    "hrsp_1xx",
    "hrsp_2xx",
    "hrsp_3xx",
    "hrsp_4xx",
    "hrsp_5xx",
    "hrsp_other",
];

fn config(socket: &Path, (fe, fe_resp): (u16, u16), live: u16, dead: u16) -> String {
    format!(
        "global\n    stats socket {socket} mode 600 level admin\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\
         frontend fe\n    bind 127.0.0.1:{fe}\n\
         \x20   monitor-uri /monitor\n\
         \x20   stats enable\n    stats uri /stats\n\
         \x20   http-request deny if {{ path /deny }}\n\
         \x20   http-request return status 200 content-type text/plain string ok if {{ path /return }}\n\
         \x20   http-request redirect location /elsewhere if {{ path /redirect }}\n\
         \x20   use_backend bk_dead if {{ path_beg /dead }}\n\
         \x20   use_backend bk_none if {{ path_beg /none }}\n\
         \x20   use_backend bk_redispatch if {{ path_beg /redispatch }}\n\
         \x20   default_backend bk\n\
         frontend fe_resp\n    bind 127.0.0.1:{fe_resp}\n\
         \x20   http-response deny if {{ status 404 }}\n\
         \x20   default_backend bk\n\
         backend bk\n    server s1 127.0.0.1:{live}\n\
         backend bk_dead\n    retries 1\n    server d1 127.0.0.1:{dead}\n\
         backend bk_none\n    server n1 127.0.0.1:{live} disabled\n\
         backend bk_redispatch\n    retries 1\n    option redispatch\n    balance first\n\
         \x20   server r1 127.0.0.1:{dead}\n    server r2 127.0.0.1:{live}\n",
        socket = socket.display()
    )
}

/// The requests, and the status each proxy must answer.
const REQUESTS: &[(usize, &str, u16)] = &[
    (0, "/", 200),
    (0, "/", 200),
    (0, "/status/404", 404),
    (0, "/deny", 403),
    (0, "/return", 200),
    (0, "/redirect", 302),
    (0, "/redirect", 302),
    (0, "/monitor", 200),
    (0, "/stats", 200),
    (0, "/dead", 503),
    (0, "/none", 503),
    (0, "/redispatch", 200),
    (1, "/status/404", 502),
    (1, "/", 200),
];

type Rows = BTreeMap<(String, String), BTreeMap<String, String>>;

/// Sends every request (each on its own connection, closed by the request so that no proxy
/// sees an idle connection end) and returns what each counter counted meanwhile: the
/// harness's readiness probe (a connection closed without a request, which HAProxy counts
/// as a bad request, unlike pointsman: docs/observability.md) is counted before.
fn run(ports: [u16; 2], socket: &Path) -> Rows {
    let before = settled(socket);
    for (frontend, path, status) in REQUESTS {
        let response = Client::connect(ports[*frontend])
            .request("GET", path, &[("Connection", "close")], b"")
            .expect("a response");
        assert_eq!(
            response.status, *status,
            "GET {path} on frontend {frontend}"
        );
    }
    let mut after = rows(&admin(socket, "show stat"));
    for (key, row) in after.iter_mut() {
        for (column, value) in row.iter_mut() {
            let earlier = before.get(key).and_then(|r| r.get(column));
            if let (Ok(now), Some(Ok(then))) =
                (value.parse::<u64>(), earlier.map(|v| v.parse::<u64>()))
            {
                *value = (now - then).to_string();
            }
        }
    }
    after
}

/// The counters once they stop moving: the probe's connection is counted when the proxy sees
/// it close, which may be after the proxy is ready.
fn settled(socket: &Path) -> Rows {
    let mut last = rows(&admin(socket, "show stat"));
    for _ in 0..50 {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let now = rows(&admin(socket, "show stat"));
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("the counters never settled");
}

fn rows(csv: &str) -> Rows {
    stat_rows(csv)
        .into_iter()
        .map(|row| {
            let key = (row["pxname"].clone(), row["svname"].clone());
            let events = row
                .into_iter()
                .filter(|(k, _)| COLUMNS.contains(&k.as_str()))
                .collect();
            (key, events)
        })
        .collect()
}

#[test]
fn counters_count_what_haproxys_count() {
    let [live] = backends(["live"]);
    let dead = free_port();
    let dir = temp_dir("counters");
    let mut seen = Vec::new();
    for proxy in ["haproxy", "pointsman"] {
        let ports = [free_port(), free_port()];
        let rows = if proxy == "haproxy" {
            let socket = dir.join("haproxy.sock");
            let text = config(&socket, (ports[0], ports[1]), live.port(), dead);
            let _h = haproxy(&text, ports[1]);
            common::wait_for(std::time::Duration::from_secs(5), || socket.exists());
            run(ports, &socket)
        } else {
            let text = config(
                Path::new("@SOCKET@"),
                (ports[0], ports[1]),
                live.port(),
                dead,
            );
            let p = pointsman(&text, 2, ports[1]);
            run(ports, &p.socket)
        };
        seen.push(rows);
    }
    let (haproxy, pointsman) = (&seen[0], &seen[1]);
    let mut differences = Vec::new();
    for (key, expected) in haproxy {
        let Some(got) = pointsman.get(key) else {
            differences.push(format!("{key:?}: no such row in pointsman's show stat"));
            continue;
        };
        for (column, want) in expected {
            let have = got.get(column).map(String::as_str).unwrap_or("(none)");
            if have != want {
                differences.push(format!(
                    "{}/{} {column}: haproxy {want:?}, pointsman {have:?}",
                    key.0, key.1
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "counters that differ from HAProxy's:\n  {}",
        differences.join("\n  ")
    );
}

//! "The reply came back" means "every core routes by the new state". pointsman runs with
//! several shards; keep-alive clients on several threads keep connections on every shard busy
//! (checked with `show servers conn`, whose `idle_per_thr` columns are per shard); each
//! mutation is sent, and every request *sent after its reply* must obey it.

use super::*;
use std::time::Instant;

/// Per-shard idle connections to `server` (`idle_per_thr[N]` of `show servers conn`).
fn idle_per_shard(s: &Setup, server: &str) -> Vec<u64> {
    let conn = s.admin("show servers conn bk_app");
    let row = conn
        .lines()
        .find(|l| l.starts_with(&format!("bk_app/{server} ")))
        .unwrap_or_else(|| panic!("{conn}"));
    // 13 fixed fields, then one per shard.
    row.split(' ')
        .skip(13)
        .map(|v| v.parse().unwrap())
        .collect()
}

/// Opens keep-alive clients (each sends one request) until every shard holds an idle
/// connection to `server`, and at least `min` clients; returns them.
fn clients_on_every_shard(s: &Setup, server: &str, shards: usize, min: usize) -> Vec<Client> {
    let mut clients = Vec::new();
    loop {
        let mut client = Client::connect(s.port);
        let r = client.get("/").expect("warm-up request");
        assert_eq!(r.header("x-server"), Some(server));
        clients.push(client);
        if clients.len() >= min {
            let idle = idle_per_shard(s, server);
            assert_eq!(idle.len(), shards, "one idle column per shard");
            if idle.iter().all(|&n| n > 0) {
                return clients;
            }
        }
        assert!(
            clients.len() < 64,
            "64 connections and still a shard without traffic: {:?}",
            idle_per_shard(s, server)
        );
    }
}

/// A mutation, its accepted replies, and the server every request sent after its reply must
/// reach.
struct Step {
    command: String,
    replies: Vec<String>,
    then: &'static str,
}

fn step(command: impl Into<String>, reply: impl Into<String>, then: &'static str) -> Step {
    Step {
        command: command.into(),
        replies: vec![reply.into()],
        then,
    }
}

/// pointsman's graceful `del server`: removed at once when idle, else drained, then removed.
fn del_server(name: &str, then: &'static str) -> Step {
    Step {
        command: format!("del server {name}"),
        replies: vec![
            "Server deleted.\n".into(),
            "Server draining: it takes no new requests and is deleted when its last request finishes.\n".into(),
        ],
        then,
    }
}

/// `set server NAME addr` moving the server from `from`'s port to `to`'s, and HAProxy's reply
/// to it.
fn move_port(name: &str, from: &Backend, to: &Backend, then: &'static str) -> Step {
    step(
        format!("set server {name} addr 127.0.0.1 port {}", to.port()),
        format!(
            "no need to change the addr, port changed from '{}' to '{}' by 'stats socket command'\n\n",
            from.port(),
            to.port()
        ),
        then,
    )
}

/// When each step's command was sent and its reply received.
struct Timed {
    sent: Instant,
    replied: Instant,
}

fn run_steps(shards: usize, steps: &[Step], extra_steps: impl Fn(&Setup) -> Vec<Step>) {
    let s = Setup::start(Options {
        shards,
        ..Options::default()
    });
    let clients = clients_on_every_shard(&s, "nginx2", shards, 2 * shards + 2);
    let client_count = clients.len();
    let traffic = Traffic::start(clients, Duration::from_secs(60));
    let mut steps: Vec<&Step> = steps.iter().collect();
    let extra = extra_steps(&s);
    steps.extend(extra.iter());
    let mut times = Vec::new();
    std::thread::sleep(Duration::from_millis(150));
    for step in &steps {
        let sent = Instant::now();
        let reply = s.admin(&step.command);
        let replied = Instant::now();
        assert!(step.replies.contains(&reply), "{}: {reply:?}", step.command);
        times.push(Timed { sent, replied });
        std::thread::sleep(Duration::from_millis(250));
    }
    let end = Instant::now();
    let samples = traffic.stop();

    // Nothing failed, ever.
    let failed: Vec<&Sample> = samples.iter().filter(|x| x.status != 200).collect();
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    // Before the first mutation, nginx2 served everything.
    let before: Vec<&Sample> = samples.iter().filter(|x| x.done < times[0].sent).collect();
    assert_eq!(
        count_servers(before.iter().copied())
            .keys()
            .collect::<Vec<_>>(),
        ["nginx2"]
    );
    // Every request sent after a reply and answered before the next command was sent obeyed
    // it, on every client connection (so on every shard). (A request still unanswered when
    // the next command goes out may be routed by either state.)
    for (i, step) in steps.iter().enumerate() {
        let from = times[i].replied;
        let to = times.get(i + 1).map_or(end, |t| t.sent);
        let window: Vec<&Sample> = samples
            .iter()
            .filter(|x| x.sent > from && x.done < to)
            .collect();
        let wrong: Vec<&&Sample> = window.iter().filter(|x| x.server != step.then).collect();
        assert!(
            wrong.is_empty(),
            "after `{}` replied, {} of {} requests went elsewhere than {}: {:?}; wrong ones \
             (client, sent after the reply, took): {:?}",
            step.command,
            wrong.len(),
            window.len(),
            step.then,
            count_servers(window.iter().copied()),
            wrong
                .iter()
                .map(|x| (x.client, x.sent - from, x.done - x.sent))
                .collect::<Vec<_>>()
        );
        for client in 0..client_count {
            assert!(
                window.iter().any(|x| x.client == client),
                "client {client} sent nothing after `{}`",
                step.command
            );
        }
    }
}

#[test]
fn every_shard_obeys_each_mutation_after_its_reply() {
    let steps = [
        step("disable server bk_app/nginx2", "\n", "nginx1"),
        step("enable server bk_app/nginx2", "\n", "nginx2"),
        step("set weight bk_app/nginx2 0", "\n", "nginx1"),
        step("set weight bk_app/nginx2 100%", "\n", "nginx2"),
        step("set server bk_app/nginx2 state drain", "\n", "nginx1"),
        step("set server bk_app/nginx2 state ready", "\n", "nginx2"),
        step("set server bk_app/nginx2 weight 0", "\n", "nginx1"),
        step("set server bk_app/nginx2 weight 1", "\n", "nginx2"),
        step("set server bk_app/nginx2 health down", "\n", "nginx1"),
        step("set server bk_app/nginx2 health up", "\n", "nginx2"),
        step("set server bk_app/nginx2 state maint", "\n", "nginx1"),
        step("set server bk_app/nginx2 state ready", "\n", "nginx2"),
    ];
    run_steps(2, &steps, |s| {
        vec![
            // The address moves to nginx3's port: every shard connects there at once.
            move_port("bk_app/nginx2", &s.nginx2, &s.nginx3, "nginx3"),
            move_port("bk_app/nginx2", &s.nginx3, &s.nginx2, "nginx2"),
            // And last, the server is deleted (pointsman's graceful `del server`).
            del_server("bk_app/nginx2", "nginx1"),
        ]
    });
}

#[test]
fn four_shards_obey_disable_and_del() {
    let steps = [
        step("disable server bk_app/nginx2", "\n", "nginx1"),
        step("enable server bk_app/nginx2", "\n", "nginx2"),
        step("set weight bk_app/nginx2 0", "\n", "nginx1"),
        step("set weight bk_app/nginx2 1", "\n", "nginx2"),
    ];
    run_steps(4, &steps, |_| vec![del_server("bk_app/nginx2", "nginx1")]);
}

#[test]
fn a_health_check_transition_reaches_every_shard() {
    // Checks every 300 ms: DOWN after 3 failed checks. The check runs on one shard; the
    // coordinator broadcasts the transition.
    let s = Setup::start(Options {
        server: " inter 300ms",
        ..Options::default()
    });
    let clients = clients_on_every_shard(&s, "nginx2", 2, 4);
    s.nginx2.proc.signal(libc::SIGKILL);
    wait_for(Duration::from_secs(10), || {
        let stat = s.admin("show stat -1 4 -1");
        let row = stat_row(&stat, "bk_app", "nginx2").unwrap_or("");
        column(row, "status") == "DOWN"
    });
    let stat = s.admin("show stat -1 4 -1");
    let row = stat_row(&stat, "bk_app", "nginx2").unwrap();
    assert_eq!(column(row, "check_status"), "L4CON", "{row}");
    assert_eq!(column(row, "check_desc"), "Layer4 connection problem");
    // Every client connection, on every shard, now goes to the backup.
    for mut client in clients {
        for _ in 0..3 {
            let r = client.get("/").expect("response");
            assert_eq!((r.status, r.header("x-server")), (200, Some("nginx1")));
        }
    }
}

//! Behaviour of every algorithm through the public [`Balancer`] interface, with backends built
//! directly and changed through [`state::apply`] as the shards will.

use super::{by_cookie, Balancer, Candidates, PickContext};
use crate::config::Algorithm;
use crate::state::{
    apply, AdminState, Backend, Mutation, OpState, Server, ServerRef, ServerSpec, State,
};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const ALL: [Algorithm; 6] = [
    Algorithm::RoundRobin,
    Algorithm::StaticRr,
    Algorithm::LeastConn,
    Algorithm::First,
    Algorithm::Source,
    Algorithm::Random,
];

/// The algorithms whose picks follow weights.
const WEIGHTED: [Algorithm; 5] = [
    Algorithm::RoundRobin,
    Algorithm::StaticRr,
    Algorithm::LeastConn,
    Algorithm::Source,
    Algorithm::Random,
];

const PICKS: usize = 4000;

fn spec(name: &str, weight: u32) -> ServerSpec {
    let mut spec = ServerSpec::new(name, "127.0.0.1:8080".parse().unwrap());
    spec.options.weight = weight;
    spec
}

fn with_cookie(mut spec: ServerSpec, cookie: &str) -> ServerSpec {
    spec.options.cookie = Some(cookie.into());
    spec
}

fn backup(name: &str, weight: u32) -> ServerSpec {
    let mut spec = spec(name, weight);
    spec.options.backup = true;
    spec
}

fn state_with(algorithm: Algorithm, specs: &[ServerSpec]) -> State {
    let servers: Vec<Server> = specs
        .iter()
        .enumerate()
        .map(|(i, s)| Server::new(i as u32 + 1, s, false, 0))
        .collect();
    State {
        backends: vec![Backend {
            name: "be".to_string(),
            id: 2,
            mode: Default::default(),
            algorithm,
            allbackups: false,
            redispatch: true,
            retries: 3,
            cookie: None,
            httpchk: None,
            tcpchk: None,
            next_server_id: servers.len() as u32 + 1,
            servers,
        }],
        ..State::default()
    }
}

fn weighted(algorithm: Algorithm, weights: &[u32]) -> State {
    let specs: Vec<ServerSpec> = weights
        .iter()
        .enumerate()
        .map(|(i, w)| spec(&format!("s{}", i + 1), *w))
        .collect();
    state_with(algorithm, &specs)
}

fn change(state: &mut State, mutation: Mutation) {
    apply(state, &mutation, 0).expect("mutation applies");
}

fn server(id: u32) -> ServerRef {
    ServerRef {
        backend: 0,
        server: id,
    }
}

/// Drives picks the way a shard does: every pick adds a request in flight, and requests finish
/// in order once `window` of them are in flight. Source picks come from distinct client IPs.
struct Traffic {
    inflight: RefCell<Vec<u64>>,
    open: VecDeque<usize>,
    window: usize,
    clients: u32,
}

impl Traffic {
    fn new(window: usize) -> Traffic {
        Traffic {
            inflight: RefCell::new(Vec::new()),
            open: VecDeque::new(),
            window,
            clients: 0,
        }
    }

    fn pick(&mut self, balancer: &mut Balancer, backend: &Backend) -> Option<usize> {
        self.inflight.borrow_mut().resize(backend.servers.len(), 0);
        self.clients += 1;
        let client = Ipv4Addr::from(0x0a00_0000 + self.clients);
        let counts = |i: usize| self.inflight.borrow().get(i).copied().unwrap_or(0);
        let ctx = PickContext {
            client_ip: Some(IpAddr::V4(client)),
            ..PickContext::new(&counts)
        };
        let picked = balancer.pick(backend, &ctx)?;
        self.inflight.borrow_mut()[picked] += 1;
        self.open.push_back(picked);
        if self.open.len() > self.window {
            let done = self.open.pop_front().unwrap();
            self.inflight.borrow_mut()[done] -= 1;
        }
        Some(picked)
    }

    /// Picks per position over `n` picks.
    fn counts(&mut self, balancer: &mut Balancer, backend: &Backend, n: usize) -> Vec<usize> {
        let mut counts = vec![0; backend.servers.len()];
        for _ in 0..n {
            counts[self.pick(balancer, backend).expect("a server")] += 1;
        }
        counts
    }
}

/// Picks per position over `n` picks with up to 200 requests in flight: enough that leastconn's
/// `+ 1` (which favours heavy servers when few requests are in flight) fades.
fn counts(algorithm: Algorithm, backend: &Backend, n: usize) -> Vec<usize> {
    Traffic::new(200).counts(&mut Balancer::with_seed(algorithm, 7), backend, n)
}

fn assert_share(algorithm: Algorithm, counts: &[usize], position: usize, expected: f64) {
    let total: usize = counts.iter().sum();
    let share = counts[position] as f64 / total as f64;
    assert!(
        (share - expected).abs() <= 0.03,
        "{algorithm:?}: server at {position} got {share:.3} of picks, expected {expected:.3} \
         ({counts:?})"
    );
}

#[test]
fn weights_one_to_three_hold_within_three_percent() {
    for algorithm in WEIGHTED {
        let state = weighted(algorithm, &[1, 3]);
        let counts = counts(algorithm, &state.backends[0], PICKS);
        assert_share(algorithm, &counts, 0, 0.25);
        assert_share(algorithm, &counts, 1, 0.75);
    }
}

#[test]
fn smooth_round_robin_interleaves() {
    let state = weighted(Algorithm::RoundRobin, &[1, 3]);
    let mut balancer = Balancer::with_seed(Algorithm::RoundRobin, 1);
    let picks: Vec<usize> = (0..8)
        .map(|_| {
            balancer
                .pick(&state.backends[0], &PickContext::idle())
                .unwrap()
        })
        .collect();
    assert_eq!(picks, [1, 0, 1, 1, 1, 0, 1, 1]);
}

#[test]
fn static_rr_follows_weights_exactly() {
    let state = weighted(Algorithm::StaticRr, &[1, 3, 2]);
    let picks = counts(Algorithm::StaticRr, &state.backends[0], 600);
    assert_eq!(picks, [100, 300, 200]);
}

#[test]
fn weight_change_acts_on_the_next_pick() {
    for algorithm in WEIGHTED {
        let mut state = weighted(algorithm, &[1, 1]);
        let mut balancer = Balancer::with_seed(algorithm, 3);
        let mut traffic = Traffic::new(8);
        traffic.counts(&mut balancer, &state.backends[0], 101);
        change(
            &mut state,
            Mutation::SetWeight {
                server: server(2),
                weight: 256,
            },
        );
        let after = traffic.counts(&mut balancer, &state.backends[0], 1000);
        assert_share(algorithm, &after, 1, 256.0 / 257.0);
        // Back to equal: the next picks share again.
        change(
            &mut state,
            Mutation::SetWeight {
                server: server(2),
                weight: 1,
            },
        );
        let after = traffic.counts(&mut balancer, &state.backends[0], 1000);
        assert_share(algorithm, &after, 0, 0.5);
    }
}

#[test]
fn round_robin_uses_a_new_weight_on_the_very_next_pick() {
    let mut state = weighted(Algorithm::RoundRobin, &[1, 1]);
    let mut balancer = Balancer::with_seed(Algorithm::RoundRobin, 1);
    let ctx = PickContext::idle();
    assert_eq!(balancer.pick(&state.backends[0], &ctx), Some(0));
    change(
        &mut state,
        Mutation::SetWeight {
            server: server(1),
            weight: 10,
        },
    );
    // Server 1 was just picked (score -1) but its new weight outbids server 2 at once.
    assert_eq!(balancer.pick(&state.backends[0], &ctx), Some(0));
}

/// Every way a server stops taking new traffic.
fn out_of_traffic(id: u32) -> [Mutation; 5] {
    [
        Mutation::SetAdminState {
            server: server(id),
            state: AdminState::Maint,
        },
        Mutation::SetAdminState {
            server: server(id),
            state: AdminState::Drain,
        },
        Mutation::SetWeight {
            server: server(id),
            weight: 0,
        },
        Mutation::SetHealth {
            server: server(id),
            op: OpState::Down,
        },
        Mutation::MarkDeleting { server: server(id) },
    ]
}

#[test]
fn a_server_out_of_traffic_is_never_picked_afterwards() {
    for algorithm in ALL {
        for mutation in out_of_traffic(1) {
            let mut state = weighted(algorithm, &[3, 1, 1]);
            let mut balancer = Balancer::with_seed(algorithm, 5);
            let mut traffic = Traffic::new(4);
            traffic.counts(&mut balancer, &state.backends[0], 10);
            change(&mut state, mutation.clone());
            let after = traffic.counts(&mut balancer, &state.backends[0], 500);
            assert_eq!(after[0], 0, "{algorithm:?} after {mutation:?}: {after:?}");
        }
    }
}

#[test]
fn no_usable_server_gives_none() {
    for algorithm in ALL {
        let mut state = weighted(algorithm, &[1, 1]);
        for id in [1, 2] {
            change(
                &mut state,
                Mutation::SetAdminState {
                    server: server(id),
                    state: AdminState::Maint,
                },
            );
        }
        let mut balancer = Balancer::with_seed(algorithm, 5);
        assert_eq!(
            balancer.pick(&state.backends[0], &PickContext::idle()),
            None
        );
    }
}

fn with_backups(algorithm: Algorithm) -> State {
    state_with(
        algorithm,
        &[spec("a", 1), backup("b1", 1), spec("c", 1), backup("b2", 3)],
    )
}

fn maint(state: &mut State, ids: &[u32]) {
    for id in ids {
        change(
            state,
            Mutation::SetAdminState {
                server: server(*id),
                state: AdminState::Maint,
            },
        );
    }
}

#[test]
fn backups_only_when_no_active_is_usable() {
    for algorithm in ALL {
        let mut state = with_backups(algorithm);
        let picks = counts(algorithm, &state.backends[0], 400);
        assert_eq!((picks[1], picks[3]), (0, 0), "{algorithm:?}: {picks:?}");
        maint(&mut state, &[1]);
        let picks = counts(algorithm, &state.backends[0], 400);
        assert_eq!(picks, [0, 0, 400, 0], "{algorithm:?}");
        maint(&mut state, &[3]);
        let picks = counts(algorithm, &state.backends[0], 400);
        assert_eq!(
            picks,
            [0, 400, 0, 0],
            "{algorithm:?}: only the first backup"
        );
        maint(&mut state, &[2]);
        let picks = counts(algorithm, &state.backends[0], 400);
        assert_eq!(picks, [0, 0, 0, 400], "{algorithm:?}: the next backup");
    }
}

#[test]
fn allbackups_spreads_over_backups_by_weight() {
    for algorithm in WEIGHTED {
        let mut state = with_backups(algorithm);
        state.backends[0].allbackups = true;
        maint(&mut state, &[1, 3]);
        let picks = counts(algorithm, &state.backends[0], PICKS);
        assert_eq!((picks[0], picks[2]), (0, 0), "{algorithm:?}");
        assert_share(algorithm, &picks, 1, 0.25);
        assert_share(algorithm, &picks, 3, 0.75);
    }
}

#[test]
fn candidates_are_exactly_the_eligible_servers() {
    let mut state = with_backups(Algorithm::RoundRobin);
    let positions = |state: &State, avoid| -> Vec<usize> {
        Candidates::new(&state.backends[0], avoid)
            .map(|c| c.iter().map(|(p, _)| p).collect())
            .unwrap_or_default()
    };
    let eligible =
        |state: &State| -> Vec<usize> { state.backends[0].eligible().map(|(p, _)| p).collect() };
    for allbackups in [false, true] {
        state.backends[0].allbackups = allbackups;
        for down in [vec![], vec![1], vec![1, 3], vec![1, 2, 3], vec![1, 2, 3, 4]] {
            let mut state = state.clone();
            maint(&mut state, &down);
            assert_eq!(positions(&state, None), eligible(&state), "{down:?}");
        }
    }
    assert_eq!(positions(&state, Some(1)), [2]);
}

#[test]
fn avoid_skips_the_failed_server_when_another_is_usable() {
    for algorithm in ALL {
        let state = weighted(algorithm, &[5, 1, 1]);
        let mut balancer = Balancer::with_seed(algorithm, 9);
        for n in 0..300u32 {
            let ctx = PickContext {
                client_ip: Some(IpAddr::V4(Ipv4Addr::from(n))),
                avoid: Some(1),
                ..PickContext::idle()
            };
            assert_ne!(
                balancer.pick(&state.backends[0], &ctx),
                Some(0),
                "{algorithm:?}"
            );
        }
        // Alone, the avoided server is still better than no server.
        let mut state = state.clone();
        maint(&mut state, &[2, 3]);
        let ctx = PickContext {
            avoid: Some(1),
            ..PickContext::idle()
        };
        assert_eq!(balancer.pick(&state.backends[0], &ctx), Some(0));
    }
}

#[test]
fn leastconn_follows_inflight() {
    let state = weighted(Algorithm::LeastConn, &[1, 1, 1]);
    let mut balancer = Balancer::new(Algorithm::LeastConn);
    let inflight = [5, 2, 7];
    let counts = |i: usize| inflight[i];
    let ctx = PickContext::new(&counts);
    assert_eq!(balancer.pick(&state.backends[0], &ctx), Some(1));
    // By weight: 4 in flight on weight 4 beats 2 on weight 1.
    let state = weighted(Algorithm::LeastConn, &[4, 1]);
    let inflight = [4, 2];
    let counts = |i: usize| inflight[i];
    let ctx = PickContext::new(&counts);
    assert_eq!(balancer.pick(&state.backends[0], &ctx), Some(0));
}

#[test]
fn leastconn_breaks_ties_round_robin() {
    let state = weighted(Algorithm::LeastConn, &[1, 1, 1]);
    let mut balancer = Balancer::new(Algorithm::LeastConn);
    let picks: Vec<usize> = (0..6)
        .map(|_| {
            balancer
                .pick(&state.backends[0], &PickContext::idle())
                .unwrap()
        })
        .collect();
    assert_eq!(picks, [0, 1, 2, 0, 1, 2]);
}

#[test]
fn random_prefers_the_less_loaded_of_two() {
    let state = weighted(Algorithm::Random, &[1, 1, 1, 1]);
    let mut balancer = Balancer::with_seed(Algorithm::Random, 11);
    let inflight = [100, 0, 100, 100];
    let counts = |i: usize| inflight[i];
    let ctx = PickContext::new(&counts);
    let to_idle = (0..PICKS)
        .filter(|_| balancer.pick(&state.backends[0], &ctx) == Some(1))
        .count();
    // The idle server wins whenever it is one of the two draws: 1 - (3/4)² = 7/16.
    let share = to_idle as f64 / PICKS as f64;
    assert!((share - 7.0 / 16.0).abs() < 0.03, "{share}");
}

fn with_maxconn(maxconn: Option<u32>) -> State {
    let specs: Vec<ServerSpec> = ["a", "b", "c"]
        .iter()
        .map(|name| {
            let mut spec = spec(name, 1);
            spec.options.maxconn = maxconn;
            spec
        })
        .collect();
    state_with(Algorithm::First, &specs)
}

#[test]
fn first_fills_servers_in_order_up_to_maxconn() {
    let state = with_maxconn(Some(2));
    let mut balancer = Balancer::new(Algorithm::First);
    let mut traffic = Traffic::new(usize::MAX);
    let picks: Vec<usize> = (0..6)
        .map(|_| traffic.pick(&mut balancer, &state.backends[0]).unwrap())
        .collect();
    assert_eq!(picks, [0, 0, 1, 1, 2, 2]);
    // All full: the least loaded for its maxconn rather than the first.
    let inflight = [3, 2, 2];
    let counts = |i: usize| inflight[i];
    let ctx = PickContext::new(&counts);
    assert_eq!(balancer.pick(&state.backends[0], &ctx), Some(1));
}

#[test]
fn first_without_maxconn_always_takes_the_first_usable() {
    let mut state = with_maxconn(None);
    let picks = counts(Algorithm::First, &state.backends[0], 100);
    assert_eq!(picks, [100, 0, 0]);
    maint(&mut state, &[1]);
    let picks = counts(Algorithm::First, &state.backends[0], 100);
    assert_eq!(picks, [0, 100, 0]);
}

#[test]
fn first_treats_maxconn_zero_as_no_limit() {
    let state = with_maxconn(Some(0));
    let inflight = [1000, 0, 0];
    let counts = |i: usize| inflight[i];
    let ctx = PickContext::new(&counts);
    let mut balancer = Balancer::new(Algorithm::First);
    assert_eq!(balancer.pick(&state.backends[0], &ctx), Some(0));
}

#[test]
fn first_goes_by_id_not_position() {
    let mut state = with_maxconn(None);
    state.backends[0].servers.swap(0, 2);
    let picks = counts(Algorithm::First, &state.backends[0], 10);
    assert_eq!(picks, [0, 0, 10], "server id 1 is now at position 2");
}

fn pick_for(balancer: &mut Balancer, backend: &Backend, ip: IpAddr) -> usize {
    let ctx = PickContext {
        client_ip: Some(ip),
        ..PickContext::idle()
    };
    balancer.pick(backend, &ctx).unwrap()
}

#[test]
fn source_is_sticky_per_ip() {
    let state = weighted(Algorithm::Source, &[1, 1, 1, 1]);
    let backend = &state.backends[0];
    let mut balancer = Balancer::new(Algorithm::Source);
    let clients: Vec<IpAddr> = (1..=50u8)
        .map(|n| IpAddr::V4(Ipv4Addr::new(192, 168, 1, n)))
        .chain((1..=50u16).map(|n| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n))))
        .collect();
    let first: Vec<usize> = clients
        .iter()
        .map(|ip| pick_for(&mut balancer, backend, *ip))
        .collect();
    for _ in 0..3 {
        for (ip, expected) in clients.iter().zip(&first) {
            assert_eq!(pick_for(&mut balancer, backend, *ip), *expected, "{ip}");
        }
    }
    // Spread: 100 clients over 4 equal servers, each gets a fair part.
    for position in 0..4 {
        let n = first.iter().filter(|p| **p == position).count();
        assert!((10..=40).contains(&n), "server {position}: {n} clients");
    }
}

#[test]
fn source_without_client_ip_goes_round_robin() {
    let state = weighted(Algorithm::Source, &[1, 1]);
    let mut balancer = Balancer::new(Algorithm::Source);
    let picks: Vec<usize> = (0..4)
        .map(|_| {
            balancer
                .pick(&state.backends[0], &PickContext::idle())
                .unwrap()
        })
        .collect();
    assert_eq!(picks, [0, 1, 0, 1]);
}

#[test]
fn smooth_round_robin_survives_added_and_removed_servers() {
    let mut state = weighted(Algorithm::RoundRobin, &[1, 1]);
    let mut balancer = Balancer::with_seed(Algorithm::RoundRobin, 1);
    let mut traffic = Traffic::new(1);
    traffic.counts(&mut balancer, &state.backends[0], 3);
    change(
        &mut state,
        Mutation::AddServer {
            backend: 0,
            spec: spec("new", 2),
        },
    );
    let picks = traffic.counts(&mut balancer, &state.backends[0], 400);
    assert_eq!(picks, [100, 100, 200]);
    // Remove the first server: the others shift down one position and keep their scores.
    maint(&mut state, &[1]);
    change(&mut state, Mutation::RemoveServer { server: server(1) });
    assert_eq!(state.backends[0].servers.len(), 2);
    // In-flight counts are by position, so the shard's counters are re-indexed too.
    let mut traffic = Traffic::new(1);
    let picks = traffic.counts(&mut balancer, &state.backends[0], 300);
    assert!(
        picks[0].abs_diff(100) <= 1,
        "1:2 after the removal: {picks:?}"
    );
}

#[test]
fn cookie_finds_ready_and_draining_servers_only() {
    let mut state = state_with(
        Algorithm::RoundRobin,
        &[
            with_cookie(spec("a", 1), "A"),
            with_cookie(backup("b", 1), "B"),
        ],
    );
    let backend = |state: &State| state.backends[0].clone();
    assert_eq!(by_cookie(&backend(&state), "A"), Some(0));
    assert_eq!(by_cookie(&backend(&state), "B"), Some(1), "backups too");
    assert_eq!(by_cookie(&backend(&state), "C"), None);
    change(
        &mut state,
        Mutation::SetAdminState {
            server: server(1),
            state: AdminState::Drain,
        },
    );
    assert_eq!(
        by_cookie(&backend(&state), "A"),
        Some(0),
        "DRAIN keeps its clients"
    );
    change(
        &mut state,
        Mutation::SetWeight {
            server: server(1),
            weight: 0,
        },
    );
    assert_eq!(
        by_cookie(&backend(&state), "A"),
        Some(0),
        "so does weight 0"
    );
    maint(&mut state, &[1]);
    assert_eq!(by_cookie(&backend(&state), "A"), None, "MAINT does not");
}

#[test]
fn random_follows_weights_when_servers_are_idle() {
    let state = weighted(Algorithm::Random, &[1, 3]);
    let mut balancer = Balancer::with_seed(Algorithm::Random, 7);
    let light = (0..PICKS)
        .filter(|_| balancer.pick(&state.backends[0], &PickContext::idle()) == Some(0))
        .count();
    let share = light as f64 / PICKS as f64;
    assert!((share - 0.25).abs() <= 0.03, "light got {share}");
}

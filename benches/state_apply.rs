//! `state::apply`, the one function every shard runs for every runtime mutation, on a
//! realistic replica: 10 backends of 20 servers each (parsed from a haproxy.cfg, so the state
//! is exactly what a shard holds at start-up). Each mutation alternates so that every call
//! really changes the state (an unchanged value would be the cheap path): `set weight`,
//! `disable` / `enable server` (admin MAINT ⇄ READY with checks configured), and a health
//! check result on the last server of the last backend (the longest server lookup).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use pointsman::config::parse_str;
use pointsman::state::{apply, AdminState, CheckDetail, CheckStatus, Mutation, ServerRef, State};
use std::fmt::Write as _;

const BACKENDS: usize = 10;
const SERVERS: usize = 20;

fn state() -> State {
    let mut cfg = String::from(
        "global\n    nbthread 2\ndefaults\n    mode http\n    timeout connect 5s\n    \
         timeout client 30s\n    timeout server 30s\n",
    );
    for b in 0..BACKENDS {
        let _ = writeln!(
            cfg,
            "frontend fe{b}\n    bind 127.0.0.1:{}\n    default_backend bk{b}",
            20000 + b
        );
        let _ = writeln!(cfg, "backend bk{b}\n    balance roundrobin");
        for s in 0..SERVERS {
            let _ = writeln!(
                cfg,
                "    server s{s} 10.0.{b}.{s}:80 check weight {}",
                1 + s % 4
            );
        }
    }
    let config = parse_str("bench.cfg", &cfg).expect("bench config parses");
    State::from_config(&config, 0)
}

fn mutations(c: &mut Criterion) {
    let mut state = state();
    let last = ServerRef {
        backend: BACKENDS - 1,
        server: state
            .find_server(&format!("bk{}", BACKENDS - 1), &format!("s{}", SERVERS - 1))
            .expect("server")
            .server,
    };
    let mut group = c.benchmark_group("state::apply");
    let mut i = 0u64;
    group.bench_function("set weight", |b| {
        b.iter(|| {
            i += 1;
            let m = Mutation::SetWeight {
                server: last,
                weight: 1 + (i % 2) as u32,
            };
            black_box(apply(black_box(&mut state), black_box(&m), i).is_ok())
        })
    });
    group.bench_function("disable/enable server", |b| {
        b.iter(|| {
            i += 1;
            let admin = if i.is_multiple_of(2) {
                AdminState::Maint
            } else {
                AdminState::Ready
            };
            let m = Mutation::SetAdminState {
                server: last,
                state: admin,
            };
            black_box(apply(black_box(&mut state), black_box(&m), i).is_ok())
        })
    });
    group.bench_function("check result", |b| {
        b.iter(|| {
            i += 1;
            let status = if i.is_multiple_of(2) {
                CheckStatus::L4Ok
            } else {
                CheckStatus::L7Ok
            };
            let m = Mutation::CheckResult {
                server: last,
                status,
                detail: CheckDetail::default(),
            };
            black_box(apply(black_box(&mut state), black_box(&m), i).is_ok())
        })
    });
    group.finish();
}

criterion_group!(benches, mutations);
criterion_main!(benches);

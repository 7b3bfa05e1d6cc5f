//! One pick per algorithm on backends of 2, 10 and 100 equal-weight servers, with in-flight
//! counts read from a slice the way a shard reads its per-server counters.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use pointsman::balance::{Balancer, PickContext};
use pointsman::config::{Algorithm, Mode};
use pointsman::state::{Backend, Server, ServerSpec};
use std::net::{IpAddr, Ipv4Addr};

const ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RoundRobin,
    Algorithm::StaticRr,
    Algorithm::LeastConn,
    Algorithm::First,
    Algorithm::Source,
    Algorithm::Random,
];

fn backend(algorithm: Algorithm, size: u32) -> Backend {
    let servers = (1..=size)
        .map(|id| {
            let mut spec = ServerSpec::new(format!("s{id}"), "127.0.0.1:8080".parse().unwrap());
            spec.options.weight = 1 + id % 3;
            spec.options.maxconn = Some(64);
            Server::new(id, &spec, false, 0)
        })
        .collect();
    Backend {
        name: "be".into(),
        id: 2,
        mode: Mode::Http,
        algorithm,
        allbackups: false,
        redispatch: true,
        retries: 3,
        cookie: None,
        httpchk: None,
        tcpchk: None,
        servers,
        next_server_id: size + 1,
    }
}

fn picks(c: &mut Criterion) {
    let mut group = c.benchmark_group("pick");
    for algorithm in ALGORITHMS {
        for size in [2u32, 10, 100] {
            let backend = backend(algorithm, size);
            let inflight: Vec<u64> = (0..u64::from(size)).map(|i| i * 7 % 5).collect();
            let counts = |i: usize| inflight[i];
            let mut balancer = Balancer::with_seed(algorithm, 42);
            let mut client = 0u32;
            group.bench_with_input(
                BenchmarkId::new(algorithm.name(), size),
                &backend,
                |b, backend| {
                    b.iter(|| {
                        client = client.wrapping_add(1);
                        let ctx = PickContext {
                            client_ip: Some(IpAddr::V4(Ipv4Addr::from(client))),
                            ..PickContext::new(&counts)
                        };
                        black_box(balancer.pick(black_box(backend), &ctx))
                    })
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, picks);
criterion_main!(benches);

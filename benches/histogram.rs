//! What the request path records per finished request into the shard's statistics: the HDR
//! latency histograms of the server and its backend (`stats::latency::LatencySnapshot::record`,
//! connect / response / total, the set already created as it is after a server's first
//! request) and the status counters (`stats::Counters::count_status`).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use pointsman::state::ServerRef;
use pointsman::stats::latency::{LatencySnapshot, Timing};
use pointsman::stats::Counters;

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("stats");
    let mut latency = LatencySnapshot::default();
    let servers: Vec<ServerRef> = (1..=20)
        .map(|server| ServerRef { backend: 3, server })
        .collect();
    for (i, s) in servers.iter().enumerate() {
        latency.record(
            *s,
            &Timing {
                connect_us: Some(50),
                response_us: Some(100 + i as u64),
                total_us: Some(200),
            },
        );
    }
    let mut i = 0u64;
    group.bench_function("latency record, pooled connection", |b| {
        b.iter(|| {
            i += 1;
            let server = servers[(i % 20) as usize];
            // Values spread over 3 decades, as real latencies are.
            let timing = Timing {
                connect_us: None,
                response_us: Some(80 + i % 9000),
                total_us: Some(120 + i % 90000),
            };
            latency.record(black_box(server), black_box(&timing));
        })
    });
    group.bench_function("latency record, new connection", |b| {
        b.iter(|| {
            i += 1;
            let server = servers[(i % 20) as usize];
            let timing = Timing {
                connect_us: Some(30 + i % 500),
                response_us: Some(80 + i % 9000),
                total_us: Some(120 + i % 90000),
            };
            latency.record(black_box(server), black_box(&timing));
        })
    });
    let mut counters = Counters::default();
    group.bench_function("status counters", |b| {
        b.iter(|| {
            i += 1;
            counters.count_status(black_box(if i.is_multiple_of(50) { 503 } else { 200 }));
        })
    });
    black_box(&counters);
    group.finish();
}

criterion_group!(benches, record);
criterion_main!(benches);

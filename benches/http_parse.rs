//! Micro-benchmarks of the HTTP/1.1 codec on the request path: parsing a typical browser
//! request head and a typical response head, serializing the forwarded request head, and
//! tracking a chunked body.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use pointsman::http::{
    parse_request, parse_response, write_request_head, write_response_head, BodyTracker, Framing,
    Limits, RequestForward, ResponseForward,
};

const BROWSER_GET: &[u8] = b"GET /index.html?q=1 HTTP/1.1\r\n\
Host: www.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Connection: keep-alive\r\n\
Cookie: SERVERID=s1; session=abc123\r\n\
Upgrade-Insecure-Requests: 1\r\n\
Sec-Fetch-Dest: document\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-Site: none\r\n\
Priority: u=0, i\r\n\
\r\n";

const NGINX_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Server: nginx/1.18.0\r\n\
Date: Tue, 01 Jul 2025 10:00:00 GMT\r\n\
Content-Type: text/html; charset=utf-8\r\n\
Content-Length: 615\r\n\
Last-Modified: Tue, 21 Apr 2020 14:09:01 GMT\r\n\
Connection: keep-alive\r\n\
ETag: \"5e9efe7d-267\"\r\n\
Accept-Ranges: bytes\r\n\
\r\n";

fn heads(c: &mut Criterion) {
    let limits = Limits::default();
    let mut group = c.benchmark_group("http");

    group.throughput(Throughput::Bytes(BROWSER_GET.len() as u64));
    group.bench_function("parse_request/browser_get", |b| {
        b.iter(|| parse_request(black_box(BROWSER_GET), &limits))
    });

    group.throughput(Throughput::Bytes(NGINX_RESPONSE.len() as u64));
    group.bench_function("parse_response/nginx_200", |b| {
        b.iter(|| parse_response(black_box(NGINX_RESPONSE), false, &limits))
    });

    let request = parse_request(BROWSER_GET, &limits).unwrap().unwrap();
    let forward = RequestForward {
        x_forwarded_for: Some(IpAddr::V4(Ipv4Addr::new(192, 168, 10, 77))),
        close_server: false,
    };
    let mut out = Vec::with_capacity(1024);
    group.throughput(Throughput::Bytes(BROWSER_GET.len() as u64));
    group.bench_function("write_request_head/browser_get_xff", |b| {
        b.iter(|| {
            out.clear();
            write_request_head(black_box(&request), BROWSER_GET, &mut out, &forward);
            black_box(out.len())
        })
    });

    let response = parse_response(NGINX_RESPONSE, false, &limits)
        .unwrap()
        .unwrap();
    let to_client = ResponseForward {
        client_keep_alive: true,
        client_minor_version: 1,
    };
    group.throughput(Throughput::Bytes(NGINX_RESPONSE.len() as u64));
    group.bench_function("write_response_head/nginx_200", |b| {
        b.iter(|| {
            out.clear();
            write_response_head(black_box(&response), NGINX_RESPONSE, &mut out, &to_client);
            black_box(out.len())
        })
    });
    group.finish();
}

fn chunked_body(c: &mut Criterion) {
    // 64 chunks of 1 KiB: the cost is in the size lines, the data is skipped in bulk.
    let mut body = Vec::new();
    for _ in 0..64 {
        body.extend_from_slice(b"400\r\n");
        body.extend_from_slice(&[b'x'; 1024]);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let mut group = c.benchmark_group("http");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("body/chunked_64x1k", |b| {
        b.iter(|| {
            let mut tracker = BodyTracker::new(Framing::Chunked);
            tracker.advance(black_box(&body)).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, heads, chunked_body);
criterion_main!(benches);

//! The cost of routing one request by rules: a frontend of 20 ACLs and 10 `use_backend` rules
//! (host, path, header, cookie and regex matches), for a request the first rule takes, one the
//! last rule takes, and one no rule takes (every condition evaluated); a frontend with 5
//! header rewrites (the request copied once into an edited head, then 5 edits, then the head
//! serialized). The config is read by the real parser, as pointsman reads it. Then map lookups
//! (`str`, `beg`, `dom`) in maps of 10, 10,000 and 1,000,000 entries, hit and miss.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use pointsman::config::parse_str;
use pointsman::rules::{HttpRules, Map, MapFile, MapKind, RequestView, Switching, Verdict};
use std::net::SocketAddr;

/// 20 ACLs, 10 rules, 10 backends.
fn config() -> String {
    let mut text = String::from(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
         frontend fe\n    bind 127.0.0.1:1\n",
    );
    for i in 0..10 {
        text.push_str(&format!(
            "    acl host{i} hdr(host) -i app{i}.example.com www.app{i}.example.com\n\
             acl path{i} path_beg /svc{i}/ /v{i}/\n"
        ));
    }
    text.push_str("    acl api path_reg ^/api/v[0-9]+/\n    acl beta cook(grp) beta\n");
    for i in 0..10 {
        text.push_str(&format!(
            "    use_backend bk{i} if host{i} || path{i} !beta\n"
        ));
    }
    text.push_str("    default_backend bk0\n");
    for i in 0..10 {
        text.push_str(&format!(
            "backend bk{i}\n    server s 127.0.0.1:{}\n",
            2000 + i
        ));
    }
    text
}

fn switching() -> Switching<usize> {
    let config = parse_str("bench.cfg", &config()).expect("the bench config loads");
    let side = config.proxies[0].frontend.clone().expect("fe");
    side.switching
        .resolve(|name| Ok::<usize, String>(name[2..].parse().unwrap()))
        .unwrap()
}

/// A frontend with 5 header rewrites, one of them computed (`%[…]`).
fn rewrites() -> (HttpRules, Switching<usize>) {
    let text = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n\
        frontend fe\n    bind 127.0.0.1:1\n\
        http-request set-header X-Forwarded-Proto http\n\
        http-request set-header X-Original-Host %[req.hdr(host)]\n\
        http-request add-header X-Via pointsman\n\
        http-request del-header Cookie\n\
        http-request replace-header User-Agent ^curl/(.*)$ curl-\\1\n\
        default_backend bk\nbackend bk\n    server s 127.0.0.1:2\n";
    let config = parse_str("bench.cfg", text).expect("the rewrite config loads");
    let side = config.proxies[0].frontend.clone().expect("fe");
    let switching = side.switching.resolve(|_| Ok::<usize, String>(0)).unwrap();
    (side.http_rules, switching)
}

struct Head {
    target: &'static [u8],
    headers: Vec<(&'static [u8], &'static [u8])>,
}

impl RequestView for Head {
    fn method(&self) -> &[u8] {
        b"GET"
    }
    fn target(&self) -> &[u8] {
        self.target
    }
    fn version(&self) -> &'static [u8] {
        b"1.1"
    }
    fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.headers.iter().copied()
    }
    fn src(&self) -> SocketAddr {
        "127.0.0.1:40000".parse().unwrap()
    }
    fn dst(&self) -> Option<SocketAddr> {
        None
    }
}

fn head(host: &'static [u8], target: &'static [u8]) -> Head {
    Head {
        target,
        headers: vec![
            (b"Host", host),
            (b"User-Agent", b"curl/8.0"),
            (b"Accept", b"*/*"),
            (b"Cookie", b"session=abc; grp=stable"),
        ],
    }
}

fn bench(c: &mut Criterion) {
    let rules = switching();
    let cases = [
        ("first rule", head(b"app0.example.com", b"/index.html")),
        ("last rule", head(b"app9.example.com", b"/index.html")),
        ("no rule", head(b"other.example.com", b"/index.html?x=1")),
    ];
    for (name, request) in cases {
        c.bench_function(&format!("use_backend 20 acls, 10 rules: {name}"), |b| {
            b.iter(|| rules.choose(black_box(&request), |_| None))
        });
    }
    let (http_rules, switching) = rewrites();
    let request = head(b"app0.example.com", b"/index.html");
    let mut scratch = Vec::new();
    let mut out = Vec::new();
    c.bench_function("http-request 5 header rewrites", |b| {
        b.iter(|| {
            let mut edited = None;
            let verdict = http_rules.apply(
                &switching.acls,
                black_box(&request),
                &mut edited,
                &mut scratch,
            );
            assert!(matches!(verdict, Verdict::Continue));
            out.clear();
            edited.expect("rewritten").write_head(&mut out);
            out.len()
        })
    });
}

/// A map of `n` hosts (`site{i}.example.com bk{i%10}`) and as many paths (`/svc{i}/`).
fn map_of(n: usize) -> Map {
    let entries = (0..n)
        .flat_map(|i| {
            [
                (format!("site{i}.example.com"), format!("bk{}", i % 10)),
                (format!("/svc{i}/"), format!("bk{}", i % 10)),
            ]
        })
        .collect();
    let file = MapFile {
        path: "bench.map".into(),
        entries,
    };
    Map::new(
        &file,
        0,
        vec![MapKind::Str, MapKind::Beg, MapKind::Dom],
        Vec::new(),
    )
}

fn bench_maps(c: &mut Criterion) {
    for n in [10, 10_000, 1_000_000] {
        let map = map_of(n);
        let host = format!("site{}.example.com", n / 2);
        let path = format!("/svc{}/index.html", n / 2);
        let subdomain = format!("www.site{}.example.com:8080", n / 2);
        let cases: [(&str, MapKind, &[u8]); 5] = [
            ("str hit", MapKind::Str, host.as_bytes()),
            ("str miss", MapKind::Str, b"other.example.org"),
            ("beg hit", MapKind::Beg, path.as_bytes()),
            ("dom hit", MapKind::Dom, subdomain.as_bytes()),
            ("dom miss", MapKind::Dom, b"www.other.example.org:8080"),
        ];
        for (name, kind, sample) in cases {
            c.bench_function(&format!("map {n} entries: {name}"), |b| {
                b.iter(|| map.lookup(kind, black_box(sample)).is_some())
            });
        }
    }
}

criterion_group!(benches, bench, bench_maps);
criterion_main!(benches);

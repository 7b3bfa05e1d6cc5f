//! Mutated heads: whatever bytes arrive, parsing never panics, and a head we accept is
//! forwarded as one that the next parser (the server, here our own parser) reads with the
//! same method, target and body framing: no room for the two to disagree on where the body
//! ends.

use pointsman::http::{
    parse_request, parse_response, write_request_head, write_response_head, Limits, RequestForward,
    ResponseForward,
};

use crate::{crlf, Rng};

const SEEDS: [&str; 5] = [
    "GET /a?b=c HTTP/1.1\nHost: h\nAccept: */*\nConnection: keep-alive\n\n",
    "POST /p HTTP/1.1\nHost: h\nContent-Length: 10\nExpect: 100-continue\n\n",
    "PUT /u HTTP/1.1\nHost: h\nTransfer-Encoding: gzip, chunked\nConnection: X-A\nX-A: 1\n\n",
    "POST / HTTP/1.0\nContent-Length: 3, 3\nConnection: keep-alive\n\n",
    "GET http://h/x HTTP/1.1\nHost: h\nContent-Length: 2\nTransfer-Encoding: chunked\n\n",
];

const INTERESTING: &[u8] = b" \t\r\n:,;\0\x7f\x80aZ09-";

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut head = seed.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(head.len());
        let byte = INTERESTING[rng.below(INTERESTING.len())];
        match rng.below(3) {
            0 => head[at] = byte,
            1 => head.insert(at, byte),
            _ => {
                head.remove(at);
            }
        }
    }
    head
}

#[test]
fn accepted_mutants_forward_with_the_same_framing() {
    let mut rng = Rng::new(0xbad_5eed);
    let limits = Limits::default();
    let mut accepted = 0;
    for round in 0..20_000 {
        let seed = crlf(SEEDS[round % SEEDS.len()]);
        let head = mutate(&mut rng, &seed);
        let Ok(Some(request)) = parse_request(&head, &limits) else {
            continue;
        };
        accepted += 1;
        let mut out = Vec::new();
        write_request_head(&request, &head, &mut out, &RequestForward::default());
        let again = parse_request(&out, &limits)
            .unwrap_or_else(|e| panic!("{e:?} for {:?}", String::from_utf8_lossy(&out)))
            .expect("a forwarded head is complete");
        let what = String::from_utf8_lossy(&head);
        assert_eq!(again.head_len(), out.len(), "{what}");
        assert_eq!(again.framing(), request.framing(), "{what}");
        assert_eq!(again.method(), request.method(), "{what}");
        assert_eq!(again.target(&out), request.target(&head), "{what}");
        assert_eq!(again.host(&out), request.host(&head), "{what}");
        assert!(!again.has_conflicting_framing(), "{what}");
        let bare_lf = out.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r');
        assert!(!bare_lf && out[0] != b'\n', "{what}");
    }
    assert!(
        accepted > 1000,
        "mutations too destructive: {accepted} accepted"
    );
}

#[test]
fn mutated_responses_never_panic_and_forward_consistently() {
    let seeds = [
        "HTTP/1.1 200 OK\nContent-Length: 5\nConnection: keep-alive\n\n",
        "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\nKeep-Alive: timeout=5\n\n",
        "HTTP/1.0 304 Not Modified\nContent-Length: 5\n\n",
    ];
    let mut rng = Rng::new(42);
    let limits = Limits::default();
    for round in 0..10_000 {
        let head = mutate(&mut rng, &crlf(seeds[round % seeds.len()]));
        let Ok(Some(response)) = parse_response(&head, false, &limits) else {
            continue;
        };
        let mut out = Vec::new();
        let options = ResponseForward {
            client_keep_alive: true,
            client_minor_version: 1,
        };
        write_response_head(&response, &head, &mut out, &options);
        let again = parse_response(&out, false, &limits).unwrap().unwrap();
        assert_eq!(again.framing(), response.framing());
        assert_eq!(again.status(), response.status());
    }
}

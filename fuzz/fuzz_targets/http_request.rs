//! The request head parser and body framing on arbitrary bytes. Beyond "never panic", the
//! property that keeps smuggling out: the head pointsman forwards parses again to the same
//! framing and persistence, and the body ends at the same byte whether it arrives at once or
//! byte by byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pointsman::http::{
    parse_request, write_request_head, BodyTracker, Limits, RequestError, RequestForward,
    MAX_HEADERS,
};

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let Ok(Some(request)) = parse_request(data, &limits) else {
        return;
    };
    let mut forwarded = Vec::new();
    let options = RequestForward {
        x_forwarded_for: Some([192, 0, 2, 1].into()),
        close_server: data.len() % 2 == 0,
    };
    write_request_head(&request, data, &mut forwarded, &options);
    let again = match parse_request(
        &forwarded,
        &Limits {
            max_head_len: usize::MAX,
        },
    ) {
        Ok(Some(again)) => again,
        // Near the field limit, the X-Forwarded-For and Connection fields we add may pass it:
        // a peer with the same limit refuses the request, which is safe (no framing change).
        Err(RequestError::TooManyHeaders) if request.headers(data).count() + 2 > MAX_HEADERS => {
            return
        }
        other => panic!(
            "forwarded head does not parse ({other:?}): {:?}",
            String::from_utf8_lossy(&forwarded)
        ),
    };
    assert_eq!(
        again.head_len(),
        forwarded.len(),
        "forwarded head has trailing bytes"
    );
    assert_eq!(
        again.framing(),
        request.framing(),
        "framing changed when forwarded"
    );
    assert_eq!(again.method(), request.method());
    assert!(
        !again.has_conflicting_framing(),
        "forwarded two framing fields"
    );

    let body = &data[request.head_len()..];
    let mut whole = BodyTracker::new(request.framing());
    let at_once = whole.advance(body);
    let mut split = BodyTracker::new(request.framing());
    let mut consumed = 0;
    let mut byte_by_byte = Ok(());
    for byte in body {
        match split.advance(std::slice::from_ref(byte)) {
            Ok(progress) => {
                consumed += progress.consumed;
                if progress.complete {
                    break;
                }
            }
            Err(e) => {
                byte_by_byte = Err(e);
                break;
            }
        }
    }
    match (at_once, byte_by_byte) {
        (Ok(p), Ok(())) => assert_eq!(p.consumed, consumed, "body end depends on the reads"),
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("at once {a:?}, byte by byte {b:?}"),
    }
});

//! The response head parser and body framing on arbitrary bytes: never panic, and the head
//! forwarded to the client parses again to the same status and framing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pointsman::http::{
    parse_response, write_response_head, BodyTracker, Framing, Limits, ResponseError,
    ResponseForward, MAX_HEADERS,
};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let request_was_head = flags & 1 == 1;
    let limits = Limits::default();
    let Ok(Some(response)) = parse_response(data, request_was_head, &limits) else {
        return;
    };
    let mut forwarded = Vec::new();
    let options = ResponseForward {
        client_keep_alive: flags & 2 == 2,
        client_minor_version: (flags >> 2) & 1,
    };
    write_response_head(&response, data, &mut forwarded, &options);
    let again = match parse_response(
        &forwarded,
        request_was_head,
        &Limits {
            max_head_len: usize::MAX,
        },
    ) {
        Ok(Some(again)) => again,
        // Near the field limit, the Connection field we add may pass it (safe: refused).
        Err(ResponseError::TooManyHeaders) if response.headers(data).count() + 1 > MAX_HEADERS => {
            return
        }
        other => panic!(
            "forwarded head does not parse ({other:?}): {:?}",
            String::from_utf8_lossy(&forwarded)
        ),
    };
    assert_eq!(again.status(), response.status());
    assert_eq!(again.head_len(), forwarded.len());
    // A close-delimited body stays close-delimited; every other framing is kept as is.
    assert_eq!(again.framing(), response.framing());
    assert!(
        !again.has_conflicting_framing(),
        "forwarded two framing fields"
    );
    if response.framing() != Framing::CloseDelimited {
        let mut tracker = BodyTracker::new(response.framing());
        let _ = tracker.advance(&data[response.head_len()..]);
    }
});

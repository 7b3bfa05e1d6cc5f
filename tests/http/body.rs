//! The body tracker fed byte by byte, at every single split point and at random split points:
//! it must find the same end (and the same errors) however the stream is cut.

use pointsman::http::{
    BodyError, BodyTracker, Framing, Progress, MAX_CHUNK_LINE_LEN, MAX_TRAILERS_LEN,
};

use crate::Rng;

/// What came out of feeding a stream in pieces: bytes consumed before completion, or error.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Complete(usize),
    Incomplete(usize),
    Failed(BodyError),
}

/// Feeds `stream` cut at the (sorted) offsets in `cuts`.
fn feed(framing: Framing, stream: &[u8], cuts: &[usize]) -> Outcome {
    let mut tracker = BodyTracker::new(framing);
    let mut consumed = 0;
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&stream.len())) {
        let piece = &stream[start..end];
        start = end;
        match tracker.advance(piece) {
            Err(e) => return Outcome::Failed(e),
            Ok(Progress {
                consumed: n,
                complete,
            }) => {
                assert!(n <= piece.len());
                consumed += n;
                if complete {
                    assert!(tracker.is_complete());
                    return Outcome::Complete(consumed);
                }
                assert_eq!(
                    n,
                    piece.len(),
                    "an incomplete message consumes all its input"
                );
            }
        }
    }
    Outcome::Incomplete(consumed)
}

fn whole(framing: Framing, stream: &[u8]) -> Outcome {
    feed(framing, stream, &[])
}

fn byte_by_byte(framing: Framing, stream: &[u8]) -> Outcome {
    let cuts: Vec<usize> = (1..stream.len()).collect();
    feed(framing, stream, &cuts)
}

/// Chunked messages; each is followed by bytes of the next message that must not be taken.
const VALID_CHUNKED: [&[u8]; 8] = [
    b"0\r\n\r\n",
    b"5\r\nhello\r\n0\r\n\r\n",
    b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    b"A\r\n0123456789\r\n0\r\n\r\n",
    b"000a\r\n0123456789\r\n00\r\n\r\n",
    b"3;name=value\r\nabc\r\n0;last\r\n\r\n",
    b"3 ;ext=\"quoted; \\\" \"\r\nabc\r\n0\r\n\r\n",
    b"2\r\n\r\n\r\n0\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n",
];

const NEXT_REQUEST: &[u8] = b"GET /next HTTP/1.1\r\n";

#[test]
fn chunked_bodies_end_exactly_at_every_split() {
    for body in VALID_CHUNKED {
        let stream = [body, NEXT_REQUEST].concat();
        let expected = Outcome::Complete(body.len());
        assert_eq!(whole(Framing::Chunked, &stream), expected, "{:?}", body);
        assert_eq!(byte_by_byte(Framing::Chunked, &stream), expected);
        for cut in 0..=stream.len() {
            assert_eq!(
                feed(Framing::Chunked, &stream, &[cut]),
                expected,
                "cut {cut}"
            );
        }
        // Every strict prefix of the message is incomplete, and wholly consumed.
        for end in 0..body.len() {
            assert_eq!(
                whole(Framing::Chunked, &body[..end]),
                Outcome::Incomplete(end),
                "{:?} cut at {end}",
                body
            );
        }
    }
}

#[test]
fn chunked_bodies_end_exactly_at_random_splits() {
    let mut rng = Rng::new(0x5eed);
    for round in 0..2000 {
        let body = random_chunked_body(&mut rng);
        let stream = [&body[..], NEXT_REQUEST].concat();
        let mut cuts: Vec<usize> = (0..rng.below(12))
            .map(|_| rng.below(stream.len() + 1))
            .collect();
        cuts.sort_unstable();
        assert_eq!(
            feed(Framing::Chunked, &stream, &cuts),
            Outcome::Complete(body.len()),
            "round {round}: {:?} cut at {cuts:?}",
            String::from_utf8_lossy(&body)
        );
    }
}

/// A chunked body with random chunk sizes, hex case, leading zeros, extensions and trailers.
fn random_chunked_body(rng: &mut Rng) -> Vec<u8> {
    let mut body = Vec::new();
    for _ in 0..rng.below(5) {
        let size = 1 + rng.below(300);
        let digits = if rng.below(2) == 0 {
            format!("{size:x}")
        } else {
            format!("{:0width$X}", size, width = 1 + rng.below(6))
        };
        body.extend_from_slice(digits.as_bytes());
        if rng.below(3) == 0 {
            body.extend_from_slice(b";ext=1");
        }
        body.extend_from_slice(b"\r\n");
        // Data that looks like framing, to catch any look at data bytes.
        body.extend((0..size).map(|i| b"0\r\n;"[(i + rng.below(4)) % 4]));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n");
    for i in 0..rng.below(3) {
        body.extend_from_slice(format!("X-Trailer-{i}: v\r\n").as_bytes());
    }
    body.extend_from_slice(b"\r\n");
    body
}

#[test]
fn invalid_chunked_bodies_fail_the_same_way_at_every_split() {
    let too_long_line = [b"1;".as_slice(), &vec![b'e'; MAX_CHUNK_LINE_LEN], b"\r\n"].concat();
    let huge_trailer = [
        b"0\r\nX: ".as_slice(),
        &vec![b't'; MAX_TRAILERS_LEN],
        b"\r\n\r\n",
    ]
    .concat();
    let cases: Vec<(&str, Vec<u8>, BodyError)> = vec![
        ("not hex", b"x\r\n".to_vec(), BodyError::InvalidChunkSize),
        (
            "0x prefix",
            b"0x1\r\na\r\n".to_vec(),
            BodyError::InvalidChunkSize,
        ),
        ("negative", b"-1\r\n".to_vec(), BodyError::InvalidChunkSize),
        ("empty size", b"\r\n".to_vec(), BodyError::InvalidChunkSize),
        (
            "extension without size",
            b";a\r\n".to_vec(),
            BodyError::InvalidChunkSize,
        ),
        (
            "space without extension",
            b"1 \r\na\r\n".to_vec(),
            BodyError::InvalidChunkSize,
        ),
        (
            "space inside size",
            b"1 0\r\n".to_vec(),
            BodyError::InvalidChunkSize,
        ),
        (
            "overflow",
            b"10000000000000000\r\n".to_vec(),
            BodyError::ChunkSizeOverflow,
        ),
        (
            "bare LF after size",
            b"1\na\r\n0\r\n\r\n".to_vec(),
            BodyError::InvalidChunkSize,
        ),
        ("CR without LF", b"1\rXa".to_vec(), BodyError::MissingCrlf),
        (
            "data too long",
            b"1\r\nab\r\n".to_vec(),
            BodyError::MissingCrlf,
        ),
        (
            "bare LF after data",
            b"1\r\na\n0\r\n\r\n".to_vec(),
            BodyError::MissingCrlf,
        ),
        (
            "NUL in extension",
            b"1;a\0\r\n".to_vec(),
            BodyError::InvalidChunkExtension,
        ),
        (
            "LF in extension",
            b"1;a\nb\r\n".to_vec(),
            BodyError::InvalidChunkExtension,
        ),
        ("line too long", too_long_line, BodyError::ChunkLineTooLong),
        (
            "obs-fold in trailers",
            b"0\r\nX: a\r\n b\r\n\r\n".to_vec(),
            BodyError::InvalidTrailer,
        ),
        (
            "bare LF in trailers",
            b"0\r\nX: a\n\r\n".to_vec(),
            BodyError::InvalidTrailer,
        ),
        (
            "bare LF as final line",
            b"0\r\n\n".to_vec(),
            BodyError::InvalidTrailer,
        ),
        (
            "CR then junk at end",
            b"0\r\n\rX".to_vec(),
            BodyError::MissingCrlf,
        ),
        (
            "trailers too large",
            huge_trailer,
            BodyError::TrailersTooLarge,
        ),
    ];
    for (what, stream, error) in cases {
        let expected = Outcome::Failed(error);
        assert_eq!(whole(Framing::Chunked, &stream), expected, "{what}");
        assert_eq!(byte_by_byte(Framing::Chunked, &stream), expected, "{what}");
        for cut in 0..=stream.len().min(64) {
            assert_eq!(
                feed(Framing::Chunked, &stream, &[cut]),
                expected,
                "{what} cut {cut}"
            );
        }
    }
}

#[test]
fn content_length_bodies() {
    let stream = [b"hello".as_slice(), NEXT_REQUEST].concat();
    let framing = Framing::ContentLength(5);
    assert_eq!(whole(framing, &stream), Outcome::Complete(5));
    assert_eq!(byte_by_byte(framing, &stream), Outcome::Complete(5));
    assert_eq!(whole(framing, b"hel"), Outcome::Incomplete(3));
    assert_eq!(
        whole(Framing::ContentLength(0), &stream),
        Outcome::Complete(0)
    );
    assert_eq!(whole(Framing::NoBody, &stream), Outcome::Complete(0));

    let mut tracker = BodyTracker::new(Framing::ContentLength(u64::MAX));
    assert_eq!(tracker.known_remaining(), Some(u64::MAX));
    tracker.advance(&[0; 10]).unwrap();
    assert_eq!(tracker.known_remaining(), Some(u64::MAX - 10));
}

#[test]
fn close_delimited_bodies_never_complete() {
    let mut tracker = BodyTracker::new(Framing::CloseDelimited);
    for _ in 0..3 {
        let progress = tracker.advance(b"anything at all").unwrap();
        assert_eq!(
            progress,
            Progress {
                consumed: 15,
                complete: false
            }
        );
    }
    assert!(!tracker.is_complete());
    assert_eq!(tracker.known_remaining(), None);
}

#[test]
fn known_remaining_follows_chunk_data() {
    let mut tracker = BodyTracker::new(Framing::Chunked);
    assert_eq!(tracker.known_remaining(), None);
    tracker.advance(b"10\r\nabc").unwrap();
    assert_eq!(tracker.known_remaining(), Some(13));
    tracker.advance(&[b'x'; 13]).unwrap();
    assert_eq!(tracker.known_remaining(), None);
    let done = tracker.advance(b"\r\n0\r\n\r\n").unwrap();
    assert!(done.complete);
    assert_eq!(tracker.known_remaining(), Some(0));
    // A finished tracker takes nothing more.
    assert_eq!(
        tracker.advance(b"more").unwrap(),
        Progress {
            consumed: 0,
            complete: true
        }
    );
}

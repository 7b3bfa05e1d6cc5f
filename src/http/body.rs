//! Body framing for pass-through forwarding: [`BodyTracker`] is told every byte that arrives
//! after a head, in pieces of any size, and says how many of them belong to this message and
//! when the message is complete. It never copies or re-encodes: the proxy forwards the bytes
//! it consumed as they are.
//!
//! The chunked decoder is strict because the server parses the same bytes after us: any
//! leniency where it is strict (or the reverse) is a request-smuggling gap. Chunk lines end
//! with CRLF exactly (no bare LF); the size is 1*HEXDIG that fits in u64; whitespace after
//! the size is allowed only before an extension (`BWS ";"`); extensions and trailer lines may
//! not hold control characters other than HTAB; obs-fold in trailers is refused. Line lengths
//! are bounded so that a peer cannot make us scan forever.

use super::Framing;

/// Longest chunk-size line accepted (size and extensions, CRLF excluded).
pub const MAX_CHUNK_LINE_LEN: usize = 4096;
/// Largest trailer section accepted (all trailer lines with their CRLFs).
pub const MAX_TRAILERS_LEN: usize = 16 * 1024;

/// What one [`BodyTracker::advance`] call found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Leading bytes of the input that belong to this message; the rest (if any) is the start
    /// of the next message.
    pub consumed: usize,
    /// The message ends with the last consumed byte.
    pub complete: bool,
}

/// Framing error in a chunked body: the connection cannot be reused, and if nothing was sent
/// yet the request gets 400 (a response, 502).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// The chunk size is missing or not hexadecimal.
    InvalidChunkSize,
    /// The chunk size does not fit in 64 bits.
    ChunkSizeOverflow,
    /// The chunk-size line is longer than [`MAX_CHUNK_LINE_LEN`].
    ChunkLineTooLong,
    /// A control character in a chunk extension.
    InvalidChunkExtension,
    /// A line that does not end with CRLF, or chunk data not followed by CRLF.
    MissingCrlf,
    /// The trailer section is longer than [`MAX_TRAILERS_LEN`].
    TrailersTooLarge,
    /// A control character or obs-fold in a trailer line.
    InvalidTrailer,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid chunked body ({self:?})")
    }
}

impl std::error::Error for BodyError {}

/// Tracks where one message body ends. Build it from the head's [`Framing`], then feed it
/// every byte that follows the head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyTracker {
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Done,
    Length { remaining: u64 },
    UntilClose,
    Chunked(Chunk),
}

/// Position in a chunked body. `line` counts the bytes of the current chunk-size line,
/// `total` the bytes of the trailer section so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// In the hex digits of a chunk size (`digits` read so far).
    Size {
        value: u64,
        digits: u32,
        line: usize,
    },
    /// Whitespace after the size: only `;` (an extension) may follow.
    SizeSpace {
        value: u64,
        line: usize,
    },
    /// In a chunk extension, up to CR.
    Extension {
        value: u64,
        line: usize,
    },
    /// CR of the size line seen; LF must follow.
    SizeLf {
        value: u64,
    },
    Data {
        remaining: u64,
    },
    DataCr,
    DataLf,
    /// At the start of a trailer line or of the final empty line.
    TrailerStart {
        total: usize,
    },
    Trailer {
        total: usize,
    },
    TrailerLf {
        total: usize,
    },
    FinalLf,
    End,
}

const CR: u8 = b'\r';
const LF: u8 = b'\n';

/// Bytes allowed inside an extension or a trailer line: HTAB, visible ASCII, space, obs-text.
fn is_line_byte(byte: u8) -> bool {
    byte == b'\t' || (byte >= b' ' && byte != 0x7f)
}

fn hex_value(byte: u8) -> Option<u64> {
    (byte as char).to_digit(16).map(u64::from)
}

impl Chunk {
    const FIRST_SIZE: Chunk = Chunk::Size {
        value: 0,
        digits: 0,
        line: 0,
    };

    /// The state after one control byte (never called in `Data`, which is skipped in bulk).
    fn next(self, byte: u8) -> Result<Chunk, BodyError> {
        match self {
            Chunk::Size {
                value,
                digits,
                line,
            } => Self::after_size_byte(value, digits, line, byte),
            Chunk::SizeSpace { value, line } => match byte {
                b' ' | b'\t' => Ok(Chunk::SizeSpace {
                    value,
                    line: bounded_line(line)?,
                }),
                b';' => Ok(Chunk::Extension {
                    value,
                    line: bounded_line(line)?,
                }),
                _ => Err(BodyError::InvalidChunkSize),
            },
            Chunk::Extension { value, line } => match byte {
                CR => Ok(Chunk::SizeLf { value }),
                _ if is_line_byte(byte) => Ok(Chunk::Extension {
                    value,
                    line: bounded_line(line)?,
                }),
                _ => Err(BodyError::InvalidChunkExtension),
            },
            Chunk::SizeLf { value } => match (byte, value) {
                (LF, 0) => Ok(Chunk::TrailerStart { total: 0 }),
                (LF, remaining) => Ok(Chunk::Data { remaining }),
                _ => Err(BodyError::MissingCrlf),
            },
            Chunk::DataCr => expect(byte, CR, Chunk::DataLf),
            Chunk::DataLf => expect(byte, LF, Chunk::FIRST_SIZE),
            Chunk::TrailerStart { total } => match byte {
                CR => Ok(Chunk::FinalLf),
                b' ' | b'\t' => Err(BodyError::InvalidTrailer),
                _ if is_line_byte(byte) => Ok(Chunk::Trailer {
                    total: bounded_trailers(total)?,
                }),
                _ => Err(BodyError::InvalidTrailer),
            },
            Chunk::Trailer { total } => match byte {
                CR => Ok(Chunk::TrailerLf { total }),
                _ if is_line_byte(byte) => Ok(Chunk::Trailer {
                    total: bounded_trailers(total)?,
                }),
                _ => Err(BodyError::InvalidTrailer),
            },
            Chunk::TrailerLf { total } => expect(
                byte,
                LF,
                Chunk::TrailerStart {
                    total: bounded_trailers(total + 1)?,
                },
            ),
            Chunk::FinalLf => expect(byte, LF, Chunk::End),
            Chunk::Data { .. } | Chunk::End => unreachable!("no control byte in {self:?}"),
        }
    }

    fn after_size_byte(value: u64, digits: u32, line: usize, byte: u8) -> Result<Chunk, BodyError> {
        if let Some(digit) = hex_value(byte) {
            if value > u64::MAX >> 4 {
                return Err(BodyError::ChunkSizeOverflow);
            }
            return Ok(Chunk::Size {
                value: value << 4 | digit,
                digits: digits + 1,
                line: bounded_line(line)?,
            });
        }
        if digits == 0 {
            return Err(BodyError::InvalidChunkSize);
        }
        match byte {
            CR => Ok(Chunk::SizeLf { value }),
            b';' => Ok(Chunk::Extension {
                value,
                line: bounded_line(line)?,
            }),
            b' ' | b'\t' => Ok(Chunk::SizeSpace {
                value,
                line: bounded_line(line)?,
            }),
            _ => Err(BodyError::InvalidChunkSize),
        }
    }
}

fn expect(byte: u8, wanted: u8, then: Chunk) -> Result<Chunk, BodyError> {
    if byte == wanted {
        Ok(then)
    } else {
        Err(BodyError::MissingCrlf)
    }
}

/// Counts one more byte of a chunk-size line.
fn bounded_line(line: usize) -> Result<usize, BodyError> {
    if line < MAX_CHUNK_LINE_LEN {
        Ok(line + 1)
    } else {
        Err(BodyError::ChunkLineTooLong)
    }
}

/// Counts one more byte of the trailer section.
fn bounded_trailers(total: usize) -> Result<usize, BodyError> {
    if total < MAX_TRAILERS_LEN {
        Ok(total + 1)
    } else {
        Err(BodyError::TrailersTooLarge)
    }
}

impl BodyTracker {
    /// A tracker for a body framed as `framing` (from [`super::Request::framing`] or
    /// [`super::Response::framing`]). `NoBody` and `ContentLength(0)` are complete at once.
    pub fn new(framing: Framing) -> BodyTracker {
        let state = match framing {
            Framing::NoBody | Framing::ContentLength(0) => State::Done,
            Framing::ContentLength(remaining) => State::Length { remaining },
            Framing::Chunked => State::Chunked(Chunk::FIRST_SIZE),
            Framing::CloseDelimited => State::UntilClose,
        };
        BodyTracker { state }
    }

    /// The message body has ended (a close-delimited body never does: it ends at EOF).
    pub fn is_complete(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes that surely belong to this message before the tracker needs to look at the data
    /// again (the rest of a Content-Length body or of the current chunk's data), if known.
    /// Lets the proxy forward large bodies without calling [`BodyTracker::advance`] per read.
    pub fn known_remaining(&self) -> Option<u64> {
        match self.state {
            State::Done => Some(0),
            State::Length { remaining } => Some(remaining),
            State::Chunked(Chunk::Data { remaining }) => Some(remaining),
            State::UntilClose | State::Chunked(_) => None,
        }
    }

    /// Feeds the next bytes of the stream. Returns how many belong to this message and
    /// whether it is complete; the bytes after `consumed` are the next message's.
    pub fn advance(&mut self, input: &[u8]) -> Result<Progress, BodyError> {
        match &mut self.state {
            State::Done => Ok(Progress {
                consumed: 0,
                complete: true,
            }),
            State::UntilClose => Ok(Progress {
                consumed: input.len(),
                complete: false,
            }),
            State::Length { remaining } => {
                let take = take_up_to(remaining, input.len());
                let complete = *remaining == 0;
                if complete {
                    self.state = State::Done;
                }
                Ok(Progress {
                    consumed: take,
                    complete,
                })
            }
            State::Chunked(chunk) => {
                let progress = advance_chunked(chunk, input);
                if matches!(progress, Ok(Progress { complete: true, .. })) {
                    self.state = State::Done;
                }
                progress
            }
        }
    }
}

/// Takes up to `available` bytes of `remaining`; returns how many were taken.
fn take_up_to(remaining: &mut u64, available: usize) -> usize {
    let take = (*remaining).min(available as u64);
    *remaining -= take;
    take as usize
}

/// Runs the chunked state machine over `input`: control bytes one at a time, data in bulk.
fn advance_chunked(chunk: &mut Chunk, input: &[u8]) -> Result<Progress, BodyError> {
    let mut at = 0;
    while at < input.len() {
        if let Chunk::Data { remaining } = chunk {
            at += take_up_to(remaining, input.len() - at);
            if *remaining == 0 {
                *chunk = Chunk::DataCr;
            }
            continue;
        }
        *chunk = chunk.next(input[at])?;
        at += 1;
        if *chunk == Chunk::End {
            return Ok(Progress {
                consumed: at,
                complete: true,
            });
        }
    }
    Ok(Progress {
        consumed: at,
        complete: false,
    })
}

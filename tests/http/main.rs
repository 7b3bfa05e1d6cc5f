//! Tests of the pure HTTP/1.1 codec (`pointsman::http`) through its public API: request and
//! response corpora with the expected verdicts, forwarding normalization, and the body
//! tracker fed at every split point.

mod body;
mod forwarding;
mod mutations;
mod requests;
mod responses;

/// Test heads are written with `\n` for readability; this turns them into CRLF lines.
pub fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

/// A small deterministic PRNG (xorshift64*) for random split points, so failures replay.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    pub fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % bound.max(1)
    }
}

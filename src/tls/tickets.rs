//! TLS session ticket keys as HAProxy keeps them: a ring of [`RING`] keys per
//! `tls-ticket-keys FILE` (or one the process generates at start), the penultimate key
//! encrypting new tickets and every key decrypting; [`TicketRing::pushed`] is HAProxy's
//! rotation (`set ssl tls-key`, and a reload for the generated ring). [`Ticketer`] seals and
//! opens tickets with the ring's keys for rustls.
//!
//! A key is 48 bytes (16 name, 16 AES, 16 HMAC) or 80 bytes (16 name, 32 AES, 32 HMAC), as in
//! HAProxy's key files. rustls's ticket contents differ from OpenSSL's anyway, so the format
//! is pointsman's own: the key name, a random nonce, then AES-GCM over the session with the
//! key's AES part (128 or 256 bits); GCM's tag replaces the HMAC.

use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use std::path::Path;
use std::sync::{Arc, RwLock};

/// HAProxy's TLS_TICKETS_NO: keys kept per ring.
pub const RING: usize = 3;
/// The bytes of a key that name it in every ticket it seals.
const NAME_LEN: usize = 16;
/// The key sizes HAProxy reads: AES-128 and AES-256 variants.
const KEY_SIZES: [usize; 2] = [48, 80];
/// How long a client may keep a ticket, in seconds (`tune.ssl.lifetime`'s default).
const LIFETIME: u32 = 300;

/// The keys of one ring in HAProxy's slots, and the slot that encrypts.
#[derive(Clone, PartialEq, Eq)]
pub struct TicketRing {
    pub slots: [Vec<u8>; RING],
    pub encrypt: usize,
}

impl std::fmt::Debug for TicketRing {
    /// Keys are secrets: a log line never shows them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TicketRing(encrypt={})", self.encrypt)
    }
}

impl TicketRing {
    /// A ring of [`RING`] random 80-byte keys, as if read from a file of three lines.
    pub fn generate() -> Result<TicketRing, String> {
        let mut keys = Vec::new();
        for _ in 0..RING {
            keys.push(random_key()?);
        }
        Ok(TicketRing::from_lines(keys))
    }

    /// HAProxy's reading of a key file: line `i` goes to slot `i % RING`, so the last
    /// [`RING`] lines stay, and the penultimate line encrypts.
    fn from_lines(keys: Vec<Vec<u8>>) -> TicketRing {
        let mut slots: [Vec<u8>; RING] = Default::default();
        let count = keys.len();
        for (line, key) in keys.into_iter().enumerate() {
            slots[line % RING] = key;
        }
        TicketRing {
            slots,
            encrypt: count.saturating_sub(2) % RING,
        }
    }

    /// Reads a `tls-ticket-keys` file, refused in HAProxy's words.
    pub fn read(path: &Path) -> Result<TicketRing, String> {
        let name = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|_| format!("'{name}' : unable to load ssl tickets keys file"))?;
        let mut keys: Vec<Vec<u8>> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let key = decode(line).ok_or_else(|| {
                format!(
                    "'{name}' : unable to decode base64 key on line {}",
                    index + 1
                )
            })?;
            let size = keys
                .first()
                .map_or(KEY_SIZES.contains(&key.len()), |first| {
                    first.len() == key.len()
                });
            if !size {
                return Err(format!("'{name}' : wrong sized key on line {}", index + 1));
            }
            keys.push(key);
        }
        if keys.len() < RING {
            return Err(format!(
                "'{name}' : please supply at least {RING} keys in the tls-tickets-file"
            ));
        }
        Ok(TicketRing::from_lines(keys))
    }

    /// HAProxy's `set ssl tls-key`: `key` takes the oldest slot and the encrypting slot moves
    /// on one (the key that was newest encrypts; the new one only decrypts until the next).
    pub fn pushed(&self, key: Vec<u8>) -> TicketRing {
        let mut ring = self.clone();
        ring.slots[(self.encrypt + 2) % RING] = key;
        ring.encrypt = (self.encrypt + 1) % RING;
        ring
    }

    /// The keys oldest first, as `show tls-keys` lists them.
    pub fn chronological(&self) -> impl Iterator<Item = &Vec<u8>> {
        (0..RING).map(move |i| &self.slots[(self.encrypt + 2 + i) % RING])
    }

    /// The size every key of this ring has (a new key must have it too).
    pub fn key_size(&self) -> usize {
        self.slots[0].len()
    }

    /// The ring with a fresh random key of its size pushed (a reload's rotation).
    pub fn rotated(&self) -> Result<TicketRing, String> {
        let mut key = random_key()?;
        key.truncate(self.key_size());
        Ok(self.pushed(key))
    }
}

/// A key in a `tls-ticket-keys` file or `set ssl tls-key`: base64 of 48 or 80 bytes.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Whether `key` has a size HAProxy accepts.
pub fn is_key_size(key: &[u8]) -> bool {
    KEY_SIZES.contains(&key.len())
}

/// A key's text in `show tls-keys` and in the state hand-over.
pub fn encode(key: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key)
}

fn random_key() -> Result<Vec<u8>, String> {
    let mut key = vec![0u8; 80];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| "no random bytes for a TLS ticket key".to_string())?;
    Ok(key)
}

/// One key ready to seal and open tickets.
struct SealingKey {
    name: [u8; NAME_LEN],
    aead: LessSafeKey,
}

impl SealingKey {
    fn new(bytes: &[u8]) -> Option<SealingKey> {
        let (name, rest) = bytes.split_at_checked(NAME_LEN)?;
        let (algorithm, aes) = match bytes.len() {
            48 => (&AES_128_GCM, &rest[..16]),
            80 => (&AES_256_GCM, &rest[..32]),
            _ => return None,
        };
        let aead = LessSafeKey::new(UnboundKey::new(algorithm, aes).ok()?);
        Some(SealingKey {
            name: name.try_into().ok()?,
            aead,
        })
    }
}

/// The keys in use: the one that seals, and all that open.
struct Keys {
    encrypt: Arc<SealingKey>,
    all: Vec<Arc<SealingKey>>,
}

/// The rustls ticket producer of the binds sharing one ring; every shard's handshakes use
/// it, and [`Ticketer::install`] swaps its keys when the ring changes.
pub struct Ticketer {
    keys: RwLock<Keys>,
    random: SystemRandom,
}

impl std::fmt::Debug for Ticketer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ticketer")
    }
}

impl Ticketer {
    pub fn new(ring: &TicketRing) -> Result<Ticketer, String> {
        Ok(Ticketer {
            keys: RwLock::new(keys_of(ring)?),
            random: SystemRandom::new(),
        })
    }

    /// Uses `ring`'s keys from now on (the same ring installed twice changes nothing).
    pub fn install(&self, ring: &TicketRing) -> Result<(), String> {
        let keys = keys_of(ring)?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = keys;
        Ok(())
    }

    fn keys(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }
}

fn keys_of(ring: &TicketRing) -> Result<Keys, String> {
    let bad = || "a TLS ticket key is neither 48 nor 80 bytes".to_string();
    let all = (ring.slots.iter())
        .map(|bytes| SealingKey::new(bytes).map(Arc::new).ok_or_else(bad))
        .collect::<Result<Vec<_>, String>>()?;
    Ok(Keys {
        encrypt: all[ring.encrypt % RING].clone(),
        all,
    })
}

impl rustls::server::ProducesTickets for Ticketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        LIFETIME
    }

    /// `name | nonce | AES-GCM(plain)`, the name also authenticated.
    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let key = self.keys().encrypt.clone();
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce).ok()?;
        let mut sealed = plain.to_vec();
        key.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.name),
                &mut sealed,
            )
            .ok()?;
        let mut ticket = Vec::with_capacity(NAME_LEN + NONCE_LEN + sealed.len());
        ticket.extend_from_slice(&key.name);
        ticket.extend_from_slice(&nonce);
        ticket.extend_from_slice(&sealed);
        Some(ticket)
    }

    /// Opens a ticket sealed by any key of the ring; anything else is `None`.
    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        let (name, rest) = ticket.split_at_checked(NAME_LEN)?;
        let (nonce, sealed) = rest.split_at_checked(NONCE_LEN)?;
        let key = self.keys().all.iter().find(|k| k.name == name)?.clone();
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut plain = sealed.to_vec();
        let opened = key
            .aead
            .open_in_place(nonce, Aad::from(key.name), &mut plain)
            .ok()?;
        let length = opened.len();
        plain.truncate(length);
        Some(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::server::ProducesTickets;

    fn key(fill: u8, size: usize) -> Vec<u8> {
        vec![fill; size]
    }

    #[test]
    fn the_penultimate_of_the_last_three_lines_encrypts() {
        let ring = TicketRing::from_lines((1..=4).map(|n| key(n, 48)).collect());
        let order: Vec<u8> = ring.chronological().map(|k| k[0]).collect();
        assert_eq!(order, [2, 3, 4]);
        assert_eq!(ring.slots[ring.encrypt][0], 3);
    }

    #[test]
    fn a_pushed_key_replaces_the_oldest_and_the_newest_before_it_encrypts() {
        let ring = TicketRing::from_lines((1..=3).map(|n| key(n, 80)).collect());
        let pushed = ring.pushed(key(9, 80));
        let order: Vec<u8> = pushed.chronological().map(|k| k[0]).collect();
        assert_eq!(order, [2, 3, 9]);
        assert_eq!(pushed.slots[pushed.encrypt][0], 3);
    }

    #[test]
    fn a_ticket_opens_until_its_key_leaves_the_ring() {
        let ring = TicketRing::generate().unwrap();
        let ticketer = Ticketer::new(&ring).unwrap();
        let ticket = ticketer.encrypt(b"session").unwrap();
        assert_eq!(ticketer.decrypt(&ticket).unwrap(), b"session");
        let mut forged = ticket.clone();
        *forged.last_mut().unwrap() ^= 1;
        assert_eq!(ticketer.decrypt(&forged), None, "a changed ticket");
        assert_eq!(ticketer.decrypt(&ticket[..20]), None, "a cut ticket");
        let once = ring.rotated().unwrap();
        ticketer.install(&once).unwrap();
        assert!(ticketer.decrypt(&ticket).is_some(), "one rotation later");
        ticketer.install(&once.rotated().unwrap()).unwrap();
        assert_eq!(
            ticketer.decrypt(&ticket),
            None,
            "two rotations: its key left"
        );
    }
}

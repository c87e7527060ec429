//! Accounts and sessions: password hashing, login throttling, server-side sessions, CSRF, the
//! user extractors, and the first-run setup.

pub mod csrf;
pub mod handlers;
pub mod password;
pub mod service;
pub mod session;
pub mod user;

use blake2::{Blake2b512, Digest};

pub use user::{CurrentUser, MaybeUser, User};

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// `n` random bytes from the OS, written as Crockford base32 (5 bits a character).
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // The OS random source failing means the machine cannot do crypto at all.
    #[allow(clippy::expect_used)] // no safe way to go on without randomness for tokens
    getrandom::fill(&mut buf).expect("OS random number generator unavailable");
    let mut out = String::with_capacity((n.saturating_mul(8) / 5).saturating_add(1));
    // `bits` stays below 13: 8 are added, then 5 taken while at least 5 are left.
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in buf {
        acc = (acc << 8) | u32::from(b);
        bits = bits.saturating_add(8);
        while bits >= 5 {
            bits = bits.saturating_sub(5);
            out.push(crockford(acc >> bits));
        }
    }
    if bits > 0 {
        out.push(crockford(acc << 5u32.saturating_sub(bits)));
    }
    out
}

/// The Crockford base32 character for the low 5 bits of `v`.
fn crockford(v: u32) -> char {
    CROCKFORD
        .get((v & 31) as usize)
        .map_or('0', |&c| char::from(c))
}

/// Hex of BLAKE2b over the parts, each length-prefixed so part boundaries cannot shift.
pub fn digest(parts: &[&[u8]]) -> String {
    let mut h = Blake2b512::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let out = h.finalize();
    // Hex by table: this runs several times per request (session, CSRF token).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    let nibble = |n: u8| HEX.get(usize::from(n & 15)).map_or('0', |&c| char::from(c));
    for b in out.iter().take(32) {
        hex.push(nibble(b >> 4));
        hex.push(nibble(*b));
    }
    hex
}

/// What the database stores for a bearer token (session id, setup token): never the token.
pub fn hash_token(token: &str) -> String {
    digest(&[b"zhijia-token", token.as_bytes()])
}

/// Equality that takes the same time wherever the first difference is.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

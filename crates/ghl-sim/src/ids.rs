//! GHL-looking identifiers (20 alphanumeric characters, e.g. `seD4PfOuKoVMLkEZqohJ`) and
//! timestamps in GHL's format.

use chrono::{SecondsFormat, Utc};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LEN: usize = 20;

/// A fresh random id.
pub(crate) fn random_id() -> String {
    encode(uuid::Uuid::new_v4().as_u128())
}

/// An id that depends only on its inputs, so that it is the same in every run.
pub(crate) fn stable_id(parts: &[&str]) -> String {
    let high = fnv1a(parts, 0xcbf2_9ce4_8422_2325);
    let low = fnv1a(parts, 0x6c62_272e_07bb_0142);
    encode((u128::from(high) << 64) | u128::from(low))
}

/// Now, as GHL writes times: `2021-07-02T05:18:26.704Z`.
pub(crate) fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn encode(mut n: u128) -> String {
    let mut out = String::with_capacity(LEN);
    for _ in 0..LEN {
        // `n % 62` is below 62, so the index is always in range.
        out.push(char::from(ALPHABET[(n % 62) as usize]));
        n /= 62;
    }
    out
}

fn fnv1a(parts: &[&str], seed: u64) -> u64 {
    let mut hash = seed;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_ghl_ids() {
        let id = random_id();
        assert_eq!(id.len(), 20);
        assert!(id.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(random_id(), id);
    }

    #[test]
    fn stable_ids_depend_on_every_part() {
        assert_eq!(stable_id(&["loc", "a"]), stable_id(&["loc", "a"]));
        assert_ne!(stable_id(&["loc", "a"]), stable_id(&["loc", "b"]));
        assert_ne!(stable_id(&["loca", ""]), stable_id(&["loc", "a"]));
    }
}

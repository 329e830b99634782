//! Time-sortable identifiers: ULIDs (48-bit millisecond time + 80 random bits,
//! 26 characters of Crockford base32), so ids sort by creation time as text.

use crate::env::{Env, random_bytes};

/// Crockford's base32 alphabet: no I, L, O or U, so ids read aloud unambiguously.
pub const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new ULID stamped with `env`'s clock.
pub fn new_ulid(env: &dyn Env) -> String {
    ulid_from_parts(env.now_ms(), random_bytes::<10>(env))
}

/// The ULID for a given time and randomness.
pub fn ulid_from_parts(unix_ms: u64, random: [u8; 10]) -> String {
    let mut value: u128 = u128::from(unix_ms & 0xFFFF_FFFF_FFFF) << 80;
    for (i, b) in random.iter().enumerate() {
        value |= u128::from(*b) << (72 - 8 * i);
    }
    // 26 chars × 5 bits = 130 bits; the top two bits are always zero.
    (0..26)
        .rev()
        .map(|i| CROCKFORD[((value >> (5 * i)) & 31) as usize] as char)
        .collect()
}

/// The creation time a ULID carries, or `None` if `id` is not a ULID.
pub fn ulid_time_ms(id: &str) -> Option<u64> {
    if id.len() != 26 {
        return None;
    }
    let mut value: u128 = 0;
    for c in id.bytes() {
        let digit = CROCKFORD
            .iter()
            .position(|&a| a == c.to_ascii_uppercase())?;
        value = (value << 5) | digit as u128;
    }
    u64::try_from(value >> 80).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FixedEnv;

    #[test]
    fn ulids_are_26_crockford_chars_and_carry_their_time() {
        let env = FixedEnv::new(1_735_689_600_123, 3);
        let id = new_ulid(&env);
        assert_eq!(id.len(), 26);
        assert!(id.bytes().all(|c| CROCKFORD.contains(&c)));
        assert_eq!(ulid_time_ms(&id), Some(1_735_689_600_123));
    }

    #[test]
    fn known_encoding() {
        assert_eq!(ulid_from_parts(0, [0; 10]), "00000000000000000000000000");
        assert_eq!(
            ulid_from_parts(0xFFFF_FFFF_FFFF, [0xFF; 10]),
            "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
        );
        assert_eq!(&ulid_from_parts(1, [0; 10])[..10], "0000000001");
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let env = FixedEnv::new(1_000, 9);
        let a = new_ulid(&env);
        env.advance_ms(1);
        let b = new_ulid(&env);
        assert!(a < b);
        assert_ne!(new_ulid(&env), new_ulid(&env));
    }

    #[test]
    fn non_ulids_have_no_time() {
        assert_eq!(ulid_time_ms("short"), None);
        assert_eq!(ulid_time_ms("0000000000000000000000000U"), None);
    }
}

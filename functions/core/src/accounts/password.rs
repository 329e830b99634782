//! Password hashing: Argon2id (memory-hard) as PHC strings, with OWASP's
//! recommended parameters (19 MiB, 2 passes, 1 lane).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::env::{Env, random_bytes};
use crate::error::ApiError;

/// Memory cost in KiB.
pub const M_COST_KIB: u32 = 19_456;
/// Number of passes.
pub const T_COST: u32 = 2;
/// Degree of parallelism.
pub const P_COST: u32 = 1;

/// A well-formed hash with the real parameters whose output matches no known
/// password, so logging in as an unknown handle costs as much as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZHJlYW1yZWVsLWR1bW15$Yq4R0T3Ec9iW6e9e2bEr0y5a0s8rRq4dYyH3g0yQm3w";

fn hasher() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes `password` with a fresh 16-byte salt; returns a PHC string.
pub fn hash(env: &dyn Env, password: &str) -> Result<String, ApiError> {
    let salt = SaltString::encode_b64(&random_bytes::<16>(env))
        .map_err(|_| ApiError::internal("could not hash the password"))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| ApiError::internal("could not hash the password"))
}

/// Whether `password` matches the PHC string `phc`. The comparison of the
/// derived keys is constant-time; a corrupt `phc` never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => {
            verify_dummy(password);
            false
        }
    }
}

/// Spends the same time as [`verify`] and always fails; call it when there is
/// no user, so response times do not reveal which handles exist.
pub fn verify_dummy(password: &str) {
    let parsed = PasswordHash::new(DUMMY_HASH).expect("the dummy hash parses");
    let _ = hasher().verify_password(password.as_bytes(), &parsed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::FixedEnv;

    #[test]
    fn a_hash_verifies_only_its_own_password() {
        let env = FixedEnv::default();
        let phc = hash(&env, "correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterY", &phc));
    }

    #[test]
    fn the_same_password_gets_a_different_salt_each_time() {
        let env = FixedEnv::default();
        assert_ne!(
            hash(&env, "pw-pw-pw-pw").unwrap(),
            hash(&env, "pw-pw-pw-pw").unwrap()
        );
    }

    #[test]
    fn corrupt_hashes_never_match() {
        assert!(!verify("anything", "not a phc string"));
        assert!(!verify("", ""));
    }

    #[test]
    fn the_dummy_hash_has_the_real_parameters() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        let params = Params::try_from(&parsed).unwrap();
        assert_eq!(parsed.algorithm.as_str(), "argon2id");
        assert_eq!(
            (params.m_cost(), params.t_cost(), params.p_cost()),
            (M_COST_KIB, T_COST, P_COST)
        );
        assert_eq!(parsed.hash.unwrap().len(), 32);
        verify_dummy("whatever");
    }
}

//! Password hashes: argon2id for everything we hash, and verification of the hashes people
//! import from other systems (argon2i, bcrypt, Django's `pbkdf2_sha256$…`, PHC and passlib
//! pbkdf2, scrypt), which are upgraded to argon2id at the next successful sign-in.
//!
//! Pure and synchronous: the web layer runs these on a bounded blocking pool.

use argon2::password_hash::phc;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use std::fmt;
use subtle::ConstantTimeEq;

/// Upper bounds on the work an imported hash may ask for, so one import cannot make each
/// sign-in attempt cost seconds or gigabytes.
const MAX_BCRYPT_COST: u32 = 18;
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
const MAX_SCRYPT_MEMORY_BYTES: u64 = 512 * 1024 * 1024;
const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ARGON2_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("unsupported password hash: {0}")]
    UnsupportedHash(String),
    #[error("invalid password hash: {0}")]
    InvalidHash(String),
    #[error("invalid argon2 parameters: {0}")]
    InvalidParams(String),
    #[error("cannot hash the password: {0}")]
    Hashing(String),
}

/// The algorithm family of a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashScheme {
    /// PHC `$argon2id$`, `$argon2i$`, `$argon2d$`.
    Argon2,
    /// `$2a$`, `$2b$`, `$2y$`.
    Bcrypt,
    /// Django: `pbkdf2_sha256$iterations$salt$base64(hash)`.
    DjangoPbkdf2Sha256,
    /// PHC `$pbkdf2-sha256$i=…,l=…$salt$hash` (also `pbkdf2-sha512`).
    Pbkdf2Phc,
    /// passlib: `$pbkdf2-sha256$rounds$ab64(salt)$ab64(hash)` (also `pbkdf2-sha512`).
    Pbkdf2Passlib,
    /// PHC `$scrypt$ln=…,r=…,p=…$salt$hash`.
    Scrypt,
}

/// A stored password hash: a PHC string or an imported bcrypt / Django form. Its `Debug` never
/// shows the hash.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    value: String,
    scheme: HashScheme,
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordHash({:?}, [redacted])", self.scheme)
    }
}

fn invalid(reason: impl Into<String>) -> PasswordError {
    PasswordError::InvalidHash(reason.into())
}

impl PasswordHash {
    /// Recognizes and checks a stored or imported hash (its form and that its work factors are
    /// within bounds); the password itself is checked only by [`verify_password`].
    pub fn parse(s: &str) -> Result<PasswordHash, PasswordError> {
        let scheme = if s.starts_with("$argon2") {
            check_argon2(s)?;
            HashScheme::Argon2
        } else if s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$") {
            let parts: bcrypt::HashParts = s
                .parse()
                .map_err(|e| invalid(format!("bcrypt hash: {e}")))?;
            if parts.get_cost() > MAX_BCRYPT_COST {
                return Err(invalid(format!(
                    "bcrypt cost {} is above {MAX_BCRYPT_COST}",
                    parts.get_cost()
                )));
            }
            HashScheme::Bcrypt
        } else if s.starts_with("pbkdf2_sha256$") {
            DjangoHash::parse(s)?;
            HashScheme::DjangoPbkdf2Sha256
        } else if s.starts_with("$pbkdf2-sha256$") || s.starts_with("$pbkdf2-sha512$") {
            let rest = s.splitn(3, '$').nth(2).unwrap_or_default();
            if rest.starts_with("i=") {
                check_pbkdf2_phc(s)?;
                HashScheme::Pbkdf2Phc
            } else {
                PasslibHash::parse(s)?;
                HashScheme::Pbkdf2Passlib
            }
        } else if s.starts_with("$scrypt$") {
            check_scrypt(s)?;
            HashScheme::Scrypt
        } else {
            return Err(PasswordError::UnsupportedHash(
                "expected argon2id/argon2i (PHC), bcrypt ($2a$/$2b$/$2y$), Django pbkdf2_sha256$…, \
                 PHC or passlib $pbkdf2-sha256$…, or PHC $scrypt$…"
                    .to_owned(),
            ));
        };
        Ok(PasswordHash {
            value: s.to_owned(),
            scheme,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn scheme(&self) -> HashScheme {
        self.scheme
    }
}

fn phc_of(s: &str) -> Result<phc::PasswordHash, PasswordError> {
    let parsed = phc::PasswordHash::new(s).map_err(|e| invalid(format!("PHC string: {e}")))?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err(invalid("the PHC string has no salt or no hash"));
    }
    Ok(parsed)
}

fn check_argon2(s: &str) -> Result<(), PasswordError> {
    let parsed = phc_of(s)?;
    argon2::Algorithm::new(parsed.algorithm.as_str())
        .map_err(|e| invalid(format!("argon2 variant: {e}")))?;
    let params = argon2::Params::try_from(&parsed)
        .map_err(|e| invalid(format!("argon2 parameters: {e}")))?;
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB
        || params.t_cost() > MAX_ARGON2_ITERATIONS
        || params.p_cost() > MAX_PARALLELISM
    {
        return Err(invalid("argon2 parameters are above the accepted maximum"));
    }
    Ok(())
}

fn check_pbkdf2_phc(s: &str) -> Result<(), PasswordError> {
    let parsed = phc_of(s)?;
    let iterations = parsed
        .params
        .get("i")
        .and_then(|v| v.decimal().ok())
        .ok_or_else(|| invalid("pbkdf2: the i= parameter is missing"))?;
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return Err(invalid(format!(
            "pbkdf2 iterations must be between 1 and {MAX_PBKDF2_ITERATIONS}"
        )));
    }
    pbkdf2::Params::try_from(&parsed).map_err(|e| invalid(format!("pbkdf2 parameters: {e}")))?;
    Ok(())
}

fn check_scrypt(s: &str) -> Result<(), PasswordError> {
    let parsed = phc_of(s)?;
    let params = scrypt::Params::try_from(&parsed)
        .map_err(|e| invalid(format!("scrypt parameters: {e}")))?;
    let memory = 128u64
        .saturating_mul(u64::from(params.r()))
        .saturating_mul(params.n());
    if memory > MAX_SCRYPT_MEMORY_BYTES || params.p() > MAX_PARALLELISM {
        return Err(invalid("scrypt parameters are above the accepted maximum"));
    }
    Ok(())
}

/// Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 of the 32-byte PBKDF2-HMAC-SHA256>`.
struct DjangoHash<'a> {
    iterations: u32,
    salt: &'a str,
    hash: Vec<u8>,
}

impl<'a> DjangoHash<'a> {
    fn parse(s: &'a str) -> Result<Self, PasswordError> {
        let mut parts = s.split('$');
        let (Some("pbkdf2_sha256"), Some(iterations), Some(salt), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid(
                "Django hashes look like pbkdf2_sha256$iterations$salt$hash",
            ));
        };
        let iterations: u32 = iterations
            .parse()
            .ok()
            .filter(|i| (1..=MAX_PBKDF2_ITERATIONS).contains(i))
            .ok_or_else(|| invalid("Django hash: iterations out of range"))?;
        if salt.is_empty() {
            return Err(invalid("Django hash: empty salt"));
        }
        let hash = STANDARD
            .decode(hash)
            .map_err(|_| invalid("Django hash: the hash is not base64"))?;
        if hash.len() != 32 {
            return Err(invalid("Django hash: the hash is not 32 bytes"));
        }
        Ok(Self {
            iterations,
            salt,
            hash,
        })
    }

    fn matches(&self, password: &str) -> bool {
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha256>(
            password.as_bytes(),
            self.salt.as_bytes(),
            self.iterations,
            &mut out,
        );
        out.ct_eq(self.hash.as_slice()).into()
    }
}

/// passlib's `$pbkdf2-sha256$<rounds>$<ab64 salt>$<ab64 hash>` (ab64: base64 with `.` for `+`,
/// no padding).
struct PasslibHash {
    sha512: bool,
    rounds: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasslibHash {
    fn parse(s: &str) -> Result<Self, PasswordError> {
        let mut parts = s.split('$');
        let (Some(""), Some(alg), Some(rounds), Some(salt), Some(hash), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(invalid(
                "pbkdf2 hashes look like $pbkdf2-sha256$i=…,l=…$salt$hash or $pbkdf2-sha256$rounds$salt$hash",
            ));
        };
        let ab64 = |v: &str| STANDARD_NO_PAD.decode(v.replace('.', "+"));
        let rounds: u32 = rounds
            .parse()
            .ok()
            .filter(|i| (1..=MAX_PBKDF2_ITERATIONS).contains(i))
            .ok_or_else(|| invalid("pbkdf2 hash: rounds out of range"))?;
        let sha512 = alg == "pbkdf2-sha512";
        let salt = ab64(salt).map_err(|_| invalid("pbkdf2 hash: the salt is not ab64"))?;
        let hash = ab64(hash).map_err(|_| invalid("pbkdf2 hash: the hash is not ab64"))?;
        if hash.len() != if sha512 { 64 } else { 32 } {
            return Err(invalid("pbkdf2 hash: the hash has the wrong length"));
        }
        Ok(Self {
            sha512,
            rounds,
            salt,
            hash,
        })
    }

    fn matches(&self, password: &str) -> bool {
        let mut out = vec![0u8; self.hash.len()];
        if self.sha512 {
            pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha512>(
                password.as_bytes(),
                &self.salt,
                self.rounds,
                &mut out,
            );
        } else {
            pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha256>(
                password.as_bytes(),
                &self.salt,
                self.rounds,
                &mut out,
            );
        }
        out.ct_eq(self.hash.as_slice()).into()
    }
}

/// argon2id cost parameters (RFC 9106; OWASP minimum m=19456 KiB, t=2, p=1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for HashParams {
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl HashParams {
    /// Refuses parameters below the OWASP minimum (DESIGN.md §4 rule 1) or that argon2 rejects.
    pub fn validate(&self) -> Result<(), PasswordError> {
        let min = Self::default();
        if self.memory_kib < min.memory_kib
            || self.iterations < min.iterations
            || self.parallelism < min.parallelism
        {
            return Err(PasswordError::InvalidParams(format!(
                "argon2id needs at least memory_kib = {}, iterations = {}, parallelism = {}",
                min.memory_kib, min.iterations, min.parallelism
            )));
        }
        self.argon2().map(|_| ())
    }

    fn argon2(&self) -> Result<Argon2<'static>, PasswordError> {
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| PasswordError::InvalidParams(e.to_string()))?;
        Ok(Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            params,
        ))
    }
}

/// Hashes a password with argon2id and a fresh random salt.
pub fn hash_password(params: &HashParams, password: &str) -> Result<PasswordHash, PasswordError> {
    let salt = crate::secret::random_bytes(16);
    let hash = params
        .argon2()?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| PasswordError::Hashing(e.to_string()))?;
    Ok(PasswordHash {
        value: hash.to_string(),
        scheme: HashScheme::Argon2,
    })
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    Mismatch,
    /// The password is right; `needs_rehash` when the hash is not argon2id with at least
    /// `params`, so the caller should store a fresh hash.
    Match {
        needs_rehash: bool,
    },
}

impl Verification {
    pub fn is_match(self) -> bool {
        matches!(self, Self::Match { .. })
    }
}

/// Checks `password` against `stored`, in constant time with respect to the hash.
pub fn verify_password(params: &HashParams, password: &str, stored: &PasswordHash) -> Verification {
    let pw = password.as_bytes();
    let matched = match stored.scheme {
        HashScheme::Argon2 => phc::PasswordHash::new(stored.as_str())
            .is_ok_and(|h| Argon2::default().verify_password(pw, &h).is_ok()),
        HashScheme::Bcrypt => bcrypt::verify(pw, stored.as_str()).unwrap_or(false),
        HashScheme::DjangoPbkdf2Sha256 => {
            DjangoHash::parse(stored.as_str()).is_ok_and(|h| h.matches(password))
        }
        HashScheme::Pbkdf2Passlib => {
            PasslibHash::parse(stored.as_str()).is_ok_and(|h| h.matches(password))
        }
        HashScheme::Pbkdf2Phc => phc::PasswordHash::new(stored.as_str())
            .is_ok_and(|h| pbkdf2::Pbkdf2::default().verify_password(pw, &h).is_ok()),
        HashScheme::Scrypt => phc::PasswordHash::new(stored.as_str())
            .is_ok_and(|h| scrypt::Scrypt::new().verify_password(pw, &h).is_ok()),
    };
    if matched {
        Verification::Match {
            needs_rehash: needs_rehash(params, stored),
        }
    } else {
        Verification::Mismatch
    }
}

/// Whether `stored` is anything but argon2id (v1.3) with at least `params`.
pub fn needs_rehash(params: &HashParams, stored: &PasswordHash) -> bool {
    if stored.scheme != HashScheme::Argon2 {
        return true;
    }
    let Ok(parsed) = phc::PasswordHash::new(stored.as_str()) else {
        return true;
    };
    if parsed.algorithm.as_str() != "argon2id" || parsed.version != Some(0x13) {
        return true;
    }
    match argon2::Params::try_from(&parsed) {
        Ok(p) => {
            p.m_cost() < params.memory_kib
                || p.t_cost() < params.iterations
                || p.p_cost() < params.parallelism
        }
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::CustomizedPasswordHasher;

    const PASSWORD: &str = "correct horse battery staple";

    fn assert_upgrades(hash: &str) {
        let stored = PasswordHash::parse(hash).expect("parses");
        let params = HashParams::default();
        assert_eq!(
            verify_password(&params, PASSWORD, &stored),
            Verification::Match { needs_rehash: true },
            "{hash}"
        );
        assert_eq!(
            verify_password(&params, "correct horse battery stapler", &stored),
            Verification::Mismatch,
            "{hash}"
        );
    }

    #[test]
    fn hashes_with_argon2id_at_the_given_params_and_verifies() {
        let params = HashParams::default();
        let hash = hash_password(&params, PASSWORD).expect("hashes");
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_str()
        );
        assert_eq!(
            verify_password(&params, PASSWORD, &hash),
            Verification::Match {
                needs_rehash: false
            }
        );
        assert_eq!(
            verify_password(&params, "wrong", &hash),
            Verification::Mismatch
        );
        assert_ne!(
            hash,
            hash_password(&params, PASSWORD).expect("hashes"),
            "fresh salt"
        );
        let stronger = HashParams {
            memory_kib: 32_768,
            ..params
        };
        assert_eq!(
            verify_password(&stronger, PASSWORD, &hash),
            Verification::Match { needs_rehash: true }
        );
        assert_eq!(PasswordHash::parse(hash.as_str()).expect("parses"), hash);
    }

    #[test]
    fn long_passwords_are_not_truncated() {
        let params = HashParams::default();
        let long = "x".repeat(1024) + "a";
        let hash = hash_password(&params, &long).expect("hashes");
        assert!(verify_password(&params, &long, &hash).is_match());
        assert!(!verify_password(&params, &("x".repeat(1024) + "b"), &hash).is_match());
    }

    #[test]
    fn debug_never_shows_the_hash() {
        let hash = hash_password(&HashParams::default(), PASSWORD).expect("hashes");
        let shown = format!("{hash:?}");
        assert!(!shown.contains("$argon2id"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn refuses_params_below_the_owasp_minimum() {
        assert!(HashParams::default().validate().is_ok());
        for weak in [
            HashParams {
                memory_kib: 4096,
                ..HashParams::default()
            },
            HashParams {
                iterations: 1,
                ..HashParams::default()
            },
            HashParams {
                parallelism: 0,
                ..HashParams::default()
            },
        ] {
            assert!(matches!(
                weak.validate(),
                Err(PasswordError::InvalidParams(_))
            ));
        }
    }

    #[test]
    fn verifies_imported_argon2i() {
        let argon2i = Argon2::new(
            argon2::Algorithm::Argon2i,
            argon2::Version::V0x13,
            argon2::Params::new(8192, 3, 1, None).expect("params"),
        );
        let hash = argon2i
            .hash_password_with_salt(PASSWORD.as_bytes(), b"imported-salt-16")
            .expect("hashes")
            .to_string();
        assert!(hash.starts_with("$argon2i$"), "{hash}");
        assert_upgrades(&hash);
        // argon2id below our parameters also upgrades.
        let weak_id = Argon2::default()
            .hash_password_customized(
                PASSWORD.as_bytes(),
                b"imported-salt-16",
                None,
                None,
                argon2::Params::new(8192, 1, 1, None).expect("params"),
            )
            .expect("hashes")
            .to_string();
        assert!(weak_id.starts_with("$argon2id$"), "{weak_id}");
        assert_upgrades(&weak_id);
    }

    #[test]
    fn verifies_imported_bcrypt_in_every_prefix() {
        let salt = *b"0123456789abcdef";
        let parts = bcrypt::hash_with_salt(PASSWORD, 4, salt).expect("hashes");
        for version in [
            bcrypt::Version::TwoA,
            bcrypt::Version::TwoB,
            bcrypt::Version::TwoY,
        ] {
            assert_upgrades(&parts.format_for_version(version));
        }
        // The OpenBSD test vector (password "U*U", cost 5).
        let vector =
            PasswordHash::parse("$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW")
                .expect("parses");
        assert!(verify_password(&HashParams::default(), "U*U", &vector).is_match());
        assert!(matches!(
            PasswordHash::parse("$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"),
            Err(PasswordError::InvalidHash(_))
        ));
    }

    #[test]
    fn verifies_imported_django_pbkdf2_sha256() {
        // Django's algorithm with the pbkdf2 crate: base64(PBKDF2-HMAC-SHA256(password, salt)).
        let salt = "Xk7ZbhqNqRtm";
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha256>(
            PASSWORD.as_bytes(),
            salt.as_bytes(),
            20_000,
            &mut out,
        );
        assert_upgrades(&format!(
            "pbkdf2_sha256$20000${salt}${}",
            STANDARD.encode(out)
        ));
        // Produced by Python's hashlib, which Django's PBKDF2PasswordHasher calls:
        // base64.b64encode(hashlib.pbkdf2_hmac("sha256", b"correct horse battery staple",
        //                                       b"seasalt2024", 1000)).decode()
        assert_upgrades(
            "pbkdf2_sha256$1000$seasalt2024$eVE/oZISoCAklNifJeMrN1B7sUBT3nJUh5EUbllcLD0=",
        );
        for bad in [
            "pbkdf2_sha256$0$salt$AAAA",
            "pbkdf2_sha256$1000$salt",
            "pbkdf2_sha256$1000$salt$not-base64!",
            "pbkdf2_sha256$1000$salt$AAAA",
        ] {
            assert!(
                matches!(PasswordHash::parse(bad), Err(PasswordError::InvalidHash(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn verifies_imported_phc_and_passlib_pbkdf2() {
        let hash = pbkdf2::Pbkdf2::default()
            .hash_password_customized(
                PASSWORD.as_bytes(),
                b"pbkdf2-salt-0001",
                None,
                None,
                pbkdf2::Params::new_with_output_len(5_000, 32).expect("params"),
            )
            .expect("hashes")
            .to_string();
        assert!(hash.starts_with("$pbkdf2-sha256$i=5000,l=32$"), "{hash}");
        assert_upgrades(&hash);
        // passlib's format, built with the same primitive: ab64 is base64 with "." for "+".
        let salt = b"passlib-salt";
        let mut out = [0u8; 32];
        pbkdf2::pbkdf2_hmac::<pbkdf2::sha2::Sha256>(PASSWORD.as_bytes(), salt, 29_000, &mut out);
        let ab64 = |b: &[u8]| STANDARD_NO_PAD.encode(b).replace('+', ".");
        assert_upgrades(&format!(
            "$pbkdf2-sha256$29000${}${}",
            ab64(salt),
            ab64(&out)
        ));
    }

    #[test]
    fn verifies_imported_scrypt() {
        let hash = scrypt::Scrypt::new()
            .hash_password_customized(
                PASSWORD.as_bytes(),
                b"scrypt-salt-0001",
                None,
                None,
                scrypt::Params::new(10, 8, 1).expect("params"),
            )
            .expect("hashes")
            .to_string();
        assert!(hash.starts_with("$scrypt$ln=10,r=8,p=1$"), "{hash}");
        assert_upgrades(&hash);
        assert!(matches!(
            PasswordHash::parse(
                "$scrypt$ln=30,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"
            ),
            Err(PasswordError::InvalidHash(_))
        ));
    }

    #[test]
    fn refuses_unknown_and_malformed_hashes() {
        for bad in [
            "",
            "plaintext",
            "$md5$abc",
            "$1$salt$hash",
            "$argon2id$v=19$m=19456",
        ] {
            assert!(PasswordHash::parse(bad).is_err(), "{bad}");
        }
    }
}

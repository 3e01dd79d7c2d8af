//! The password policy for passwords people choose: a minimum and maximum length (never a
//! silent truncation), a zxcvbn strength score, and no password built from the identifier.

use std::fmt;

/// zxcvbn's cost grows quickly with length; a longer password is judged by its first part
/// (which alone is then strong, unless the whole thing is a repetition).
const SCORED_PREFIX_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// In characters (Unicode scalar values).
    pub min_length: usize,
    /// In characters; hashing never truncates below this.
    pub max_length: usize,
    /// Lowest accepted zxcvbn score (0–4).
    pub min_score: u8,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 4096,
            min_score: 3,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyViolation {
    TooShort {
        min: usize,
    },
    TooLong {
        max: usize,
    },
    Weak {
        score: u8,
        suggestion: Option<String>,
    },
    SimilarToIdentifier,
}

impl fmt::Display for PolicyViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooShort { min } => {
                write!(f, "the password must be at least {min} characters long")
            }
            Self::TooLong { max } => {
                write!(f, "the password must be at most {max} characters long")
            }
            Self::Weak { suggestion, .. } => {
                f.write_str("the password is too easy to guess")?;
                match suggestion {
                    Some(s) => write!(f, ": {}", s.trim_end_matches('.').to_lowercase()),
                    None => f.write_str(": add more words or characters"),
                }
            }
            Self::SimilarToIdentifier => {
                f.write_str("the password is too similar to your email address or username")
            }
        }
    }
}

impl std::error::Error for PolicyViolation {}

/// Checks a password a person chose against the policy; `identifiers` are the person's login
/// identifiers (emails, usernames).
pub fn check(
    policy: &PasswordPolicy,
    password: &str,
    identifiers: &[&str],
) -> Result<(), PolicyViolation> {
    let length = password.chars().count();
    if length < policy.min_length {
        return Err(PolicyViolation::TooShort {
            min: policy.min_length,
        });
    }
    if length > policy.max_length {
        return Err(PolicyViolation::TooLong {
            max: policy.max_length,
        });
    }
    if identifiers
        .iter()
        .any(|identifier| similar(password, identifier))
    {
        return Err(PolicyViolation::SimilarToIdentifier);
    }
    let scored: String = password.chars().take(SCORED_PREFIX_CHARS).collect();
    let entropy = zxcvbn::zxcvbn(&scored, identifiers);
    let score = u8::from(entropy.score());
    if score < policy.min_score {
        let suggestion = entropy.feedback().and_then(|f| {
            f.warning()
                .map(|w| w.to_string())
                .or_else(|| f.suggestions().first().map(ToString::to_string))
        });
        return Err(PolicyViolation::Weak { score, suggestion });
    }
    Ok(())
}

/// The password contains the identifier or its local part (before `@`, when at least 3
/// characters), or is contained in it; case-insensitive.
fn similar(password: &str, identifier: &str) -> bool {
    let password = password.to_lowercase();
    let identifier = identifier.trim().to_lowercase();
    if identifier.is_empty() {
        return false;
    }
    if password.contains(&identifier) || identifier.contains(&password) {
        return true;
    }
    match identifier.split_once('@') {
        Some((local, _)) if local.chars().count() >= 3 => {
            password.contains(local) || local.contains(&password)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy::default()
    }

    #[test]
    fn accepts_a_strong_password() {
        assert_eq!(
            check(&policy(), "tawny-kettle-orbit-93", &["ann@example.com"]),
            Ok(())
        );
    }

    #[test]
    fn refuses_short_passwords_with_a_readable_reason() {
        let err = check(&policy(), "Xq7$kz!", &[]).expect_err("too short");
        assert_eq!(err, PolicyViolation::TooShort { min: 8 });
        assert_eq!(
            err.to_string(),
            "the password must be at least 8 characters long"
        );
        // Length counts characters, not bytes.
        assert!(matches!(
            check(&policy(), "ééééééé", &[]),
            Err(PolicyViolation::TooShort { .. })
        ));
    }

    #[test]
    fn accepts_long_passwords_up_to_the_maximum() {
        let long: String = "tawny kettle orbit 93 ".repeat(60);
        assert!(long.chars().count() > 1024);
        assert_eq!(check(&policy(), &long, &[]), Ok(()));
        let too_long = "a".repeat(4097);
        assert_eq!(
            check(&policy(), &too_long, &[]),
            Err(PolicyViolation::TooLong { max: 4096 })
        );
    }

    #[test]
    fn refuses_weak_passwords_with_a_suggestion() {
        let err = check(&policy(), "password123", &[]).expect_err("weak");
        let PolicyViolation::Weak { score, .. } = &err else {
            panic!("expected Weak, got {err:?}");
        };
        assert!(*score < 3);
        assert!(
            err.to_string()
                .starts_with("the password is too easy to guess"),
            "{err}"
        );
        let relaxed = PasswordPolicy {
            min_score: 0,
            ..policy()
        };
        assert_eq!(check(&relaxed, "password123", &[]), Ok(()));
    }

    #[test]
    fn refuses_passwords_built_from_the_identifier() {
        let ids = ["Margaret.Hamilton@example.com"];
        for password in [
            "margaret.hamilton@example.com!",
            "xX-MARGARET.HAMILTON-Xx-2024",
            "margaret.ham",
        ] {
            assert_eq!(
                check(&policy(), password, &ids),
                Err(PolicyViolation::SimilarToIdentifier),
                "{password}"
            );
        }
        // A local part shorter than 3 characters is not a similarity rule of its own.
        assert_eq!(
            check(&policy(), "tawny-kettle-al-orbit-93", &["al@example.com"]),
            Ok(())
        );
        assert_eq!(
            check(
                &policy(),
                "tawny-kettle-orbit-93",
                &["tawny-kettle-orbit-93"]
            ),
            Err(PolicyViolation::SimilarToIdentifier)
        );
        assert_eq!(
            PolicyViolation::SimilarToIdentifier.to_string(),
            "the password is too similar to your email address or username"
        );
    }
}

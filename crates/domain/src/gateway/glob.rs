//! Oathkeeper URL globs: `<*>` matches any run of characters except the separators `.` and `/`,
//! `<**>` matches anything, `<?>` one character that is not a separator; everything else is
//! literal. This mirrors Oathkeeper's `glob` matching strategy (gobwas/glob compiled with the
//! separators `.` and `/`). Matching runs over the set of reachable positions, so it is linear in
//! the pattern times the URL and never backtracks.

/// Why a pattern is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    #[error("unclosed `<` in the pattern")]
    Unclosed,
    #[error(
        "unsupported pattern <{0}>: only <*>, <**> and <?> are supported (the regexp strategy is not)"
    )]
    Unsupported(String),
    #[error("the pattern is empty")]
    Empty,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// `<*>`: any characters but the separators.
    Star,
    /// `<**>`: any characters.
    AnyDepth,
    /// `<?>`: one character that is not a separator.
    One,
}

/// A compiled URL pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlPattern {
    source: String,
    tokens: Vec<Token>,
}

fn is_separator(b: u8) -> bool {
    b == b'.' || b == b'/'
}

impl UrlPattern {
    pub fn parse(pattern: &str) -> Result<Self, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut rest = pattern;
        while let Some(start) = rest.find('<') {
            literal.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let end = after.find('>').ok_or(GlobError::Unclosed)?;
            let token = match &after[..end] {
                "*" => Token::Star,
                "**" => Token::AnyDepth,
                "?" => Token::One,
                other => return Err(GlobError::Unsupported(other.to_owned())),
            };
            if !literal.is_empty() {
                tokens.push(Token::Literal(std::mem::take(&mut literal)));
            }
            tokens.push(token);
            rest = &after[end + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Self {
            source: pattern.to_owned(),
            tokens,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the whole of `input` matches.
    pub fn matches(&self, input: &str) -> bool {
        let bytes = input.as_bytes();
        let len = bytes.len();
        // reachable[i]: the tokens seen so far can consume exactly input[..i].
        let mut reachable = vec![false; len + 1];
        reachable[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; len + 1];
            match token {
                Token::Literal(lit) => {
                    let lit = lit.as_bytes();
                    for (i, _) in reachable.iter().enumerate().filter(|(_, r)| **r) {
                        if bytes[i..].starts_with(lit) {
                            next[i + lit.len()] = true;
                        }
                    }
                }
                Token::Star => {
                    let mut i = 0;
                    while i <= len {
                        if reachable[i] {
                            next[i] = true;
                            let mut j = i;
                            while j < len && !is_separator(bytes[j]) {
                                j += 1;
                                next[j] = true;
                            }
                            i = j + 1;
                        } else {
                            i += 1;
                        }
                    }
                }
                Token::AnyDepth => {
                    if let Some(first) = reachable.iter().position(|r| *r) {
                        next[first..].iter_mut().for_each(|n| *n = true);
                    }
                }
                Token::One => {
                    for (i, _) in reachable.iter().enumerate().filter(|(_, r)| **r) {
                        if !input.is_char_boundary(i) {
                            continue;
                        }
                        if let Some(c) = input[i..].chars().next()
                            && !(c.is_ascii() && is_separator(c as u8))
                        {
                            next[i + c.len_utf8()] = true;
                        }
                    }
                }
            }
            reachable = next;
        }
        reachable[len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, input: &str) -> bool {
        UrlPattern::parse(pattern).expect("valid").matches(input)
    }

    #[test]
    fn literal_patterns_match_exactly() {
        assert!(m("http://api.example/users", "http://api.example/users"));
        assert!(!m("http://api.example/users", "http://api.example/users/1"));
        assert!(!m("http://api.example/users", "http://api.example/user"));
    }

    #[test]
    fn star_stops_at_separators() {
        assert!(m("http://h/users/<*>", "http://h/users/42"));
        assert!(!m("http://h/users/<*>", "http://h/users/42/posts"));
        assert!(!m("http://h/files/<*>", "http://h/files/report.pdf"));
        assert!(m("http://h/files/<*>.pdf", "http://h/files/report.pdf"));
        assert!(m("http://h/users/<*>", "http://h/users/"));
        assert!(m("http://<*>.example/a", "http://api.example/a"));
    }

    #[test]
    fn double_star_matches_anything() {
        assert!(m("http://h/api/<**>", "http://h/api/a/b.c/d"));
        assert!(m("http://h/api/<**>", "http://h/api/"));
        assert!(m("<**>://h/<**>", "https://h/x"));
        assert!(!m("http://h/api/<**>", "http://h/other"));
        assert!(m("http://h/<**>/end", "http://h/a/b/end"));
    }

    #[test]
    fn question_mark_matches_one_non_separator() {
        assert!(m("http://h/v<?>", "http://h/v1"));
        assert!(!m("http://h/v<?>", "http://h/v12"));
        assert!(!m("http://h/v<?>", "http://h/v/"));
        assert!(m("http://h/<?>", "http://h/é"));
    }

    #[test]
    fn refuses_unsupported_and_broken_patterns() {
        assert_eq!(
            UrlPattern::parse("http://h/<.*>"),
            Err(GlobError::Unsupported(".*".into()))
        );
        assert_eq!(UrlPattern::parse("http://h/<*"), Err(GlobError::Unclosed));
        assert_eq!(UrlPattern::parse(""), Err(GlobError::Empty));
    }

    #[test]
    fn many_stars_stay_linear() {
        let pattern = "<*>".repeat(40) + "x";
        let input = "a".repeat(5000);
        assert!(!m(&pattern, &input));
    }
}

//! Duration strings as Hydra writes them (`"30s"`, `"1h30m"`, `"720h"`), used for lifetimes.

use time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a duration such as \"30s\", \"15m\" or \"1h30m\"")]
pub struct DurationError(pub String);

/// Parses a sequence of `<integer><unit>` with units `ms`, `s`, `m`, `h`, `d`.
pub fn parse_duration(value: &str) -> Result<Duration, DurationError> {
    let err = || DurationError(value.to_owned());
    let mut total = Duration::ZERO;
    let mut rest = value.trim();
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 12 {
            return Err(err());
        }
        let number: i64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let part = match &rest[..unit_len] {
            "ms" => Duration::milliseconds(number),
            "s" => Duration::seconds(number),
            "m" => Duration::minutes(number),
            "h" => Duration::hours(number),
            "d" => Duration::days(number),
            _ => return Err(err()),
        };
        rest = &rest[unit_len..];
        total = total.checked_add(part).ok_or_else(err)?;
    }
    Ok(total)
}

/// Formats a duration the way [`parse_duration`] reads it.
pub fn format_duration(d: Duration) -> String {
    let secs = d.whole_seconds();
    if secs == 0 {
        return format!("{}ms", d.whole_milliseconds());
    }
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if s > 0 || out.is_empty() {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hydra_style_durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::seconds(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::minutes(90)));
        assert_eq!(parse_duration("720h"), Ok(Duration::days(30)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::milliseconds(500)));
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "10", "s", "1x", "-5s", "1.5h", "99999999999999s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_round_trip() {
        for d in [
            Duration::seconds(30),
            Duration::minutes(90),
            Duration::hours(720),
        ] {
            assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }
    }
}

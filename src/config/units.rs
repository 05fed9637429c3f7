//! Values with units: durations (`500ms`, `5s`, `10m`, `1h`, `1m30s`) and byte sizes (`50MiB`,
//! `10MB`, `1024`).

use std::time::Duration;

/// Parses a duration: one or more `<integer><unit>` parts, units `ms`, `s`, `m`, `h`, `d`,
/// optionally separated by spaces (`1m30s`, `1h 30m`). A bare number is rejected: the unit
/// would be a guess.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    const EXPECTED: &str = "expected a duration such as `500ms`, `5s`, `10m` or `1h`";
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty value; {EXPECTED}"));
    }
    if text.starts_with('-') {
        return Err(format!(
            "invalid duration `{text}`: a duration cannot be negative; {EXPECTED}"
        ));
    }
    let mut rest = text;
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let digits_end = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits_end == 0 {
            return Err(format!("invalid duration `{text}`; {EXPECTED}"));
        }
        let number: u64 = rest[..digits_end]
            .parse()
            .map_err(|_| format!("duration `{text}` is too large"))?;
        rest = &rest[digits_end..];
        let unit_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        if unit.is_empty() && unit_end < rest.len() {
            // `1.5s`, `5 s`: something other than a unit follows the number.
            let why = if rest.starts_with(['.', ',']) {
                ": a duration is a whole number of a unit (`1500ms`, not `1.5s`)"
            } else if rest.starts_with(char::is_whitespace) {
                ": the unit follows the number without a space (`5m`, not `5 m` or `5 minutes`)"
            } else {
                ""
            };
            return Err(format!("invalid duration `{text}`{why}; {EXPECTED}"));
        }
        rest = rest[unit_end..].trim_start();
        let part = match unit {
            "ms" => Some(Duration::from_millis(number)),
            "s" => Some(Duration::from_secs(number)),
            "m" => number.checked_mul(60).map(Duration::from_secs),
            "h" => number.checked_mul(3600).map(Duration::from_secs),
            "d" => number.checked_mul(86_400).map(Duration::from_secs),
            "" => {
                return Err(format!(
                    "duration `{text}` has no unit; {EXPECTED} (units: ms, s, m, h, d)"
                ))
            }
            other => {
                return Err(format!(
                "unknown duration unit `{other}` in `{text}`; {EXPECTED} (units: ms, s, m, h, d)"
            ))
            }
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or_else(|| format!("duration `{text}` is too large"))?;
    }
    Ok(total)
}

/// Parses a byte size: an integer with an optional unit, decimal (`B`, `KB`, `MB`, `GB`, `TB`:
/// powers of 1000) or binary (`KiB`, `MiB`, `GiB`, `TiB`: powers of 1024). Units are matched
/// case-insensitively and may follow a space. A bare integer is bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    const EXPECTED: &str = "expected a size such as `50MiB`, `10MB` or `1048576` (bytes)";
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!(
            "invalid size `{text}`: a size cannot be negative; {EXPECTED}"
        ));
    }
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    if digits_end == 0 {
        return Err(format!("invalid size `{text}`; {EXPECTED}"));
    }
    let number: u64 = text[..digits_end]
        .parse()
        .map_err(|_| format!("size `{text}` is too large"))?;
    let unit = text[digits_end..].trim_start();
    let multiplier: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "mb" => 1000_u64.pow(2),
        "gb" => 1000_u64.pow(3),
        "tb" => 1000_u64.pow(4),
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit `{unit}` in `{text}`; {EXPECTED} (units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)"
            ))
        }
    };
    number
        .checked_mul(multiplier)
        .ok_or_else(|| format!("size `{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok: &[(&str, Duration)] = &[
            ("500ms", Duration::from_millis(500)),
            ("5s", Duration::from_secs(5)),
            ("10m", Duration::from_secs(600)),
            ("1h", Duration::from_secs(3600)),
            ("2d", Duration::from_secs(172_800)),
            ("0s", Duration::ZERO),
            ("1m30s", Duration::from_secs(90)),
            ("1h 30m", Duration::from_secs(5400)),
            (" 5s ", Duration::from_secs(5)),
            ("1s500ms", Duration::from_millis(1500)),
        ];
        for (text, want) in ok {
            assert_eq!(parse_duration(text).as_ref(), Ok(want), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("", "empty value"),
            ("10", "has no unit"),
            ("5 s", "invalid duration `5 s`"),
            ("1.5s", "invalid duration `1.5s`"),
            ("5sec", "unknown duration unit `sec`"),
            ("5S", "unknown duration unit `S`"),
            ("s", "invalid duration `s`"),
            ("-5s", "invalid duration `-5s`"),
            ("99999999999999999999s", "too large"),
            ("999999999999999999d", "too large"),
        ];
        for (text, want) in bad {
            let err = parse_duration(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }

    #[test]
    fn sizes() {
        let ok: &[(&str, u64)] = &[
            ("0", 0),
            ("1024", 1024),
            ("10B", 10),
            ("1KiB", 1024),
            ("1kb", 1000),
            ("50MiB", 50 * 1024 * 1024),
            ("10MB", 10_000_000),
            ("2 GiB", 2 << 30),
            ("1TB", 1_000_000_000_000),
            ("1TiB", 1 << 40),
        ];
        for (text, want) in ok {
            assert_eq!(parse_size(text), Ok(*want), "{text}");
        }
        let bad: &[(&str, &str)] = &[
            ("", "invalid size ``"),
            ("MiB", "invalid size `MiB`"),
            ("1.5MiB", "unknown size unit `.5MiB`"),
            ("10 parsecs", "unknown size unit `parsecs`"),
            ("99999999999TiB", "too large"),
            ("-1", "invalid size"),
        ];
        for (text, want) in bad {
            let err = parse_size(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}

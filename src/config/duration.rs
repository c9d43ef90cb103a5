//! Durations as users write them, on the command line and in target files: `90s`, `5m`, `2h`, `1d`
//! or plain seconds, and below a second `500ms` or `0.5s` (a resolution may be finer than a
//! second; `timeout --resolution 500ms`). One parser for both, so a value means the same wherever
//! it is written.

use std::time::Duration;

/// Parses `90s`, `5m`, `2h`, `1d`, `500ms`, `0.5s`, `1.5h` or plain seconds. A value too large
/// for a duration is refused, never wrapped into a small one, and so is one finer than a
/// nanosecond (it would be rounded to something else than was written).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let not_a_duration = || format!("`{s}` is not a duration; write e.g. 30s, 5m, 2h, 500ms");
    let (number, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) if !f.is_empty() && !f.contains('.') => (w, f),
        Some(_) => return Err(not_a_duration()),
        None => (number, ""),
    };
    if whole.is_empty() {
        return Err(not_a_duration());
    }
    let nanos_per_unit: u128 = match unit {
        "ms" => 1_000_000,
        "" | "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => {
            return Err(format!(
                "`{s}`: unit `{unit}` is not one of s, m, h, d (or ms)"
            ));
        }
    };
    let too_long = || format!("`{s}` is too long a duration");
    // Exact decimal arithmetic: `0.1s` is 100 ms, not the nearest binary fraction of it.
    let scale = 10u128
        .checked_pow(fraction.len() as u32)
        .ok_or_else(not_a_duration)?;
    let digits: u128 = format!("{whole}{fraction}")
        .parse()
        .map_err(|_| too_long())?;
    let scaled = digits.checked_mul(nanos_per_unit).ok_or_else(too_long)?;
    if scaled % scale != 0 {
        return Err(format!(
            "`{s}` is finer than a nanosecond; write at most nanoseconds"
        ));
    }
    let nanos = scaled / scale;
    let secs = u64::try_from(nanos / 1_000_000_000).map_err(|_| too_long())?;
    Ok(Duration::new(secs, (nanos % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("5124095576030432h").is_err());
    }

    /// Issue 28: a resolution or a test server's timeout below a second is written as users
    /// write it, and means exactly that.
    #[test]
    fn durations_below_a_second() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2.25m"), Ok(Duration::from_secs(135)));
        // `5m` stays five minutes, `5ms` five milliseconds.
        assert_eq!(parse_duration("5ms"), Ok(Duration::from_millis(5)));
        for bad in [".5s", "0.s", "1.2.3s", "0.5 s", "5.ms5", ""] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert!(
            parse_duration("0.0000000001s")
                .unwrap_err()
                .contains("finer than a nanosecond")
        );
        assert!(
            parse_duration("5124095576030432.5h")
                .unwrap_err()
                .contains("too long")
        );
        assert!(
            parse_duration("5 parsecs")
                .unwrap_err()
                .contains("not one of s, m, h, d (or ms)")
        );
    }
}

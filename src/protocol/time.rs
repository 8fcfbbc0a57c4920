//! Instants on the wire, and seconds from configuration or a message turned
//! into `Duration`s that cannot panic.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::{Duration, SystemTime};

/// The longest span any duration or instant can mean (about 3,000 years): far
/// beyond every validated limit and every date, yet `Instant + d` and
/// `UNIX_EPOCH + d` cannot overflow.
const MAX_SECONDS: f64 = 1e11;

/// `secs` as a `Duration`, for numbers that came from a file or a message:
/// NaN and negatives are zero, huge values are capped, nothing panics (unlike
/// `Duration::from_secs_f64`).
pub fn seconds(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(secs.min(MAX_SECONDS))
    }
}

/// A wall-clock instant, written as RFC 3339 UTC to the microsecond
/// (`2026-11-25T13:45:00.125250Z`; `.125Z` for a whole millisecond).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub SystemTime);

impl Timestamp {
    pub fn now() -> Self {
        Timestamp(SystemTime::now())
    }

    /// Seconds since the Unix epoch (negative before it).
    pub fn unix_seconds(self) -> f64 {
        match self.0.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        }
    }

    /// The instant `secs` after the epoch; out-of-range or NaN values are
    /// capped (see [`seconds`]) rather than panicking.
    pub fn from_unix_seconds(secs: f64) -> Self {
        let d = seconds(secs.abs());
        Timestamp(if secs >= 0.0 {
            SystemTime::UNIX_EPOCH + d
        } else {
            SystemTime::UNIX_EPOCH - d
        })
    }
}

impl fmt::Display for Timestamp {
    /// Microseconds, so that start instants and clock readings can line several
    /// recorders up to well within a millisecond; a whole millisecond keeps the
    /// short form (`.125Z`, not `.125000Z`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = humantime::format_rfc3339_micros(self.0).to_string();
        match text.strip_suffix("000Z") {
            Some(ms) => write!(f, "{ms}Z"),
            None => f.write_str(&text),
        }
    }
}

/// Why a text is not an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError(&'static str);

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for TimeError {}

impl std::str::FromStr for Timestamp {
    type Err = TimeError;

    /// Exactly RFC 3339's `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac]` and then
    /// `Z` or an offset `+HH:MM`/`-HH:MM`. A time without a zone, a space for
    /// the `T` or anything after the zone is refused: guessing UTC would move
    /// a take by hours without anyone noticing.
    fn from_str(s: &str) -> Result<Self, TimeError> {
        parse_rfc3339(s.as_bytes()).map(Timestamp)
    }
}

fn digits(b: &[u8], at: usize, n: usize) -> Result<u32, TimeError> {
    let part = b.get(at..at + n).ok_or(TimeError("too short"))?;
    part.iter().try_fold(0u32, |acc, &c| {
        if c.is_ascii_digit() {
            Ok(acc * 10 + u32::from(c - b'0'))
        } else {
            Err(TimeError("expected a digit"))
        }
    })
}

fn expect(b: &[u8], at: usize, what: &[u8], msg: &'static str) -> Result<(), TimeError> {
    match b.get(at) {
        Some(c) if what.contains(c) => Ok(()),
        _ => Err(TimeError(msg)),
    }
}

fn parse_rfc3339(b: &[u8]) -> Result<SystemTime, TimeError> {
    let year = digits(b, 0, 4)?;
    expect(b, 4, b"-", "expected YYYY-MM-DD")?;
    let month = digits(b, 5, 2)?;
    expect(b, 7, b"-", "expected YYYY-MM-DD")?;
    let day = digits(b, 8, 2)?;
    expect(b, 10, b"Tt", "expected a T between date and time")?;
    let hour = digits(b, 11, 2)?;
    expect(b, 13, b":", "expected HH:MM:SS")?;
    let minute = digits(b, 14, 2)?;
    expect(b, 16, b":", "expected HH:MM:SS")?;
    let second = digits(b, 17, 2)?;
    let mut at = 19;
    let mut nanos = 0u32;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 9 {
                nanos = nanos * 10 + u32::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return Err(TimeError("expected digits after the decimal point"));
        }
        for _ in (at - start)..9 {
            nanos *= 10;
        }
    }
    let offset_seconds: i64 = match b.get(at) {
        Some(b'Z' | b'z') => {
            at += 1;
            0
        }
        Some(&sign @ (b'+' | b'-')) => {
            let oh = digits(b, at + 1, 2)?;
            expect(b, at + 3, b":", "expected an offset +HH:MM")?;
            let om = digits(b, at + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err(TimeError("offset out of range"));
            }
            at += 6;
            let s = i64::from(oh * 3600 + om * 60);
            if sign == b'+' { s } else { -s }
        }
        _ => return Err(TimeError("expected a time zone: Z or +HH:MM")),
    };
    if at != b.len() {
        return Err(TimeError("unexpected text after the time zone"));
    }
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(TimeError("no such date"));
    }
    // 60 is a leap second; the instant is the same as the next second's.
    if hour > 23 || minute > 59 || second > 60 {
        return Err(TimeError("time out of range"));
    }
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_seconds;
    let whole = Duration::from_secs(secs.unsigned_abs());
    let at = if secs >= 0 {
        SystemTime::UNIX_EPOCH + whole
    } else {
        SystemTime::UNIX_EPOCH - whole
    };
    Ok(at + Duration::from_nanos(u64::from(nanos)))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(|e| {
            serde::de::Error::custom(format!(
                "expected an RFC 3339 time with its zone, such as 2026-11-25T13:45:00.125Z, got {text:?} ({e})"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Timestamp, TimeError> {
        s.parse()
    }

    #[test]
    fn zones_and_fractions_are_read_exactly() {
        let z = parse("2026-11-25T13:45:00.125Z").unwrap();
        assert_eq!(z.to_string(), "2026-11-25T13:45:00.125Z");
        assert_eq!(parse("2026-11-25T14:45:00.125+01:00").unwrap(), z);
        assert_eq!(parse("2026-11-25T08:15:00.125-05:30").unwrap(), z);
        assert_eq!(parse("2026-11-25t13:45:00.125z").unwrap(), z);
        let fine = parse("2026-11-25T13:45:00.125250999Z").unwrap();
        assert_eq!(fine.to_string(), "2026-11-25T13:45:00.125250Z");
        assert_eq!(
            parse("1970-01-01T00:00:00Z").unwrap().0,
            SystemTime::UNIX_EPOCH
        );
        assert_eq!(parse("1969-12-31T23:59:59Z").unwrap().unix_seconds(), -1.0);
        assert_eq!(
            parse("2024-02-29T00:00:00Z").unwrap().unix_seconds(),
            1_709_164_800.0
        );
    }

    #[test]
    fn anything_but_rfc3339_is_refused() {
        for bad in [
            "2026-11-25T13:45:00",       // no zone
            "2026-11-25T13:45:00.125",   // no zone
            "2026-11-25 13:45:00Z",      // space for T
            "2026-11-25T13:45:00Zjunk",  // trailing text
            "2026-11-25T13:45:00Z ",     // trailing space
            "2026-11-25T13:45:00+0100",  // offset without colon
            "2026-11-25T13:45:00.Z",     // empty fraction
            "2026-02-30T13:45:00Z",      // no such day
            "2025-02-29T00:00:00Z",      // not a leap year
            "2026-11-25T24:00:00Z",      // hour
            "2026-13-01T00:00:00Z",      // month
            "2026-11-25T13:45Z",         // no seconds
            "26-11-25T13:45:00Z",        // two-digit year
            "2026-11-25T13:45:00+24:00", // offset
            "yesterday",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn seconds_never_panic() {
        assert_eq!(seconds(f64::NAN), Duration::ZERO);
        assert_eq!(seconds(-3.0), Duration::ZERO);
        assert_eq!(seconds(1.5), Duration::from_millis(1500));
        assert_eq!(seconds(1e20), Duration::from_secs(100_000_000_000));
        assert_eq!(seconds(f64::INFINITY), Duration::from_secs(100_000_000_000));
        let _ = std::time::Instant::now() + seconds(1e300);
        let _ = Timestamp::from_unix_seconds(f64::NAN);
        let _ = Timestamp::from_unix_seconds(-1e300);
    }
}

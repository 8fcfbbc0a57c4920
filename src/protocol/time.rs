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
    /// short form (`.125Z`, not `.125000Z`). Any instant prints, before 1970
    /// too (a parsed or received time may lie there); years outside 0000-9999
    /// print with their sign and digits, which RFC 3339 cannot hold.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, nanos) = match self.0.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(d) => (
                i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                d.subsec_nanos(),
            ),
            Err(e) => {
                let d = e.duration();
                let secs = -i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                match d.subsec_nanos() {
                    0 => (secs, 0),
                    n => (secs - 1, 1_000_000_000 - n),
                }
            }
        };
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let s = secs.rem_euclid(86_400);
        let (hh, mm, ss) = (s / 3600, s / 60 % 60, s % 60);
        write!(f, "{year:04}-{month:02}-{day:02}T{hh:02}:{mm:02}:{ss:02}")?;
        match nanos / 1000 {
            us if us % 1000 == 0 => write!(f, ".{:03}Z", us / 1000),
            us => write!(f, ".{us:06}Z"),
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
    // An offset can move the instant out of the years RFC 3339 writes (and
    // that this type prints back as it reads them).
    if !(days_from_civil(0, 1, 1) * 86_400..days_from_civil(10_000, 1, 1) * 86_400).contains(&secs)
    {
        return Err(TimeError("outside the years 0000 to 9999 in UTC"));
    }
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

/// The proleptic Gregorian date of a day count from 1970-01-01 (the inverse
/// of [`days_from_civil`], also Howard Hinnant's).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
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
    fn every_instant_prints_and_reads_back() {
        // Before 1970 (humantime's formatter panicked there) and at the ends.
        for text in [
            "1969-12-31T23:59:59Z",
            "1969-12-31T23:59:59.999999Z",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "1900-02-28T12:00:00.5Z",
        ] {
            let t = parse(text).unwrap();
            assert_eq!(parse(&t.to_string()).unwrap(), t, "{text}");
        }
        assert_eq!(
            parse("1969-12-31T23:59:59.5Z").unwrap().to_string(),
            "1969-12-31T23:59:59.500Z"
        );
        // Offsets that leave the years RFC 3339 writes are refused.
        assert!(parse("9999-12-31T23:59:59-23:59").is_err());
        assert!(parse("0000-01-01T00:00:00+00:01").is_err());
        let far = Timestamp(SystemTime::UNIX_EPOCH - Duration::from_secs(1 << 40));
        assert!(far.to_string().starts_with('-'));
        let _ = Timestamp(SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 40)).to_string();
        // The same text as humantime gave, where it gave one.
        let mut v = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            v ^= v << 13;
            v ^= v >> 7;
            v ^= v << 17;
            let t = SystemTime::UNIX_EPOCH
                + Duration::new(v % 253_402_300_800, (v >> 7) as u32 % 1_000_000_000);
            let old = humantime::format_rfc3339_micros(t).to_string();
            let old = match old.strip_suffix("000Z") {
                Some(ms) => format!("{ms}Z"),
                None => old,
            };
            assert_eq!(Timestamp(t).to_string(), old);
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

//! Instants as users write them: unix seconds (`1547874178`) or RFC 3339
//! (`2019-01-19T05:02:58Z`, `2019-01-19T06:02:58.5+01:00`). Pure; no clock is read here.

use std::fmt;
use std::str::FromStr;

use crate::timeline::{Day, DAY_SECS};

/// A point in time, in whole unix seconds (UTC). Parses from unix seconds or RFC 3339
/// (fractions of a second are dropped: `12:00:00.7` is `12:00:00`), displays as RFC 3339
/// (`YYYY-MM-DDTHH:MM:SSZ`) and serializes as unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Time(pub i64);

/// The earliest accepted instant: 1970-01-01T00:00:00Z.
const MIN_SECS: i64 = 0;
/// The latest accepted instant: 9999-12-31T23:59:59Z.
const MAX_SECS: i64 = 253_402_300_799;

/// An instant that is neither unix seconds nor RFC 3339 within 1970..9999.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time {0:?}: expected unix seconds (e.g. 1547874178) or RFC 3339 \
     (e.g. 2019-01-19T05:02:58Z), between 1970 and 9999"
)]
pub struct TimeParseError(/** The text given. */ pub String);

impl Time {
    /// The UTC day this instant falls on.
    pub fn day(self) -> Day {
        Day::from_unix(self.0)
    }
}

impl FromStr for Time {
    type Err = TimeParseError;
    fn from_str(s: &str) -> Result<Time, TimeParseError> {
        let err = || TimeParseError(s.to_owned());
        let secs = if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse::<i64>().map_err(|_| err())?
        } else {
            parse_rfc3339(s).ok_or_else(err)?
        };
        if !(MIN_SECS..=MAX_SECS).contains(&secs) {
            return Err(err());
        }
        Ok(Time(secs))
    }
}

/// `YYYY-MM-DD('T'|'t'|' ')HH:MM:SS(.fraction)?('Z'|'z'|±HH:MM)`.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let day: Day = s.get(..10)?.parse().ok()?;
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // 60 is a leap second: it counts as the next second's start, as unix time does.
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest.as_bytes() {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |a: u8, b: u8| -> Option<i64> {
                (a.is_ascii_digit() && b.is_ascii_digit())
                    .then(|| i64::from(a - b'0') * 10 + i64::from(b - b'0'))
            };
            let (oh, om) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    Some(day.start() + h * 3600 + m * 60 + sec - offset)
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.rem_euclid(DAY_SECS);
        write!(
            f,
            "{}T{:02}:{:02}:{:02}Z",
            self.day(),
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl serde::Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<i64, TimeParseError> {
        s.parse::<Time>().map(|t| t.0)
    }

    #[test]
    fn unix_seconds_and_rfc3339_agree() {
        assert_eq!(t("1547874178"), Ok(1_547_874_178));
        assert_eq!(t("2019-01-19T05:02:58Z"), Ok(1_547_874_178));
        assert_eq!(t("2019-01-19t05:02:58z"), Ok(1_547_874_178));
        assert_eq!(t("2019-01-19 05:02:58Z"), Ok(1_547_874_178));
        assert_eq!(t("2019-01-19T06:02:58+01:00"), Ok(1_547_874_178));
        assert_eq!(t("2019-01-18T23:32:58-05:30"), Ok(1_547_874_178));
        assert_eq!(t("2019-01-19T05:02:58.999999Z"), Ok(1_547_874_178));
        assert_eq!(t("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(t("0"), Ok(0));
        assert_eq!(t("9999-12-31T23:59:59Z"), Ok(MAX_SECS));
        assert_eq!(Time(1_547_874_178).to_string(), "2019-01-19T05:02:58Z");
        assert_eq!(Time(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(Time(MAX_SECS).to_string(), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn malformed_times_are_refused() {
        for bad in [
            "",
            "-1",
            "+5",
            "1.5",
            "2019-01-19",
            "2019-01-19T05:02:58",
            "2019-01-19T05:02Z",
            "2019-01-19T24:00:00Z",
            "2019-01-19T05:60:00Z",
            "2019-02-30T05:02:58Z",
            "2019-01-19T05:02:58.Z",
            "2019-01-19T05:02:58+0100",
            "2019-01-19T05:02:58+24:00",
            "2019-01-19T05:02:58Zjunk",
            "１２",
            "99999999999999999999999",
            "253402300800",
            "1969-12-31T23:59:59Z",
        ] {
            assert!(t(bad).is_err(), "{bad:?} must be refused");
        }
        let e = t("yesterday").unwrap_err();
        assert!(e.to_string().contains("RFC 3339"), "{e}");
    }

    #[test]
    fn display_parses_back() {
        for secs in [0, 59, 86_399, 86_400, 1_557_869_944, MAX_SECS] {
            let shown = Time(secs).to_string();
            assert_eq!(t(&shown), Ok(secs), "{shown}");
        }
    }
}

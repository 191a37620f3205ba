//! Times: keystone's ISO 8601 timestamps, and the range of clock readings kstoken accepts
//! (`docs/reference-behaviour.md#clock`).
//!
//! Every entry point that takes a clock (`verify_at`, revocation lists, the validation pipeline)
//! checks it with [`unix_time`] first, so an impossible clock is the same
//! [`Error::InvalidArgument`] everywhere instead of whatever the first consumer makes of it.

use std::time::{SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::error::{Error, Result};

/// The earliest accepted clock reading: 0001-01-01T00:00:00Z (Python's `datetime.min`).
pub const MIN_UNIX_TIME: i64 = -62_135_596_800;
/// The latest accepted clock reading: 9999-12-31T23:59:59Z (the last X.509 and `datetime` year).
pub const MAX_UNIX_TIME: i64 = 253_402_300_799;

/// Seconds since the Unix epoch now (negative before 1970), the clock `verify` uses.
pub fn unix_now() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The instant of a clock reading in Unix microseconds (the middleware's clock), clamped to the
/// years `time` holds: a reading past them compares as later than every expiry, one before them
/// as earlier.
pub fn instant_us(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000).unwrap_or_else(|_| {
        if us > 0 {
            PrimitiveDateTime::MAX.assume_utc()
        } else {
            PrimitiveDateTime::MIN.assume_utc()
        }
    })
}

/// The instant of a clock reading in Unix seconds, if it lies in the years 1 to 9999.
///
/// Those are the years a certificate's validity and a token's expiry can name; anything outside
/// (`i64::MIN`, year 10000, `i64::MAX`) is a caller error, [`Error::InvalidArgument`].
pub fn unix_time(at: i64) -> Result<OffsetDateTime> {
    if !(MIN_UNIX_TIME..=MAX_UNIX_TIME).contains(&at) {
        return Err(out_of_range(at));
    }
    OffsetDateTime::from_unix_timestamp(at).map_err(|_| out_of_range(at))
}

fn out_of_range(at: i64) -> Error {
    Error::InvalidArgument(format!(
        "time {at} is out of range (Unix seconds for the years 1 to 9999: {MIN_UNIX_TIME} to {MAX_UNIX_TIME})"
    ))
}

/// Parses a keystone ISO 8601 timestamp into UTC, as oslo's `parse_isotime` + `normalize_time` do.
///
/// Accepted: `YYYY-MM-DD`, `T`/`t`/space, `HH:MM:SS`, optional `.`/`,` fraction of any length,
/// then `Z`/`z`, `±HH:MM`, `±HHMM`, `±HH` or nothing (naive, read as UTC as keystone does).
/// The fraction is truncated to microseconds, the resolution of Python's `datetime`, so boundary
/// comparisons agree with the reference.
pub fn parse_timestamp(s: &str) -> Result<OffsetDateTime> {
    parse_timestamp_inner(s.as_bytes())
        .ok_or_else(|| Error::malformed(format!("not an ISO 8601 timestamp: {s:?}")))
}

fn parse_timestamp_inner(s: &[u8]) -> Option<OffsetDateTime> {
    let mut c = Cursor(s);
    let year = c.digits(4)?;
    c.expect(b'-')?;
    let month = c.digits(2)?;
    c.expect(b'-')?;
    let day = c.digits(2)?;
    match c.next()? {
        b'T' | b't' | b' ' => {}
        _ => return None,
    }
    let hour = c.digits(2)?;
    c.expect(b':')?;
    let minute = c.digits(2)?;
    c.expect(b':')?;
    let second = c.digits(2)?;
    let mut micro = 0u32;
    if matches!(c.peek(), Some(b'.' | b',')) {
        c.next()?;
        let mut count = 0usize;
        while let Some(d) = c.peek().filter(u8::is_ascii_digit) {
            c.next()?;
            if count < 6 {
                micro = micro * 10 + u32::from(d - b'0');
            }
            count += 1;
        }
        if count == 0 {
            return None;
        }
        for _ in count..6 {
            micro *= 10;
        }
    }
    let offset = match c.next() {
        None => UtcOffset::UTC,
        Some(b'Z' | b'z') => UtcOffset::UTC,
        Some(sign @ (b'+' | b'-')) => {
            let oh = c.digits(2)?;
            let om = match c.peek() {
                None => 0,
                Some(b':') => {
                    c.next()?;
                    c.digits(2)?
                }
                Some(_) => c.digits(2)?,
            };
            // Python's timezone needs |offset| < 24h.
            if oh > 23 || om > 59 {
                return None;
            }
            let (oh, om) = (i8::try_from(oh).ok()?, i8::try_from(om).ok()?);
            if sign == b'-' {
                UtcOffset::from_hms(-oh, -om, 0).ok()?
            } else {
                UtcOffset::from_hms(oh, om, 0).ok()?
            }
        }
        Some(_) => return None,
    };
    if !c.is_empty() {
        return None;
    }
    // Python's datetime starts at year 1.
    if year == 0 {
        return None;
    }
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()?;
    let time = Time::from_hms_micro(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
        micro,
    )
    .ok()?;
    date.with_time(time)
        .assume_offset(offset)
        .checked_to_offset(UtcOffset::UTC)
}

/// A forward-only reader over timestamp bytes that never indexes out of bounds.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    fn next(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = self.next().filter(u8::is_ascii_digit)?;
            v = v * 10 + u32::from(d - b'0');
        }
        Some(v)
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests;

//! Tests of `timestamp`.

#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use super::*;
use time::macros::datetime;

#[test]
fn clock_range() {
    assert_eq!(unix_time(0).unwrap(), datetime!(1970-01-01 0:00 UTC));
    assert_eq!(
        unix_time(MIN_UNIX_TIME).unwrap(),
        datetime!(0001-01-01 0:00 UTC)
    );
    assert_eq!(
        unix_time(MAX_UNIX_TIME).unwrap(),
        datetime!(9999-12-31 23:59:59 UTC)
    );
    assert_eq!(unix_time(-1).unwrap(), datetime!(1969-12-31 23:59:59 UTC));
    for bad in [
        i64::MIN,
        MIN_UNIX_TIME - 1,
        MAX_UNIX_TIME + 1,
        253_402_300_800, // 10000-01-01T00:00:00Z
        i64::MAX,
    ] {
        assert!(
            matches!(unix_time(bad), Err(Error::InvalidArgument(_))),
            "{bad}"
        );
    }
}

#[test]
fn timestamp_forms() {
    let t = datetime!(2038-01-18 21:14:07 UTC);
    for s in [
        "2038-01-18T21:14:07Z",
        "2038-01-18T21:14:07z",
        "2038-01-18t21:14:07Z",
        "2038-01-18 21:14:07",
        "2038-01-18T21:14:07",
        "2038-01-18T21:14:07.000000Z",
        "2038-01-18T21:14:07.0",
        "2038-01-18T21:14:07+00:00",
        "2038-01-18T21:14:07-00:00",
        "2038-01-18T23:14:07+02:00",
        "2038-01-18T23:14:07+0200",
        "2038-01-18T23:14:07+02",
        "2038-01-18T16:44:07-04:30",
        "2038-01-18T16:44:07.000-0430",
    ] {
        assert_eq!(parse_timestamp(s).unwrap(), t, "{s}");
        assert_eq!(parse_timestamp(s).unwrap().offset(), UtcOffset::UTC, "{s}");
    }
    assert_eq!(
        parse_timestamp("2014-06-09T17:03:16.460453Z").unwrap(),
        datetime!(2014-06-09 17:03:16.460453 UTC)
    );
    assert_eq!(
        parse_timestamp("2014-06-09T17:03:16.5Z").unwrap(),
        datetime!(2014-06-09 17:03:16.5 UTC)
    );
    // Truncated, not rounded, to microseconds like Python.
    assert_eq!(
        parse_timestamp("2014-06-09T17:03:16.1234569Z").unwrap(),
        datetime!(2014-06-09 17:03:16.123456 UTC)
    );
    // Crossing midnight and the year through the offset.
    assert_eq!(
        parse_timestamp("2000-01-01T01:00:00+02:00").unwrap(),
        datetime!(1999-12-31 23:00 UTC)
    );
}

#[test]
fn bad_timestamps() {
    for s in [
        "",
        "2038",
        "2038-01-18",
        "2038-01-18T21:14",
        "2038-01-18T21:14:07.",
        "2038-01-18T21:14:07.Z",
        "2038-01-18T21:14:07ZZ",
        "2038-01-18T21:14:07 Z",
        "2038-01-18X21:14:07Z",
        "2038-1-18T21:14:07Z",
        "2038-02-30T21:14:07Z",
        "2038-00-10T21:14:07Z",
        "2038-01-18T24:00:00Z",
        "2038-01-18T21:60:00Z",
        "2038-01-18T21:14:60Z",
        "0000-01-01T00:00:00Z",
        "2038-01-18T21:14:07+24:00",
        "2038-01-18T21:14:07+01:60",
        "2038-01-18T21:14:07+1",
        "2038-01-18T21:14:07+01:",
        "2038-01-18T21:14:07+01:0",
        "2038-01-18T21:14:07+01:000",
        "+2038-01-18T21:14:07Z",
        "２０３８-01-18T21:14:07Z",
        "9999-12-31T23:00:00-05:00",
    ] {
        assert!(
            matches!(parse_timestamp(s), Err(Error::Malformed(_))),
            "{s:?}"
        );
    }
}

#[test]
fn truncated_timestamps_never_panic() {
    for s in ["2038-01-18T21:14:07Z", "2038-01-18T23:14:07.5+02:00"] {
        for cut in 0..s.len() {
            let _ = parse_timestamp(&s[..cut]);
        }
    }
}

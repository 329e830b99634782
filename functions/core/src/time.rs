//! RFC 3339 timestamps for JSON, from Unix milliseconds (UTC, millisecond
//! precision). Small enough that a date-time crate is not worth its weight.

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.sssZ`.
pub fn rfc3339_from_ms(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar.
/// Howard Hinnant's `civil_from_days`, restricted to dates on or after the epoch.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468; // shift the epoch to 0000-03-01
    let era = z / 146_097;
    let doe = z % 146_097; // day of era, [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(rfc3339_from_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_from_ms(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(
            rfc3339_from_ms(1_735_689_599_999),
            "2024-12-31T23:59:59.999Z"
        );
        assert_eq!(
            rfc3339_from_ms(1_735_689_600_000),
            "2025-01-01T00:00:00.000Z"
        );
        assert_eq!(
            rfc3339_from_ms(4_107_542_400_123),
            "2100-03-01T00:00:00.123Z"
        );
    }

    #[test]
    fn every_day_for_centuries_follows_the_previous_one() {
        // Walk day by day across leap years (incl. 2000 and 2100) and check
        // that the calendar only ever moves forward by exactly one day.
        let mut prev = civil_from_days(0);
        for d in 1..(200 * 366) {
            let cur = civil_from_days(d);
            let (y, m, day) = prev;
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let len = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ][(m - 1) as usize];
            let next = if day < len {
                (y, m, day + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
            assert_eq!(cur, next, "day {d}");
            prev = cur;
        }
    }
}

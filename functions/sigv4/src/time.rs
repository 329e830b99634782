//! UTC calendar arithmetic for the timestamps SigV4 and S3 put on the wire.
//!
//! Time enters as Unix seconds so callers decide where "now" comes from; no
//! clock is read here.

/// A UTC instant at one-second precision, split into calendar fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct UtcTime {
    /// Full year, 1970 or later.
    pub year: u32,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
    /// 0–23.
    pub hour: u32,
    /// 0–59.
    pub minute: u32,
    /// 0–59 (leap seconds are not represented, as in Unix time).
    pub second: u32,
}

const DAY: u64 = 86_400;

impl UtcTime {
    /// Splits Unix seconds into calendar fields.
    pub fn from_unix(secs: u64) -> Self {
        let (year, month, day) = civil_from_days(secs / DAY);
        let rem = secs % DAY;
        UtcTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// Unix seconds, or `None` when a field is out of range.
    pub fn to_unix(&self) -> Option<u64> {
        if self.year < 1970
            || !(1..=12).contains(&self.month)
            || self.day == 0
            || self.day > days_in_month(self.year, self.month)
            || self.hour > 23
            || self.minute > 59
            || self.second > 59
        {
            return None;
        }
        let days = days_from_civil(self.year, self.month, self.day);
        Some(
            days * DAY
                + u64::from(self.hour) * 3600
                + u64::from(self.minute) * 60
                + u64::from(self.second),
        )
    }

    /// `YYYYMMDDTHHMMSSZ`, the `x-amz-date` / `X-Amz-Date` form.
    pub fn amz_date(&self) -> String {
        format!(
            "{}T{:02}{:02}{:02}Z",
            self.date_stamp(),
            self.hour,
            self.minute,
            self.second
        )
    }

    /// `YYYYMMDD`, the date in a credential scope.
    pub fn date_stamp(&self) -> String {
        format!("{:04}{:02}{:02}", self.year, self.month, self.day)
    }

    /// Parses the `YYYYMMDDTHHMMSSZ` form, rejecting anything else.
    pub fn parse_amz_date(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        // ASCII first: the byte ranges below must not cut a character.
        if !s.is_ascii() || b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = &s[range];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        let t = UtcTime {
            year: num(0..4)?,
            month: num(4..6)?,
            day: num(6..8)?,
            hour: num(9..11)?,
            minute: num(11..13)?,
            second: num(13..15)?,
        };
        t.to_unix().map(|_| t)
    }

    /// ISO 8601 with milliseconds, as S3 writes `LastModified` and event times:
    /// `2013-05-24T00:00:00.000Z`.
    pub fn iso8601_millis(&self, millis: u32) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            millis.min(999)
        )
    }

    /// The HTTP date form (RFC 9110 IMF-fixdate): `Fri, 24 May 2013 00:00:00 GMT`.
    pub fn http_date(&self) -> String {
        const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let days = days_from_civil(self.year, self.month, self.day);
        // 1970-01-01 was a Thursday.
        let weekday = WEEKDAYS[((days + 4) % 7) as usize];
        format!(
            "{weekday}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            self.day,
            MONTHS[(self.month - 1) as usize],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }
}

fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 for a proleptic Gregorian date (year ≥ 1970).
/// Counts from a March-based year so February's length only affects the end.
fn days_from_civil(year: u32, month: u32, day: u32) -> u64 {
    let y = u64::from(if month <= 2 { year - 1 } else { year });
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = u64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + u64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(days: u64) -> (u32, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400) as u32 + u32::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_round_trip() {
        // 2013-05-24T00:00:00Z, the date of AWS's published examples.
        let t = UtcTime::from_unix(1_369_353_600);
        assert_eq!(t.amz_date(), "20130524T000000Z");
        assert_eq!(t.http_date(), "Fri, 24 May 2013 00:00:00 GMT");
        assert_eq!(t.iso8601_millis(7), "2013-05-24T00:00:00.007Z");
        assert_eq!(t.to_unix(), Some(1_369_353_600));
        assert_eq!(UtcTime::from_unix(0).amz_date(), "19700101T000000Z");
        // A leap day and the last second of a century leap year.
        assert_eq!(
            UtcTime::from_unix(951_782_400).amz_date(),
            "20000229T000000Z"
        );
        assert_eq!(
            UtcTime::from_unix(978_307_199).amz_date(),
            "20001231T235959Z"
        );
    }

    #[test]
    fn every_day_for_centuries_round_trips() {
        for day in (0..200 * 366).step_by(1) {
            let secs = day * DAY + 12_345;
            assert_eq!(UtcTime::from_unix(secs).to_unix(), Some(secs));
        }
    }

    #[test]
    fn parse_rejects_malformed_dates() {
        let t = UtcTime::parse_amz_date("20130524T000000Z").unwrap();
        assert_eq!(t.to_unix(), Some(1_369_353_600));
        for bad in [
            "",
            "20130524T000000",
            // Found by the sigv4_query fuzz target: a multi-byte character
            // across the year's end used to panic the slicing.
            "000\u{e9}000T000000Z",
            "20130524T000\u{e9}0Z",
            "2013-05-24T00:00:00Z",
            "20130230T000000Z",
            "20131324T000000Z",
            "20130524T240000Z",
            "2013052AT000000Z",
            "+0130524T000000Z",
        ] {
            assert_eq!(UtcTime::parse_amz_date(bad), None, "{bad}");
        }
    }
}

//! Birth dates and ages: sign-up refuses under-13s, and under-18s get
//! protective defaults. Ages are counted on the UTC calendar.

use crate::error::ApiError;
use crate::time::rfc3339_from_ms;

/// Youngest age that may sign up.
pub const MIN_SIGNUP_AGE: u32 = 13;
/// Age from which the under-18 protections end.
pub const ADULT_AGE: u32 = 18;

/// A calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub year: u32,
    /// 1–12.
    pub month: u32,
    /// 1–31.
    pub day: u32,
}

fn days_in_month(year: u32, month: u32) -> u32 {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// Parses `YYYY-MM-DD` (a real calendar day).
    pub fn parse(text: &str) -> Option<Date> {
        let b = text.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            let part = &text[r];
            part.bytes()
                .all(|c| c.is_ascii_digit())
                .then(|| part.parse().ok())?
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let ok = (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month);
        ok.then_some(Date { year, month, day })
    }

    /// The UTC date at Unix milliseconds `ms`.
    pub fn at_ms(ms: u64) -> Date {
        Date::parse(&rfc3339_from_ms(ms)[..10]).expect("RFC 3339 starts with a date")
    }

    /// `YYYY-MM-DD`.
    pub fn to_iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// Whole years from `self` (a birth date) to `today`; 0 for a future date.
    pub fn age_on(self, today: Date) -> u32 {
        if today < self {
            return 0;
        }
        let before_birthday = (today.month, today.day) < (self.month, self.day);
        today.year - self.year - u32::from(before_birthday)
    }
}

/// Reads a sign-up birth date: 400 `invalid_request` naming `birth_date`
/// when it is not `YYYY-MM-DD`, is in the future or before 1900.
pub fn birth_date(text: &str, now_ms: u64) -> Result<Date, ApiError> {
    let bad = || ApiError::invalid_request("birth_date must be a past date written YYYY-MM-DD");
    let date = Date::parse(text.trim()).ok_or_else(bad)?;
    if date.year < 1900 || date > Date::at_ms(now_ms) {
        return Err(bad());
    }
    Ok(date)
}

/// 422 `too_young`.
pub fn too_young() -> ApiError {
    ApiError::new(
        422,
        "too_young",
        format!("you must be at least {MIN_SIGNUP_AGE} to join"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_735_689_600_000; // 2025-01-01

    #[test]
    fn parses_only_real_days() {
        assert_eq!(
            Date::parse("2012-02-29"),
            Some(Date {
                year: 2012,
                month: 2,
                day: 29
            })
        );
        for bad in [
            "2011-02-29",
            "2012-13-01",
            "2012-00-10",
            "2012-1-01",
            "12-01-2012",
            "2012/01/01",
            "+012-01-01",
            "",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert_eq!(Date::at_ms(NOW).to_iso(), "2025-01-01");
    }

    #[test]
    fn age_turns_on_the_birthday() {
        let born = Date::parse("2012-01-01").unwrap();
        assert_eq!(born.age_on(Date::parse("2024-12-31").unwrap()), 12);
        assert_eq!(born.age_on(Date::parse("2025-01-01").unwrap()), 13);
        let leapling = Date::parse("2008-02-29").unwrap();
        assert_eq!(leapling.age_on(Date::parse("2026-02-28").unwrap()), 17);
        assert_eq!(leapling.age_on(Date::parse("2026-03-01").unwrap()), 18);
    }

    #[test]
    fn birth_dates_must_be_past_and_plausible() {
        assert!(birth_date("2000-05-05", NOW).is_ok());
        assert!(birth_date("2025-01-01", NOW).is_ok());
        for bad in ["2025-01-02", "1899-12-31", "yesterday"] {
            let e = birth_date(bad, NOW).unwrap_err();
            assert!(e.message.starts_with("birth_date"), "{bad}");
        }
    }
}

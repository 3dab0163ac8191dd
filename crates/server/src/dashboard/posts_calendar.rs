//! The month grid of the posts calendar: whole weeks, Monday first, in the time zone the person
//! reads the dashboard in, and the UTC range of instants it covers (to load its posts).

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    /// Year (2026).
    pub year: i32,
    /// Month, 1 to 12.
    pub month: u32,
}

impl Month {
    /// Reads `YYYY-MM`; `None` for anything else.
    pub fn parse(s: &str) -> Option<Month> {
        let (y, m) = s.trim().split_once('-')?;
        let (year, month) = (y.parse().ok()?, m.parse().ok()?);
        NaiveDate::from_ymd_opt(year, month, 1)?;
        Some(Month { year, month })
    }

    /// The month holding `date`.
    pub fn of(date: NaiveDate) -> Month {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    /// Its first day.
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid month")
    }

    /// The month before.
    pub fn prev(self) -> Month {
        Month::of(self.first_day() - Duration::days(1))
    }

    /// The month after.
    pub fn next(self) -> Month {
        Month::of(self.first_day() + Duration::days(31))
    }

    /// `YYYY-MM`, the query value of links.
    pub fn key(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// `November 2026`.
    pub fn label(self) -> String {
        self.first_day().format("%B %Y").to_string()
    }

    /// The days shown: whole weeks from the Monday on or before the 1st to the Sunday on or
    /// after the last day (4 to 6 weeks).
    pub fn weeks(self) -> Vec<[NaiveDate; 7]> {
        let first = self.first_day();
        let start = first - Duration::days(i64::from(first.weekday().num_days_from_monday()));
        let last = self.next().first_day() - Duration::days(1);
        let mut weeks = Vec::new();
        let mut monday = start;
        while monday <= last {
            weeks.push(std::array::from_fn(|i| monday + Duration::days(i as i64)));
            monday += Duration::days(7);
        }
        weeks
    }

    /// The instants the grid covers in `zone`: from the first shown day's start to the day after
    /// the last shown day's start.
    pub fn range(self, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        let weeks = self.weeks();
        let first = weeks.first().map_or(self.first_day(), |w| w[0]);
        let last = weeks.last().map_or(self.first_day(), |w| w[6]) + Duration::days(1);
        (day_start(first, zone), day_start(last, zone))
    }
}

/// The first instant of `date` in `zone` (a day starting in a daylight-saving gap starts at the
/// gap's end).
pub fn day_start(date: NaiveDate, zone: Tz) -> DateTime<Utc> {
    let midnight = date.and_hms_opt(0, 0, 0).expect("midnight");
    for minutes in (0..=180).step_by(15) {
        match zone.from_local_datetime(&(midnight + Duration::minutes(minutes))) {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => return t.with_timezone(&Utc),
            LocalResult::None => continue,
        }
    }
    Utc.from_utc_datetime(&midnight)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_and_cover_the_month() {
        let m = Month::parse("2026-11").unwrap();
        assert_eq!(m.label(), "November 2026");
        let weeks = m.weeks();
        // 1 November 2026 is a Sunday: the grid starts Monday 26 October.
        assert_eq!(weeks[0][0], NaiveDate::from_ymd_opt(2026, 10, 26).unwrap());
        assert_eq!(weeks[0][6], NaiveDate::from_ymd_opt(2026, 11, 1).unwrap());
        assert_eq!(weeks.len(), 6);
        assert_eq!(
            weeks.last().unwrap()[6],
            NaiveDate::from_ymd_opt(2026, 12, 6).unwrap()
        );
        assert_eq!(m.prev().key(), "2026-10");
        assert_eq!(m.next().key(), "2026-12");
        assert_eq!(Month::parse("2026-12").unwrap().next().key(), "2027-01");
        assert_eq!(Month::parse("2026-01").unwrap().prev().key(), "2025-12");
        assert!(Month::parse("2026-13").is_none());
        assert!(Month::parse("soon").is_none());
    }

    #[test]
    fn the_range_is_read_in_the_zone() {
        let m = Month::parse("2026-11").unwrap();
        let (from, to) = m.range(chrono_tz::Europe::Paris);
        // Midnight in Paris on 26 October (CET, UTC+1) is 23:00 UTC the day before.
        assert_eq!(from.to_rfc3339(), "2026-10-25T23:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-12-06T23:00:00+00:00");
        // A day that starts in a gap (Santiago skips midnight in September).
        let d = NaiveDate::from_ymd_opt(2026, 9, 6).unwrap();
        let t = day_start(d, chrono_tz::America::Santiago);
        assert!(t > Utc.with_ymd_and_hms(2026, 9, 6, 0, 0, 0).unwrap());
    }
}

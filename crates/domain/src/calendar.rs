//! A location's working calendar: the weekdays it never works and the dates it is closed
//! (public holidays, stocktakes, the days between Christmas and New Year). Ship-by dates
//! count only its working days and fall on its cut-offs; the workload forecast learns its
//! weekday pattern without the closed dates and carries what comes in on a closed day to the
//! next working day. A location without a calendar works every day.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::{Deserialize, Serialize};

use crate::field::{self, FieldError};

/// Closed dates a calendar may hold: a few years of holidays.
pub const MAX_CLOSED_DATES: usize = 1_000;

const WEEKDAYS: [(Weekday, &str); 7] = [
    (Weekday::Mon, "monday"),
    (Weekday::Tue, "tuesday"),
    (Weekday::Wed, "wednesday"),
    (Weekday::Thu, "thursday"),
    (Weekday::Fri, "friday"),
    (Weekday::Sat, "saturday"),
    (Weekday::Sun, "sunday"),
];

/// When a location works. Checked on the way in: at least one weekday open, dates sorted and
/// each once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Calendar {
    /// Weekdays the location never works, as lowercase English names (`saturday`, `sunday`).
    pub closed_weekdays: Vec<String>,
    /// Dates it is closed, earliest first.
    pub closed_dates: Vec<ClosedDate>,
}

/// A date a location is closed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClosedDate {
    pub date: NaiveDate,
    /// Such as `Christmas Day`.
    pub name: String,
}

/// A calendar as sent: weekday names in any case, dates as `YYYY-MM-DD`, names optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewCalendar {
    #[serde(default)]
    pub closed_weekdays: Vec<String>,
    #[serde(default)]
    pub closed_dates: Vec<NewClosedDate>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewClosedDate {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Defaults to `closed`.
    #[serde(default)]
    pub name: Option<String>,
}

impl NewCalendar {
    pub fn validate(self) -> Result<Calendar, FieldError> {
        let mut closed = [false; 7];
        for (i, name) in self.closed_weekdays.iter().enumerate() {
            let field = format!("closed_weekdays[{i}]");
            let day = WEEKDAYS
                .iter()
                .find(|(_, n)| n.eq_ignore_ascii_case(name.trim()))
                .ok_or_else(|| FieldError::new(&field, "must be a weekday such as saturday"))?;
            closed[day.0.num_days_from_monday() as usize] = true;
        }
        if closed.iter().all(|c| *c) {
            return Err(FieldError::new("closed_weekdays", "must leave at least one weekday open"));
        }
        if self.closed_dates.len() > MAX_CLOSED_DATES {
            return Err(FieldError::new("closed_dates", format!("must hold at most {MAX_CLOSED_DATES} dates")));
        }
        let mut dates: Vec<ClosedDate> = Vec::with_capacity(self.closed_dates.len());
        for (i, d) in self.closed_dates.into_iter().enumerate() {
            let date = NaiveDate::parse_from_str(d.date.trim(), "%Y-%m-%d")
                .map_err(|_| FieldError::new(format!("closed_dates[{i}].date"), "must be a date as YYYY-MM-DD"))?;
            let name = field::text(&format!("closed_dates[{i}].name"), d.name.as_deref().unwrap_or("closed"))?;
            dates.push(ClosedDate { date, name });
        }
        dates.sort_by_key(|d| d.date);
        if let Some(twice) = dates.windows(2).find(|w| w[0].date == w[1].date) {
            return Err(FieldError::new("closed_dates", format!("lists {} twice", twice[0].date)));
        }
        let closed_weekdays = WEEKDAYS.iter().filter(|(d, _)| closed[d.num_days_from_monday() as usize]).map(|(_, n)| (*n).to_owned()).collect();
        Ok(Calendar { closed_weekdays, closed_dates: dates })
    }
}

impl Calendar {
    /// Whether the location works on `day`.
    pub fn is_open(&self, day: NaiveDate) -> bool {
        !self.closes_weekday(day.weekday()) && !self.is_closed_date(day)
    }

    /// Whether `day` is one of the closed dates: a break in the weekly pattern, where a closed
    /// weekday is part of it.
    pub fn is_closed_date(&self, day: NaiveDate) -> bool {
        self.closed_dates.binary_search_by_key(&day, |d| d.date).is_ok()
    }

    /// Days enough to find a working day from any day (see [`Calendar::next_open`]).
    fn search_days(&self) -> usize {
        7 * (self.closed_dates.len() + 1)
    }

    fn closes_weekday(&self, weekday: Weekday) -> bool {
        let name = WEEKDAYS[weekday.num_days_from_monday() as usize].1;
        self.closed_weekdays.iter().any(|n| n == name)
    }

    /// The first day the location works on or after `day`. A checked calendar leaves a weekday
    /// open, and each closed date can close one of those, so one comes within a week per
    /// closed date and one more; an unchecked one that closes every day gives `day` back
    /// rather than loop.
    pub fn next_open(&self, day: NaiveDate) -> NaiveDate {
        let limit = self.search_days();
        (0..limit).filter_map(|n| day.checked_add_days(chrono::Days::new(n as u64))).find(|d| self.is_open(*d)).unwrap_or(day)
    }

    /// The last day the location works on or before `day` (`day` if none is found, as above).
    pub fn previous_open(&self, day: NaiveDate) -> NaiveDate {
        let limit = self.search_days();
        (0..limit).filter_map(|n| day.checked_sub_days(chrono::Days::new(n as u64))).find(|d| self.is_open(*d)).unwrap_or(day)
    }
}

/// When a location ships: its time zone, its daily carrier cut-off and its calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub zone: chrono_tz::Tz,
    pub cutoff: NaiveTime,
    pub calendar: Calendar,
}

impl Schedule {
    /// From a location's saved IANA time zone and `HH:MM` cut-off. Both are checked when it
    /// is saved and when it is read back; were one damaged all the same, UTC and midnight
    /// stand in.
    pub fn from_saved(time_zone: &str, cutoff_time: &str, calendar: Calendar) -> Schedule {
        let zone = time_zone.parse().unwrap_or(chrono_tz::UTC);
        let cutoff = NaiveTime::parse_from_str(cutoff_time, "%H:%M").unwrap_or(NaiveTime::MIN);
        Schedule { zone, cutoff, calendar }
    }

    /// When an order must leave: the last cut-off on a working day that still meets the
    /// channel's SLA, whose hours run only on working days, as marketplaces count handling time
    /// in business days (an order placed on Friday at 10:00 with 48 hours, at a location closed
    /// at weekends, has until Tuesday 10:00, so it is due at Monday's cut-off); never before the
    /// first working cut-off after the order came in (an SLA shorter than the wait for it cannot
    /// be met earlier).
    pub fn ship_by(&self, placed_at: DateTime<Utc>, sla_hours: i64) -> DateTime<Utc> {
        let deadline = self.deadline(placed_at, sla_hours);
        let mut day = self.calendar.previous_open(deadline.with_timezone(&self.zone).date_naive());
        let mut latest = self.at_cutoff(day, placed_at);
        if latest > deadline {
            day = self.calendar.previous_open(day - Duration::days(1));
            latest = self.at_cutoff(day, placed_at);
        }
        latest.max(self.next_cutoff(placed_at))
    }

    /// The first cut-off on a working day at or after `now`: what a wave released now works
    /// towards.
    pub fn next_cutoff(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let day = self.calendar.next_open(now.with_timezone(&self.zone).date_naive());
        let first = self.at_cutoff(day, now);
        if first >= now { first } else { self.at_cutoff(self.calendar.next_open(day + Duration::days(1)), now) }
    }

    /// `placed_at` plus `sla_hours` counted on working days only.
    fn deadline(&self, placed_at: DateTime<Utc>, sla_hours: i64) -> DateTime<Utc> {
        let mut left = Duration::hours(sla_hours.max(0));
        let mut at = placed_at;
        // One open weekday at least, so each day of the SLA takes a week at most, and so does
        // each closed date.
        let limit = (sla_hours.max(0) / 24 + 2 + self.calendar.closed_dates.len() as i64) * 7;
        for _ in 0..limit {
            let day = at.with_timezone(&self.zone).date_naive();
            let next = self.day_start(day + Duration::days(1));
            if self.calendar.is_open(day) {
                if left <= next - at {
                    return at + left;
                }
                left -= next - at;
            }
            at = next;
        }
        at + left
    }

    /// The cut-off on `day` in the location's time; in a daylight-saving gap the hour after.
    pub fn cutoff_on(&self, day: NaiveDate) -> Option<DateTime<Utc>> {
        self.local(day.and_time(self.cutoff))
    }

    fn at_cutoff(&self, day: NaiveDate, fallback: DateTime<Utc>) -> DateTime<Utc> {
        self.cutoff_on(day).unwrap_or(fallback)
    }

    /// When `day` begins in the location's time.
    pub fn day_start(&self, day: NaiveDate) -> DateTime<Utc> {
        let midnight = day.and_time(NaiveTime::MIN);
        self.local(midnight).unwrap_or_else(|| midnight.and_utc())
    }

    fn local(&self, at: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
        let resolved = self.zone.from_local_datetime(&at).earliest().or_else(|| self.zone.from_local_datetime(&(at + Duration::hours(1))).earliest());
        resolved.map(|t| t.with_timezone(&Utc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn weekends_and_christmas() -> Calendar {
        NewCalendar {
            closed_weekdays: vec!["Saturday".into(), " sunday".into()],
            closed_dates: vec![
                NewClosedDate { date: "2026-12-25".into(), name: Some("Christmas Day".into()) },
                NewClosedDate { date: "2026-12-24".into(), name: None },
            ],
        }
        .validate()
        .unwrap()
    }

    #[test]
    fn a_calendar_is_normalised_on_the_way_in() {
        let calendar = weekends_and_christmas();
        assert_eq!(calendar.closed_weekdays, ["saturday", "sunday"]);
        assert_eq!(calendar.closed_dates[0], ClosedDate { date: date("2026-12-24"), name: "closed".into() });
        assert_eq!(calendar.closed_dates[1].name, "Christmas Day");
    }

    #[test]
    fn wrong_calendars_are_refused_naming_the_field() {
        let refused = |weekdays: &[&str], dates: &[&str]| {
            NewCalendar {
                closed_weekdays: weekdays.iter().map(|s| (*s).to_owned()).collect(),
                closed_dates: dates.iter().map(|d| NewClosedDate { date: (*d).to_owned(), name: None }).collect(),
            }
            .validate()
            .unwrap_err()
            .field
        };
        assert_eq!(refused(&["sat"], &[]), "closed_weekdays[0]");
        let every = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];
        assert_eq!(refused(&every, &[]), "closed_weekdays");
        assert_eq!(refused(&[], &["2026-12-25", "25/12/2026"]), "closed_dates[1].date");
        assert_eq!(refused(&[], &["2026-12-25", "2026-12-25"]), "closed_dates");
        let name = NewClosedDate { date: "2026-12-25".into(), name: Some("  ".into()) };
        assert_eq!(NewCalendar { closed_weekdays: vec![], closed_dates: vec![name] }.validate().unwrap_err().field, "closed_dates[0].name");
    }

    #[test]
    fn open_days_skip_closed_weekdays_and_dates() {
        let calendar = weekends_and_christmas();
        assert!(calendar.is_open(date("2026-12-23")));
        assert!(!calendar.is_open(date("2026-12-24")));
        assert!(!calendar.is_open(date("2026-12-26")), "a Saturday");
        assert!(calendar.is_closed_date(date("2026-12-25")));
        assert!(!calendar.is_closed_date(date("2026-12-26")), "a closed weekday is no closed date");
        assert_eq!(calendar.next_open(date("2026-12-24")), date("2026-12-28"));
        assert_eq!(calendar.previous_open(date("2026-12-27")), date("2026-12-23"));
        assert_eq!(Calendar::default().next_open(date("2026-12-26")), date("2026-12-26"));
    }

    #[test]
    fn a_working_day_is_found_behind_many_closed_ones() {
        // Open on Sundays only, and closed on the next ten of them.
        let sundays = (0..10).map(|n| NewClosedDate { date: (date("2026-12-06") + Duration::weeks(n)).to_string(), name: None }).collect();
        let weekdays = WEEKDAYS[..6].iter().map(|(_, n)| (*n).to_owned()).collect();
        let calendar = NewCalendar { closed_weekdays: weekdays, closed_dates: sundays }.validate().unwrap();
        assert_eq!(calendar.next_open(date("2026-12-01")), date("2027-02-14"));
        assert_eq!(calendar.previous_open(date("2027-02-13")), date("2026-11-29"));
    }

    fn berlin(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Europe::Berlin.with_ymd_and_hms(y, m, d, h, min, 0).unwrap().with_timezone(&Utc)
    }

    fn every_day() -> Calendar {
        Calendar::default()
    }

    fn at_three(calendar: Calendar) -> Schedule {
        Schedule { zone: chrono_tz::Europe::Berlin, cutoff: NaiveTime::from_hms_opt(15, 0, 0).unwrap(), calendar }
    }

    #[test]
    fn the_last_cutoff_that_meets_the_sla_in_local_time() {
        let site = at_three(every_day());
        // Placed Monday 10:00 with 48 h: Wednesday 10:00 is the deadline, so Tuesday 15:00.
        assert_eq!(site.ship_by(berlin(2026, 11, 23, 10, 0), 48), berlin(2026, 11, 24, 15, 0));
        // Placed Monday 16:00 with 48 h: Wednesday 16:00 deadline, Wednesday 15:00 cut-off.
        assert_eq!(site.ship_by(berlin(2026, 11, 23, 16, 0), 48), berlin(2026, 11, 25, 15, 0));
        // A 2 h SLA after today's cut-off cannot beat tomorrow's cut-off.
        assert_eq!(site.ship_by(berlin(2026, 11, 23, 16, 0), 2), berlin(2026, 11, 24, 15, 0));
    }

    #[test]
    fn the_next_cutoff_is_today_before_it_and_tomorrow_after_it() {
        let site = at_three(every_day());
        assert_eq!(site.next_cutoff(berlin(2026, 11, 23, 9, 0)), berlin(2026, 11, 23, 15, 0));
        assert_eq!(site.next_cutoff(berlin(2026, 11, 23, 15, 1)), berlin(2026, 11, 24, 15, 0));
    }

    #[test]
    fn cutoffs_follow_daylight_saving_time() {
        let site = at_three(every_day());
        // Summer time ends on 25 October 2026: 15:00 local is 13:00 UTC before, 14:00 after.
        assert_eq!(site.ship_by(berlin(2026, 10, 24, 9, 0), 24).format("%H:%M").to_string(), "13:00");
        assert_eq!(site.ship_by(berlin(2026, 10, 26, 9, 0), 24).format("%H:%M").to_string(), "14:00");
    }

    #[test]
    fn the_sla_runs_on_working_days_and_ends_on_a_working_cutoff() {
        let site = at_three(weekends_and_christmas());
        // Friday 10:00 with 48 h: 14 h on Friday, 24 on Monday, 10 on Tuesday; so Monday 15:00.
        assert_eq!(site.ship_by(berlin(2026, 11, 27, 10, 0), 48), berlin(2026, 11, 30, 15, 0));
        // Saturday: the clock starts on Monday.
        assert_eq!(site.ship_by(berlin(2026, 11, 28, 10, 0), 24), berlin(2026, 11, 30, 15, 0));
        // Wednesday 23 December after the cut-off with 2 h: Christmas Eve and Day, then the
        // weekend: Monday 28th.
        assert_eq!(site.ship_by(berlin(2026, 12, 23, 16, 0), 2), berlin(2026, 12, 28, 15, 0));
        assert_eq!(site.next_cutoff(berlin(2026, 12, 23, 16, 0)), berlin(2026, 12, 28, 15, 0));
        // Without the calendar the same Friday order would be due on Saturday.
        assert_eq!(at_three(every_day()).ship_by(berlin(2026, 11, 27, 10, 0), 48), berlin(2026, 11, 28, 15, 0));
    }

    proptest::proptest! {
        /// Any body, however odd, is read or refused without a panic; what is accepted is a
        /// calendar that leaves a weekday open, with its dates in order and each once.
        #[test]
        fn no_calendar_body_makes_the_check_panic(
            json in "\\PC{0,160}",
            weekdays in proptest::collection::vec(proptest::prop_oneof![proptest::sample::select(WEEKDAYS.map(|(_, n)| n.to_uppercase()).to_vec()), "[a-zA-Z ]{0,12}"], 0..9),
            dates in proptest::collection::vec(proptest::prop_oneof!["20[0-9]{2}-[01][0-9]-[0-3][0-9]", "[0-9+-]{0,12}"], 0..30),
        ) {
            let bodies = [
                json,
                serde_json::json!({"closed_weekdays": weekdays, "closed_dates": dates.iter().map(|d| serde_json::json!({"date": d})).collect::<Vec<_>>()}).to_string(),
            ];
            for body in bodies {
                if let Ok(new) = serde_json::from_str::<NewCalendar>(&body)
                    && let Ok(calendar) = new.validate()
                {
                    proptest::prop_assert!(calendar.closed_weekdays.len() < 7);
                    proptest::prop_assert!(calendar.closed_dates.windows(2).all(|w| w[0].date < w[1].date));
                    let some_day = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
                    proptest::prop_assert!(calendar.is_open(calendar.next_open(some_day)));
                }
            }
        }

        /// Whatever the calendar, zone, cut-off, SLA and moment: an order is due at a cut-off
        /// on a working day, never before it came in, and after the SLA's working hours only
        /// when no working cut-off comes sooner.
        #[test]
        fn ship_by_falls_on_a_working_cutoff_that_meets_the_sla_when_one_can(
            placed_minutes in 0i64..(3 * 365 * 24 * 60),
            sla_hours in 0i64..400,
            closed_weekdays in proptest::collection::btree_set(0usize..7, 0..6),
            closed_offsets in proptest::collection::vec(0i64..1200, 0..40),
            zone in proptest::sample::select(vec![chrono_tz::UTC, chrono_tz::Europe::Berlin, chrono_tz::America::Sao_Paulo, chrono_tz::Asia::Kolkata, chrono_tz::Pacific::Apia]),
            cutoff_minutes in 0u32..(24 * 60),
        ) {
            let start = berlin(2026, 1, 1, 0, 0);
            let placed_at = start + Duration::minutes(placed_minutes);
            let calendar = NewCalendar {
                closed_weekdays: closed_weekdays.iter().map(|w| WEEKDAYS[*w].1.to_owned()).collect(),
                closed_dates: closed_offsets.iter().map(|d| NewClosedDate { date: (start.date_naive() + Duration::days(*d)).to_string(), name: None }).collect::<Vec<_>>(),
            };
            let mut calendar = calendar;
            calendar.closed_dates.sort_by(|a, b| a.date.cmp(&b.date));
            calendar.closed_dates.dedup_by(|a, b| a.date == b.date);
            let calendar = calendar.validate().unwrap();
            let cutoff = NaiveTime::from_hms_opt(cutoff_minutes / 60, cutoff_minutes % 60, 0).unwrap();
            let site = Schedule { zone, cutoff, calendar };
            let due = site.ship_by(placed_at, sla_hours);
            let local = due.with_timezone(&zone);
            proptest::prop_assert!(due >= placed_at);
            proptest::prop_assert!(site.calendar.is_open(local.date_naive()), "{local} is a closed day");
            // At the cut-off, or the hour after it where the clocks skipped it.
            let off = (local.time() - cutoff).num_minutes();
            proptest::prop_assert!(off == 0 || off == 60, "{local} is not at the {cutoff} cut-off");
            let deadline = site.deadline(placed_at, sla_hours);
            proptest::prop_assert!(due <= deadline || due == site.next_cutoff(placed_at), "{due} misses {deadline}");
            proptest::prop_assert!(site.next_cutoff(placed_at) >= placed_at);
        }
    }
}

//! Warehouse workload: the parcels, lines and units a location will have to pick, pack and
//! ship, day by day for the coming week and hour by hour for today and tomorrow, forecast
//! from its own order inflow; with the people that takes and a warning when the work due
//! before today's carrier cut-off is more than the people on shift can do. Pure: the caller
//! brings the inflow, the backlog, the promotions and the capacity.
//!
//! The method, written to be explained on the page that shows it:
//!
//! - **weekday and hour**: the location's inflow by local weekday and hour, averaged over
//!   the last [`PROFILE_WEEKS`] weeks, promoted days left out;
//! - **level**: the last 14 unpromoted days' inflow against what that profile says for them,
//!   so a season that is building up or tailing off moves the forecast (clamped to half and
//!   double);
//! - **promotions**: promoted days' inflow against the profile for them, applied to the
//!   promoted days ahead (1 without promoted days in the history);
//! - **backlog**: what is reserved and not shipped now is today's work on top.
//!
//! Its accuracy is back-tested on the last 14 days, each forecast from the days before it,
//! beside the plain rule "the same weekday last week".

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use serde::Serialize;

/// Weeks of history the weekday-and-hour profile averages.
pub const PROFILE_WEEKS: i64 = 8;
/// Days the level and the back-test look at.
pub const RECENT_DAYS: i64 = 14;
/// Days forecast ahead, today included.
pub const DAYS_AHEAD: i64 = 7;

/// Parcels, order lines and units: the work of a location.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Work {
    pub parcels: i64,
    pub lines: i64,
    pub units: i64,
}

impl std::ops::Add for Work {
    type Output = Work;
    fn add(self, o: Work) -> Work {
        Work { parcels: self.parcels + o.parcels, lines: self.lines + o.lines, units: self.units + o.units }
    }
}

impl std::iter::Sum for Work {
    fn sum<I: Iterator<Item = Work>>(iter: I) -> Work {
        iter.fold(Work::default(), |a, b| a + b)
    }
}

/// The work that came in during one hour (its start, UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inflow {
    pub hour: DateTime<Utc>,
    pub work: Work,
}

/// What a location's people can do: order lines picked and packed per person-hour, the
/// people on a shift, and its hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Capacity {
    pub lines_per_person_hour: i64,
    pub people: i64,
    pub shift_hours: i64,
}

impl Default for Capacity {
    fn default() -> Capacity {
        Capacity { lines_per_person_hour: 60, people: 3, shift_hours: 8 }
    }
}

impl Capacity {
    /// People needed for `lines` in one shift, rounded up.
    pub fn people_for(&self, lines: i64) -> i64 {
        let per_person = (self.lines_per_person_hour * self.shift_hours).max(1);
        (lines.max(0) + per_person - 1) / per_person
    }
}

/// One day ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DayAhead {
    pub day: NaiveDate,
    pub promoted: bool,
    /// Forecast inflow; today's is what is still to come, with the backlog added.
    pub work: Work,
    pub people_needed: i64,
}

/// One hour ahead, today's and tomorrow's (its local start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HourAhead {
    pub hour: DateTime<Utc>,
    pub work: Work,
}

/// Work due before today's cut-off that the shift cannot do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AtRisk {
    pub cutoff: DateTime<Utc>,
    /// The backlog and the inflow forecast until the cut-off, in lines.
    pub due_lines: i64,
    /// What the people on shift can do until then.
    pub capacity_lines: i64,
    /// People more that would clear it.
    pub more_people: i64,
}

/// How far off the forecast was, back-tested: weighted absolute percentage error of daily
/// lines (basis points), against the same weekday the week before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Accuracy {
    pub days: usize,
    pub wape_bp: Option<i64>,
    pub same_weekday_wape_bp: Option<i64>,
}

/// A location's workload ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Outlook {
    pub backlog: Work,
    pub days: Vec<DayAhead>,
    pub hours: Vec<HourAhead>,
    pub at_risk: Option<AtRisk>,
    /// The level and promotion factors used, per mille.
    pub level_per_mille: i64,
    pub promotion_per_mille: i64,
    pub accuracy: Accuracy,
}

/// The inflow by local weekday and hour, in thousandths of an hour's work, and the level and
/// promotion factors, learnt from the history before `today`.
struct Model {
    /// [weekday from Monday][hour] → (parcels, lines, units) × 1000.
    profile: [[(i64, i64, i64); 24]; 7],
    level: i64,
    promotion: i64,
}

fn local_day_start(day: NaiveDate, zone: chrono_tz::Tz) -> DateTime<Utc> {
    zone.from_local_datetime(&day.and_time(NaiveTime::MIN)).earliest().map_or_else(|| day.and_time(NaiveTime::MIN).and_utc(), |t| t.with_timezone(&Utc))
}

/// Each local day's work in the history, with its hours: day → [hour] → work.
fn by_local_day(history: &[Inflow], zone: chrono_tz::Tz) -> std::collections::BTreeMap<NaiveDate, [Work; 24]> {
    let mut days: std::collections::BTreeMap<NaiveDate, [Work; 24]> = std::collections::BTreeMap::new();
    for inflow in history {
        let local = inflow.hour.with_timezone(&zone);
        let hours = days.entry(local.date_naive()).or_insert([Work::default(); 24]);
        hours[local.hour() as usize] = hours[local.hour() as usize] + inflow.work;
    }
    days
}

fn learn(days: &std::collections::BTreeMap<NaiveDate, [Work; 24]>, today: NaiveDate, promoted: &dyn Fn(NaiveDate) -> bool) -> Model {
    let first = today - Duration::weeks(PROFILE_WEEKS);
    // Days the location traded on (some inflow), before today, within the profile's weeks.
    let history: Vec<(NaiveDate, &[Work; 24])> = days.range(first..today).map(|(d, h)| (*d, h)).collect();
    let mut sums = [[(0i64, 0i64, 0i64); 24]; 7];
    let mut weeks = [0i64; 7];
    for (day, hours) in history.iter().filter(|(d, _)| !promoted(*d)) {
        let w = day.weekday().num_days_from_monday() as usize;
        weeks[w] += 1;
        for (h, work) in hours.iter().enumerate() {
            sums[w][h].0 += work.parcels;
            sums[w][h].1 += work.lines;
            sums[w][h].2 += work.units;
        }
    }
    let mut profile = [[(0i64, 0i64, 0i64); 24]; 7];
    for w in 0..7 {
        for h in 0..24 {
            let n = weeks[w].max(1);
            profile[w][h] = (sums[w][h].0 * 1000 / n, sums[w][h].1 * 1000 / n, sums[w][h].2 * 1000 / n);
        }
    }
    let expected = |day: NaiveDate| -> i64 { profile[day.weekday().num_days_from_monday() as usize].iter().map(|p| p.1).sum() };
    let actual = |hours: &[Work; 24]| -> i64 { hours.iter().map(|w| w.lines).sum::<i64>() * 1000 };
    let ratio = |pairs: Vec<(i64, i64)>, low: i64, high: i64, none: i64| {
        let (a, e): (i64, i64) = pairs.iter().fold((0, 0), |(a, e), (x, y)| (a + x, e + y));
        if e > 0 { (a * 1000 / e).clamp(low, high) } else { none }
    };
    let recent = today - Duration::days(RECENT_DAYS);
    let level = ratio(history.iter().filter(|(d, _)| *d >= recent && !promoted(*d)).map(|(d, h)| (actual(h), expected(*d))).collect(), 500, 2000, 1000);
    let promotion = ratio(history.iter().filter(|(d, _)| promoted(*d)).map(|(d, h)| (actual(h), expected(*d))).collect(), 1000, 5000, 1000);
    Model { profile, level, promotion }
}

impl Model {
    fn hour(&self, day: NaiveDate, hour: usize, promoted: bool) -> Work {
        let (p, l, u) = self.profile[day.weekday().num_days_from_monday() as usize][hour];
        let factor = self.level * if promoted { self.promotion } else { 1000 } / 1000;
        let scale = |v: i64| (v * factor + 500_000) / 1_000_000;
        Work { parcels: scale(p), lines: scale(l), units: scale(u) }
    }

    fn day(&self, day: NaiveDate, promoted: bool, from_hour: usize) -> Work {
        (from_hour..24).map(|h| self.hour(day, h, promoted)).sum()
    }
}

/// The workload ahead of a location at `now`, from its hourly `history` (weeks of it),
/// what is reserved and not shipped (`backlog`), which days are promoted, its time zone,
/// cut-off and `capacity`.
pub fn outlook(
    history: &[Inflow],
    backlog: Work,
    now: DateTime<Utc>,
    zone: chrono_tz::Tz,
    cutoff: NaiveTime,
    capacity: Capacity,
    promoted: &dyn Fn(NaiveDate) -> bool,
) -> Outlook {
    let days = by_local_day(history, zone);
    let local_now = now.with_timezone(&zone);
    let today = local_now.date_naive();
    let model = learn(&days, today, promoted);
    let this_hour = local_now.hour() as usize;

    let ahead: Vec<DayAhead> = (0..DAYS_AHEAD)
        .map(|n| {
            let day = today + Duration::days(n);
            let is_promoted = promoted(day);
            let inflow = model.day(day, is_promoted, if n == 0 { this_hour } else { 0 });
            let work = if n == 0 { inflow + backlog } else { inflow };
            DayAhead { day, promoted: is_promoted, work, people_needed: capacity.people_for(work.lines) }
        })
        .collect();
    let hours: Vec<HourAhead> = (0..2)
        .flat_map(|n| (0..24usize).map(move |h| (today + Duration::days(n), h)))
        .filter(|(day, h)| *day > today || *h >= this_hour)
        .map(|(day, h)| HourAhead { hour: local_day_start(day, zone) + Duration::hours(h as i64), work: model.hour(day, h, promoted(day)) })
        .collect();

    // Today's cut-off, if it is still ahead: the backlog and what comes before it is due.
    let cutoff_at = zone.from_local_datetime(&today.and_time(cutoff)).earliest().map(|t| t.with_timezone(&Utc));
    let at_risk = cutoff_at.filter(|c| *c > now).and_then(|cutoff_at| {
        let coming: i64 = hours.iter().filter(|h| h.hour < cutoff_at).map(|h| h.work.lines).sum();
        let due_lines = backlog.lines + coming;
        let hours_left = (cutoff_at - now).num_minutes().clamp(0, capacity.shift_hours * 60);
        let capacity_lines = capacity.lines_per_person_hour * capacity.people * hours_left / 60;
        let per_person = (capacity.lines_per_person_hour * hours_left / 60).max(1);
        (due_lines > capacity_lines).then(|| AtRisk { cutoff: cutoff_at, due_lines, capacity_lines, more_people: (due_lines - capacity_lines + per_person - 1) / per_person })
    });

    Outlook {
        backlog,
        days: ahead,
        hours,
        at_risk,
        level_per_mille: model.level,
        promotion_per_mille: model.promotion,
        accuracy: backtest(&days, today, promoted),
    }
}

/// Each of the last [`RECENT_DAYS`] days forecast from the days before it, against what came.
fn backtest(days: &std::collections::BTreeMap<NaiveDate, [Work; 24]>, today: NaiveDate, promoted: &dyn Fn(NaiveDate) -> bool) -> Accuracy {
    let lines = |day: NaiveDate| days.get(&day).map_or(0, |h| h.iter().map(|w| w.lines).sum::<i64>());
    let Some(first_traded) = days.keys().next().copied() else { return Accuracy { days: 0, wape_bp: None, same_weekday_wape_bp: None } };
    let (mut error, mut naive_error, mut actual, mut judged) = (0i64, 0i64, 0i64, 0usize);
    for n in (1..=RECENT_DAYS).rev() {
        let day = today - Duration::days(n);
        // A day needs two weeks of history before it to be forecast fairly.
        if day < first_traded + Duration::weeks(2) {
            continue;
        }
        let model = learn(days, day, promoted);
        let forecast = model.day(day, promoted(day), 0).lines;
        let came = lines(day);
        error += (forecast - came).abs();
        naive_error += (lines(day - Duration::weeks(1)) - came).abs();
        actual += came;
        judged += 1;
    }
    let wape = |e: i64| (actual > 0).then(|| e * 10_000 / actual);
    Accuracy { days: judged, wape_bp: wape(error), same_weekday_wape_bp: wape(naive_error) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Four weeks of a shop whose weekdays bring 10 lines an hour from 8 to 17 and whose
    /// weekends bring half, in UTC.
    fn history(until: NaiveDate, weeks: i64) -> Vec<Inflow> {
        let mut inflow = Vec::new();
        let mut day = until - Duration::weeks(weeks);
        while day < until {
            let per_hour = if day.weekday().num_days_from_monday() >= 5 { 5 } else { 10 };
            for h in 8..18 {
                let hour = day.and_hms_opt(h, 0, 0).unwrap_or_default().and_utc();
                inflow.push(Inflow { hour, work: Work { parcels: per_hour / 2, lines: per_hour, units: per_hour * 2 } });
            }
            day += Duration::days(1);
        }
        inflow
    }

    fn monday() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default()
    }

    const UTC: chrono_tz::Tz = chrono_tz::UTC;

    fn cutoff() -> NaiveTime {
        NaiveTime::from_hms_opt(15, 0, 0).unwrap_or_default()
    }

    #[test]
    fn a_steady_week_is_forecast_by_weekday_and_hour_and_back_tests_exactly() {
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let outlook = outlook(&history(monday(), 4), Work::default(), now, UTC, cutoff(), Capacity::default(), &|_| false);
        let lines: Vec<i64> = outlook.days.iter().map(|d| d.work.lines).collect();
        assert_eq!(lines, [100, 100, 100, 100, 100, 50, 50]);
        assert_eq!(outlook.days[0].people_needed, 1, "100 lines is one person's 8 hours at 60 an hour");
        assert_eq!(outlook.hours.len(), 48);
        assert_eq!(outlook.hours[9].work.lines, 10);
        assert_eq!(outlook.hours[20].work.lines, 0);
        assert_eq!(outlook.accuracy.wape_bp, Some(0));
        assert_eq!(outlook.accuracy.same_weekday_wape_bp, Some(0));
        assert_eq!(outlook.level_per_mille, 1000);
    }

    #[test]
    fn a_promoted_day_brings_what_promotions_brought_before() {
        // One promoted Wednesday two weeks ago brought three times its usual.
        let promo = monday() - Duration::days(12);
        let mut inflow = history(monday(), 4);
        for i in inflow.iter_mut().filter(|i| i.hour.date_naive() == promo) {
            i.work.lines *= 3;
        }
        let ahead = monday() + Duration::days(2);
        let promoted = |d: NaiveDate| d == promo || d == ahead;
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let outlook = outlook(&inflow, Work::default(), now, UTC, cutoff(), Capacity::default(), &promoted);
        assert_eq!(outlook.promotion_per_mille, 3000);
        assert_eq!((outlook.days[2].promoted, outlook.days[2].work.lines), (true, 300));
        assert_eq!(outlook.days[1].work.lines, 100, "the promoted day is left out of the usual");
    }

    #[test]
    fn a_backlog_the_shift_cannot_clear_by_the_cutoff_is_at_risk() {
        // Monday 13:00: two hours to the 15:00 cut-off, 3 people at 60 lines an hour do 360.
        let now = monday().and_hms_opt(13, 0, 0).unwrap_or_default().and_utc();
        let backlog = Work { parcels: 200, lines: 400, units: 800 };
        let outlook = outlook(&history(monday(), 4), backlog, now, UTC, cutoff(), Capacity::default(), &|_| false);
        let risk = outlook.at_risk.unwrap();
        assert_eq!((risk.due_lines, risk.capacity_lines, risk.more_people), (420, 360, 1));
        assert_eq!(outlook.days[0].work.lines, 400 + 50, "today: the backlog and the five hours still to come");
        let calm = super::outlook(&history(monday(), 4), Work::default(), now, UTC, cutoff(), Capacity::default(), &|_| false);
        assert_eq!(calm.at_risk, None);
    }

    #[test]
    fn a_busier_fortnight_lifts_the_level() {
        let mut inflow = history(monday(), 8);
        for i in inflow.iter_mut().filter(|i| i.hour.date_naive() >= monday() - Duration::days(14)) {
            i.work.lines = i.work.lines * 3 / 2;
        }
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let outlook = outlook(&inflow, Work::default(), now, UTC, cutoff(), Capacity::default(), &|_| false);
        assert!(outlook.level_per_mille > 1100, "{}", outlook.level_per_mille);
        assert!(outlook.days[0].work.lines > 100);
    }

    #[test]
    fn no_history_forecasts_nothing_and_claims_no_accuracy() {
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let outlook = outlook(&[], Work::default(), now, UTC, cutoff(), Capacity::default(), &|_| false);
        assert!(outlook.days.iter().all(|d| d.work == Work::default()));
        assert_eq!((outlook.accuracy.days, outlook.accuracy.wape_bp), (0, None));
    }
}

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
//! - **closed dates** (holidays, stocktakes: the location's [`Calendar`]): left out of the
//!   profile and the level like promoted days; the inflow of the last year's closed dates
//!   against the profile, applied to the closed dates ahead (1 without closed dates in the
//!   history: orders keep coming on a holiday unless the history says they stop). A closed
//!   day's work is none: what comes in on it is carried to the next working day;
//! - **backlog**: what is reserved and not shipped now is today's work on top.
//!
//! A day's forecast is its hours' summed, rounded once to whole lines; its hours are shown in
//! whole lines that add up to it, the rounding's rest going to the likeliest hours.
//!
//! Its accuracy is back-tested on the last 14 days, each forecast from the days before it,
//! beside the plain rule "the same weekday last week".

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use serde::Serialize;

use crate::calendar::{Calendar, Schedule};

/// Weeks of history the weekday-and-hour profile averages.
pub const PROFILE_WEEKS: i64 = 8;
/// Days the level and the back-test look at.
pub const RECENT_DAYS: i64 = 14;
/// Days forecast ahead, today included.
pub const DAYS_AHEAD: i64 = 7;
/// Days back a closed date is remembered: a holiday comes round once a year, so how the last
/// ones went is what tells whether orders stop on the next.
pub const CLOSED_DATES_DAYS: i64 = 366;

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
    /// Whether the location works that day (its calendar).
    pub open: bool,
    /// Forecast orders coming in that day; today's is what is still to come.
    pub inflow: Work,
    /// The work to do that day: its inflow, with today's backlog and what came in on the closed
    /// days before it; none on a closed day.
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

/// What the forecast needs to know of a day besides its inflow.
#[derive(Clone, Copy)]
struct Days<'a> {
    promoted: &'a dyn Fn(NaiveDate) -> bool,
    calendar: &'a Calendar,
}

impl Days<'_> {
    fn promoted(&self, day: NaiveDate) -> bool {
        (self.promoted)(day)
    }

    fn closed_date(&self, day: NaiveDate) -> bool {
        self.calendar.is_closed_date(day)
    }

    /// A day the weekly pattern is learnt from: neither promoted nor a closed date.
    fn usual(&self, day: NaiveDate) -> bool {
        !self.promoted(day) && !self.closed_date(day)
    }
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
    /// The level, promotion and closed-date factors used, per mille.
    pub level_per_mille: i64,
    pub promotion_per_mille: i64,
    pub closed_per_mille: i64,
    pub accuracy: Accuracy,
}

/// The inflow by local weekday and hour, in thousandths of an hour's work, and the level,
/// promotion and closed-date factors, learnt from the history before `today`.
struct Model {
    /// [weekday from Monday][hour] → (parcels, lines, units) × 1000.
    profile: [[(i64, i64, i64); 24]; 7],
    level: i64,
    promotion: i64,
    closed: i64,
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

fn learn(days: &std::collections::BTreeMap<NaiveDate, [Work; 24]>, today: NaiveDate, special: Days) -> Model {
    let first = today - Duration::weeks(PROFILE_WEEKS);
    // Days the location traded on (some inflow), before today, within the profile's weeks.
    let history: Vec<(NaiveDate, &[Work; 24])> = days.range(first..today).map(|(d, h)| (*d, h)).collect();
    let mut sums = [[(0i64, 0i64, 0i64); 24]; 7];
    let mut weeks = [0i64; 7];
    for (day, hours) in history.iter().filter(|(d, _)| special.usual(*d)) {
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
    let level = ratio(history.iter().filter(|(d, _)| *d >= recent && special.usual(*d)).map(|(d, h)| (actual(h), expected(*d))).collect(), 500, 2000, 1000);
    let promotion = ratio(history.iter().filter(|(d, _)| special.promoted(*d) && !special.closed_date(*d)).map(|(d, h)| (actual(h), expected(*d))).collect(), 1000, 5000, 1000);
    // The closed dates of the last year the history covers: a day it holds (the caller may
    // give a closed date with nothing on it), or any after its first. One it has no row for
    // brought nothing: a shop that stops on holidays.
    let remembered = today - Duration::days(CLOSED_DATES_DAYS);
    let first_known = days.keys().next().copied().unwrap_or(today);
    let closed_dates = special.calendar.closed_dates.iter().map(|c| c.date).filter(|d| *d >= remembered && *d < today && (*d >= first_known || days.contains_key(d)));
    let closed = ratio(closed_dates.map(|d| (days.get(&d).map_or(0, actual), expected(d))).collect(), 0, 2000, 1000);
    Model { profile, level, promotion, closed }
}

impl Model {
    /// The inflow forecast for an hour of `day`, in millionths of a parcel, line and unit.
    fn exact_hour(&self, day: NaiveDate, hour: usize, special: Days) -> (i64, i64, i64) {
        let (p, l, u) = self.profile[day.weekday().num_days_from_monday() as usize][hour];
        let factor = if special.closed_date(day) {
            self.level * self.closed / 1000
        } else if special.promoted(day) {
            self.level * self.promotion / 1000
        } else {
            self.level
        };
        (p * factor, l * factor, u * factor)
    }

    /// The inflow forecast for each hour of `day` from `from_hour` on, in whole parcels, lines
    /// and units that add up to the day's (see [`Model::day`]): each hour gets the whole part of
    /// its forecast, and what rounding the day left over goes to the hours with the largest
    /// remainders, the earliest first on a tie. So a quiet site's day of 9 lines shows them in
    /// its 9 likeliest hours rather than none in each.
    fn hours(&self, day: NaiveDate, special: Days, from_hour: usize) -> Vec<Work> {
        let exact: Vec<(i64, i64, i64)> = (from_hour..24).map(|h| self.exact_hour(day, h, special)).collect();
        let total = self.day(day, special, from_hour);
        let parcels = apportion(exact.iter().map(|e| e.0), total.parcels);
        let lines = apportion(exact.iter().map(|e| e.1), total.lines);
        let units = apportion(exact.iter().map(|e| e.2), total.units);
        (0..exact.len()).map(|i| Work { parcels: parcels[i], lines: lines[i], units: units[i] }).collect()
    }

    /// The inflow forecast for `day` from `from_hour` on: the hours' exact forecasts summed,
    /// then rounded once, so that a quiet site whose every hour expects less than half a line
    /// is not forecast to have nothing to do.
    fn day(&self, day: NaiveDate, special: Days, from_hour: usize) -> Work {
        whole((from_hour..24).map(|h| self.exact_hour(day, h, special)).fold((0, 0, 0), add))
    }
}

/// Two exact forecasts summed.
fn add(a: (i64, i64, i64), b: (i64, i64, i64)) -> (i64, i64, i64) {
    (a.0 + b.0, a.1 + b.1, a.2 + b.2)
}

/// `total` whole things shared over forecasts in millionths (largest remainders): each gets its
/// whole part, and the rest one each, largest remainder first, the earliest on a tie. `total`
/// is their sum rounded, so the rest is never more than one each.
fn apportion(exact: impl Iterator<Item = i64>, total: i64) -> Vec<i64> {
    let exact: Vec<i64> = exact.collect();
    let mut shares: Vec<i64> = exact.iter().map(|e| e / 1_000_000).collect();
    let rest = usize::try_from(total - shares.iter().sum::<i64>()).unwrap_or(0);
    let mut order: Vec<usize> = (0..exact.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(exact[i] % 1_000_000), i));
    for &i in order.iter().take(rest) {
        shares[i] += 1;
    }
    shares
}

/// Millionths rounded to whole parcels, lines and units.
fn whole((p, l, u): (i64, i64, i64)) -> Work {
    let round = |v: i64| (v + 500_000) / 1_000_000;
    Work { parcels: round(p), lines: round(l), units: round(u) }
}

/// The workload ahead of a location at `now`, from its hourly `history` (weeks of it),
/// what is reserved and not shipped (`backlog`), its time zone, cut-off and calendar, its
/// `capacity`, and which days are promoted.
pub fn outlook(
    history: &[Inflow],
    backlog: Work,
    now: DateTime<Utc>,
    schedule: &Schedule,
    capacity: Capacity,
    promoted: &dyn Fn(NaiveDate) -> bool,
) -> Outlook {
    let zone = schedule.zone;
    let special = Days { promoted, calendar: &schedule.calendar };
    let days = by_local_day(history, zone);
    let local_now = now.with_timezone(&zone);
    let today = local_now.date_naive();
    let model = learn(&days, today, special);
    let this_hour = local_now.hour() as usize;

    let mut carried = backlog;
    let ahead: Vec<DayAhead> = (0..DAYS_AHEAD)
        .map(|n| {
            let day = today + Duration::days(n);
            let inflow = model.day(day, special, if n == 0 { this_hour } else { 0 });
            let open = schedule.calendar.is_open(day);
            let work = if open { std::mem::take(&mut carried) + inflow } else { Work::default() };
            if !open {
                carried = carried + inflow;
            }
            DayAhead { day, promoted: special.promoted(day), open, inflow, work, people_needed: capacity.people_for(work.lines) }
        })
        .collect();
    let hour_start = |day: NaiveDate, h: usize| schedule.day_start(day) + Duration::hours(h as i64);
    let hours: Vec<HourAhead> = (0..2)
        .flat_map(|n| {
            let day = today + Duration::days(n);
            let from = if n == 0 { this_hour } else { 0 };
            model.hours(day, special, from).into_iter().zip(from..).map(move |(work, h)| HourAhead { hour: hour_start(day, h), work })
        })
        .collect();

    // Today's cut-off, if the location works today and it is still ahead: the backlog and
    // what comes before it is due (the hours' exact forecasts summed, as a day's are).
    let cutoff_at = schedule.calendar.is_open(today).then(|| schedule.cutoff_on(today)).flatten();
    let at_risk = cutoff_at.filter(|c| *c > now).and_then(|cutoff_at| {
        let before_cutoff = (this_hour..24).filter(|&h| hour_start(today, h) < cutoff_at).map(|h| model.exact_hour(today, h, special));
        let coming = whole(before_cutoff.fold((0, 0, 0), add)).lines;
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
        closed_per_mille: model.closed,
        accuracy: backtest(&days, today, special),
    }
}

/// Each of the last [`RECENT_DAYS`] days forecast from the days before it, against what came.
fn backtest(days: &std::collections::BTreeMap<NaiveDate, [Work; 24]>, today: NaiveDate, special: Days) -> Accuracy {
    let came_on = |day: NaiveDate| days.get(&day).map_or(Work::default(), |hours| hours.iter().copied().sum());
    let Some(first_traded) = days.keys().next().copied() else { return Accuracy { days: 0, wape_bp: None, same_weekday_wape_bp: None } };
    let (mut forecast, mut same_weekday, mut judged) = (Tally::default(), Tally::default(), 0);
    for n in (1..=RECENT_DAYS).rev() {
        let day = today - Duration::days(n);
        // A day needs two weeks of history before it to be forecast fairly.
        if day < first_traded + Duration::weeks(2) {
            continue;
        }
        let came = came_on(day);
        forecast.add(learn(days, day, special).day(day, special, 0), came);
        same_weekday.add(came_on(day - Duration::weeks(1)), came);
        judged += 1;
    }
    Accuracy { days: judged, wape_bp: forecast.wape_bp().lines, same_weekday_wape_bp: same_weekday.wape_bp().lines }
}

/// The workload forecast scored on every day of a history it is given, each day forecast from
/// the days before it as the page would have forecast it: the check a business can run on its
/// own orders before it trusts the page. Days from [`PROFILE_WEEKS`] weeks and six days after
/// the first traded, so every forecast scored has its whole profile; the history's last day is
/// left out, since a file may end part-way through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// The first and the last day scored.
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    pub days: usize,
    /// The work that came on the days scored.
    pub actual: Work,
    pub scores: Vec<Score>,
    /// Each calendar month's error in daily lines: the forecast made at the day's start, and
    /// the same weekday the week before.
    pub months: Vec<MonthScore>,
}

/// One forecast's error over the days scored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Score {
    pub forecast: &'static str,
    /// `day` (each day's total) or `hour` (each hour's).
    pub per: &'static str,
    /// Days from when the forecast was made to the day forecast: 1 is made at the day's start,
    /// 7 the last day of the week ahead.
    pub days_ahead: i64,
    /// Weighted absolute percentage error, basis points: parcels, lines, units.
    pub wape_bp: Measures,
    /// Forecast over actual, less one, basis points.
    pub bias_bp: Measures,
}

/// A figure for each of parcels, lines and units; none where nothing came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Measures {
    pub parcels: Option<i64>,
    pub lines: Option<i64>,
    pub units: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthScore {
    /// `YYYY-MM`.
    pub month: String,
    pub days: usize,
    pub lines: i64,
    pub wape_bp: Option<i64>,
    pub same_weekday_wape_bp: Option<i64>,
}

/// Absolute and signed errors summed against what came.
#[derive(Default, Clone, Copy)]
struct Tally {
    absolute: Work,
    signed: Work,
    actual: Work,
}

impl Tally {
    fn add(&mut self, forecast: Work, came: Work) {
        let error = Work { parcels: forecast.parcels - came.parcels, lines: forecast.lines - came.lines, units: forecast.units - came.units };
        self.absolute = self.absolute + Work { parcels: error.parcels.abs(), lines: error.lines.abs(), units: error.units.abs() };
        self.signed = self.signed + error;
        self.actual = self.actual + came;
    }

    fn per_actual(part: fn(&Work) -> i64, of: Work, actual: Work) -> Option<i64> {
        (part(&actual) > 0).then(|| (i128::from(part(&of)) * 10_000 / i128::from(part(&actual))) as i64)
    }

    fn measures(of: Work, actual: Work) -> Measures {
        Measures {
            parcels: Self::per_actual(|w| w.parcels, of, actual),
            lines: Self::per_actual(|w| w.lines, of, actual),
            units: Self::per_actual(|w| w.units, of, actual),
        }
    }

    fn wape_bp(&self) -> Measures {
        Self::measures(self.absolute, self.actual)
    }

    fn score(&self, forecast: &'static str, per: &'static str, days_ahead: i64) -> Score {
        Score { forecast, per, days_ahead, wape_bp: self.wape_bp(), bias_bp: Self::measures(self.signed, self.actual) }
    }
}

/// Scores the forecast on every day of `history` that has weeks enough before it (see
/// [`Evaluation`]), made at the day's start and a week ahead, beside two plain rules: the same
/// weekday the week before, and the mean of that weekday over the profile's weeks (the
/// forecast without its level, which is the same made a week ahead: it sees the same weeks).
pub fn evaluate(history: &[Inflow], zone: chrono_tz::Tz, calendar: &Calendar, promoted: &dyn Fn(NaiveDate) -> bool) -> Evaluation {
    let special = Days { promoted, calendar };
    let days = by_local_day(history, zone);
    let (first, last) = match (days.keys().next(), days.keys().next_back()) {
        (Some(first), Some(last)) => (*first, *last),
        _ => return Evaluation { first_day: None, last_day: None, days: 0, actual: Work::default(), scores: Vec::new(), months: Vec::new() },
    };
    let hours_of = |day: NaiveDate| days.get(&day).copied().unwrap_or([Work::default(); 24]);
    let [mut today, mut week_ahead, mut flat, mut same_weekday, mut hourly, mut same_hour] = [Tally::default(); 6];
    let mut months: std::collections::BTreeMap<String, (usize, Tally, Tally)> = std::collections::BTreeMap::new();
    let mut judged = 0;
    let mut day = first + Duration::weeks(PROFILE_WEEKS) + Duration::days(DAYS_AHEAD - 1);
    while day < last {
        let came_hours = hours_of(day);
        let came: Work = came_hours.iter().copied().sum();
        let week_before = hours_of(day - Duration::weeks(1));
        let last_week: Work = week_before.iter().copied().sum();
        let model = learn(&days, day, special);
        let forecast = model.day(day, special, 0);
        let earlier = learn(&days, day - Duration::days(DAYS_AHEAD - 1), special);
        today.add(forecast, came);
        week_ahead.add(earlier.day(day, special, 0), came);
        flat.add(Model { level: 1000, ..model }.day(day, special, 0), came);
        same_weekday.add(last_week, came);
        for (hour, work) in model.hours(day, special, 0).into_iter().enumerate() {
            hourly.add(work, came_hours[hour]);
            same_hour.add(week_before[hour], came_hours[hour]);
        }
        let month = months.entry(day.format("%Y-%m").to_string()).or_default();
        month.0 += 1;
        month.1.add(forecast, came);
        month.2.add(last_week, came);
        judged += 1;
        day += Duration::days(1);
    }
    Evaluation {
        first_day: (judged > 0).then(|| last - Duration::days(judged as i64)),
        last_day: (judged > 0).then(|| last - Duration::days(1)),
        days: judged,
        actual: today.actual,
        scores: vec![
            today.score("ordo", "day", 1),
            week_ahead.score("ordo", "day", DAYS_AHEAD),
            flat.score("weekday mean of the profile's weeks", "day", 1),
            same_weekday.score("same weekday last week", "day", 1),
            hourly.score("ordo", "hour", 1),
            same_hour.score("same hour last week", "hour", 1),
        ],
        months: months
            .into_iter()
            .map(|(month, (days, ordo, naive))| MonthScore {
                month,
                days,
                lines: ordo.actual.lines,
                wape_bp: ordo.wape_bp().lines,
                same_weekday_wape_bp: naive.wape_bp().lines,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;

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

    /// A location in UTC with a 15:00 cut-off, closed on `closed` dates.
    fn closed_on(closed: &[NaiveDate]) -> Schedule {
        let calendar = crate::calendar::NewCalendar {
            closed_weekdays: Vec::new(),
            closed_dates: closed.iter().map(|d| crate::calendar::NewClosedDate { date: d.to_string(), name: None }).collect(),
        };
        Schedule { zone: UTC, cutoff: NaiveTime::from_hms_opt(15, 0, 0).unwrap_or_default(), calendar: calendar.validate().unwrap_or_default() }
    }

    fn site() -> Schedule {
        closed_on(&[])
    }

    #[test]
    fn a_steady_week_is_forecast_by_weekday_and_hour_and_back_tests_exactly() {
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let outlook = outlook(&history(monday(), 4), Work::default(), now, &site(), Capacity::default(), &|_| false);
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
    fn a_quiet_site_is_forecast_its_whole_day_though_no_hour_expects_half_a_line() {
        // Eight weeks of 9 lines a day, a week's lines in 9 hours running on from the week
        // before's: every weekday-hour saw a line in 3 of the 8 weeks, 0.375 on average.
        let start = monday() - Duration::weeks(PROFILE_WEEKS);
        let mut inflow = Vec::new();
        for n in 0..PROFILE_WEEKS * 7 {
            let day = start + Duration::days(n);
            let week = n / 7;
            for h in 0..24 {
                if (h - 9 * week).rem_euclid(24) < 9 {
                    let hour = day.and_hms_opt(h as u32, 0, 0).unwrap_or_default().and_utc();
                    inflow.push(Inflow { hour, work: Work { parcels: 1, lines: 1, units: 2 } });
                }
            }
        }
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let capacity = Capacity { lines_per_person_hour: 1, people: 1, shift_hours: 8 };
        let outlook = outlook(&inflow, Work { parcels: 3, lines: 3, units: 6 }, now, &site(), capacity, &|_| false);
        assert_eq!(outlook.level_per_mille, 1000);
        // Rounding each hour first would forecast nothing at all.
        for day in &outlook.days {
            assert_eq!((day.inflow.parcels, day.inflow.lines, day.inflow.units), (9, 9, 18), "{day:?}");
        }
        // Each hour expects 0.375 lines: the day's 9 are shown in its first 9 hours, a line each.
        let tomorrow: Vec<i64> = outlook.hours[24..].iter().map(|h| h.work.lines).collect();
        assert_eq!(tomorrow, [vec![1; 9], vec![0; 15]].concat());
        // Before the 15:00 cut-off come 15 hours of 0.375 lines: 6 with the backlog's 3 are
        // more than the one person's 8 in a shift.
        let at_risk = outlook.at_risk.expect("at risk");
        assert_eq!((at_risk.due_lines, at_risk.capacity_lines, at_risk.more_people), (9, 8, 1));
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
        let outlook = outlook(&inflow, Work::default(), now, &site(), Capacity::default(), &promoted);
        assert_eq!(outlook.promotion_per_mille, 3000);
        assert_eq!((outlook.days[2].promoted, outlook.days[2].work.lines), (true, 300));
        assert_eq!(outlook.days[1].work.lines, 100, "the promoted day is left out of the usual");
    }

    #[test]
    fn a_backlog_the_shift_cannot_clear_by_the_cutoff_is_at_risk() {
        // Monday 13:00: two hours to the 15:00 cut-off, 3 people at 60 lines an hour do 360.
        let now = monday().and_hms_opt(13, 0, 0).unwrap_or_default().and_utc();
        let backlog = Work { parcels: 200, lines: 400, units: 800 };
        let outlook = outlook(&history(monday(), 4), backlog, now, &site(), Capacity::default(), &|_| false);
        let risk = outlook.at_risk.unwrap();
        assert_eq!((risk.due_lines, risk.capacity_lines, risk.more_people), (420, 360, 1));
        assert_eq!(outlook.days[0].work.lines, 400 + 50, "today: the backlog and the five hours still to come");
        let calm = super::outlook(&history(monday(), 4), Work::default(), now, &site(), Capacity::default(), &|_| false);
        assert_eq!(calm.at_risk, None);
    }

    #[test]
    fn a_busier_fortnight_lifts_the_level() {
        let mut inflow = history(monday(), 8);
        for i in inflow.iter_mut().filter(|i| i.hour.date_naive() >= monday() - Duration::days(14)) {
            i.work.lines = i.work.lines * 3 / 2;
        }
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let outlook = outlook(&inflow, Work::default(), now, &site(), Capacity::default(), &|_| false);
        assert!(outlook.level_per_mille > 1100, "{}", outlook.level_per_mille);
        assert!(outlook.days[0].work.lines > 100);
    }

    #[test]
    fn a_steady_history_scores_no_error_on_every_day_with_its_weeks_before() {
        let evaluation = evaluate(&history(monday(), 12), UTC, &Calendar::default(), &|_| false);
        // 84 days: the first 62 build the profile, the last may be cut short.
        assert_eq!(evaluation.days, 84 - 62 - 1);
        assert_eq!((evaluation.first_day, evaluation.last_day), (Some(monday() - Duration::days(84 - 62)), Some(monday() - Duration::days(2))));
        assert_eq!(evaluation.actual.lines, 3 * 100 * 5 + 3 * 50 * 2, "three weeks of 600 lines and 100 at weekends");
        for score in &evaluation.scores {
            assert_eq!(score.wape_bp.lines, Some(0), "{}", score.forecast);
            assert_eq!(score.bias_bp.units, Some(0), "{}", score.forecast);
        }
        assert_eq!(evaluation.months.iter().map(|m| m.days).sum::<usize>(), evaluation.days);
    }

    #[test]
    fn a_level_that_moves_is_followed_where_the_weekday_mean_lags() {
        // From four weeks before the end, every day brings twice as much.
        let mut inflow = history(monday(), 16);
        for i in inflow.iter_mut().filter(|i| i.hour.date_naive() >= monday() - Duration::weeks(4)) {
            i.work = Work { parcels: i.work.parcels * 2, lines: i.work.lines * 2, units: i.work.units * 2 };
        }
        let evaluation = evaluate(&inflow, UTC, &Calendar::default(), &|_| false);
        let lines = |forecast: &str, days_ahead: i64| {
            evaluation.scores.iter().find(|s| s.forecast == forecast && s.per == "day" && s.days_ahead == days_ahead).and_then(|s| s.wape_bp.lines).unwrap()
        };
        let (ordo, mean) = (lines("ordo", 1), lines("weekday mean of the profile's weeks", 1));
        assert!(ordo < mean, "the level follows the doubling: {ordo} against {mean}");
        assert!(evaluation.scores.iter().all(|s| s.bias_bp.lines.is_some_and(|b| b <= 0)), "every forecast lags a rise");
    }

    #[test]
    fn an_empty_history_scores_nothing() {
        let evaluation = evaluate(&[], UTC, &Calendar::default(), &|_| false);
        assert_eq!((evaluation.days, evaluation.first_day, evaluation.scores.len()), (0, None, 0));
    }

    #[test]
    fn no_history_forecasts_nothing_and_claims_no_accuracy() {
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let outlook = outlook(&[], Work::default(), now, &site(), Capacity::default(), &|_| false);
        assert!(outlook.days.iter().all(|d| d.work == Work::default()));
        assert_eq!((outlook.accuracy.days, outlook.accuracy.wape_bp), (0, None));
    }

    #[test]
    fn a_closed_day_has_no_work_and_the_next_working_day_takes_its_orders() {
        // Wednesday is a holiday; nothing in the history says whether orders stop on one.
        let wednesday = monday() + Duration::days(2);
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let outlook = outlook(&history(monday(), 4), Work::default(), now, &closed_on(&[wednesday]), Capacity::default(), &|_| false);
        let day = |n: usize| (outlook.days[n].open, outlook.days[n].inflow.lines, outlook.days[n].work.lines, outlook.days[n].people_needed);
        assert_eq!(day(2), (false, 100, 0, 0), "orders still come in on a holiday, and wait");
        assert_eq!(day(3), (true, 100, 200, 1), "Thursday picks Wednesday's orders and its own");
        assert_eq!(day(1), (true, 100, 100, 1));
    }

    #[test]
    fn holidays_that_brought_nothing_forecast_nothing() {
        // A shop that stops trading on holidays: Monday two weeks ago brought nothing.
        let holiday = monday() - Duration::weeks(2);
        let inflow: Vec<Inflow> = history(monday(), 8).into_iter().filter(|i| i.hour.date_naive() != holiday).collect();
        let tuesday = monday() + Duration::days(1);
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let outlook = outlook(&inflow, Work::default(), now, &closed_on(&[holiday, tuesday]), Capacity::default(), &|_| false);
        assert_eq!((outlook.days[1].open, outlook.days[1].inflow.lines), (false, 0));
        assert_eq!(outlook.closed_per_mille, 0, "the holiday two weeks ago brought nothing");
        assert_eq!(outlook.days[0].inflow.lines, 100, "the holiday is no Monday of the profile");
        assert_eq!(outlook.days[2].work.lines, 100);
    }

    #[test]
    fn a_closed_today_is_at_no_risk_and_carries_the_backlog() {
        let now = monday().and_hms_opt(13, 0, 0).unwrap_or_default().and_utc();
        let backlog = Work { parcels: 200, lines: 400, units: 800 };
        let outlook = outlook(&history(monday(), 4), backlog, now, &closed_on(&[monday()]), Capacity::default(), &|_| false);
        assert_eq!(outlook.at_risk, None);
        assert_eq!((outlook.days[0].work.lines, outlook.days[1].work.lines), (0, 400 + 50 + 100));
    }

    #[test]
    fn knowing_the_holidays_mends_the_forecast_of_a_shop_that_closes_on_them() {
        // Sixteen weeks; the shop closed on three Mondays a fortnight apart near the end.
        let holidays: Vec<NaiveDate> = (1..=3).map(|n| monday() - Duration::weeks(2 * n)).collect();
        let inflow: Vec<Inflow> = history(monday(), 16).into_iter().filter(|i| !holidays.contains(&i.hour.date_naive())).collect();
        let lines = |calendar: &Calendar| {
            let evaluation = evaluate(&inflow, UTC, calendar, &|_| false);
            evaluation.scores.iter().find(|s| s.forecast == "ordo" && s.per == "day" && s.days_ahead == 1).and_then(|s| s.wape_bp.lines).unwrap()
        };
        let (without, with) = (lines(&Calendar::default()), lines(&closed_on(&holidays).calendar));
        assert!(with < without, "{with} against {without}");
    }

    #[test]
    fn a_holiday_is_remembered_for_a_year_from_when_the_history_begins() {
        let tomorrow = monday() + Duration::days(1);
        let now = monday().and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
        let holiday_inflow = |history: &[Inflow], closed: &[NaiveDate]| {
            outlook(history, Work::default(), now, &closed_on(closed), Capacity::default(), &|_| false).days[1].inflow.lines
        };
        // Thirty weeks of history; the shop was shut on a Monday twenty-five weeks ago.
        let long_ago = monday() - Duration::weeks(25);
        let long: Vec<Inflow> = history(monday(), 30).into_iter().filter(|i| i.hour.date_naive() != long_ago).collect();
        assert_eq!(holiday_inflow(&long, &[long_ago, tomorrow]), 0);
        // Eight weeks of history know nothing of that Monday: orders are expected as usual.
        let short = history(monday(), 8);
        assert_eq!(holiday_inflow(&short, &[long_ago, tomorrow]), 100);
        // Unless the caller says the day is covered, by giving it with nothing on it.
        let mut covered = short.clone();
        covered.push(Inflow { hour: long_ago.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc(), work: Work::default() });
        assert_eq!(holiday_inflow(&covered, &[long_ago, tomorrow]), 0);
        // More than a year ago is forgotten.
        let year_ago = monday() - Duration::weeks(60);
        let longer: Vec<Inflow> = history(monday(), 70).into_iter().filter(|i| i.hour.date_naive() != year_ago).collect();
        assert_eq!(holiday_inflow(&longer, &[year_ago, tomorrow]), 100);
    }

    proptest::proptest! {
        /// Whatever came in, and at whatever hour it is asked, today's and tomorrow's hours are
        /// whole and add up to their day's forecast, in parcels, lines and units.
        #[test]
        fn the_hours_shown_add_up_to_their_day(
            counts in proptest::collection::vec((0i64..4, 0i64..5, 0i64..9), 24 * 7 * 3),
            at_hour in 0u32..24,
            zone in proptest::sample::select(vec![chrono_tz::UTC, chrono_tz::America::New_York, chrono_tz::Asia::Kolkata]),
        ) {
            // Three weeks of hours, from the Monday three weeks back, each bringing what was drawn.
            let start = (monday() - Duration::weeks(3)).and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
            let inflow: Vec<Inflow> = counts
                .iter()
                .enumerate()
                .map(|(n, &(parcels, lines, units))| Inflow { hour: start + Duration::hours(n as i64), work: Work { parcels, lines, units } })
                .collect();
            let now = monday().and_hms_opt(at_hour, 30, 0).unwrap_or_default().and_utc();
            let schedule = Schedule { zone, ..site() };
            let outlook = outlook(&inflow, Work::default(), now, &schedule, Capacity::default(), &|_| false);
            for day in &outlook.days[..2] {
                let hours: Work = outlook.hours.iter().filter(|h| h.hour.with_timezone(&zone).date_naive() == day.day).map(|h| h.work).sum();
                proptest::prop_assert_eq!(hours, day.inflow, "{}", day.day);
            }
            proptest::prop_assert!(outlook.hours.iter().all(|h| h.work.parcels >= 0 && h.work.lines >= 0 && h.work.units >= 0));
        }
    }
}

//! Each location's workload ahead: the parcels, lines and units to pick, pack and ship by day
//! and by hour, the people that takes, and the work at risk of missing today's cut-off
//! ([`ordo_domain::workload`] decides; this gathers its inflow, backlog, promotions and
//! capacity). A location a channel ships from itself has none.

use chrono::{Duration, NaiveDate};
use ordo_domain::audit::Change;
use ordo_domain::calendar::Calendar;
use ordo_domain::field::bounded;
use ordo_domain::master::Location;
use ordo_domain::workload::{outlook, Capacity, Inflow, Outlook, Work, CLOSED_DATES_DAYS, PROFILE_WEEKS, RECENT_DAYS};
use ordo_domain::FieldError;
use serde::Serialize;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Fulfilment};

/// One location's workload ahead.
#[derive(Debug, Clone, Serialize)]
pub struct LocationWorkload {
    pub location: String,
    pub name: String,
    pub time_zone: String,
    pub cutoff_time: String,
    /// The weekdays and dates it does not work.
    pub calendar: Calendar,
    pub capacity: Capacity,
    /// Whether the capacity was set for the location (else the defaults).
    pub capacity_set: bool,
    pub outlook: Outlook,
}

impl Fulfilment<'_> {
    /// Every location's workload ahead, as of now.
    pub async fn workload(self) -> AppResult<Vec<LocationWorkload>> {
        let now = self.now();
        // The profile's weeks, the back-test's fortnight before them, and a day of margin.
        let from = now - Duration::weeks(PROFILE_WEEKS) - Duration::days(RECENT_DAYS + 1);
        let mut tx = self.db.read().await?;
        let locations: Vec<Location> = tx.locations().await?.into_iter().filter(|l| l.managed_by.is_none()).collect();
        let created = tx.location_created_at().await?;
        // And each location's closed dates of the year before, since it was set up: how its
        // last holidays went tells whether orders stop on the next.
        // (The weeks' end is a day ahead: an order a channel stamped a little ahead of our clock
        // counts too.)
        let mut periods = vec![(from, now + Duration::days(1))];
        let mut remembered: Vec<(String, chrono::DateTime<chrono::Utc>)> = Vec::new();
        for location in &locations {
            let schedule = location.schedule();
            let since = created.iter().find(|(l, _)| *l == location.code).map_or(now, |(_, at)| *at).max(now - Duration::days(CLOSED_DATES_DAYS));
            for date in location.calendar.closed_dates.iter().map(|c| c.date) {
                let (start, end) = (schedule.day_start(date), schedule.day_start(date + Duration::days(1)));
                if start >= since && end <= from {
                    periods.push((start, end));
                    remembered.push((location.code.clone(), start));
                }
            }
        }
        // Sites in one zone share holidays: each day is asked for once.
        periods.sort_unstable();
        periods.dedup();
        let inflow = tx.hourly_inflow(&periods).await?;
        let backlog = tx.unshipped_work().await?;
        let capacities = tx.location_capacities().await?;
        let promotions = tx.promotions().await?;
        drop(tx);
        let promoted_days: Vec<(NaiveDate, NaiveDate)> = promotions.iter().filter(|p| p.sku.is_none()).filter_map(|p| p.days()).collect();
        let promoted = |day: NaiveDate| promoted_days.iter().any(|(from, to)| day >= *from && day <= *to);
        let mut workloads = Vec::new();
        for location in locations {
            let schedule = location.schedule();
            // The weeks before now, and the remembered closed dates, the empty ones included.
            let closed = |at: &chrono::DateTime<chrono::Utc>| location.calendar.is_closed_date(at.with_timezone(&schedule.zone).date_naive());
            let mut history: Vec<Inflow> = inflow.iter().filter(|(l, i)| *l == location.code && (i.hour >= from || closed(&i.hour))).map(|(_, i)| *i).collect();
            history.extend(remembered.iter().filter(|(l, _)| *l == location.code).map(|(_, start)| Inflow { hour: *start, work: Work::default() }));
            let work = backlog.iter().find(|(l, _)| *l == location.code).map_or(Work::default(), |(_, w)| *w);
            let set = capacities.iter().find(|(l, _)| *l == location.code).map(|(_, c)| *c);
            let capacity = set.unwrap_or_default();
            let outlook = outlook(&history, work, now, &schedule, capacity, &promoted);
            workloads.push(LocationWorkload {
                location: location.code,
                name: location.name,
                time_zone: location.time_zone,
                cutoff_time: location.cutoff_time,
                calendar: location.calendar,
                capacity,
                capacity_set: set.is_some(),
                outlook,
            });
        }
        Ok(workloads)
    }

    /// Sets what a location's people can do: lines per person-hour, people on a shift, and
    /// the shift's hours.
    pub async fn set_capacity(self, location: &str, capacity: Capacity, actor: &Actor) -> AppResult<Capacity> {
        let capacity = Capacity {
            lines_per_person_hour: bounded("lines_per_person_hour", capacity.lines_per_person_hour, 1, 10_000)?,
            people: bounded("people", capacity.people, 0, 10_000)?,
            shift_hours: bounded("shift_hours", capacity.shift_hours, 1, 24)?,
        };
        let now = self.now();
        let mut tx = self.db.write().await?;
        let known = tx.locations().await?.into_iter().find(|l| l.code == location);
        let Some(known) = known else { return Err(AppError::NotFound { what: "location", key: location.to_owned() }) };
        if known.managed_by.is_some() {
            return Err(FieldError::new("location", "is a channel's own warehouse: it plans its own people").into());
        }
        let before = tx.location_capacities().await?.into_iter().find(|(l, _)| l == location).map(|(_, c)| c);
        tx.set_location_capacity(location, capacity).await?;
        let change = Change::new("location.capacity", format!("location:{location}")).before(serde_json::json!(before)).after(serde_json::json!(capacity));
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(capacity)
    }
}

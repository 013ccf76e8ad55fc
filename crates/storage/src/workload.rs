//! The figures a location's workload is forecast from: the order lines that came in for it
//! hour by hour (shipped from it since, or reserved at it now), what is reserved and not
//! shipped, and what its people can do.

use chrono::{DateTime, NaiveDateTime, Utc};
use ordo_domain::workload::{Capacity, Inflow, Work};
use sqlx::AssertSqlSafe;

use crate::error::corrupt;
use crate::{on_engine, StorageError, Tx};

impl Tx {
    /// Per location and UTC hour an order was placed in one of `periods` (from, until): its
    /// parcels (orders), lines and units for that location, shipped or still reserved there. A
    /// line counts once however many parcels carried it and whether part of it still waits;
    /// its units are summed.
    pub async fn hourly_inflow(&mut self, periods: &[(DateTime<Utc>, DateTime<Utc>)]) -> Result<Vec<(String, Inflow)>, StorageError> {
        if periods.is_empty() {
            return Ok(Vec::new());
        }
        // From the orders placed in the periods (their index) to their lines, so a read costs
        // the weeks asked for and not every line ever shipped.
        let hour = self.utc_hour("w.placed_at");
        let within: Vec<String> = (0..periods.len()).map(|i| format!("(o.placed_at >= ${} AND o.placed_at < ${})", 2 * i + 1, 2 * i + 2)).collect();
        let within = within.join(" OR ");
        let sql = format!(
            "SELECT location, placed_hour, COUNT(DISTINCT order_id), COUNT(*), CAST(SUM(units) AS BIGINT) FROM ( \
                 SELECT w.location, {hour} AS placed_hour, w.order_id, w.line_no, SUM(w.quantity) AS units FROM ( \
                     SELECT o.placed_at, s.location, s.order_id, sl.line_no, sl.quantity FROM orders o \
                         JOIN shipments s ON s.order_id = o.id JOIN shipment_lines sl ON sl.shipment_id = s.id WHERE {within} \
                     UNION ALL SELECT o.placed_at, a.location, a.order_id, a.line_no, a.quantity FROM orders o \
                         JOIN allocations a ON a.order_id = o.id WHERE {within} \
                 ) w GROUP BY w.location, {hour}, w.order_id, w.line_no \
             ) l GROUP BY location, placed_hour"
        );
        let rows: Vec<(String, String, i64, i64, i64)> = on_engine!(self, |conn| {
            let mut query = sqlx::query_as(AssertSqlSafe(sql));
            for (from, until) in periods {
                query = query.bind(*from).bind(*until);
            }
            query.fetch_all(conn).await?
        });
        rows.into_iter()
            .map(|(location, hour, parcels, lines, units)| {
                let at = NaiveDateTime::parse_from_str(&format!("{hour}:00"), "%Y-%m-%dT%H:%M").map_err(|_| corrupt("an hour that is not YYYY-MM-DDTHH"))?;
                Ok((location, Inflow { hour: at.and_utc(), work: Work { parcels, lines, units } }))
            })
            .collect()
    }

    /// When each location was set up.
    pub async fn location_created_at(&mut self) -> Result<Vec<(String, DateTime<Utc>)>, StorageError> {
        let sql = "SELECT code, created_at FROM locations ORDER BY code";
        Ok(on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?))
    }

    /// Per location, what is reserved and not yet shipped: its parcels, lines and units.
    pub async fn unshipped_work(&mut self) -> Result<Vec<(String, Work)>, StorageError> {
        let sql = "SELECT a.location, COUNT(DISTINCT a.order_id), COUNT(*), CAST(SUM(a.quantity) AS BIGINT) FROM allocations a \
                   JOIN orders o ON o.id = a.order_id WHERE o.status <> 'cancelled' GROUP BY a.location";
        let rows: Vec<(String, i64, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(location, parcels, lines, units)| (location, Work { parcels, lines, units })).collect())
    }

    /// What each location's people can do, where it was set.
    pub async fn location_capacities(&mut self) -> Result<Vec<(String, Capacity)>, StorageError> {
        let sql = "SELECT location, lines_per_person_hour, people, shift_hours FROM location_capacity ORDER BY location";
        let rows: Vec<(String, i64, i64, i64)> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        Ok(rows.into_iter().map(|(l, rate, people, hours)| (l, Capacity { lines_per_person_hour: rate, people, shift_hours: hours })).collect())
    }

    pub async fn set_location_capacity(&mut self, location: &str, capacity: Capacity) -> Result<(), StorageError> {
        let sql = "INSERT INTO location_capacity (location, lines_per_person_hour, people, shift_hours) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (location) DO UPDATE SET lines_per_person_hour = $2, people = $3, shift_hours = $4";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(location)
            .bind(capacity.lines_per_person_hour)
            .bind(capacity.people)
            .bind(capacity.shift_hours)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }
}

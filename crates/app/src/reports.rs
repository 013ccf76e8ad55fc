//! The operating figures: fill rate, shipping on time, backlog, blocked orders, exceptions by
//! owner, channel sync and margin, each now and day by day over the last thirty days, with
//! orders and revenue by channel per day. The arithmetic is in [`ordo_domain::kpi`]; this
//! gathers the daily counts and keeps the levels as Prometheus gauges.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use ordo_domain::access::Role;
use ordo_domain::exception::ExceptionKind;
use ordo_domain::kpi::{self, Flow, TREND_DAYS};
use ordo_domain::ledger::Margin;
use ordo_domain::money::Total;
use ordo_domain::order::OrderStatus;
use ordo_domain::Currency;
use ordo_storage::DayFlow;

use crate::{AppResult, Reports};

/// Orders not yet on their way: the backlog to ship.
pub const BACKLOG: [OrderStatus; 6] = [
    OrderStatus::Received,
    OrderStatus::Validated,
    OrderStatus::OnHold,
    OrderStatus::Allocated,
    OrderStatus::Backordered,
    OrderStatus::PartiallyShipped,
];

/// Orders that cannot move without someone: held for review, or waiting for stock.
pub const BLOCKED: [OrderStatus; 2] = [OrderStatus::OnHold, OrderStatus::Backordered];

/// Exceptions that say a channel and Ordo are out of step.
pub const SYNC_KINDS: [ExceptionKind; 3] = [ExceptionKind::SyncFailure, ExceptionKind::SyncLag, ExceptionKind::ChannelMapping];

/// A share, in basis points: over the whole window and per day (none on a day with nothing to
/// measure).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rate {
    pub value_bp: Option<i64>,
    pub trend_bp: Vec<Option<i64>>,
}

/// A count of things waiting: now, and at the end of each day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    pub value: i64,
    pub trend: Vec<i64>,
}

/// One role's queue of unresolved exceptions: those of the kinds it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerQueue {
    pub role: Role,
    pub unresolved: i64,
    pub overdue: i64,
}

/// One channel's orders received and revenue booked per day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelDays {
    pub channel: String,
    pub orders: Vec<i64>,
    /// Sales and shipping income in base currency minor units.
    pub revenue: Vec<Total>,
}

/// The figures of [`Reports::kpis`].
#[derive(Debug, Clone)]
pub struct Kpis {
    pub as_of: DateTime<Utc>,
    /// Base currency, of the margin and revenue.
    pub currency: Currency,
    /// The UTC days of every trend, oldest first; the last is today.
    pub days: Vec<NaiveDate>,
    /// Orders with every unit reserved when first routed.
    pub fill_rate: Rate,
    /// Orders fully shipped by their ship-by time.
    pub sla_adherence: Rate,
    pub backlog: Level,
    pub blocked: Level,
    pub exceptions: Level,
    /// Every owning role with unresolved exceptions, in [`Role::ALL`] order.
    pub exceptions_by_owner: Vec<OwnerQueue>,
    /// Unresolved exceptions of the [`SYNC_KINDS`].
    pub sync_problems: Level,
    pub margin: Margin,
    pub margin_bp: Rate,
    pub channels: Vec<ChannelDays>,
}

impl Reports<'_> {
    /// The operating figures now, with their trend over the last [`TREND_DAYS`] days, and the
    /// levels set as Prometheus gauges.
    pub async fn kpis(self) -> AppResult<Kpis> {
        let now = self.now();
        let days = kpi::trend_days(now.date_naive(), TREND_DAYS);
        let from = days.first().map_or(now, |day| Utc.from_utc_datetime(&day.and_time(chrono::NaiveTime::MIN)));
        let mut tx = self.db.read().await?;

        let statuses = tx.order_status_counts().await?;
        let level_now = |set: &[OrderStatus]| statuses.iter().filter(|(s, _)| set.contains(s)).map(|(_, n)| n).sum::<i64>();
        let backlog_flows = flows(tx.order_status_flows(&BACKLOG, from).await?);
        let blocked_flows = flows(tx.order_status_flows(&BLOCKED, from).await?);
        let backlog = Level { value: level_now(&BACKLOG), trend: kpi::levels(&days, level_now(&BACKLOG), &backlog_flows) };
        let blocked = Level { value: level_now(&BLOCKED), trend: kpi::levels(&days, level_now(&BLOCKED), &blocked_flows) };

        let shares = |rows: Vec<(NaiveDate, i64, i64)>| {
            let counts: BTreeMap<NaiveDate, (i64, i64)> = rows.into_iter().map(|(day, part, whole)| (day, (part, whole))).collect();
            let (value_bp, trend_bp) = kpi::daily_shares(&days, &counts);
            Rate { value_bp, trend_bp }
        };
        let fill_rate = shares(tx.first_reservations(from).await?);
        let sla_adherence = shares(tx.shipped_on_time(from).await?);

        let unresolved = tx.unresolved_by_kind(now).await?;
        let exception_days = tx.exception_days(from).await?;
        let exception_level = |kinds: Option<&[ExceptionKind]>| {
            let wanted = |kind: &str| kinds.is_none_or(|kinds| kinds.iter().any(|k| k.as_str() == kind));
            let value = unresolved.iter().filter(|u| wanted(&u.kind)).map(|u| u.unresolved).sum::<i64>();
            let mut by_day: BTreeMap<NaiveDate, Flow> = BTreeMap::new();
            for d in exception_days.iter().filter(|d| wanted(&d.kind)) {
                let flow = by_day.entry(d.day).or_default();
                flow.entered += d.raised;
                flow.left += d.resolved;
            }
            Level { value, trend: kpi::levels(&days, value, &by_day) }
        };
        let exceptions = exception_level(None);
        let sync_problems = exception_level(Some(&SYNC_KINDS));
        let mut owners: Vec<OwnerQueue> = Role::ALL.into_iter().map(|role| OwnerQueue { role, unresolved: 0, overdue: 0 }).collect();
        for u in &unresolved {
            let role = ExceptionKind::parse("kind", &u.kind).map_or(Role::Admin, ExceptionKind::owner_role);
            if let Some(queue) = owners.iter_mut().find(|q| q.role == role) {
                queue.unresolved += u.unresolved;
                queue.overdue += u.overdue;
            }
        }
        owners.retain(|q| q.unresolved > 0);

        let received = tx.orders_received(from).await?;
        let totals = tx.channel_day_account_totals(from, now + chrono::Duration::seconds(1)).await?;
        let margins = kpi::daily_margins(&days, &totals);
        let index: BTreeMap<NaiveDate, usize> = days.iter().enumerate().map(|(i, day)| (*day, i)).collect();
        let mut channels: BTreeMap<String, ChannelDays> = BTreeMap::new();
        let blank = |name: &str| ChannelDays { channel: name.to_owned(), orders: vec![0; days.len()], revenue: vec![0; days.len()] };
        for (day, name, n) in &received {
            if let Some(i) = index.get(day) {
                channels.entry(name.clone()).or_insert_with(|| blank(name)).orders[*i] += n;
            }
        }
        for (name, revenue) in &margins.revenue_by_channel {
            channels.entry(name.clone()).or_insert_with(|| blank(name)).revenue = revenue.clone();
        }

        let kpis = Kpis {
            as_of: now,
            currency: self.settings.base_currency,
            fill_rate,
            sla_adherence,
            backlog,
            blocked,
            exceptions,
            exceptions_by_owner: owners,
            sync_problems,
            margin_bp: Rate { value_bp: margins.total.margin_bp(), trend_bp: margins.trend_bp },
            margin: margins.total,
            channels: channels.into_values().collect(),
            days,
        };
        set_gauges(&kpis);
        Ok(kpis)
    }
}

fn flows(rows: Vec<DayFlow>) -> BTreeMap<NaiveDate, Flow> {
    rows.into_iter().map(|f| (f.day, Flow { entered: f.entered, left: f.left })).collect()
}

/// The levels as gauges, for alerting from Prometheus.
fn set_gauges(kpis: &Kpis) {
    metrics::gauge!("ordo_orders_backlog").set(kpis.backlog.value as f64);
    metrics::gauge!("ordo_orders_blocked").set(kpis.blocked.value as f64);
    metrics::gauge!("ordo_channel_sync_problems").set(kpis.sync_problems.value as f64);
    for role in Role::ALL {
        let queue = kpis.exceptions_by_owner.iter().find(|q| q.role == role);
        let labels = [("owner", role.as_str())];
        metrics::gauge!("ordo_exceptions_unresolved", &labels).set(queue.map_or(0, |q| q.unresolved) as f64);
        metrics::gauge!("ordo_exceptions_overdue", &labels).set(queue.map_or(0, |q| q.overdue) as f64);
    }
}

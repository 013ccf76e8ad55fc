//! The operating figures: fill rate, shipping on time, backlog, blocked orders, exceptions by
//! owner, channel sync and margin, each now and day by day over the last thirty days, with
//! orders and revenue by channel per day, and what waits in each role's own queues. The arithmetic is in [`ordo_domain::kpi`]; this
//! gathers the daily counts and keeps the levels as Prometheus gauges.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use ordo_domain::access::Role;
use ordo_domain::connector::ConnectionState;
use ordo_domain::exception::ExceptionKind;
use ordo_domain::kpi::{self, Flow, QueueCount, WorkQueue, TREND_DAYS};
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
        let since = days.first().copied().unwrap_or_else(|| now.date_naive());
        let from = Utc.from_utc_datetime(&since.and_time(chrono::NaiveTime::MIN));
        let mut tx = self.db.read().await?;

        let statuses = tx.order_status_counts().await?;
        let level_now = |set: &[OrderStatus]| statuses.iter().filter(|(s, _)| set.contains(s)).map(|(_, n)| n).sum::<i64>();
        let backlog_flows = flows(tx.order_status_flows(&BACKLOG, since).await?);
        let blocked_flows = flows(tx.order_status_flows(&BLOCKED, since).await?);
        let backlog = Level { value: level_now(&BACKLOG), trend: kpi::levels(&days, level_now(&BACKLOG), &backlog_flows) };
        let blocked = Level { value: level_now(&BLOCKED), trend: kpi::levels(&days, level_now(&BLOCKED), &blocked_flows) };

        let shares = |rows: Vec<(NaiveDate, i64, i64)>| {
            let counts: BTreeMap<NaiveDate, (i64, i64)> = rows.into_iter().map(|(day, part, whole)| (day, (part, whole))).collect();
            let (value_bp, trend_bp) = kpi::daily_shares(&days, &counts);
            Rate { value_bp, trend_bp }
        };
        let fill_rate = shares(tx.first_reservations(since).await?);
        let sla_adherence = shares(tx.shipped_on_time(since).await?);

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

        let received = tx.orders_received(since).await?;
        let totals = tx.channel_day_account_totals(since).await?;
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

impl Reports<'_> {
    /// Folds the daily order-event counts and channel journal totals the trends read into a
    /// row per day and key; the rows folded. Run now and then (`ordo serve` does, every
    /// minute): the figures are the same either way, and read faster after.
    pub async fn fold_daily_totals(self) -> AppResult<u64> {
        let mut tx = self.db.write().await?;
        let folded = tx.fold_order_event_days().await? + tx.fold_journal_days().await?;
        tx.commit().await?;
        Ok(folded)
    }
}

impl Reports<'_> {
    /// How much waits in each queue `role` works from ([`WorkQueue::for_role`]), in that
    /// order; only those queues are counted.
    pub async fn work_queues(self, role: Role) -> AppResult<Vec<QueueCount>> {
        let queues = WorkQueue::for_role(role);
        let wants = |any: &[WorkQueue]| any.iter().any(|q| queues.contains(q));
        let now = self.now();
        let mut counts: BTreeMap<WorkQueue, i64> = BTreeMap::new();
        {
            let mut tx = self.db.read().await?;
            if wants(&[WorkQueue::LinesToPick, WorkQueue::ParcelsToPack]) {
                let work = tx.unshipped_work().await?;
                counts.insert(WorkQueue::LinesToPick, work.iter().map(|(_, w)| w.lines).sum());
                counts.insert(WorkQueue::ParcelsToPack, work.iter().map(|(_, w)| w.parcels).sum());
            }
            let sized = [WorkQueue::WavesOpen, WorkQueue::ReturnsToReceive, WorkQueue::ReturnsToInspect, WorkQueue::SkusOutOfStock];
            if wants(&sized) {
                let sizes = tx.queue_sizes().await?;
                counts.insert(WorkQueue::WavesOpen, sizes.waves_open);
                counts.insert(WorkQueue::ReturnsToReceive, sizes.returns_in_transit);
                counts.insert(WorkQueue::ReturnsToInspect, sizes.returns_received);
                counts.insert(WorkQueue::SkusOutOfStock, sizes.skus_out_of_stock);
            }
            if wants(&[WorkQueue::TicketsOpen, WorkQueue::TicketsOverdue]) {
                let (open, overdue) = tx.ticket_counts(now).await?;
                counts.insert(WorkQueue::TicketsOpen, open);
                counts.insert(WorkQueue::TicketsOverdue, overdue);
            }
            if wants(&[WorkQueue::PurchaseOrdersLate]) {
                counts.insert(WorkQueue::PurchaseOrdersLate, tx.overdue_purchase_orders(now).await?.len() as i64);
            }
            if wants(&[WorkQueue::SkusToReorder]) {
                let skus: std::collections::BTreeSet<String> = tx.proposals(Some("proposed")).await?.into_iter().map(|p| p.sku).collect();
                counts.insert(WorkQueue::SkusToReorder, skus.len() as i64);
            }
            if wants(&[WorkQueue::LateShipments, WorkQueue::ReconciliationBreaks, WorkQueue::PaymentReviews]) {
                let unresolved = tx.unresolved_by_kind(now).await?;
                let of = |kind: ExceptionKind| unresolved.iter().filter(|u| u.kind == kind.as_str()).map(|u| u.unresolved).sum::<i64>();
                counts.insert(WorkQueue::LateShipments, of(ExceptionKind::LateShipment));
                counts.insert(WorkQueue::ReconciliationBreaks, of(ExceptionKind::Reconciliation));
                counts.insert(WorkQueue::PaymentReviews, of(ExceptionKind::PaymentReview));
            }
        }
        if wants(&[WorkQueue::DeliveriesWaiting, WorkQueue::ChannelsFailing]) {
            let connections = self.channels().channel_connections().await?;
            counts.insert(WorkQueue::DeliveriesWaiting, connections.iter().map(|c| c.failed).sum());
            counts.insert(WorkQueue::ChannelsFailing, connections.iter().filter(|c| c.state == ConnectionState::Failing).count() as i64);
        }
        let counted: Vec<QueueCount> = queues.into_iter().map(|queue| QueueCount { queue, count: counts.get(&queue).copied().unwrap_or(0) }).collect();
        for q in &counted {
            metrics::gauge!("ordo_work_queue", &[("queue", q.queue.as_str())]).set(q.count as f64);
        }
        Ok(counted)
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

/// The span an operating review covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewPeriod {
    /// The last 7 days: backlog, stock exceptions, return reasons, supplier delays,
    /// reconciliation issues.
    Week,
    /// The last 30 days: profitability by channel, forecast accuracy, service performance,
    /// process compliance.
    Month,
}

impl ReviewPeriod {
    pub fn parse(field: &str, text: &str) -> Result<ReviewPeriod, ordo_domain::FieldError> {
        match text {
            "week" => Ok(ReviewPeriod::Week),
            "month" => Ok(ReviewPeriod::Month),
            _ => Err(ordo_domain::FieldError::new(field, "must be week or month")),
        }
    }

    pub fn days(self) -> u32 {
        match self {
            ReviewPeriod::Week => 7,
            ReviewPeriod::Month => 30,
        }
    }
}

/// Exceptions of some kinds over a period: raised in it, and unresolved at its end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RaisedAndOpen {
    pub raised: i64,
    pub unresolved: i64,
}

/// The operating review: what the business looks at once a week and once a month.
#[derive(Debug, Clone)]
pub struct Review {
    pub period: ReviewPeriod,
    /// Both days included; `to` is today.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub currency: Currency,
    // Weekly.
    pub backlog_at_start: i64,
    pub backlog_now: i64,
    pub blocked_now: i64,
    pub stock_exceptions: RaisedAndOpen,
    pub supplier_delays: RaisedAndOpen,
    pub reconciliation: RaisedAndOpen,
    pub returns: ordo_domain::returns::ReturnReport,
    // Monthly.
    pub profitability: Vec<Margin>,
    /// None when no SKU had history enough to score.
    pub forecast: Option<crate::procurement::AccuracyReport>,
    pub fill_rate_bp: Option<i64>,
    pub sla_bp: Option<i64>,
    /// Changes approved by a second person, and made by one.
    pub compliance: (i64, i64),
    /// Exceptions resolved in the period, and of them within their first SLA.
    pub exceptions_in_time: (i64, i64),
}

impl Reports<'_> {
    /// The operating review for the `period` that ends today.
    pub async fn review(self, period: ReviewPeriod) -> AppResult<Review> {
        let now = self.now();
        let to = now.date_naive();
        let from = to - chrono::Duration::days(i64::from(period.days()) - 1);
        let start = Utc.from_utc_datetime(&from.and_time(chrono::NaiveTime::MIN));
        let kpis = self.kpis().await?;
        let before_start = kpis.backlog.trend.len().saturating_sub(period.days() as usize + 1);
        let (days, unresolved, actions, in_time, filled, on_time) = {
            let mut tx = self.db.read().await?;
            (
                tx.exception_days(start).await?,
                tx.unresolved_by_kind(now).await?,
                tx.audit_actions_since(start).await?,
                tx.exceptions_resolved_in_time(start).await?,
                tx.first_reservations(from).await?,
                tx.shipped_on_time(from).await?,
            )
        };
        // A share over the whole period: every day's parts over every day's wholes.
        let share = |rows: &[(NaiveDate, i64, i64)]| kpi::share_bp(rows.iter().map(|r| r.1).sum(), rows.iter().map(|r| r.2).sum());
        let of = |kinds: &[ExceptionKind]| {
            let wanted = |kind: &str| kinds.iter().any(|k| k.as_str() == kind);
            RaisedAndOpen {
                raised: days.iter().filter(|d| wanted(&d.kind)).map(|d| d.raised).sum(),
                unresolved: unresolved.iter().filter(|u| wanted(&u.kind)).map(|u| u.unresolved).sum(),
            }
        };
        let books = crate::Period { from: Some(from), to: Some(to) };
        let returns = self.returns().return_report(books).await?;
        let (profitability, forecast) = match period {
            ReviewPeriod::Week => (Vec::new(), None),
            ReviewPeriod::Month => {
                let (_, margins) = self.ledger().profitability_by_channel(books).await?;
                let forecast = self.procurement().forecast_accuracy(28).await.ok().filter(|report| report.scored > 0);
                (margins, forecast)
            }
        };
        Ok(Review {
            period,
            from,
            to,
            currency: self.settings.base_currency,
            backlog_at_start: kpis.backlog.trend.get(before_start).copied().unwrap_or(0),
            backlog_now: kpis.backlog.value,
            blocked_now: kpis.blocked.value,
            stock_exceptions: of(&[ExceptionKind::Stockout]),
            supplier_delays: of(&[ExceptionKind::Procurement]),
            reconciliation: of(&[ExceptionKind::Reconciliation]),
            returns,
            profitability,
            forecast,
            fill_rate_bp: share(&filled),
            sla_bp: share(&on_time),
            compliance: kpi::compliance(&actions),
            exceptions_in_time: in_time,
        })
    }
}

/// A part of the review as people read it: a title and its figures, each a label and a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewSection {
    pub title: &'static str,
    pub lines: Vec<(String, String)>,
}

fn percent_or(bp: Option<i64>, none: &str) -> String {
    bp.map_or_else(|| none.to_owned(), ordo_domain::ledger::percentage)
}

impl Review {
    /// The review's sections in the order they are read, the period's own ones only.
    pub fn sections(&self) -> Vec<ReviewSection> {
        let raised = |r: RaisedAndOpen| format!("{} raised, {} unresolved", r.raised, r.unresolved);
        match self.period {
            ReviewPeriod::Week => {
                let mut reasons: Vec<&ordo_domain::returns::ReturnRate> = self.returns.by_reason.iter().filter(|r| r.returned > 0).collect();
                reasons.sort_by(|a, b| b.returned.cmp(&a.returned).then_with(|| a.key.cmp(&b.key)));
                let mut return_lines = vec![(
                    "Units returned".to_owned(),
                    format!("{} of {} shipped ({})", self.returns.returned, self.returns.shipped, percent_or(kpi::share_bp(self.returns.returned, self.returns.shipped), "nothing shipped")),
                )];
                return_lines.extend(reasons.iter().map(|r| (r.key.replace('_', " "), format!("{} units", r.returned))));
                vec![
                    ReviewSection {
                        title: "Order backlog",
                        lines: vec![
                            ("Orders to ship".to_owned(), format!("{} now, {} a week ago", self.backlog_now, self.backlog_at_start)),
                            ("Blocked".to_owned(), format!("{} held for review or waiting for stock", self.blocked_now)),
                        ],
                    },
                    ReviewSection { title: "Stock exceptions", lines: vec![("Stockouts".to_owned(), raised(self.stock_exceptions))] },
                    ReviewSection { title: "Return reasons", lines: return_lines },
                    ReviewSection { title: "Supplier delays", lines: vec![("Purchase orders late or stock running out first".to_owned(), raised(self.supplier_delays))] },
                    ReviewSection { title: "Reconciliation issues", lines: vec![("Settlement breaks".to_owned(), raised(self.reconciliation))] },
                ]
            }
            ReviewPeriod::Month => {
                let money = |t: Total| ordo_domain::money::total_decimal(t, self.currency);
                let mut profit: Vec<(String, String)> = self
                    .profitability
                    .iter()
                    .map(|m| (m.key.clone(), format!("{} {} contribution on {} revenue ({})", money(m.contribution()), self.currency, money(m.revenue), percent_or(m.margin_bp(), "no revenue"))))
                    .collect();
                if profit.is_empty() {
                    profit.push(("Channels".to_owned(), "nothing booked".to_owned()));
                }
                let forecast = match &self.forecast {
                    Some(f) => {
                        let metric = |v: Option<f64>| v.map_or_else(|| "none".to_owned(), |v| format!("{v:.3}"));
                        let bias = f.bias.map_or_else(|| "none".to_owned(), |b| format!("{:+.1} %", b * 100.0));
                        vec![(format!("{} SKUs, last {} days held out", f.scored, f.holdout_days), format!("MASE {}, RMSSE {}, bias {bias}", metric(f.mase), metric(f.rmsse)))]
                    }
                    None => vec![("Forecasts".to_owned(), "not scored: no SKU has history enough".to_owned())],
                };
                let (approved, direct) = self.compliance;
                let (resolved, in_time) = self.exceptions_in_time;
                vec![
                    ReviewSection { title: "Profitability by channel", lines: profit },
                    ReviewSection { title: "Forecast accuracy", lines: forecast },
                    ReviewSection {
                        title: "Service performance",
                        lines: vec![
                            ("Fill rate".to_owned(), percent_or(self.fill_rate_bp, "no orders routed")),
                            ("Shipped on time".to_owned(), percent_or(self.sla_bp, "nothing shipped")),
                        ],
                    },
                    ReviewSection {
                        title: "Process compliance",
                        lines: vec![
                            (
                                "Changes approved by a second person".to_owned(),
                                format!("{approved} of {} ({})", approved + direct, percent_or(kpi::share_bp(approved, approved + direct), "no changes")),
                            ),
                            ("Exceptions solved within their SLA".to_owned(), format!("{in_time} of {resolved} ({})", percent_or(kpi::share_bp(in_time, resolved), "none solved"))),
                        ],
                    },
                ]
            }
        }
    }
}

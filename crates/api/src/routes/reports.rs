//! Reports: the operating figures with their trends, and the financial reports in base
//! currency (profit and loss, contribution by channel, an account's ledger).

use axum::extract::{Path, State};
use axum::Json;
use ordo_app::{Ordo, Period};
use ordo_domain::Currency;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::extract::{need, Authorized, ValidQuery};

pub fn routes() -> OpenApiRouter<Ordo> {
    OpenApiRouter::new().routes(routes!(kpis)).routes(routes!(profit_and_loss)).routes(routes!(profitability)).routes(routes!(general_ledger))
}

/// A period of the books, both days included; all time when absent.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PeriodQuery {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    /// What to break profitability down by: `channel` (the default), `sku` or `segment` (the
    /// customer's).
    #[param(inline, value_type = Option<super::choices::ProfitabilityBy>)]
    by: Option<String>,
}

impl PeriodQuery {
    fn period(&self) -> Period {
        Period { from: self.from, to: self.to }
    }
}

#[derive(Serialize, ToSchema)]
struct AccountAmount {
    code: String,
    name: String,
    amount: String,
}

#[derive(Serialize, ToSchema)]
struct ProfitAndLoss {
    currency: String,
    revenue: Vec<AccountAmount>,
    expenses: Vec<AccountAmount>,
    total_revenue: String,
    total_expenses: String,
    net_income: String,
}

fn decimal(minor: impl Into<ordo_domain::money::Total>, currency: Currency) -> String {
    ordo_domain::money::total_decimal(minor.into(), currency)
}

/// Revenue and expense accounts over the period, with the net income.
#[utoipa::path(get, path = "/api/v1/reports/profit-and-loss", security(("bearer" = ["ledger.read"])), tag = "ledger", params(PeriodQuery),
    responses((status = 200, body = ProfitAndLoss), (status = "4XX", body = ErrorBody)))]
async fn profit_and_loss(
    State(ordo): State<Ordo>,
    _: Authorized<need::LedgerRead>,
    ValidQuery(query): ValidQuery<PeriodQuery>,
) -> Result<Json<ProfitAndLoss>, ApiError> {
    let (currency, report) = ordo.ledger().profit_and_loss(query.period()).await?;
    let rows = |rows: &[(String, String, ordo_domain::money::Total)]| {
        rows.iter().map(|(code, name, amount)| AccountAmount { code: code.clone(), name: name.clone(), amount: decimal(*amount, currency) }).collect()
    };
    Ok(Json(ProfitAndLoss {
        currency: currency.code().to_owned(),
        revenue: rows(&report.revenue),
        expenses: rows(&report.expenses),
        total_revenue: decimal(report.total_revenue(), currency),
        total_expenses: decimal(report.total_expenses(), currency),
        net_income: decimal(report.net_income(), currency),
    }))
}

#[derive(Serialize, ToSchema)]
struct Margin {
    /// The channel, the SKU or the customer segment.
    key: String,
    revenue: String,
    refunds: String,
    cost_of_goods: String,
    fees: String,
    shipping_cost: String,
    contribution: String,
    /// Contribution as a percentage of revenue, two decimals; none without revenue.
    margin_percent: Option<String>,
}

#[derive(Serialize, ToSchema)]
struct Profitability {
    currency: String,
    /// `channel`, `sku` or `segment`.
    by: String,
    rows: Vec<Margin>,
}

/// Contribution margin by channel or by SKU over the period: revenue less refunds, cost of
/// goods, fees and shipping cost.
#[utoipa::path(get, path = "/api/v1/reports/profitability", security(("bearer" = ["ledger.read"])), tag = "ledger", params(PeriodQuery),
    responses((status = 200, body = Profitability), (status = "4XX", body = ErrorBody)))]
async fn profitability(
    State(ordo): State<Ordo>,
    _: Authorized<need::LedgerRead>,
    ValidQuery(query): ValidQuery<PeriodQuery>,
) -> Result<Json<Profitability>, ApiError> {
    let by = query.by.clone().unwrap_or_else(|| "channel".to_owned());
    let (currency, margins) = match by.as_str() {
        "channel" => ordo.ledger().profitability_by_channel(query.period()).await?,
        "sku" => ordo.ledger().profitability_by_sku(query.period()).await?,
        "segment" => ordo.ledger().profitability_by_segment(query.period()).await?,
        other => {
            let error = ordo_domain::FieldError::new("by", format!("{other:?} is not a breakdown Ordo offers: use channel, sku or segment"));
            return Err(ordo_app::AppError::Invalid(error).into());
        }
    };
    let rows = margins
        .into_iter()
        .map(|m| Margin {
            revenue: decimal(m.revenue, currency),
            refunds: decimal(m.refunds, currency),
            cost_of_goods: decimal(m.cost_of_goods, currency),
            fees: decimal(m.fees, currency),
            shipping_cost: decimal(m.shipping_cost, currency),
            contribution: decimal(m.contribution(), currency),
            margin_percent: m.margin_bp().map(ordo_domain::ledger::percent),
            key: m.key,
        })
        .collect();
    Ok(Json(Profitability { currency: currency.code().to_owned(), by, rows }))
}

/// A period and a page of an account's lines.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct LedgerQuery {
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    /// At most 5000; 500 when absent.
    #[param(minimum = 1, maximum = 5000)]
    limit: Option<i64>,
    #[param(minimum = 0)]
    offset: Option<i64>,
}

#[derive(Serialize, ToSchema)]
struct LedgerLine {
    posted_at: chrono::DateTime<chrono::Utc>,
    /// The event that caused the entry, such as `shipment:…` or `settlement:…`.
    source: String,
    memo: String,
    debit: String,
    credit: String,
    /// Debits less credits after this line.
    balance: String,
}

#[derive(Serialize, ToSchema)]
struct GeneralLedger {
    code: String,
    name: String,
    currency: String,
    /// Debits less credits before the first line shown.
    opening: String,
    lines: Vec<LedgerLine>,
    closing: String,
}

/// One account's general ledger over the period: the opening balance, each line with its
/// source and the running balance, and the closing balance.
#[utoipa::path(get, path = "/api/v1/ledger/accounts/{code}", security(("bearer" = ["ledger.read"])), tag = "ledger", params(("code" = String, Path), LedgerQuery),
    responses((status = 200, body = GeneralLedger), (status = "4XX", body = ErrorBody)))]
async fn general_ledger(
    State(ordo): State<Ordo>,
    _: Authorized<need::LedgerRead>,
    Path(code): Path<String>,
    ValidQuery(query): ValidQuery<LedgerQuery>,
) -> Result<Json<GeneralLedger>, ApiError> {
    let limit = ordo_domain::field::bounded("limit", query.limit.unwrap_or(500), 1, 5_000).map_err(ordo_app::AppError::Invalid)?;
    let offset = ordo_domain::field::bounded("offset", query.offset.unwrap_or(0), 0, i64::MAX).map_err(ordo_app::AppError::Invalid)?;
    let ledger = ordo.ledger().account_ledger(&code, Period { from: query.from, to: query.to }, limit, offset).await?;
    let currency = ordo.settings().base_currency;
    let closing = ledger.lines.last().map_or(ledger.opening, |l| l.balance);
    Ok(Json(GeneralLedger {
        currency: currency.code().to_owned(),
        opening: decimal(ledger.opening, currency),
        closing: decimal(closing, currency),
        lines: ledger
            .lines
            .into_iter()
            .map(|l| LedgerLine {
                posted_at: l.posted_at,
                debit: decimal(l.debit, currency),
                credit: decimal(l.credit, currency),
                balance: decimal(l.balance, currency),
                source: l.source,
                memo: l.memo,
            })
            .collect(),
        code: ledger.code,
        name: ledger.name,
    }))
}

/// A share as a percentage with two decimals, now (over the whole window) and per day.
#[derive(Serialize, ToSchema)]
struct RateFigure {
    /// Over the last 30 days; none when there was nothing to measure.
    percent: Option<String>,
    /// Per day, oldest first, as `days`; none on a day with nothing to measure.
    trend: Vec<Option<String>>,
}

impl From<ordo_app::Rate> for RateFigure {
    fn from(rate: ordo_app::Rate) -> RateFigure {
        let percent = |bp: Option<i64>| bp.map(ordo_domain::ledger::percent);
        RateFigure { percent: percent(rate.value_bp), trend: rate.trend_bp.into_iter().map(percent).collect() }
    }
}

/// A count of things waiting: now and at the end of each day.
#[derive(Serialize, ToSchema)]
struct LevelFigure {
    now: i64,
    /// At the end of each day, oldest first, as `days`.
    trend: Vec<i64>,
}

impl From<ordo_app::Level> for LevelFigure {
    fn from(level: ordo_app::Level) -> LevelFigure {
        LevelFigure { now: level.value, trend: level.trend }
    }
}

/// Unresolved exceptions of the kinds one role owns.
#[derive(Serialize, ToSchema)]
struct OwnerQueue {
    role: ordo_domain::access::Role,
    unresolved: i64,
    /// Past their due time.
    overdue: i64,
}

/// Contribution margin: revenue less refunds, cost of goods, fees and shipping cost.
#[derive(Serialize, ToSchema)]
struct MarginFigure {
    revenue: String,
    contribution: String,
    percent: Option<String>,
    trend: Vec<Option<String>>,
}

/// What waits in one of the caller's role's own queues.
#[derive(Serialize, ToSchema)]
struct WorkQueueCount {
    /// lines_to_pick, parcels_to_pack, waves_open, late_shipments (warehouse); tickets_open,
    /// tickets_overdue, returns_to_receive, returns_to_inspect (service); purchase_orders_late,
    /// skus_out_of_stock, skus_to_reorder (procurement); reconciliation_breaks, payment_reviews
    /// (finance); deliveries_waiting, channels_failing (integration).
    queue: String,
    /// The role whose work it is.
    role: ordo_domain::access::Role,
    count: i64,
}

/// One channel per day.
#[derive(Serialize, ToSchema)]
struct ChannelDays {
    channel: String,
    /// Orders received per day, as `days`.
    orders: Vec<i64>,
    /// Sales and shipping income booked per day, in `currency`; absent without `ledger.read`.
    #[serde(skip_serializing_if = "Option::is_none")]
    revenue: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
struct Kpis {
    as_of: chrono::DateTime<chrono::Utc>,
    currency: String,
    /// The UTC days of every trend, oldest first; the last is today.
    days: Vec<chrono::NaiveDate>,
    /// Orders with every unit reserved when first routed (held orders when released).
    fill_rate: RateFigure,
    /// Orders fully shipped by their ship-by time.
    sla_adherence: RateFigure,
    /// Orders not yet shipped or cancelled.
    backlog: LevelFigure,
    /// Orders held for review or waiting for stock.
    blocked_orders: LevelFigure,
    /// Unresolved exceptions.
    exceptions: LevelFigure,
    /// Unresolved exceptions by the role that owns their kind.
    exceptions_by_owner: Vec<OwnerQueue>,
    /// Unresolved sync_failure, sync_lag and channel_mapping exceptions.
    sync_problems: LevelFigure,
    /// Absent without `ledger.read`.
    #[serde(skip_serializing_if = "Option::is_none")]
    margin: Option<MarginFigure>,
    channels: Vec<ChannelDays>,
    /// The caller's role's own queues: an administrator's every one, operations' all but
    /// finance's, a viewer's none.
    queues: Vec<WorkQueueCount>,
}

/// The operating figures now and per day over the last 30 days: fill rate, shipping on time,
/// backlog, blocked orders, exceptions by owner, channel sync problems, margin, and orders and
/// revenue by channel, and what waits in the caller's role's own queues. Margin and revenue
/// need `ledger.read`.
#[utoipa::path(get, path = "/api/v1/reports/kpis", security(("bearer" = ["orders.read"])), tag = "reports",
    responses((status = 200, body = Kpis), (status = "4XX", body = ErrorBody)))]
async fn kpis(State(ordo): State<Ordo>, who: Authorized<need::OrdersRead>) -> Result<Json<Kpis>, ApiError> {
    let figures = ordo.reports().kpis().await?;
    let queues = ordo.reports().work_queues(who.actor.role).await?;
    let currency = figures.currency;
    let books = who.actor.can(ordo_domain::access::Permission::LedgerRead);
    let margin = books.then(|| MarginFigure {
        revenue: decimal(figures.margin.revenue, currency),
        contribution: decimal(figures.margin.contribution(), currency),
        percent: figures.margin_bp.value_bp.map(ordo_domain::ledger::percent),
        trend: figures.margin_bp.trend_bp.iter().map(|bp| bp.map(ordo_domain::ledger::percent)).collect(),
    });
    Ok(Json(Kpis {
        as_of: figures.as_of,
        currency: currency.code().to_owned(),
        days: figures.days,
        fill_rate: figures.fill_rate.into(),
        sla_adherence: figures.sla_adherence.into(),
        backlog: figures.backlog.into(),
        blocked_orders: figures.blocked.into(),
        exceptions: figures.exceptions.into(),
        exceptions_by_owner: figures.exceptions_by_owner.into_iter().map(|q| OwnerQueue { role: q.role, unresolved: q.unresolved, overdue: q.overdue }).collect(),
        sync_problems: figures.sync_problems.into(),
        margin,
        channels: figures
            .channels
            .into_iter()
            .map(|c| ChannelDays {
                revenue: books.then(|| c.revenue.iter().map(|r| decimal(*r, currency)).collect()),
                channel: c.channel,
                orders: c.orders,
            })
            .collect(),
        queues: queues.into_iter().map(|q| WorkQueueCount { queue: q.queue.as_str().to_owned(), role: q.queue.owner(), count: q.count }).collect(),
    }))
}

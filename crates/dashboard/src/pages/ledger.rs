//! The books: the trial balance in base currency, whether they hold, profit and loss,
//! contribution by channel with its chart, and the marketplace settlements with how far each
//! reconciled.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::NaiveDate;
use ordo_domain::money::{total_decimal, Total};
use ordo_domain::FieldError;
use serde::Deserialize;

use super::{Layout, Page};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::session::Session;

/// One account's row, formatted; zero sides left blank.
struct AccountRow {
    code: String,
    name: String,
    debit: String,
    credit: String,
}

/// One imported settlement's row.
struct SettlementRow {
    channel: String,
    external_id: String,
    deposit_date: String,
    total: String,
    currency: String,
    lines: i64,
    matched: i64,
    unmatched: i64,
    exceptions: i64,
    reconciled: bool,
}

/// One channel's contribution, formatted, with its bars in the chart.
struct MarginRow {
    /// The channel, SKU or customer segment.
    key: String,
    revenue: String,
    refunds: String,
    cost_of_goods: String,
    fees: String,
    contribution: String,
    margin_percent: String,
    /// Bar widths in the chart's units (0 to [`CHART_WIDTH`]).
    revenue_bar: i64,
    contribution_bar: i64,
    /// Where the row's bars sit in the chart.
    y: i64,
}

/// How wide the longest bar is, in the SVG's user units.
const CHART_WIDTH: i64 = 480;
const ROW_HEIGHT: i64 = 34;

/// Rows of the contribution table and chart: bars scaled to the largest revenue, a loss drawn
/// as no bar (its figure still says it).
fn margin_rows(margins: Vec<ordo_domain::ledger::Margin>, currency: ordo_domain::Currency) -> Vec<MarginRow> {
    let widest = margins.iter().map(|m| m.revenue.max(0)).max().unwrap_or(0).max(1);
    let bar = |minor: Total| (minor.max(0) * Total::from(CHART_WIDTH) / widest) as i64;
    let decimal = |minor: Total| total_decimal(minor, currency);
    margins
        .into_iter()
        .enumerate()
        .map(|(i, m)| MarginRow {
            revenue: decimal(m.revenue),
            refunds: decimal(m.refunds),
            cost_of_goods: decimal(m.cost_of_goods),
            fees: decimal(m.fees),
            contribution: decimal(m.contribution()),
            margin_percent: m.margin_bp().map(ordo_domain::ledger::percent).map_or_else(String::new, |p| format!("{p} %")),
            revenue_bar: bar(m.revenue),
            contribution_bar: bar(m.contribution()),
            y: i as i64 * ROW_HEIGHT,
            key: m.key,
        })
        .collect()
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage {
    layout: Layout,
    currency: String,
    accounts: Vec<AccountRow>,
    total_debit: String,
    total_credit: String,
    /// Every entry balances and the inventory account equals stock at cost.
    holds: bool,
    inventory_account: String,
    valued_stock: String,
    settlements: Vec<SettlementRow>,
    margins: Vec<MarginRow>,
    /// What contribution is broken down by: channel, segment or sku.
    by: String,
    /// The period profit and loss and contribution cover, as the form shows it.
    from: String,
    to: String,
    period: String,
    /// Profit and loss over the period: (code, name, amount) per revenue and expense account.
    revenue: Vec<(String, String, String)>,
    expenses: Vec<(String, String, String)>,
    net_income: String,
    chart_width: i64,
    chart_height: i64,
}

/// An amount in the base currency, blank when zero so the table reads like a ledger.
fn amount(minor: impl Into<Total>, currency: ordo_domain::Currency) -> String {
    let minor = minor.into();
    if minor == 0 { String::new() } else { total_decimal(minor, currency) }
}

#[derive(Debug, Deserialize)]
pub(crate) struct PeriodQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    /// What contribution is broken down by: channel (the default), segment or sku.
    #[serde(default)]
    by: Option<String>,
    /// `csv` for the trial balance as a file.
    #[serde(default)]
    format: Option<String>,
}

/// The most SKUs the contribution chart shows: those with the most revenue.
const TOP_SKUS: usize = 15;

/// The period from the form's dates (`YYYY-MM-DD`, either may be empty), and how to say it.
fn period(from: &str, to: &str) -> Result<(ordo_app::Period, String), FieldError> {
    let day = |field: &str, text: &str| -> Result<Option<NaiveDate>, FieldError> {
        match text.trim() {
            "" => Ok(None),
            text => NaiveDate::parse_from_str(text, "%Y-%m-%d").map(Some).map_err(|_| FieldError::new(field, "must be a date such as 2026-11-01")),
        }
    };
    let (from, to) = (day("from", from)?, day("to", to)?);
    if let (Some(from), Some(to)) = (from, to)
        && to < from
    {
        return Err(FieldError::new("to", "must not be before from"));
    }
    let said = match (from, to) {
        (None, None) => "all time".to_owned(),
        (Some(from), None) => format!("from {from}"),
        (None, Some(to)) => format!("up to {to}"),
        (Some(from), Some(to)) => format!("{from} to {to}"),
    };
    Ok((ordo_app::Period { from, to }, said))
}

pub(crate) async fn trial_balance(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<PeriodQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Ledger)?;
    let query = layout.query(query)?;
    let (from, to) = (query.from.unwrap_or_default(), query.to.unwrap_or_default());
    let (chosen, said) = period(&from, &to).map_err(|e| layout.fail(e))?;
    let balance = dashboard.ordo.ledger().trial_balance().await.map_err(|e| layout.fail(e))?;
    if query.format.as_deref() == Some("csv") {
        let currency = balance.currency;
        let rows = balance.accounts.into_iter().map(|a| {
            let (debit, credit) = a.balance_sides();
            vec![a.code, a.name, currency.code().to_owned(), total_decimal(debit, currency), total_decimal(credit, currency)]
        });
        return Ok(super::csv_file("trial-balance.csv", super::csv_rows(&["account", "name", "currency", "debit", "credit"], rows)));
    }
    let check = dashboard.ordo.ledger().check_ledger().await.map_err(|e| layout.fail(e))?;
    let settlements = dashboard.ordo.settlements().list().await.map_err(|e| layout.fail(e))?;
    let by = query.by.as_deref().map(str::trim).filter(|b| !b.is_empty()).unwrap_or("channel").to_owned();
    let (_, mut margins) = match by.as_str() {
        "channel" => dashboard.ordo.ledger().profitability_by_channel(chosen).await,
        "segment" => dashboard.ordo.ledger().profitability_by_segment(chosen).await,
        "sku" => dashboard.ordo.ledger().profitability_by_sku(chosen).await,
        _ => return Err(layout.fail(FieldError::new("by", "must be channel, segment or sku"))),
    }
    .map_err(|e| layout.fail(e))?;
    if by == "sku" {
        margins.sort_by(|a, b| b.revenue.cmp(&a.revenue).then_with(|| a.key.cmp(&b.key)));
        margins.truncate(TOP_SKUS);
    }
    let (_, pnl) = dashboard.ordo.ledger().profit_and_loss(chosen).await.map_err(|e| layout.fail(e))?;
    let currency = balance.currency;
    let settlements = settlements
        .into_iter()
        .map(|s| SettlementRow {
            total: s.total.to_decimal_string(),
            currency: s.total.currency().code().to_owned(),
            reconciled: s.reconciled(),
            channel: s.channel,
            external_id: s.external_id,
            deposit_date: s.deposit_date.to_string(),
            lines: s.line_count,
            matched: s.matched,
            unmatched: s.unmatched,
            exceptions: s.exceptions,
        })
        .collect();
    // Each account's balance on its side, not its turnover: the sides' totals still agree.
    let (mut total_debit, mut total_credit) = (0, 0);
    let accounts = balance
        .accounts
        .into_iter()
        .map(|a| {
            let (debit, credit) = a.balance_sides();
            total_debit += debit;
            total_credit += credit;
            AccountRow { debit: amount(debit, currency), credit: amount(credit, currency), code: a.code, name: a.name }
        })
        .collect();
    let page = LedgerPage {
        layout,
        currency: currency.code().to_owned(),
        accounts,
        total_debit: total_decimal(total_debit, currency),
        total_credit: total_decimal(total_credit, currency),
        holds: check.holds(),
        inventory_account: total_decimal(check.inventory_account, currency),
        valued_stock: total_decimal(check.valued_stock, currency),
        settlements,
        by,
        from: from.trim().to_owned(),
        to: to.trim().to_owned(),
        period: said,
        revenue: pnl.revenue.iter().map(|(code, name, minor)| (code.clone(), name.clone(), total_decimal(*minor, currency))).collect(),
        // Expenses take from income: shown negative.
        expenses: pnl.expenses.iter().map(|(code, name, minor)| (code.clone(), name.clone(), total_decimal(-minor, currency))).collect(),
        net_income: total_decimal(pnl.net_income(), currency),
        chart_width: CHART_WIDTH + 140,
        chart_height: margins.len() as i64 * ROW_HEIGHT,
        margins: margin_rows(margins, currency),
    };
    Ok(render(StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
pub(crate) struct AccountQuery {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    page: Option<String>,
    /// `csv` for every line of the period as a file.
    #[serde(default)]
    format: Option<String>,
}

/// One line of an account's general ledger, formatted.
struct GlRow {
    posted_at: chrono::DateTime<chrono::Utc>,
    /// The record the entry came from, named and linked.
    source: crate::subjects::SubjectLink,
    memo: String,
    debit: String,
    credit: String,
    balance: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    layout: Layout,
    code: String,
    name: String,
    currency: String,
    period: String,
    from: String,
    to: String,
    opening: String,
    lines: Vec<GlRow>,
    pager: super::Pager,
    csv_href: String,
}

/// The names of the records ledger lines came from.
async fn source_names<'a>(dashboard: &Dashboard, sources: impl Iterator<Item = &'a str>) -> ordo_app::AppResult<std::collections::HashMap<String, String>> {
    let subjects: Vec<String> = sources.map(crate::subjects::ledger_subject).collect();
    dashboard.ordo.subject_names(subjects.iter().map(String::as_str)).await
}

/// The general ledger of one account over a period: its opening balance and each line with
/// the running balance, a page at a time.
pub(crate) async fn account(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
    query: Result<Query<AccountQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Ledger)?;
    let code = path.map(|axum::extract::Path(code)| code).map_err(|_| layout.fail(crate::error::Problem::NotFound))?;
    let query = layout.query(query)?;
    let (from, to) = (query.from.unwrap_or_default(), query.to.unwrap_or_default());
    let (chosen, said) = period(&from, &to).map_err(|e| layout.fail(e))?;
    let paging = super::Paging::parse(query.page.as_deref()).map_err(|e| layout.fail(e))?;
    let currency = dashboard.ordo.settings().base_currency;
    if query.format.as_deref() == Some("csv") {
        let (ledger, account) = (dashboard.ordo.ledger(), code.as_str());
        let all = super::every_page(500, |offset| async move { Ok(ledger.account_ledger(account, chosen, 500, offset).await?.lines) }).await.map_err(|e| layout.fail(e))?;
        let names = source_names(&dashboard, all.iter().map(|l| l.source.as_str())).await.map_err(|e| layout.fail(e))?;
        let rows = all.into_iter().map(|l| {
            let source = crate::subjects::ledger_source(&l.source, &names).label;
            vec![l.posted_at.to_rfc3339(), source, l.memo, total_decimal(l.debit.into(), currency), total_decimal(l.credit.into(), currency), total_decimal(l.balance, currency)]
        });
        let name = format!("account-{}.csv", code.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
        return Ok(super::csv_file(&name, super::csv_rows(&["posted_at", "source", "memo", "debit", "credit", "balance"], rows)));
    }
    let ledger = dashboard.ordo.ledger().account_ledger(&code, chosen, super::PAGE_SIZE + 1, paging.offset).await.map_err(|e| layout.fail(e))?;
    let more = ledger.lines.len() as i64 > super::PAGE_SIZE;
    let shown = ledger.lines.into_iter().take(super::PAGE_SIZE as usize).collect::<Vec<_>>();
    let names = source_names(&dashboard, shown.iter().map(|l| l.source.as_str())).await.map_err(|e| layout.fail(e))?;
    let lines: Vec<GlRow> = shown
        .into_iter()
        .map(|l| GlRow {
            debit: amount(l.debit, currency),
            credit: amount(l.credit, currency),
            balance: total_decimal(l.balance, currency),
            posted_at: l.posted_at,
            source: crate::subjects::ledger_source(&l.source, &names),
            memo: l.memo,
        })
        .collect();
    let here = format!("/dashboard/ledger/accounts/{}", crate::href::query_escape(&code));
    let pager = super::Pager::new(&here, &[("from", from.trim()), ("to", to.trim())], paging, lines.len(), super::Extent::More(more), "lines");
    let csv_href = crate::href::with_query(&here, &[("from", from.trim()), ("to", to.trim()), ("format", "csv")]);
    let layout = layout.titled(format!("Account {} {}", ledger.code, ledger.name));
    let page = AccountPage {
        layout,
        opening: total_decimal(ledger.opening, currency),
        code: ledger.code,
        name: ledger.name,
        currency: currency.code().to_owned(),
        period: said,
        from: from.trim().to_owned(),
        to: to.trim().to_owned(),
        lines,
        pager,
        csv_href,
    };
    Ok(render(StatusCode::OK, &page))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_period_is_read_from_the_forms_dates_and_said_in_words() {
        let (all, said) = super::period("", " ").unwrap();
        assert_eq!((all.from, all.to, said.as_str()), (None, None, "all time"));
        let (november, said) = super::period("2026-11-01", "2026-11-30").unwrap();
        assert_eq!((november.from.map(|d| d.to_string()), said.as_str()), (Some("2026-11-01".to_owned()), "2026-11-01 to 2026-11-30"));
        assert_eq!(super::period("2026-13-01", "").unwrap_err().field, "from");
        assert_eq!(super::period("2026-11-30", "2026-11-01").unwrap_err().field, "to");
    }

    #[test]
    fn zero_amounts_are_left_blank() {
        assert_eq!(super::amount(0, ordo_domain::Currency::USD), "");
        assert_eq!(super::amount(12345, ordo_domain::Currency::USD), "123.45");
    }

    #[test]
    fn bars_scale_to_the_largest_revenue_and_a_loss_draws_none() {
        use ordo_domain::ledger::Margin;
        let margins = vec![
            Margin { key: "amazon".into(), revenue: 10_000, cost_of_goods: 5_000, ..Margin::default() },
            Margin { key: "web".into(), revenue: 2_500, cost_of_goods: 3_000, ..Margin::default() },
        ];
        let rows = super::margin_rows(margins, ordo_domain::Currency::USD);
        assert_eq!((rows[0].revenue_bar, rows[0].contribution_bar, rows[0].margin_percent.as_str()), (480, 240, "50.00 %"));
        assert_eq!((rows[1].revenue_bar, rows[1].contribution_bar, rows[1].contribution.as_str()), (120, 0, "-5.00"));
        assert_eq!(rows[1].y, 34);
    }
}

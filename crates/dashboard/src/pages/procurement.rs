//! Procurement: exposure (value on order, projected stockouts), the proposals to approve (with
//! their quantities edited), reject, purchase orders with their receipts, sales history from
//! before Ordo imported, and one SKU's forecast drawn beside its sales.

use askama::Template;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ordo_app::{ExceptionFilter, Exposure, ProposalView, PurchaseOrder, SkuForecastView};
use ordo_domain::access::Permission;
use ordo_domain::procurement::{PoStatus, Policy};
use ordo_domain::FieldError;
use serde_json::{json, Value};
use uuid::Uuid;

use super::{Layout, Page};
use crate::error::{render, PageError, Problem};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
use crate::session::Session;
use crate::Dashboard;

struct ProposalRow {
    id: Uuid,
    sku: String,
    supplier: String,
    quantity: i64,
    why: String,
}

impl From<&ProposalView> for ProposalRow {
    fn from(p: &ProposalView) -> ProposalRow {
        let n = &p.explanation["numbers"];
        let num = |k: &str| n[k].as_i64().unwrap_or_default();
        let why = format!(
            "{} by {}: position {}, reorder point {} (demand over the lead time {} + safety {}), up to {}; {} before rounding",
            p.explanation["demand_class"].as_str().unwrap_or("new"),
            p.explanation["method"].as_str().unwrap_or("?"),
            num("position"),
            num("reorder_point"),
            num("demand_over_lead_time"),
            num("safety_stock"),
            num("order_up_to"),
            num("raw_quantity"),
        );
        ProposalRow { id: p.id, sku: p.sku.clone(), supplier: p.supplier.clone(), quantity: p.quantity, why }
    }
}


#[derive(Template)]
#[template(path = "procurement.html")]
struct ProcurementPage {
    layout: Layout,
    exposure: Vec<Exposure>,
    short: Vec<(String, String)>,
    proposals: Vec<ProposalRow>,
    orders: Vec<PurchaseOrder>,
    may_buy: bool,
    /// The replenishment policies in force: (scope as said, the policy in words).
    policies: Vec<(String, String)>,
    /// Proposes a policy change, when the viewer may propose changes.
    policy_form: Option<EntryForm>,
    /// Imports sales history from before Ordo, when the viewer may buy.
    history_form: Option<EntryForm>,
    /// What the last import brought, after it.
    imported: Option<u64>,
}

/// `?format=csv` for the purchase orders as a file; `?imported=N` after an import.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct ProcurementQuery {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    imported: Option<u64>,
}

/// Which form a refused post came from, with what was entered.
enum Refused {
    Policy(Entered),
    History(Entered),
}

pub(crate) async fn procurement(session: Session, State(dashboard): State<Dashboard>, query: Result<Query<ProcurementQuery>, QueryRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Procurement)?;
    let query = layout.query(query)?;
    if query.format.as_deref() == Some("csv") {
        let orders = dashboard.ordo.procurement().purchase_orders(None).await.map_err(|e| layout.fail(e))?;
        let rows = orders.into_iter().map(|po| {
            let lines = po.lines.iter().map(|l| format!("{} × {}", l.quantity, l.sku)).collect::<Vec<_>>().join(", ");
            vec![po.number, po.supplier, po.location, po.status.as_str().to_owned(), po.total, po.currency, po.expected_at.to_rfc3339(), lines]
        });
        let header = ["number", "supplier", "location", "status", "total", "currency", "expected_at", "lines"];
        return Ok(super::csv_file("purchase-orders.csv", super::csv_rows(&header, rows)));
    }
    procurement_page(&session, &dashboard, None, query.imported).await
}

/// A scope (`class:A`, `sku:MUG-1`) in words.
fn scope_words(scope: &str) -> String {
    match scope.split_once(':') {
        Some(("class", class)) => format!("Class {class} SKUs"),
        Some(("sku", sku)) => format!("SKU {sku}"),
        _ => scope.to_owned(),
    }
}

/// A policy in words.
fn policy_words(policy: &Policy) -> String {
    match policy {
        Policy::ReorderPoint { service_level, cover_days } => {
            format!("reorder point at a {:.1} % service level, ordering {cover_days} days' cover", service_level * 100.0)
        }
        Policy::MinMax { min, max } => format!("min {min}, max {max}"),
        Policy::PeriodicReview { review_days, service_level } => {
            format!("reviewed every {review_days} days at a {:.1} % service level", service_level * 100.0)
        }
    }
}

/// The form that proposes a replenishment policy: a change request, like the API's.
fn policy_form(refused: Option<&Entered>) -> EntryForm {
    EntryForm::new("propose-policy", "Propose a replenishment policy", "/dashboard/procurement/policies", "Propose", vec![
        Input::text("scope", "For").hint("class:A, class:B or class:C, or sku: and a SKU such as sku:MUG-1"),
        Input::text("policy", "Policy").select(&[
            ("reorder_point", "Reorder point: order when stock falls to it"),
            ("min_max", "Min and max: order up to max at min"),
            ("periodic_review", "Periodic review: order every so many days"),
        ]),
        Input::text("service_level", "Service level").optional().hint("reorder point and periodic review: between 0 and 1, such as 0.95"),
        Input::text("cover_days", "Days of cover").of(Control::Number).optional().hint("reorder point: 1 to 365"),
        Input::text("review_days", "Days between reviews").of(Control::Number).optional().hint("periodic review"),
        Input::text("min", "Min").of(Control::Number).optional().hint("min and max"),
        Input::text("max", "Max").of(Control::Number).optional().hint("min and max"),
        Input::text("reason", "Why").hint("the approver reads it; kept in the audit log"),
    ])
    .about("Procurement approves it on the change requests page; it applies only when another person does.")
    .entered(refused)
    .mark_choices()
}

/// The proposed policy as the API takes it, from the form's fields.
fn policy_of(fields: &[(String, String)]) -> Result<Value, FieldError> {
    let text = |name: &str| super::field(fields, name).trim().to_owned();
    let whole = |name: &str| super::master::whole_number(fields, name);
    let level = || -> Result<f64, FieldError> { text("service_level").parse().map_err(|_| FieldError::new("service_level", "must be between 0 and 1, such as 0.95")) };
    let kind = text("policy");
    let policy = match kind.as_str() {
        "reorder_point" => json!({"kind": kind, "service_level": level()?, "cover_days": whole("cover_days")?}),
        "min_max" => json!({"kind": kind, "min": whole("min")?, "max": whole("max")?}),
        "periodic_review" => json!({"kind": kind, "review_days": whole("review_days")?, "service_level": level()?}),
        _ => return Err(FieldError::new("policy", "must be reorder_point, min_max or periodic_review")),
    };
    Ok(json!({"scope": text("scope"), "policy": policy}))
}

/// Proposes a replenishment policy as a change request; the request's page next (303), or the
/// form again with the refused field named (422).
pub(crate) async fn propose_policy(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Procurement, &headers, Permission::ChangesPropose)?;
    let fields = super::form_fields(&body);
    let proposed = match policy_of(&fields) {
        Ok(change) => dashboard.ordo.changes().propose_change("replenishment_policy", change, super::field(&fields, "reason"), &session.actor).await,
        Err(error) => Err(error.into()),
    };
    match proposed {
        Ok(request) => Ok(Redirect::to(&super::changes::change_href(request.id)).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            procurement_page(&session, &dashboard, Some(Refused::Policy(Entered::new(fields, refused))), None).await
        }
    }
}

/// The form that imports daily sales from before Ordo, as `ordo import sales-history` does.
fn history_form(refused: Option<&Entered>) -> EntryForm {
    EntryForm::new("import-sales-history", "Import sales history", "/dashboard/procurement/sales-history", "Import the file", vec![
        Input::text("file", "CSV file").of(Control::File).hint("columns sku, date (YYYY-MM-DD), quantity and, if known, channel: one row per sale or per day's total"),
    ])
    .about("The sales your previous system kept, so forecasts are back-tested from the first day. Every day must be before the SKU's first sale in Ordo; a day imported again is replaced. If any row is wrong, nothing is imported and each wrong row is named.")
    .upload()
    .entered(refused)
}

/// Imports a sales history file: the page again, saying how many rows came in (303), or the
/// form with every wrong row named (422).
pub(crate) async fn import_sales_history(
    session: Session,
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Procurement, &headers, Permission::ProcurementWrite)?;
    let data = super::master::uploaded_file(&layout, multipart).await?;
    let imported = match data {
        None => Err(FieldError::new("file", "choose a CSV file to import")),
        Some(data) => match dashboard.ordo.procurement().import_sales_history(&data, Default::default(), &session.actor).await {
            Ok(report) if report.errors.is_empty() => Ok(report.imported),
            Ok(report) => Err(super::master::wrong_rows(&report)),
            Err(error) => Err(refusal(error).map_err(|e| layout.fail(e))?),
        },
    };
    match imported {
        Ok(rows) => Ok(Redirect::to(&format!("/dashboard/procurement?imported={rows}#import-sales-history")).into_response()),
        Err(refused) => procurement_page(&session, &dashboard, Some(Refused::History(Entered::new(Vec::new(), refused))), None).await,
    }
}

async fn procurement_page(session: &Session, dashboard: &Dashboard, refused: Option<Refused>, imported: Option<u64>) -> Result<Response, PageError> {
    let layout = session.open(Page::Procurement)?;
    let ordo = &dashboard.ordo;
    let orders = ordo.procurement().purchase_orders(None).await.map_err(|e| layout.fail(e))?;
    let exposure = ordo.procurement().procurement_exposure().await.map_err(|e| layout.fail(e))?;
    let filter = ExceptionFilter { status: Some("unresolved".into()), kind: Some("procurement".into()), limit: 200, ..ExceptionFilter::default() };
    let short = ordo
        .exceptions()
        .list(filter)
        .await
        .map_err(|e| layout.fail(e))?
        .0
        .into_iter()
        .filter_map(|e| e.subject.strip_prefix("sku:").map(|sku| (sku.to_owned(), e.details["next_receipt"].as_str().unwrap_or_default().get(..10).unwrap_or_default().to_owned())))
        .collect();
    let proposals = ordo.procurement().proposals(Some("proposed")).await.map_err(|e| layout.fail(e))?.iter().map(ProposalRow::from).collect();
    let policies = ordo.procurement().replenishment_policies().await.map_err(|e| layout.fail(e))?.iter().map(|(scope, p)| (scope_words(scope), policy_words(p))).collect();
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let (policy_refused, history_refused) = match &refused {
        Some(Refused::Policy(entered)) => (Some(entered), None),
        Some(Refused::History(entered)) => (None, Some(entered)),
        None => (None, None),
    };
    let policy_form = session.actor.can(Permission::ChangesPropose).then(|| policy_form(policy_refused));
    let may_buy = session.actor.can(Permission::ProcurementWrite);
    let history_form = may_buy.then(|| history_form(history_refused));
    let page = ProcurementPage { may_buy, exposure, short, proposals, orders, policies, policy_form, history_form, imported, layout };
    Ok(render(status, &page))
}

/// Approves the ticked proposals (at the quantities in their boxes) into purchase orders, or
/// rejects them; then the page again (303).
pub(crate) async fn decide(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Procurement, &headers, Permission::ProcurementWrite)?;
    let fields = super::form_fields(&body);
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let ids: Vec<Uuid> = fields.iter().filter(|(k, _)| k == "ids").filter_map(|(_, v)| Uuid::try_parse(v).ok()).collect();
    if ids.is_empty() {
        return Err(layout.fail(FieldError::new("ids", "tick at least one proposal")));
    }
    match field("action").as_deref() {
        Some("approve") => {
            let mut decided = Vec::with_capacity(ids.len());
            for id in ids {
                let quantity = match field(&format!("quantity_{id}")).map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()) {
                    Some(q) => Some(q.parse::<i64>().map_err(|_| layout.fail(FieldError::new("quantity", "must be a whole number")))?),
                    None => None,
                };
                decided.push((id, quantity));
            }
            dashboard.ordo.procurement().approve_proposals(&decided, &session.actor).await.map_err(|e| layout.fail(e))?;
        }
        Some("reject") => dashboard.ordo.procurement().reject_proposals(&ids, &session.actor).await.map_err(|e| layout.fail(e))?,
        _ => return Err(layout.fail(FieldError::new("action", "choose approve or reject"))),
    }
    Ok(Redirect::to(Page::Procurement.href()))
}

#[derive(Template)]
#[template(path = "purchase_order.html")]
struct OrderPage {
    layout: Layout,
    po: PurchaseOrder,
    next: Vec<&'static str>,
    may_buy: bool,
    may_receive: bool,
}

pub(crate) async fn order(session: Session, State(dashboard): State<Dashboard>, path: Result<Path<String>, PathRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Procurement)?;
    let id = layout.path_id(path)?;
    let po = dashboard.ordo.procurement().purchase_order(id).await.map_err(|e| layout.fail(e))?;
    // The moves a person makes; receipts and bills make the others.
    let next: Vec<&'static str> = [PoStatus::Approved, PoStatus::Sent, PoStatus::Cancelled, PoStatus::Closed]
        .into_iter()
        .filter(|next| po.status.can_become(*next))
        .map(PoStatus::as_str)
        .collect();
    let page = OrderPage {
        layout: layout.titled(format!("Purchase order {}", po.number)),
        may_buy: session.actor.can(Permission::ProcurementWrite),
        may_receive: session.actor.can(Permission::InventoryWrite) && matches!(po.status, PoStatus::Sent | PoStatus::PartiallyReceived),
        next,
        po,
    };
    Ok(render(StatusCode::OK, &page))
}

/// Moves a purchase order on, or receives goods against it; then the order again (303).
pub(crate) async fn act(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Redirect, PageError> {
    let fields = super::form_fields(&body);
    let field = |name: &str| super::field(&fields, name);
    let receiving = field("action") == "receive";
    let layout = session.posting(Page::Procurement, &headers, if receiving { Permission::InventoryWrite } else { Permission::ProcurementWrite })?;
    let id = layout.path_id(path)?;
    if receiving {
        let po = dashboard.ordo.procurement().purchase_order(id).await.map_err(|e| layout.fail(e))?;
        let mut lines = Vec::new();
        for l in &po.lines {
            let text = field(&format!("received_{}", l.line)).trim();
            if text.is_empty() || text == "0" {
                continue;
            }
            let quantity = text.parse::<i64>().map_err(|_| layout.fail(FieldError::new(format!("received_{}", l.line), "must be a whole number")))?;
            lines.push((l.line, quantity));
        }
        dashboard.ordo.procurement().receive_purchase_order(id, &lines, &session.actor).await.map_err(|e| layout.fail(e))?;
    } else {
        dashboard.ordo.procurement().move_purchase_order(id, field("status"), &session.actor).await.map_err(|e| layout.fail(e))?;
    }
    Ok(Redirect::to(&format!("{}/orders/{id}", Page::Procurement.href())))
}

/// One point of the forecast chart.
struct Bar {
    x: i64,
    y: i64,
    height: i64,
}

#[derive(Template)]
#[template(path = "forecast.html")]
struct ForecastPage {
    layout: Layout,
    f: SkuForecastView,
    sold: Vec<Bar>,
    /// The forecast as an SVG polyline's points.
    line: String,
    width: i64,
    height: i64,
    top: String,
    backtest: Vec<(String, String)>,
    /// The back-test as bars: (method, y, width, pooled), the pooled methods marked.
    backtest_bars: Vec<(String, i64, i64, bool)>,
    backtest_height: i64,
    parameters: String,
    daily: String,
    error: String,
}

const CHART_HEIGHT: i64 = 160;
const DAY_WIDTH: i64 = 6;

pub(crate) async fn forecast(session: Session, State(dashboard): State<Dashboard>, path: Result<Path<String>, PathRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Procurement)?;
    let Ok(Path(sku)) = path else { return Err(layout.fail(Problem::NotFound)) };
    let f = dashboard.ordo.procurement().forecast_sku(&sku).await.map_err(|e| layout.fail(e))?;
    let top = f.recent.iter().map(|d| *d as f64).chain(f.forecast.iter().copied()).fold(1.0_f64, f64::max);
    let scale = |v: f64| ((v / top) * CHART_HEIGHT as f64).round() as i64;
    let sold = f
        .recent
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let h = scale(*d as f64);
            Bar { x: i as i64 * DAY_WIDTH, y: CHART_HEIGHT - h, height: h }
        })
        .collect();
    let offset = f.recent.len() as i64 * DAY_WIDTH;
    let line = f
        .forecast
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{},{}", offset + i as i64 * DAY_WIDTH + DAY_WIDTH / 2, CHART_HEIGHT - scale(*v)))
        .collect::<Vec<_>>()
        .join(" ");
    let backtest = f.backtest.iter().map(|(m, s)| (m.clone(), s.map_or_else(|| "not tested".to_owned(), |s| format!("{s:.3}")))).collect();
    let tested: Vec<(&String, f64)> = f.backtest.iter().filter_map(|(m, s)| s.map(|s| (m, s))).collect();
    let worst = tested.iter().map(|(_, s)| *s).fold(0.0_f64, f64::max).max(1e-9);
    let backtest_bars: Vec<(String, i64, i64, bool)> = tested
        .iter()
        .enumerate()
        .map(|(i, (m, s))| ((*m).clone(), i as i64 * 22, ((s / worst) * 300.0).round() as i64, f.pooled.contains(m)))
        .collect();
    let backtest_height = (backtest_bars.len() as i64 * 22).max(22);
    let parameters = f.parameters.iter().map(|(k, v)| format!("{k} {v:.3}")).collect::<Vec<_>>().join(", ");
    let page = ForecastPage {
        layout: layout.titled(format!("Forecast: {sku}")),
        width: offset + f.forecast.len() as i64 * DAY_WIDTH,
        height: CHART_HEIGHT,
        top: format!("{top:.0}"),
        sold,
        line,
        backtest,
        backtest_bars,
        backtest_height,
        parameters,
        daily: format!("{:.2}", f.daily_demand),
        error: format!("{:.2}", f.daily_error),
        f,
    };
    Ok(render(StatusCode::OK, &page))
}

//! Order pages: the list with filters, one order with its lines, timeline and routing, and
//! cancelling an order that has not shipped.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use chrono::{DateTime, Utc};
use ordo_app::OrderSummary;
use ordo_domain::access::Permission;
use ordo_domain::order::{Address, NewCustomerRef, NewOrder, NewOrderLine, Order, OrderLine, OrderStatus, PaymentStatus};
use ordo_domain::{Currency, FieldError, Money};
use serde::Deserialize;
use uuid::Uuid;

use super::{field, Choice, Layout, Page, Pager, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
use crate::href::query_escape;
use crate::session::Session;

/// The detail page of the order with this id.
pub(crate) fn order_href(id: &str) -> String {
    format!("{}/{}", Page::Orders.href(), query_escape(id))
}

/// An amount with its currency code: "44.87 EUR".
pub(crate) fn money(amount: &Money) -> String {
    format!("{} {}", amount.to_decimal_string(), amount.currency())
}

/// Where a line's units are reserved: "central × 3, north × 1", or "none".
pub(crate) fn allocations(line: &OrderLine) -> String {
    if line.allocations.is_empty() {
        return "none".to_owned();
    }
    let parts: Vec<String> =
        line.allocations.iter().map(|allocation| format!("{} × {}", allocation.location, allocation.quantity)).collect();
    parts.join(", ")
}

/// A total kept in minor units, shown like [`money`]. A currency we do not know (which the
/// database should never hold) is shown as the bare minor units rather than guessed at.
pub(crate) fn minor_total(total_minor: i64, currency: &str) -> String {
    match Currency::from_code(currency) {
        Ok(code) => money(&Money::from_minor(total_minor, code)),
        Err(_) => format!("{total_minor} (minor units) {currency}"),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct OrdersQuery {
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    q: Option<String>,
    /// Part of the customer's name or e-mail.
    #[serde(default)]
    customer: Option<String>,
    #[serde(default)]
    sku: Option<String>,
    /// Placed from this day, included.
    #[serde(default)]
    from: Option<String>,
    /// Placed up to this day, included.
    #[serde(default)]
    to: Option<String>,
    /// Where the page starts: after the order this names (given by the page before).
    #[serde(default)]
    cursor: Option<String>,
    /// `csv` for every matching order as a file.
    #[serde(default)]
    format: Option<String>,
}

/// One row of the orders table, formatted.
struct OrderRow {
    href: String,
    external_id: String,
    channel: String,
    status: ordo_domain::order::OrderStatus,
    customer: String,
    total: String,
    placed_at: DateTime<Utc>,
    ship_by: DateTime<Utc>,
}

impl From<OrderSummary> for OrderRow {
    fn from(order: OrderSummary) -> Self {
        OrderRow {
            href: order_href(&order.id.to_string()),
            total: minor_total(order.total_minor, &order.currency),
            external_id: order.external_id,
            channel: order.channel,
            status: order.status,
            customer: order.customer_name,
            placed_at: order.placed_at,
            ship_by: order.ship_by,
        }
    }
}

#[derive(Template)]
#[template(path = "orders.html")]
struct OrdersPage {
    layout: Layout,
    statuses: Vec<Choice>,
    channels: Vec<Choice>,
    q: String,
    customer: String,
    sku: String,
    from: String,
    to: String,
    filtered: bool,
    orders: Vec<OrderRow>,
    pager: Pager,
    forms: Vec<EntryForm>,
    /// The same orders as a CSV file.
    csv_href: String,
}

/// Lines a hand-entered order may have; more come through the API or a channel.
const FORM_LINES: usize = 3;

fn order_form(entered: Option<&Entered>, channels: &[(String, String)]) -> EntryForm {
    let channels: Vec<(&str, &str)> = channels.iter().map(|(code, label)| (code.as_str(), label.as_str())).collect();
    let mut inputs = vec![
        Input::text("channel", "Channel").select(&channels),
        Input::text("external_id", "Order number").optional().hint("the customer's reference; made up when empty"),
        Input::text("customer_name", "Customer"),
        Input::text("email", "E-mail").of(Control::Email),
        Input::text("line1", "Street and number"),
        Input::text("postal_code", "Postal code"),
        Input::text("city", "City"),
        Input::text("country", "Country").hint("two letters, such as DE or US"),
        Input::text("shipping_method", "Shipping method").value("standard"),
        Input::text("shipping_price", "Shipping charged").optional().hint("in the channel's currency"),
        Input::text("payment_status", "Payment").select(&[("captured", "Paid"), ("authorized", "Authorised, not captured"), ("pending", "Not paid yet")]),
    ];
    for (sku, quantity, price) in [("sku_1", "quantity_1", "unit_price_1"), ("sku_2", "quantity_2", "unit_price_2"), ("sku_3", "quantity_3", "unit_price_3")] {
        let first = sku == "sku_1";
        let optional = |input: Input| if first { input } else { input.optional() };
        inputs.push(optional(Input::text(sku, "SKU")));
        inputs.push(optional(Input::text(quantity, "Quantity").of(Control::Number)));
        inputs.push(optional(Input::text(price, "Unit price").hint(if first { "in the channel's currency, such as 19.99" } else { "" })));
    }
    EntryForm::new("new-order", "New order", Page::Orders.href(), "Take the order", inputs)
        .about(format!("An order taken by phone, e-mail or in person, up to {FORM_LINES} lines. It is reserved, routed and checked like any channel's."))
        .entered(entered)
        .mark_choices()
}

/// The form's input that an intake field error names: `lines[1].sku` is `sku_2`.
fn order_input(field: &str) -> String {
    if let Some(rest) = field.strip_prefix("lines[")
        && let Some((index, name)) = rest.split_once("].")
        && let Ok(index) = index.parse::<usize>()
    {
        return format!("{name}_{}", index + 1);
    }
    match field {
        "customer.name" | "ship_to.name" => "customer_name".to_owned(),
        "customer.email" => "email".to_owned(),
        "lines" => "sku_1".to_owned(),
        other => other.rsplit('.').next().unwrap_or(other).to_owned(),
    }
}

/// The order the form describes.
fn new_order(fields: &[(String, String)], currency: &str, now: chrono::DateTime<chrono::Utc>) -> Result<NewOrder, FieldError> {
    let text = |name: &str| field(fields, name).trim().to_owned();
    let mut lines = Vec::new();
    for n in 1..=FORM_LINES {
        let (sku, quantity, price) = (text(&format!("sku_{n}")), text(&format!("quantity_{n}")), text(&format!("unit_price_{n}")));
        if sku.is_empty() && quantity.is_empty() && price.is_empty() {
            continue;
        }
        let quantity = quantity.parse().map_err(|_| FieldError::new(format!("quantity_{n}"), "must be a whole number"))?;
        lines.push(NewOrderLine { sku, quantity, unit_price: price, tax: None, discount: None, item_id: None });
    }
    if lines.is_empty() {
        return Err(FieldError::new("sku_1", "an order needs at least one line"));
    }
    let external_id = match text("external_id") {
        id if id.is_empty() => format!("D-{}-{}", now.format("%y%m%d%H%M%S"), &uuid::Uuid::now_v7().simple().to_string()[26..]),
        id => id,
    };
    let payment_status = match field(fields, "payment_status") {
        "captured" => PaymentStatus::Captured,
        "authorized" => PaymentStatus::Authorized,
        "pending" => PaymentStatus::Pending,
        _ => return Err(FieldError::new("payment_status", "must be captured, authorized or pending")),
    };
    Ok(NewOrder {
        channel: text("channel"),
        external_id,
        placed_at: now,
        currency: currency.to_owned(),
        customer: NewCustomerRef { email: text("email"), name: text("customer_name") },
        ship_to: Address {
            name: text("customer_name"),
            line1: text("line1"),
            line2: None,
            city: text("city"),
            region: None,
            postal_code: text("postal_code"),
            country: text("country").to_ascii_uppercase(),
        },
        billing_country: None,
        shipping_method: text("shipping_method"),
        payment_status,
        shipping_price: Some(text("shipping_price")).filter(|p| !p.is_empty()),
        lines,
    })
}

pub(crate) async fn take_order(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Orders, &headers, Permission::OrdersWrite)?;
    let fields = super::form_fields(&body);
    let channel = dashboard.ordo.master_data().channel(field(&fields, "channel")).await;
    let taken = match channel {
        Ok(channel) => match new_order(&fields, channel.currency.code(), dashboard.ordo.now()) {
            Ok(new) => {
                // What the order was made from, kept as a channel's payload is.
                let payload = serde_json::json!({"source": "dashboard", "form": fields.iter().filter(|(k, _)| k != "form_token").collect::<Vec<_>>()});
                dashboard.ordo.orders().receive_order(new, &payload.to_string(), &session.actor).await.map(|intake| intake.order.id)
            }
            Err(error) => Err(error.into()),
        },
        Err(ordo_app::AppError::NotFound { .. }) => Err(FieldError::new("channel", "choose a channel; add one on the Channels page first").into()),
        Err(error) => Err(error),
    };
    match taken {
        Ok(id) => Ok(Redirect::to(&order_href(&id.to_string())).into_response()),
        Err(error) => {
            let mut refused = refusal(error).map_err(|e| layout.fail(e))?;
            refused.field = order_input(&refused.field);
            let query = OrdersQuery { channel: None, status: None, q: None, customer: None, sku: None, from: None, to: None, cursor: None, format: None };
            orders_page(&session, &dashboard, query, Some(Entered::new(fields, refused))).await
        }
    }
}

pub(crate) async fn orders(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<OrdersQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Orders)?;
    let query = layout.query(query)?;
    orders_page(&session, &dashboard, query, None).await
}

async fn orders_page(session: &Session, dashboard: &Dashboard, query: OrdersQuery, entered: Option<Entered>) -> Result<Response, PageError> {
    let layout = session.open(Page::Orders)?;
    let after = super::cursor(&layout, query.cursor.as_deref())?;
    let trimmed = |value: Option<String>| value.map(|v| v.trim().to_owned()).unwrap_or_default();
    let channel = trimmed(query.channel);
    let q = trimmed(query.q);
    // "any" is how the form says "no filter"; an empty value means the same.
    let status = Some(trimmed(query.status)).filter(|status| status != "any").unwrap_or_default();

    let (customer, sku, from, to) = (trimmed(query.customer), trimmed(query.sku), trimmed(query.from), trimmed(query.to));
    let filter = ordo_app::OrderFilter {
        channel: Some(channel.clone()),
        status: Some(status.clone()),
        external_id: Some(q.clone()),
        customer: Some(customer.clone()),
        sku: Some(sku.clone()),
        placed_from: super::day("from", &from).map_err(|e| layout.fail(e))?,
        placed_to: super::day("to", &to).map_err(|e| layout.fail(e))?,
        // One row past the page tells whether a page follows.
        limit: PAGE_SIZE + 1,
        cursor: after.map(|c| c.encode()),
        ..ordo_app::OrderFilter::default()
    };
    if query.format.as_deref() == Some("csv") {
        let csv = dashboard.ordo.orders().export_csv(filter).await.map_err(|e| layout.fail(e))?;
        return Ok(super::csv_file("orders.csv", csv));
    }
    let page = dashboard.ordo.orders().search(filter).await.map_err(|e| layout.fail(e))?;
    let total = page.total;
    let (found, next) = super::one_page(page.orders, |o| ordo_domain::field::PageCursor { at: o.placed_at, id: o.id });
    let known = dashboard.ordo.master_data().channels().await.map_err(|e| layout.fail(e))?;

    let known: Vec<(String, String)> = known.into_iter().map(|c| (c.code.clone(), format!("{} ({})", c.name, c.code))).collect();
    let mut channels: Vec<Choice> =
        known.iter().map(|(code, label)| Choice { selected: *code == channel, label: label.clone(), value: code.clone() }).collect();
    // A channel that no longer exists (or never did) still shows as the current filter.
    if !channel.is_empty() && !channels.iter().any(|c| c.selected) {
        channels.push(Choice { value: channel.clone(), label: channel.clone(), selected: true });
    }
    let statuses = OrderStatus::ALL
        .into_iter()
        .map(|s| Choice { value: s.as_str().to_owned(), label: s.as_str().replace('_', " "), selected: s.as_str() == status })
        .collect();

    let params = [("channel", channel.as_str()), ("status", status.as_str()), ("q", q.as_str()), ("customer", &customer), ("sku", &sku), ("from", &from), ("to", &to)];
    let filtered = params.iter().any(|(_, value)| !value.is_empty());
    let what = if filtered { "matching orders" } else { "orders" };
    let pager = Pager::by_cursor(Page::Orders.href(), &params, after.is_some(), found.len(), Some(total), next.as_deref(), what);
    let mut export = params.to_vec();
    export.push(("format", "csv"));
    let csv_href = crate::href::with_query(Page::Orders.href(), &export);
    let orders = found.into_iter().map(OrderRow::from).collect();
    let forms = if session.actor.can(Permission::OrdersWrite) {
        vec![order_form(entered.as_ref(), &known)]
    } else {
        Vec::new()
    };
    let status = if entered.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render(status, &OrdersPage { layout, statuses, channels, q, customer, sku, from, to, filtered, orders, pager, forms, csv_href }))
}

/// A shipped line that can be asked back.
struct ReturnableLine {
    line: i64,
    sku: String,
    shipped: i64,
}

#[derive(Template)]
#[template(path = "order.html")]
struct OrderPage {
    layout: Layout,
    order: Order,
    /// Lines with units shipped, for the return form (empty when the role may not start one).
    returnable: Vec<ReturnableLine>,
    reasons: Vec<Choice>,
    /// Whether to offer the cancel form: the role may and the order has not shipped.
    may_cancel: bool,
    cancel_href: String,
    /// Whether to offer the release form: the role reviews orders and this one is on hold.
    may_release: bool,
    release_href: String,
    /// Why the return asked for on this page was refused, naming the field.
    return_refused: Option<String>,
}

/// The order id in the path; anything that is not a UUID names no order.
pub(crate) async fn order(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Orders)?;
    let id = layout.path_id(path)?;
    order_page(&session, &dashboard, id, None).await
}

/// A parcel, named where the ledger or the audit log shows it: its order's page (303).
pub(crate) async fn shipment(session: Session, State(dashboard): State<Dashboard>, path: Result<Path<String>, PathRejection>) -> Result<Redirect, PageError> {
    let layout = session.open(Page::Orders)?;
    let id = layout.path_id(path)?;
    let order = dashboard.ordo.fulfilment().shipment_order(id).await.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(&order_href(&order.to_string())))
}

/// The order's page; with `return_refused`, why the return asked for on it was refused (422).
pub(crate) async fn order_page(session: &Session, dashboard: &Dashboard, id: uuid::Uuid, return_refused: Option<FieldError>) -> Result<Response, PageError> {
    let layout = session.open(Page::Orders)?;
    let order = dashboard.ordo.orders().order(id).await.map_err(|e| layout.fail(e))?;
    let layout = layout.titled(format!("Order {}", order.external_id));
    let may_cancel = session.actor.can(Permission::OrdersWrite) && order.status.is_open();
    let cancel_href = format!("{}/cancel", order_href(&order.id.to_string()));
    let may_release = session.actor.can(Permission::OrdersReview) && order.status == OrderStatus::OnHold;
    let release_href = format!("{}/release", order_href(&order.id.to_string()));
    let returnable = if session.actor.can(Permission::ReturnsWrite) {
        order.lines.iter().filter(|l| !l.kit && l.shipped > 0).map(|l| ReturnableLine { line: l.line, sku: l.sku.clone(), shipped: l.shipped }).collect()
    } else {
        Vec::new()
    };
    let reasons = ordo_domain::returns::ReturnReason::ALL
        .iter()
        .map(|r| Choice { value: r.as_str().into(), label: r.as_str().replace('_', " "), selected: false })
        .collect();
    let status = if return_refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let return_refused = return_refused.map(|e| format!("{}: {}", e.field, e.message));
    Ok(render(status, &OrderPage { layout, order, returnable, reasons, may_cancel, cancel_href, may_release, release_href, return_refused }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReasonForm {
    #[serde(default)]
    reason: String,
    /// The page the form was on, when that is not the order's own; see [`after_action`].
    #[serde(default)]
    back: Option<String>,
}

/// Where to go after acting on order `id`: back to the holds queue when the form came from
/// it, else the order. Only pages named here are honoured, so the form cannot be made to
/// send the browser elsewhere.
fn after_action(back: Option<&str>, id: &str) -> String {
    match back {
        Some(back) if back == Page::Holds.href() => back.to_owned(),
        _ => order_href(id),
    }
}

/// What every order action checks first: the form came from this site, the role has
/// `permission`, the id is an order id and the form parses. Returns the layout for errors,
/// the order id and the form.
fn order_action(
    session: &Session,
    permission: Permission,
    path: Result<Path<String>, PathRejection>,
    headers: &HeaderMap,
    form: Result<Form<ReasonForm>, FormRejection>,
) -> Result<(Layout, Uuid, ReasonForm), PageError> {
    let layout = session.posting(Page::Orders, headers, permission)?;
    let id = layout.path_id(path)?;
    let Form(form) = form.map_err(|rejection| layout.fail(FieldError::new("form", rejection.body_text())))?;
    Ok((layout, id, form))
}

/// Cancels the order, then shows it again, or the holds queue it was cancelled from (303, so
/// reloading does not post twice).
pub(crate) async fn cancel(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<ReasonForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let (layout, id, form) = order_action(&session, Permission::OrdersWrite, path, &headers, form)?;
    let order = dashboard.ordo.orders().cancel_order(id, &form.reason, &session.actor).await.map_err(|e| layout.fail(e))?;
    tracing::info!(order = %order.id, actor = %session.actor, "dashboard: order cancelled");
    Ok(Redirect::to(&after_action(form.back.as_deref(), &order.id.to_string())))
}

/// Releases an order held for review: it is routed and reserved, then shown again (or the
/// holds queue, as for [`cancel`]).
pub(crate) async fn release(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    form: Result<Form<ReasonForm>, FormRejection>,
) -> Result<Redirect, PageError> {
    let (layout, id, form) = order_action(&session, Permission::OrdersReview, path, &headers, form)?;
    let order = dashboard.ordo.orders().release_hold(id, &form.reason, &session.actor).await.map_err(|e| layout.fail(e))?;
    tracing::info!(order = %order.id, actor = %session.actor, "dashboard: order released");
    Ok(Redirect::to(&after_action(form.back.as_deref(), &order.id.to_string())))
}

/// An action's address opened as a page (say, after logging in again on the way to it) shows
/// the order instead.
pub(crate) async fn cancel_page(path: Result<Path<String>, PathRejection>) -> Redirect {
    match path {
        Ok(Path(id)) => Redirect::to(&order_href(&id)),
        Err(_) => Redirect::to(Page::Orders.href()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_domain::order::LineAllocation;

    #[test]
    fn amounts_carry_their_currency_and_no_rounding() {
        assert_eq!(minor_total(4487, "EUR"), "44.87 EUR");
        assert_eq!(minor_total(-5, "EUR"), "-0.05 EUR");
        assert_eq!(minor_total(12, "XXX?"), "12 (minor units) XXX?");
    }

    #[test]
    fn actions_go_back_to_the_holds_queue_and_nowhere_else() {
        assert_eq!(after_action(Some("/dashboard/holds"), "abc"), "/dashboard/holds");
        for other in [None, Some(""), Some("/dashboard/holds?page=2"), Some("https://evil.example"), Some("//evil.example")] {
            assert_eq!(after_action(other, "abc"), "/dashboard/orders/abc", "{other:?}");
        }
    }

    #[test]
    fn allocations_read_as_location_times_units() {
        let eur = Currency::from_code("EUR").unwrap();
        let mut line = OrderLine {
            line: 1,
            kit: false,
            part_of: None,
            sku: "MUG".into(),
            channel_sku: None,
            item_id: None,
            quantity: 4,
            unit_price: Money::zero(eur),
            tax: Money::zero(eur),
            discount: Money::zero(eur),
            allocations: vec![],
            backordered: 4,
            shipped: 0,
        };
        assert_eq!(allocations(&line), "none");
        line.allocations = vec![
            LineAllocation { location: "central".into(), quantity: 3 },
            LineAllocation { location: "north".into(), quantity: 1 },
        ];
        assert_eq!(allocations(&line), "central × 3, north × 1");
    }
}

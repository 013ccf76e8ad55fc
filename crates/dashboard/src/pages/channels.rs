//! Channels and their connections: each channel's connector, its state, its last delivery and
//! poll, and one channel's inbox with the replay of deliveries that could not be mapped.

use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::body::Bytes;
use axum::response::{IntoResponse, Redirect, Response};
use ordo_app::{ChannelConnection, ConnectorChange, DeliveryView};
use ordo_domain::connector::NewConnector;
use ordo_domain::access::Permission;
use ordo_domain::master::{ChannelKind, NewChannel};
use ordo_domain::FieldError;
use serde::Deserialize;
use uuid::Uuid;

use super::{comma_list, field, Choice, Layout, Page};
use crate::error::{render, PageError, Problem};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
use crate::session::Session;
use crate::Dashboard;

struct ChannelRow {
    code: String,
    name: String,
    kind: &'static str,
    currency: String,
    sla: String,
    connector: String,
    state: &'static str,
    last_delivery: String,
    last_poll: String,
    today: i64,
    duplicates: i64,
    failed: i64,
    stock_waiting: i64,
    stock_lag: String,
    push_p95: String,
    stock_failing: i64,
    confirmations_waiting: i64,
    /// The last day's latency, hour by hour, as bars of a small chart.
    latency: Vec<HourBar>,
}

/// One hour of a channel's latency chart: the bar's place, its height, and what it says.
struct HourBar {
    x: i64,
    y: i64,
    height: i64,
    slow: bool,
    title: String,
}

const SPARK_HEIGHT: i64 = 24;
const SPARK_BAR: i64 = 4;

/// The hours' mean latency as bars over the last day, each titled with its figures; an hour
/// with a push over two seconds is marked.
fn latency_bars(hours: &[ordo_app::PushHour]) -> Vec<HourBar> {
    let now = chrono::Utc::now();
    let top = hours.iter().map(|h| h.latency_ms_sum / h.pushes.max(1)).max().unwrap_or(0).max(1);
    hours
        .iter()
        .filter_map(|h| {
            let slot = 23 - (now - h.hour).num_hours();
            (0..24).contains(&slot).then(|| {
                let mean = h.latency_ms_sum / h.pushes.max(1);
                let height = ((mean * SPARK_HEIGHT) / top).max(1);
                HourBar {
                    x: slot * SPARK_BAR,
                    y: SPARK_HEIGHT - height,
                    height,
                    slow: h.slow > 0,
                    title: format!("{}: {} pushes, mean {mean} ms, worst {} ms, {} over 2 s", h.hour.format("%H:00 UTC"), h.pushes, h.latency_ms_max, h.slow),
                }
            })
        })
        .collect()
}

fn when(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| super::timestamp(&t)).unwrap_or_else(|| "never".to_owned())
}

impl From<ChannelConnection> for ChannelRow {
    fn from(c: ChannelConnection) -> Self {
        ChannelRow {
            code: c.channel.code,
            name: c.channel.name,
            kind: c.channel.kind.as_str(),
            currency: c.channel.currency.code().to_owned(),
            sla: c.channel.ship_by_sla_hours.to_string(),
            connector: c.connector.as_ref().map_or_else(|| "none".to_owned(), |k| k.kind.as_str().to_owned()),
            duplicates: c.connector.as_ref().map_or(0, |k| k.duplicates_dropped),
            state: c.state.as_str(),
            last_delivery: when(c.last_received_at),
            last_poll: when(c.last_polled_at),
            today: c.received_last_day,
            failed: c.failed,
            stock_waiting: c.outbound.stock.pending,
            stock_lag: c.outbound.stock.oldest_pending_age_s.map_or_else(|| "none".to_owned(), |s| format!("{s} s")),
            push_p95: c.outbound.stock.p95_latency_ms.map_or_else(|| "none".to_owned(), |ms| format!("{ms} ms")),
            stock_failing: c.outbound.stock.failed,
            confirmations_waiting: c.outbound.confirmations.pending,
            latency: latency_bars(&c.push_hours),
        }
    }
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsPage {
    layout: Layout,
    channels: Vec<ChannelRow>,
    forms: Vec<EntryForm>,
}

fn channel_form(entered: Option<&Entered>, base_currency: &str) -> EntryForm {
    EntryForm::new("new-channel", "New channel", Page::Channels.href(), "Add the channel", vec![
        Input::text("code", "Code").hint("short and lower case, such as web or amazon-de"),
        Input::text("name", "Name"),
        Input::text("kind", "Kind").select(&[("web", "Web shop"), ("marketplace", "Marketplace"), ("social", "Social"), ("b2b", "B2B portal")]),
        Input::text("currency", "Currency").value(base_currency).hint("ISO 4217, such as EUR; its orders are in it"),
        Input::text("ship_by_sla_hours", "Hours to ship").of(Control::Number).optional().hint("from the order to its ship-by time; 48 when empty"),
    ])
    .about("Where orders come from. Connect it to Shopify, WooCommerce, Amazon or eBay on its page once it exists.")
    .entered(entered)
    .mark_choices()
}

fn rate_form(entered: Option<&Entered>, base_currency: &str) -> EntryForm {
    EntryForm::new("exchange-rate", "Exchange rate", "/dashboard/channels/rates", "Set the rate", vec![
        Input::text("currency", "Currency").hint("a channel's or a supplier's, such as GBP"),
        Input::text("rate", "Rate").hint("what one unit is worth in the base currency, such as 1.1650"),
    ])
    .about(format!("From now on, amounts in this currency are booked in {base_currency} at this rate. A channel selling in a currency without one cannot take orders."))
    .entered(entered)
}

pub(crate) async fn channels(session: Session, State(dashboard): State<Dashboard>, query: Result<Query<super::ExportQuery>, QueryRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Channels)?;
    if super::ExportQuery::csv(&layout, query)? {
        let connections = dashboard.ordo.channels().channel_connections().await.map_err(|e| layout.fail(e))?;
        let rows = connections.into_iter().map(|c| {
            let at = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
            let (received, polled) = (at(c.last_received_at), at(c.last_polled_at));
            let row = ChannelRow::from(c);
            vec![
                row.code, row.name, row.kind.to_owned(), row.currency, row.sla, row.connector, row.state.to_owned(), received, polled,
                row.today.to_string(), row.failed.to_string(), row.stock_waiting.to_string(), row.stock_failing.to_string(), row.confirmations_waiting.to_string(),
            ]
        });
        let header = [
            "code", "name", "kind", "currency", "ship_by_sla_hours", "connector", "state", "last_delivery_at", "last_poll_at",
            "deliveries_24h", "failed", "stock_to_tell", "stock_refused", "confirmations_to_send",
        ];
        return Ok(super::csv_file("channels.csv", super::csv_rows(&header, rows)));
    }
    channels_page(&session, &dashboard, None).await
}

/// The page; with `refused`, the form of that id shown again as it was sent (422).
async fn channels_page(session: &Session, dashboard: &Dashboard, refused: Option<(&str, Entered)>) -> Result<Response, PageError> {
    let layout = session.open(Page::Channels)?;
    let connections = dashboard.ordo.channels().channel_connections().await.map_err(|e| layout.fail(e))?;
    let base = dashboard.ordo.settings().base_currency;
    let entered = |id: &str| refused.as_ref().filter(|(form, _)| *form == id).map(|(_, entered)| entered);
    let forms = if session.actor.can(Permission::MasterDataWrite) {
        vec![channel_form(entered("new-channel"), base.code()), rate_form(entered("exchange-rate"), base.code())]
    } else {
        Vec::new()
    };
    let entered = refused.as_ref().map(|(_, e)| e);
    let status = if entered.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render(status, &ChannelsPage { layout, channels: connections.into_iter().map(ChannelRow::from).collect(), forms }))
}

pub(crate) async fn create_channel(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Channels, &headers, Permission::MasterDataWrite)?;
    let fields = super::form_fields(&body);
    let new = (|| {
        Ok::<_, FieldError>(NewChannel {
            code: field(&fields, "code").to_owned(),
            name: field(&fields, "name").to_owned(),
            kind: ChannelKind::parse("kind", field(&fields, "kind"))?,
            currency: field(&fields, "currency").trim().to_owned(),
            ship_by_sla_hours: super::master::optional(&fields, "ship_by_sla_hours")
                .map(|hours| hours.parse().map_err(|_| FieldError::new("ship_by_sla_hours", "must be a whole number")))
                .transpose()?,
        })
    })();
    let created = match new {
        Ok(new) => dashboard.ordo.master_data().create_channel(new, &session.actor).await.map(drop),
        Err(error) => Err(error.into()),
    };
    match created {
        Ok(()) => Ok(Redirect::to(Page::Channels.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            channels_page(&session, &dashboard, Some(("new-channel", Entered::new(fields, refused)))).await
        }
    }
}

pub(crate) async fn set_rate(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Channels, &headers, Permission::MasterDataWrite)?;
    let fields = super::form_fields(&body);
    let set = dashboard.ordo.ledger().set_exchange_rate(field(&fields, "currency").trim(), field(&fields, "rate"), None, &session.actor).await;
    match set {
        Ok(_) => Ok(Redirect::to(Page::Channels.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            channels_page(&session, &dashboard, Some(("exchange-rate", Entered::new(fields, refused)))).await
        }
    }
}

struct DeliveryRow {
    id: Uuid,
    received: String,
    source: String,
    topic: String,
    external_id: String,
    status: ordo_domain::connector::InboxStatus,
    attempts: i64,
    outcome: String,
    error_field: String,
    error: String,
}

impl From<DeliveryView> for DeliveryRow {
    fn from(d: DeliveryView) -> Self {
        DeliveryRow {
            id: d.id,
            received: super::timestamp(&d.received_at),
            source: d.source,
            topic: d.topic,
            external_id: d.external_id.unwrap_or_default(),
            status: d.status,
            attempts: d.attempts,
            outcome: d.outcome.unwrap_or_default(),
            error_field: d.error_field.unwrap_or_default(),
            error: d.error.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct InboxFilter {
    #[serde(default)]
    status: Option<String>,
}

#[derive(Template)]
#[template(path = "channel.html")]
struct ChannelPage {
    layout: Layout,
    channel: ChannelRow,
    base_url: String,
    poll_interval: String,
    /// Whether the connector is paused, when there is one and the viewer may pause or resume it.
    pausable: Option<bool>,
    policy: String,
    buffers: String,
    deliveries: Vec<DeliveryRow>,
    statuses: Vec<Choice>,
    may_replay: bool,
    forms: Vec<EntryForm>,
}

/// `name = value` lines, in order: a connector's credentials.
fn pairs(field_name: &str, text: &str) -> Result<Vec<(String, String)>, FieldError> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (name, value) = line.split_once('=').ok_or_else(|| FieldError::new(field_name, "must be lines of the form name = value"))?;
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// The connector as typed: empty secrets and credentials keep the ones in force.
fn typed_connector(fields: &[(String, String)]) -> Result<NewConnector, FieldError> {
    let whole = |name: &str| super::master::optional(fields, name).map(|v| v.parse().map_err(|_| FieldError::new(name, "must be a whole number"))).transpose();
    let secrets: Vec<String> = ["webhook_secret", "previous_webhook_secret"].iter().filter_map(|name| super::master::optional(fields, name)).collect();
    let credentials = pairs("credentials", field(fields, "credentials"))?;
    Ok(NewConnector {
        kind: field(fields, "kind").to_owned(),
        base_url: super::master::optional(fields, "base_url"),
        webhook_secrets: (!secrets.is_empty()).then_some(secrets),
        credentials: (!credentials.is_empty()).then(|| credentials.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect()),
        poll_interval_s: whole("poll_interval_s")?,
        sync_lag_threshold_s: whole("sync_lag_threshold_s")?,
    })
}

fn connector_form(code: &str, current: Option<&ordo_app::ConnectorView>, entered: Option<&Entered>) -> EntryForm {
    let kept = |what: &str, set: bool| if set { format!("{what} in force; empty keeps it") } else { format!("none yet; {what}") };
    let secrets = current.map_or(0, |c| c.webhook_secrets);
    EntryForm::new("connector", "Connector", format!("/dashboard/channels/{code}/connector"), "Save the connector", vec![
        Input::text("kind", "Kind").select(&[("shopify", "Shopify"), ("woocommerce", "WooCommerce"), ("amazon", "Amazon SP-API"), ("ebay", "eBay")])
            .value(current.map_or("shopify", |c| c.kind.as_str())),
        Input::text("base_url", "Address").optional().value(current.and_then(|c| c.base_url.clone()).unwrap_or_default())
            .hint("the shop's or API's https:// address, such as https://my-shop.myshopify.com"),
        Input::text("webhook_secret", "Webhook secret").of(Control::Password).optional()
            .hint(if secrets > 0 { format!("{secrets} in force; empty keeps them") } else { "what the shop signs its webhooks with (Shopify, WooCommerce)".to_owned() }),
        Input::text("previous_webhook_secret", "Previous webhook secret").of(Control::Password).optional()
            .hint("while rotating: the old one, still accepted until the shop uses the new one"),
        Input::text("credentials", "API credentials").of(Control::TextArea).optional().secret()
            .hint(kept("one name = value per line, such as access_token = …", current.is_some_and(|c| c.credentials_set))),
        Input::text("poll_interval_s", "Seconds between polls").of(Control::Number).optional().value(current.map(|c| c.poll_interval_s.to_string()).unwrap_or_default())
            .hint("how often orders are fetched; 60 when empty"),
        Input::text("sync_lag_threshold_s", "Seconds a stock change may wait").of(Control::Number).optional()
            .value(current.map(|c| c.sync_lag_threshold_s.to_string()).unwrap_or_default())
            .hint("before the integration role is told; 300 when empty"),
    ])
    .about("How Ordo reaches the channel. Secrets are sealed and never shown again. An admin's change applies at once; anyone else's is a change request another person approves.")
    .entered(entered)
    .mark_choices()
}

/// The routing form, showing the routing in force: split allowed, and its locations.
fn routing_form(code: &str, (allow_split, locations): &(bool, Vec<String>), entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("routing", "Routing", format!("/dashboard/channels/{code}/routing"), "Save the routing", vec![
        Input::text("locations", "Locations")
            .optional()
            .value(locations.join(", "))
            .hint("the codes of the locations that may ship its orders, comma-separated; empty for every location"),
        Input::text("allow_split", "Split orders")
            .select(&[("no", "No: one location ships the whole order"), ("yes", "Yes: several locations may ship its parts")])
            .value(if *allow_split { "yes" } else { "no" }),
    ])
    .about("Where the channel's orders may ship from, and whether one order may leave from several places. Replaces the routing in force; orders already routed keep theirs.")
    .entered(entered)
    .mark_choices()
}

fn policy_form(code: &str, policy: Option<&ordo_app::ReturnPolicyView>, entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("return-policy", "Return policy", format!("/dashboard/channels/{code}/return-policy"), "Save the policy", vec![
        Input::text("window_days", "Days to ask").of(Control::Number).value(policy.map(|p| p.window_days.to_string()).unwrap_or_default())
            .hint("after delivery, or shipment when delivery is unknown"),
        Input::text("auto_reasons", "Reasons authorised alone").optional().value(policy.map(|p| p.auto_reasons.join(", ")).unwrap_or_default())
            .hint("comma separated, from damaged, wrong_item, not_as_described, defective, no_longer_wanted, late_delivery"),
        Input::text("max_auto_value", "Most an order may be worth").optional().value(policy.and_then(|p| p.max_auto_value.clone()).unwrap_or_default())
            .hint("to be authorised alone, in the channel's currency; any value when empty"),
        Input::text("ship_back_days", "Days to send it back").of(Control::Number).value(policy.map(|p| p.ship_back_days.to_string()).unwrap_or_default())
            .hint("before an authorised return is overdue"),
    ])
    .about("Which returns Ordo authorises without a person; the rest wait for service.")
    .entered(entered)
}

fn buffer_form(code: &str, entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("buffer", "Safety buffer", format!("/dashboard/channels/{code}/buffers"), "Set the buffer", vec![
        Input::text("abc_class", "Class").select(&[("A", "A (fast movers)"), ("B", "B"), ("C", "C (slow movers)")]),
        Input::text("units", "Units kept back").of(Control::Number).value("0").hint("of each SKU in the class; the channel is told that many fewer"),
    ])
    .about("Units of each SKU the channel is not offered, so a late stock update cannot oversell.")
    .entered(entered)
    .mark_choices()
}

pub(crate) async fn channel(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<InboxFilter>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Channels)?;
    let filter = layout.query(query)?;
    let code = path.map(|Path(code)| code).map_err(|_| layout.fail(Problem::NotFound))?;
    channel_page(&session, &dashboard, &code, filter.status.as_deref().unwrap_or_default(), None).await
}

/// The channel's page; with `refused`, the form of that id shown again as it was sent (422).
async fn channel_page(session: &Session, dashboard: &Dashboard, code: &str, status: &str, refused: Option<(&str, Entered)>) -> Result<Response, PageError> {
    let layout = session.open(Page::Channels)?;
    let connections = dashboard.ordo.channels().channel_connections().await.map_err(|e| layout.fail(e))?;
    let connection = connections.into_iter().find(|c| c.channel.code == code).ok_or_else(|| layout.fail(Problem::NotFound))?;
    let base_url = connection.connector.as_ref().and_then(|c| c.base_url.clone()).unwrap_or_default();
    let poll_interval = connection.connector.as_ref().filter(|c| !c.kind.pushes()).map(|c| format!("every {} s", c.poll_interval_s)).unwrap_or_default();
    let status = status.trim();
    let deliveries = dashboard
        .ordo
        .channels().inbox(code, Some(status).filter(|s| !s.is_empty()), 100)
        .await
        .map_err(|e| layout.fail(e))?
        .into_iter()
        .map(DeliveryRow::from)
        .collect();
    let statuses = ["", "pending", "processed", "ignored", "failed"]
        .iter()
        .map(|s| Choice { value: (*s).to_owned(), label: if s.is_empty() { "any".into() } else { (*s).to_owned() }, selected: *s == status })
        .collect();
    let policy = dashboard.ordo.returns().return_policy(code).await.map_err(|e| layout.fail(e))?;
    let buffers = dashboard.ordo.inventory().channel_buffers(code).await.map_err(|e| layout.fail(e))?;
    let may_write = session.actor.can(Permission::MasterDataWrite);
    let entered = |id: &str| refused.as_ref().filter(|(form, _)| *form == id).map(|(_, entered)| entered);
    let forms = if may_write {
        vec![
            connector_form(code, connection.connector.as_ref(), entered("connector")),
            routing_form(code, &dashboard.ordo.master_data().channel_routing(code).await.map_err(|e| layout.fail(e))?, entered("routing")),
            policy_form(code, Some(&policy), entered("return-policy")),
            buffer_form(code, entered("buffer")),
        ]
    } else {
        Vec::new()
    };
    let page = ChannelPage {
        pausable: connection.connector.as_ref().filter(|_| may_write).map(|c| c.paused),
        policy: describe_policy(&policy),
        buffers: if buffers.is_empty() { "none".to_owned() } else { buffers.iter().map(|(class, units)| format!("class {class}: {units} units")).collect::<Vec<_>>().join(", ") },
        channel: connection.into(),
        base_url,
        poll_interval,
        deliveries,
        statuses,
        may_replay: session.actor.can(Permission::OrdersWrite),
        forms,
        layout,
    };
    let status = if refused.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    Ok(render(status, &page))
}

/// The policy in a sentence.
fn describe_policy(p: &ordo_app::ReturnPolicyView) -> String {
    let reasons = if p.auto_reasons.is_empty() { "no reason".to_owned() } else { p.auto_reasons.join(", ").replace('_', " ") };
    let value = p.max_auto_value.as_ref().map_or_else(String::new, |v| format!(" on orders up to {v} {}", p.currency));
    format!("{} days to ask; {reasons} authorised without a person{value}; {} days to send it back", p.window_days, p.ship_back_days)
}

/// Sets up or changes the connector: applied (back to the channel) or proposed (to the request).
pub(crate) async fn put_connector(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Channels, &headers, Permission::MasterDataWrite)?;
    let code = layout.path_key(path)?;
    let fields = super::form_fields(&body);
    let changed = match typed_connector(&fields) {
        Ok(new) => dashboard.ordo.channels().put_connector(&code, new, &session.actor).await,
        Err(error) => Err(error.into()),
    };
    match changed {
        Ok(ConnectorChange::Applied(_)) => Ok(Redirect::to(&format!("/dashboard/channels/{code}")).into_response()),
        Ok(ConnectorChange::Proposed(request)) => Ok(Redirect::to(&format!("/dashboard/changes/{}", request.id)).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            channel_page(&session, &dashboard, &code, "", Some(("connector", Entered::new(fields, refused)))).await
        }
    }
}

/// Pauses or resumes the connector (`action` = pause or resume).
pub(crate) async fn pause_connector(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Channels, &headers, Permission::MasterDataWrite)?;
    let code = layout.path_key(path)?;
    let fields = super::form_fields(&body);
    let pause = match field(&fields, "action") {
        "pause" => true,
        "resume" => false,
        _ => return Err(layout.fail(FieldError::new("action", "choose pause or resume"))),
    };
    dashboard.ordo.channels().pause_connector(&code, pause, &session.actor).await.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(&format!("/dashboard/channels/{code}")).into_response())
}

pub(crate) async fn set_policy(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Channels, &headers, Permission::MasterDataWrite)?;
    let code = layout.path_key(path)?;
    let fields = super::form_fields(&body);
    let whole = |name: &str| super::master::whole_number(&fields, name);
    let set = match (whole("window_days"), whole("ship_back_days")) {
        (Ok(window_days), Ok(ship_back_days)) => {
            let new = ordo_app::NewReturnPolicy {
                window_days,
                auto_reasons: comma_list(&fields, "auto_reasons"),
                max_auto_value: super::master::optional(&fields, "max_auto_value"),
                ship_back_days,
            };
            dashboard.ordo.returns().set_return_policy(&code, new, &session.actor).await.map(drop)
        }
        (Err(error), _) | (_, Err(error)) => Err(error.into()),
    };
    after_form(&session, &dashboard, &layout, &code, ("return-policy", fields), set).await
}

/// After one of the channel's forms: its page again, or the form refused with what was typed.
async fn after_form(
    session: &Session,
    dashboard: &Dashboard,
    layout: &Layout,
    code: &str,
    (form, fields): (&str, Vec<(String, String)>),
    done: ordo_app::AppResult<()>,
) -> Result<Response, PageError> {
    match done {
        Ok(()) => Ok(Redirect::to(&format!("/dashboard/channels/{code}")).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            channel_page(session, dashboard, code, "", Some((form, Entered::new(fields, refused)))).await
        }
    }
}

pub(crate) async fn set_buffer(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Channels, &headers, Permission::MasterDataWrite)?;
    let code = layout.path_key(path)?;
    let fields = super::form_fields(&body);
    let set = match super::master::whole_number(&fields, "units") {
        Ok(units) => dashboard.ordo.inventory().set_channel_buffer(&code, field(&fields, "abc_class"), units, &session.actor).await,
        Err(error) => Err(error.into()),
    };
    after_form(&session, &dashboard, &layout, &code, ("buffer", fields), set).await
}

/// Sets where the channel's orders may ship from and whether they may split, as
/// `PUT /api/v1/channels/{code}/routing` does.
pub(crate) async fn set_routing(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Channels, &headers, Permission::MasterDataWrite)?;
    let code = layout.path_key(path)?;
    let fields = super::form_fields(&body);
    let locations = comma_list(&fields, "locations");
    let set = match field(&fields, "allow_split") {
        "yes" | "no" => {
            let allow_split = field(&fields, "allow_split") == "yes";
            dashboard.ordo.master_data().set_channel_routing(&code, allow_split, &locations, &session.actor).await.map(drop)
        }
        _ => Err(FieldError::new("allow_split", "choose yes or no").into()),
    };
    after_form(&session, &dashboard, &layout, &code, ("routing", fields), set).await
}

/// Processes a delivery again (after its listing or data was fixed), then back to the inbox.
pub(crate) async fn replay(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Channels, &headers, Permission::OrdersWrite)?;
    let (code, id) = path.ok().and_then(|Path((code, id))| Uuid::try_parse(&id).ok().map(|id| (code, id))).ok_or_else(|| layout.fail(Problem::NotFound))?;
    dashboard.ordo.channels().replay_delivery(&code, id, &session.actor).await.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(&format!("/dashboard/channels/{code}")))
}

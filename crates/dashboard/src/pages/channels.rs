//! Channels and their connections: each channel's connector, its state, its last delivery and
//! poll, and one channel's inbox with the replay of deliveries that could not be mapped.

use askama::Template;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::body::Bytes;
use axum::response::{IntoResponse, Redirect, Response};
use ordo_app::{ChannelConnection, DeliveryView};
use ordo_domain::access::Permission;
use ordo_domain::master::{ChannelKind, NewChannel};
use ordo_domain::FieldError;
use serde::Deserialize;
use uuid::Uuid;

use super::{field, Choice, Layout, Page};
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
            state: c.state,
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

pub(crate) async fn channels(session: Session, State(dashboard): State<Dashboard>) -> Result<Response, PageError> {
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
    deliveries: Vec<DeliveryRow>,
    statuses: Vec<Choice>,
    may_replay: bool,
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
    let connections = dashboard.ordo.channels().channel_connections().await.map_err(|e| layout.fail(e))?;
    let connection = connections.into_iter().find(|c| c.channel.code == code).ok_or_else(|| layout.fail(Problem::NotFound))?;
    let base_url = connection.connector.as_ref().and_then(|c| c.base_url.clone()).unwrap_or_default();
    let poll_interval = connection.connector.as_ref().filter(|c| !c.kind.pushes()).map(|c| format!("every {} s", c.poll_interval_s)).unwrap_or_default();
    let status = filter.status.map(|s| s.trim().to_owned()).unwrap_or_default();
    let deliveries = dashboard
        .ordo
        .channels().inbox(&code, Some(status.as_str()).filter(|s| !s.is_empty()), 100)
        .await
        .map_err(|e| layout.fail(e))?
        .into_iter()
        .map(DeliveryRow::from)
        .collect();
    let statuses = ["", "pending", "processed", "ignored", "failed"]
        .iter()
        .map(|s| Choice { value: (*s).to_owned(), label: if s.is_empty() { "any".into() } else { (*s).to_owned() }, selected: *s == status })
        .collect();
    let page = ChannelPage {
        channel: connection.into(),
        base_url,
        poll_interval,
        deliveries,
        statuses,
        may_replay: session.actor.can(Permission::OrdersWrite),
        layout,
    };
    Ok(render(StatusCode::OK, &page))
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

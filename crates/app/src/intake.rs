//! Order intake: an order from a channel checked against master data, its lines planned
//! (listings resolved, tax, kits expanded), reviewed for risk, routed and reserved, and written
//! in one grouped write. Idempotent on (channel, external id).

use std::collections::HashMap;

use ordo_domain::audit::{AuditEntry, Change};
use ordo_domain::exception::ExceptionKind;
use ordo_domain::notification::Topic;
use ordo_domain::order::{LineAllocation, NewOrder, Order, OrderEvent, OrderLine, OrderStatus, RoutingRecord};
use ordo_domain::planning::{demand, plan_lines, LineMaster, LineSku, PlannedLine};
use ordo_domain::routing::LineDemand;
use ordo_domain::FieldError;
use ordo_storage::{Db, Engine, NewEvent, NewLineRecord, NewOrderRecord, RoutingSites, StorageError, Timeline};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::cache::{cached, Key, MasterCache};
use crate::rules::{load_active, log_passed_over, order_facts};
use ordo_domain::decide::{decide_order, OrderDecisions, OrderRules};
use ordo_domain::rules::RuleKind;
use crate::reserving::{record_routing, route_and_reserve, route_and_reserve_many, RouteRequest, Routed, RoutedOrder};
use crate::{Actor, AppError, AppResult, Orders};

/// The outcome of receiving an order: the order, and whether this call created it.
#[derive(Debug, Clone)]
pub struct Intake {
    pub order: Order,
    pub created: bool,
}

/// Where [`plan`] reads what the cache lacks: the caller's transaction, or a reader taken at
/// the first miss.
pub(crate) enum Reads<'a> {
    In(&'a mut ordo_storage::Tx),
    Lazy(&'a Db, Option<ordo_storage::Tx>),
}

impl Reads<'_> {
    pub(crate) async fn tx(&mut self) -> Result<&mut ordo_storage::Tx, StorageError> {
        match self {
            Reads::In(tx) => Ok(tx),
            Reads::Lazy(db, slot) => {
                if slot.is_none() {
                    *slot = Some(db.reader().await?);
                }
                slot.as_mut().ok_or_else(|| StorageError::Unavailable("no read transaction".into()))
            }
        }
    }
}

/// Checks an order against master data and plans its lines: the channel exists and sells in
/// the order's currency, each line names our SKU or the channel's listing, tax where the
/// channel sent none, kits expanded into their components. Returns the channel, the lines
/// and the order's total. Reads only.
pub(crate) async fn plan(
    reads: &mut Reads<'_>,
    cache: &MasterCache,
    order: &ordo_domain::order::CheckedOrder,
    (base, now): (ordo_domain::Currency, chrono::DateTime<chrono::Utc>),
) -> AppResult<(ordo_domain::master::Channel, Vec<PlannedLine>, ordo_domain::Money)> {
    let channel = cached!(cache, Key::Channel(order.channel.clone()), Channel, reads.tx().await?.channel(&order.channel).await?);
    // What the cache does not know is asked of the database before it is refused.
    let channel = match channel {
        Some(channel) => Some(channel),
        None => reads.tx().await?.channel(&order.channel).await?,
    };
    let Some(channel) = channel else {
        return Err(FieldError::new("channel", format!("unknown channel {:?}", order.channel)).into());
    };
    if channel.currency != order.currency {
        let message = format!("must be the channel's currency, {}", channel.currency);
        return Err(FieldError::new("currency", message).into());
    }
    // An order is booked when it ships, in base currency; one in a currency without a rate is
    // refused now, as its settlement would be, rather than taken and then stuck.
    if base != order.currency && reads.tx().await?.exchange_rate(order.currency.code(), now).await?.is_none() {
        let code = order.currency.code();
        let message = format!("{code} has no exchange rate to the base currency {base} yet: set one with PUT /api/v1/exchange-rates/{code} or ordo rates import");
        return Err(FieldError::new("currency", message).into());
    }

    // Each line names our SKU or the channel's listing SKU; the listing wins.
    let mut master = LineMaster::default();
    for (i, line) in order.lines.iter().enumerate() {
        let listing = cached!(cache, Key::Listing(channel.code.clone(), line.sku.clone()), Listing, {
            reads.tx().await?.listing(&channel.code, &line.sku).await?
        });
        let product = match &listing {
            Some(_) => None,
            None => cached!(cache, Key::Product(line.sku.clone()), Product, reads.tx().await?.product(&line.sku).await?),
        };
        let sku = match (listing, product) {
            (Some(listing), _) => LineSku { sku: listing.sku, channel_sku: Some(line.sku.clone()) },
            (None, Some(_)) => LineSku { sku: line.sku.clone(), channel_sku: None },
            (None, None)
                if reads.tx().await?.listing(&channel.code, &line.sku).await?.is_some()
                    || reads.tx().await?.product(&line.sku).await?.is_some() =>
            {
                cache.clear();
                return Box::pin(plan(reads, cache, order, (base, now))).await;
            }
            (None, None) => {
                let message = format!("unknown SKU {:?}: neither ours nor listed on {}", line.sku, channel.code);
                return Err(FieldError::new(format!("lines[{i}].sku"), message).into());
            }
        };
        // Tax as the channel sent it; where it sent none, from the product's tax class and the
        // rate for the ship-to country (none set: no tax).
        if line.tax.is_none() && !master.tax_rates.contains_key(&sku.sku) {
            let product = cached!(cache, Key::Product(sku.sku.clone()), Product, reads.tx().await?.product(&sku.sku).await?);
            let class = product.map(|p| p.tax_class).unwrap_or_default();
            let key = Key::TaxRate(order.ship_to.country.clone(), class.clone());
            let rate = cached!(cache, key, TaxRate, reads.tx().await?.tax_rate(&order.ship_to.country, &class).await?).unwrap_or(0);
            master.tax_rates.insert(sku.sku.clone(), rate);
        }
        if !master.kits.contains_key(&sku.sku) {
            let components = cached!(cache, Key::Kit(sku.sku.clone()), Kit, reads.tx().await?.kit_components(&sku.sku).await?);
            if !components.is_empty() {
                master.kits.insert(sku.sku.clone(), components);
            }
        }
        master.skus.push(sku);
    }
    let (planned, total) = plan_lines(order, &master)?;
    Ok((channel, planned, total))
}

/// An order intake has checked, planned and reviewed, ready to be written.
struct NewOrderWrite {
    channel: ordo_domain::master::Channel,
    sites: RoutingSites,
    order: ordo_domain::order::CheckedOrder,
    planned: Vec<PlannedLine>,
    lines: Vec<LineDemand>,
    holds: Vec<String>,
    /// The routing rule in force that chose this order, if one did.
    preference: Option<ordo_domain::routing::Preference>,
    /// (tag, rule) the tagging rules in force put on it.
    tags: Vec<(String, String)>,
    /// What the notification rules in force say about it.
    notices: Vec<serde_json::Value>,
    total: ordo_domain::Money,
    payload: String,
    /// The checked request as canonical JSON ([`CheckedOrder::terms`]).
    terms: String,
    /// Why the channel holds the order back, if it does.
    waiting_for: Option<String>,
    /// The channel ships it from stock it keeps (Amazon FBA).
    fulfilled_by_channel: bool,
    actor: Actor,
    who: String,
    now: chrono::DateTime<chrono::Utc>,
}

/// What intake's write did with one order.
enum Written {
    New { id: Uuid, status: OrderStatus, ship_by: chrono::DateTime<chrono::Utc>, routed: Option<Routed> },
    /// The channel's order was already here.
    Existing(Uuid),
}

/// Who ships an order a channel sent, and whether it may ship yet.
#[derive(Debug, Clone, Default)]
pub(crate) struct Custody {
    /// Why the channel holds the order back (Amazon's `Pending`), if it does.
    pub waiting_for: Option<String>,
    /// The channel ships it from stock it keeps (Amazon FBA): routed only to the location the
    /// channel manages.
    pub by_channel: bool,
}

/// The most orders one group commit takes. On SQLite a group of 32 holds the one writer about
/// 5 ms, which a webhook waiting to be kept may have to wait out (64 doubled the webhooks'
/// p99); PostgreSQL has no one writer, and its round trips make larger groups pay.
fn group_limit(engine: Engine) -> usize {
    match engine {
        Engine::Sqlite => 32,
        Engine::Postgres => 64,
    }
}

type Queued = (NewOrderWrite, oneshot::Sender<AppResult<Written>>);

/// Orders waiting to be written. A writer task takes them in groups: whatever arrives while a
/// group is being written goes into the next, up to [`group_limit`] orders in one transaction,
/// with one statement per table and one commit, so round trips and the disk flush are paid per
/// group rather than per order. Each caller hears only after its group has committed.
#[derive(Debug, Clone)]
pub(crate) struct IntakeQueue(mpsc::UnboundedSender<Queued>);

impl IntakeQueue {
    /// One writer per process, on either engine: more writers made smaller groups that waited
    /// for each other's locks on the same stock rows.
    pub(crate) fn start(db: Db) -> IntakeQueue {
        let (sender, queue) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(db, queue));
        IntakeQueue(sender)
    }

    async fn write(&self, order: NewOrderWrite) -> AppResult<Written> {
        let (answer, answered) = oneshot::channel();
        let closed = || AppError::Storage(StorageError::Unavailable("Ordo is shutting down".into()));
        self.0.send((order, answer)).map_err(|_| closed())?;
        answered.await.map_err(|_| closed())?
    }
}

async fn write_groups(db: Db, mut queue: mpsc::UnboundedReceiver<Queued>) {
    let limit = group_limit(db.engine());
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < limit
            && let Ok(next) = queue.try_recv()
        {
            group.push(next);
        }
        let (writes, answers): (Vec<NewOrderWrite>, Vec<_>) = group.into_iter().unzip();
        match write_group(&db, &writes).await {
            Ok(Some(written)) => {
                for (answer, written) in answers.into_iter().zip(written) {
                    let _ = answer.send(Ok(written));
                }
            }
            // One order of the group failed, or another writer took stock the group counted
            // on: the group rolled back, and each order is written on its own.
            outcome => {
                if let Err(e) = &outcome {
                    tracing::debug!(error = %e, orders = writes.len(), "a group of orders rolled back; writing them one by one");
                }
                for (write, answer) in writes.iter().zip(answers) {
                    let written = write_group(&db, std::slice::from_ref(write)).await.and_then(|written| {
                        written.and_then(|mut w| w.pop()).ok_or_else(|| StorageError::Corrupt("one order wrote nothing".into()).into())
                    });
                    let _ = answer.send(written);
                }
            }
        }
    }
}

/// Writes `writes` in one transaction; see [`write_new_orders`].
async fn write_group(db: &Db, writes: &[NewOrderWrite]) -> AppResult<Option<Vec<Written>>> {
    let mut tx = db.write().await?;
    let written = write_new_orders(&mut tx, writes).await?;
    if written.is_some() {
        tx.commit().await?;
    }
    Ok(written)
}

/// The timeline of a new order: received, validated, then routed or held.
fn intake_events<'a>(routed: Option<&Routed>, hold_reason: &'a str) -> Vec<NewEvent<'a>> {
    let last = match routed {
        Some(routed) => NewEvent { from: Some(OrderStatus::Validated), to: routed.status(), reason: routed.why() },
        None => NewEvent { from: Some(OrderStatus::Validated), to: OrderStatus::OnHold, reason: hold_reason },
    };
    vec![
        NewEvent { from: None, to: OrderStatus::Received, reason: "received from the channel" },
        NewEvent { from: Some(OrderStatus::Received), to: OrderStatus::Validated, reason: "SKUs, currency and address check out" },
        last,
    ]
}

/// Intake's write for a group of orders, in arrival order: those the channels sent before are
/// answered with the order already here; the rest are routed and reserved (unless held), then
/// written as routing left them, one statement per table. `None` when another writer took
/// stock the group counted on: the caller rolls back and writes the orders one by one. A
/// concurrent re-send that took an external id first (possible on PostgreSQL) is a duplicate
/// error, and the rollback gives the reservations back.
async fn write_new_orders(tx: &mut ordo_storage::Tx, writes: &[NewOrderWrite]) -> AppResult<Option<Vec<Written>>> {
    let keys: Vec<(&str, &str)> = writes.iter().map(|w| (w.channel.code.as_str(), w.order.external_id.as_str())).collect();
    let mut known: HashMap<(String, String), Uuid> =
        tx.order_ids_by_external_ids(&keys).await?.into_iter().map(|k| ((k.channel, k.external_id), k.id)).collect();
    // A new order gets its id; a second send of it in the same group is answered with it.
    let mut ids: Vec<Result<Uuid, Uuid>> = Vec::with_capacity(writes.len());
    for (channel, external_id) in &keys {
        let key = ((*channel).to_owned(), (*external_id).to_owned());
        ids.push(match known.get(&key) {
            Some(id) => Err(*id),
            None => Ok(*known.entry(key).or_insert_with(Uuid::now_v7)),
        });
    }
    let fresh: Vec<(Uuid, &NewOrderWrite)> = ids.iter().zip(writes).filter_map(|(id, w)| id.ok().map(|id| (id, w))).collect();

    // Risk review came first: a held order reserves nothing until a person releases it.
    let requests: Vec<RouteRequest> = fresh
        .iter()
        .filter(|(_, w)| w.holds.is_empty())
        .map(|(_, w)| RouteRequest {
            sites: &w.sites,
            lines: &w.lines,
            placed: (w.order.placed_at, w.channel.ship_by_sla_hours),
            preference: w.preference.as_ref(),
        })
        .collect();
    let mut routed = match requests.len() {
        0 => Vec::new(),
        1 => vec![route_and_reserve(tx, &requests[0]).await?],
        _ => match route_and_reserve_many(tx, &requests).await? {
            Some(routed) => routed,
            None => return Ok(None),
        },
    }
    .into_iter();
    let routed: Vec<Option<Routed>> = fresh.iter().map(|(_, w)| if w.holds.is_empty() { routed.next() } else { None }).collect();

    // Each new order's status and ship-by: as routing left it, or on hold by the channel's SLA.
    let outcomes: Vec<(OrderStatus, chrono::DateTime<chrono::Utc>)> = fresh
        .iter()
        .zip(&routed)
        .map(|((_, w), routed)| match routed {
            Some(routed) => (routed.status(), routed.ship_by),
            None => (OrderStatus::OnHold, w.order.placed_at + chrono::Duration::hours(w.channel.ship_by_sla_hours)),
        })
        .collect();
    let customers: Vec<ordo_domain::order::NewCustomerRef> = fresh
        .iter()
        .map(|(_, w)| ordo_domain::order::NewCustomerRef { email: w.order.customer_email.clone(), name: w.order.customer_name.clone() })
        .collect();
    let records: Vec<NewOrderRecord> = fresh
        .iter()
        .zip(&outcomes)
        .zip(&customers)
        .map(|(((id, w), (status, ship_by)), customer)| {
            let (channel, order) = (&w.channel, &w.order);
            NewOrderRecord {
                id: *id,
                channel: &channel.code,
                external_id: &order.external_id,
                status: *status,
                placed_at: order.placed_at,
                ship_by: *ship_by,
                currency: order.currency,
                customer,
                ship_to: &order.ship_to,
                billing_country: order.billing_country.as_deref(),
                shipping_method: &order.shipping_method,
                payment_status: order.payment_status,
                shipping_price: order.shipping_price,
                total: w.total,
                payload: &w.payload,
                terms: &w.terms,
                waiting_for: w.waiting_for.as_deref(),
                fulfilled_by_channel: w.fulfilled_by_channel,
                received_at: w.now,
            }
        })
        .collect();
    if tx.insert_orders(&records).await? != records.len() {
        return Err(StorageError::Duplicate { constraint: "orders.channel, orders.external_id".into() }.into());
    }
    let lines: Vec<Vec<NewLineRecord>> = fresh.iter().map(|(_, w)| line_records(&w.planned)).collect();
    let lines: Vec<(Uuid, &[NewLineRecord])> = fresh.iter().zip(&lines).map(|((id, _), lines)| (*id, lines.as_slice())).collect();
    tx.insert_order_lines(&lines).await?;

    let served: Vec<RoutedOrder> = fresh
        .iter()
        .zip(&routed)
        .filter_map(|((id, w), routed)| {
            routed.as_ref().map(|routed| RoutedOrder { id: *id, channel: &w.channel.code, lines: &w.lines, routed, at: w.now })
        })
        .collect();
    record_routing(tx, &served).await?;
    for (id, w) in fresh.iter().filter(|(_, w)| !w.holds.is_empty()) {
        let kind = ExceptionKind::PaymentReview;
        let details = serde_json::json!({"external_id": w.order.external_id, "channel": w.channel.code, "reasons": w.holds});
        tx.raise_exception(kind.as_str(), &format!("order:{id}"), kind.owner_role().as_str(), w.now + kind.sla(), &details, w.now).await?;
    }
    let hold_reasons: Vec<String> = fresh.iter().map(|(_, w)| w.holds.join("; ")).collect();
    let events: Vec<Vec<NewEvent>> = routed.iter().zip(&hold_reasons).map(|(routed, reason)| intake_events(routed.as_ref(), reason)).collect();
    let timelines: Vec<Timeline> = fresh
        .iter()
        .zip(&records)
        .zip(&events)
        .map(|(((id, w), record), steps)| Timeline { order: *id, channel: record.channel, ship_by: record.ship_by, actor: &w.who, at: w.now, steps })
        .collect();
    tx.insert_order_events(&timelines).await?;

    // The audit log keeps each new order as it came out of review and routing, and why.
    let audit: Vec<AuditEntry> = fresh
        .iter()
        .zip(&outcomes)
        .zip(&events)
        .map(|(((id, w), (status, _)), steps)| {
            let after = serde_json::json!({"channel": w.channel.code, "external_id": w.order.external_id, "status": status.as_str(), "total": w.total.to_string()});
            let why = steps.last().map_or("", |step| step.reason);
            w.actor.entry(w.now, Change::new("order.receive", format!("order:{id}")).after(after).reason(why))
        })
        .collect();
    tx.append_audit(&audit).await?;
    let tags: Vec<(Uuid, &str, &str)> =
        fresh.iter().flat_map(|(id, w)| w.tags.iter().map(move |(tag, rule)| (*id, tag.as_str(), rule.as_str()))).collect();
    tx.insert_order_tags(&tags).await?;

    if let Some(first) = fresh.first() {
        let now = first.1.now;
        let listeners = crate::outbox::Listeners::read(tx).await?;
        listeners.notify_all(tx, Topic::OrderConfirmed, now, || {
            fresh.iter().zip(&outcomes).map(|((id, w), (status, ship_by))| (format!("order:{id}"), confirmation(*id, w, *status, *ship_by))).collect()
        })
        .await?;
        listeners.notify_all(tx, Topic::RuleTriggered, now, || {
            fresh.iter().flat_map(|(id, w)| w.notices.iter().map(move |notice| (format!("order:{id}"), notice.clone()))).collect()
        })
        .await?;
    }

    let mut new = routed.into_iter().zip(outcomes);
    let mut written = Vec::with_capacity(ids.len());
    for id in ids {
        written.push(match id {
            Err(existing) => Written::Existing(existing),
            Ok(id) => {
                let (routed, (status, ship_by)) = new.next().ok_or_else(|| StorageError::Corrupt("a new order lost its routing".into()))?;
                Written::New { id, status, ship_by, routed }
            }
        });
    }
    Ok(Some(written))
}

/// What an `order_confirmed` message says.
fn confirmation(id: Uuid, w: &NewOrderWrite, status: OrderStatus, ship_by: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    serde_json::json!({
        "order_id": id,
        "channel": w.channel.code,
        "external_id": w.order.external_id,
        "status": status.as_str(),
        "customer_email": w.order.customer_email,
        "total": w.total.to_decimal_string(),
        "currency": w.total.currency().code(),
        "ship_by": ship_by,
    })
}

/// The planned lines as the database keeps them.
fn line_records(planned: &[PlannedLine]) -> Vec<NewLineRecord<'_>> {
    planned
        .iter()
        .map(|line| NewLineRecord {
            line: line.line,
            kit: line.kit,
            part_of: line.part_of,
            sku: &line.sku,
            channel_sku: line.channel_sku.as_deref(),
            item_id: line.item_id.as_deref(),
            quantity: line.quantity,
            unit_price: line.unit_price,
            tax: line.tax,
            discount: line.discount,
        })
        .collect()
}

/// Writes the planned lines of order `id`.
pub(crate) async fn insert_lines(tx: &mut ordo_storage::Tx, id: Uuid, planned: &[PlannedLine]) -> AppResult<()> {
    Ok(tx.insert_order_lines(&[(id, &line_records(planned))]).await?)
}

impl Orders<'_> {
    /// The answer to an order sent again under an external id the channel used before: the
    /// order already made when it is the same request, else [`AppError::IdempotencyConflict`]
    /// naming the first field that differs (a change goes through an order change instead).
    async fn sent_again(self, existing: Uuid, sent: &ordo_domain::order::CheckedOrder) -> AppResult<Intake> {
        let kept = self.db.read().await?.order_terms(existing).await?;
        let kept = kept.and_then(|terms| serde_json::from_str::<serde_json::Value>(&terms).ok());
        if let Some(field) = kept.and_then(|kept| ordo_domain::order::first_difference(&kept, &sent.terms())) {
            let message = format!(
                "differs from order {existing}, made before under the external id {:?}: change it with PUT /api/v1/channels/{}/orders/{}, or use a new external id",
                sent.external_id, sent.channel, sent.external_id
            );
            return Err(AppError::IdempotencyConflict(FieldError::new(field, message)));
        }
        Ok(Intake { order: self.order(existing).await?, created: false })
    }

    /// Receives an order from a channel. Sending the same order under the same (channel,
    /// external id) again returns the order already made, unchanged; another order under it is
    /// refused. `payload` is the body as the channel sent it.
    pub async fn receive_order(self, new: NewOrder, payload: &str, actor: &Actor) -> AppResult<Intake> {
        self.receive_order_held(new, Custody::default(), payload, actor).await
    }

    /// As [`Ordo::receive_order`], for an order its channel holds back for now or ships itself
    /// ([`Custody`]): reserved and routed, but not picked or shipped by Ordo until the channel
    /// lets it go.
    pub(crate) async fn receive_order_held(self, new: NewOrder, custody: Custody, payload: &str, actor: &Actor) -> AppResult<Intake> {
        let Custody { waiting_for, by_channel } = custody;
        let order = new.check()?;
        let now = self.now();
        if order.placed_at > now + ordo_domain::order::CLOCK_SKEW {
            return Err(FieldError::new("placed_at", "is in the future: an order is placed before it is sent").into());
        }
        // Everything that only reads happens before the write, and mostly from the cache: the
        // database is asked only for what the cache lacks.
        let mut reads = Reads::Lazy(&self.db, None);
        let (channel, planned, total) = plan(&mut reads, &self.cache, &order, (self.settings.base_currency, now)).await?;
        let key = Key::ChannelStats(channel.code.clone());
        let stats = cached!(self.cache, key, ChannelStats, reads.tx().await?.channel_order_stats(&channel.code).await?);
        let key = Key::Sites(channel.code.clone(), order.shipping_method.clone(), by_channel);
        let sites =
            cached!(self.cache, key, Sites, reads.tx().await?.routing_sites(&channel.code, &order.shipping_method, by_channel).await?);
        let risk_rules = cached!(self.cache, Key::Rules(RuleKind::RiskHold), Rules, load_active(reads.tx().await?, RuleKind::RiskHold).await?);
        let routing_rules = cached!(self.cache, Key::Rules(RuleKind::Routing), Rules, load_active(reads.tx().await?, RuleKind::Routing).await?);
        let tagging_rules = cached!(self.cache, Key::Rules(RuleKind::Tagging), Rules, load_active(reads.tx().await?, RuleKind::Tagging).await?);
        let key = Key::Rules(RuleKind::Notification);
        let notification_rules = cached!(self.cache, key, Rules, load_active(reads.tx().await?, RuleKind::Notification).await?);
        drop(reads);

        // Risk review first: a held order reserves nothing until a person releases it.
        let rules = OrderRules { risk: &risk_rules, routing: &routing_rules, tagging: &tagging_rules, notification: &notification_rules };
        let OrderDecisions { holds, preference, tags, notices, passed_over } = decide_order(rules, |lines| {
            order_facts(&channel, &order, &planned, total, stats, now, lines)
        });
        log_passed_over(&passed_over);
        let hold_reason = holds.join("; ");
        let lines = demand(&planned);
        let who = actor.to_string();

        // Route and reserve, then write the order as routing left it, grouped with the others
        // arriving now. A re-send of an order we have is answered with it, touching nothing.
        let write = NewOrderWrite {
            channel: channel.clone(),
            sites,
            order: order.clone(),
            planned: planned.clone(),
            lines,
            holds: holds.clone(),
            preference,
            tags: tags.clone(),
            notices,
            total,
            payload: payload.to_owned(),
            terms: order.terms().to_string(),
            waiting_for: waiting_for.clone(),
            fulfilled_by_channel: by_channel,
            actor: actor.clone(),
            who: who.clone(),
            now,
        };
        let (id, status, ship_by, routed) = match self.intake.write(write).await {
            Ok(Written::New { id, status, ship_by, routed }) => (id, status, ship_by, routed),
            Ok(Written::Existing(existing)) => return self.sent_again(existing, &order).await,
            // The channel sent it again meanwhile, through another process.
            Err(AppError::Storage(e)) if e.is_duplicate() => {
                let existing = self.db.read().await?.order_id_by_external_id(&channel.code, &order.external_id).await?;
                let existing = existing.ok_or_else(|| AppError::NotFound { what: "order", key: order.external_id.clone() })?;
                return self.sent_again(existing, &order).await;
            }
            Err(e) => return Err(e),
        };
        let customer = ordo_domain::order::NewCustomerRef { email: order.customer_email.clone(), name: order.customer_name.clone() };
        let events = intake_events(routed.as_ref(), &hold_reason);

        // The answer is what was just written, without reading it back.
        let lines = planned
            .into_iter()
            .map(|l| {
                let (allocations, backordered) = match &routed {
                    Some(r) => (
                        r.allocations
                            .iter()
                            .filter(|a| a.0 == l.line)
                            .map(|a| LineAllocation { location: a.1.clone(), quantity: a.2 })
                            .collect(),
                        r.short.iter().filter(|s| s.0 == l.line).map(|s| s.2).sum(),
                    ),
                    None => (Vec::new(), 0),
                };
                OrderLine {
                    line: l.line,
                    kit: l.kit,
                    part_of: l.part_of,
                    sku: l.sku,
                    channel_sku: l.channel_sku,
                    item_id: l.item_id,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    tax: l.tax,
                    discount: l.discount,
                    allocations,
                    backordered,
                    shipped: 0,
                }
            })
            .collect();
        let timeline = events
            .iter()
            .map(|e| OrderEvent { at: now, from: e.from, to: e.to, actor: who.clone(), reason: e.reason.to_owned() })
            .collect();
        let routing = routed
            .map(|r| vec![RoutingRecord { decided_at: now, decider: r.decider, reasons: r.reasons }])
            .unwrap_or_default();
        let order = Order {
            id,
            channel: channel.code,
            external_id: order.external_id,
            status,
            placed_at: order.placed_at,
            ship_by,
            currency: order.currency,
            customer,
            ship_to: order.ship_to,
            billing_country: order.billing_country,
            shipping_method: order.shipping_method,
            payment_status: order.payment_status,
            shipping_price: order.shipping_price,
            total,
            waiting_for,
            fulfilled_by_channel: by_channel,
            lines,
            shipments: Vec::new(),
            timeline,
            routing,
            tags: tags.into_iter().map(|(tag, rule)| ordo_domain::order::OrderTag { tag, rule }).collect(),
        };
        Ok(Intake { order, created: true })
    }
}

//! Returns as a governed workflow: a request the channel's policy authorises or service
//! decides, the goods received and inspected at a location, a disposition per line with its
//! stock and ledger effects, refunds capped by what was paid, replacements reserved like any
//! order, and claims on suppliers tracked to credit.

use chrono::{DateTime, Utc};
use ordo_domain::access::Role;
use ordo_domain::audit::Change;
use ordo_domain::exception::ExceptionKind;
use ordo_domain::ledger;
use ordo_domain::notification::Topic;
use ordo_domain::order::{NewCustomerRef, NewOrder, NewOrderLine, Order, PaymentStatus};
use ordo_domain::returns::{
    refund_lines, AskedRefund, ClaimStatus, Disposition, PaidLine, PolicyDecision, Refund, RefundedLine, ReturnPolicy, ReturnReason, ReturnStatus,
    Rma, RmaLine, SupplierClaim,
};
use ordo_domain::{FieldError, Money};
use ordo_storage::{ClaimRecord, RefundLineRecord, RefundRecord, ReturnLineRecord, ReturnRecord, ReturnStep, Tx};
use uuid::Uuid;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Ordo, Returns};

/// The most lines one return or refund takes.
const MAX_LINES: usize = 200;

/// A return as asked for.
#[derive(Debug, Clone)]
pub struct NewReturn {
    pub order_id: Uuid,
    pub lines: Vec<NewReturnLine>,
    /// api, dashboard or channel.
    pub source: String,
    /// Lets a request in after the policy's window closed, with the reason; a person's call.
    pub override_window: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewReturnLine {
    pub line: i64,
    pub quantity: i64,
    pub reason: String,
}

/// Units of an order line received back.
#[derive(Debug, Clone, Copy)]
pub struct ReceivedLine {
    pub line: i64,
    pub quantity: i64,
}

/// What inspection decided for one line.
#[derive(Debug, Clone)]
pub struct InspectedLine {
    pub line: i64,
    pub disposition: String,
    pub note: String,
    /// The supplier a claim goes to.
    pub supplier: Option<String>,
}

/// A line of a refund as asked for: units of the line, or a goodwill amount of its net price.
#[derive(Debug, Clone, Default)]
pub struct NewRefundLine {
    pub line: i64,
    pub quantity: i64,
    /// A decimal string in the order's currency.
    pub amount: Option<String>,
}

/// A channel's return policy as a person sets it.
#[derive(Debug, Clone, Default)]
pub struct NewReturnPolicy {
    pub window_days: i64,
    pub auto_reasons: Vec<String>,
    /// A decimal string in the channel's currency; none for any value.
    pub max_auto_value: Option<String>,
    pub ship_back_days: i64,
}

/// A channel's return policy as people read it.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReturnPolicyView {
    /// Days after delivery (or shipment) a return may be asked for.
    pub window_days: i64,
    /// Reasons authorised without a person.
    pub auto_reasons: Vec<String>,
    /// Orders worth more than this go to service; none for any value.
    pub max_auto_value: Option<String>,
    pub currency: String,
    /// Days an authorised return has to arrive before it is overdue.
    pub ship_back_days: i64,
}

fn policy_view(policy: ReturnPolicy, currency: ordo_domain::Currency) -> ReturnPolicyView {
    ReturnPolicyView {
        window_days: policy.window_days,
        auto_reasons: policy.auto_reasons,
        max_auto_value: policy.max_auto_value_minor.map(|m| Money::from_minor(m, currency).to_decimal_string()),
        currency: currency.code().to_owned(),
        ship_back_days: policy.ship_back_days,
    }
}

/// A refund as asked for.
#[derive(Debug, Clone, Default)]
pub struct NewRefund {
    pub return_id: Option<Uuid>,
    pub lines: Vec<NewRefundLine>,
    /// Shipping charge refunded, a decimal string in the order's currency.
    pub shipping: Option<String>,
    pub reason: String,
    /// The channel and its id of a refund the channel made: booked once, whatever retries.
    pub channel_refund: Option<(String, String)>,
}

fn return_not_found(id: Uuid) -> AppError {
    AppError::NotFound { what: "return", key: id.to_string() }
}

fn refuse(current: ReturnStatus, message: String) -> AppError {
    AppError::InvalidTransition { current: current.as_str(), message }
}

/// Units of `line` that have left in shipments; a kit's line counts the kits its scarcest
/// component completed.
fn shipped_units(order: &Order, line: i64) -> i64 {
    let Some(l) = order.lines.iter().find(|l| l.line == line) else { return 0 };
    if !l.kit {
        return l.shipped;
    }
    order
        .lines
        .iter()
        .filter(|c| c.part_of == Some(line))
        .map(|c| c.shipped * l.quantity / c.quantity.max(1))
        .min()
        .unwrap_or(0)
}

/// When the goods reached the customer: the last delivery, else the last shipment.
fn reached_customer(order: &Order) -> Option<DateTime<Utc>> {
    order.shipments.iter().map(|s| s.delivered_at.unwrap_or(s.shipped_at)).max()
}

fn reason_text(field: &str, text: &str) -> AppResult<String> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > 500 {
        return Err(FieldError::new(field, "must say why, in 1 to 500 characters").into());
    }
    Ok(text.to_owned())
}

/// Which returns a list shows: each filter left empty selects all.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReturnSearch<'a> {
    pub order: Option<Uuid>,
    pub status: Option<&'a str>,
    /// The channel's number of the order returned from.
    pub order_ref: Option<&'a str>,
    /// A SKU asked back.
    pub sku: Option<&'a str>,
}

impl Returns<'_> {
    /// A channel's return policy: its own, or the default.
    pub async fn return_policy(self, channel: &str) -> AppResult<ReturnPolicyView> {
        let mut tx = self.db.read().await?;
        let Some(found) = tx.channel(channel).await? else {
            return Err(AppError::NotFound { what: "channel", key: channel.to_owned() });
        };
        Ok(policy_view(tx.return_policy(channel).await?.unwrap_or_default(), found.currency))
    }

    /// Sets a channel's return policy; the order value it authorises alone is a decimal string
    /// in the channel's currency.
    pub async fn set_return_policy(self, channel: &str, new: NewReturnPolicy, actor: &Actor) -> AppResult<ReturnPolicyView> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let Some(found) = tx.channel(channel).await? else {
            return Err(AppError::NotFound { what: "channel", key: channel.to_owned() });
        };
        let max_auto_value_minor = new
            .max_auto_value
            .as_deref()
            .map(|v| Money::parse_non_negative("max_auto_value", v, found.currency).map(Money::minor))
            .transpose()?;
        let policy = ReturnPolicy { window_days: new.window_days, auto_reasons: new.auto_reasons, max_auto_value_minor, ship_back_days: new.ship_back_days };
        policy.validate()?;
        let before = tx.return_policy(channel).await?.unwrap_or_default();
        tx.set_return_policy(channel, &policy).await?;
        let change = Change::new("return_policy.set", format!("channel:{channel}")).before(&before).after(&policy);
        record(&mut tx, actor, now, &[change]).await?;
        tx.commit().await?;
        Ok(policy_view(policy, found.currency))
    }

    /// Asks for a return of shipped order lines. The channel's policy authorises it at once, or
    /// it waits for service; outside the policy's window only a person's override lets it in.
    pub async fn request_return(self, new: NewReturn, actor: &Actor) -> AppResult<Rma> {
        if new.lines.is_empty() || new.lines.len() > MAX_LINES {
            return Err(FieldError::new("lines", format!("must name 1 to {MAX_LINES} order lines")).into());
        }
        let source = match new.source.as_str() {
            "api" | "dashboard" | "channel" => new.source.clone(),
            _ => return Err(FieldError::new("source", "must be api, dashboard or channel").into()),
        };
        let mut reasons = Vec::with_capacity(new.lines.len());
        for (i, l) in new.lines.iter().enumerate() {
            reasons.push(ReturnReason::parse(&format!("lines[{i}].reason"), &l.reason)?);
            if !(1..=1_000_000).contains(&l.quantity) {
                return Err(FieldError::new(format!("lines[{i}].quantity"), "must be 1 or more").into());
            }
            if new.lines[..i].iter().any(|earlier| earlier.line == l.line) {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("line {} is named twice", l.line)).into());
            }
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let order = tx.order_for_update(new.order_id).await?.ok_or(AppError::NotFound { what: "order", key: new.order_id.to_string() })?;
        let Some(reached) = reached_customer(&order) else {
            return Err(AppError::InvalidTransition {
                current: order.status.as_str(),
                message: "nothing of this order has shipped: cancel it instead of returning it".into(),
            });
        };
        let in_returns = tx.units_in_returns(order.id).await?;
        let mut lines = Vec::with_capacity(new.lines.len());
        for (i, l) in new.lines.iter().enumerate() {
            let field = format!("lines[{i}].line");
            let Some(line) = order.lines.iter().find(|x| x.line == l.line) else {
                return Err(FieldError::new(field, format!("the order has no line {}", l.line)).into());
            };
            if line.kit {
                let parts: Vec<String> = order.lines.iter().filter(|c| c.part_of == Some(line.line)).map(|c| c.line.to_string()).collect();
                let message = format!("line {} is a kit; return its components (lines {})", line.line, parts.join(", "));
                return Err(FieldError::new(field, message).into());
            }
            let asked_before = in_returns.iter().find(|(n, _)| *n == l.line).map_or(0, |(_, q)| *q);
            if l.quantity > line.shipped - asked_before {
                let message = format!(
                    "line {} shipped {} unit(s) and {asked_before} are already in returns; at most {} can be returned",
                    line.line,
                    line.shipped,
                    (line.shipped - asked_before).max(0)
                );
                return Err(FieldError::new(format!("lines[{i}].quantity"), message).into());
            }
            lines.push(ReturnLineRecord {
                line: l.line,
                sku: line.sku.clone(),
                quantity: l.quantity,
                reason: reasons[i].as_str().to_owned(),
                received: 0,
                disposition: None,
                note: None,
            });
        }
        let policy = tx.return_policy(&order.channel).await?.unwrap_or_default();
        let who = actor.to_string();
        let authorized = |decided_by: &str, note: Option<String>| (ReturnStatus::Authorized, decided_by.to_owned(), note);
        let (status, decided_by, review_reason) = match policy.decide(reached, now, &reasons, order.total.minor()) {
            PolicyDecision::Authorize => authorized("policy", None),
            PolicyDecision::Review(why) => (ReturnStatus::Requested, String::new(), Some(why)),
            PolicyDecision::OutsideWindow { days_late } => {
                let Some(why) = &new.override_window else {
                    let message = format!(
                        "asked {days_late} day(s) after the {}-day return window closed; a person may let it in with override_window and a reason",
                        policy.window_days
                    );
                    return Err(FieldError::new("override_window", message).into());
                };
                if !matches!(actor.role, Role::Service | Role::Ops | Role::Admin) {
                    return Err(AppError::Forbidden("only service, ops or admin may let a return in outside the window".into()));
                }
                let why = reason_text("override_window", why)?;
                authorized(&who, Some(format!("outside the window by {days_late} day(s): {why}")))
            }
        };
        let id = Uuid::now_v7();
        let authorized = status == ReturnStatus::Authorized;
        let row = ReturnRecord {
            id,
            order_id: order.id,
            status,
            source,
            requested_by: who.clone(),
            requested_at: now,
            review_reason,
            decided_by: authorized.then(|| decided_by.clone()),
            decided_at: authorized.then_some(now),
            decision_note: None,
            due_back_at: authorized.then(|| now + chrono::Duration::days(policy.ship_back_days)),
            carrier: None,
            tracking: None,
            location: None,
            received_at: None,
            inspected_at: None,
            closed_at: None,
            replacement_order: None,
        };
        tx.insert_return(&row, &lines).await?;
        if authorized {
            self.notify_authorized(&mut tx, &row, &order, &lines, now).await?;
        }
        let after = serde_json::json!({
            "order": order.id,
            "status": status.as_str(),
            "lines": lines.iter().map(|l| serde_json::json!({"line": l.line, "quantity": l.quantity, "reason": l.reason})).collect::<Vec<_>>(),
        });
        record(&mut tx, actor, now, &[Change::new("return.request", format!("return:{id}")).after(after)]).await?;
        let rma = rma(&mut tx, row, self.settings.base_currency).await?;
        tx.commit().await?;
        Ok(rma)
    }

    async fn notify_authorized(self, tx: &mut Tx, row: &ReturnRecord, order: &Order, lines: &[ReturnLineRecord], now: DateTime<Utc>) -> AppResult<()> {
        let data = serde_json::json!({
            "return_id": row.id,
            "order_id": order.id,
            "channel": order.channel,
            "external_id": order.external_id,
            "customer_email": order.customer.email,
            "due_back_at": row.due_back_at,
            "lines": lines.iter().map(|l| serde_json::json!({"line": l.line, "sku": l.sku, "quantity": l.quantity})).collect::<Vec<_>>(),
        });
        crate::outbox::notify(tx, Topic::ReturnAuthorized, &format!("return:{}", row.id), data, now).await
    }

    /// Service's decision on a return the policy left to a person.
    pub async fn decide_return(self, id: Uuid, authorize: bool, note: &str, actor: &Actor) -> AppResult<Rma> {
        let note = reason_text("note", note)?;
        if !matches!(actor.role, Role::Service | Role::Ops | Role::Admin) {
            return Err(AppError::Forbidden("returns the policy leaves to a person are decided by service, ops or admin".into()));
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let current = row.status;
        let next = if authorize { ReturnStatus::Authorized } else { ReturnStatus::Rejected };
        current.become_(next).map_err(|m| refuse(current, m))?;
        let order = tx.order(row.order_id).await?.ok_or(AppError::NotFound { what: "order", key: row.order_id.to_string() })?;
        let policy = tx.return_policy(&order.channel).await?.unwrap_or_default();
        let who = actor.to_string();
        let step = ReturnStep {
            decided_by: Some(&who),
            decided_at: Some(now),
            decision_note: Some(&note),
            due_back_at: authorize.then(|| now + chrono::Duration::days(policy.ship_back_days)),
            ..ReturnStep::default()
        };
        self.move_return(&mut tx, &row, current, next, &step).await?;
        if authorize {
            let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
            let lines = tx.return_lines(id).await?;
            self.notify_authorized(&mut tx, &row, &order, &lines, now).await?;
        }
        let change = Change::new(if authorize { "return.authorize" } else { "return.reject" }, format!("return:{id}"))
            .before(serde_json::json!({"status": current.as_str()}))
            .after(serde_json::json!({"status": next.as_str()}))
            .reason(&note);
        record(&mut tx, actor, now, &[change]).await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let rma = rma(&mut tx, row, self.settings.base_currency).await?;
        tx.commit().await?;
        Ok(rma)
    }

    async fn move_return(self, tx: &mut Tx, row: &ReturnRecord, from: ReturnStatus, to: ReturnStatus, step: &ReturnStep<'_>) -> AppResult<()> {
        if !tx.move_return(row.id, from.as_str(), to.as_str(), step).await? {
            return Err(refuse(from, format!("the return moved on meanwhile; it is no longer {}", from.as_str())));
        }
        Ok(())
    }

    /// The customer sent the goods back with a carrier.
    pub async fn return_in_transit(self, id: Uuid, carrier: &str, tracking: &str, actor: &Actor) -> AppResult<Rma> {
        let carrier = ordo_domain::field::text("carrier", carrier)?;
        let tracking = ordo_domain::field::text("tracking", tracking)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let current = row.status;
        current.become_(ReturnStatus::InTransit).map_err(|m| refuse(current, m))?;
        let step = ReturnStep { carrier: Some(&carrier), tracking: Some(&tracking), ..ReturnStep::default() };
        self.move_return(&mut tx, &row, current, ReturnStatus::InTransit, &step).await?;
        let change = Change::new("return.ship_back", format!("return:{id}")).after(serde_json::json!({"carrier": carrier, "tracking": tracking}));
        record(&mut tx, actor, now, &[change]).await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let rma = rma(&mut tx, row, self.settings.base_currency).await?;
        tx.commit().await?;
        Ok(rma)
    }

    /// The goods arrived at `location`: how many of each line. Nothing is in stock yet; that
    /// waits for inspection.
    pub async fn receive_return(self, id: Uuid, location: &str, received: &[ReceivedLine], actor: &Actor) -> AppResult<Rma> {
        if received.is_empty() || received.len() > MAX_LINES {
            return Err(FieldError::new("lines", format!("must name 1 to {MAX_LINES} lines")).into());
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let current = row.status;
        current.become_(ReturnStatus::Received).map_err(|m| refuse(current, m))?;
        if tx.location(location).await?.is_none() {
            return Err(FieldError::new("location", format!("unknown location {location:?}")).into());
        }
        let lines = tx.return_lines(id).await?;
        for (i, r) in received.iter().enumerate() {
            if received[..i].iter().any(|earlier| earlier.line == r.line) {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("line {} is named twice", r.line)).into());
            }
            let Some(line) = lines.iter().find(|l| l.line == r.line) else {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("the return has no line {}", r.line)).into());
            };
            if !(0..=line.quantity).contains(&r.quantity) {
                let message = format!("line {} was returned with {} unit(s); 0 to {} can be received", line.line, line.quantity, line.quantity);
                return Err(FieldError::new(format!("lines[{i}].quantity"), message).into());
            }
            tx.set_line_received(id, r.line, r.quantity).await?;
        }
        let step = ReturnStep { location: Some(location), received_at: Some(now), ..ReturnStep::default() };
        self.move_return(&mut tx, &row, current, ReturnStatus::Received, &step).await?;
        let kind = ExceptionKind::ReturnOverdue;
        tx.resolve_exception(kind.as_str(), &format!("return:{id}"), "received", now).await?;
        let after = serde_json::json!({"location": location, "lines": received.iter().map(|r| serde_json::json!({"line": r.line, "quantity": r.quantity})).collect::<Vec<_>>()});
        record(&mut tx, actor, now, &[Change::new("return.receive", format!("return:{id}")).after(after)]).await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let rma = rma(&mut tx, row, self.settings.base_currency).await?;
        tx.commit().await?;
        Ok(rma)
    }

    /// Inspection: a disposition for every line received, applied with its stock and ledger
    /// effects in the same transaction.
    pub async fn inspect_return(self, id: Uuid, inspected: &[InspectedLine], actor: &Actor) -> AppResult<Rma> {
        let now = self.now();
        let base = self.settings.base_currency;
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let current = row.status;
        current.become_(ReturnStatus::Inspected).map_err(|m| refuse(current, m))?;
        let location = row.location.clone().unwrap_or_default();
        let lines = tx.return_lines(id).await?;
        let mut decided = Vec::with_capacity(inspected.len());
        for (i, d) in inspected.iter().enumerate() {
            if inspected[..i].iter().any(|earlier| earlier.line == d.line) {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("line {} is named twice", d.line)).into());
            }
            let Some(line) = lines.iter().find(|l| l.line == d.line) else {
                return Err(FieldError::new(format!("lines[{i}].line"), format!("the return has no line {}", d.line)).into());
            };
            let disposition = Disposition::parse(&format!("lines[{i}].disposition"), &d.disposition)?;
            let note = ordo_domain::field::text(&format!("lines[{i}].note"), &d.note)?;
            if let Some(supplier) = &d.supplier {
                if disposition != Disposition::SupplierClaim {
                    return Err(FieldError::new(format!("lines[{i}].supplier"), "only a supplier claim names a supplier").into());
                }
                if !tx.suppliers().await?.iter().any(|s| &s.code == supplier) {
                    return Err(FieldError::new(format!("lines[{i}].supplier"), format!("unknown supplier {supplier:?}")).into());
                }
            }
            decided.push((line.clone(), disposition, note, d.supplier.clone()));
        }
        if let Some(missing) = lines.iter().find(|l| l.received > 0 && !decided.iter().any(|(d, ..)| d.line == l.line)) {
            return Err(FieldError::new("lines", format!("line {} was received and needs a disposition", missing.line)).into());
        }
        // Every row this changes is locked first, stock before valuations, each in SKU order.
        let restocking: Vec<&str> = decided.iter().filter(|(l, d, ..)| *d == Disposition::Restock && l.received > 0).map(|(l, ..)| l.sku.as_str()).collect();
        tx.lock_for_arrival(&restocking, &location).await?;
        let valued: Vec<&str> = decided.iter().filter(|(l, ..)| l.received > 0).map(|(l, ..)| l.sku.as_str()).collect();
        tx.lock_valuations(&valued).await?;
        let mut restocked = Vec::new();
        for (line, disposition, note, supplier) in &decided {
            tx.set_line_disposition(id, line.line, disposition.as_str(), note).await?;
            let units = line.received;
            if units == 0 {
                continue;
            }
            let held = tx.valuation(&line.sku).await?;
            let product = tx.product(&line.sku).await?.ok_or_else(|| FieldError::new("sku", format!("unknown SKU {:?}", line.sku)))?;
            let source = format!("return:{id}:{}", line.line);
            let overflow = |e: ledger::EntryError| FieldError::new("lines", e.to_string());
            match disposition {
                Disposition::Restock => {
                    tx.restock_returned(&line.sku, &location, units, &format!("return {id}: {note}"), &who, now).await?;
                    let (after, value) = held.found(units, product.unit_cost.minor()).map_err(overflow)?;
                    tx.set_valuation(&line.sku, after).await?;
                    let memo = format!("return restock {} × {} at {location}", units, line.sku);
                    let entry = ledger::return_restock(source, memo, &line.sku, Money::from_minor(value, base)).map_err(FieldError::from)?;
                    self.ledger().post(&mut tx, entry, &who, now).await?;
                    restocked.push(line.sku.clone());
                }
                Disposition::Refurbish => {}
                Disposition::Dispose | Disposition::SupplierClaim => {
                    // The units never came back into stock: their cost is what left at shipment,
                    // read at today's average.
                    let value = at_average(held, units, product.unit_cost.minor());
                    let money = Money::from_minor(value, base);
                    let entry = if *disposition == Disposition::Dispose {
                        ledger::return_write_off(source, format!("returned {} × {} disposed: {note}", units, line.sku), &line.sku, money)
                    } else {
                        let claim = ClaimRecord {
                            id: Uuid::now_v7(),
                            return_id: id,
                            line: line.line,
                            sku: line.sku.clone(),
                            supplier: supplier.clone(),
                            quantity: units,
                            value,
                            evidence: format!("{} ({}): {note}", line.reason, row.order_id),
                            status: ClaimStatus::Open,
                            created_at: now,
                            settled_at: None,
                            settled_by: None,
                        };
                        tx.insert_claim(&claim).await?;
                        ledger::supplier_claim(format!("claim:{}", claim.id), format!("claim on {} × {}: {note}", units, line.sku), &line.sku, money)
                    }
                    .map_err(FieldError::from)?;
                    self.ledger().post(&mut tx, entry, &who, now).await?;
                }
            }
        }
        let step = ReturnStep { inspected_at: Some(now), ..ReturnStep::default() };
        self.move_return(&mut tx, &row, current, ReturnStatus::Inspected, &step).await?;
        for sku in restocked {
            Ordo::fill_backorders(&mut tx, &sku, &location, actor, now).await?;
        }
        let after: Vec<serde_json::Value> =
            decided.iter().map(|(l, d, note, _)| serde_json::json!({"line": l.line, "units": l.received, "disposition": d.as_str(), "note": note})).collect();
        record(&mut tx, actor, now, &[Change::new("return.inspect", format!("return:{id}")).after(after)]).await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let rma = rma(&mut tx, row, base).await?;
        tx.commit().await?;
        Ok(rma)
    }

    /// Closes a return: inspected and settled, or authorised and never sent.
    pub async fn close_return(self, id: Uuid, note: &str, actor: &Actor) -> AppResult<Rma> {
        let note = reason_text("note", note)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let current = row.status;
        current.become_(ReturnStatus::Closed).map_err(|m| refuse(current, m))?;
        let step = ReturnStep { closed_at: Some(now), decision_note: Some(&note), ..ReturnStep::default() };
        self.move_return(&mut tx, &row, current, ReturnStatus::Closed, &step).await?;
        tx.resolve_exception(ExceptionKind::ReturnOverdue.as_str(), &format!("return:{id}"), "closed", now).await?;
        record(&mut tx, actor, now, &[Change::new("return.close", format!("return:{id}")).reason(&note)]).await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let rma = rma(&mut tx, row, self.settings.base_currency).await?;
        tx.commit().await?;
        Ok(rma)
    }

    /// Pays money back on an order: units of its lines, amounts for goodwill, its shipping.
    /// Never more than was paid for a line less what was refunded already; booked against the
    /// channel's receivable.
    pub async fn refund(self, order_id: Uuid, new: NewRefund, actor: &Actor) -> AppResult<Refund> {
        let reason = reason_text("reason", &new.reason)?;
        if new.lines.len() > MAX_LINES {
            return Err(FieldError::new("lines", format!("at most {MAX_LINES} lines")).into());
        }
        let now = self.now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        let order = tx.order_for_update(order_id).await?.ok_or(AppError::NotFound { what: "order", key: order_id.to_string() })?;
        let marker = new.channel_refund.as_ref().map(|(channel, id)| (channel.clone(), format!("refund/{id}")));
        if let Some((channel, marker)) = &marker
            && tx.channel_order_version(channel, marker).await?.is_some()
        {
            return Err(AppError::Duplicate(FieldError::new("refund_id", "this refund of the channel's was booked before")));
        }
        if let Some(return_id) = new.return_id {
            let row = tx.return_record(return_id).await?.ok_or_else(|| return_not_found(return_id))?;
            if row.order_id != order.id {
                return Err(FieldError::new("return_id", "the return belongs to another order").into());
            }
        }
        let currency = order.currency;
        let shipping = match &new.shipping {
            Some(text) => Money::parse_non_negative("shipping", text, currency)?.minor(),
            None => 0,
        };
        if new.lines.is_empty() && shipping == 0 {
            return Err(FieldError::new("lines", "name lines to refund, or shipping").into());
        }
        let earlier = tx.refunds(order.id).await?;
        let refunded = |line: i64| {
            earlier.iter().flat_map(|(_, lines)| lines.iter().filter(move |l| l.line == line)).fold((0, 0, 0), |(u, n, t), l| (u + l.quantity, n + l.net, t + l.tax))
        };
        let paid: Vec<PaidLine> = order
            .lines
            .iter()
            .map(|l| {
                let (refunded_units, refunded_net, refunded_tax) = refunded(l.line);
                PaidLine {
                    line: l.line,
                    quantity: l.quantity,
                    shipped: shipped_units(&order, l.line),
                    net: l.unit_price.minor().saturating_mul(l.quantity) - l.discount.minor(),
                    tax: l.tax.minor(),
                    refunded_units,
                    refunded_net,
                    refunded_tax,
                }
            })
            .collect();
        let mut asked = Vec::with_capacity(new.lines.len());
        for (i, l) in new.lines.iter().enumerate() {
            let amount = l.amount.as_deref().map(|a| Money::parse_non_negative(&format!("lines[{i}].amount"), a, currency)).transpose()?;
            asked.push(AskedRefund { line: l.line, quantity: l.quantity, amount: amount.map(Money::minor) });
        }
        let lines = refund_lines(&paid, &asked)?;
        let shipping_refunded: i64 = earlier.iter().map(|(r, _)| r.shipping).sum();
        if shipping > order.shipping_price.minor() - shipping_refunded {
            let left = Money::from_minor(order.shipping_price.minor() - shipping_refunded, currency);
            return Err(FieldError::new("shipping", format!("at most {} of shipping is left to refund", left.to_decimal_string())).into());
        }
        if order.shipments.is_empty() {
            return Err(AppError::InvalidTransition {
                current: order.status.as_str(),
                message: "nothing of this order has shipped, so nothing was charged: cancel it instead".into(),
            });
        }
        let total = lines.iter().map(|l| l.net + l.tax).sum::<i64>() + shipping;
        let id = Uuid::now_v7();
        let refund_row = RefundRecord {
            id,
            order_id: order.id,
            return_id: new.return_id,
            currency: currency.code().to_owned(),
            shipping,
            total,
            reason: reason.clone(),
            actor: who.clone(),
            created_at: now,
        };
        let line_rows: Vec<RefundLineRecord> =
            lines.iter().map(|l| RefundLineRecord { line: l.line, quantity: l.quantity, net: l.net, tax: l.tax }).collect();
        tx.insert_refund(&refund_row, &line_rows).await?;
        match &marker {
            Some((channel, marker)) => tx.set_channel_order_version(channel, marker, now).await?,
            // Decided in Ordo: the channel is told, where it can be.
            None => crate::confirmations::confirm_to_channel(&mut tx, &order, ordo_storage::ConfirmationKind::Refund(id), &reason, now).await?,
        }

        let mut net_by_sku: Vec<(String, i64)> = Vec::new();
        for l in &lines {
            let sku = order.lines.iter().find(|x| x.line == l.line).map_or_else(String::new, |x| x.sku.clone());
            match net_by_sku.iter_mut().find(|(s, _)| *s == sku) {
                Some(entry) => entry.1 += l.net,
                None => net_by_sku.push((sku, l.net)),
            }
        }
        net_by_sku.retain(|(_, n)| *n != 0);
        let segment = tx.customer_segment(&order.customer.email).await?.unwrap_or_else(|| "consumer".to_owned());
        let value = ledger::RefundValue {
            channel: order.channel.clone(),
            net_by_sku,
            segment: Some(segment),
            tax: Money::from_minor(lines.iter().map(|l| l.tax).sum(), currency),
            shipping: Money::from_minor(shipping, currency),
        };
        let entry = ledger::refund(format!("refund:{id}"), format!("refund on order {} on {}: {reason}", order.external_id, order.channel), &value)
            .map_err(FieldError::from)?;
        self.ledger().post(&mut tx, entry, &who, now).await?;
        let data = serde_json::json!({
            "refund_id": id,
            "order_id": order.id,
            "channel": order.channel,
            "external_id": order.external_id,
            "customer_email": order.customer.email,
            "total": Money::from_minor(total, currency).to_decimal_string(),
            "currency": currency.code(),
            "reason": reason,
        });
        crate::outbox::notify(&mut tx, Topic::RefundIssued, &format!("order:{}", order.id), data, now).await?;
        let after = serde_json::json!({"refund": id, "total": Money::from_minor(total, currency).to_decimal_string(), "return": new.return_id});
        record(&mut tx, actor, now, &[Change::new("order.refund", format!("order:{}", order.id)).after(after).reason(&reason)]).await?;
        tx.commit().await?;
        Ok(refund_view(&refund_row, &line_rows))
    }

    /// Sends the customer new goods for a return: a new order on the same channel, free of
    /// charge, reserved and routed like any other, linked to the return.
    pub async fn send_replacement(self, id: Uuid, actor: &Actor) -> AppResult<Rma> {
        let (order, lines) = {
            let mut tx = self.db.read().await?;
            let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
            let current = row.status;
            if !matches!(current, ReturnStatus::Authorized | ReturnStatus::InTransit | ReturnStatus::Received | ReturnStatus::Inspected) {
                return Err(refuse(current, format!("a return that is {} gets no replacement", current.as_str())));
            }
            if let Some(existing) = row.replacement_order {
                return Err(refuse(current, format!("the return already has replacement order {existing}")));
            }
            let order = tx.order(row.order_id).await?.ok_or(AppError::NotFound { what: "order", key: row.order_id.to_string() })?;
            (order, tx.return_lines(id).await?)
        };
        let zero = Money::zero(order.currency).to_decimal_string();
        let new = NewOrder {
            channel: order.channel.clone(),
            // The same external id again finds the replacement already made.
            external_id: format!("{}-R-{}", order.external_id, &id.simple().to_string()[24..]),
            placed_at: self.now(),
            currency: order.currency.code().to_owned(),
            customer: NewCustomerRef { email: order.customer.email.clone(), name: order.customer.name.clone() },
            ship_to: order.ship_to.clone(),
            billing_country: order.billing_country.clone(),
            shipping_method: order.shipping_method.clone(),
            payment_status: PaymentStatus::Captured,
            shipping_price: None,
            lines: lines
                .iter()
                .map(|l| NewOrderLine {
                    sku: l.sku.clone(),
                    quantity: l.quantity,
                    unit_price: zero.clone(),
                    tax: Some(zero.clone()),
                    discount: None,
                    item_id: None,
                })
                .collect(),
        };
        let payload = serde_json::json!({"replacement_for_return": id, "order": order.id}).to_string();
        let made = self.orders().receive_order(new, &payload, actor).await?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        tx.set_replacement(id, made.order.id).await?;
        let change = Change::new("return.replace", format!("return:{id}")).after(serde_json::json!({"replacement_order": made.order.id}));
        record(&mut tx, actor, now, &[change]).await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        let rma = rma(&mut tx, row, self.settings.base_currency).await?;
        tx.commit().await?;
        Ok(rma)
    }

    /// The supplier credited the claim, or refused it.
    pub async fn settle_claim(self, id: Uuid, credited: bool, actor: &Actor) -> AppResult<SupplierClaim> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let claim = tx.claim(id).await?.ok_or(AppError::NotFound { what: "claim", key: id.to_string() })?;
        let status = if credited { ClaimStatus::Credited } else { ClaimStatus::Refused };
        if !claim.status.can_become(status) || !tx.settle_claim(id, status, &actor.to_string(), now).await? {
            return Err(AppError::InvalidTransition { current: claim.status.as_str(), message: format!("the claim is already {}", claim.status) });
        }
        let money = Money::from_minor(claim.value, self.settings.base_currency);
        let entry = ledger::claim_settled(format!("claim:{id}:{status}"), format!("claim on {} × {} {status}", claim.quantity, claim.sku), credited, money)
            .map_err(FieldError::from)?;
        self.ledger().post(&mut tx, entry, &actor.to_string(), now).await?;
        record(&mut tx, actor, now, &[Change::new("claim.settle", format!("claim:{id}")).after(serde_json::json!({"status": status}))]).await?;
        let claim = tx.claim(id).await?.ok_or(AppError::NotFound { what: "claim", key: id.to_string() })?;
        tx.commit().await?;
        Ok(claim_view(&claim, self.settings.base_currency))
    }

    pub async fn return_detail(self, id: Uuid) -> AppResult<Rma> {
        let mut tx = self.db.read().await?;
        let row = tx.return_record(id).await?.ok_or_else(|| return_not_found(id))?;
        rma(&mut tx, row, self.settings.base_currency).await
    }

    /// Returns of one order, or in one status, newest first.
    pub async fn list(self, order: Option<Uuid>, status: Option<&str>, limit: i64) -> AppResult<Vec<Rma>> {
        self.page(order, status, limit, None).await
    }

    /// Returns newest first, `limit` of them, after the one `after` names when given.
    pub async fn page(self, order: Option<Uuid>, status: Option<&str>, limit: i64, after: Option<ordo_domain::field::PageCursor>) -> AppResult<Vec<Rma>> {
        self.search(ReturnSearch { order, status, ..ReturnSearch::default() }, limit, after).await
    }

    /// Returns `search` selects, newest first, `limit` of them after the one `after` names.
    pub async fn search(self, search: ReturnSearch<'_>, limit: i64, after: Option<ordo_domain::field::PageCursor>) -> AppResult<Vec<Rma>> {
        if let Some(status) = search.status {
            ReturnStatus::parse("status", status)?;
        }
        let limit = ordo_domain::field::bounded("limit", limit, 1, 500)?;
        let mut tx = self.db.read().await?;
        let rows = tx.returns(search.order, search.status, search.order_ref, search.sku, limit, after).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(rma(&mut tx, row, self.settings.base_currency).await?);
        }
        Ok(out)
    }

    pub async fn refunds_of(self, order: Uuid) -> AppResult<Vec<Refund>> {
        let mut tx = self.db.read().await?;
        Ok(tx.refunds(order).await?.iter().map(|(r, lines)| refund_view(r, lines)).collect())
    }

    /// Return rates over a period: by channel, SKU, reason and week.
    pub async fn return_report(self, period: crate::Period) -> AppResult<ordo_domain::returns::ReturnReport> {
        let (from, to) = period.bounds()?;
        let mut tx = self.db.read().await?;
        let shipped = tx.shipped_units(from, to).await?;
        let returned: Vec<ordo_domain::returns::ReturnedDay> =
            tx.returned_units(from, to).await?.into_iter().map(|r| ordo_domain::returns::ReturnedDay { channel: r.channel, sku: r.sku, reason: r.reason, day: r.day, units: r.units }).collect();
        Ok(ordo_domain::returns::return_report(&shipped, &returned))
    }

    /// Raises a `return_overdue` exception for each authorised return whose goods are past
    /// their due date. `ordo serve` runs this every minute.
    pub async fn watch_returns(self) -> AppResult<u64> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let kind = ExceptionKind::ReturnOverdue;
        let mut raised = 0;
        for row in tx.overdue_returns(now).await? {
            let details = serde_json::json!({"order_id": row.order_id, "status": row.status, "due_back_at": row.due_back_at});
            if tx.raise_exception(kind.as_str(), &format!("return:{}", row.id), kind.owner_role().as_str(), now + kind.sla(), &details, now).await? {
                raised += 1;
            }
        }
        tx.commit().await?;
        Ok(raised)
    }
}

/// `units` valued at the SKU's average cost, or at the product's cost when none is held.
fn at_average(held: ledger::Valuation, units: i64, fallback: i64) -> i64 {
    match held.units {
        0 => units.saturating_mul(fallback),
        n => (i128::from(held.value) * i128::from(units) / i128::from(n)) as i64,
    }
}

fn refund_view(r: &RefundRecord, lines: &[RefundLineRecord]) -> Refund {
    // A stored code Ordo cannot read shows as the bare minor units, never as another currency.
    let money = |minor: i64| match ordo_domain::Currency::from_code(&r.currency) {
        Ok(currency) => Money::from_minor(minor, currency).to_decimal_string(),
        Err(_) => minor.to_string(),
    };
    Refund {
        id: r.id,
        order_id: r.order_id,
        return_id: r.return_id,
        currency: r.currency.clone(),
        shipping: money(r.shipping),
        total: money(r.total),
        reason: r.reason.clone(),
        actor: r.actor.clone(),
        created_at: r.created_at,
        lines: lines.iter().map(|l| RefundedLine { line: l.line, quantity: l.quantity, net: money(l.net), tax: money(l.tax) }).collect(),
    }
}

fn claim_view(c: &ClaimRecord, base: ordo_domain::Currency) -> SupplierClaim {
    SupplierClaim {
        id: c.id,
        return_id: c.return_id,
        line: c.line,
        sku: c.sku.clone(),
        supplier: c.supplier.clone(),
        quantity: c.quantity,
        value: Money::from_minor(c.value, base).to_decimal_string(),
        evidence: c.evidence.clone(),
        status: c.status,
        created_at: c.created_at,
        settled_at: c.settled_at,
        settled_by: c.settled_by.clone(),
    }
}

async fn rma(tx: &mut Tx, row: ReturnRecord, base: ordo_domain::Currency) -> AppResult<Rma> {
    let lines = tx
        .return_lines(row.id)
        .await?
        .into_iter()
        .map(|l| RmaLine { line: l.line, sku: l.sku, quantity: l.quantity, reason: l.reason, received: l.received, disposition: l.disposition, note: l.note })
        .collect();
    let refunds = tx.refunds(row.order_id).await?.iter().filter(|(r, _)| r.return_id == Some(row.id)).map(|(r, l)| refund_view(r, l)).collect();
    let claims = tx.claims(Some(row.id), None).await?.iter().map(|c| claim_view(c, base)).collect();
    Ok(Rma {
        id: row.id,
        order_id: row.order_id,
        status: row.status,
        source: row.source,
        requested_by: row.requested_by,
        requested_at: row.requested_at,
        review_reason: row.review_reason,
        decided_by: row.decided_by,
        decided_at: row.decided_at,
        decision_note: row.decision_note,
        due_back_at: row.due_back_at,
        carrier: row.carrier,
        tracking: row.tracking,
        location: row.location,
        received_at: row.received_at,
        inspected_at: row.inspected_at,
        closed_at: row.closed_at,
        replacement_order: row.replacement_order,
        lines,
        refunds,
        claims,
    })
}

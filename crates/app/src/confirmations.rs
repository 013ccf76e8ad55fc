//! Shipments, cancellations and refunds out: what Ordo decided about a channel's order goes
//! back to the channel. The transaction that ships a parcel, cancels an order or refunds
//! money also writes a confirmation for the order's channel (when Ordo can call that channel's API); a round
//! claims a channel's due confirmations under a lease, tells the channel through its
//! [`OrderConfirmer`], and closes each with the channel's answer. A channel that says no,
//! and a cancellation or refund its API cannot take, become a `sync_failure` exception for a
//! person;
//! a call that fails is tried again with growing waits.

use std::future::Future;

use chrono::{DateTime, Utc};
use ordo_domain::confirmation::{cancels_on_channel, parcel_lines, refunds_on_channel, ChannelLine};
use ordo_domain::connector::ConnectorKind;
use ordo_domain::exception::ExceptionKind;
use ordo_domain::order::{Order, OrderStatus};
use ordo_storage::{ClaimedConfirmation, ConfirmationKind, RefundLineRecord, RefundRecord, Tx};
use serde::Serialize;

use crate::stock_sync::{backoff, PushError, FAILING_AFTER, PUSH_LEASE};
use crate::{AppResult, Channels};

/// The most confirmations one round claims.
const MAX_CLAIM: i64 = 50;

/// What a channel is told about one of its orders, by the channel's own ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// The channel's id of the order.
    pub external_id: String,
    pub what: Confirm,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirm {
    /// A parcel left: carrier, tracking number and the channel's lines in it.
    Shipment {
        carrier: String,
        tracking_number: String,
        shipped_at: DateTime<Utc>,
        lines: Vec<ChannelLine>,
        /// With this parcel, all of the order has left.
        complete: bool,
    },
    /// Ordo cancelled the order.
    Cancellation { reason: String },
    /// Ordo gave money back: for these lines (the channel's ids, units, and the amount with
    /// tax, decimal strings in `currency`) and shipping; `total` in all.
    Refund { lines: Vec<RefundedItem>, shipping: String, total: String, currency: String, reason: String },
}

/// A line of a refund as the channel knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundedItem {
    pub item_id: String,
    pub quantity: i64,
    /// What was given back for it, tax included, as a decimal string.
    pub amount: String,
}

/// The channel's answer to a call that went through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Took,
    /// The channel refused it (the order is already fulfilled there, say): a person decides.
    Refused(String),
}

/// A channel's order API, as an adapter speaks it. Each call is tried once: the round
/// decides when to try again.
pub trait OrderConfirmer: Send + Sync {
    fn confirm(&self, confirmation: &Confirmation) -> impl Future<Output = Result<Answer, PushError>> + Send;
}

/// How one round of confirmations went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ConfirmRound {
    pub claimed: usize,
    pub confirmed: usize,
    pub refused: usize,
    pub failed: usize,
    pub throttled: bool,
}

/// Writes, in the caller's transaction, what `order`'s channel is to be told: a parcel that
/// left or Ordo's cancellation. Only a channel whose connector has API credentials can be
/// told; a cancellation its API cannot take is an exception for a person at once.
pub(crate) async fn confirm_to_channel(tx: &mut Tx, order: &Order, kind: ConfirmationKind, reason: &str, at: DateTime<Utc>) -> AppResult<()> {
    let Some(connector) = tx.connector(&order.channel).await? else { return Ok(()) };
    let Ok(channel_kind) = ConnectorKind::parse("kind", &connector.kind) else { return Ok(()) };
    if connector.credentials.is_none() || order.fulfilled_by_channel {
        return Ok(());
    }
    if kind == ConfirmationKind::Cancellation && !cancels_on_channel(channel_kind) {
        let why = format!("{}'s API cannot cancel an order: cancel order {} there by hand", channel_kind.as_str(), order.external_id);
        return raise(tx, order, "cancellation out", &why, 0, at).await;
    }
    if matches!(kind, ConfirmationKind::Refund(_)) && !refunds_on_channel(channel_kind) {
        let why = format!("{}'s API cannot refund an order: refund order {} there by hand ({reason})", channel_kind.as_str(), order.external_id);
        return raise(tx, order, "refund out", &why, 0, at).await;
    }
    tx.insert_confirmation(&order.channel, order.id, kind, reason, Utc::now()).await?;
    Ok(())
}

impl Channels<'_> {
    /// One round for `channel`: claims its due confirmations and tells the channel each
    /// through `confirmer`.
    pub async fn confirm_orders<C: OrderConfirmer>(self, channel: &str, confirmer: &C) -> AppResult<ConfirmRound> {
        let started = Utc::now();
        let lease = chrono::Duration::from_std(PUSH_LEASE).unwrap_or(chrono::Duration::seconds(90));
        let claimed = {
            let mut tx = self.db.write().await?;
            let claimed = tx.claim_confirmations(channel, started, started + lease, MAX_CLAIM).await?;
            tx.commit().await?;
            claimed
        };
        let mut round = ConfirmRound { claimed: claimed.len(), ..ConfirmRound::default() };
        let mut ends: Vec<(&ClaimedConfirmation, End)> = Vec::with_capacity(claimed.len());
        let mut stopped: Option<PushError> = None;
        for confirmation in &claimed {
            if stopped.is_some() || (Utc::now() - started) > lease / 2 {
                ends.push((confirmation, End::Later(stopped.clone())));
                continue;
            }
            let order = self.orders().order(confirmation.order_id).await?;
            let refund = match confirmation.refund_id {
                Some(id) => self.db.read().await?.refunds(order.id).await?.into_iter().find(|(r, _)| r.id == id),
                None => None,
            };
            let Some(told) = what_to_tell(&order, confirmation, refund.as_ref()) else {
                ends.push((confirmation, End::Nothing));
                continue;
            };
            match confirmer.confirm(&told).await {
                Ok(Answer::Took) => ends.push((confirmation, End::Took(Utc::now()))),
                Ok(Answer::Refused(why)) => ends.push((confirmation, End::Refused(why, order))),
                Err(error @ PushError::Throttled(_)) => {
                    ends.push((confirmation, End::Later(Some(error.clone()))));
                    stopped = Some(error);
                }
                Err(error) => ends.push((confirmation, End::Failed(error.to_string(), order))),
            }
        }

        let now = Utc::now();
        let at = self.now();
        let mut tx = self.db.write().await?;
        let took: Vec<i64> = ends
            .iter()
            .filter_map(|(c, end)| match end {
                End::Took(answered) => Some((*answered - c.created_at).num_milliseconds().max(0)),
                _ => None,
            })
            .collect();
        tx.add_push_hour(channel, now, &took).await?;
        for (confirmation, end) in ends {
            match end {
                End::Took(answered) => {
                    let latency_ms = (answered - confirmation.created_at).num_milliseconds().max(0);
                    metrics::histogram!("ordo_channel_confirm_latency_seconds", "channel" => channel.to_owned()).record(latency_ms as f64 / 1000.0);
                    tx.close_confirmation(confirmation.id, true, None, answered, Some(latency_ms)).await?;
                    if confirmation.attempts > 0 {
                        let subject = format!("order:{}", confirmation.order_id);
                        tx.resolve_exception(ExceptionKind::SyncFailure.as_str(), &subject, "the channel took it", at).await?;
                    }
                    round.confirmed += 1;
                }
                End::Nothing => tx.close_confirmation(confirmation.id, true, Some("nothing in it the channel knows"), now, None).await?,
                End::Refused(why, order) => {
                    tx.close_confirmation(confirmation.id, false, Some(&why), now, None).await?;
                    raise(&mut tx, &order, direction(confirmation), &format!("the channel refused it: {why}"), confirmation.attempts + 1, at).await?;
                    round.refused += 1;
                }
                End::Failed(why, order) => {
                    tx.release_confirmation(confirmation.id, now + backoff(confirmation.attempts), &why, true).await?;
                    if confirmation.attempts + 1 >= FAILING_AFTER {
                        raise(&mut tx, &order, direction(confirmation), &why, confirmation.attempts + 1, at).await?;
                    }
                    round.failed += 1;
                }
                End::Later(Some(PushError::Throttled(wait))) => {
                    let until = now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(60));
                    tx.release_confirmation(confirmation.id, until, "the channel asked to slow down", false).await?;
                    round.throttled = true;
                }
                End::Later(_) => tx.release_confirmation(confirmation.id, now, "left for the next round", false).await?,
            }
        }
        tx.commit().await?;
        let labels = [("channel", channel.to_owned())];
        metrics::counter!("ordo_channel_confirmations_total", &labels).increment(round.confirmed as u64);
        metrics::counter!("ordo_channel_confirmations_refused_total", &labels).increment(round.refused as u64);
        metrics::counter!("ordo_channel_confirmation_failures_total", &labels).increment(round.failed as u64);
        Ok(round)
    }
}

impl Channels<'_> {
    /// Sends `channel` again what it refused (of `order` only, when given), once someone fixed
    /// what it refused; its `sync_failure` exception resolves when the channel takes it.
    /// Returns how many confirmations will be sent.
    pub async fn resend_confirmations(self, channel: &str, order: Option<uuid::Uuid>, actor: &crate::Actor) -> AppResult<u64> {
        let mut tx = self.db.write().await?;
        if tx.connector(channel).await?.is_none() {
            return Err(crate::AppError::NotFound { what: "connector", key: channel.to_owned() });
        }
        let resent = tx.resend_refused_confirmations(channel, order, Utc::now()).await?;
        let change = ordo_domain::audit::Change::new("channel.confirmations_resend", format!("channel:{channel}"))
            .after(serde_json::json!({"confirmations": resent, "order": order}));
        crate::audit::record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(resent)
    }
}

/// How a claimed confirmation ended this round.
enum End {
    Took(DateTime<Utc>),
    /// Nothing to tell: a parcel of part kits, say.
    Nothing,
    Refused(String, Order),
    Failed(String, Order),
    /// Not tried: the channel asked to slow down, or the round ran out of time.
    Later(Option<PushError>),
}

/// What the channel is told of `confirmation`, from the order as it stands (and the refund,
/// for one); `None` when a parcel or a refund carries nothing the channel knows.
fn what_to_tell(order: &Order, confirmation: &ClaimedConfirmation, refund: Option<&(RefundRecord, Vec<RefundLineRecord>)>) -> Option<Confirmation> {
    let money = |minor: i64| ordo_domain::Money::from_minor(minor, order.currency).to_decimal_string();
    let what = match (confirmation.shipment_id, confirmation.refund_id) {
        (None, Some(_)) => {
            let (record, lines) = refund?;
            let lines: Vec<RefundedItem> = lines
                .iter()
                .filter_map(|l| {
                    let item_id = order.lines.iter().find(|o| o.line == l.line)?.item_id.clone()?;
                    Some(RefundedItem { item_id, quantity: l.quantity, amount: money(l.net + l.tax) })
                })
                .collect();
            if lines.is_empty() && record.shipping == 0 {
                return None;
            }
            Confirm::Refund {
                lines,
                shipping: money(record.shipping),
                total: money(record.total),
                currency: order.currency.code().to_owned(),
                reason: record.reason.clone(),
            }
        }
        (Some(shipment_id), _) => {
            let shipment = order.shipments.iter().find(|s| s.id == shipment_id)?;
            let lines = parcel_lines(&order.lines, &order.shipments, shipment);
            let upto = order.shipments.iter().position(|s| s.id == shipment_id).map_or(0, |i| i + 1);
            let complete = matches!(order.status, OrderStatus::Shipped | OrderStatus::Delivered) && upto == order.shipments.len();
            if lines.is_empty() {
                return None;
            }
            Confirm::Shipment {
                carrier: shipment.carrier.clone(),
                tracking_number: shipment.tracking_number.clone(),
                shipped_at: shipment.shipped_at,
                lines,
                complete,
            }
        }
        (None, None) => Confirm::Cancellation { reason: confirmation.reason.clone() },
    };
    Some(Confirmation { external_id: order.external_id.clone(), what })
}

fn direction(confirmation: &ClaimedConfirmation) -> &'static str {
    match (confirmation.shipment_id, confirmation.refund_id) {
        (Some(_), _) => "shipment out",
        (None, Some(_)) => "refund out",
        (None, None) => "cancellation out",
    }
}

async fn raise(tx: &mut Tx, order: &Order, direction: &str, why: &str, attempts: i64, at: DateTime<Utc>) -> AppResult<()> {
    let kind = ExceptionKind::SyncFailure;
    let details = serde_json::json!({
        "channel": order.channel,
        "order": order.external_id,
        "direction": direction,
        "attempts": attempts,
        "last_error": why,
    });
    tx.raise_exception(kind.as_str(), &format!("order:{}", order.id), kind.owner_role().as_str(), at + kind.sla(), &details, at).await?;
    Ok(())
}

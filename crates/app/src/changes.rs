//! Maker-checker change requests: master data that moves money or stock (a price, a tax
//! class, a listing, whether a SKU sells, a location's priority) changes only when one person
//! proposes and another of the owning role approves. Approving applies the change in the same
//! transaction and records the state before and after; every step is in the audit log.

use ordo_domain::audit::Change;
use ordo_domain::change::{ChangeKind, ChangeRequest, ChangeStatus, Proposal};
use ordo_domain::{Currency, FieldError, Money};
use ordo_storage::Tx;
use uuid::Uuid;

use crate::audit::record;
use crate::{Actor, AppError, AppResult, Changes};

fn decided_meanwhile() -> AppError {
    AppError::InvalidTransition { current: "decided", message: "another person decided this change request meanwhile".into() }
}

fn not_found(what: &'static str, key: String) -> AppError {
    AppError::NotFound { what, key }
}

/// The subject's state now, which the proposal would change; checks the subject exists and
/// the proposed values fit it (a price in the listing's currency, say).
async fn current_state(tx: &mut Tx, proposal: &Proposal) -> AppResult<serde_json::Value> {
    let unknown = |field: &str, what: &str, key: &str| -> AppError { FieldError::new(field, format!("unknown {what} {key:?}")).into() };
    Ok(match proposal {
        Proposal::Price { channel, channel_sku, price } => {
            let listing = tx.listing(channel, channel_sku).await?.ok_or_else(|| unknown("change.channel_sku", "listing", channel_sku))?;
            Money::parse_non_negative("change.price", price, listing.currency)?;
            serde_json::json!({"price": listing.price.to_decimal_string(), "currency": listing.currency.code()})
        }
        Proposal::Listing { channel, channel_sku, sku, price } => {
            let channel_row = tx.channel(channel).await?.ok_or_else(|| unknown("change.channel", "channel", channel))?;
            if tx.product(sku).await?.is_none() {
                return Err(unknown("change.sku", "SKU", sku));
            }
            Money::parse_non_negative("change.price", price, channel_row.currency)?;
            match tx.listing(channel, channel_sku).await? {
                Some(listing) => serde_json::json!({"sku": listing.sku, "price": listing.price.to_decimal_string()}),
                None => serde_json::Value::Null,
            }
        }
        Proposal::TaxClass { sku, .. } => {
            let product = tx.product(sku).await?.ok_or_else(|| unknown("change.sku", "SKU", sku))?;
            serde_json::json!({"tax_class": product.tax_class})
        }
        Proposal::SkuActivation { sku, .. } => {
            let product = tx.product(sku).await?.ok_or_else(|| unknown("change.sku", "SKU", sku))?;
            serde_json::json!({"active": product.active})
        }
        Proposal::LocationPriority { location, .. } => {
            let site = tx.location(location).await?.ok_or_else(|| unknown("change.location", "location", location))?;
            serde_json::json!({"priority": site.priority})
        }
        Proposal::ReplenishmentPolicy { scope, .. } => {
            if let Some(sku) = scope.strip_prefix("sku:")
                && tx.product(sku).await?.is_none()
            {
                return Err(unknown("change.scope", "SKU", sku));
            }
            tx.policies().await?.into_iter().find(|(s, _)| s == scope).map(|(_, p)| p).unwrap_or(serde_json::Value::Null)
        }
        Proposal::Connector { channel, .. } => {
            tx.channel(channel).await?.ok_or_else(|| unknown("change.channel", "channel", channel))?;
            crate::connectors::state(tx, channel).await?
        }
    })
}

/// The state the proposal asks for, in the shape of [`current_state`].
fn proposed_state(proposal: &Proposal, currency: Option<Currency>) -> AppResult<serde_json::Value> {
    let price = |text: &str| -> AppResult<String> {
        Ok(match currency {
            Some(currency) => Money::parse_non_negative("change.price", text, currency)?.to_decimal_string(),
            None => text.to_owned(),
        })
    };
    Ok(match proposal {
        Proposal::Price { price: p, .. } => serde_json::json!({"price": price(p)?, "currency": currency.map(|c| c.code())}),
        Proposal::Listing { sku, price: p, .. } => serde_json::json!({"sku": sku, "price": price(p)?}),
        Proposal::TaxClass { tax_class, .. } => serde_json::json!({"tax_class": tax_class}),
        Proposal::SkuActivation { active, .. } => serde_json::json!({"active": active}),
        Proposal::LocationPriority { priority, .. } => serde_json::json!({"priority": priority}),
        Proposal::ReplenishmentPolicy { policy, .. } => serde_json::to_value(policy).unwrap_or_default(),
        Proposal::Connector { settings, .. } => settings.shown(),
    })
}

/// The currency a proposal's price is in: its listing's, or its channel's.
async fn price_currency(tx: &mut Tx, proposal: &Proposal) -> AppResult<Option<Currency>> {
    Ok(match proposal {
        Proposal::Price { channel, channel_sku, .. } => tx.listing(channel, channel_sku).await?.map(|l| l.currency),
        Proposal::Listing { channel, .. } => tx.channel(channel).await?.map(|c| c.currency),
        _ => None,
    })
}

/// Applies an approved proposal; returns the state after.
async fn apply(tx: &mut Tx, proposal: &Proposal, now: chrono::DateTime<chrono::Utc>) -> AppResult<serde_json::Value> {
    let currency = price_currency(tx, proposal).await?;
    let minor = |text: &str| -> AppResult<i64> {
        let currency = currency.ok_or_else(|| FieldError::new("change.price", "has no currency to be read in"))?;
        Ok(Money::parse_non_negative("change.price", text, currency)?.minor())
    };
    match proposal {
        Proposal::Price { channel, channel_sku, price } => {
            tx.set_listing_price(channel, channel_sku, minor(price)?).await?;
        }
        Proposal::Listing { channel, channel_sku, sku, price } => {
            let code = currency.map_or("", |c| c.code());
            tx.upsert_listing(channel, channel_sku, sku, minor(price)?, code, now).await?;
        }
        Proposal::TaxClass { sku, tax_class } => {
            tx.set_product_tax_class(sku, tax_class).await?;
        }
        Proposal::SkuActivation { sku, active } => {
            tx.set_product_active(sku, *active).await?;
        }
        Proposal::LocationPriority { location, priority } => {
            tx.set_location_priority(location, *priority).await?;
        }
        Proposal::ReplenishmentPolicy { scope, policy } => {
            tx.set_policy(scope, &serde_json::to_value(policy).unwrap_or_default(), "change request", now).await?;
        }
        Proposal::Connector { channel, settings } => {
            crate::connectors::apply(tx, channel, settings, now).await?;
        }
    }
    current_state(tx, proposal).await
}

/// A change request as it may be shown: a connector's sealed secrets only as changed or not.
fn shown(mut request: ChangeRequest) -> ChangeRequest {
    if let Ok(kind) = ChangeKind::parse("kind", &request.kind)
        && let Ok(proposal) = Proposal::parse(kind, &request.change)
    {
        request.change = proposal.shown(&request.change);
    }
    request
}

impl Changes<'_> {
    /// Proposes a change of `kind`; nothing changes until another person approves it.
    pub async fn propose_change(self, kind: &str, change: serde_json::Value, reason: &str, actor: &Actor) -> AppResult<ChangeRequest> {
        let kind = ChangeKind::parse("kind", kind)?;
        if kind == ChangeKind::Connector {
            // Its secrets must be sealed on the way in, which only the connector's own route does.
            return Err(FieldError::new("kind", "a connector is changed with PUT /api/v1/channels/{code}/connector").into());
        }
        let proposal = Proposal::parse(kind, &change)?;
        self.propose(kind, proposal, change, reason, actor).await
    }

    /// Proposes a checked change; `change` is stored as it is (a connector's secrets sealed).
    pub(crate) async fn propose(
        &self,
        kind: ChangeKind,
        proposal: Proposal,
        change: serde_json::Value,
        reason: &str,
        actor: &Actor,
    ) -> AppResult<ChangeRequest> {
        let reason = ordo_domain::field::text("reason", reason)?;
        let now = self.now();
        let mut tx = self.db.write().await?;
        let before = current_state(&mut tx, &proposal).await?;
        let currency = price_currency(&mut tx, &proposal).await?;
        if proposed_state(&proposal, currency)? == before {
            return Err(FieldError::new("change", "is what it is already: nothing would change").into());
        }
        let id = Uuid::now_v7();
        let subject = proposal.subject();
        tx.insert_change_request(id, kind.as_str(), &subject, &change, &before, &reason, &actor.to_string(), now).await?;
        let audit = Change::new("change_request.propose", format!("change_request:{id}"))
            .before(&before)
            .after(serde_json::json!({"kind": kind.as_str(), "subject": subject, "change": proposal.shown(&change)}))
            .reason(&reason);
        record(&mut tx, actor, now, &[audit]).await?;
        let request = tx.change_request(id).await?.ok_or_else(|| not_found("change request", id.to_string()))?;
        tx.commit().await?;
        Ok(shown(request))
    }

    pub async fn change_requests(self, status: Option<&str>) -> AppResult<Vec<ChangeRequest>> {
        if let Some(s) = status {
            ChangeStatus::parse("status", s)?;
        }
        Ok(self.db.read().await?.change_requests(status).await?.into_iter().map(shown).collect())
    }

    /// Change requests in `status` (or all), newest first, `limit` of them after the one
    /// `after` names: a page of the dashboard's list.
    pub async fn change_requests_page(self, status: Option<&str>, limit: i64, after: Option<ordo_domain::field::PageCursor>) -> AppResult<Vec<ChangeRequest>> {
        if let Some(s) = status {
            ChangeStatus::parse("status", s)?;
        }
        let limit = ordo_domain::field::bounded("limit", limit, 1, 500)?;
        Ok(self.db.read().await?.change_requests_page(status, limit, after).await?.into_iter().map(shown).collect())
    }

    pub async fn change_request(self, id: Uuid) -> AppResult<ChangeRequest> {
        self.db.read().await?.change_request(id).await?.map(shown).ok_or_else(|| not_found("change request", id.to_string()))
    }

    /// Approves a pending request and applies it in the same transaction. The approver is
    /// another person than the proposer, of a role that owns the kind.
    pub async fn approve_change(self, id: Uuid, actor: &Actor) -> AppResult<ChangeRequest> {
        self.decide_change(id, true, "", actor).await
    }

    /// Rejects a pending request, saying why; nothing changes.
    pub async fn reject_change(self, id: Uuid, reason: &str, actor: &Actor) -> AppResult<ChangeRequest> {
        let reason = ordo_domain::field::text("reason", reason)?;
        self.decide_change(id, false, &reason, actor).await
    }

    async fn decide_change(self, id: Uuid, approve: bool, reason: &str, actor: &Actor) -> AppResult<ChangeRequest> {
        let now = self.now();
        let who = actor.to_string();
        let mut tx = self.db.write().await?;
        let request = tx.change_request(id).await?.ok_or_else(|| not_found("change request", id.to_string()))?;
        let next = if approve { ChangeStatus::Approved } else { ChangeStatus::Rejected };
        if !request.status.can_become(next) {
            let message = format!("this change request was {} already", request.status);
            return Err(AppError::InvalidTransition { current: request.status.as_str(), message });
        }
        if request.proposed_by == who {
            return Err(AppError::Forbidden(format!("{who} proposed this change; another person must approve or reject it")));
        }
        let kind = ChangeKind::parse("kind", &request.kind)?;
        if !kind.approvers().contains(&actor.role) {
            let roles: Vec<&str> = kind.approvers().iter().map(|r| r.as_str()).collect();
            return Err(AppError::Forbidden(format!("a {} change is approved by {}", kind.as_str(), roles.join(" or "))));
        }
        let proposal = Proposal::parse(kind, &request.change)?;
        // What the subject is now, which may differ from when it was proposed.
        let before = current_state(&mut tx, &proposal).await?;
        let subject = format!("change_request:{id}");
        let changes = if approve {
            let after = apply(&mut tx, &proposal, now).await?;
            // Decided meanwhile by someone else: dropping the transaction undoes the apply.
            if !tx.decide_change_request(id, ChangeStatus::Approved, &before, Some(&after), &who, reason, now).await? {
                return Err(decided_meanwhile());
            }
            vec![
                Change::new("change_request.approve", subject)
                    .before(serde_json::json!({"status": ChangeStatus::Pending}))
                    .after(serde_json::json!({"status": ChangeStatus::Approved})),
                Change::new(&format!("{}.change", kind.as_str()), proposal.subject())
                    .before(&before)
                    .after(&after)
                    .reason(&format!("change request {id} by {}: {}", request.proposed_by, request.reason)),
            ]
        } else {
            if !tx.decide_change_request(id, ChangeStatus::Rejected, &before, None, &who, reason, now).await? {
                return Err(decided_meanwhile());
            }
            vec![Change::new("change_request.reject", subject)
                .before(serde_json::json!({"status": ChangeStatus::Pending}))
                .after(serde_json::json!({"status": ChangeStatus::Rejected}))
                .reason(reason)]
        };
        record(&mut tx, actor, now, &changes).await?;
        let request = tx.change_request(id).await?.ok_or_else(|| not_found("change request", id.to_string()))?;
        tx.commit().await?;
        self.cache.clear();
        self.inbox.forget_connectors();
        Ok(shown(request))
    }
}

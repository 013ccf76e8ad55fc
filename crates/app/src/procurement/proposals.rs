//! Replenishment proposals: the policies in force turn forecasts and positions into proposals,
//! which a buyer approves onto purchase orders or rejects.

use super::forecasting::{forecast_many, histories, promoted_days, History};
use super::*;
use crate::Procurement;

impl Procurement<'_> {
    /// The replenishment policy in force for each scope (`sku:CODE`, `class:A`).
    pub async fn replenishment_policies(self) -> AppResult<Vec<(String, Policy)>> {
        let mut tx = self.db.read().await?;
        let mut out = Vec::new();
        for (scope, json) in tx.policies().await? {
            let policy: Policy = serde_json::from_value(json).map_err(|_| AppError::Storage(ordo_storage::StorageError::Corrupt("policy".into())))?;
            out.push((scope, policy));
        }
        Ok(out)
    }

    /// The nightly run: proposes replenishment once per day (UTC) however many processes ask,
    /// from two in the morning on. `None` when it is too early or the day's run was made.
    pub async fn nightly_replenishment(self, actor: &Actor) -> AppResult<Option<Vec<ProposalView>>> {
        let now = self.now();
        if now.time() < chrono::NaiveTime::from_hms_opt(2, 0, 0).unwrap_or_default() {
            return Ok(None);
        }
        let mut tx = self.db.write().await?;
        let claimed = tx.claim_meta("replenishment_proposed_on", &now.date_naive().to_string()).await?;
        tx.commit().await?;
        if !claimed {
            return Ok(None);
        }
        self.propose_replenishment(actor).await.map(Some)
    }

    /// Forecasts every SKU that has a supplier and a policy, and proposes what to buy: the
    /// open proposals are replaced by this run's. A SKU projected to run out before its next
    /// receipt becomes a `procurement` exception.
    pub async fn propose_replenishment(self, actor: &Actor) -> AppResult<Vec<ProposalView>> {
        let now = self.now();
        let (histories, supply, positions, policies, classes, next_receipts, promotions) = {
            let mut tx = self.db.read().await?;
            let promotions = tx.promotions().await?;
            let next_receipts: BTreeMap<String, DateTime<Utc>> = tx.next_receipts().await?.into_iter().collect();
            let histories = histories(&mut tx, now.date_naive(), None).await?;
            let supply = tx.supplier_skus(None).await?;
            let positions = tx.positions().await?;
            let policies = tx.policies().await?;
            let classes: BTreeMap<String, String> =
                tx.products(&ordo_storage::ProductQuery { search: None, limit: 100_000, offset: 0 })
                    .await?
                    .products
                    .into_iter()
                    .map(|p| (p.sku, p.abc_class.as_str().to_owned()))
                    .collect();
            (histories, supply, positions, policies, classes, next_receipts, promotions)
        };
        let policies: BTreeMap<String, Policy> = policies.into_iter().filter_map(|(scope, json)| serde_json::from_value(json).ok().map(|p| (scope, p))).collect();
        let mut proposals = Vec::new();
        let mut short = Vec::new();
        let mut covered = Vec::new();
        let policy_of = |sku: &str| policies.get(&format!("sku:{sku}")).or_else(|| classes.get(sku).and_then(|c| policies.get(&format!("class:{c}"))));
        let mut histories = histories;
        let work: Vec<(String, History, Vec<bool>)> = positions
            .iter()
            .filter(|(sku, ..)| policy_of(sku).is_some() && supply.iter().any(|s| &s.sku == sku))
            .map(|(sku, ..)| {
                let upcoming = promoted_days(&promotions, sku, now.date_naive(), HORIZON_DAYS);
                (sku.clone(), histories.remove(sku).unwrap_or_else(History::empty), upcoming)
            })
            .collect();
        let mut forecasts = forecast_many(work).await?;
        for (sku, position) in positions {
            let Some(policy) = policy_of(&sku) else { continue };
            // The preferred supplier, else the cheapest.
            let Some(source) = supply.iter().find(|s| s.sku == sku) else { continue };
            let Some(forecast) = forecasts.remove(&sku) else { continue };
            let terms = SupplyTerms {
                lead_time_days: source.lead_time_days,
                lead_time_sd_days: source.lead_time_sd_tenths as f64 / 10.0,
                moq: source.moq,
                pack_size: source.pack_size,
            };
            let Position { on_hand, reserved, .. } = position;
            // Projected to run out before the next receipt: what is free now does not last
            // the days until the first open order is due.
            let available = on_hand - reserved;
            match next_receipts.get(&sku) {
                Some(due) if forecast.daily_demand > 0.0 => {
                    let days = (*due - now).num_hours().max(0) as f64 / 24.0;
                    if (available as f64) < forecast.daily_demand * days {
                        short.push((sku.clone(), available, forecast.daily_demand, *due));
                    } else {
                        covered.push(sku.clone());
                    }
                }
                _ => covered.push(sku.clone()),
            }
            let Some(explanation) = procurement::propose(policy, forecast.daily_demand, forecast.daily_error, terms, position) else { continue };
            let explained = serde_json::json!({
                "numbers": explanation,
                "method": forecast.method,
                "demand_class": forecast.demand_class,
                "lead_time_days": terms.lead_time_days,
                "policy": policy,
                "supplier_unit_cost": Money::from_minor(source.unit_cost_minor, currency(&source.currency)?).to_decimal_string(),
                "currency": source.currency,
            });
            proposals.push(ProposalRecord {
                id: Uuid::now_v7(),
                sku: sku.clone(),
                supplier: source.supplier.clone(),
                quantity: explanation.quantity,
                explanation: explained.to_string(),
                status: ProposalStatus::Proposed,
                po_id: None,
                created_at: now,
                decided_by: None,
                decided_at: None,
            });
        }
        let mut tx = self.db.write().await?;
        tx.withdraw_open_proposals().await?;
        for p in &proposals {
            tx.insert_proposal(p).await?;
        }
        let kind = ExceptionKind::Procurement;
        for (sku, available, daily, due) in &short {
            let details = serde_json::json!({
                "reason": "projected to run out before the next receipt",
                "available": available,
                "daily_demand": daily,
                "next_receipt": due,
            });
            tx.raise_exception(kind.as_str(), &format!("sku:{sku}"), kind.owner_role().as_str(), now + kind.sla(), &details, now).await?;
        }
        for sku in &covered {
            tx.resolve_exception(kind.as_str(), &format!("sku:{sku}"), "no longer projected to run out", now).await?;
        }
        let after = serde_json::json!({"proposals": proposals.len(), "projected_stockouts": short.len()});
        record(&mut tx, actor, now, &[Change::new("replenishment.propose", "replenishment").after(after)]).await?;
        tx.commit().await?;
        Ok(proposals.iter().map(proposal_view).collect())
    }

    pub async fn proposals(self, status: Option<&str>) -> AppResult<Vec<ProposalView>> {
        if let Some(status) = status {
            ProposalStatus::parse("status", status)?;
        }
        Ok(self.db.read().await?.proposals(status).await?.iter().map(proposal_view).collect())
    }

    /// Approves proposals (at the quantity given for each, else the proposed one) into draft
    /// purchase orders, one per supplier; all or none.
    pub async fn approve_proposals(self, decided: &[(Uuid, Option<i64>)], actor: &Actor) -> AppResult<Vec<PurchaseOrder>> {
        if decided.is_empty() || decided.len() > 1000 {
            return Err(FieldError::new("proposals", "name 1 to 1000 proposals").into());
        }
        let now = self.now();
        let mut tx = self.db.write().await?;
        let open: BTreeMap<Uuid, ProposalRecord> = tx.proposals(Some("proposed")).await?.into_iter().map(|p| (p.id, p)).collect();
        let mut by_supplier: BTreeMap<String, Vec<(Uuid, String, i64)>> = BTreeMap::new();
        for (i, (id, quantity)) in decided.iter().enumerate() {
            if decided[..i].iter().any(|(earlier, _)| earlier == id) {
                return Err(FieldError::new(format!("proposals[{i}]"), format!("proposal {id} is named twice")).into());
            }
            let Some(p) = open.get(id) else {
                return Err(FieldError::new(format!("proposals[{i}]"), format!("proposal {id} is not open")).into());
            };
            let quantity = match quantity {
                Some(q) => ordo_domain::field::bounded(&format!("proposals[{i}].quantity"), *q, 1, 10_000_000)?,
                None => p.quantity,
            };
            by_supplier.entry(p.supplier.clone()).or_default().push((*id, p.sku.clone(), quantity));
        }
        let location = tx.locations().await?.into_iter().min_by_key(|l| l.priority).map(|l| l.code).unwrap_or_default();
        let mut made = Vec::new();
        for (supplier, lines) in by_supplier {
            let new = NewPurchaseOrder {
                supplier,
                location: Some(location.clone()),
                lines: lines.iter().map(|(_, sku, quantity)| NewPoLine { sku: sku.clone(), quantity: *quantity, unit_cost: None }).collect(),
            };
            let id = self.draft_purchase_order(&mut tx, new, actor, now).await?;
            for (proposal, _, quantity) in &lines {
                // Decided meanwhile by someone else: the whole approval rolls back.
                if !tx.decide_proposal(*proposal, "approved", Some(*quantity), Some(id), &actor.to_string(), now).await? {
                    return Err(AppError::InvalidTransition { current: "decided", message: format!("proposal {proposal} was decided meanwhile") });
                }
            }
            made.push(id);
        }
        tx.commit().await?;
        let mut out = Vec::with_capacity(made.len());
        for id in made {
            out.push(self.purchase_order(id).await?);
        }
        Ok(out)
    }

    pub async fn reject_proposal(self, id: Uuid, actor: &Actor) -> AppResult<()> {
        self.reject_proposals(&[id], actor).await
    }

    /// Rejects open proposals, all or none.
    pub async fn reject_proposals(self, ids: &[Uuid], actor: &Actor) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let mut changes = Vec::with_capacity(ids.len());
        for id in ids {
            if !tx.decide_proposal(*id, "rejected", None, None, &actor.to_string(), now).await? {
                return Err(AppError::InvalidTransition { current: "decided", message: format!("proposal {id} is not open") });
            }
            changes.push(Change::new("proposal.reject", format!("proposal:{id}")));
        }
        record(&mut tx, actor, now, &changes).await?;
        tx.commit().await?;
        Ok(())
    }
}

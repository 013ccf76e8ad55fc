//! Settlement reconciliation: a marketplace's report of what it paid out is matched line by
//! line to our orders, booked (fees, refunds, reserves and the deposit), and what does not
//! agree is put in front of finance as `reconciliation` exceptions with the evidence.

use std::collections::{BTreeMap, BTreeSet};

use ordo_domain::exception::ExceptionKind;
use ordo_domain::ledger::percent;
use ordo_domain::settlement::{self, LineKind, Settlement};
use ordo_domain::{FieldError, Money};
use ordo_storage::{SettledOrder, SettlementLineRecord, SettlementRecord, SettlementSummary};
use uuid::Uuid;

use crate::{Actor, AppError, AppResult, Ordo};

/// What reconciliation accepts without a person: settings for now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementPolicy {
    /// How far what a settlement pays for an order may differ from the order's total, in
    /// minor units, before it is an exception.
    pub amount_tolerance_minor: i64,
    /// The fee rate a channel is expected to charge, as (lowest, highest) in basis points of
    /// what the order sold for; a channel without its own range gets `default_fee_rate_bp`.
    pub default_fee_rate_bp: (i64, i64),
    pub fee_rate_bp: BTreeMap<String, (i64, i64)>,
}

impl Default for SettlementPolicy {
    fn default() -> Self {
        Self { amount_tolerance_minor: 5, default_fee_rate_bp: (0, 2_500), fee_rate_bp: BTreeMap::new() }
    }
}

/// What importing a settlement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementImport {
    pub id: Uuid,
    pub external_id: String,
    pub format: &'static str,
    pub total: Money,
    pub lines: usize,
    /// Lines matched to one of our orders.
    pub matched: usize,
    /// Lines naming an order we do not have.
    pub unmatched: usize,
    /// Exceptions raised for finance.
    pub exceptions: usize,
    /// The same report was imported before: nothing changed.
    pub already_imported: bool,
}

/// A disagreement found while reconciling: the exception's subject and its evidence.
struct Finding {
    subject: String,
    details: serde_json::Value,
}

impl Ordo {
    /// Imports a settlement report of `channel`: the Amazon-style V2 flat file or a
    /// Shopify-style payout, told apart by content. Matches its lines to orders, posts its
    /// entry and raises what does not agree, all in one transaction. Importing the same report
    /// again changes nothing; another report under the same settlement id is refused.
    pub async fn import_settlement(&self, channel: &str, content: &str, actor: &Actor) -> AppResult<SettlementImport> {
        let report = settlement::parse(content).map_err(|e| FieldError::new(e.field(), e.detail()))?;
        let digest = crate::access::sha256_hex(content.as_bytes());
        let now = self.now();
        let mut tx = self.db.write().await?;
        let channel = tx.channel(channel).await?.ok_or_else(|| FieldError::new("channel", format!("unknown channel {channel:?}")))?;
        if report.currency != channel.currency {
            let message = format!("is {}, but {} settles in {}", report.currency, channel.code, channel.currency);
            return Err(FieldError::new("currency", message).into());
        }
        if let Some((id, earlier)) = tx.settlement_by_external_id(&channel.code, &report.id).await? {
            if earlier != digest {
                let message = format!("settlement {} of {} was imported before with other content", report.id, channel.code);
                return Err(AppError::Duplicate(FieldError::new("settlement-id", message)));
            }
            let summary = tx.settlement(id).await?;
            return Ok(already_imported(id, &report, summary));
        }

        let refs: BTreeSet<&str> = report.lines.iter().filter_map(|l| l.order_ref.as_deref()).collect();
        let orders = tx.settled_orders(&channel.code, &refs.into_iter().collect::<Vec<_>>()).await?;
        let matches: Vec<Option<(Uuid, Option<i64>)>> = report.lines.iter().map(|line| match_line(line, &orders)).collect();
        let id = Uuid::now_v7();
        let findings = self.reconcile(&channel.code, &report, &orders, &matches, id);

        let kind = ExceptionKind::Reconciliation;
        let mut raised = 0;
        for finding in &findings {
            let due = now + kind.sla();
            if tx.raise_exception(kind.as_str(), &finding.subject, kind.owner_role().as_str(), due, &finding.details, now).await? {
                raised += 1;
            }
        }
        let memo = format!("{} settlement {} deposited {}", channel.code, report.id, report.deposit_date);
        // Each line's SKU (where it matched an order's line) and customer segment (where it
        // matched an order): refunds and fees are theirs.
        let dims: Vec<(Option<String>, Option<String>)> = report
            .lines
            .iter()
            .zip(&matches)
            .map(|(line, matched)| {
                let Some(order) = matched.and(line.order_ref.as_deref()).and_then(|r| orders.get(r)) else { return (None, None) };
                let line_no = matched.and_then(|m| m.1);
                let sku = order.lines.iter().find(|l| Some(l.0) == line_no).map(|l| l.1.clone());
                (sku, Some(order.segment.clone()))
            })
            .collect();
        let entry = settlement::entry(format!("settlement:{id}"), memo, &channel.code, &report, &dims)
            .map_err(|e| FieldError::new("lines", e.to_string()))?;
        let who = actor.to_string();
        self.post(&mut tx, entry, &who, now).await?;

        let matched = matches.iter().filter(|m| m.is_some()).count();
        let unmatched = report.lines.iter().zip(&matches).filter(|(l, m)| l.order_ref.is_some() && m.is_none()).count();
        let record = SettlementRecord {
            id,
            channel: &channel.code,
            external_id: &report.id,
            format: report.format.as_str(),
            currency: report.currency.code(),
            period: report.period,
            deposit_date: report.deposit_date,
            total_minor: report.total.minor(),
            content_sha256: &digest,
            line_count: report.lines.len() as i64,
            matched: matched as i64,
            unmatched: unmatched as i64,
            exceptions: raised as i64,
            actor: &who,
        };
        tx.insert_settlement(&record, now).await?;
        let lines: Vec<SettlementLineRecord> = report
            .lines
            .iter()
            .zip(&matches)
            .map(|(l, m)| SettlementLineRecord {
                row: l.row as i64,
                kind: l.kind.as_str(),
                order_ref: l.order_ref.as_deref(),
                item_ref: l.item_ref.as_deref(),
                sku: l.sku.as_deref(),
                quantity: l.quantity,
                description: &l.description,
                amount_minor: l.amount.minor(),
                order_id: m.map(|m| m.0),
                line_no: m.and_then(|m| m.1),
            })
            .collect();
        tx.insert_settlement_lines(id, &lines).await?;
        let after = serde_json::json!({
            "channel": channel.code, "external_id": report.id, "total": report.total.to_string(),
            "lines": report.lines.len(), "matched": matched, "unmatched": unmatched, "exceptions": raised,
            "content_sha256": digest,
        });
        crate::audit::record(&mut tx, actor, now, &[ordo_domain::audit::Change::new("settlement.import", format!("settlement:{id}")).after(after)])
            .await?;
        tx.commit().await?;
        Ok(SettlementImport {
            id,
            external_id: report.id,
            format: report.format.as_str(),
            total: report.total,
            lines: report.lines.len(),
            matched,
            unmatched,
            exceptions: raised,
            already_imported: false,
        })
    }

    /// A settlement with its lines in report order, `limit` from `offset`; only the lines that
    /// name an order but matched none when `unmatched`.
    pub async fn settlement_lines(
        &self,
        id: Uuid,
        unmatched: bool,
        limit: i64,
        offset: i64,
    ) -> AppResult<(SettlementSummary, Vec<ordo_storage::SettlementLine>)> {
        let limit = ordo_domain::field::bounded("limit", limit, 1, 5_000)?;
        let offset = ordo_domain::field::bounded("offset", offset, 0, i64::MAX)?;
        let mut tx = self.db.read().await?;
        let settlement = tx.settlement(id).await?.ok_or_else(|| AppError::NotFound { what: "settlement", key: id.to_string() })?;
        let lines = tx.settlement_lines(id, unmatched, limit, offset).await?;
        Ok((settlement, lines))
    }

    /// Every settlement imported, with how much of it reconciled.
    pub async fn settlements(&self) -> AppResult<Vec<SettlementSummary>> {
        Ok(self.db.read().await?.settlements().await?)
    }

    /// What does not agree: lines naming orders we do not have, orders paid more or less than
    /// their total beyond the tolerance, fees outside the channel's expected range, and lines
    /// of a kind Ordo does not know.
    fn reconcile(
        &self,
        channel: &str,
        report: &Settlement,
        orders: &std::collections::HashMap<String, SettledOrder>,
        matches: &[Option<(Uuid, Option<i64>)>],
        id: Uuid,
    ) -> Vec<Finding> {
        let policy = &self.settings.settlement;
        let subject = |what: &str| format!("settlement:{channel}:{}:{what}", report.id);
        let money = |minor: i64| Money::from_minor(minor, report.currency).to_decimal_string();
        let mut findings = Vec::new();

        // Per order referred to: its rows, what it was paid for sales and what it was charged.
        #[derive(Default)]
        struct PerOrder {
            rows: Vec<usize>,
            sales: i64,
            fees: i64,
            matched: bool,
        }
        let mut per_order: BTreeMap<&str, PerOrder> = BTreeMap::new();
        for (line, matched) in report.lines.iter().zip(matches) {
            if line.kind == LineKind::Unclassified {
                findings.push(Finding {
                    subject: subject(&format!("row:{}", line.row)),
                    details: serde_json::json!({"settlement": id, "reason": "a line of a kind Ordo does not know, booked as a marketplace fee",
                        "row": line.row, "description": line.description, "amount": money(line.amount.minor())}),
                });
            }
            let Some(order_ref) = line.order_ref.as_deref() else { continue };
            let entry = per_order.entry(order_ref).or_default();
            entry.rows.push(line.row);
            entry.matched = matched.is_some();
            match line.kind {
                LineKind::Sale => entry.sales += line.amount.minor(),
                kind if kind.is_fee() => entry.fees -= line.amount.minor(),
                _ => {}
            }
        }
        let (low, high) = policy.fee_rate_bp.get(channel).copied().unwrap_or(policy.default_fee_rate_bp);
        for (order_ref, seen) in per_order {
            let Some(order) = orders.get(order_ref).filter(|_| seen.matched) else {
                findings.push(Finding {
                    subject: subject(&format!("order:{order_ref}")),
                    details: serde_json::json!({"settlement": id, "reason": "no order of this channel has this id",
                        "order_ref": order_ref, "rows": seen.rows}),
                });
                continue;
            };
            if seen.sales != 0 && (seen.sales - order.total_minor).abs() > policy.amount_tolerance_minor {
                findings.push(Finding {
                    subject: subject(&format!("amount:{order_ref}")),
                    details: serde_json::json!({"settlement": id, "reason": "paid a different amount than the order's total",
                        "order": order.id, "order_ref": order_ref, "expected": money(order.total_minor), "settled": money(seen.sales),
                        "difference": money(seen.sales - order.total_minor), "rows": seen.rows}),
                });
            }
            if seen.sales > 0 {
                let rate_bp = i128::from(seen.fees) * 10_000 / i128::from(seen.sales);
                if rate_bp < i128::from(low) || rate_bp > i128::from(high) {
                    findings.push(Finding {
                        subject: subject(&format!("fee:{order_ref}")),
                        details: serde_json::json!({"settlement": id, "reason": "fees outside the channel's expected range",
                            "order": order.id, "order_ref": order_ref, "fees": money(seen.fees), "sales": money(seen.sales),
                            "rate_percent": percent(rate_bp as i64), "expected_percent": [percent(low), percent(high)],
                            "rows": seen.rows}),
                    });
                }
            }
        }
        findings
    }
}

/// The order and line a settlement line settles: the order by the channel's id, the line by
/// the channel's id of the line (Amazon's order-item-code) or else by the SKU it names (ours
/// or its listing's). Lines without an order are the account's own (fees, reserves) and match
/// nothing.
fn match_line(
    line: &settlement::SettlementLine,
    orders: &std::collections::HashMap<String, SettledOrder>,
) -> Option<(Uuid, Option<i64>)> {
    let order = orders.get(line.order_ref.as_deref()?)?;
    let by_item = line.item_ref.as_deref().and_then(|item| order.lines.iter().find(|l| l.3.as_deref() == Some(item)));
    let by_sku = || line.sku.as_deref().and_then(|sku| order.lines.iter().find(|l| l.1 == sku || l.2.as_deref() == Some(sku)));
    let line_no = by_item.or_else(by_sku).map(|l| l.0);
    Some((order.id, line_no))
}

fn already_imported(id: Uuid, report: &Settlement, summary: Option<SettlementSummary>) -> SettlementImport {
    let count = |f: fn(&SettlementSummary) -> i64| summary.as_ref().map_or(0, |s| f(s) as usize);
    SettlementImport {
        id,
        external_id: report.id.clone(),
        format: report.format.as_str(),
        total: report.total,
        lines: report.lines.len(),
        matched: count(|s| s.matched),
        unmatched: count(|s| s.unmatched),
        exceptions: count(|s| s.exceptions),
        already_imported: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ordo_domain::Currency;

    fn line(item_ref: Option<&str>, sku: Option<&str>) -> settlement::SettlementLine {
        settlement::SettlementLine {
            row: 3,
            kind: LineKind::Sale,
            order_ref: Some("302-1".into()),
            item_ref: item_ref.map(str::to_owned),
            sku: sku.map(str::to_owned),
            quantity: Some(1),
            description: "Order/ItemPrice/Principal".into(),
            amount: Money::from_minor(990, Currency::USD),
        }
    }

    #[test]
    fn a_line_is_matched_by_the_channels_item_id_before_its_sku() {
        let id = Uuid::now_v7();
        let lines = vec![
            (1, "MUG-1".to_owned(), Some("W-MUG".to_owned()), Some("555".to_owned())),
            (2, "MUG-1".to_owned(), None, Some("556".to_owned())),
        ];
        let orders = std::collections::HashMap::from([("302-1".to_owned(), SettledOrder { id, total_minor: 1980, segment: "consumer".into(), lines })]);
        assert_eq!(match_line(&line(Some("556"), Some("MUG-1")), &orders), Some((id, Some(2))), "the item id decides");
        assert_eq!(match_line(&line(None, Some("W-MUG")), &orders), Some((id, Some(1))), "else the listing's SKU");
        assert_eq!(match_line(&line(Some("999"), Some("LAMP")), &orders), Some((id, None)), "the order, but no line");
        let mut stray = line(None, None);
        stray.order_ref = Some("999-9".into());
        assert_eq!(match_line(&stray, &orders), None);
    }
}

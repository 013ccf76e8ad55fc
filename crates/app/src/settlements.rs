//! Settlement reconciliation: a marketplace's report of what it paid out is matched line by
//! line to our orders, booked (fees, refunds, reserves and the deposit), and what does not
//! agree is put in front of finance as `reconciliation` exceptions with the evidence.

use std::collections::BTreeSet;

use ordo_domain::exception::ExceptionKind;
use ordo_domain::reconcile::{match_line, reconcile, LineMatch};
use ordo_domain::settlement::{self, Settlement};
use ordo_domain::{FieldError, Money};
use ordo_storage::{SettlementLineRecord, SettlementRecord, SettlementSummary};
use uuid::Uuid;

use crate::{Actor, AppError, AppResult, Settlements};

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

impl Settlements<'_> {
    /// Imports a settlement report of `channel`: the Amazon-style V2 flat file or a
    /// Shopify-style payout, told apart by content. Matches its lines to orders, posts its
    /// entry and raises what does not agree, all in one transaction. Importing the same report
    /// again changes nothing; another report under the same settlement id is refused.
    pub async fn import_settlement(self, channel: &str, content: &str, actor: &Actor) -> AppResult<SettlementImport> {
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
        let matches: Vec<Option<LineMatch>> = report.lines.iter().map(|line| match_line(line, &orders)).collect();
        let id = Uuid::now_v7();
        let findings = reconcile(&channel.code, &report, &orders, &matches, &self.settings.settlement, id);

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
                let line_no = matched.and_then(|m| m.line);
                let sku = order.lines.iter().find(|l| Some(l.line) == line_no).map(|l| l.sku.clone());
                (sku, Some(order.segment.clone()))
            })
            .collect();
        let entry = settlement::entry(format!("settlement:{id}"), memo, &channel.code, &report, &dims)
            .map_err(|e| FieldError::new("lines", e.to_string()))?;
        let who = actor.to_string();
        self.ledger().post(&mut tx, entry, &who, now).await?;

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
                order_id: m.map(|m| m.order),
                line_no: m.and_then(|m| m.line),
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
    pub async fn list(self) -> AppResult<Vec<SettlementSummary>> {
        Ok(self.db.read().await?.settlements().await?)
    }
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

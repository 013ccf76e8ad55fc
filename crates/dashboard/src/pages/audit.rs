//! The audit log: who changed what and why, newest first, filtered by actor, action, subject
//! and day, with the state before and after each change.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use ordo_app::AuditQuery;
use ordo_domain::audit::AuditRecord;
use ordo_domain::FieldError;
use serde::Deserialize;

use super::{Layout, Page, PAGE_SIZE};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::href::with_query;
use crate::session::Session;
use crate::subjects::SubjectLink;

#[derive(Debug, Deserialize)]
pub(crate) struct AuditFilter {
    #[serde(default)]
    actor: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    /// From this day, `YYYY-MM-DD`, included, in the reader's time zone.
    #[serde(default)]
    from: Option<String>,
    /// Up to this day, included.
    #[serde(default)]
    to: Option<String>,
    /// One day: `from` and `to` both (an older link's way of saying it).
    #[serde(default)]
    day: Option<String>,
    /// Records older than this one: the next page.
    #[serde(default)]
    before: Option<String>,
    /// `csv` for every matching record as a file.
    #[serde(default)]
    format: Option<String>,
}

/// One record, formatted.
struct AuditRow {
    seq: i64,
    at: DateTime<Utc>,
    actor: String,
    action: String,
    subject: String,
    /// The subject as people read it, linked to its page.
    shown: SubjectLink,
    before: Option<String>,
    after: Option<String>,
    reason: Option<String>,
    request_id: Option<String>,
    /// The first characters of the hash, enough to compare by eye.
    hash: String,
}

impl From<AuditRecord> for AuditRow {
    fn from(r: AuditRecord) -> AuditRow {
        AuditRow {
            seq: r.seq,
            at: r.at,
            actor: r.actor,
            action: r.action,
            shown: crate::subjects::link(&r.subject, &std::collections::HashMap::new()),
            subject: r.subject,
            before: r.before,
            after: r.after,
            reason: r.reason,
            request_id: r.request_id,
            hash: r.hash.chars().take(12).collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    records: Vec<AuditRow>,
    actor: String,
    action: String,
    subject: String,
    from: String,
    to: String,
    /// The reader's time zone, which the days are in.
    zone: String,
    filtered: bool,
    /// The link to older records, when there are more.
    older: Option<String>,
    csv_href: String,
}

pub(crate) async fn audit(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<Query<AuditFilter>, QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Audit)?;
    let filter = layout.query(query)?;
    let trimmed = |value: Option<String>| value.map(|v| v.trim().to_owned()).unwrap_or_default();
    let (actor, action, subject, day) = (trimmed(filter.actor), trimmed(filter.action), trimmed(filter.subject), trimmed(filter.day));
    let (from, to) = match (trimmed(filter.from), trimmed(filter.to)) {
        (from, to) if from.is_empty() && to.is_empty() => (day.clone(), day),
        days => days,
    };
    let before_seq = match trimmed(filter.before) {
        before if before.is_empty() => None,
        before => Some(before.parse::<i64>().map_err(|_| layout.fail(FieldError::new("before", "must be a record number")))?),
    };
    let (since, until) = super::days_in_reader_zone(&from, &to).map_err(|e| layout.fail(e))?;
    let some = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
    let query = AuditQuery {
        actor: some(&actor),
        action: some(&action),
        subject: some(&subject),
        since,
        until,
        before_seq,
        limit: PAGE_SIZE,
    };
    if filter.format.as_deref() == Some("csv") {
        let mut rows: Vec<Vec<String>> = Vec::new();
        let mut page = AuditQuery { limit: ordo_app::MAX_AUDIT_PAGE, ..query.clone() };
        loop {
            let found = dashboard.ordo.audit().audit_log(page.clone()).await.map_err(|e| layout.fail(e))?;
            let more = found.len() as i64 == ordo_app::MAX_AUDIT_PAGE && rows.len() < super::MAX_CSV_ROWS;
            page.before_seq = found.last().map(|r| r.seq);
            rows.extend(found.into_iter().map(|r| {
                vec![r.seq.to_string(), r.at.to_rfc3339(), r.actor, r.action, r.subject, r.before.unwrap_or_default(), r.after.unwrap_or_default(), r.reason.unwrap_or_default(), r.request_id.unwrap_or_default(), r.hash]
            }));
            if !more {
                break;
            }
        }
        let header = ["seq", "at", "actor", "action", "subject", "before", "after", "reason", "request_id", "hash"];
        return Ok(super::csv_file("audit.csv", super::csv_rows(&header, rows)));
    }
    let mut records: Vec<AuditRow> = dashboard.ordo.audit().audit_log(query).await.map_err(|e| layout.fail(e))?.into_iter().map(AuditRow::from).collect();
    let names = crate::subjects::links(&dashboard, records.iter().map(|r| r.subject.as_str())).await.map_err(|e| layout.fail(e))?;
    for record in &mut records {
        if let Some(shown) = names.get(&record.subject) {
            record.shown = shown.clone();
        }
    }
    let older = match records.last() {
        Some(last) if records.len() as i64 == PAGE_SIZE && last.seq > 1 => {
            let before = last.seq.to_string();
            let params = [("actor", actor.as_str()), ("action", &action), ("subject", &subject), ("from", &from), ("to", &to), ("before", &before)];
            Some(with_query("/dashboard/audit", &params))
        }
        _ => None,
    };
    let filtered = [&actor, &action, &subject, &from, &to].iter().any(|v| !v.is_empty()) || before_seq.is_some();
    let csv_href = with_query("/dashboard/audit", &[("actor", actor.as_str()), ("action", &action), ("subject", &subject), ("from", &from), ("to", &to), ("format", "csv")]);
    let zone = super::VIEWER_ZONE.try_with(|zone| zone.name().to_owned()).unwrap_or_else(|_| "UTC".to_owned());
    Ok(render(StatusCode::OK, &AuditPage { layout, records, actor, action, subject, from, to, zone, filtered, older, csv_href }))
}

//! The values query parameters take where the server accepts only a few and no domain type
//! says them (a filter that adds `unresolved`, a queue's statuses, a report's breakdown), so the
//! OpenAPI document states them; the handlers read the text and check it themselves.

use serde::Serialize;
use utoipa::ToSchema;

/// Which exceptions: `unresolved` is the first three.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum ExceptionStatusFilter {
    Open,
    Acknowledged,
    Escalated,
    Resolved,
    Unresolved,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum ChangeStatusFilter {
    Pending,
    Approved,
    Rejected,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum DeliveryStatusFilter {
    Pending,
    Processed,
    Ignored,
    Failed,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum MessageStatusFilter {
    Pending,
    Delivered,
    Dead,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum ProposalStatusFilter {
    Proposed,
    Approved,
    Rejected,
}


/// What profitability is broken down by.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum ProfitabilityBy {
    Channel,
    Sku,
    Segment,
}


/// How a list answers: JSON a page at a time, or CSV with every matching row.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub(crate) enum ListFormat {
    Json,
    Csv,
}

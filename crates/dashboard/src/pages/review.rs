//! The operating review: weekly (order backlog, stock exceptions, return reasons, supplier
//! delays, reconciliation issues) and monthly (profitability by channel, forecast accuracy,
//! service performance, process compliance), as `ordo report review` prints it.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use ordo_app::{ReviewPeriod, ReviewSection};
use ordo_domain::access::Permission;
use serde::Deserialize;

use super::{Choice, Layout, Page};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::session::Session;

#[derive(Debug, Deserialize)]
pub(crate) struct ReviewQuery {
    #[serde(default)]
    period: Option<String>,
}

#[derive(Template)]
#[template(path = "review.html")]
struct ReviewPage {
    layout: Layout,
    periods: Vec<Choice>,
    heading: String,
    sections: Vec<ReviewSection>,
}

pub(crate) async fn review(session: Session, State(dashboard): State<Dashboard>, query: Result<Query<ReviewQuery>, QueryRejection>) -> Result<Response, PageError> {
    let layout = session.open(Page::Review)?;
    let query = layout.query(query)?;
    let chosen = query.period.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).unwrap_or_else(|| "week".to_owned());
    let period = ReviewPeriod::parse("period", &chosen).map_err(|e| layout.fail(e))?;
    let review = dashboard.ordo.reports().review(period).await.map_err(|e| layout.fail(e))?;
    let books = session.actor.can(Permission::LedgerRead);
    // Contribution is the books': shown to the roles that read them.
    let sections = review.sections().into_iter().filter(|s| books || s.title != "Profitability by channel").collect();
    let name = if period == ReviewPeriod::Week { "Weekly" } else { "Monthly" };
    let periods = [("week", "Weekly"), ("month", "Monthly")]
        .into_iter()
        .map(|(value, label)| Choice { value: value.to_owned(), label: label.to_owned(), selected: value == chosen })
        .collect();
    let heading = format!("{name} review, {} to {}", review.from, review.to);
    Ok(render(StatusCode::OK, &ReviewPage { layout, periods, heading, sections }))
}

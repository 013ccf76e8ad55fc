//! The warehouse's workload ahead, per location: today's backlog, the parcels, lines and units
//! to pick, pack and ship by day for the week and by hour for today and tomorrow, the people
//! that takes, the work at risk of missing today's cut-off, and how far off the forecast was
//! on the last fortnight. Those who run the floor set each location's capacity here.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::NaiveTime;
use ordo_app::LocationWorkload;
use ordo_domain::access::Permission;
use ordo_domain::workload::Capacity;

use super::master::whole_number;
use super::{form_fields, Layout, Page};

use crate::chart::RateBar;
use crate::error::{render, PageError};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
use crate::session::Session;
use crate::Dashboard;

/// One location as the page shows it.
struct Shown {
    workload: LocationWorkload,
    /// Lines hour by hour, today's and tomorrow's, drawn.
    chart: Vec<RateBar>,
    /// The back-test's errors, as percentages; none without history enough.
    accuracy: Option<(String, String)>,
    /// What the page says of each day ahead.
    notes: Vec<String>,
    form: Option<EntryForm>,
}

#[derive(Template)]
#[template(path = "workload.html")]
struct WorkloadPage {
    layout: Layout,
    locations: Vec<Shown>,
}

fn capacity_form(workload: &LocationWorkload, entered: Option<&Entered>) -> EntryForm {
    let c = workload.capacity;
    // One form per location: the id carries the code so no two inputs share one.
    EntryForm::new(format!("capacity-{}", workload.location), "Capacity", format!("/dashboard/workload/{}/capacity", workload.location), "Save capacity", vec![
        Input::text("lines_per_person_hour", "Lines a person picks and packs an hour").of(Control::Number).value(c.lines_per_person_hour.to_string()),
        Input::text("people", "People on a shift").of(Control::Number).value(c.people.to_string()),
        Input::text("shift_hours", "Hours of a shift").of(Control::Number).value(c.shift_hours.to_string()),
    ])
    .about("What the forecast's people needed and the cut-off warning are worked out with.")
    .entered(entered)
}

/// Whether the local hour starting at `start` holds the cut-off: a 15:30 cut-off is in the
/// 15:00 bar, and in the 14:30 bar of a zone half an hour off the hour.
fn holds_cutoff(start: NaiveTime, cutoff: NaiveTime) -> bool {
    (cutoff - start).num_minutes().rem_euclid(24 * 60) < 60
}

fn shown(workload: LocationWorkload, may_set: bool, entered: Option<(&str, &Entered)>) -> Shown {
    let zone: chrono_tz::Tz = workload.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let cutoff_at = NaiveTime::parse_from_str(&workload.cutoff_time, "%H:%M").ok();
    let points: Vec<(i64, String, bool)> = workload
        .outlook
        .hours
        .iter()
        .map(|h| {
            let local = h.hour.with_timezone(&zone);
            let cutoff = cutoff_at.is_some_and(|at| holds_cutoff(local.time(), at));
            (h.work.lines, format!("{}: {} lines, {} units, {} parcels", local.format("%a %H:00"), h.work.lines, h.work.units, h.work.parcels), cutoff)
        })
        .collect();
    let accuracy = match (workload.outlook.accuracy.wape_bp, workload.outlook.accuracy.same_weekday_wape_bp) {
        (Some(ours), Some(naive)) => Some((ordo_domain::ledger::percentage(ours), ordo_domain::ledger::percentage(naive))),
        _ => None,
    };
    let entered = entered.filter(|(code, _)| *code == workload.location).map(|(_, e)| e);
    let form = may_set.then(|| capacity_form(&workload, entered));
    let notes = day_notes(&workload);
    Shown { chart: crate::chart::value_bars(&points), accuracy, notes, form, workload }
}

/// What the page says of each day ahead: today's backlog, a promotion, a closed day and the
/// lines that come in on it, and the working day that picks them.
fn day_notes(workload: &LocationWorkload) -> Vec<String> {
    let mut after_closed = false;
    workload
        .outlook
        .days
        .iter()
        .enumerate()
        .map(|(n, d)| {
            let mut said = Vec::new();
            if n == 0 && d.open {
                said.push("the rest of today and the backlog".to_owned());
            }
            if !d.open {
                let why = workload.calendar.closed_dates.iter().find(|c| c.date == d.day).map_or_else(|| "closed".to_owned(), |c| format!("closed: {}", c.name));
                said.push(format!("{why}; {} lines coming in wait for the next working day", d.inflow.lines));
            } else if after_closed {
                said.push("with the closed days' orders".to_owned());
            }
            if d.promoted {
                said.push("promotion".to_owned());
            }
            after_closed = !d.open;
            said.join("; ")
        })
        .collect()
}

pub(crate) async fn workload(session: Session, State(dashboard): State<Dashboard>) -> Result<Response, PageError> {
    page(&session, &dashboard, None).await
}

async fn page(session: &Session, dashboard: &Dashboard, entered: Option<(&str, Entered)>) -> Result<Response, PageError> {
    let layout = session.open(Page::Workload)?;
    let workloads = dashboard.ordo.fulfilment().workload().await.map_err(|e| layout.fail(e))?;
    let may_set = session.actor.can(Permission::InventoryWrite);
    let status = if entered.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let entered = entered.as_ref().map(|(code, e)| (*code, e));
    let locations = workloads.into_iter().map(|w| shown(w, may_set, entered)).collect();
    Ok(render(status, &WorkloadPage { layout, locations }))
}

pub(crate) async fn set_capacity(
    session: Session,
    State(dashboard): State<Dashboard>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, PageError> {
    let layout = session.posting(Page::Workload, &headers, Permission::InventoryWrite)?;
    let code = layout.path_key(path)?;
    let fields = form_fields(&body);
    let read = || -> Result<Capacity, ordo_domain::FieldError> {
        Ok(Capacity {
            lines_per_person_hour: whole_number(&fields, "lines_per_person_hour")?,
            people: whole_number(&fields, "people")?,
            shift_hours: whole_number(&fields, "shift_hours")?,
        })
    };
    let saved = match read() {
        Ok(capacity) => dashboard.ordo.fulfilment().set_capacity(&code, capacity, &session.actor).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => Ok(Redirect::to("/dashboard/workload").into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            page(&session, &dashboard, Some((&code, Entered::new(fields, refused)))).await
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn at(text: &str) -> NaiveTime {
        NaiveTime::parse_from_str(text, "%H:%M").unwrap()
    }

    #[test]
    fn a_cutoff_off_the_hour_marks_the_hour_that_holds_it() {
        let cutoff = at("15:30");
        let marked: Vec<u32> = (0..24).filter(|h| holds_cutoff(NaiveTime::from_hms_opt(*h, 0, 0).unwrap(), cutoff)).collect();
        assert_eq!(marked, vec![15]);
        assert!(holds_cutoff(at("15:00"), at("15:00")) && !holds_cutoff(at("14:00"), at("15:00")) && !holds_cutoff(at("16:00"), at("15:00")));
        // Across midnight: a 00:15 cut-off is in the bar from 23:30.
        assert!(holds_cutoff(at("23:30"), at("00:15")) && !holds_cutoff(at("23:30"), at("00:30")));
    }

    #[test]
    fn a_zone_half_an_hour_off_marks_the_bar_holding_the_cutoff() {
        let zone: chrono_tz::Tz = "Asia/Kolkata".parse().unwrap();
        let cutoff = at("15:00");
        let marked: Vec<String> = (0..24)
            .map(|h| Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap().with_timezone(&zone))
            .filter(|local| holds_cutoff(local.time(), cutoff))
            .map(|local| local.format("%H:%M").to_string())
            .collect();
        assert_eq!(marked, vec!["14:30"]);
    }
}

//! A person's own settings: the time zone the dashboard shows them times in.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::{field, form_fields, Layout};
use crate::Dashboard;
use crate::error::{render, PageError, Problem};
use crate::forms::{refusal, Entered, EntryForm, Input};
use crate::session::{same_origin, Session};

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    layout: Layout,
    /// The zone times are shown in now.
    zone: String,
    forms: Vec<EntryForm>,
}

fn zone_form(entered: Option<&Entered>, zone: &str) -> EntryForm {
    EntryForm::new("time-zone", "Time zone", "/dashboard/settings", "Save", vec![
        Input::text("time_zone", "Show times in").optional().value(zone).hint("an IANA name such as Europe/Berlin or America/New_York; UTC when empty"),
    ])
    .about("Every time on the dashboard is shown in this zone, with UTC when you hover over it.")
    .entered(entered)
}

pub(crate) async fn settings(session: Session) -> Result<Response, PageError> {
    settings_page(&session, None)
}

fn settings_page(session: &Session, entered: Option<Entered>) -> Result<Response, PageError> {
    let layout = session.layout("Settings");
    let zone = super::VIEWER_ZONE.try_with(|zone| zone.name().to_owned()).unwrap_or_else(|_| "UTC".to_owned());
    let status = if entered.is_some() { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let shown = if zone == "UTC" { "" } else { zone.as_str() };
    Ok(render(status, &SettingsPage { layout, forms: vec![zone_form(entered.as_ref(), shown)], zone }))
}

pub(crate) async fn save(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.layout("Settings");
    if !same_origin(&headers) {
        return Err(layout.fail(Problem::CrossSite));
    }
    let fields = form_fields(&body);
    let actor = &session.actor;
    match dashboard.ordo.access().set_time_zone(&actor.name, field(&fields, "time_zone"), actor).await {
        Ok(()) => Ok(Redirect::to("/dashboard/settings").into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            settings_page(&session, Some(Entered::new(fields, refused)))
        }
    }
}

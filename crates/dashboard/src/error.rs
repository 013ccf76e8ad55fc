//! Why a page could not be shown, and the response each reason becomes: a redirect to the
//! log-in page, or an error page (inside the layout when we know who is signed in).
//!
//! Details of server-side failures are logged, never shown.

use askama::Template;
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use ordo_app::AppError;
use ordo_domain::FieldError;

use crate::href::login_href;
use crate::layout::Layout;

/// What went wrong, in the terms the person looking at the page needs.
#[derive(Debug)]
pub(crate) enum Problem {
    /// Nobody is signed in, or the session ran out; `next` is where to return afterwards.
    SignIn { next: Option<String> },
    /// A query parameter or form field was wrong.
    BadInput(FieldError),
    /// The key is already taken, or stock does not allow it.
    Conflict(FieldError),
    /// Signed in, but the role does not grant this page.
    Forbidden,
    /// A form was sent from a page on another site.
    CrossSite,
    /// A form came without the token of the page it was shown on: another site's, or one
    /// shown before the session it belonged to ended.
    StaleForm,
    NotFound,
    /// Too many failed log-ins: the next attempt must wait this many seconds.
    TooManyAttempts(i64),
    /// Our fault; the details went to the log.
    Internal,
}

impl From<AppError> for Problem {
    fn from(error: AppError) -> Self {
        match error {
            AppError::Invalid(field) => Problem::BadInput(field),
            AppError::Duplicate(field) | AppError::InsufficientStock(field) | AppError::IdempotencyConflict(field) => Problem::Conflict(field),
            AppError::InvalidTransition { message, .. } => Problem::Conflict(FieldError::new("status", message)),
            AppError::NotFound { .. } => Problem::NotFound,
            AppError::Unauthenticated => Problem::SignIn { next: None },
            AppError::TooManyAttempts { retry_after_s } => Problem::TooManyAttempts(retry_after_s),
            AppError::Forbidden(_) | AppError::BadSignature => Problem::Forbidden,
            AppError::Storage(error) => {
                tracing::error!(error = %error, "dashboard: storage failed");
                Problem::Internal
            }
        }
    }
}

impl From<FieldError> for Problem {
    fn from(error: FieldError) -> Self {
        Problem::BadInput(error)
    }
}

impl Problem {
    fn status(&self) -> StatusCode {
        match self {
            Problem::SignIn { .. } => StatusCode::SEE_OTHER,
            Problem::BadInput(_) => StatusCode::BAD_REQUEST,
            Problem::Conflict(_) => StatusCode::CONFLICT,
            Problem::Forbidden | Problem::CrossSite | Problem::StaleForm => StatusCode::FORBIDDEN,
            Problem::NotFound => StatusCode::NOT_FOUND,
            Problem::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            Problem::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Problem::SignIn { .. } => "Log in",
            Problem::BadInput(_) => "Bad request",
            Problem::Conflict(_) => "Conflict",
            Problem::Forbidden | Problem::CrossSite => "Not allowed",
            Problem::StaleForm => "Form expired",
            Problem::NotFound => "Not found",
            Problem::TooManyAttempts(_) => "Too many attempts",
            Problem::Internal => "Something went wrong",
        }
    }

    fn message(&self) -> String {
        match self {
            Problem::SignIn { .. } => "Please log in.".to_owned(),
            Problem::BadInput(field) | Problem::Conflict(field) => {
                format!("The value of “{}” was not accepted: {}.", field.field, field.message)
            }
            Problem::Forbidden => "Your role does not allow you to see this page.".to_owned(),
            Problem::CrossSite => {
                "The form was sent from another site, so it was not accepted. Please use the form on this site.".to_owned()
            }
            Problem::NotFound => "There is no such page.".to_owned(),
            Problem::StaleForm => {
                "This form was not sent from a page Ordo showed you in this session, so nothing was done. Go back, reload the page and send it again.".to_owned()
            }
            Problem::TooManyAttempts(seconds) => too_many_attempts(*seconds),
            Problem::Internal => "Something went wrong on our side. Please try again in a moment.".to_owned(),
        }
    }
}

/// What the log-in page says while failed log-ins make the next attempt wait.
pub(crate) fn too_many_attempts(seconds: i64) -> String {
    let wait = if seconds >= 120 { format!("{} minutes", (seconds + 59) / 60) } else { format!("{seconds} seconds") };
    format!("Too many failed log-ins for this account or from this address. Please try again in {wait}, or ask an administrator to lift the lock.")
}

/// A [`Problem`], with the layout to show it in when someone is signed in.
#[derive(Debug)]
pub(crate) struct PageError {
    layout: Option<Box<Layout>>,
    problem: Problem,
}

impl PageError {
    /// Shown in the layout of the signed-in `layout`.
    pub(crate) fn in_layout(layout: &Layout, problem: impl Into<Problem>) -> Self {
        let problem = problem.into();
        let mut layout = layout.clone();
        layout.title = problem.title().into();
        layout.current = None;
        PageError { layout: Some(Box::new(layout)), problem }
    }
}

impl From<Problem> for PageError {
    fn from(problem: Problem) -> Self {
        PageError { layout: None, problem }
    }
}

impl From<AppError> for PageError {
    fn from(error: AppError) -> Self {
        Problem::from(error).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: &'a Layout,
    heading: &'static str,
    message: String,
}

#[derive(Template)]
#[template(path = "public_error.html")]
struct PublicErrorPage {
    title: &'static str,
    message: String,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let problem = self.problem;
        if let Problem::SignIn { next } = &problem {
            return Redirect::to(&login_href(next.as_deref())).into_response();
        }
        let (status, title, message) = (problem.status(), problem.title(), problem.message());
        match self.layout {
            Some(layout) => render(status, &ErrorPage { layout: &layout, heading: title, message }),
            None => render(status, &PublicErrorPage { title, message }),
        }
    }
}

/// Renders `page` as the response body with `status`.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(error) => {
            tracing::error!(error = %error, "dashboard: a template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.").into_response()
        }
    }
}

/// A page's failures shown in its own layout.
impl Layout {
    /// `problem` shown in this layout.
    pub(crate) fn fail(&self, problem: impl Into<Problem>) -> PageError {
        PageError::in_layout(self, problem)
    }

    /// The record id in the path, or a 404 page in this layout when it is no id.
    pub(crate) fn path_id(&self, path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>) -> Result<uuid::Uuid, PageError> {
        path.ok()
            .and_then(|axum::extract::Path(id)| uuid::Uuid::try_parse(&id).ok())
            .ok_or_else(|| self.fail(Problem::NotFound))
    }

    /// The code or key in the path (a channel's code, a SKU), or a 404 page in this layout.
    pub(crate) fn path_key(&self, path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>) -> Result<String, PageError> {
        path.map(|axum::extract::Path(key)| key).map_err(|_| self.fail(Problem::NotFound))
    }

    /// The query parameters, or a 400 page in this layout when they do not parse.
    pub(crate) fn query<T>(&self, query: Result<Query<T>, QueryRejection>) -> Result<T, PageError> {
        query.map(|Query(query)| query).map_err(|rejection| self.fail(FieldError::new("query", rejection.body_text())))
    }
}

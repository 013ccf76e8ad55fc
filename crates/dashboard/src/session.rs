//! Log-in, log-out and the session cookie; the [`Session`] extractor that every dashboard
//! page takes, and the permission check that turns it into a page's [`Layout`].

use askama::Template;
use axum::extract::{FromRequestParts, OriginalUri, Query, State};
use axum::extract::rejection::QueryRejection;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar, Expiration, SameSite};
use chrono::{DateTime, Utc};
use ordo_app::{Actor, AppError};
use serde::Deserialize;

use crate::Dashboard;
use crate::error::{render, PageError, Problem};
use crate::href::{safe_next, HOME};
use crate::layout::{Layout, Page};

/// The cookie that carries the session key. The key is the only secret in it.
pub(crate) const SESSION_COOKIE: &str = "ordo_session";

/// The address the request came from, when the server was started to tell it (it is not
/// read from forwarding headers, which anyone can write).
pub(crate) struct ClientAddress(pub(crate) Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let connected = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>();
        Ok(ClientAddress(connected.map(|info| info.0.ip())))
    }
}

/// Someone signed in with a live session. Taking this as an argument makes a handler
/// redirect to the log-in page when nobody is.
pub(crate) struct Session {
    pub(crate) actor: Actor,
    /// What the session's forms carry back.
    pub(crate) form_token: String,
}

impl FromRequestParts<Dashboard> for Session {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &Dashboard) -> Result<Self, PageError> {
        let here = parts.extensions.get::<OriginalUri>().map_or(&parts.uri, |original| &original.0);
        let sign_in = || PageError::from(Problem::SignIn { next: here.path_and_query().map(|pq| pq.as_str().to_owned()) });
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(key) = jar.get(SESSION_COOKIE).map(|cookie| cookie.value().to_owned()) else {
            return Err(sign_in());
        };
        let actor = match parts.extensions.get::<Resolved>() {
            Some(Resolved(Some(actor))) => Ok(actor.clone()),
            Some(Resolved(None)) => Err(AppError::Unauthenticated),
            None => state.ordo.access().authenticate_session(&key).await,
        };
        match actor {
            Ok(actor) => {
                // The server's request-id layer sets this on every request.
                let request_id = parts.headers.get("x-request-id").and_then(|value| value.to_str().ok());
                Ok(Session { actor: actor.on_request(request_id), form_token: ordo_app::form_token(&key) })
            }
            Err(AppError::Unauthenticated) => Err(sign_in()),
            Err(other) => Err(other.into()),
        }
    }
}

impl Session {
    /// The layout for `page` when the actor's role grants the page's permission
    /// ([`Page::permission`]); a 403 page otherwise.
    pub(crate) fn open(&self, page: Page) -> Result<Layout, PageError> {
        let layout = Layout::new(&self.actor, &self.form_token, page.label(), Some(page));
        if self.actor.can(page.permission()) {
            Ok(layout)
        } else {
            Err(PageError::in_layout(&layout, Problem::Forbidden))
        }
    }

    /// What every form posted to `page` checks first: the caller may open the page, the form
    /// came from this site, and the role has `permission`. Returns the layout for errors.
    pub(crate) fn posting(&self, page: Page, headers: &HeaderMap, permission: ordo_domain::access::Permission) -> Result<Layout, PageError> {
        let layout = self.open(page)?;
        if !same_origin(headers) {
            return Err(layout.fail(Problem::CrossSite));
        }
        if !self.actor.can(permission) {
            return Err(layout.fail(Problem::Forbidden));
        }
        Ok(layout)
    }

    /// A layout for a page that is not in the navigation, such as "Not found".
    pub(crate) fn layout(&self, title: &'static str) -> Layout {
        Layout::new(&self.actor, &self.form_token, title, None)
    }
}

/// Whether a form post may have come from one of our own pages: true when the browser sent
/// no `Origin` (older browsers, non-browser clients; the SameSite=Strict session cookie covers
/// those) or an `Origin` naming the host the request was sent to. The scheme is not compared,
/// since a proxy in front may end TLS; a default port (80, 443) may be left out on either side.
pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let (Ok(origin), Some(Ok(host))) = (origin.to_str(), headers.get(header::HOST).map(|host| host.to_str())) else {
        return false;
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        return false;
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => "80",
        "https" => "443",
        _ => return false,
    };
    let (origin_host, origin_port) = split_port(authority);
    let (host_host, host_port) = split_port(host.trim());
    !origin_host.is_empty()
        && origin_host.eq_ignore_ascii_case(host_host)
        && origin_port.unwrap_or(default_port) == host_port.unwrap_or(default_port)
}

/// `host:port` as host and port; an IPv6 literal keeps its brackets.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') && (host.starts_with('[') || !host.contains(':')) => (host, Some(port)),
        _ => (authority, None),
    }
}

/// The session a request's cookie names, as [`viewer_zone`] found it, so that the page's
/// [`Session`] need not read it again: the actor, or none when no session is live.
#[derive(Clone)]
struct Resolved(Option<ordo_app::Actor>);

/// Runs the request in the time zone its reader chose ([`crate::pages::VIEWER_ZONE`]): UTC for
/// anyone who chose none or is not signed in. The session it reads is kept for the page.
pub(crate) async fn viewer_zone(State(dashboard): State<Dashboard>, mut request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let key = CookieJar::from_headers(request.headers()).get(SESSION_COOKIE).map(|c| c.value().to_owned());
    let (zone, resolved) = match key {
        Some(key) => match dashboard.ordo.access().session(&key).await {
            Ok((actor, zone)) => (zone, Some(Resolved(Some(actor)))),
            Err(AppError::Unauthenticated) => (chrono_tz::UTC, Some(Resolved(None))),
            // The page asks again and shows what went wrong.
            Err(_) => (chrono_tz::UTC, None),
        },
        None => (chrono_tz::UTC, Some(Resolved(None))),
    };
    if let Some(resolved) = resolved {
        request.extensions_mut().insert(resolved);
    }
    crate::pages::VIEWER_ZONE.scope(zone, next.run(request)).await
}

/// The most a dashboard form's body may be, unless it sends a file: a few fields.
const FORM_LIMIT: usize = 256 * 1024;

/// What every form post (log-in and log-out included) passes before its handler: when the
/// browser says where the form came from (`Origin`), it is this site; and the form carries the
/// token of the session it was shown in ([`ordo_app::form_token`]), or, for the log-in form,
/// the token in its cookie. Another site can make a browser post a form, but cannot read the
/// token to put in it.
pub(crate) async fn guard_forms(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    if !same_origin(request.headers()) {
        return PageError::from(Problem::CrossSite).into_response();
    }
    let jar = CookieJar::from_headers(request.headers());
    // The log-in form and the first administrator's set-up come before any session.
    let login = matches!(request.uri().path(), "/login" | SETUP);
    let expected = if login {
        jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned())
    } else {
        jar.get(SESSION_COOKIE).map(|c| ordo_app::form_token(c.value()))
    };
    // Without a session the page's own check sends the browser to log in; nothing is done.
    if expected.is_none() && !login {
        return next.run(request).await;
    }
    let upload = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.to_ascii_lowercase().starts_with("multipart/form-data"));
    let limit = if upload { crate::pages::master::UPLOAD_LIMIT } else { FORM_LIMIT };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        return PageError::from(Problem::BadInput(ordo_domain::FieldError::new("form", "is too large"))).into_response();
    };
    let sent = if upload {
        multipart_token(&parts, bytes.clone()).await
    } else {
        form_urlencoded::parse(&bytes).find(|(name, _)| name == "form_token").map(|(_, value)| value.into_owned())
    };
    let matches = match (&expected, &sent) {
        (Some(expected), Some(sent)) => expected.len() == sent.len() && expected.bytes().zip(sent.bytes()).fold(0u8, |d, (a, b)| d | (a ^ b)) == 0,
        _ => false,
    };
    if !matches {
        return PageError::from(Problem::StaleForm).into_response();
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}

/// The `form_token` field of a form that sends a file; the page puts it first.
async fn multipart_token(parts: &axum::http::request::Parts, bytes: axum::body::Bytes) -> Option<String> {
    use axum::extract::FromRequest;
    let mut request = axum::extract::Request::new(axum::body::Body::from(bytes));
    *request.headers_mut() = parts.headers.clone();
    let mut form = axum::extract::Multipart::from_request(request, &()).await.ok()?;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some("form_token") {
            return field.text().await.ok();
        }
    }
    None
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    /// Nobody can log in yet: the page points to the first administrator's set-up.
    first_run: bool,
    next: Option<&'a str>,
    username: &'a str,
    error: Option<String>,
    /// Also in the [`LOGIN_COOKIE`]: the form must carry it back.
    form_token: &'a str,
}

/// The cookie that holds the log-in form's token until the form comes back.
pub(crate) const LOGIN_COOKIE: &str = "ordo_login";

#[derive(Debug, Deserialize)]
pub(crate) struct LoginQuery {
    #[serde(default)]
    next: Option<String>,
}

pub(crate) async fn login_form(State(dashboard): State<Dashboard>, jar: CookieJar, query: Result<Query<LoginQuery>, QueryRejection>) -> Response {
    let next = query.ok().and_then(|Query(query)| query.next);
    let (jar, token) = login_token(jar, dashboard.secure_cookies);
    let Some(token) = token else {
        return PageError::from(Problem::Internal).into_response();
    };
    let first_run = !dashboard.ordo.access().has_users().await.unwrap_or(true);
    let page = LoginPage { first_run, next: next.as_deref().and_then(safe_next), username: "", error: None, form_token: &token };
    (jar, render(StatusCode::OK, &page)).into_response()
}

/// The log-in form's token: the one the browser holds, or a new one set in the jar.
fn login_token(jar: CookieJar, secure: bool) -> (CookieJar, Option<String>) {
    if let Some(token) = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned()).filter(|t| t.len() == 64) {
        return (jar, Some(token));
    }
    let Ok(token) = ordo_app::new_form_token() else { return (jar, None) };
    let cookie = Cookie::build((LOGIN_COOKIE, token.clone())).http_only(true).same_site(SameSite::Strict).path("/login").secure(secure).build();
    (jar.add(cookie), Some(token))
}

#[derive(Debug, Deserialize)]
pub(crate) struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

pub(crate) async fn log_in(
    State(dashboard): State<Dashboard>,
    jar: CookieJar,
    address: ClientAddress,
    Form(form): Form<LoginForm>,
) -> Result<(CookieJar, Redirect), Response> {
    let next = form.next.as_deref().and_then(safe_next);
    let token = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    match dashboard.ordo.access().log_in(&form.username, &form.password, address.0).await {
        Ok(logged_in) => {
            let cookie = session_cookie(logged_in.session_key, logged_in.expires_at, dashboard.secure_cookies);
            Ok((jar.add(cookie), Redirect::to(next.unwrap_or(HOME))))
        }
        // One message for an unknown user and a wrong password, so the form does not tell
        // which usernames exist.
        Err(AppError::Unauthenticated) => Err(render(
            StatusCode::UNAUTHORIZED,
            &LoginPage { first_run: false, next, username: form.username.trim(), error: Some("Wrong username or password.".to_owned()), form_token: &token },
        )),
        Err(AppError::TooManyAttempts { retry_after_s }) => {
            let page = LoginPage { first_run: false, next, username: form.username.trim(), error: Some(crate::error::too_many_attempts(retry_after_s)), form_token: &token };
            let mut response = render(StatusCode::TOO_MANY_REQUESTS, &page);
            if let Ok(value) = retry_after_s.to_string().parse() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            Err(response)
        }
        Err(other) => Err(PageError::from(other).into_response()),
    }
}

/// Where the first administrator is set up, under `/login` so the log-in form's cookie and
/// token guard it too.
pub(crate) const SETUP: &str = "/login/setup";

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage<'a> {
    username: &'a str,
    /// Why the last attempt was refused, naming the field.
    error: Option<(String, String)>,
    form_token: &'a str,
}

/// The first administrator's form, while nobody can log in; the log-in form afterwards.
pub(crate) async fn setup_form(State(dashboard): State<Dashboard>, jar: CookieJar) -> Response {
    if dashboard.ordo.access().has_users().await.unwrap_or(true) {
        return Redirect::to("/login").into_response();
    }
    let (jar, token) = login_token(jar, dashboard.secure_cookies);
    let Some(token) = token else {
        return PageError::from(Problem::Internal).into_response();
    };
    (jar, render(StatusCode::OK, &SetupPage { username: "", error: None, form_token: &token })).into_response()
}

#[derive(Debug, Deserialize)]
pub(crate) struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// Makes the first administrator with the bootstrap token `ordo init` printed, and logs them in.
pub(crate) async fn set_up(State(dashboard): State<Dashboard>, jar: CookieJar, address: ClientAddress, Form(form): Form<SetupForm>) -> Result<(CookieJar, Redirect), Response> {
    let access = dashboard.ordo.access();
    let token = jar.get(LOGIN_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    let refuse = |field: String, message: String| {
        let page = SetupPage { username: form.username.trim(), error: Some((field, message)), form_token: &token };
        render(StatusCode::UNPROCESSABLE_ENTITY, &page)
    };
    match access.set_up_first_admin(&form.token, &form.username, &form.password).await {
        Ok(()) => {}
        Err(AppError::Invalid(error) | AppError::Duplicate(error)) => return Err(refuse(error.field, error.message)),
        Err(AppError::InvalidTransition { .. }) => return Ok((jar, Redirect::to("/login"))),
        Err(other) => return Err(PageError::from(other).into_response()),
    }
    let logged_in = access.log_in(form.username.trim(), &form.password, address.0).await.map_err(|e| PageError::from(e).into_response())?;
    let cookie = session_cookie(logged_in.session_key, logged_in.expires_at, dashboard.secure_cookies);
    Ok((jar.add(cookie), Redirect::to(HOME)))
}

pub(crate) async fn log_out(State(dashboard): State<Dashboard>, jar: CookieJar) -> (CookieJar, Redirect) {
    if let Some(key) = jar.get(SESSION_COOKIE).map(|cookie| cookie.value().to_owned()) {
        // The browser forgets the cookie either way; a session we failed to delete still
        // runs out at its expiry time.
        if let Err(error) = dashboard.ordo.access().log_out(&key).await {
            tracing::error!(error = %error, "dashboard: could not delete a session at log-out");
        }
    }
    (jar.remove(Cookie::build(SESSION_COOKIE).path("/")), Redirect::to("/login"))
}

fn session_cookie(key: String, expires_at: DateTime<Utc>, secure: bool) -> Cookie<'static> {
    let mut cookie = Cookie::build((SESSION_COOKIE, key))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(secure)
        .build();
    if let Some(expires) = expiration(expires_at) {
        cookie.set_expires(expires);
    }
    cookie
}

/// `at` as a cookie expiry. The cookie crate wants a `time` date, which we do not depend on;
/// it parses the HTTP date form, so we hand it that.
fn expiration(at: DateTime<Utc>) -> Option<Expiration> {
    Cookie::parse(format!("x=; Expires={}", at.format("%a, %d %b %Y %H:%M:%S GMT"))).ok()?.expires()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, origin.parse().unwrap());
        }
        if let Some(host) = host {
            headers.insert(header::HOST, host.parse().unwrap());
        }
        headers
    }

    #[test]
    fn form_posts_are_accepted_only_from_our_own_origin() {
        for (origin, host) in [
            (None, Some("ordo.example")),
            (None, None),
            (Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080")),
            (Some("https://Ordo.Example"), Some("ordo.example")),
            (Some("https://ordo.example"), Some("ordo.example:443")),
            (Some("http://ordo.example:80"), Some("ordo.example")),
            (Some("http://[::1]:8080"), Some("[::1]:8080")),
            (Some("http://[::1]"), Some("[::1]")),
        ] {
            assert!(same_origin(&headers(origin, host)), "{origin:?} {host:?}");
        }
        for (origin, host) in [
            (Some("https://evil.example"), Some("ordo.example")),
            (Some("http://127.0.0.1:9999"), Some("127.0.0.1:8080")),
            (Some("http://127.0.0.1"), Some("127.0.0.1:8080")),
            (Some("https://ordo.example"), Some("ordo.example:80")),
            (Some("https://ordo.example.evil.example"), Some("ordo.example")),
            (Some("null"), Some("ordo.example")),
            (Some("ordo.example"), Some("ordo.example")),
            (Some("file://"), Some("")),
            (Some("http://ordo.example"), None),
            (Some("http://[::1]:8080"), Some("[::1]:9090")),
        ] {
            assert!(!same_origin(&headers(origin, host)), "{origin:?} {host:?}");
        }
    }

    #[test]
    fn the_session_cookie_is_locked_down_and_expires() {
        let at = DateTime::parse_from_rfc3339("2030-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        let text = session_cookie("k".repeat(64), at, true).to_string();
        for part in ["ordo_session=", "HttpOnly", "SameSite=Strict", "Path=/", "Secure", "Expires=Wed, 02 Jan 2030 03:04:05 GMT"] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
        assert!(!session_cookie("k".into(), at, false).to_string().contains("Secure"));
    }
}

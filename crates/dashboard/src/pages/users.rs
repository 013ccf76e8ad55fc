//! Users and API tokens, for admins: who may log in and with which role, new users, disabling
//! and enabling them; tokens issued (shown once), when each was last used, and revoking them.

use askama::Template;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use ordo_domain::access::{Permission, Role};
use ordo_domain::FieldError;

use super::{field, form_fields, timestamp, Layout, Page};
use crate::Dashboard;
use crate::error::{render, PageError};
use crate::forms::{refusal, Control, Entered, EntryForm, Input};
use crate::session::Session;

struct UserRow {
    username: String,
    role: Role,
    created: String,
    disabled: bool,
    action_href: String,
}

struct TokenRow {
    name: String,
    role: Role,
    created: String,
    last_used: String,
    revoked: Option<String>,
    revoke_href: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    layout: Layout,
    users: Vec<UserRow>,
    tokens: Vec<TokenRow>,
    /// Each role with its lead, if it has one.
    leads: Vec<(Role, String)>,
    forms: Vec<EntryForm>,
    /// A token just issued: shown this once.
    issued: Option<ordo_app::IssuedToken>,
}

fn roles() -> Vec<(&'static str, &'static str)> {
    Role::ALL.iter().map(|role| (role.as_str(), role.as_str())).collect()
}

fn user_form(entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("new-user", "New user", "/dashboard/users", "Add the user", vec![
        Input::text("username", "Username").hint("lower case, such as anna or j.smith"),
        Input::text("role", "Role").select(&roles()).value("ops"),
        Input::text("password", "Password").of(Control::Password).hint("at least 12 characters; tell it to them another way"),
    ])
    .about("A person who logs in to this dashboard. The role decides what they see and may do (docs/permissions.md).")
    .entered(entered)
    .mark_choices()
}

fn token_form(entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("new-token", "New API token", "/dashboard/tokens", "Issue the token", vec![
        Input::text("name", "Name").hint("what uses it, such as erp-sync"),
        Input::text("role", "Role").select(&roles()).value("integration"),
    ])
    .about("For a program that calls the API. The token is shown once; Ordo keeps only its hash.")
    .entered(entered)
    .mark_choices()
}

fn role_form(entered: Option<&Entered>, usernames: &[(&str, &str)]) -> EntryForm {
    EntryForm::new("user-role", "Another role", "/dashboard/access/role", "Change the role", vec![
        Input::text("username", "User").select(usernames),
        Input::text("role", "Role").select(&roles()).value("ops"),
    ])
    .about("What the person may see and do from their next page on. The last administrator keeps the role.")
    .entered(entered)
    .mark_choices()
}

fn password_form(entered: Option<&Entered>, usernames: &[(&str, &str)]) -> EntryForm {
    EntryForm::new("user-password", "A new password", "/dashboard/access/password", "Set the password", vec![
        Input::text("username", "User").select(usernames),
        Input::text("password", "New password").of(Control::Password).hint("at least 12 characters; their sessions end, tell it to them another way"),
    ])
    .about("For someone who forgot theirs or whose password may be known to others.")
    .entered(entered)
    .mark_choices()
}

fn lead_form(entered: Option<&Entered>) -> EntryForm {
    EntryForm::new("role-lead", "Lead of a role", "/dashboard/leads", "Set the lead", vec![
        Input::text("role", "Role").select(&roles()).value("finance"),
        Input::text("username", "Lead").optional().hint("a user of that role (or an admin); empty leaves the role without a lead"),
    ])
    .about("An exception its role leaves past due goes to the role's lead first, who is told, and only then to the next role: finance, then the finance lead, then admin.")
    .entered(entered)
    .mark_choices()
}

#[derive(Default)]
struct Forms {
    user: Option<Entered>,
    token: Option<Entered>,
    lead: Option<Entered>,
    role: Option<Entered>,
    password: Option<Entered>,
    issued: Option<ordo_app::IssuedToken>,
}

pub(crate) async fn users(
    session: Session,
    State(dashboard): State<Dashboard>,
    query: Result<axum::extract::Query<super::ExportQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let layout = session.open(Page::Users)?;
    if super::ExportQuery::csv(&layout, query)? {
        let users = dashboard.ordo.access().users().await.map_err(|e| layout.fail(e))?;
        let rows = users.into_iter().map(|u| {
            let state = if u.disabled_at.is_some() { "disabled" } else { "active" };
            vec![u.username, u.role.as_str().to_owned(), u.created_at.to_rfc3339(), state.to_owned()]
        });
        return Ok(super::csv_file("users.csv", super::csv_rows(&["username", "role", "created_at", "state"], rows)));
    }
    users_page(&session, &dashboard, Forms::default()).await
}

async fn users_page(session: &Session, dashboard: &Dashboard, forms: Forms) -> Result<Response, PageError> {
    let layout = session.open(Page::Users)?;
    let access = dashboard.ordo.access();
    let users = access.users().await.map_err(|e| layout.fail(e))?;
    let tokens = access.tokens().await.map_err(|e| layout.fail(e))?;
    let set_leads = access.role_leads().await.map_err(|e| layout.fail(e))?;
    let leads = Role::ALL
        .into_iter()
        .map(|role| (role, set_leads.iter().find(|(r, _)| r == role.as_str()).map(|(_, user)| user.clone()).unwrap_or_default()))
        .collect();
    let users: Vec<UserRow> = users
        .into_iter()
        .map(|u| UserRow {
            action_href: format!("/dashboard/users/{}", crate::href::query_escape(&u.username)),
            username: u.username,
            role: u.role,
            created: timestamp(&u.created_at),
            disabled: u.disabled_at.is_some(),
        })
        .collect();
    let tokens = tokens
        .into_iter()
        .map(|t| TokenRow {
            revoke_href: format!("/dashboard/tokens/{}/revoke", t.token.id),
            name: t.token.name,
            role: t.token.role,
            created: timestamp(&t.token.created_at),
            last_used: t.last_used_at.map_or_else(|| "never".to_owned(), |at| timestamp(&at)),
            revoked: t.revoked_at.map(|at| timestamp(&at)),
        })
        .collect();
    let refused = forms.user.is_some() || forms.token.is_some() || forms.lead.is_some() || forms.role.is_some() || forms.password.is_some();
    let usernames: Vec<(String, String)> = users.iter().map(|u: &UserRow| (u.username.clone(), format!("{} ({})", u.username, u.role))).collect();
    let usernames: Vec<(&str, &str)> = usernames.iter().map(|(name, label)| (name.as_str(), label.as_str())).collect();
    let status = if refused { StatusCode::UNPROCESSABLE_ENTITY } else { StatusCode::OK };
    let page = UsersPage {
        layout,
        users,
        tokens,
        leads,
        forms: vec![
            user_form(forms.user.as_ref()),
            role_form(forms.role.as_ref(), &usernames),
            password_form(forms.password.as_ref(), &usernames),
            lead_form(forms.lead.as_ref()),
            token_form(forms.token.as_ref()),
        ],
        issued: forms.issued,
    };
    Ok(render(status, &page))
}

fn role(fields: &[(String, String)]) -> Result<Role, FieldError> {
    Role::parse("role", field(fields, "role"))
}

pub(crate) async fn create_user(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Users, &headers, Permission::AccessManage)?;
    let fields = form_fields(&body);
    let created = match role(&fields) {
        Ok(role) => dashboard.ordo.access().create_user(field(&fields, "username"), field(&fields, "password"), role, &session.actor).await,
        Err(error) => Err(error.into()),
    };
    match created {
        Ok(()) => Ok(Redirect::to(Page::Users.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            users_page(&session, &dashboard, Forms { user: Some(Entered::new(fields, refused)), ..Forms::default() }).await
        }
    }
}

/// Disables or enables a user (`action`).
pub(crate) async fn user_action(
    session: Session,
    State(dashboard): State<Dashboard>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Users, &headers, Permission::AccessManage)?;
    let Path(username) = path.map_err(|_| layout.fail(FieldError::new("username", "is not a username")))?;
    let fields = form_fields(&body);
    let disable = match field(&fields, "action") {
        "disable" => true,
        "enable" => false,
        _ => return Err(layout.fail(FieldError::new("action", "must be disable or enable"))),
    };
    dashboard.ordo.access().set_user_disabled(&username, disable, &session.actor).await.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(Page::Users.href()))
}

pub(crate) async fn issue_token(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Users, &headers, Permission::AccessManage)?;
    let fields = form_fields(&body);
    let issued = match role(&fields) {
        Ok(role) => dashboard.ordo.access().create_token(role, field(&fields, "name").trim(), &session.actor).await,
        Err(error) => Err(error.into()),
    };
    match issued {
        // Shown on the answer to this post and never again; the page is not cached.
        Ok(issued) => users_page(&session, &dashboard, Forms { issued: Some(issued), ..Forms::default() }).await,
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            users_page(&session, &dashboard, Forms { token: Some(Entered::new(fields, refused)), ..Forms::default() }).await
        }
    }
}

pub(crate) async fn revoke_token(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, path: Result<Path<String>, PathRejection>) -> Result<Redirect, PageError> {
    let layout = session.posting(Page::Users, &headers, Permission::AccessManage)?;
    let id = layout.path_id(path)?;
    dashboard.ordo.access().revoke_token(id, &session.actor).await.map_err(|e| layout.fail(e))?;
    Ok(Redirect::to(Page::Users.href()))
}

pub(crate) async fn set_lead(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Users, &headers, Permission::AccessManage)?;
    let fields = form_fields(&body);
    match dashboard.ordo.access().set_role_lead(field(&fields, "role"), field(&fields, "username"), &session.actor).await {
        Ok(()) => Ok(Redirect::to(&format!("{}#leads", Page::Users.href())).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            users_page(&session, &dashboard, Forms { lead: Some(Entered::new(fields, refused)), ..Forms::default() }).await
        }
    }
}

pub(crate) async fn set_role(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Users, &headers, Permission::AccessManage)?;
    let fields = form_fields(&body);
    let set = match role(&fields) {
        Ok(role) => dashboard.ordo.access().set_user_role(field(&fields, "username"), role, &session.actor).await,
        Err(error) => Err(error.into()),
    };
    match set {
        Ok(()) => Ok(Redirect::to(Page::Users.href()).into_response()),
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            users_page(&session, &dashboard, Forms { role: Some(Entered::new(fields, refused)), ..Forms::default() }).await
        }
    }
}

pub(crate) async fn set_password(session: Session, State(dashboard): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Result<Response, PageError> {
    let layout = session.posting(Page::Users, &headers, Permission::AccessManage)?;
    let fields = form_fields(&body);
    match dashboard.ordo.access().reset_password(field(&fields, "username"), field(&fields, "password"), &session.actor).await {
        Ok(()) => Ok(Redirect::to(Page::Users.href()).into_response()),
        Err(ordo_app::AppError::NotFound { .. }) => {
            let refused = FieldError::new("username", "no such user");
            users_page(&session, &dashboard, Forms { password: Some(Entered::new(fields, refused)), ..Forms::default() }).await
        }
        Err(error) => {
            let refused = refusal(error).map_err(|e| layout.fail(e))?;
            users_page(&session, &dashboard, Forms { password: Some(Entered::new(fields, refused)), ..Forms::default() }).await
        }
    }
}

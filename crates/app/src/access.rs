//! Access use cases: API tokens, users with passwords, dashboard log-in sessions.
//!
//! Tokens and session keys are 256 random bits, shown once and stored as SHA-256 hashes: a
//! hash is enough for secrets that cannot be guessed, and cheap enough for every request.
//! Passwords are people's, guessable, so they are stored with argon2.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use chrono::{DateTime, Utc};
use ordo_domain::access::Role;
use ordo_domain::{field, FieldError};
use ordo_domain::access::Throttle;
use ordo_storage::{ApiTokenRecord, LoginFailures, TokenListing, UserListing, UserRecord};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use ordo_domain::audit::Change;

use crate::audit::record;
use crate::{Access, Actor, ActorKind, AppError, AppResult};

/// Every API token starts with this, so a leaked one is easy to recognise and search for.
const TOKEN_PREFIX: &str = "ordo_";
const MIN_PASSWORD_LEN: usize = 10;

/// A new API token: the secret is in `token` and nowhere else.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub id: Uuid,
    pub name: String,
    pub role: Role,
}

/// A successful log-in: the cookie value to hand back, and until when it holds.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub session_key: String,
    pub expires_at: DateTime<Utc>,
    pub actor: Actor,
}

/// 32 random bytes as hex: a token or a signing secret.
pub(crate) fn random_secret() -> AppResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Storage(ordo_storage::StorageError::Unavailable(format!(
        "no randomness from the operating system: {e}"
    ))))?;
    Ok(ordo_domain::hex(&bytes))
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    ordo_domain::hex(&Sha256::digest(bytes))
}

/// The token every dashboard form of a session carries: derived from the session's key, which
/// only the browser holding the cookie knows, so another site cannot forge a form.
pub fn form_token(session_key: &str) -> String {
    sha256_hex(format!("ordo form token\n{session_key}").as_bytes())
}

/// A fresh random token for the log-in form, which has no session yet (kept in a cookie and
/// sent back with the form).
pub fn new_form_token() -> AppResult<String> {
    random_secret()
}

impl Access<'_> {
    /// Makes a new API token for `role`. The returned secret is never stored.
    pub async fn create_token(self, role: Role, name: &str, actor: &Actor) -> AppResult<IssuedToken> {
        self.create_expiring_token(role, name, None, actor).await
    }

    /// Makes a new API token for `role` that stops working at `expires_at` (never when none).
    pub async fn create_expiring_token(self, role: Role, name: &str, expires_at: Option<DateTime<Utc>>, actor: &Actor) -> AppResult<IssuedToken> {
        let name = field::text("name", name)?;
        let now = self.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(FieldError::new("expires_at", "must be in the future").into());
        }
        let token = format!("{TOKEN_PREFIX}{}", random_secret()?);
        let issued = ApiTokenRecord { id: Uuid::now_v7(), name: name.clone(), role, created_at: now, expires_at };
        let mut tx = self.db.write().await?;
        tx.insert_api_token(&issued, &sha256_hex(token.as_bytes())).await?;
        let after = serde_json::json!({"name": name, "role": role, "expires_at": expires_at});
        let change = Change::new("token.create", format!("token:{}", issued.id)).after(after);
        record(&mut tx, actor, issued.created_at, &[change]).await?;
        tx.commit().await?;
        Ok(IssuedToken { token, id: issued.id, name, role })
    }

    /// Makes the bootstrap admin token when the database has no token yet; `None` otherwise.
    pub async fn create_bootstrap_token(self) -> AppResult<Option<IssuedToken>> {
        if self.db.read().await?.api_token_count().await? > 0 {
            return Ok(None);
        }
        self.create_token(Role::Admin, "bootstrap admin", &Actor::system()).await.map(Some)
    }

    /// The actor behind a bearer token, or [`AppError::Unauthenticated`].
    pub async fn authenticate_token(self, token: &str) -> AppResult<Actor> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Err(AppError::Unauthenticated);
        }
        let now = self.now();
        let found = self.db.reader().await?.api_token_by_hash(&sha256_hex(token.as_bytes()), now).await?;
        let (record, last_used_at) = found.ok_or(AppError::Unauthenticated)?;
        // The last use is kept to the minute, written aside so no request waits for it, and
        // once per minute per token in this process, not once per request in flight.
        let minute = chrono::Duration::minutes(1);
        let due = last_used_at.is_none_or(|at| now - at >= minute) && {
            let mut noted = self.token_uses.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let fresh = noted.get(&record.id).is_some_and(|at| now - *at < minute);
            if !fresh {
                noted.insert(record.id, now);
            }
            !fresh
        };
        if due {
            let db = self.db.clone();
            tokio::spawn(async move {
                let touched = async {
                    let mut tx = db.write().await?;
                    tx.touch_api_token(record.id, now).await?;
                    tx.commit().await
                };
                if let Err(error) = touched.await {
                    tracing::warn!(error = %error, "could not note a token's last use");
                }
            });
        }
        Ok(Actor { kind: ActorKind::Token, name: record.name, role: record.role, request_id: None })
    }

    /// Every API token, newest first, with when each was last used and whether it is revoked.
    pub async fn tokens(self) -> AppResult<Vec<TokenListing>> {
        Ok(self.db.read().await?.api_tokens().await?)
    }

    /// Revokes a token: it answers 401 from the next request on, on every instance.
    pub async fn revoke_token(self, id: Uuid, actor: &Actor) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        if !tx.revoke_api_token(id, now).await? {
            return Err(AppError::NotFound { what: "live token", key: id.to_string() });
        }
        record(&mut tx, actor, now, &[Change::new("token.revoke", format!("token:{id}"))]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Revokes the live tokens called `name`; how many there were.
    pub async fn revoke_tokens_named(self, name: &str, actor: &Actor) -> AppResult<usize> {
        let live: Vec<Uuid> = self.tokens().await?.into_iter().filter(|t| t.token.name == name && t.revoked_at.is_none()).map(|t| t.token.id).collect();
        if live.is_empty() {
            return Err(AppError::NotFound { what: "live token named", key: name.to_owned() });
        }
        for id in &live {
            self.revoke_token(*id, actor).await?;
        }
        Ok(live.len())
    }

    /// Every dashboard user, by username.
    pub async fn users(self) -> AppResult<Vec<ordo_storage::UserListing>> {
        Ok(self.db.read().await?.users().await?)
    }

    /// Whether anyone can log in to the dashboard yet: on a new database nobody can, until the
    /// first administrator is set up with the bootstrap token ([`Access::set_up_first_admin`]).
    pub async fn has_users(self) -> AppResult<bool> {
        Ok(!self.users().await?.is_empty())
    }

    /// The first dashboard user, an administrator, made by whoever holds an admin API token
    /// (the one `ordo init` printed); refused once any user exists.
    pub async fn set_up_first_admin(self, admin_token: &str, username: &str, password: &str) -> AppResult<()> {
        let holder = self.authenticate_token(admin_token.trim()).await.map_err(|_| FieldError::new("token", "is not a live admin API token"))?;
        if holder.role != Role::Admin {
            return Err(FieldError::new("token", "is not a live admin API token").into());
        }
        if self.has_users().await? {
            return Err(AppError::InvalidTransition { current: "set up", message: "Ordo is set up already: log in instead".into() });
        }
        self.create_user(username, password, Role::Admin, &holder).await
    }

    /// Creates a dashboard user with a password.
    pub async fn create_user(self, username: &str, password: &str, role: Role, actor: &Actor) -> AppResult<()> {
        let username = field::code("username", username)?;
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(FieldError::new("password", format!("must be at least {MIN_PASSWORD_LEN} characters")).into());
        }
        let password_hash = hash_password(password).await?;
        let user = UserRecord { id: Uuid::now_v7(), username: username.clone(), role, password_hash };
        let mut tx = self.db.write().await?;
        if tx.user_by_username(&username).await?.is_some() {
            return Err(AppError::Duplicate(FieldError::new("username", format!("{username:?} already exists"))));
        }
        tx.insert_user(&user, self.now()).await?;
        let change = Change::new("user.create", format!("user:{username}")).after(serde_json::json!({"role": role}));
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a user's password and opens a session. Failures are counted per account and per
    /// `address` ([`Throttle`]): past a few, attempts must wait ([`AppError::TooManyAttempts`],
    /// the password not even checked), and many in a row lock the account or address, which
    /// the audit log records.
    pub async fn log_in(self, username: &str, password: &str, address: Option<std::net::IpAddr>) -> AppResult<LoggedIn> {
        let username = username.trim();
        let now = self.now();
        let mut keys = vec![(format!("user:{}", username.to_lowercase()), Throttle::ACCOUNT)];
        if let Some(address) = address {
            keys.push((format!("address:{address}"), Throttle::ADDRESS));
        }
        // A waiting attempt is refused before its password is looked at.
        let user = {
            let mut tx = self.db.read().await?;
            let mut failures = Vec::with_capacity(keys.len());
            for (key, _) in &keys {
                failures.push(tx.login_failures(key).await?);
            }
            must_wait(&failures, now)?;
            tx.user_by_username(username).await?
        };
        // Verify against a dummy hash when the user is unknown, so timing does not tell
        // which usernames exist.
        let hash = user.as_ref().map_or(DUMMY_HASH, |u| u.password_hash.as_str());
        let verified = verify_password(password, hash).await;
        // Read again, locked: attempts sent at once all read the failures from before any of
        // them, and would each count only itself. Once one of them makes the rest wait, they
        // do, whatever their password.
        let mut tx = self.db.write().await?;
        let mut before = Vec::with_capacity(keys.len());
        for (key, _) in &keys {
            before.push(tx.lock_login_failures(key, now).await?);
        }
        must_wait(&before, now)?;
        let Some(user) = user.filter(|_| verified) else {
            let mut locked = Vec::new();
            for ((key, throttle), before) in keys.iter().zip(before) {
                let failures = throttle.count(before.map(|f| (f.failures, f.last_at)), now);
                let wait = throttle.wait_after(failures);
                let locked_until = (wait > chrono::Duration::zero()).then(|| now + wait);
                tx.set_login_failures(key, LoginFailures { failures, last_at: now, locked_until }).await?;
                if failures == throttle.lock_after {
                    let after = serde_json::json!({"failures": failures, "locked_until": locked_until});
                    locked.push(Change::new("login.lock", key.clone()).after(after).reason("too many failed log-ins in a row"));
                }
            }
            if !locked.is_empty() {
                record(&mut tx, &Actor::system(), now, &locked).await?;
            }
            tx.commit().await?;
            return Err(AppError::Unauthenticated);
        };
        for (key, _) in &keys {
            tx.clear_login_failures(key).await?;
        }
        let session_key = random_secret()?;
        let ttl = chrono::Duration::from_std(self.settings.session_ttl).unwrap_or(chrono::Duration::hours(12));
        let expires_at = now + ttl;
        tx.insert_session(&sha256_hex(session_key.as_bytes()), user.id, now, expires_at).await?;
        tx.commit().await?;
        Ok(LoggedIn {
            session_key,
            expires_at,
            actor: Actor { kind: ActorKind::User, name: user.username, role: user.role, request_id: None },
        })
    }

    /// The actor behind a session cookie, or [`AppError::Unauthenticated`].
    pub async fn authenticate_session(self, session_key: &str) -> AppResult<Actor> {
        self.session(session_key).await.map(|(actor, _)| actor)
    }

    /// The user of a live session as an actor, with the time zone they read times in (UTC
    /// when they chose none): what a dashboard page needs, in one read.
    pub async fn session(self, session_key: &str) -> AppResult<(Actor, chrono_tz::Tz)> {
        if session_key.len() != 64 {
            return Err(AppError::Unauthenticated);
        }
        let user = self.db.read().await?.session_user(&sha256_hex(session_key.as_bytes()), self.now()).await?;
        let user = user.ok_or(AppError::Unauthenticated)?;
        let zone = user.time_zone.as_deref().and_then(|zone| zone.parse().ok()).unwrap_or(chrono_tz::UTC);
        Ok((Actor { kind: ActorKind::User, name: user.username, role: user.role, request_id: None }, zone))
    }

    /// Sets the time zone `username` reads times in: an IANA name such as Europe/Berlin, or
    /// empty for UTC. A user sets their own; an admin anyone's.
    pub async fn set_time_zone(self, username: &str, time_zone: &str, actor: &Actor) -> AppResult<()> {
        if actor.name != username && actor.role != Role::Admin {
            return Err(AppError::Forbidden(format!("{} may set only their own time zone", actor.name)));
        }
        let zone = time_zone.trim();
        let zone = match zone {
            "" => None,
            zone => Some(
                zone.parse::<chrono_tz::Tz>()
                    .map_err(|_| FieldError::new("time_zone", format!("{zone:?} is not a time zone: use an IANA name such as Europe/Berlin")))?
                    .name(),
            ),
        };
        let mut tx = self.db.write().await?;
        if !tx.set_user_time_zone(username, zone).await? {
            return Err(AppError::NotFound { what: "user", key: username.to_owned() });
        }
        let change = Change::new("user.time_zone", format!("user:{username}")).after(serde_json::json!({"time_zone": zone.unwrap_or("UTC")}));
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes `username` the lead of `role`: an overdue exception of the role goes to them before
    /// it moves on to the next role. The lead works in that role (or is an admin) and can log
    /// in. An empty `username` leaves the role without a lead.
    pub async fn set_role_lead(self, role: &str, username: &str, actor: &Actor) -> AppResult<()> {
        let role: Role = role.trim().parse().map_err(|()| FieldError::new("role", format!("{:?} is not a role", role.trim())))?;
        let username = username.trim();
        let mut tx = self.db.write().await?;
        let lead = if username.is_empty() {
            None
        } else {
            let user = tx.users().await?.into_iter().find(|u| u.username == username);
            match user {
                None => return Err(FieldError::new("username", format!("no user is called {username:?}")).into()),
                Some(u) if u.disabled_at.is_some() => return Err(FieldError::new("username", format!("{username} is disabled")).into()),
                Some(u) if u.role != role && u.role != Role::Admin => {
                    return Err(FieldError::new("username", format!("{username} works as {}, not {}", u.role.as_str(), role.as_str())).into());
                }
                Some(_) => Some(username),
            }
        };
        let before = tx.role_leads().await?.into_iter().find(|(r, _)| r == role.as_str()).map(|(_, user)| user);
        tx.set_role_lead(role.as_str(), lead).await?;
        let change = Change::new("role.lead", format!("role:{}", role.as_str()))
            .before(serde_json::json!({"lead": before}))
            .after(serde_json::json!({"lead": lead}));
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The lead of each role that has one, by role.
    pub async fn role_leads(self) -> AppResult<Vec<(String, String)>> {
        Ok(self.db.read().await?.role_leads().await?)
    }

    /// Lifts a lockout of `username`'s account before it runs out.
    pub async fn unlock_user(self, username: &str, actor: &Actor) -> AppResult<()> {
        let key = format!("user:{}", username.trim().to_lowercase());
        let mut tx = self.db.write().await?;
        if !tx.clear_login_failures(&key).await? {
            return Err(AppError::NotFound { what: "failed log-ins of", key: username.to_owned() });
        }
        record(&mut tx, actor, self.now(), &[Change::new("login.unlock", key)]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Disables a user (who can no longer log in, and whose sessions end at once), or enables
    /// one again.
    pub async fn set_user_disabled(self, username: &str, disabled: bool, actor: &Actor) -> AppResult<()> {
        let now = self.now();
        let mut tx = self.db.write().await?;
        let users = tx.users_in_turn().await?;
        if disabled && is_last_admin(&users, username.trim()) {
            return Err(FieldError::new("username", format!("{} is the last administrator; make another one first", username.trim())).into());
        }
        if !tx.set_user_disabled(username.trim(), disabled, now).await? {
            return Err(AppError::NotFound { what: "user", key: username.to_owned() });
        }
        let action = if disabled { "user.disable" } else { "user.enable" };
        record(&mut tx, actor, now, &[Change::new(action, format!("user:{}", username.trim()))]).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Gives a user another role. The last administrator who can log in keeps theirs, so
    /// Ordo is never left without one; a lead of the old role stops being its lead.
    pub async fn set_user_role(self, username: &str, role: Role, actor: &Actor) -> AppResult<()> {
        let username = username.trim();
        let mut tx = self.db.write().await?;
        let users = tx.users_in_turn().await?;
        let Some(user) = users.iter().find(|u| u.username == username) else {
            return Err(FieldError::new("username", format!("no user is called {username:?}")).into());
        };
        if role != Role::Admin && is_last_admin(&users, username) {
            return Err(FieldError::new("role", format!("{username} is the last administrator; make another one first")).into());
        }
        if user.role == role {
            return Ok(());
        }
        tx.set_user_role(username, role.as_str()).await?;
        let mut changes = vec![Change::new("user.role", format!("user:{username}"))
            .before(serde_json::json!({"role": user.role.as_str()}))
            .after(serde_json::json!({"role": role.as_str()}))];
        if role != Role::Admin {
            for (led, lead) in tx.role_leads().await? {
                if lead == username && led != role.as_str() {
                    tx.set_role_lead(&led, None).await?;
                    changes.push(Change::new("role.lead", format!("role:{led}")).before(serde_json::json!({"lead": lead})).after(serde_json::json!({"lead": null})));
                }
            }
        }
        record(&mut tx, actor, self.now(), &changes).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a new password for a user and ends their sessions.
    pub async fn reset_password(self, username: &str, password: &str, actor: &Actor) -> AppResult<()> {
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(FieldError::new("password", format!("must be at least {MIN_PASSWORD_LEN} characters")).into());
        }
        let hash = hash_password(password).await?;
        let mut tx = self.db.write().await?;
        if !tx.set_password(username.trim(), &hash).await? {
            return Err(AppError::NotFound { what: "user", key: username.to_owned() });
        }
        let change = Change::new("user.password_reset", format!("user:{}", username.trim())).after(serde_json::json!({"password": "changed"}));
        record(&mut tx, actor, self.now(), &[change]).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn log_out(self, session_key: &str) -> AppResult<()> {
        let mut tx = self.db.write().await?;
        tx.delete_session(&sha256_hex(session_key.as_bytes()), self.now()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// An argon2 hash of a password nobody has, for constant-time failure on unknown users.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Mf2kDQRcA9lmiGUqSHNQz0Rn1wuvSlhdvxNmu0UArPM";

/// Argon2 spends tens of milliseconds of CPU by design; hashing and checking run on the
/// blocking pool, so that log-ins arriving together do not stall every other request on
/// the runtime's few threads.
async fn hash_password(password: &str) -> AppResult<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || argon2_hash(&password))
        .await
        .map_err(|e| AppError::Storage(ordo_storage::StorageError::Unavailable(e.to_string())))?
}

async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || argon2_verify(&password, &hash)).await.unwrap_or(false)
}

fn argon2_hash(password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AppError::Storage(ordo_storage::StorageError::Unavailable(e.to_string())))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| FieldError::new("password", e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| FieldError::new("password", e.to_string()).into())
}

fn argon2_verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// Whether `username` is the only administrator who can log in.
fn is_last_admin(users: &[UserListing], username: &str) -> bool {
    let admins: Vec<&UserListing> = users.iter().filter(|u| u.role == Role::Admin && u.disabled_at.is_none()).collect();
    admins.len() == 1 && admins[0].username == username
}

/// Refused with how long to wait when any of an attempt's keys (its account, its address) is
/// slowed down or locked; the longest wait is the one told.
fn must_wait(failures: &[Option<LoginFailures>], now: DateTime<Utc>) -> AppResult<()> {
    match failures.iter().flatten().filter_map(|f| f.locked_until).filter(|until| *until > now).max() {
        Some(until) => Err(AppError::TooManyAttempts { retry_after_s: (until - now).num_seconds().max(1) }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = argon2_hash("correct horse battery").unwrap();
        assert!(argon2_verify("correct horse battery", &hash));
        assert!(!argon2_verify("correct horse battery!", &hash));
        assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    }

    #[test]
    fn secrets_are_long_and_distinct() {
        let (a, b) = (random_secret().unwrap(), random_secret().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(sha256_hex("abc".as_bytes()), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}

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
use ordo_storage::{ApiTokenRecord, UserRecord};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use ordo_domain::audit::Change;

use crate::audit::record;
use crate::{Actor, ActorKind, AppError, AppResult, Ordo};

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

impl Ordo {
    /// Makes a new API token for `role`. The returned secret is never stored.
    pub async fn create_token(&self, role: Role, name: &str, actor: &Actor) -> AppResult<IssuedToken> {
        let name = field::text("name", name)?;
        let token = format!("{TOKEN_PREFIX}{}", random_secret()?);
        let issued = ApiTokenRecord { id: Uuid::now_v7(), name: name.clone(), role, created_at: self.now() };
        let mut tx = self.db.write().await?;
        tx.insert_api_token(&issued, &sha256_hex(token.as_bytes())).await?;
        let change = Change::new("token.create", format!("token:{}", issued.id)).after(serde_json::json!({"name": name, "role": role}));
        record(&mut tx, actor, issued.created_at, &[change]).await?;
        tx.commit().await?;
        Ok(IssuedToken { token, id: issued.id, name, role })
    }

    /// Makes the bootstrap admin token when the database has no token yet; `None` otherwise.
    pub async fn create_bootstrap_token(&self) -> AppResult<Option<IssuedToken>> {
        if self.db.read().await?.api_token_count().await? > 0 {
            return Ok(None);
        }
        self.create_token(Role::Admin, "bootstrap admin", &Actor::system()).await.map(Some)
    }

    /// The actor behind a bearer token, or [`AppError::Unauthenticated`].
    pub async fn authenticate_token(&self, token: &str) -> AppResult<Actor> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
            return Err(AppError::Unauthenticated);
        }
        let record = self.db.reader().await?.api_token_by_hash(&sha256_hex(token.as_bytes())).await?;
        let record = record.ok_or(AppError::Unauthenticated)?;
        Ok(Actor { kind: ActorKind::Token, name: record.name, role: record.role, request_id: None })
    }

    /// Creates a dashboard user with a password.
    pub async fn create_user(&self, username: &str, password: &str, role: Role, actor: &Actor) -> AppResult<()> {
        let username = field::code("username", username)?;
        if password.chars().count() < MIN_PASSWORD_LEN {
            return Err(FieldError::new("password", format!("must be at least {MIN_PASSWORD_LEN} characters")).into());
        }
        let password_hash = hash_password(password)?;
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

    /// Checks a user's password and opens a session.
    pub async fn log_in(&self, username: &str, password: &str) -> AppResult<LoggedIn> {
        let user = self.db.read().await?.user_by_username(username.trim()).await?;
        // Verify against a dummy hash when the user is unknown, so timing does not tell
        // which usernames exist.
        let hash = user.as_ref().map_or(DUMMY_HASH, |u| u.password_hash.as_str());
        let verified = verify_password(password, hash);
        let Some(user) = user.filter(|_| verified) else {
            return Err(AppError::Unauthenticated);
        };
        let session_key = random_secret()?;
        let now = self.now();
        let ttl = chrono::Duration::from_std(self.settings.session_ttl).unwrap_or(chrono::Duration::hours(12));
        let expires_at = now + ttl;
        let mut tx = self.db.write().await?;
        tx.insert_session(&sha256_hex(session_key.as_bytes()), user.id, now, expires_at).await?;
        tx.commit().await?;
        Ok(LoggedIn {
            session_key,
            expires_at,
            actor: Actor { kind: ActorKind::User, name: user.username, role: user.role, request_id: None },
        })
    }

    /// The actor behind a session cookie, or [`AppError::Unauthenticated`].
    pub async fn authenticate_session(&self, session_key: &str) -> AppResult<Actor> {
        if session_key.len() != 64 {
            return Err(AppError::Unauthenticated);
        }
        let user = self.db.read().await?.session_user(&sha256_hex(session_key.as_bytes()), self.now()).await?;
        let user = user.ok_or(AppError::Unauthenticated)?;
        Ok(Actor { kind: ActorKind::User, name: user.username, role: user.role, request_id: None })
    }

    pub async fn log_out(&self, session_key: &str) -> AppResult<()> {
        let mut tx = self.db.write().await?;
        tx.delete_session(&sha256_hex(session_key.as_bytes()), self.now()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// An argon2 hash of a password nobody has, for constant-time failure on unknown users.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Mf2kDQRcA9lmiGUqSHNQz0Rn1wuvSlhdvxNmu0UArPM";

fn hash_password(password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| AppError::Storage(ordo_storage::StorageError::Unavailable(e.to_string())))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| FieldError::new("password", e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| FieldError::new("password", e.to_string()).into())
}

fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_themselves() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse battery!", &hash));
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

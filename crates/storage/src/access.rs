//! Users, API tokens and dashboard sessions. Secrets are stored only as hashes.

use chrono::{DateTime, Utc};
use ordo_domain::access::Role;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx};

fn role(text: &str) -> Result<Role, StorageError> {
    text.parse().map_err(|()| StorageError::Corrupt(format!("unknown role {text:?}")))
}

#[derive(Debug, Clone)]
pub struct ApiTokenRecord {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
}

/// The user behind a live dashboard session.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user_id: Uuid,
    pub username: String,
    pub role: Role,
}

impl Tx {
    pub async fn insert_api_token(&mut self, token: &ApiTokenRecord, token_hash: &str) -> Result<(), StorageError> {
        let sql = "INSERT INTO api_tokens (id, name, role, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(token.id)
            .bind(&token.name)
            .bind(token.role.as_str())
            .bind(token_hash)
            .bind(token.created_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The live (not revoked) token with this hash.
    pub async fn api_token_by_hash(&mut self, token_hash: &str) -> Result<Option<ApiTokenRecord>, StorageError> {
        let sql = "SELECT id, name, role, created_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL";
        let row: Option<(Uuid, String, String, DateTime<Utc>)> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(token_hash).fetch_optional(conn).await?);
        row.map(|(id, name, r, created_at)| Ok(ApiTokenRecord { id, name, role: role(&r)?, created_at }))
            .transpose()
    }

    pub async fn api_token_count(&mut self) -> Result<i64, StorageError> {
        let sql = "SELECT COUNT(*) FROM api_tokens";
        Ok(on_engine!(self, |conn| sqlx::query_scalar(sql).fetch_one(conn).await?))
    }

    pub async fn insert_user(&mut self, user: &UserRecord, now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "INSERT INTO users (id, username, password_hash, role, created_at) VALUES ($1, $2, $3, $4, $5)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(user.id)
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(user.role.as_str())
            .bind(now)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    pub async fn user_by_username(&mut self, username: &str) -> Result<Option<UserRecord>, StorageError> {
        let sql = "SELECT id, username, role, password_hash FROM users WHERE username = $1";
        let row: Option<(Uuid, String, String, String)> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(username).fetch_optional(conn).await?);
        row.map(|(id, username, r, password_hash)| Ok(UserRecord { id, username, role: role(&r)?, password_hash }))
            .transpose()
    }

    pub async fn insert_session(
        &mut self,
        token_hash: &str,
        user_id: Uuid,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StorageError> {
        let sql = "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The user of an unexpired session.
    pub async fn session_user(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<SessionUser>, StorageError> {
        let sql = "SELECT u.id, u.username, u.role FROM sessions s JOIN users u ON u.id = s.user_id \
                   WHERE s.token_hash = $1 AND s.expires_at > $2";
        let row: Option<(Uuid, String, String)> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(token_hash).bind(now).fetch_optional(conn).await?);
        row.map(|(user_id, username, r)| Ok(SessionUser { user_id, username, role: role(&r)? })).transpose()
    }

    /// Ends a session; expired sessions of anyone are swept on the way.
    pub async fn delete_session(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2";
        on_engine!(self, |conn| sqlx::query(sql).bind(token_hash).bind(now).execute(conn).await?.rows_affected());
        Ok(())
    }
}

//! Users, API tokens and dashboard sessions. Secrets are stored only as hashes.

use chrono::{DateTime, Utc};
use ordo_domain::access::Role;
use uuid::Uuid;

use crate::{on_engine, StorageError, Tx, TxInner};

type TokenRow = (Uuid, String, String, DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);

fn role(text: &str) -> Result<Role, StorageError> {
    text.parse().map_err(|()| StorageError::Corrupt(format!("unknown role {text:?}")))
}

#[derive(Debug, Clone)]
pub struct ApiTokenRecord {
    pub id: Uuid,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    /// After this the token answers 401; never when none.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A token as the list of tokens shows it.
#[derive(Debug, Clone)]
pub struct TokenListing {
    pub token: ApiTokenRecord,
    /// To the minute: the use that finds it older than a minute moves it.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Failed log-ins of one account or address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailures {
    pub failures: i64,
    pub last_at: DateTime<Utc>,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: Uuid,
    pub username: String,
    pub role: Role,
    pub password_hash: String,
}

/// A dashboard user as the list of users shows them: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListing {
    pub username: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub disabled_at: Option<DateTime<Utc>>,
}

/// The user behind a live dashboard session.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user_id: Uuid,
    pub username: String,
    pub role: Role,
    /// The time zone they read times in; UTC when none.
    pub time_zone: Option<String>,
}

impl Tx {
    /// Sets the time zone `username` reads times in (none: UTC); whether the user exists.
    pub async fn set_user_time_zone(&mut self, username: &str, time_zone: Option<&str>) -> Result<bool, StorageError> {
        let sql = "UPDATE users SET time_zone = $2 WHERE username = $1";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(username).bind(time_zone).execute(conn).await?.rows_affected()) == 1)
    }

    /// Every dashboard user, as [`Tx::users`], for a change that depends on the others (the
    /// last administrator keeps the role): such changes take turns to the end of their
    /// transactions. Read at once, two administrators demoting each other both went through.
    pub async fn users_in_turn(&mut self) -> Result<Vec<UserListing>, StorageError> {
        self.take_turn("ordo users and their roles").await?;
        self.users().await
    }

    /// Every dashboard user, by username.
    pub async fn users(&mut self) -> Result<Vec<UserListing>, StorageError> {
        let sql = "SELECT username, role, created_at, disabled_at FROM users ORDER BY username";
        type Row = (String, String, DateTime<Utc>, Option<DateTime<Utc>>);
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        rows.into_iter()
            .map(|(username, role, created_at, disabled_at)| {
                let role = role.parse().map_err(|()| crate::error::corrupt("a user's role"))?;
                Ok(UserListing { username, role, created_at, disabled_at })
            })
            .collect()
    }

    pub async fn insert_api_token(&mut self, token: &ApiTokenRecord, token_hash: &str) -> Result<(), StorageError> {
        let sql = "INSERT INTO api_tokens (id, name, role, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(token.id)
            .bind(&token.name)
            .bind(token.role.as_str())
            .bind(token_hash)
            .bind(token.created_at)
            .bind(token.expires_at)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// The live token with this hash: neither revoked nor expired at `now`, with when it was
    /// last used.
    pub async fn api_token_by_hash(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<Option<(ApiTokenRecord, Option<DateTime<Utc>>)>, StorageError> {
        let sql = "SELECT id, name, role, created_at, expires_at, last_used_at FROM api_tokens \
                   WHERE token_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)";
        let row: Option<TokenRow> = on_engine!(self, |conn| sqlx::query_as(sql).bind(token_hash).bind(now).fetch_optional(conn).await?);
        row.map(|(id, name, r, created_at, expires_at, last_used_at)| {
            Ok((ApiTokenRecord { id, name, role: role(&r)?, created_at, expires_at }, last_used_at))
        })
        .transpose()
    }

    /// Notes a token's use at `now` unless a use less than a minute ago was noted.
    pub async fn touch_api_token(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "UPDATE api_tokens SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)";
        let before = now - chrono::Duration::minutes(1);
        on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(now).bind(before).execute(conn).await?.rows_affected());
        Ok(())
    }

    /// Every token, newest first, revoked ones too.
    pub async fn api_tokens(&mut self) -> Result<Vec<TokenListing>, StorageError> {
        let sql = "SELECT id, name, role, created_at, expires_at, last_used_at, revoked_at FROM api_tokens ORDER BY created_at DESC, id";
        type Row = (Uuid, String, String, DateTime<Utc>, Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<DateTime<Utc>>);
        let rows: Vec<Row> = on_engine!(self, |conn| sqlx::query_as(sql).fetch_all(conn).await?);
        rows.into_iter()
            .map(|(id, name, r, created_at, expires_at, last_used_at, revoked_at)| {
                Ok(TokenListing { token: ApiTokenRecord { id, name, role: role(&r)?, created_at, expires_at }, last_used_at, revoked_at })
            })
            .collect()
    }

    /// Revokes a live token; `false` when there is no such token or it was revoked before.
    pub async fn revoke_api_token(&mut self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(id).bind(now).execute(conn).await?.rows_affected()) == 1)
    }

    /// Failed log-ins recorded under `key` (`user:NAME` or `address:IP`).
    pub async fn login_failures(&mut self, key: &str) -> Result<Option<LoginFailures>, StorageError> {
        let sql = "SELECT CAST(failures AS BIGINT), last_at, locked_until FROM login_failures WHERE key = $1";
        let row: Option<(i64, DateTime<Utc>, Option<DateTime<Utc>>)> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(key).fetch_optional(conn).await?);
        Ok(row.map(|(failures, last_at, locked_until)| LoginFailures { failures, last_at, locked_until }))
    }

    /// The failed log-ins under `key`, read for an update in this write transaction: on
    /// PostgreSQL the row is locked (made first, with none, so that a first failure is locked
    /// too); SQLite's writer holds every row already. Attempts sent at once are then counted one
    /// after another, each seeing the others' failures.
    pub async fn lock_login_failures(&mut self, key: &str, now: DateTime<Utc>) -> Result<Option<LoginFailures>, StorageError> {
        if let TxInner::Postgres(tx) = &mut self.inner {
            let ensure = "INSERT INTO login_failures (key, failures, last_at) VALUES ($1, 0, $2) ON CONFLICT (key) DO NOTHING";
            sqlx::query(ensure).bind(key).bind(now).execute(&mut **tx).await?;
            sqlx::query("SELECT 1 FROM login_failures WHERE key = $1 FOR UPDATE").bind(key).execute(&mut **tx).await?;
        }
        Ok(self.login_failures(key).await?.filter(|f| f.failures > 0))
    }

    pub async fn set_login_failures(&mut self, key: &str, failures: LoginFailures) -> Result<(), StorageError> {
        let sql = "INSERT INTO login_failures (key, failures, last_at, locked_until) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_at = excluded.last_at, locked_until = excluded.locked_until";
        on_engine!(self, |conn| sqlx::query(sql)
            .bind(key)
            .bind(failures.failures)
            .bind(failures.last_at)
            .bind(failures.locked_until)
            .execute(conn)
            .await?
            .rows_affected());
        Ok(())
    }

    /// Forgets the failures under `key`: a good log-in, or an admin lifting a lockout. `false`
    /// when there were none.
    pub async fn clear_login_failures(&mut self, key: &str) -> Result<bool, StorageError> {
        let sql = "DELETE FROM login_failures WHERE key = $1";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(key).execute(conn).await?.rows_affected()) > 0)
    }

    /// Disables a user (or enables one again) and ends every session they have; `false` when
    /// there is no such user.
    pub async fn set_user_disabled(&mut self, username: &str, disabled: bool, now: DateTime<Utc>) -> Result<bool, StorageError> {
        let sql = "UPDATE users SET disabled_at = CASE WHEN $2 THEN $3 ELSE NULL END WHERE username = $1";
        let found = on_engine!(self, |conn| sqlx::query(sql).bind(username).bind(disabled).bind(now).execute(conn).await?.rows_affected()) == 1;
        self.end_sessions(username).await?;
        Ok(found)
    }

    /// Gives a user another role; `false` when there is no such user. Their sessions carry on
    /// with the new role, which each request reads afresh.
    pub async fn set_user_role(&mut self, username: &str, role: &str) -> Result<bool, StorageError> {
        let sql = "UPDATE users SET role = $2 WHERE username = $1";
        Ok(on_engine!(self, |conn| sqlx::query(sql).bind(username).bind(role).execute(conn).await?.rows_affected()) == 1)
    }

    /// Sets a user's password and ends every session they have; `false` when there is no such user.
    pub async fn set_password(&mut self, username: &str, password_hash: &str) -> Result<bool, StorageError> {
        let sql = "UPDATE users SET password_hash = $2 WHERE username = $1";
        let found = on_engine!(self, |conn| sqlx::query(sql).bind(username).bind(password_hash).execute(conn).await?.rows_affected()) == 1;
        self.end_sessions(username).await?;
        Ok(found)
    }

    async fn end_sessions(&mut self, username: &str) -> Result<(), StorageError> {
        let sql = "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE username = $1)";
        on_engine!(self, |conn| sqlx::query(sql).bind(username).execute(conn).await?.rows_affected());
        Ok(())
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

    /// The user with this name, unless disabled.
    pub async fn user_by_username(&mut self, username: &str) -> Result<Option<UserRecord>, StorageError> {
        let sql = "SELECT id, username, role, password_hash FROM users WHERE username = $1 AND disabled_at IS NULL";
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
        let sql = "SELECT u.id, u.username, u.role, u.time_zone FROM sessions s JOIN users u ON u.id = s.user_id \
                   WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.disabled_at IS NULL";
        let row: Option<(Uuid, String, String, Option<String>)> =
            on_engine!(self, |conn| sqlx::query_as(sql).bind(token_hash).bind(now).fetch_optional(conn).await?);
        row.map(|(user_id, username, r, time_zone)| Ok(SessionUser { user_id, username, role: role(&r)?, time_zone })).transpose()
    }

    /// Ends a session; expired sessions of anyone are swept on the way.
    pub async fn delete_session(&mut self, token_hash: &str, now: DateTime<Utc>) -> Result<(), StorageError> {
        let sql = "DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2";
        on_engine!(self, |conn| sqlx::query(sql).bind(token_hash).bind(now).execute(conn).await?.rows_affected());
        Ok(())
    }
}

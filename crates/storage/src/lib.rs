//! Ordo's storage: one interface over SQLite and PostgreSQL.
//!
//! The application opens a [`Db`], starts a [`Tx`] for each use case and calls the queries
//! defined on it; it never sees SQL or which engine runs it. The SQL text is shared wherever
//! the two engines agree; where they do not, [`on_engine!`] arms stand side by side so the
//! difference is visible. Both migration sets are embedded in the binary.

mod access;
mod anomalies;
mod audit;
mod backup;
mod changes;
mod channels;
mod confirmations;
mod error;
mod inventory;
mod kits;
mod kpis;
mod ledger;
mod master;
mod names;
mod exceptions;
mod helpdesk;
mod orders;
mod procurement;
mod outbox;
mod replay;
mod reservations;
mod returns;
mod rules;
mod settlements;
mod shipments;
mod stock_sync;
mod waves;
mod workload;
#[cfg(feature = "testing")]
pub mod testing;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::pool::PoolConnection;
use sqlx::{Postgres, Sqlite, Transaction};
use tokio::sync::{Mutex, OwnedMutexGuard};

pub use backup::{Inventory, EXPORT_HEADER};
pub use access::{ApiTokenRecord, LoginFailures, SessionUser, TokenListing, UserListing, UserRecord};
pub use audit::AuditQuery;
pub use confirmations::{ClaimedConfirmation, ConfirmationKind, ConfirmationStats};
pub use channels::{ConnectorRecord, CursorRecord, Delivery, DeliveryEnd, Finished, InboxStats, NewDelivery, OrderVersion};
pub use exceptions::ExceptionQuery;
pub use stock_sync::{PushHour, StockMark, StockPushed, StockSyncStats};
pub use helpdesk::{AttachmentContent, TicketQuery};
pub use replay::{ReplayLine, ReplayOrder};
pub use rules::NewRuleVersion;
pub use kits::BackorderedLine;
pub use anomalies::{CancellationsBy, LocationDay, WriteOff};
pub use kpis::{DayFlow, ExceptionDay, QueueSizes, UnresolvedKind};
pub use names::NamedKind;
pub use error::StorageError;
pub use master::{MasterDataCounts, ProductPage, ProductQuery, ALL_TABLES};
pub use outbox::{ClaimedMessage, DeliveryAttempt, EndpointRecord, NewMessage, OutboxMessage, OutboxQuery};
pub use procurement::{BillRecord, ImportedDay, OpenOrderValue, PoLineRecord, PromotionRecord, ProposalRecord, PurchaseOrderRecord, SkuDay, SupplierSku};
pub use orders::{KnownOrder, NewEvent, NewLineRecord, NewOrderRecord, OrderAllocations, OrderChange, OrderQuery, OrderSummary, Timeline, UnshippedOrder};
pub use returns::{ClaimRecord, RefundLineRecord, RefundRecord, ReturnLineRecord, ReturnRecord, ReturnStep, ReturnedUnits};
pub use reservations::{NewBackorder, RoutingSites, StockUnits, WaitingLine};
pub use settlements::{SettlementLine, SettlementLineRecord, SettlementRecord, SettlementSummary};
pub use waves::PickableLine;

/// Runs `$body` with `$conn` bound to the engine's connection; the same text compiles once per
/// engine. Use it only where the SQL is the same on both; otherwise match on the variants.
macro_rules! on_engine {
    ($tx:expr, |$conn:ident| $body:expr) => {
        match &mut $tx.inner {
            $crate::TxInner::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::TxInner::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}
pub(crate) use on_engine;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a [`Db`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// How SQLite waits for the disk on commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteDurability {
    /// `synchronous=FULL`: a commit survives power loss. The default.
    #[default]
    Full,
    /// `synchronous=NORMAL`: in WAL mode a commit survives a crash of Ordo but may be lost
    /// with the last few transactions on power loss; faster on slow disks.
    Normal,
}

/// Settings for opening a database; the defaults are right for most.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    pub sqlite_durability: SqliteDurability,
    /// How long a SQLite writer waits for the write lock before giving up.
    pub busy_timeout: Duration,
    pub max_connections: u32,
    /// The most pages a SQLite file may grow to: what a full disk looks like to SQLite, for
    /// tests of that case. None in production.
    pub sqlite_max_pages: Option<u32>,
}

impl Default for StorageOptions {
    fn default() -> Self {
        Self { sqlite_durability: SqliteDurability::Full, busy_timeout: Duration::from_secs(5), max_connections: 10, sqlite_max_pages: None }
    }
}

/// How many prepared statements each connection keeps. A multi-row statement has one text per
/// row count, so intake alone uses a few hundred; sqlx's default of 100 prepared them again and
/// again.
const STATEMENT_CACHE: usize = 1024;

/// An open database on either engine.
#[derive(Debug, Clone)]
pub enum Db {
    /// The pool readers share, the writer, and the audit chain's key.
    Sqlite(SqlitePool, SqliteWriter, AuditKey),
    Postgres(PgPool, AuditKey),
}

/// The key audit records are hashed with, from the configuration; none for a plain chain.
pub type AuditKey = Option<Arc<ordo_domain::audit::ChainKey>>;

/// SQLite admits one writer at a time. Its own connection means a writer never waits for
/// readers to hand back a pooled one; the turn every writer of this process waits for queues
/// them in order, far kinder to latency than SQLite's busy handler polling with sleeps.
/// Writers that can wait queue in a line before the turn, one of them at the turn at a time,
/// so one that cannot wait ([`Db::write_first`]) finds at most the writer in progress ahead.
#[derive(Debug, Clone)]
pub struct SqliteWriter {
    connection: SqlitePool,
    turn: Arc<Mutex<()>>,
    line: Arc<Mutex<()>>,
}

impl SqliteWriter {
    async fn begin(&self, audit_key: AuditKey, first: bool) -> Result<Tx, StorageError> {
        // The place in the line is held until the transaction ends: the next in line waits
        // there, not at the turn.
        let line = if first { None } else { Some(self.line.clone().lock_owned().await) };
        let turn = WriterTurn { _turn: self.turn.clone().lock_owned().await, _line: line };
        let tx = match self.connection.begin_with("BEGIN IMMEDIATE").await {
            Ok(tx) => tx,
            // SQLite ends a transaction by itself on some errors (a full disk); the driver then
            // still counts it open and will not begin another. A fresh connection starts clean.
            Err(error) if error.to_string().contains("transaction depth") => {
                tracing::warn!(%error, "the SQLite writer's connection is replaced");
                let mut stale = self.connection.acquire().await?;
                stale.close_on_drop();
                drop(stale);
                self.connection.begin_with("BEGIN IMMEDIATE").await?
            }
            Err(error) => return Err(error.into()),
        };
        Ok(Tx { inner: TxInner::Sqlite(Conn::Transaction(tx)), _writer_turn: Some(turn), audit_key })
    }
}

/// A SQLite write transaction's turn, and its place in the line when it had to queue there.
struct WriterTurn {
    _turn: OwnedMutexGuard<()>,
    _line: Option<OwnedMutexGuard<()>>,
}

/// A transaction on either engine. Dropped without [`Tx::commit`], it rolls back.
pub struct Tx {
    pub(crate) inner: TxInner,
    /// Held by a SQLite write transaction until it ends.
    _writer_turn: Option<WriterTurn>,
    /// What new audit records are hashed with.
    pub(crate) audit_key: AuditKey,
}

pub(crate) enum TxInner {
    Sqlite(Conn<Sqlite>),
    Postgres(Conn<Postgres>),
}

/// A transaction, or a pooled connection whose statements each see the latest commit.
pub(crate) enum Conn<DB: sqlx::Database> {
    Transaction(Transaction<'static, DB>),
    Plain(PoolConnection<DB>),
}

impl<DB: sqlx::Database> std::ops::Deref for Conn<DB> {
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match self {
            Conn::Transaction(tx) => tx,
            Conn::Plain(connection) => connection,
        }
    }
}

impl<DB: sqlx::Database> std::ops::DerefMut for Conn<DB> {
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match self {
            Conn::Transaction(tx) => tx,
            Conn::Plain(connection) => connection,
        }
    }
}

impl<DB: sqlx::Database> Conn<DB> {
    async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Conn::Transaction(tx) => tx.commit().await,
            Conn::Plain(_) => Ok(()),
        }
    }
}

impl Db {
    /// Opens `url` (`sqlite://PATH` or `postgres://…`), creating a missing SQLite file.
    /// Migrations are not run here: call [`Db::migrate`].
    pub async fn open(url: &str, options: &StorageOptions) -> Result<Db, StorageError> {
        Self::open_with(url, options, true).await
    }

    /// Opens a database that was initialised before: a missing SQLite file, or a database
    /// without Ordo's schema, is refused rather than created (a mistyped path must not
    /// become an empty shop).
    pub async fn open_initialised(url: &str, options: &StorageOptions) -> Result<Db, StorageError> {
        let never = || {
            StorageError::Uninitialised(format!(
                "the database {} was never initialised: run `ordo init --database URL` first",
                redact(url)
            ))
        };
        let db = Self::open_with(url, options, false).await.map_err(|e| match e {
            StorageError::Unavailable(message) if message.contains("unable to open database file") => never(),
            other => other,
        })?;
        let sql = "SELECT COUNT(*) FROM _sqlx_migrations";
        let migrated = match &db {
            Db::Sqlite(pool, ..) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await,
            Db::Postgres(pool, _) => sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await,
        };
        match migrated {
            Ok(n) if n > 0 => Ok(db),
            _ => {
                db.close().await;
                Err(never())
            }
        }
    }

    async fn open_with(url: &str, options: &StorageOptions, create: bool) -> Result<Db, StorageError> {
        let unavailable = |e: sqlx::Error| StorageError::Unavailable(format!("cannot open {}: {e}", redact(url)));
        if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(unavailable)?
                .create_if_missing(create)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(options.busy_timeout)
                .statement_cache_capacity(STATEMENT_CACHE)
                .synchronous(match options.sqlite_durability {
                    SqliteDurability::Full => SqliteSynchronous::Full,
                    SqliteDurability::Normal => SqliteSynchronous::Normal,
                });
            let connect = match options.sqlite_max_pages {
                Some(pages) => connect.pragma("max_page_count", pages.to_string()),
                None => connect,
            };
            // A pooled connection is not pinged before each use: that round trip cost as much
            // as the statement it preceded. A broken connection fails its statement instead,
            // and the pool drops it.
            let pool = SqlitePoolOptions::new()
                .max_connections(options.max_connections)
                .test_before_acquire(false)
                .connect_with(connect.clone())
                .await
                .map_err(unavailable)?;
            let connection = SqlitePoolOptions::new()
                .min_connections(1)
                .max_connections(1)
                .test_before_acquire(false)
                .connect_with(connect)
                .await
                .map_err(unavailable)?;
            Ok(Db::Sqlite(pool, SqliteWriter { connection, turn: Arc::new(Mutex::new(())), line: Arc::new(Mutex::new(())) }, None))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url).map_err(unavailable)?.statement_cache_capacity(STATEMENT_CACHE);
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(connect)
                .await
                .map_err(unavailable)?;
            Ok(Db::Postgres(pool, None))
        } else {
            Err(StorageError::Unavailable(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                redact(url)
            )))
        }
    }

    /// The same database, hashing new audit records with `key`.
    pub fn with_audit_key(self, key: AuditKey) -> Db {
        match self {
            Db::Sqlite(pool, writer, _) => Db::Sqlite(pool, writer, key),
            Db::Postgres(pool, _) => Db::Postgres(pool, key),
        }
    }

    pub fn audit_key(&self) -> AuditKey {
        match self {
            Db::Sqlite(_, _, key) | Db::Postgres(_, key) => key.clone(),
        }
    }

    pub fn engine(&self) -> Engine {
        match self {
            Db::Sqlite(..) => Engine::Sqlite,
            Db::Postgres(..) => Engine::Postgres,
        }
    }

    /// Brings the schema up to date. Safe to run on every start.
    pub async fn migrate(&self) -> Result<(), StorageError> {
        match self {
            Db::Sqlite(pool, ..) => SQLITE_MIGRATIONS.run(pool).await?,
            Db::Postgres(pool, _) => POSTGRES_MIGRATIONS.run(pool).await?,
        }
        Ok(())
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`), so two writers queue on the busy timeout instead of failing
    /// with "database is locked" halfway through.
    pub async fn write(&self) -> Result<Tx, StorageError> {
        self.begin_write(false).await
    }

    /// [`Db::write`] for a short write someone waits on with a deadline (a channel's webhook,
    /// answered only once it is kept): on SQLite it goes ahead of the writers queued.
    pub async fn write_first(&self) -> Result<Tx, StorageError> {
        self.begin_write(true).await
    }

    async fn begin_write(&self, first: bool) -> Result<Tx, StorageError> {
        Ok(match self {
            Db::Sqlite(_, writer, key) => writer.begin(key.clone(), first).await?,
            Db::Postgres(pool, key) => {
                Tx { inner: TxInner::Postgres(Conn::Transaction(pool.begin().await?)), _writer_turn: None, audit_key: key.clone() }
            }
        })
    }

    /// Starts a transaction that only reads: a consistent snapshot, no write lock.
    pub async fn read(&self) -> Result<Tx, StorageError> {
        let inner = match self {
            Db::Sqlite(pool, ..) => TxInner::Sqlite(Conn::Transaction(pool.begin().await?)),
            Db::Postgres(pool, _) => TxInner::Postgres(Conn::Transaction(pool.begin().await?)),
        };
        Ok(Tx { inner, _writer_turn: None, audit_key: self.audit_key() })
    }

    /// A connection for reads that need no common snapshot: each statement sees what is
    /// committed when it runs. Cheaper than [`Db::read`] for a lookup or two: no BEGIN, no
    /// ROLLBACK. Only for reading; [`Tx::commit`] on it does nothing.
    pub async fn reader(&self) -> Result<Tx, StorageError> {
        let inner = match self {
            Db::Sqlite(pool, ..) => TxInner::Sqlite(Conn::Plain(pool.acquire().await?)),
            Db::Postgres(pool, _) => TxInner::Postgres(Conn::Plain(pool.acquire().await?)),
        };
        Ok(Tx { inner, _writer_turn: None, audit_key: self.audit_key() })
    }

    /// Whether the database answers: for `/healthz`.
    pub async fn ping(&self) -> Result<(), StorageError> {
        match self {
            Db::Sqlite(pool, ..) => sqlx::query("SELECT 1").execute(pool).await?.rows_affected(),
            Db::Postgres(pool, _) => sqlx::query("SELECT 1").execute(pool).await?.rows_affected(),
        };
        Ok(())
    }

    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool, writer, _) => {
                writer.connection.close().await;
                pool.close().await;
            }
            Db::Postgres(pool, _) => pool.close().await,
        }
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), StorageError> {
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await?,
            TxInner::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub fn engine(&self) -> Engine {
        match self.inner {
            TxInner::Sqlite(_) => Engine::Sqlite,
            TxInner::Postgres(_) => Engine::Postgres,
        }
    }

    /// Waits until no other transaction holds the turn named `key`, and holds it to this
    /// transaction's end: on PostgreSQL, for what a row lock cannot guard, a number or a name
    /// not yet written (the next purchase order number, a new code). SQLite's one writer takes
    /// turns already.
    pub(crate) async fn take_turn(&mut self, key: &str) -> Result<(), StorageError> {
        if let TxInner::Postgres(tx) = &mut self.inner {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(key).execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// SQL for the UTC day (`YYYY-MM-DD`) of a timestamp column, to group by day. SQLite keeps
    /// times as RFC 3339 text in UTC, so the day is its first ten characters.
    pub(crate) fn utc_day(&self, column: &str) -> String {
        match self.engine() {
            Engine::Sqlite => format!("substr({column}, 1, 10)"),
            Engine::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"),
        }
    }

    /// SQL for the UTC hour (`YYYY-MM-DDTHH`) of a timestamp column, to group by hour: on
    /// SQLite the first thirteen characters of its RFC 3339 text, as for [`Tx::utc_day`].
    pub(crate) fn utc_hour(&self, column: &str) -> String {
        match self.engine() {
            Engine::Sqlite => format!("substr({column}, 1, 13)"),
            Engine::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24')"),
        }
    }
}

/// `$1, $2, …` (or `?, ?, …` on SQLite) for `n` parameters, as an `IN (…)` list takes them.
pub(crate) fn placeholders(engine: Engine, n: usize) -> String {
    match engine {
        Engine::Sqlite => vec!["?"; n].join(", "),
        Engine::Postgres => (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", "),
    }
}

/// `VALUES (…), (…), …` with `rows` rows of `width` parameters, bound in order: one statement
/// for many rows, whose only parameters these must be. SQLite gets anonymous `?` parameters,
/// which it binds in constant time; numbered ones it looks up one by one.
pub(crate) fn values(engine: Engine, rows: usize, width: usize) -> String {
    let row = |r: usize| match engine {
        Engine::Sqlite => format!("({})", vec!["?"; width].join(", ")),
        Engine::Postgres => format!("({})", (1..=width).map(|c| format!("${}", r * width + c)).collect::<Vec<_>>().join(", ")),
    };
    format!("VALUES {}", (0..rows).map(row).collect::<Vec<_>>().join(", "))
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn many_rows_bind_their_parameters_in_order() {
        assert_eq!(super::values(super::Engine::Postgres, 2, 3), "VALUES ($1, $2, $3), ($4, $5, $6)");
        assert_eq!(super::values(super::Engine::Sqlite, 2, 2), "VALUES (?, ?), (?, ?)");
    }

    #[test]
    fn redact_hides_only_the_password() {
        assert_eq!(super::redact("postgres://ordo:secret@db:5432/ordo"), "postgres://ordo:***@db:5432/ordo");
        assert_eq!(super::redact("postgres://ordo@db/ordo"), "postgres://ordo@db/ordo");
        assert_eq!(super::redact("sqlite://ordo.db"), "sqlite://ordo.db");
    }
}

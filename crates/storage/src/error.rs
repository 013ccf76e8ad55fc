//! What can go wrong below the application: the caller decides what each means to a user.

/// A storage failure. Constraint violations are told apart so the application can turn
/// them into field errors; everything else is an internal error to log, not to show.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database could not be opened or reached.
    #[error("{0}")]
    Unavailable(String),
    /// The disk under the database is full: the write was refused whole.
    #[error("the database's disk is full: {0}")]
    Full(String),
    /// The database exists (or was named) but Ordo never initialised it.
    #[error("{0}")]
    Uninitialised(String),
    /// A unique key already holds this value; `constraint` names the table and column(s).
    #[error("duplicate value violates {constraint}")]
    Duplicate { constraint: String },
    /// Another transaction held what this one needed, and the database gave up on this one
    /// (PostgreSQL's deadlock or serialization failure): nothing was written, and the same
    /// request may succeed when tried again.
    #[error("contended: {0}")]
    Contended(String),
    /// A referenced row does not exist.
    #[error("missing referenced row ({constraint})")]
    MissingReference { constraint: String },
    /// A CHECK constraint refused the write: a rule the code should have enforced first.
    #[error("check constraint refused the write ({constraint})")]
    CheckViolated { constraint: String },
    /// A stored value that Ordo cannot read back, such as an unknown currency code.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StorageError {
    fn from(error: sqlx::Error) -> Self {
        let Some(db) = error.as_database_error() else {
            // The database went away (a restart, the network): the caller may try again soon.
            return match error {
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => {
                    StorageError::Unavailable(format!("the database cannot be reached: {error}"))
                }
                other => StorageError::Database(other),
            };
        };
        // SQLITE_FULL (13); PostgreSQL's disk_full (53100).
        if db.code().is_some_and(|code| code == "13" || code == "53100") {
            return StorageError::Full(db.message().to_owned());
        }
        // PostgreSQL shutting down or starting up (57P01 admin_shutdown, 57P03 cannot_connect_now).
        if db.code().is_some_and(|code| code.starts_with("57P") || code.starts_with("08")) {
            return StorageError::Unavailable(format!("the database cannot be reached: {}", db.message()));
        }
        // PostgreSQL's deadlock_detected (40P01) and serialization_failure (40001).
        if db.code().is_some_and(|code| code == "40P01" || code == "40001") {
            return StorageError::Contended(db.message().to_owned());
        }
        // PostgreSQL names the constraint; SQLite puts "table.column" in the message.
        let constraint = db.constraint().map(str::to_owned).unwrap_or_else(|| {
            db.message().rsplit(": ").next().unwrap_or_default().to_owned()
        });
        match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation => StorageError::Duplicate { constraint },
            sqlx::error::ErrorKind::ForeignKeyViolation => StorageError::MissingReference { constraint },
            sqlx::error::ErrorKind::CheckViolation => StorageError::CheckViolated { constraint },
            _ => StorageError::Database(error),
        }
    }
}

impl StorageError {
    pub fn is_duplicate(&self) -> bool {
        matches!(self, StorageError::Duplicate { .. })
    }

    /// Whether trying again later may succeed: the database was away, its disk full, or
    /// another transaction in the way.
    pub fn is_transient(&self) -> bool {
        matches!(self, StorageError::Unavailable(_) | StorageError::Full(_) | StorageError::Contended(_))
    }
}

/// A stored value or state that breaks a rule the code keeps: a bug, not bad input.
pub(crate) fn corrupt(what: &str) -> StorageError {
    StorageError::Corrupt(what.to_owned())
}

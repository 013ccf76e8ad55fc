//! What can go wrong below the application: the caller decides what each means to a user.

/// A storage failure. Constraint violations are told apart so the application can turn
/// them into field errors; everything else is an internal error to log, not to show.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database could not be opened or reached.
    #[error("{0}")]
    Unavailable(String),
    /// The database exists (or was named) but Ordo never initialised it.
    #[error("{0}")]
    Uninitialised(String),
    /// A unique key already holds this value; `constraint` names the table and column(s).
    #[error("duplicate value violates {constraint}")]
    Duplicate { constraint: String },
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
            return StorageError::Database(error);
        };
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
}

/// A stored value or state that breaks a rule the code keeps: a bug, not bad input.
pub(crate) fn corrupt(what: &str) -> StorageError {
    StorageError::Corrupt(what.to_owned())
}

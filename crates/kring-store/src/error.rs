//! Storage errors. Messages never contain resource contents.

/// What went wrong in the storage layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer created the same resource or version first.
    #[error("another request changed this resource at the same time")]
    Conflict,
    /// The database is busy or unreachable; the caller may retry.
    #[error("the database is temporarily unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Database(String),
    #[error("schema migration failed: {0}")]
    Migration(String),
}

impl StoreError {
    /// A write whose access-log entries could not be written: nothing was committed.
    pub fn not_logged() -> Self {
        StoreError::Unavailable(
            "the access log did not take this write's entries; nothing was committed".into(),
        )
    }
}

//! Gatehouse storage: the domain's store traits on SQLite and PostgreSQL.
//!
//! [`Store`] is an enum over a native `SqlitePool` and `PgPool`, chosen by the database URL at
//! start-up. Each query is one SQL string with `$N` placeholders that both dialects accept,
//! dispatched by `with_pool!`; a per-backend constant appears only where the dialects differ.
//! One trait method is one transaction.

mod audit;
mod bff;
mod code;
mod consent;
mod courier;
mod flow;
mod grant;
mod identity;
mod ip_ban;
mod keys;
mod migrations;
mod oauth;
mod pending;
mod refresh;
mod scope;
mod session;
mod social;
mod system;
mod tenant;
mod throttle;
mod ts;
mod webhook;

pub use migrations::MigrationStatus;
pub use tenant::TENANT_OWNED_TABLES;
pub use ts::Ts;

use gatehouse_domain::store::StoreError;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// A connection pool to one of the supported databases.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the native pool of whichever backend `$store` is.
macro_rules! with_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match $store {
            $crate::Store::Sqlite($pool) => $body,
            $crate::Store::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// Inside the transaction `$tx`: writes the row of the identity `$owner` first (PostgreSQL locks
/// it, SQLite takes its write lock, so the count read next cannot go stale before the commit),
/// then counts what it owns with `$count_sql` (its one parameter is the owner). Returns
/// `NotFound` from the enclosing function when the identity is gone. For limits per owner that
/// concurrent requests must not pass.
macro_rules! count_owned_locked {
    ($tx:expr, $owner:expr, $count_sql:expr) => {{
        let owner_exists =
            sqlx::query("UPDATE identities SET updated_at = updated_at WHERE id = $1")
                .bind($owner)
                .execute(&mut *$tx)
                .await
                .map_err($crate::store_error)?
                .rows_affected();
        if owner_exists == 0 {
            return Err(gatehouse_domain::store::StoreError::NotFound);
        }
        let owned: i64 = sqlx::query_scalar($count_sql)
            .bind($owner)
            .fetch_one(&mut *$tx)
            .await
            .map_err($crate::store_error)?;
        owned
    }};
}
pub(crate) use count_owned_locked;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("database URL must start with sqlite:// or postgres:// (got {0:?})")]
    UnsupportedUrl(String),
    #[error("cannot open the database: {0}")]
    Open(#[source] sqlx::Error),
    #[error("cannot apply migrations: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Pool sizes and timeouts.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl Store {
    /// Opens the database named by `url`; a SQLite file is created on first start.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Self, ConnectError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(ConnectError::Open)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5))
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(ConnectError::Open)?;
            Ok(Store::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).map_err(ConnectError::Open)?;
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .connect_with(options)
                .await
                .map_err(ConnectError::Open)?;
            Ok(Store::Postgres(pool))
        } else {
            Err(ConnectError::UnsupportedUrl(
                url.split(':').next().unwrap_or_default().to_owned(),
            ))
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        with_pool!(self, |pool| pool.close().await);
    }
}

/// Creates an empty PostgreSQL database `name` on the server `base_url` points at, and returns
/// the URL of the new database (same credentials and options). Used to give each test, or each
/// environment, a database of its own.
pub async fn create_postgres_database(base_url: &str, name: &str) -> Result<String, ConnectError> {
    use sqlx::migrate::MigrateDatabase;
    if name.is_empty()
        || name.len() > 63
        || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        return Err(ConnectError::UnsupportedUrl(format!(
            "database name {name:?}"
        )));
    }
    let (head, query) = base_url
        .split_once('?')
        .map_or((base_url, None), |(h, q)| (h, Some(q)));
    let authority_start = head.find("://").map_or(0, |i| i + 3);
    let server = match head[authority_start..].find('/') {
        Some(slash) => &head[..authority_start + slash],
        None => head,
    };
    let url = match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    };
    sqlx::Postgres::create_database(&url)
        .await
        .map_err(ConnectError::Open)?;
    Ok(url)
}

/// Maps a driver error to the store's reasons. A foreign key violation means a row refers to
/// one that is not there (its tenant or identity was deleted meanwhile, or never existed): the
/// caller hears `NotFound`, not a database failure.
pub(crate) fn store_error(err: sqlx::Error) -> StoreError {
    match err {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => StoreError::NotFound,
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict {
            constraint: db.constraint().unwrap_or("unique").to_owned(),
        },
        other => StoreError::Backend(Box::new(other)),
    }
}

/// A stored value that does not decode into the domain type.
pub(crate) fn corrupt(what: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("stored {what} cannot be read: {err}").into())
}

//! Storage: PostgreSQL in production, SQLite as the embedded default.
//!
//! Both backends run the same SQL (written to the common subset: `$N`
//! placeholders, `ON CONFLICT`, `RETURNING`), each with its own migration
//! folder. [`on_db!`] expands one body for each pool type, so the code is
//! written once and type-checked against both drivers.

pub mod schema;

use crate::settings::{redact_url, Secret};
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `$body` with `$pool` bound to whichever pool `$db` holds.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::storage::Db::Sqlite($pool) => $body,
            $crate::storage::Db::Postgres($pool) => $body,
        }
    };
}

/// A transaction that is going to write.
///
/// On SQLite it starts with `BEGIN IMMEDIATE`, which takes the write lock
/// up front and waits for it under the busy timeout. A plain (deferred)
/// `BEGIN` whose first statement reads takes a read snapshot; when another
/// connection (the runner's heartbeat, a concurrent job) writes meanwhile,
/// the later upgrade to a write fails at once with "database is locked" —
/// the busy timeout does not apply to a stale snapshot. `news_crawl` hit
/// exactly this: an article stored, its links' transaction refused, and
/// the retry skipped the article as known, so its links were lost.
/// PostgreSQL needs nothing special.
pub trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>
           + Send;
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>
           + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>>
           + Send {
        self.begin()
    }
}

#[derive(Clone, Debug)]
pub struct Storage {
    pub db: Db,
    /// The URL with its password masked, for messages.
    pub display: String,
    /// For SQLite, the database file.
    pub sqlite_path: Option<PathBuf>,
}

impl Storage {
    /// Connects (creating a SQLite file and its folder if needed) without
    /// migrating.
    pub async fn connect(url: &Secret) -> anyhow::Result<Storage> {
        let raw = url.expose();
        let display = redact_url(raw);
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .connect(raw)
                .await
                .with_context(|| format!("cannot connect to PostgreSQL at {display}"))?;
            return Ok(Storage {
                db: Db::Postgres(pool),
                display,
                sqlite_path: None,
            });
        }
        if raw.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(raw)
                .with_context(|| format!("bad SQLite URL {display}"))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(15));
            let path = opts.get_filename().to_path_buf();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
            }
            // SQLite serialises writers anyway; two connections (each with a
            // worker thread and a page cache) keep the daemon small.
            let opts = opts.pragma("cache_size", "-512");
            let pool = SqlitePoolOptions::new()
                .max_connections(2)
                .connect_with(opts)
                .await
                .with_context(|| format!("cannot open SQLite database {display}"))?;
            return Ok(Storage {
                db: Db::Sqlite(pool),
                display,
                sqlite_path: Some(path),
            });
        }
        anyhow::bail!("unsupported database URL {display}: use sqlite://PATH or postgres://...")
    }

    /// Connects and applies pending migrations.
    pub async fn open(url: &Secret) -> anyhow::Result<Storage> {
        let storage = Self::connect(url).await?;
        storage.migrate().await?;
        Ok(storage)
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        // PostgreSQL migrations take an advisory lock; SQLite's do not, so
        // two processes starting on one fresh file (a daemon and a `tickerd
        // run`) both saw a migration pending and the second failed with
        // "table already exists". An exclusive lock file serialises them;
        // the second then finds nothing pending.
        let _guard = match &self.sqlite_path {
            Some(path) => Some(migration_lock(path).await?),
            None => None,
        };
        match &self.db {
            Db::Sqlite(pool) => sqlx::migrate!("./migrations/sqlite").run(pool).await,
            Db::Postgres(pool) => sqlx::migrate!("./migrations/postgres").run(pool).await,
        }
        .with_context(|| format!("migrating {}", self.display))
    }

    /// Migrations known to this binary that the database has not applied.
    pub async fn pending_migrations(&self) -> anyhow::Result<Vec<String>> {
        let migrator = match &self.db {
            Db::Sqlite(_) => sqlx::migrate!("./migrations/sqlite"),
            Db::Postgres(_) => sqlx::migrate!("./migrations/postgres"),
        };
        // No version table yet means nothing is applied.
        let applied: Vec<i64> = on_db!(&self.db, pool => {
            sqlx::query_scalar::<_, i64>("SELECT version FROM _sqlx_migrations WHERE success")
                .fetch_all(pool)
                .await
                .unwrap_or_default()
        });
        Ok(migrator
            .iter()
            .filter(|m| !applied.contains(&m.version))
            .map(|m| format!("{} {}", m.version, m.description))
            .collect())
    }

    pub fn backend(&self) -> Backend {
        match self.db {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// The database's clock. Leases and heartbeats compare times from here
    /// only, never across hosts' clocks. (SQLite is local: the host clock.)
    pub async fn now(&self) -> anyhow::Result<DateTime<Utc>> {
        match &self.db {
            Db::Sqlite(_) => Ok(Utc::now()),
            Db::Postgres(pool) => Ok(sqlx::query_scalar("SELECT clock_timestamp()")
                .fetch_one(pool)
                .await?),
        }
    }

    pub async fn close(&self) {
        on_db!(&self.db, pool => pool.close().await)
    }
}

/// `$first, $first+1, …` (n of them): the parameter list of an `IN (…)`
/// over a chunk of ids, the same on both backends.
pub fn placeholders(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Waits for an exclusive `flock` on `DB.migrate-lock`; released when the
/// returned file is dropped.
async fn migration_lock(db: &std::path::Path) -> anyhow::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    let mut name = db.as_os_str().to_owned();
    name.push(".migrate-lock");
    let path = PathBuf::from(name);
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    tokio::task::spawn_blocking(move || {
        // SAFETY: the descriptor is valid for the file's lifetime.
        let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if r == 0 {
            Ok(file)
        } else {
            Err(std::io::Error::last_os_error())
        }
    })
    .await?
    .with_context(|| format!("locking {}", path.display()))
}

//! The database: SQLite (the default, one file) or PostgreSQL (for several
//! replicas), chosen by the URL scheme and used through one `AnyPool`, so one
//! set of queries serves both. Queries use `$1` placeholders, which both
//! backends accept.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, ConnectOptions};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// The SHA-384 of migration 0006 as it was edited after being committed
/// (see `Db::accept_edited_0006`), per backend.
const EDITED_0006_SQLITE: &str = "ab8180f25cc5ba276123d680b871085d7a25b70292adda098d09d952eace5686b7ea3ecb04702b2267c91d0f02723216";
const EDITED_0006_POSTGRES: &str = "fbad438bddb9418d078e33f085e3c3e53cce05ba368298d43fb88ee218bb9841a70695a0a32fa58b6bfebe85330f074d";

/// The migrations of `backend`, as embedded in the binary.
pub fn migrator(backend: Backend) -> &'static Migrator {
    match backend {
        Backend::Sqlite => &SQLITE_MIGRATIONS,
        Backend::Postgres => &POSTGRES_MIGRATIONS,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot create the directory {path} for the database: {source}")]
    CreateDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot connect to the database: {0}")]
    Connect(sqlx::Error),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// A connection pool and the backend behind it.
#[derive(Debug, Clone)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
    /// The URL connected to, for connections outside the pool (`LISTEN`).
    url: String,
}

impl Db {
    /// Connects to `url`. For SQLite the file (and its directory) is created
    /// when missing, and every connection runs in WAL mode with foreign keys
    /// on and a busy timeout, so concurrent readers never see `SQLITE_BUSY`.
    pub async fn connect(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(DbError::UnsupportedUrl(redact(url)));
        };

        let url = match backend {
            Backend::Sqlite => prepare_sqlite_url(url)?,
            Backend::Postgres => url.to_string(),
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(DbError::Connect)?
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));

        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // FULL: each commit is on disk before it is
                        // acknowledged (SPEC §4.2), even through a power
                        // loss; group commit (`write`) shares that fsync
                        // between concurrent writes. Temporary storage
                        // (the statement journal of each write's savepoint)
                        // in memory: a file was opened and closed per
                        // write, and it is never needed after a crash.
                        sqlx::raw_sql(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 5000; \
                             PRAGMA cache_size = -16384; PRAGMA temp_store = MEMORY;",
                        )
                        .execute(conn)
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(DbError::Connect)?;
        Ok(Db { pool, backend, url })
    }

    /// The URL this pool connects to. It may hold a password: never log it
    /// (see `redact`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Applies every pending migration of this backend. Fails when a
    /// migration applied before has changed since (migrations are
    /// append-only).
    pub async fn migrate(&self) -> Result<(), DbError> {
        self.accept_edited_0006().await.map_err(DbError::Connect)?;
        migrator(self.backend).run(&self.pool).await?;
        Ok(())
    }

    /// Migration 0006 was once edited after it had been committed: the edit
    /// (making `runs.unfinished` exact) is migration 0007 now, and 0006 is
    /// as first committed. A database that ran the edited 0006 holds its
    /// checksum, which sqlx would refuse; it is set to the first version's.
    /// That is safe: the edited 0006 did what the first one does and what
    /// 0007 does again (an idempotent update).
    async fn accept_edited_0006(&self) -> Result<(), sqlx::Error> {
        let (exists, edited, first) = match self.backend {
            Backend::Sqlite => (
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
                 AND name = '_sqlx_migrations'",
                EDITED_0006_SQLITE,
                "X'2eaf282a597c91a2d1b6812732a6daa9ca3d174de54e199039089d068006a18180d1f45562ab9c81c2fae9d80850a382'",
            ),
            Backend::Postgres => (
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_name = '_sqlx_migrations' AND table_schema = current_schema()",
                EDITED_0006_POSTGRES,
                "decode('f92be92c2ff651050a95f8992fce1b9382258c389a6c515e094ccf088f99f7d5f64ef55bb6345cb47bf775affc4ce4b4', 'hex')",
            ),
        };
        let tables: i64 = sqlx::query_scalar(exists).fetch_one(&self.pool).await?;
        if tables == 0 {
            return Ok(());
        }
        let edited = match self.backend {
            Backend::Sqlite => format!("X'{edited}'"),
            Backend::Postgres => format!("decode('{edited}', 'hex')"),
        };
        let updated = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE _sqlx_migrations SET checksum = {first} WHERE version = 6 AND checksum = {edited}"
        )))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if updated > 0 {
            tracing::info!(
                "migration 0006 was applied in its edited form; accepted as 0006 + 0007"
            );
        }
        Ok(())
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }
}

/// Ensures the SQLite file's directory exists and that the file is created
/// on first connection (`mode=rwc`).
fn prepare_sqlite_url(url: &str) -> Result<String, DbError> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() || path == ":memory:" {
        return Ok(url.to_string());
    }
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(if query.contains("mode=") {
        url.to_string()
    } else if query.is_empty() {
        format!("sqlite://{path}?mode=rwc")
    } else {
        format!("sqlite://{path}?{query}&mode=rwc")
    })
}

/// The URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/releases"),
            "postgres://app:***@db:5432/releases"
        );
        assert_eq!(
            redact("sqlite://data/releases.db"),
            "sqlite://data/releases.db"
        );
    }

    #[test]
    fn sqlite_url_creates_the_file() {
        let dir = std::env::temp_dir().join(format!("releases-db-test-{}", std::process::id()));
        let url = format!("sqlite://{}/sub/x.db", dir.display());
        let prepared = prepare_sqlite_url(&url).expect("prepared");
        assert!(prepared.ends_with("x.db?mode=rwc"));
        assert!(dir.join("sub").is_dir());
        let _ = std::fs::remove_dir_all(dir);
    }
}

//! Migrations are append-only: each committed one keeps its checksum (sqlx
//! refuses to start on a database that ran a different version of it), and
//! a database migrated by an earlier release upgrades cleanly — one made
//! with 0006 as first committed, and one made with 0006 as it was once
//! edited (`fixtures/0006_steps_status_edited.*.sql`, the file of that
//! commit).

use std::borrow::Cow;

use backend::db::{migrator, Backend, Db};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlSafeStr;

/// Every committed migration and the SHA-384 of its SQL, per backend. A new
/// migration is appended here; an edited one fails the test.
const COMMITTED: &[(Backend, i64, &str)] = &[
    (Backend::Sqlite, 1, "80d4db93d4a38223dc81dd4cea7310448a6de178f1bdc8f6bfbaff027e6676646d33d6fd9adc38f98cea5f22ca3c0747"),
    (Backend::Sqlite, 2, "63c6408ac0f109215652b8f32ef78ee28b7e1f7a1fce0beced17ff7ae35ac41f39858cc1d131d2f823da52061171eec0"),
    (Backend::Sqlite, 4, "28810e6e30105b52c7fa09fad7d10e951ea070b4445b3529a77a7ebbc00a4610590b290b7edd31b0a8b50eeaeb4ed959"),
    (Backend::Sqlite, 5, "bb970d45b996bd40d655bd1e7a637489007902b448a6190402319184dd960196842acee1857ff3b2357f9a824a2648f9"),
    (Backend::Sqlite, 6, "2eaf282a597c91a2d1b6812732a6daa9ca3d174de54e199039089d068006a18180d1f45562ab9c81c2fae9d80850a382"),
    (Backend::Sqlite, 7, "79ffd4a4a35e3d0c88d8d10f07da2fb3f4b960b0b5708544dacb62dfbe5823649d612993e189bb68e7e9cdfb6a0e33a4"),
    (Backend::Sqlite, 8, "86ebcdba10353ce6c38dc69017a036044123bc72929f5c13ee5f99f3e4ca7334e0d074f4186f8a7549cfc898913c33e7"),
    (Backend::Sqlite, 9, "f50555219d4c4e65c4202fdedce8581a9159ca125aa3a77a8218c3d477f21f70e4b3fd2e5dc1bec7526c861e2861d183"),
    (Backend::Sqlite, 10, "0a231aa138894496f62fc7c7745f1fb1b3641b7273ee22c476723233de43509a12f289a98621fc74d138b53ff9ac7715"),
    (Backend::Sqlite, 11, "b6a1c75794c245886c0764cdad826c662c2e5cd8aff0b74c5eccbfe0d726084f1aae4121d2a4db2e1519b2525f9ae150"),
    (Backend::Sqlite, 12, "1f8cb0cbe494d9d6d995e581a01f34b4db41e5b8fb8815630cb6646caa14f485c05b3de12dbc17033b3489771e93f724"),
    (Backend::Postgres, 1, "30df5f2478f551260304fbc1329a086625146c3dec7b2acfb8a49cd7cd9e088519d18db1970cb4323cb4d54beb8df43f"),
    (Backend::Postgres, 2, "a6bdc71bc93683332102484a7beb49ed6575672f2f8d21f424ebd63157f19679734977f24a1e0946ef63878eea821384"),
    (Backend::Postgres, 4, "3fa19b961c1c0415f37d47f428e6ec30d5dcba9e50a2b3da8afad50ec6559c94ca9ba02750d7c37ba4804845d6212800"),
    (Backend::Postgres, 5, "0b03d2461f80b1b8d7e939aacfe1de6c66240551de2be9ae8efa7e325196dbf50f39c9185b5b39d1a79f3967a413a353"),
    (Backend::Postgres, 6, "f92be92c2ff651050a95f8992fce1b9382258c389a6c515e094ccf088f99f7d5f64ef55bb6345cb47bf775affc4ce4b4"),
    (Backend::Postgres, 7, "79ffd4a4a35e3d0c88d8d10f07da2fb3f4b960b0b5708544dacb62dfbe5823649d612993e189bb68e7e9cdfb6a0e33a4"),
    (Backend::Postgres, 8, "86ebcdba10353ce6c38dc69017a036044123bc72929f5c13ee5f99f3e4ca7334e0d074f4186f8a7549cfc898913c33e7"),
    (Backend::Postgres, 9, "f50555219d4c4e65c4202fdedce8581a9159ca125aa3a77a8218c3d477f21f70e4b3fd2e5dc1bec7526c861e2861d183"),
    (Backend::Postgres, 10, "0a231aa138894496f62fc7c7745f1fb1b3641b7273ee22c476723233de43509a12f289a98621fc74d138b53ff9ac7715"),
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn committed_migrations_keep_their_checksums() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let embedded: Vec<(i64, String)> = migrator(backend)
            .iter()
            .map(|m| (m.version, hex(&m.checksum)))
            .collect();
        let committed: Vec<(i64, String)> = COMMITTED
            .iter()
            .filter(|(b, _, _)| *b == backend)
            .map(|(_, version, sum)| (*version, (*sum).to_owned()))
            .collect();
        assert_eq!(
            embedded, committed,
            "{backend:?}: a committed migration changed, or a new one is not listed here"
        );
    }
}

/// A fresh database on `backend`: a SQLite file, or a new database beside
/// the one `TEST_POSTGRES_URL` names (`None` without it).
async fn fresh(backend: Backend) -> Option<(Db, Option<tempfile::TempDir>)> {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/releases.db", dir.path().display());
            Some((Db::connect(&url).await.expect("connect"), Some(dir)))
        }
        Backend::Postgres => {
            let base = std::env::var("TEST_POSTGRES_URL").ok()?;
            let name = format!(
                "releases_migrations_{}_{}",
                std::process::id(),
                chrono::Utc::now().timestamp_micros()
            );
            let admin = Db::connect(&base).await.expect("connect");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&admin.pool)
                .await
                .expect("create database");
            let (server, _) = base.rsplit_once('/').expect("a database URL");
            let url = format!("{server}/{name}");
            Some((Db::connect(&url).await.expect("connect"), None))
        }
    }
}

/// The migrations up to 0006, with 0006 as given.
fn up_to_0006(backend: Backend, sql_0006: &'static str) -> Migrator {
    let mut migrations: Vec<Migration> = migrator(backend)
        .iter()
        .filter(|m| m.version < 6)
        .cloned()
        .collect();
    migrations.push(Migration::new(
        6,
        Cow::Borrowed("steps status"),
        MigrationType::Simple,
        sql_0006.into_sql_str(),
        false,
    ));
    Migrator::with_migrations(migrations)
}

/// Stores one failed run as rows from before migration 0005 hold it: marked
/// unfinished, which 0007 corrects.
async fn old_rows(db: &Db) {
    for sql in [
        "INSERT INTO products (id, slug, created_at, last_release_id) VALUES (1, 'shop', 0, 1)",
        "INSERT INTO releases (pk, product_id, id, release_key, flow, flow_name, commit_sha, \
         commit_message, author_name, created_at, updated_at, status, environments, changes) \
         VALUES (1, 1, 1, 'r1', '{}', 'f', 'abc', 'm', 'a', 0, 0, 'failed', '[]', '{}')",
        "INSERT INTO runs (release_pk, product_id, release_id, run_id, environment, phase, \
         workflow, application, status, attempt, steps, snapshot_time, unfinished) \
         VALUES (1, 1, 1, 'run-1', 'dev', 'post', 'smoke', 'api', 'failed', 1, '[]', 0, 1)",
    ] {
        sqlx::query(sql).execute(&db.pool).await.expect(sql);
    }
}

async fn unfinished(db: &Db) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT unfinished FROM runs WHERE run_id = 'run-1'")
        .fetch_one(&db.pool)
        .await
        .expect("run")
}

fn backends() -> Vec<Backend> {
    let mut backends = vec![Backend::Sqlite];
    if std::env::var("TEST_POSTGRES_URL").is_ok() {
        backends.push(Backend::Postgres);
    }
    backends
}

#[tokio::test]
async fn a_database_migrated_with_the_first_0006_upgrades() {
    for backend in backends() {
        let Some((db, _dir)) = fresh(backend).await else {
            continue;
        };
        let first = match backend {
            Backend::Sqlite => include_str!("../migrations/sqlite/0006_steps_status.sql"),
            Backend::Postgres => include_str!("../migrations/postgres/0006_steps_status.sql"),
        };
        up_to_0006(backend, first)
            .run(&db.pool)
            .await
            .expect("migrate to 0006");
        old_rows(&db).await;
        db.migrate().await.expect("upgrade");
        assert_eq!(unfinished(&db).await, 0, "{backend:?}: 0007 ran");
        db.migrate().await.expect("nothing left to do");
    }
}

#[tokio::test]
async fn a_database_migrated_with_the_edited_0006_upgrades() {
    for backend in backends() {
        let Some((db, _dir)) = fresh(backend).await else {
            continue;
        };
        let edited = match backend {
            Backend::Sqlite => include_str!("fixtures/0006_steps_status_edited.sqlite.sql"),
            Backend::Postgres => include_str!("fixtures/0006_steps_status_edited.postgres.sql"),
        };
        up_to_0006(backend, edited)
            .run(&db.pool)
            .await
            .expect("migrate to the edited 0006");
        old_rows(&db).await;
        db.migrate().await.expect("upgrade");
        assert_eq!(unfinished(&db).await, 0, "{backend:?}: 0007 ran");
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&db.pool)
                .await
                .expect("versions");
        let committed: Vec<i64> = COMMITTED
            .iter()
            .filter(|(b, _, _)| *b == backend)
            .map(|(_, version, _)| *version)
            .collect();
        assert_eq!(versions, committed, "{backend:?}: every migration ran");
    }
}

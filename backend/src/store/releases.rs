//! Releases: creation with the flow snapshot, the derived status written
//! after every change (so lists read one indexed table), the releases page,
//! and lookups by key or id.

use domain::{
    Author, Changes, Commit, EnvSummary, Flow, ReleaseStatus, ReleaseSummary, ReleaseView,
};
use sqlx::AssertSqlSafe;

use domain::AppError;

use super::{
    from_json, millis, opt_time, placeholders, time, to_json, value_rows, Conn, OrInternal,
};

/// The columns of `ReleaseRow`, from `releases r JOIN products p`.
const COLUMNS: &str = "r.pk, p.slug AS product, r.product_id, r.id, r.release_key, r.flow, \
    r.flow_name, r.commit_sha, r.commit_message, r.author_name, r.author_email, r.commit_url, \
    r.commit_time, r.version, r.changes, r.created_at, r.updated_at, r.status, r.superseded_by, \
    r.environments, r.last_change_id";
/// `COLUMNS` for a list: no flow and no changes (a summary needs neither),
/// and the commit message's start only (its headline is shown).
const SUMMARY_COLUMNS: &str = "r.pk, p.slug AS product, r.product_id, r.id, r.release_key, \
    CAST('' AS TEXT) AS flow, r.flow_name, r.commit_sha, \
    SUBSTR(r.commit_message, 1, 400) AS commit_message, r.author_name, r.author_email, \
    r.commit_url, r.commit_time, r.version, CAST('{}' AS TEXT) AS changes, r.created_at, \
    r.updated_at, r.status, r.superseded_by, r.environments, r.last_change_id";
const FROM: &str = "FROM releases r JOIN products p ON p.id = r.product_id";

/// One stored release.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReleaseRow {
    pub pk: i64,
    pub product: String,
    pub product_id: i64,
    pub id: i64,
    pub release_key: String,
    pub flow: String,
    pub flow_name: String,
    pub commit_sha: String,
    pub commit_message: String,
    pub author_name: String,
    pub author_email: Option<String>,
    pub commit_url: Option<String>,
    pub commit_time: Option<i64>,
    pub version: Option<String>,
    pub changes: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub status: String,
    pub superseded_by: Option<i64>,
    pub environments: String,
    /// The id of the release's last change in the change log (0: none).
    pub last_change_id: i64,
}

impl ReleaseRow {
    /// The trigger commit.
    pub fn commit(&self) -> Result<Commit, AppError> {
        Ok(Commit {
            sha: self.commit_sha.clone(),
            message: self.commit_message.clone(),
            author: Author {
                name: self.author_name.clone(),
                email: self.author_email.clone(),
            },
            url: self.commit_url.clone(),
            timestamp: opt_time(self.commit_time)?,
        })
    }

    /// The flow snapshot (validated again on the way out).
    pub fn flow(&self) -> Result<Flow, AppError> {
        from_json(&self.flow)
    }

    /// The `changes` of `release.created`.
    pub fn changes(&self) -> Result<Changes, AppError> {
        from_json(&self.changes)
    }

    /// The stored release status.
    pub fn status(&self) -> Result<ReleaseStatus, AppError> {
        ReleaseStatus::parse(&self.status)
            .ok_or_else(|| AppError::internal(format!("stored status {:?}", self.status)))
    }
}

impl TryFrom<ReleaseRow> for ReleaseSummary {
    type Error = AppError;

    fn try_from(row: ReleaseRow) -> Result<ReleaseSummary, AppError> {
        let mut commit = row.commit()?;
        commit.message = headline(&commit.message).to_owned();
        Ok(ReleaseSummary {
            id: row.id,
            status: row.status()?,
            superseded_by: row.superseded_by,
            commit,
            created_at: time(row.created_at)?,
            updated_at: time(row.updated_at)?,
            environments: from_json::<Vec<EnvSummary>>(&row.environments)?,
            version: row.version,
            flow: row.flow_name,
            key: row.release_key,
        })
    }
}

/// Longest headline of a summary's commit message, in characters.
const HEADLINE: usize = 200;

/// The first line of a commit message, at most `HEADLINE` characters: what
/// a summary (a row of the table, a live change) carries.
fn headline(message: &str) -> &str {
    let line = message.lines().next().unwrap_or("");
    match line.char_indices().nth(HEADLINE) {
        Some((end, _)) => &line[..end],
        None => line,
    }
}

/// What `insert` stores.
pub struct NewRelease<'a> {
    pub product_id: i64,
    pub id: i64,
    pub key: &'a str,
    pub flow: &'a Flow,
    pub commit: &'a Commit,
    pub version: Option<&'a str>,
    pub changes: &'a Changes,
    pub created_at: i64,
}

/// Stores a new release, `progressing` until derived; returns its pk.
#[tracing::instrument(skip_all)]
pub async fn insert(conn: &mut Conn, new: NewRelease<'_>) -> Result<i64, AppError> {
    sqlx::query_scalar::<_, i64>(
        "INSERT INTO releases (product_id, id, release_key, flow, flow_name, commit_sha, \
         commit_message, author_name, author_email, commit_url, commit_time, version, changes, \
         created_at, updated_at, status, superseded_by, environments) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15, NULL, '[]') \
         RETURNING pk",
    )
    .bind(new.product_id)
    .bind(new.id)
    .bind(new.key)
    .bind(to_json(new.flow)?)
    .bind(new.flow.name())
    .bind(&new.commit.sha)
    .bind(&new.commit.message)
    .bind(&new.commit.author.name)
    .bind(new.commit.author.email.as_deref())
    .bind(new.commit.url.as_deref())
    .bind(new.commit.timestamp.map(millis))
    .bind(new.version)
    .bind(to_json(new.changes)?)
    .bind(new.created_at)
    .bind(ReleaseStatus::Progressing.as_str())
    .fetch_one(&mut *conn)
    .await
    .or_internal()
}

/// A release as ingest needs it: where it is and its flow.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Target {
    pub pk: i64,
    pub product_id: i64,
    pub id: i64,
    pub release_key: String,
    pub flow: String,
    /// The id of its latest change (`runs_cache`'s tag).
    pub last_change_id: i64,
}

/// The releases of product `slug` with any of these keys.
#[tracing::instrument(skip_all, fields(slug = %slug, keys = keys.len()))]
pub async fn find_keys(
    conn: &mut Conn,
    slug: &str,
    keys: &[&str],
) -> Result<Vec<Target>, AppError> {
    let mut found = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(500) {
        let sql = format!(
            "SELECT r.pk, r.product_id, r.id, r.release_key, r.flow, r.last_change_id \
             FROM releases r \
             JOIN products p ON p.id = r.product_id \
             WHERE p.slug = $1 AND r.release_key IN ({})",
            placeholders(2, chunk.len())
        );
        let mut query = sqlx::query_as::<_, Target>(AssertSqlSafe(sql)).bind(slug);
        for key in chunk {
            query = query.bind(*key);
        }
        found.extend(query.fetch_all(&mut *conn).await.or_internal()?);
    }
    Ok(found)
}

/// Release `id` of product `product_id`.
#[tracing::instrument(skip_all, fields(product_id, id))]
pub async fn get(
    conn: &mut Conn,
    product_id: i64,
    id: i64,
) -> Result<Option<ReleaseRow>, AppError> {
    sqlx::query_as::<_, ReleaseRow>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE r.product_id = $1 AND r.id = $2"
    )))
    .bind(product_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .or_internal()
}

/// The releases with these pks, in any order.
#[tracing::instrument(skip_all, fields(pks = pks.len()))]
pub async fn by_pks(conn: &mut Conn, pks: &[i64]) -> Result<Vec<ReleaseRow>, AppError> {
    if pks.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} {FROM} WHERE r.pk IN ({})",
        placeholders(1, pks.len())
    );
    let mut query = sqlx::query_as::<_, ReleaseRow>(AssertSqlSafe(sql));
    for pk in pks {
        query = query.bind(*pk);
    }
    query.fetch_all(&mut *conn).await.or_internal()
}

/// The filters of the releases page.
#[derive(Debug, Clone, Default)]
pub struct PageFilter {
    /// Any of these statuses; empty means all.
    pub statuses: Vec<ReleaseStatus>,
    /// Search text (trimmed, non-empty): release id, key, sha prefix,
    /// message or author.
    pub q: Option<String>,
    /// Only releases with a lower id (the cursor).
    pub before: Option<i64>,
    pub limit: u32,
}

/// Most trigram-index hits for which a search reads the candidates rather
/// than walking the releases newest first (see `page`).
const SEARCH_CANDIDATES: i64 = 2000;

/// One page of releases of a product, newest first. Walks the
/// `(product_id, id)` or `(product_id, status, id)` index backwards.
///
/// A search (`q`) on SQLite of three characters or more first counts the
/// hits of the `release_search` trigram index (a superset of the text
/// matches); when they are few, the page is built from those candidates and
/// the key and id matches instead of a walk that, for a rare text, reads
/// every release. The exact predicate applies either way, so both plans
/// return the same rows. On PostgreSQL, trigram indexes serve the same
/// query directly.
#[tracing::instrument(skip_all, fields(product_id))]
pub async fn page(
    conn: &mut Conn,
    product_id: i64,
    filter: &PageFilter,
) -> Result<Vec<ReleaseRow>, AppError> {
    let q = filter.q.as_deref();
    // SQLite's LOWER() and LIKE fold ASCII only; its trigram index folds
    // Unicode. A text beyond ASCII of three characters or more is matched
    // through the index (a phrase of trigrams is exactly a case-insensitive
    // substring), so `ÉCOLE` finds `école` as on PostgreSQL.
    let indexed = match q {
        Some(q) if conn.backend_name() == "SQLite" && q.chars().count() >= 3 => {
            let phrase = format!("\"{}\"", q.replace('"', "\"\""));
            let hits = sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM (SELECT rowid FROM release_search \
                 WHERE release_search MATCH $1 LIMIT $2)",
            )
            .bind(&phrase)
            .bind(SEARCH_CANDIDATES + 1)
            .fetch_one(&mut *conn)
            .await
            .or_internal()?;
            Some(Indexed {
                // ASCII text folds the same either way, and LIKE lets a walk
                // stop at the page's end instead of reading every hit.
                text: (!q.is_ascii())
                    .then(|| format!("{{commit_message author_name author_email}} : {phrase}")),
                candidates: (hits <= SEARCH_CANDIDATES).then_some(phrase),
            })
        }
        _ => None,
    };
    let id = q.and_then(|q| q.trim_start_matches('#').parse::<i64>().ok());

    let mut sql = String::new();
    let mut n = 2;
    let mut filters = String::new();
    if !filter.statuses.is_empty() {
        filters.push_str(&format!(
            " AND r.status IN ({})",
            placeholders(n, filter.statuses.len())
        ));
        n += filter.statuses.len();
    }
    if filter.before.is_some() {
        filters.push_str(&format!(" AND r.id < ${n}"));
        n += 1;
    }
    if q.is_some() {
        // Case-insensitive on both backends: the trigram index on SQLite
        // (above), else lower both sides; `\` escapes the LIKE wildcards a
        // user typed.
        let (a, b, c) = (n, n + 1, n + 2);
        n += 3;
        let text = if indexed.as_ref().is_some_and(|i| i.text.is_some()) {
            format!("r.pk IN (SELECT rowid FROM release_search WHERE release_search MATCH ${c})")
        } else {
            format!(
                "LOWER(r.commit_message) LIKE ${c} ESCAPE '\\' \
                 OR LOWER(r.author_name) LIKE ${c} ESCAPE '\\' \
                 OR LOWER(COALESCE(r.author_email, '')) LIKE ${c} ESCAPE '\\'"
            )
        };
        filters.push_str(&format!(
            " AND (r.release_key = ${a} OR LOWER(r.commit_sha) LIKE ${b} ESCAPE '\\' OR {text}"
        ));
        let by_id = match id {
            Some(_) => {
                filters.push_str(&format!(" OR r.id = ${n}"));
                n += 1;
                format!(" OR id = ${}", n - 1)
            }
            None => String::new(),
        };
        filters.push(')');
        if indexed.as_ref().is_some_and(|i| i.candidates.is_some()) {
            // The candidates drive the join (CROSS JOIN keeps that order).
            sql.push_str(&format!(
                "SELECT {SUMMARY_COLUMNS} FROM (SELECT rowid AS pk FROM release_search \
                 WHERE release_search MATCH ${n} UNION SELECT pk FROM releases \
                 WHERE product_id = $1 AND (release_key = ${a}{by_id})) c \
                 CROSS JOIN releases r JOIN products p ON p.id = r.product_id \
                 WHERE r.pk = c.pk AND r.product_id = $1"
            ));
            n += 1;
        }
    }
    if sql.is_empty() {
        sql.push_str(&format!(
            "SELECT {SUMMARY_COLUMNS} {FROM} WHERE r.product_id = $1"
        ));
    }
    sql.push_str(&filters);
    sql.push_str(&format!(" ORDER BY r.id DESC LIMIT ${n}"));

    let mut query = sqlx::query_as::<_, ReleaseRow>(AssertSqlSafe(sql)).bind(product_id);
    for status in &filter.statuses {
        query = query.bind(status.as_str());
    }
    if let Some(before) = filter.before {
        query = query.bind(before);
    }
    if let Some(q) = q {
        let escaped = q
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.bind(q.to_owned()).bind(format!("{escaped}%"));
        query = match indexed.as_ref().and_then(|i| i.text.clone()) {
            Some(text) => query.bind(text),
            None => query.bind(format!("%{escaped}%")),
        };
        if let Some(id) = id {
            query = query.bind(id);
        }
        if let Some(phrase) = indexed.and_then(|i| i.candidates) {
            query = query.bind(phrase);
        }
    }
    query
        .bind(i64::from(filter.limit))
        .fetch_all(&mut *conn)
        .await
        .or_internal()
}

/// A search on SQLite through the trigram index: the MATCH expression of
/// the text columns (for text beyond ASCII, which SQLite's LOWER() does not
/// fold), and the phrase whose hits are the candidates when they are few.
struct Indexed {
    text: Option<String>,
    candidates: Option<String>,
}

/// Releases of a product with `after < id <= up_to`, newest first, at most `limit`.
#[tracing::instrument(skip_all, fields(product_id, after, limit))]
pub async fn range(
    conn: &mut Conn,
    product_id: i64,
    after: i64,
    up_to: i64,
    limit: i64,
) -> Result<Vec<ReleaseRow>, AppError> {
    sqlx::query_as::<_, ReleaseRow>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE r.product_id = $1 AND r.id > $2 AND r.id <= $3 \
         ORDER BY r.id DESC LIMIT $4"
    )))
    .bind(product_id)
    .bind(after)
    .bind(up_to)
    .bind(limit)
    .fetch_all(&mut *conn)
    .await
    .or_internal()
}

/// What `save_derived` writes of one release: its pk, product id, derived
/// view and the id of its change in the change log.
pub struct Derived<'a> {
    pub pk: i64,
    pub product_id: i64,
    pub view: &'a ReleaseView,
    pub change_id: i64,
}

/// Writes what was derived from the facts of each release: its
/// `updated_at`, status, who superseded it, the list item's environments,
/// the id of its last change, and one `release_environments` row per
/// environment. Two statements whatever the number of releases (up to 500).
#[tracing::instrument(skip_all, fields(releases = releases.len()))]
pub async fn save_derived(conn: &mut Conn, releases: &[Derived<'_>]) -> Result<(), AppError> {
    for chunk in releases.chunks(500) {
        let sql = format!(
            "UPDATE releases SET updated_at = v.column2, status = v.column3, \
             superseded_by = v.column4, environments = v.column5, last_change_id = v.column6 \
             FROM (VALUES {}) AS v WHERE releases.pk = v.column1",
            value_rows(conn, chunk.len(), 6)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for derived in chunk {
            let view = derived.view;
            query = query
                .bind(derived.pk)
                .bind(millis(view.updated_at))
                .bind(view.status.as_str())
                .bind(view.superseded_by)
                .bind(to_json(&view.summary().environments)?)
                .bind(derived.change_id);
        }
        query.execute(&mut *conn).await.or_internal()?;
    }
    let environments: Vec<(i64, i64, &ReleaseView, usize)> = releases
        .iter()
        .map(|derived| (derived.pk, derived.product_id, derived.view))
        .flat_map(|(pk, product_id, view)| {
            (0..view.environments.len()).map(move |i| (pk, product_id, view, i))
        })
        .collect();
    for chunk in environments.chunks(500) {
        let sql = format!(
            "INSERT INTO release_environments \
             (release_pk, product_id, release_id, environment, status, version) VALUES {} \
             ON CONFLICT (release_pk, environment) DO UPDATE \
             SET status = excluded.status, version = excluded.version",
            value_rows(conn, chunk.len(), 6)
        );
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for &(pk, product_id, view, i) in chunk {
            let env = &view.environments[i];
            query = query
                .bind(pk)
                .bind(product_id)
                .bind(view.id)
                .bind(&env.name)
                .bind(env.status.as_str())
                .bind(env.version.as_deref());
        }
        query.execute(&mut *conn).await.or_internal()?;
    }
    Ok(())
}

/// Per environment of `environments`, the newest release older than
/// `before` that succeeded there. One statement of one index seek per
/// environment on `(product, environment, status, release)`, rather than a
/// scan of every release of the product.
#[tracing::instrument(skip_all, fields(product_id, environments = environments.len()))]
pub async fn last_successful(
    conn: &mut Conn,
    product_id: i64,
    before: i64,
    environments: &[String],
) -> Result<Vec<(String, Option<i64>)>, AppError> {
    if environments.is_empty() {
        return Ok(Vec::new());
    }
    let sql = (0..environments.len())
        .map(|i| {
            let env = i + 3;
            format!(
                "SELECT CAST(${env} AS TEXT) AS environment, (SELECT MAX(release_id) \
                 FROM release_environments WHERE product_id = $1 AND environment = ${env} \
                 AND status = 'successful' AND release_id < $2) AS release_id"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut query = sqlx::query_as::<_, (String, Option<i64>)>(AssertSqlSafe(sql))
        .bind(product_id)
        .bind(before);
    for env in environments {
        query = query.bind(env.as_str());
    }
    query.fetch_all(&mut *conn).await.or_internal()
}

/// The newest release of each product, by product id.
#[tracing::instrument(skip_all)]
pub async fn latest_per_product(conn: &mut Conn) -> Result<Vec<ReleaseRow>, AppError> {
    sqlx::query_as::<_, ReleaseRow>(AssertSqlSafe(format!(
        "SELECT {COLUMNS} {FROM} WHERE r.id = p.last_release_id"
    )))
    .fetch_all(&mut *conn)
    .await
    .or_internal()
}

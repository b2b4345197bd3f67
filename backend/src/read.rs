//! The reads the REST handlers and the server functions share: the
//! dashboard, a page of the releases list, a release with every derived
//! status, and its notes. Each is a few queries whatever its size.

use std::collections::{BTreeMap, HashMap};

use domain::live::{AsOf, LivePage};
use domain::notes;
use domain::{
    derive_release, AppError, EnvNotes, EnvOverview, ErrorView, NoteChanges, ProductList,
    ProductOverview, ReleaseNotes, ReleasePage, ReleaseQuery, ReleaseRef, ReleaseStatus,
    ReleaseView,
};

use crate::state::Core;
use crate::store::releases::PageFilter;
use crate::store::{self, Conn, OrInternal};

/// The environments dashboard: every product with, per environment, the
/// version there, the release deployed there and its status. Three queries
/// whatever the number of products.
pub async fn list_products(core: &Core) -> Result<ProductList, AppError> {
    let mut conn = core.db.pool.acquire().await.or_internal()?;
    products(&mut conn).await
}

/// `list_products` for a live page: read in one snapshot with the id of
/// the last change it includes.
pub async fn list_products_live(core: &Core) -> Result<AsOf<ProductList>, AppError> {
    let mut tx = store::begin_read(&core.db).await?;
    let read_at = store::changes::newest(&mut tx).await?;
    let data = products(&mut tx).await?;
    tx.commit().await.or_internal()?;
    Ok(AsOf { read_at, data })
}

async fn products(conn: &mut Conn) -> Result<ProductList, AppError> {
    let products = store::products::all(&mut *conn).await?;
    let mut latest: HashMap<i64, store::releases::ReleaseRow> = HashMap::new();
    for row in store::releases::latest_per_product(&mut *conn).await? {
        latest.insert(row.product_id, row);
    }
    let mut deployments: HashMap<i64, Vec<store::health::DashboardRow>> = HashMap::new();
    for row in store::health::dashboard(&mut *conn).await? {
        deployments.entry(row.product_id).or_default().push(row);
    }

    let mut list = Vec::with_capacity(products.len());
    for (product_id, slug) in products {
        let newest = latest.get(&product_id);
        let mut order: Vec<String> = match newest {
            Some(row) => row
                .flow()?
                .environments()
                .iter()
                .map(|e| e.name.clone())
                .collect(),
            None => Vec::new(),
        };
        let rows = deployments.remove(&product_id).unwrap_or_default();
        // Environments only older flows had, by name (rows come sorted).
        for row in &rows {
            if !order.contains(&row.environment) {
                order.push(row.environment.clone());
            }
        }
        let environments = order
            .into_iter()
            .map(|name| {
                let Some(row) = rows.iter().find(|r| r.environment == name) else {
                    return Ok(EnvOverview {
                        name,
                        version: None,
                        release: None,
                        status: None,
                    });
                };
                row.cell()
            })
            .collect::<Result<Vec<_>, AppError>>()?;
        list.push(ProductOverview {
            product: slug,
            latest_release: newest
                .map(|row| {
                    Ok::<_, AppError>(ReleaseRef {
                        id: row.id,
                        key: row.release_key.clone(),
                        status: row.status()?,
                    })
                })
                .transpose()?,
            environments,
        });
    }
    Ok(ProductList { products: list })
}

/// Default and largest page size of the releases list.
pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// One page of the releases of `product`, newest first. 404 for an unknown
/// product; 400 naming `status`, `limit` or `cursor` when one is malformed.
pub async fn list_releases(
    core: &Core,
    product: &str,
    query: &ReleaseQuery,
) -> Result<ReleasePage, AppError> {
    let filter = page_filter(query)?;
    let mut conn = core.db.pool.acquire().await.or_internal()?;
    releases(&mut conn, product, &filter).await
}

/// `list_releases` for a live page: read in one snapshot with the id of
/// the last change it includes.
pub async fn list_releases_live(
    core: &Core,
    product: &str,
    query: &ReleaseQuery,
) -> Result<AsOf<ReleasePage>, AppError> {
    let filter = page_filter(query)?;
    let mut tx = store::begin_read(&core.db).await?;
    let read_at = store::changes::newest(&mut tx).await?;
    let data = releases(&mut tx, product, &filter).await?;
    tx.commit().await.or_internal()?;
    Ok(AsOf { read_at, data })
}

async fn releases(
    conn: &mut Conn,
    product: &str,
    filter: &PageFilter,
) -> Result<ReleasePage, AppError> {
    let product_id = store::products::get(&mut *conn, product).await?;
    let mut fetch = filter.clone();
    fetch.limit = filter.limit + 1;
    let mut rows = store::releases::page(&mut *conn, product_id, &fetch).await?;
    let more = rows.len() > filter.limit as usize;
    rows.truncate(filter.limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| encode_cursor(r.id))
    } else {
        None
    };
    Ok(ReleasePage {
        releases: rows
            .into_iter()
            .map(TryFrom::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor,
    })
}

/// Longest search text, in bytes.
const MAX_SEARCH: usize = 200;

fn page_filter(query: &ReleaseQuery) -> Result<PageFilter, AppError> {
    let statuses = match query.status.as_deref().map(str::trim) {
        None | Some("") => Vec::new(),
        Some(list) => list
            .split(',')
            .map(|s| {
                ReleaseStatus::parse(s.trim()).ok_or_else(|| {
                    AppError::invalid(
                        "status",
                        format!(
                            "unknown release status {s:?}: expected successful, progressing, \
                             terminated or failed"
                        ),
                    )
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let limit = match query.limit.as_deref().map(str::trim) {
        None | Some("") => DEFAULT_LIMIT,
        Some(text) => match text.parse::<u32>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(AppError::invalid(
                    "limit",
                    format!("limit must be an integer from 1 to {MAX_LIMIT}, got {text:?}"),
                ))
            }
        },
    };
    let before = match query.cursor.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(cursor) => Some(
            decode_cursor(cursor)
                .ok_or_else(|| AppError::invalid("cursor", "the cursor is not one we issued"))?,
        ),
    };
    let q = query
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(str::to_owned);
    if let Some(q) = &q {
        if q.contains('\0') {
            return Err(AppError::invalid(
                "q",
                "the search may not contain NUL (U+0000)",
            ));
        }
        if q.len() > MAX_SEARCH {
            return Err(AppError::invalid(
                "q",
                format!("the search is at most {MAX_SEARCH} bytes"),
            ));
        }
    }
    Ok(PageFilter {
        statuses,
        q,
        before,
        limit,
    })
}

/// Cursors are opaque to clients: a versioned id, hex-encoded.
fn encode_cursor(id: i64) -> String {
    hex::encode(format!("v1:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = hex::decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    text.strip_prefix("v1:")?
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
}

/// Release `id` of `product` with every derived status (the release page);
/// 404 when either is unknown.
pub async fn release_detail(core: &Core, product: &str, id: i64) -> Result<ReleaseView, AppError> {
    let mut conn = core.db.pool.acquire().await.or_internal()?;
    release(&mut conn, product, id).await.map(|(view, _)| view)
}

/// The release page of release `id` (`ReleaseView::for_page`), read in one
/// snapshot with the id of its last change and of the last change of all;
/// 404 when unknown.
pub async fn release_page(core: &Core, product: &str, id: i64) -> Result<LivePage, AppError> {
    let mut tx = store::begin_read(&core.db).await?;
    let read_at = store::changes::newest(&mut tx).await?;
    let (view, as_of) = release(&mut tx, product, id).await?;
    tx.commit().await.or_internal()?;
    Ok(LivePage {
        as_of,
        read_at,
        view: view.for_page(),
    })
}

/// Error `error` of release `id`, whole (with the logs, manifest and
/// details the page leaves out); 404 when any of them is unknown.
pub async fn error_detail(
    core: &Core,
    product: &str,
    id: i64,
    error: &str,
) -> Result<ErrorView, AppError> {
    let mut conn = core.db.pool.acquire().await.or_internal()?;
    let (view, _) = release(&mut conn, product, id).await?;
    let errors: Vec<ErrorView> = view
        .environments
        .into_iter()
        .flat_map(|env| env.errors)
        .collect();
    let mut found = errors
        .iter()
        .find(|e| e.id == error)
        .cloned()
        .ok_or_else(|| AppError::not_found(format!("release {id} has no error {error:?}")))?;
    // A run's manifest is on its first error only: the others show it too.
    if found.manifest.is_none() && found.run_id.is_some() {
        found.manifest = errors
            .iter()
            .find(|e| e.run_id == found.run_id && e.manifest.is_some())
            .and_then(|e| e.manifest.clone());
    }
    Ok(found)
}

/// Release `id` with every derived status, and the id of its last change.
async fn release(conn: &mut Conn, product: &str, id: i64) -> Result<(ReleaseView, i64), AppError> {
    let row = release_row(&mut *conn, product, id).await?;
    let (pk, last_change_id) = (row.pk, row.last_change_id);
    let facts = store::facts::load(&mut *conn, vec![row]).await?;
    let mut view = facts
        .first()
        .map(derive_release)
        .ok_or_else(|| AppError::internal("release facts vanished"))?;
    view.restarts = store::restarts::of_release(&mut *conn, pk).await?;
    Ok((view, last_change_id))
}

async fn release_row(
    conn: &mut Conn,
    product: &str,
    id: i64,
) -> Result<store::releases::ReleaseRow, AppError> {
    let product_id = store::products::get(conn, product).await?;
    store::releases::get(conn, product_id, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("product {product:?} has no release {id}")))
}

/// Most releases read to gather an environment's changes.
const NOTES_RELEASES: i64 = 200;

/// The release notes of release `id`: its changes, and per environment the
/// changes since the last older release that succeeded there. 404 when
/// unknown. Four queries whatever the number of environments.
pub async fn release_notes(core: &Core, product: &str, id: i64) -> Result<ReleaseNotes, AppError> {
    let mut conn = core.db.pool.acquire().await.or_internal()?;
    let row = release_row(&mut conn, product, id).await?;
    let flow = row.flow()?;
    let names: Vec<String> = flow.environments().iter().map(|e| e.name.clone()).collect();
    let since: HashMap<String, Option<i64>> =
        store::releases::last_successful(&mut conn, row.product_id, id, &names)
            .await?
            .into_iter()
            .collect();
    let oldest = since.values().map(|s| s.unwrap_or(0)).min().unwrap_or(id);
    let range =
        store::releases::range(&mut conn, row.product_id, oldest, id, NOTES_RELEASES).await?;
    let mut per_release: Vec<(i64, NoteChanges)> = Vec::with_capacity(range.len());
    for release in &range {
        per_release.push((
            release.id,
            notes::release_changes(&release.commit()?, &release.changes()?),
        ));
    }
    // Releases older than the last one read were cut off.
    let cut_below = if range.len() as i64 == NOTES_RELEASES {
        range.last().map(|r| r.id)
    } else {
        None
    };

    // Environments that last succeeded at the same release share one merge.
    let mut merged: BTreeMap<i64, (Vec<i64>, NoteChanges)> = BTreeMap::new();
    let environments = names
        .into_iter()
        .map(|name| {
            let last = since.get(&name).copied().flatten();
            let floor = last.unwrap_or(0);
            let (releases, changes) = merged
                .entry(floor)
                .or_insert_with(|| {
                    let mut changes = NoteChanges::default();
                    let mut releases = Vec::new();
                    for (release, notes) in per_release.iter().filter(|(r, _)| *r > floor) {
                        releases.push(*release);
                        notes::merge(&mut changes, notes.clone());
                    }
                    (releases, changes)
                })
                .clone();
            EnvNotes {
                since: last,
                releases,
                truncated: cut_below.is_some_and(|cut| cut > floor + 1),
                changes,
                name,
            }
        })
        .collect();
    Ok(ReleaseNotes {
        product: row.product.clone(),
        release: row.id,
        key: row.release_key.clone(),
        commit: row.commit()?,
        changes: notes::release_changes(&row.commit()?, &row.changes()?),
        environments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor(&hex::encode("v1:-3")), None);
        assert_eq!(decode_cursor(&hex::encode("v2:3")), None);
    }

    #[test]
    fn page_filter_validates_each_parameter() {
        let query = |status: &str, limit: &str, cursor: &str| ReleaseQuery {
            status: Some(status.into()),
            q: Some("  ".into()),
            cursor: Some(cursor.into()),
            limit: Some(limit.into()),
        };
        let filter = page_filter(&query("failed,terminated", "10", "")).expect("valid");
        assert_eq!(
            filter.statuses,
            [ReleaseStatus::Failed, ReleaseStatus::Terminated]
        );
        assert_eq!(filter.limit, 10);
        assert_eq!(filter.q, None);
        for (bad, field) in [
            (query("done", "", ""), "status"),
            (query("", "0", ""), "limit"),
            (query("", "201", ""), "limit"),
            (query("", "ten", ""), "limit"),
            (query("", "", "nope"), "cursor"),
        ] {
            match page_filter(&bad) {
                Err(AppError::Invalid { field: Some(f), .. }) => assert_eq!(f, field),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}

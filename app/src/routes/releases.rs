//! `/products/{product}/releases` — the Releases table. Status filter,
//! search and cursor are query parameters (`?status=&q=&cursor=`), so a
//! filtered page is a link and works without JavaScript. Live: a row
//! follows its release's changes, and a new release that matches the filter
//! appears at the top of the first page.

use leptos::html::H1;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::releases::list_releases;
use crate::components::navigation::page_shown;
use crate::components::status::{env_dots_markup, StatusBadge, StatusWord};
use crate::components::time::{Elapsed, RelativeTime};
use crate::components::url::{release_path, releases_path, with_query};
use crate::live::{follow, LiveEvent, Refetch};
use crate::routes::not_found::ErrorPage;
use crate::routes::release::{first_line, short_sha};
use domain::live::{AsOf, ReleaseChanged};
use domain::{ReleasePage, ReleaseStatus, ReleaseSummary};

/// A non-empty query parameter.
fn param(query: Memo<leptos_router::params::ParamsMap>, key: &'static str) -> Memo<Option<String>> {
    Memo::new(move |_| query.with(|q| q.get(key)).filter(|v| !v.trim().is_empty()))
}

#[component]
pub fn ReleasesPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let product = Memo::new(move |_| params.with(|p| p.get("product").unwrap_or_default()));
    let status = param(query, "status");
    let search = param(query, "q");
    let cursor = param(query, "cursor");
    let page = Resource::new(
        move || (product.get(), status.get(), search.get(), cursor.get()),
        |(product, status, q, cursor)| list_releases(product, status, q, cursor),
    );
    let path = move || releases_path(&product.get());
    let heading = NodeRef::<H1>::new();
    page_shown(heading);
    // The server reads the title once more after rendering, when this page's
    // values may be disposed already (a panic, under concurrent renders):
    // then it is the product the page was rendered for.
    let rendered_for = product.get_untracked();

    view! {
        <Title text=move || format!("Releases · {}", product.try_get().unwrap_or_else(|| rendered_for.clone()))/>
        <section class="page" data-testid="releases-page">
            <nav class="breadcrumb" aria-label="Breadcrumb">
                <ol>
                    <li><a href="/">"Environments"</a></li>
                    <li aria-current="page">{move || product.get()}</li>
                </ol>
            </nav>
            <header class="page__header">
                <h1 node_ref=heading tabindex="-1">"Releases of " <span class="mono">{move || product.get()}</span></h1>
                <p class="page__lead">"Newest first. Every release, where it went, and how it ended."</p>
            </header>
            <Form method="GET" action=path attr:class="filters" attr:role="search"
                attr:data-testid="release-filters" noscroll=true>
                <label class="field">
                    <span class="field__label">"Status"</span>
                    <select name="status" data-testid="filter-status">
                        <option value="" selected=move || status.get().is_none()>"All statuses"</option>
                        {ReleaseStatus::ALL
                            .iter()
                            .map(|s| {
                                let value = s.as_str();
                                view! {
                                    <option value=value selected=move || status.get().as_deref() == Some(value)>
                                        {s.word()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </label>
                <label class="field field--grow">
                    <span class="field__label">"Search"</span>
                    <input type="search" name="q" placeholder="Release id, commit sha, message or author"
                        data-testid="filter-search"
                        prop:value=move || search.get().unwrap_or_default() />
                </label>
                <button type="submit" class="btn btn--primary" data-testid="filter-apply">"Apply"</button>
                {move || (status.get().is_some() || search.get().is_some()).then(|| view! {
                    <a class="btn btn--ghost" href=path() data-testid="filter-clear">"Clear"</a>
                })}
            </Form>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading releases…"</p> }>
                {move || Suspend::new(async move {
                    match page.await {
                        Ok(page) => view! {
                            <ReleasesTable
                                product=product.get_untracked()
                                page=page
                                status=status.get_untracked()
                                search=search.get_untracked()
                                cursor=cursor.get_untracked()
                            />
                        }
                        .into_any(),
                        Err(error) => view! { <ErrorPage error=error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// Whether a release with this status passes the `status` filter
/// (statuses separated by commas; none: all).
fn status_matches(filter: Option<&str>, status: ReleaseStatus) -> bool {
    match filter {
        None => true,
        Some(list) => list
            .split(',')
            .any(|s| ReleaseStatus::parse(s.trim()) == Some(status)),
    }
}

/// The row of a changed release: the change, but the whole commit message
/// when the row had it (events carry its first line).
fn updated_row(row: &ReleaseSummary, change: &ReleaseChanged) -> ReleaseSummary {
    let mut next = change.summary.clone();
    if row.commit.sha == next.commit.sha {
        next.commit.message = row.commit.message.clone();
    }
    next
}

/// The table of one page of releases, and the links to the other pages.
#[component]
fn ReleasesTable(
    product: String,
    page: AsOf<ReleasePage>,
    status: Option<String>,
    search: Option<String>,
    cursor: Option<String>,
) -> impl IntoView {
    let path = releases_path(&product);
    let filtered = status.is_some() || search.is_some();
    let first_page = cursor.is_none();
    let next_cursor = page.data.next_cursor.clone();
    let rows = RwSignal::new(page.data.releases);
    let refetch = Refetch::default();
    let follower = StoredValue::new(None);
    let reload = {
        let (product, status, search, cursor) = (
            product.clone(),
            status.clone(),
            search.clone(),
            cursor.clone(),
        );
        move || {
            let (product, status, search, cursor) = (
                product.clone(),
                status.clone(),
                search.clone(),
                cursor.clone(),
            );
            refetch.run(move || {
                let (product, status, search, cursor) = (
                    product.clone(),
                    status.clone(),
                    search.clone(),
                    cursor.clone(),
                );
                async move {
                    if let Ok(page) = list_releases(product, status, search, cursor).await {
                        rows.set(page.data.releases);
                        if let Some(follower) = follower.get_value() {
                            crate::live::Follower::read(follower, page.read_at);
                        }
                    }
                }
            });
        }
    };
    let on_event = {
        let product = product.clone();
        let status = status.clone();
        let searching = search.is_some();
        let reload = reload.clone();
        move |_: i64, event: &LiveEvent| {
            let LiveEvent::Release(change) = event else {
                return;
            };
            if change.product != product {
                return;
            }
            let known = rows.with_untracked(|rows| rows.iter().any(|r| r.id == change.release));
            if known {
                rows.update(|rows| {
                    for row in rows.iter_mut().filter(|r| r.id == change.release) {
                        *row = updated_row(row, change);
                    }
                });
                return;
            }
            let newest = rows.with_untracked(|rows| rows.first().map_or(0, |r| r.id));
            if !first_page || change.release <= newest {
                return;
            }
            if searching {
                // Whether the new release matches the search, the server knows.
                reload();
            } else if status_matches(status.as_deref(), change.summary.status) {
                rows.update(|rows| rows.insert(0, change.summary.clone()));
            }
        }
    };
    follower.set_value(Some(follow(page.read_at, None, on_event, reload)));

    let newest = cursor.is_some().then(|| {
        let href = with_query(
            &path,
            &[("status", status.as_deref()), ("q", search.as_deref())],
        );
        view! { <a class="btn" href=href data-testid="first-page">"← Newest"</a> }
    });
    let older = next_cursor.map(|next| {
        let href = with_query(
            &path,
            &[
                ("status", status.as_deref()),
                ("q", search.as_deref()),
                ("cursor", Some(&next)),
            ],
        );
        view! { <a class="btn" href=href rel="next" data-testid="next-page">"Older releases →"</a> }
    });
    let empty = Memo::new(move |_| rows.with(Vec::is_empty));
    let count = move || {
        let count = rows.with(Vec::len);
        format!("{count} release{}", if count == 1 { "" } else { "s" })
    };
    let row_product = product.clone();
    view! {
        <Show when=move || !empty.get()
            fallback=move || view! {
                <div class="empty-state" data-testid="releases-empty">
                    <h2>{if filtered { "No release matches" } else { "No releases yet" }}</h2>
                    <p>{if filtered {
                        "Try another status or search, or clear the filters."
                    } else {
                        "Releases appear here when the promotion engine reports release.created."
                    }}</p>
                </div>
            }>
            <div class="card table-card">
                <table class="table releases" data-testid="releases-table">
                    <caption class="visually-hidden">{format!("Releases of {product}, newest first")}</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Release"</th>
                            <th scope="col">"Promotion flow"</th>
                            <th scope="col">"Environments"</th>
                            <th scope="col">"Commit"</th>
                            <th scope="col">"Created"</th>
                            <th scope="col" class="num">"Duration"</th>
                            <th scope="col">"Status"</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || rows.get() key=|release: &ReleaseSummary| release.id children={
                            let product = row_product.clone();
                            move |release: ReleaseSummary| view! {
                                <ReleaseRow product=product.clone() rows=rows id=release.id />
                            }
                        } />
                    </tbody>
                </table>
            </div>
        </Show>
        <nav class="pagination" aria-label="Pagination" data-testid="pagination">
            {newest}
            <span class="muted">{count}</span>
            {older}
        </nav>
    }
}

#[component]
fn ReleaseRow(product: String, rows: RwSignal<Vec<ReleaseSummary>>, id: i64) -> impl IntoView {
    let release = Memo::new(move |_| rows.with(|rows| rows.iter().find(|r| r.id == id).cloned()));
    let get = move |f: fn(&ReleaseSummary) -> String| {
        move || release.with(|r| r.as_ref().map(f).unwrap_or_default())
    };
    let status = Memo::new(move |_| {
        release.with(|r| r.as_ref().map_or(ReleaseStatus::Progressing, |r| r.status))
    });
    let href = release_path(&product, id);
    let (flow, version, sha, created_at) = release.with_untracked(|r| {
        r.as_ref()
            .map(|r| {
                (
                    r.flow.clone(),
                    r.version.clone(),
                    short_sha(&r.commit.sha).to_owned(),
                    r.created_at,
                )
            })
            .unwrap_or_default()
    });
    let superseded = move || {
        release.with(|r| r.as_ref().and_then(|r| r.superseded_by)).map(|by| {
            view! {
                <div class="small">
                    <a class="supersede" href=release_path(&product, by) data-testid="superseded-by">
                        {format!("superseded by #{by}")}
                    </a>
                </div>
            }
        })
    };
    let environments = move || {
        release.with(|r| {
            r.as_ref()
                .map(|r| env_dots_markup(&r.environments))
                .unwrap_or_default()
        })
    };
    let end = Signal::derive(move || {
        release.with(|r| {
            r.as_ref()
                .filter(|r| !matches!(r.status, ReleaseStatus::Progressing))
                .map(|r| r.updated_at)
        })
    });
    view! {
        <tr data-testid="release-row" data-release=id data-status=move || status.get().as_str()>
            <th scope="row">
                <a class="release-link" href=href.clone()>{format!("#{id}")}</a>
                {version.map(|v| view! { <div class="muted mono small">{v}</div> })}
            </th>
            <td><a href=format!("{href}#flow")>{flow}</a></td>
            <td><ul class="env-dots" aria-label="Environments" inner_html=environments></ul></td>
            <td class="commit-cell">
                <span class="mono sha">{sha}</span>
                <span class="commit-cell__message" title=get(|r| r.commit.message.clone())>
                    {get(|r| first_line(&r.commit.message).to_owned())}
                </span>
                <span class="muted small">{get(|r| r.commit.author.name.clone())}</span>
            </td>
            <td><RelativeTime time=created_at /></td>
            <td class="num"><Elapsed start=Some(created_at) end=end /></td>
            <td>
                {move || view! { <StatusBadge status=status.get() /> }}
                {superseded}
            </td>
        </tr>
    }
}

//! `/products/{product}/releases` — the Releases table. Status filter,
//! search and cursor are query parameters (`?status=&q=&cursor=`), so a
//! filtered page is a link and works without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::releases::list_releases;
use crate::components::status::{StatusBadge, StatusIcon, StatusWord};
use crate::components::time::{Elapsed, RelativeTime};
use crate::components::url::{release_path, releases_path, with_query};
use crate::routes::not_found::ErrorPage;
use crate::routes::release::{first_line, short_sha};
use domain::ReleasePage;
use domain::{ReleaseStatus, ReleaseSummary};

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

    view! {
        <Title text=move || format!("Releases · {}", product.get())/>
        // Changes to this product's releases refresh the page in place.
        <section class="page" data-testid="releases-page" data-live="" data-live-product=move || product.get()>
            <nav class="breadcrumb" aria-label="Breadcrumb">
                <ol>
                    <li><a href="/">"Environments"</a></li>
                    <li aria-current="page">{move || product.get()}</li>
                </ol>
            </nav>
            <header class="page__header">
                <h1>"Releases of " <span class="mono">{move || product.get()}</span></h1>
                <p class="page__lead">"Newest first. Every release, where it went, and how it ended."</p>
            </header>
            <form method="get" action="" class="filters" role="search" data-testid="release-filters"
                data-noscroll="true">
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
                        value=move || search.get().unwrap_or_default() />
                </label>
                <button type="submit" class="btn btn--primary" data-testid="filter-apply">"Apply"</button>
                {move || (status.get().is_some() || search.get().is_some()).then(|| view! {
                    <a class="btn btn--ghost" href=path() data-testid="filter-clear">"Clear"</a>
                })}
            </form>
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

/// The table of one page of releases, and the links to the other pages.
#[component]
fn ReleasesTable(
    product: String,
    page: ReleasePage,
    status: Option<String>,
    search: Option<String>,
    cursor: Option<String>,
) -> impl IntoView {
    let path = releases_path(&product);
    let filtered = status.is_some() || search.is_some();
    let newest = cursor.is_some().then(|| {
        let href = with_query(
            &path,
            &[("status", status.as_deref()), ("q", search.as_deref())],
        );
        view! { <a class="btn" href=href data-testid="first-page">"← Newest"</a> }
    });
    let older = page.next_cursor.clone().map(|next| {
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
    if page.releases.is_empty() {
        return view! {
            <div class="empty-state" data-testid="releases-empty">
                <h2>{if filtered { "No release matches" } else { "No releases yet" }}</h2>
                <p>{if filtered {
                    "Try another status or search, or clear the filters."
                } else {
                    "Releases appear here when the promotion engine reports release.created."
                }}</p>
                {newest}
            </div>
        }
        .into_any();
    }
    let count = page.releases.len();
    view! {
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
                    {page
                        .releases
                        .into_iter()
                        .map(|release| view! { <ReleaseRow product=product.clone() release=release /> })
                        .collect_view()}
                </tbody>
            </table>
        </div>
        <nav class="pagination" aria-label="Pagination" data-testid="pagination">
            {newest}
            <span class="muted">{format!("{count} release{}", if count == 1 { "" } else { "s" })}</span>
            {older}
        </nav>
    }
    .into_any()
}

#[component]
fn ReleaseRow(product: String, release: ReleaseSummary) -> impl IntoView {
    let href = release_path(&product, release.id);
    let finished = !matches!(release.status, ReleaseStatus::Progressing);
    let superseded = release.superseded_by.map(|by| {
        view! {
            <a class="supersede" href=release_path(&product, by) data-testid="superseded-by">
                {format!("superseded by #{by}")}
            </a>
        }
    });
    let commit = release.commit.clone();
    view! {
        <tr data-testid="release-row" data-release=release.id data-status=release.status.as_str()>
            <th scope="row">
                <a class="release-link" href=href.clone()>{format!("#{}", release.id)}</a>
                {release.version.clone().map(|v| view! { <div class="muted mono small">{v}</div> })}
            </th>
            <td><a href=format!("{href}#flow")>{release.flow.clone()}</a></td>
            <td>
                <ul class="env-dots" aria-label="Environments">
                    {release
                        .environments
                        .iter()
                        .map(|env| {
                            let label = format!("{}: {}", env.name, env.status.as_str());
                            view! {
                                <li title=label.clone() data-env=env.name.clone() data-status=env.status.as_str()>
                                    <StatusIcon status=env.status.key() size=18 />
                                    <span class="visually-hidden">{label.clone()}</span>
                                </li>
                            }
                        })
                        .collect_view()}
                </ul>
            </td>
            <td class="commit-cell">
                <span class="mono sha">{short_sha(&commit.sha).to_owned()}</span>
                <span class="commit-cell__message" title=commit.message.clone()>
                    {first_line(&commit.message).to_owned()}
                </span>
                <span class="muted small">{commit.author.name.clone()}</span>
            </td>
            <td><RelativeTime time=release.created_at /></td>
            <td class="num">
                <Elapsed start=Some(release.created_at) end=finished.then_some(release.updated_at) />
            </td>
            <td>
                <StatusBadge status=release.status />
                {superseded.map(|link| view! { <div class="small">{link}</div> })}
            </td>
        </tr>
    }
}

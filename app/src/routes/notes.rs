//! `/products/{product}/releases/{id}/notes` — what a release changes:
//! commits, pull requests, issues, and per environment everything that
//! changed since the last release that succeeded there.

use leptos::html::H1;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::notes::get_release_notes;
use crate::components::navigation::page_shown;
use crate::components::time::RelativeTime;
use crate::components::url::release_path;
use crate::routes::not_found::ErrorPage;
use crate::routes::release::{first_line, short_sha, use_release_params, Breadcrumb, ReleaseTabs};
use domain::AppError;
use domain::Commit;
use domain::{EnvNotes, NoteChanges, ReleaseNotes};

#[component]
pub fn NotesPage() -> impl IntoView {
    let (product, id) = use_release_params();
    let notes = Resource::new(
        move || (product.get(), id.get()),
        |(product, id)| async move {
            match id {
                Some(id) => get_release_notes(product, id).await,
                None => Err(AppError::not_found("release ids are numbers")),
            }
        },
    );
    view! {
        <Suspense fallback=|| view! { <p class="loading" role="status">"Loading release notes…"</p> }>
            {move || Suspend::new(async move {
                match notes.await {
                    Ok(notes) => view! { <NotesBody notes=notes /> }.into_any(),
                    Err(error) => view! { <ErrorPage error=error /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn NotesBody(notes: ReleaseNotes) -> impl IntoView {
    let product = notes.product.clone();
    let id = notes.release;
    let heading = NodeRef::<H1>::new();
    page_shown(heading);
    view! {
        <Title text=format!("Notes of release #{id} · {product}") />
        <article class="page notes" data-testid="notes-page">
            <Breadcrumb product=product.clone() current=format!("#{id} notes") />
            <header class="page__header">
                <h1 node_ref=heading tabindex="-1">{format!("Release #{id}")}</h1>
                <p class="page__lead">
                    <span class="mono">{short_sha(&notes.commit.sha).to_owned()}</span> " "
                    {first_line(&notes.commit.message).to_owned()}
                </p>
            </header>
            <ReleaseTabs product=product.clone() id=id notes=true />
            <section class="card notes__section" aria-labelledby="notes-changes-heading">
                <h2 id="notes-changes-heading">"Changes in this release"</h2>
                <Changes changes=notes.changes.clone() prefix="release" />
            </section>
            <section class="notes__envs" aria-labelledby="notes-envs-heading">
                <h2 id="notes-envs-heading">"Per environment"</h2>
                <p class="muted">"What each environment gets with this release: everything since the last release that succeeded there."</p>
                {notes
                    .environments
                    .into_iter()
                    .map(|env| view! { <EnvChanges product=product.clone() env=env /> })
                    .collect_view()}
            </section>
        </article>
    }
}

#[component]
fn EnvChanges(product: String, env: EnvNotes) -> impl IntoView {
    let since = match env.since {
        Some(since) => view! {
            <span>"since " <a href=release_path(&product, since)>{format!("release #{since}")}</a></span>
        }
        .into_any(),
        None => view! { <span>"no earlier release succeeded here"</span> }.into_any(),
    };
    let releases = env.releases.len();
    let summary = format!(
        "{} · {} commit{}, {} pull request{}, {} issue{} from {} release{}{}",
        env.name,
        env.changes.commits.len(),
        plural(env.changes.commits.len()),
        env.changes.pull_requests.len(),
        plural(env.changes.pull_requests.len()),
        env.changes.issues.len(),
        plural(env.changes.issues.len()),
        releases,
        plural(releases),
        if env.truncated {
            " (older ones left out)"
        } else {
            ""
        }
    );
    let prefix = format!("env-{}", env.name);
    view! {
        <details class="card disclosure notes__env" data-testid="env-notes" data-env=env.name.clone()>
            <summary>
                <span class="notes__env-name">{summary}</span>
            </summary>
            <p class="muted notes__since">{since}</p>
            <Changes changes=env.changes prefix=prefix />
        </details>
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Commits, pull requests and issues, each a small table or list.
#[component]
fn Changes(changes: NoteChanges, #[prop(into)] prefix: String) -> impl IntoView {
    let commits = if changes.commits.is_empty() {
        view! { <p class="muted">"No commits."</p> }.into_any()
    } else {
        view! {
            <table class="table table--compact" data-testid="notes-commits">
                <thead>
                    <tr>
                        <th scope="col">"Commit"</th>
                        <th scope="col">"Message"</th>
                        <th scope="col">"Author"</th>
                        <th scope="col">"Time"</th>
                    </tr>
                </thead>
                <tbody>{changes.commits.into_iter().map(commit_row).collect_view()}</tbody>
            </table>
        }
        .into_any()
    };
    let prs = if changes.pull_requests.is_empty() {
        view! { <p class="muted">"No pull requests."</p> }.into_any()
    } else {
        view! {
            <ul class="link-list" data-testid="notes-prs">
                {changes
                    .pull_requests
                    .into_iter()
                    .map(|pr| {
                        let number = format!("#{}", pr.number);
                        let number = match domain::web_url(pr.url.as_deref()).map(str::to_owned) {
                            Some(url) => view! { <a class="mono" href=url>{number}</a> }.into_any(),
                            None => view! { <span class="mono">{number}</span> }.into_any(),
                        };
                        view! {
                            <li>
                                {number} " " <span>{pr.title.clone()}</span>
                                {pr.author.clone().map(|a| view! { <span class="muted">" by " {a}</span> })}
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    let issues = if changes.issues.is_empty() {
        view! { <p class="muted">"No issues."</p> }.into_any()
    } else {
        view! {
            <ul class="link-list" data-testid="notes-issues">
                {changes
                    .issues
                    .into_iter()
                    .map(|issue| {
                        let key = match domain::web_url(issue.url.as_deref()).map(str::to_owned) {
                            Some(url) => view! { <a class="mono" href=url>{issue.key.clone()}</a> }.into_any(),
                            None => view! { <span class="mono">{issue.key.clone()}</span> }.into_any(),
                        };
                        view! { <li>{key} " " {issue.title.clone().map(|t| view! { <span>{t}</span> })}</li> }
                    })
                    .collect_view()}
            </ul>
        }
        .into_any()
    };
    view! {
        <div class="changes">
            <h3 id=format!("{prefix}-commits")>"Commits"</h3>
            {commits}
            <div class="changes__pair">
                <div>
                    <h3>"Pull requests"</h3>
                    {prs}
                </div>
                <div>
                    <h3>"Issues"</h3>
                    {issues}
                </div>
            </div>
        </div>
    }
}

fn commit_row(commit: Commit) -> impl IntoView {
    let sha = short_sha(&commit.sha).to_owned();
    let sha = match domain::web_url(commit.url.as_deref()).map(str::to_owned) {
        Some(url) => view! { <a class="mono" href=url>{sha}</a> }.into_any(),
        None => view! { <span class="mono">{sha}</span> }.into_any(),
    };
    view! {
        <tr>
            <td>{sha}</td>
            <td title=commit.message.clone()>{first_line(&commit.message).to_owned()}</td>
            <td>{commit.author.name.clone()}</td>
            <td>{commit.timestamp.map(|t| view! { <RelativeTime time=t /> })}</td>
        </tr>
    }
}

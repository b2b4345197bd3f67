//! `/products/{product}/releases/{id}` — the release page: header, the
//! promotion-flow graph, and the selected environment (`?env=`) with its
//! open error (`?error=`). Rendered whole on the server (`SsrMode::Async`),
//! so deep links work on first load without JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::releases::get_release;
use crate::components::environment::EnvironmentPanel;
use crate::components::graph::PromotionGraph;
use crate::components::restart::{RestartControl, RestartHistory};
use crate::components::status::{StatusBadge, StatusIcon};
use crate::components::time::RelativeTime;
use crate::components::url::{release_path, releases_path};
use crate::routes::not_found::ErrorPage;
use domain::AppError;
use domain::{EnvStatus, ReleaseView};

/// The product slug and release id of the current route; `None` for an id
/// that is not a number.
pub fn use_release_params() -> (Memo<String>, Memo<Option<i64>>) {
    let params = use_params_map();
    let product = Memo::new(move |_| params.with(|p| p.get("product").unwrap_or_default()));
    let id = Memo::new(move |_| params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok())));
    (product, id)
}

/// The environment shown when the URL names none: the first failed one,
/// else the first running one, else the trigger environment.
pub fn default_environment(release: &ReleaseView) -> Option<String> {
    let first = |status: EnvStatus| release.environments.iter().find(|e| e.status == status);
    first(EnvStatus::Failed)
        .or_else(|| first(EnvStatus::Running))
        .or_else(|| release.environments.first())
        .map(|env| env.name.clone())
}

/// The environment to show: `?env=` if the release has it, else the one
/// holding `?error=`, else the default.
pub fn selected_environment(
    release: &ReleaseView,
    env: Option<&str>,
    error: Option<&str>,
) -> Option<String> {
    env.filter(|name| release.env(name).is_some())
        .map(str::to_owned)
        .or_else(|| {
            let error = error?;
            release
                .environments
                .iter()
                .find(|e| e.errors.iter().any(|x| x.id == error))
                .map(|e| e.name.clone())
        })
        .or_else(|| default_environment(release))
}

/// First line of a commit message.
pub fn first_line(message: &str) -> &str {
    message.lines().next().unwrap_or_default()
}

/// The first 7 characters of a sha.
pub fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

#[component]
pub fn ReleasePage() -> impl IntoView {
    let (product, id) = use_release_params();
    let query = use_query_map();
    let env_param = Memo::new(move |_| query.with(|q| q.get("env")));
    let error_param = Memo::new(move |_| query.with(|q| q.get("error")));
    // Keyed on the path only: `?env=`/`?error=` change the view, not the data.
    let release = Resource::new(
        move || (product.get(), id.get()),
        |(product, id)| async move {
            match id {
                Some(id) => get_release(product, id).await,
                None => Err(AppError::not_found("release ids are numbers")),
            }
        },
    );
    view! {
        <Transition fallback=|| view! { <p class="loading" role="status">"Loading the release…"</p> }>
            {move || Suspend::new(async move {
                match release.await {
                    Ok(release) => view! {
                        <ReleaseBody release=release env_param=env_param.get() error_param=error_param.get() />
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorPage error=error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ReleaseBody(
    release: ReleaseView,
    env_param: Option<String>,
    error_param: Option<String>,
) -> impl IntoView {
    let product = release.product.clone();
    let id = release.id;
    let path = release_path(&product, id);
    let title = format!("Release #{id} · {product}");
    let selected = selected_environment(&release, env_param.as_deref(), error_param.as_deref());
    let panel = selected
        .as_deref()
        .and_then(|name| release.env(name).cloned())
        .map(|env| {
            view! {
                <EnvironmentPanel product=product.clone() path=path.clone() env=env selected_error=error_param />
            }
        });
    let restarts = release.restarts.clone();

    view! {
        <Title text=title />
        // Changes to this release refresh the page in place; the selection
        // and the open panel live in the URL, so they stay.
        <article class="page release" data-testid="release-page" data-release=id data-live=""
            data-live-product=product.clone() data-live-release=id>
            <Breadcrumb product=product.clone() current=format!("#{id}") />
            <ReleaseHeader release=release.clone() />
            <ReleaseTabs product=product.clone() id=id notes=false />
            <section class="release__flow" aria-labelledby="flow-heading" id="flow">
                <h2 id="flow-heading" class="visually-hidden">"Promotion flow"</h2>
                <PromotionGraph release=release selected=selected />
            </section>
            {panel}
            <RestartHistory restarts=restarts />
        </article>
    }
}

/// Environments › product › current page.
#[component]
pub fn Breadcrumb(product: String, current: String) -> impl IntoView {
    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <ol>
                <li><a href="/">"Environments"</a></li>
                <li><a href=releases_path(&product)>{product.clone()}</a></li>
                <li aria-current="page">{current}</li>
            </ol>
        </nav>
    }
}

/// Overview | Release notes.
#[component]
pub fn ReleaseTabs(product: String, id: i64, notes: bool) -> impl IntoView {
    let overview = release_path(&product, id);
    let notes_href = format!("{overview}/notes");
    view! {
        <nav class="tabs" aria-label="Release">
            <a href=overview aria-current=(!notes).then_some("page") data-testid="tab-overview">"Overview"</a>
            <a href=notes_href aria-current=notes.then_some("page") data-testid="tab-notes">"Release notes"</a>
        </nav>
    }
}

/// Trigger commit, overall status, environment counts, supersede banner.
#[component]
fn ReleaseHeader(release: ReleaseView) -> impl IntoView {
    let commit = release.commit.clone();
    let sha = short_sha(&commit.sha).to_owned();
    let sha_view = match commit.url.clone() {
        Some(url) => {
            view! { <a class="mono sha" href=url data-testid="commit-sha">{sha}</a> }.into_any()
        }
        None => view! { <span class="mono sha" data-testid="commit-sha">{sha}</span> }.into_any(),
    };
    let message = first_line(&commit.message).to_owned();
    let time = commit.timestamp.unwrap_or(release.created_at);
    let counts = release.counts;
    let count = |status: &'static str, n: u32| {
        view! {
            <li class=format!("count-chip status--{status}") data-testid=format!("count-{status}")
                data-count=n>
                <StatusIcon status=status />
                <strong>{n}</strong>
                <span>{status}</span>
            </li>
        }
    };
    let superseded = release.superseded_by.map(|by| {
        view! {
            <p class="banner banner--terminated" data-testid="superseded-banner">
                <StatusIcon status="terminated" />
                "Superseded by "
                <a href=release_path(&release.product, by)>{format!("release #{by}")}</a>
                ": a newer release started the same workflows, so this one's were terminated."
            </p>
        }
    });
    view! {
        <header class="release-header card" data-testid="release-header">
            <div class="release-header__top">
                <h1>{format!("Release #{}", release.id)}</h1>
                <span data-testid="release-status" data-status=release.status.as_str()>
                    <StatusBadge status=release.status pill=true />
                </span>
                <span class="muted mono release-header__key" title="The sender's key">{release.key.clone()}</span>
                <RestartControl release=release.clone() />
            </div>
            <div class="commit-line" data-testid="commit">
                {sha_view}
                <span class="commit-line__message" title=commit.message.clone()>{message}</span>
                <span class="muted">
                    "by " <span class="commit-line__author">{commit.author.name.clone()}</span>
                    " · " <RelativeTime time=time />
                </span>
            </div>
            <div class="release-header__bottom">
                <ul class="counts" aria-label="Environments by status">
                    {count("failed", counts.failed)}
                    {count("successful", counts.successful)}
                    {count("running", counts.running)}
                    {count("pending", counts.pending)}
                </ul>
                <dl class="facts facts--inline">
                    {release.version.clone().map(|v| view! { <div><dt>"Version"</dt><dd class="mono">{v}</dd></div> })}
                    <div><dt>"Attempt"</dt><dd>{release.attempt}</dd></div>
                    <div><dt>"Created"</dt><dd><RelativeTime time=release.created_at /></dd></div>
                    <div><dt>"Updated"</dt><dd><RelativeTime time=release.updated_at /></dd></div>
                </dl>
            </div>
            {superseded}
        </header>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{derive_release, Author, Commit, EnvSpec, Flow, FlowSpec, ReleaseFacts};

    pub(crate) fn facts() -> ReleaseFacts {
        let env = |name: &str, deps: &[&str]| EnvSpec {
            name: name.into(),
            depends_on: deps.iter().map(|d| (*d).into()).collect(),
            applications: vec!["api".into()],
            pre_action: None,
            post_action: Some("verify".into()),
        };
        let flow = Flow::new(FlowSpec {
            name: "linear".into(),
            trigger: "dev".into(),
            environments: vec![
                env("dev", &[]),
                env("staging", &["dev"]),
                env("prod", &["staging"]),
            ],
        })
        .expect("valid flow");
        ReleaseFacts {
            product: "shop".into(),
            id: 7,
            key: "r7".into(),
            flow,
            commit: Commit {
                sha: "0123456789abcdef".into(),
                message: "Add checkout\n\nLonger body".into(),
                author: Author {
                    name: "Ada".into(),
                    email: None,
                },
                url: None,
                timestamp: None,
            },
            version: None,
            created_at: chrono::DateTime::UNIX_EPOCH,
            updated_at: chrono::DateTime::UNIX_EPOCH,
            env_attempts: Vec::new(),
            runs: Vec::new(),
            promotions: Vec::new(),
            git_errors: Vec::new(),
            health: Vec::new(),
        }
    }

    #[test]
    fn selection_prefers_url_then_error_then_default() {
        let release = derive_release(&facts());
        assert_eq!(
            selected_environment(&release, Some("prod"), None).as_deref(),
            Some("prod")
        );
        assert_eq!(
            selected_environment(&release, Some("nope"), None).as_deref(),
            Some("dev")
        );
        assert_eq!(
            selected_environment(&release, None, None).as_deref(),
            Some("dev")
        );
    }

    #[test]
    fn commit_helpers_cut_safely() {
        assert_eq!(short_sha("0123456789"), "0123456");
        assert_eq!(short_sha("abc"), "abc");
        assert_eq!(first_line("Add checkout\n\nbody"), "Add checkout");
        assert_eq!(first_line(""), "");
    }
}

//! `/products/{product}/releases/{id}` — the release page: header, the
//! promotion-flow graph, and the selected environment (`?env=`) with its
//! open error (`?error=`). Rendered whole on the server (`SsrMode::Async`),
//! so deep links work on first load without JavaScript; then the live
//! stream patches it in place (`crate::live`), and selecting an environment
//! or an error changes the URL, not the data.

use leptos::html::H1;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::api::releases::get_release;
use crate::components::environment::EnvironmentPanel;
use crate::components::graph::PromotionGraph;
use crate::components::navigation::page_shown;
use crate::components::restart::{RestartControl, RestartHistory};
use crate::components::status::{StatusBadge, StatusIcon};
use crate::components::time::RelativeTime;
use crate::components::url::{release_path, releases_path};
use crate::live::{follow, Follower, LiveEvent, Refetch};
use crate::routes::not_found::ErrorPage;
use domain::live::{LivePage, PageChange};
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
/// holding `?error=`, else `default` (the page's default when it loaded, so
/// a live change does not move the panel under the reader).
pub fn selected_environment(
    release: &ReleaseView,
    env: Option<&str>,
    error: Option<&str>,
    default: Option<&str>,
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
        .or_else(|| default.map(str::to_owned))
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
    let page = Resource::new(
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
                match page.await {
                    Ok(page) => view! {
                        <ReleaseBody page=page env_param=env_param error_param=error_param />
                    }
                    .into_any(),
                    Err(error) => view! { <ErrorPage error=error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// The page of one release, kept current by the live stream: each change
/// of it arrives as a patch from the state shown (`ReleaseView::apply`); a
/// patch from another state, or a change without one, fetches the page
/// again (once, however many arrive meanwhile).
#[component]
fn ReleaseBody(
    page: LivePage,
    env_param: Memo<Option<String>>,
    error_param: Memo<Option<String>>,
) -> impl IntoView {
    let product = page.view.product.clone();
    let id = page.view.id;
    let default = StoredValue::new(default_environment(&page.view));
    let release = RwSignal::new(page.view);
    let as_of = StoredValue::new(page.as_of);
    let reload = Reload::new(product.clone(), id, release, as_of);
    let follower = follow(
        page.read_at,
        Some((product.clone(), id)),
        {
            let product = product.clone();
            move |change_id, event| {
                let LiveEvent::Release(change) = event else {
                    return;
                };
                if change.product != product || change.release != id {
                    return;
                }
                match &change.detail {
                    Some(PageChange::Full(full)) if full.as_of > as_of.get_value() => {
                        release.set(full.view.clone());
                        as_of.set_value(full.as_of);
                    }
                    Some(PageChange::Full(_)) => {}
                    Some(PageChange::Patch(patch)) => {
                        let shown = as_of.get_value();
                        if patch.to <= shown {
                        } else if patch.base == shown {
                            release.update(|view| view.apply(patch));
                            as_of.set_value(patch.to);
                        } else {
                            reload.now();
                        }
                    }
                    // A patch may follow in the same frame; else fetch.
                    None if change_id > as_of.get_value() => reload.unless_caught_up(change_id),
                    None => {}
                }
            }
        },
        move || reload.now(),
    );
    reload.follower.set_value(Some(follower));

    let selected = Memo::new(move |_| {
        release.with(|r| {
            selected_environment(
                r,
                env_param.get().as_deref(),
                error_param.get().as_deref(),
                default.get_value().as_deref(),
            )
        })
    });
    let path = release_path(&product, id);
    let title = format!("Release #{id} · {product}");
    let restarts = Signal::derive(move || release.with(|r| r.restarts.clone()));
    let panel_product = product.clone();
    let panel_path = path.clone();
    let panel = move || {
        selected.get().map(|name| {
            view! {
                <EnvironmentPanel product=panel_product.clone() path=panel_path.clone()
                    release=release name=name selected_error=error_param />
            }
        })
    };
    let heading = NodeRef::<H1>::new();
    page_shown(heading);

    view! {
        <Title text=title />
        <article class="page release" data-testid="release-page" data-release=id>
            <Breadcrumb product=product.clone() current=format!("#{id}") />
            <ReleaseHeader release=release heading=heading />
            <ReleaseTabs product=product.clone() id=id notes=false />
            <section class="release__flow" aria-labelledby="flow-heading" id="flow">
                <h2 id="flow-heading" class="visually-hidden">"Promotion flow"</h2>
                <PromotionGraph release=release selected=selected />
            </section>
            {panel}
            <RestartHistory product=product.clone() id=id restarts=restarts />
        </article>
    }
}

/// Fetching the release page again, when a change could not be applied.
#[derive(Clone, Copy)]
struct Reload {
    product: StoredValue<String>,
    id: i64,
    release: RwSignal<ReleaseView>,
    as_of: StoredValue<i64>,
    follower: StoredValue<Option<Follower>>,
    refetch: Refetch,
}

impl Reload {
    fn new(
        product: String,
        id: i64,
        release: RwSignal<ReleaseView>,
        as_of: StoredValue<i64>,
    ) -> Reload {
        Reload {
            product: StoredValue::new(product),
            id,
            release,
            as_of,
            follower: StoredValue::new(None),
            refetch: Refetch::default(),
        }
    }

    /// Fetches the page again, unless a patch brings it to change
    /// `change_id` within a moment.
    fn unless_caught_up(self, change_id: i64) {
        set_timeout(
            move || {
                if self.as_of.get_value() < change_id {
                    self.now();
                }
            },
            std::time::Duration::from_millis(300),
        );
    }

    fn now(self) {
        self.refetch.run(move || async move {
            let product = self.product.get_value();
            if let Ok(page) = get_release(product, self.id).await {
                if page.as_of >= self.as_of.get_value() {
                    self.release.set(page.view);
                    self.as_of.set_value(page.as_of);
                }
                if let Some(follower) = self.follower.get_value() {
                    follower.read(page.read_at);
                }
            }
        });
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
fn ReleaseHeader(release: RwSignal<ReleaseView>, heading: NodeRef<H1>) -> impl IntoView {
    // What never changes after creation.
    let (id, product, key, commit, version, created_at) = release.with_untracked(|r| {
        (
            r.id,
            r.product.clone(),
            r.key.clone(),
            r.commit.clone(),
            r.version.clone(),
            r.created_at,
        )
    });
    let sha = short_sha(&commit.sha).to_owned();
    let sha_view = match domain::web_url(commit.url.as_deref()).map(str::to_owned) {
        Some(url) => {
            view! { <a class="mono sha" href=url data-testid="commit-sha">{sha}</a> }.into_any()
        }
        None => view! { <span class="mono sha" data-testid="commit-sha">{sha}</span> }.into_any(),
    };
    let message = first_line(&commit.message).to_owned();
    let time = commit.timestamp.unwrap_or(created_at);
    let status = Memo::new(move |_| release.with(|r| r.status));
    let counts = Memo::new(move |_| release.with(|r| r.counts));
    let count = move |name: &'static str, n: fn(domain::Counts) -> u32| {
        view! {
            <li class=format!("count-chip status--{name}") data-testid=format!("count-{name}")
                data-count=move || n(counts.get())>
                <StatusIcon status=name />
                <strong>{move || n(counts.get())}</strong>
                <span>{name}</span>
            </li>
        }
    };
    let superseded = move || {
        release.with(|r| r.superseded_by).map(|by| {
            view! {
                <p class="banner banner--terminated" data-testid="superseded-banner">
                    <StatusIcon status="terminated" />
                    "Superseded by "
                    <a href=release_path(&product, by)>{format!("release #{by}")}</a>
                    ": a newer release started the same workflows, so this one's were terminated."
                </p>
            }
        })
    };
    view! {
        <header class="release-header card" data-testid="release-header">
            <div class="release-header__top">
                <h1 node_ref=heading tabindex="-1">{format!("Release #{id}")}</h1>
                <span data-testid="release-status" data-status=move || status.get().as_str()>
                    {move || view! { <StatusBadge status=status.get() pill=true /> }}
                </span>
                <span class="muted mono release-header__key" title="The sender's key">{key}</span>
                <RestartControl release=release />
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
                    {count("failed", |c| c.failed)}
                    {count("successful", |c| c.successful)}
                    {count("running", |c| c.running)}
                    {count("pending", |c| c.pending)}
                </ul>
                <dl class="facts facts--inline">
                    {version.map(|v| view! { <div><dt>"Version"</dt><dd class="mono">{v}</dd></div> })}
                    <div><dt>"Attempt"</dt><dd>{move || release.with(|r| r.attempt)}</dd></div>
                    <div><dt>"Created"</dt><dd><RelativeTime time=created_at /></dd></div>
                    <div><dt>"Updated"</dt><dd>
                        <RelativeTime time=Signal::derive(move || release.with(|r| r.updated_at)) />
                    </dd></div>
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
            selected_environment(&release, Some("prod"), None, None).as_deref(),
            Some("prod")
        );
        assert_eq!(
            selected_environment(&release, Some("nope"), None, None).as_deref(),
            Some("dev")
        );
        assert_eq!(
            selected_environment(&release, None, None, None).as_deref(),
            Some("dev")
        );
        assert_eq!(
            selected_environment(&release, None, None, Some("staging")).as_deref(),
            Some("staging"),
            "the default the page loaded with"
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

//! `/` — the environments dashboard: one row per product, one cell per
//! environment with the version there, its status and the release deployed.
//! Live: a release's change updates the cells that show it, a promotion or
//! a health change its environment's cell; a new product loads the list.

use leptos::html::H1;
use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::products::list_products;
use crate::components::navigation::page_shown;
use crate::components::status::StatusBadge;
use crate::components::url::{release_path, releases_path};
use crate::live::{follow, Follower, LiveEvent, Refetch};
use crate::routes::not_found::ErrorPage;
use domain::live::{AsOf, ReleaseChanged};
use domain::{EnvOverview, ProductList, ProductOverview, ReleaseRef};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let products = Resource::new(|| (), |_| list_products());
    let heading = NodeRef::<H1>::new();
    page_shown(heading);
    view! {
        <Title text="Environments" />
        <section class="page" data-testid="dashboard">
            <header class="page__header">
                <h1 node_ref=heading tabindex="-1">"Environments"</h1>
                <p class="page__lead">"Every product, and what runs in each of its environments."</p>
            </header>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading products…"</p> }>
                {move || Suspend::new(async move {
                    match products.await {
                        Ok(list) => view! { <Products list=list /> }.into_any(),
                        Err(error) => view! { <ErrorPage error=error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// A release's change, applied to the product it belongs to.
fn apply_release(product: &mut ProductOverview, change: &ReleaseChanged) {
    let reference = ReleaseRef {
        id: change.release,
        key: change.summary.key.clone(),
        status: change.summary.status,
    };
    if product
        .latest_release
        .as_ref()
        .is_none_or(|latest| latest.id <= change.release)
    {
        product.latest_release = Some(reference.clone());
    }
    for cell in &mut product.environments {
        if cell
            .release
            .as_ref()
            .is_some_and(|r| r.id == change.release)
        {
            cell.release = Some(reference.clone());
            if let Some(env) = change
                .summary
                .environments
                .iter()
                .find(|e| e.name == cell.name)
            {
                cell.status = Some(env.status);
            }
        }
    }
}

/// Every product, following the live changes.
#[component]
fn Products(list: AsOf<ProductList>) -> impl IntoView {
    let products = RwSignal::new(list.data.products);
    let refetch = Refetch::default();
    let follower = StoredValue::new(None::<Follower>);
    let reload = move || {
        refetch.run(move || async move {
            if let Ok(list) = list_products().await {
                products.set(list.data.products);
                if let Some(follower) = follower.get_value() {
                    follower.read(list.read_at);
                }
            }
        })
    };
    let on_event = move |_: i64, event: &LiveEvent| {
        let known = products.with_untracked(|all| all.iter().any(|p| p.product == event.product()));
        if !known {
            // A product this page has not seen: the list has a new row.
            reload();
            return;
        }
        products.update(|all| {
            let Some(product) = all.iter_mut().find(|p| p.product == event.product()) else {
                return;
            };
            match event {
                LiveEvent::Release(change) => apply_release(product, change),
                LiveEvent::Environment(change) => {
                    let cell = change.cell.clone().unwrap_or(EnvOverview {
                        name: change.environment.clone(),
                        version: None,
                        release: None,
                        status: None,
                    });
                    match product
                        .environments
                        .iter_mut()
                        .find(|c| c.name == change.environment)
                    {
                        Some(held) => *held = cell,
                        None => product.environments.push(cell),
                    }
                }
                LiveEvent::Product(_) => {}
            }
        });
    };
    follower.set_value(Some(follow(list.read_at, None, on_event, reload)));
    let empty = Memo::new(move |_| products.with(Vec::is_empty));
    view! {
        <Show when=move || !empty.get() fallback=|| view! { <EmptyDashboard /> }>
            <div class="products">
                <For each=move || products.get() key=|p: &ProductOverview| p.product.clone() let:product>
                    <ProductRow products=products slug=product.product />
                </For>
            </div>
        </Show>
    }
}

#[component]
fn EmptyDashboard() -> impl IntoView {
    view! {
        <div class="empty-state" data-testid="dashboard-empty">
            <h2>"No products yet"</h2>
            <p>
                "Products appear here when a promotion engine posts its first "
                <code>"release.created"</code> " event to " <code>"POST /api/v1/events"</code> "."
            </p>
        </div>
    }
}

#[component]
fn ProductRow(products: RwSignal<Vec<ProductOverview>>, slug: String) -> impl IntoView {
    let product = Memo::new({
        let slug = slug.clone();
        move |_| products.with(|all| all.iter().find(|p| p.product == slug).cloned())
    });
    let heading_id = format!("product-{slug}");
    let latest = {
        let slug = slug.clone();
        move || {
            product.with(|p| p.as_ref().and_then(|p| p.latest_release.clone())).map(|release| {
                view! {
                    <a class="product__latest" href=release_path(&slug, release.id) data-testid="latest-release">
                        <span>{format!("Latest #{}", release.id)}</span>
                        <StatusBadge status=release.status />
                    </a>
                }
            })
        }
    };
    let cells = Signal::derive(move || {
        product.with(|p| {
            p.as_ref()
                .map(|p| p.environments.clone())
                .unwrap_or_default()
        })
    });
    let cell_slug = slug.clone();
    view! {
        <section class="product card" aria-labelledby=heading_id.clone() data-testid="product"
            data-product=slug.clone()>
            <header class="product__header">
                <h2 id=heading_id.clone()>
                    <a href=releases_path(&slug)>{slug.clone()}</a>
                </h2>
                {latest}
                <a class="btn btn--ghost product__all" href=releases_path(&slug)>"All releases →"</a>
            </header>
            <ol class="env-row" aria-label=format!("Environments of {slug}")>
                <For each=move || cells.get() key=|cell: &EnvOverview| cell.name.clone() let:cell>
                    <EnvCell product=cell_slug.clone() cells=cells name=cell.name />
                </For>
            </ol>
            // A product configured (its flow set) before its first release.
            {move || cells.with(Vec::is_empty).then(|| view! {
                <p class="product__empty muted">"No release yet."</p>
            })}
        </section>
    }
}

#[component]
fn EnvCell(product: String, cells: Signal<Vec<EnvOverview>>, name: String) -> impl IntoView {
    let env = Memo::new({
        let name = name.clone();
        move |_| cells.with(|all| all.iter().find(|c| c.name == name).cloned())
    });
    let status_key = move || {
        env.with(|e| {
            e.as_ref()
                .and_then(|e| e.status)
                .map_or("none", |s| s.as_str())
        })
    };
    let status = move || match env.with(|e| e.as_ref().and_then(|e| e.status)) {
        Some(status) => view! { <StatusBadge status=status /> }.into_any(),
        None => view! { <span class="status status--none">"Not deployed"</span> }.into_any(),
    };
    let version = move || match env.with(|e| e.as_ref().and_then(|e| e.version.clone())) {
        Some(v) => {
            view! { <span class="env-cell__version mono" title=v.clone()>{v.clone()}</span> }
                .into_any()
        }
        None => view! { <span class="env-cell__version muted">"—"</span> }.into_any(),
    };
    let release = {
        let name = name.clone();
        move || {
            env.with(|e| e.as_ref().and_then(|e| e.release.clone())).map(|release| {
                view! {
                    <a class="env-cell__release" href=format!("{}?env={}", release_path(&product, release.id),
                        crate::components::url::encode(&name))>
                        {format!("Release #{}", release.id)}
                    </a>
                }
            })
        }
    };
    view! {
        <li class=move || format!("env-cell env-cell--{}", status_key()) data-testid="env-cell" data-env=name.clone()
            data-status=status_key>
            <span class="env-cell__name">{name.clone()}</span>
            {version}
            {status}
            {release}
        </li>
    }
}

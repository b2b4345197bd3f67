//! `/` — the environments dashboard: one row per product, one cell per
//! environment with the version there, its status and the release deployed.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::products::list_products;
use crate::components::status::StatusBadge;
use crate::components::url::{release_path, releases_path};
use crate::routes::not_found::ErrorPage;
use domain::{EnvOverview, ProductOverview};

#[component]
pub fn DashboardPage() -> impl IntoView {
    let products = Resource::new(|| (), |_| list_products());
    view! {
        <Title text="Environments" />
        // `data-live`: every committed change anywhere refreshes the page in place.
        <section class="page" data-testid="dashboard" data-live="">
            <header class="page__header">
                <h1>"Environments"</h1>
                <p class="page__lead">"Every product, and what runs in each of its environments."</p>
            </header>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading products…"</p> }>
                {move || Suspend::new(async move {
                    match products.await {
                        Ok(list) if list.products.is_empty() => view! { <EmptyDashboard /> }.into_any(),
                        Ok(list) => view! {
                            <div class="products">
                                {list
                                    .products
                                    .into_iter()
                                    .map(|product| view! { <ProductRow product=product /> })
                                    .collect_view()}
                            </div>
                        }
                        .into_any(),
                        Err(error) => view! { <ErrorPage error=error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
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
fn ProductRow(product: ProductOverview) -> impl IntoView {
    let slug = product.product.clone();
    let heading_id = format!("product-{slug}");
    let latest = product.latest_release.clone().map(|release| {
        view! {
            <a class="product__latest" href=release_path(&slug, release.id) data-testid="latest-release">
                <span>{format!("Latest #{}", release.id)}</span>
                <StatusBadge status=release.status />
            </a>
        }
    });
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
                {product
                    .environments
                    .into_iter()
                    .map(|env| view! { <EnvCell product=slug.clone() env=env /> })
                    .collect_view()}
            </ol>
        </section>
    }
}

#[component]
fn EnvCell(product: String, env: EnvOverview) -> impl IntoView {
    let status_key = env.status.map(|s| s.as_str()).unwrap_or("none");
    let status = match env.status {
        Some(status) => view! { <StatusBadge status=status /> }.into_any(),
        None => view! { <span class="status status--none">"Not deployed"</span> }.into_any(),
    };
    let version = match env.version.clone() {
        Some(v) => {
            view! { <span class="env-cell__version mono" title=v.clone()>{v.clone()}</span> }
                .into_any()
        }
        None => view! { <span class="env-cell__version muted">"—"</span> }.into_any(),
    };
    let release = env.release.clone().map(|release| {
        view! {
            <a class="env-cell__release" href=format!("{}?env={}", release_path(&product, release.id),
                crate::components::url::encode(&env.name))>
                {format!("Release #{}", release.id)}
            </a>
        }
    });
    view! {
        <li class=format!("env-cell env-cell--{status_key}") data-testid="env-cell" data-env=env.name.clone()
            data-status=status_key>
            <span class="env-cell__name">{env.name.clone()}</span>
            {version}
            {status}
            {release}
        </li>
    }
}

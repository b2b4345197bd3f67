//! `/` — the environments dashboard.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DashboardPage() -> impl IntoView {
    view! {
        <Title text="Environments" />
        <section class="page" data-testid="dashboard">
            <header class="page__header">
                <h1>"Environments"</h1>
                <p class="page__lead">"Every product, and what runs in each of its environments."</p>
            </header>
            <div class="empty-state" data-testid="dashboard-empty">
                <h2>"No products yet"</h2>
                <p>
                    "Products appear here when a promotion engine posts its first "
                    <code>"release.created"</code> " event to " <code>"POST /api/v1/events"</code> "."
                </p>
            </div>
        </section>
    }
}

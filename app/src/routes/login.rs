//! `/login` — sign a browser in by pasting an API token. An operator token
//! allows restarting failed releases from the release page.

use leptos::html::H1;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::api::session::SignIn;
use crate::components::navigation::page_shown;
use domain::AppError;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = query
        .with_untracked(|q| q.get("next"))
        .unwrap_or_else(|| "/".to_string());
    let heading = NodeRef::<H1>::new();
    page_shown(heading);
    view! {
        <Title text="Sign in" />
        <section class="page page--narrow" data-testid="login-page">
            <header class="page__header">
                <h1 node_ref=heading tabindex="-1">"Sign in"</h1>
                <p class="page__lead">
                    "Paste an API token. An operator token lets you restart failed releases; "
                    "signing in starts a session (never the token itself) in a cookie only "
                    "this site can read, ended by signing out, after 12 hours idle or after 7 days."
                </p>
            </header>
            <LoginForm next=next />
        </section>
    }
}

/// The token form. A plain form post without JavaScript; with it
/// a wrong token is reported here without leaving the page, and
/// the browser goes on to `next` once signed in.
#[component]
fn LoginForm(next: String) -> impl IntoView {
    let sign_in = ServerAction::<SignIn>::new();
    let error = move || {
        sign_in
            .value()
            .get()
            .and_then(|result| result.err())
            .map(|error| match error {
                AppError::Unauthorized => {
                    "This token is not known. Check that you pasted all of it.".to_string()
                }
                other => other.to_string(),
            })
    };
    view! {
        <ActionForm action=sign_in attr:class="card login-form">
            <label for="login-token">"Token"</label>
            <input
                id="login-token"
                name="token"
                type="password"
                autocomplete="off"
                spellcheck="false"
                required
                placeholder="rls_…"
                data-testid="login-token"
            />
            <input type="hidden" name="next" value=next />
            <p class="form-error" role="alert" data-testid="login-error">{error}</p>
            <button type="submit" class="btn btn--primary" data-testid="login-submit">
                "Sign in"
            </button>
            <p class="login-form__hint">
                "Create one with " <code>"server token create --role operator"</code> "."
            </p>
        </ActionForm>
    }
}

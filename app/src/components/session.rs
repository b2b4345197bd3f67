//! The header's sign-in link, or the signed-in role with a sign-out button.
//! The session is loaded once per navigation and shared through context, so
//! pages can tell whether the browser may restart releases.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

use crate::api::session::{get_session, Session, SignOut};
use domain::AppError;

/// The browser's session, for pages that show write actions.
#[derive(Clone, Copy)]
pub struct SessionResource(pub Resource<Result<Session, AppError>>);

/// Loads the session (again on every navigation) and puts it in context.
pub fn provide_session() -> SessionResource {
    let location = use_location();
    let session = SessionResource(Resource::new(
        move || location.pathname.get(),
        |_| get_session(),
    ));
    provide_context(session);
    session
}

#[component]
pub fn SessionMenu(session: SessionResource) -> impl IntoView {
    let location = use_location();
    let sign_out = ServerAction::<SignOut>::new();
    let login_href = move || {
        let here = format!("{}{}", location.pathname.get(), location.search.get());
        format!("/login?next={}", encode(&here))
    };
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match session.0.await {
                    Ok(Session { role: Some(role) }) => view! {
                        <span class="session" data-testid="session-role" title="Signed in with a token of this role">
                            {role}
                        </span>
                        <ActionForm action=sign_out attr:class="session-form">
                            <button type="submit" class="btn btn--ghost" data-testid="sign-out">"Sign out"</button>
                        </ActionForm>
                    }
                    .into_any(),
                    _ => view! {
                        <a class="btn btn--ghost" href=login_href data-testid="sign-in">"Sign in"</a>
                    }
                    .into_any(),
                }
            })}
        </Transition>
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

//! The HTTP application: `fn router(state)` apart from `main`, so tests can
//! serve it on port 0, and `launch` which serves until shutdown.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use app::{shell, App};
use axum::extract::State;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use backend::db::Db;
use backend::{Core, Settings};
use domain::AppError;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;

use crate::metrics::Metrics;
use crate::state::AppState;

/// What `launch` needs besides the listener.
pub struct Launch {
    pub db: Db,
    pub anonymous_read: bool,
    /// Answer only requests whose `Host` is a loopback name (421 otherwise):
    /// the protection against DNS rebinding when anonymous read is on
    /// because the server listens on loopback.
    pub loopback_hosts_only: bool,
    /// The most live streams open at once, in total and per client address.
    pub streams: backend::StreamLimits,
    /// How long a request may take (the live stream excepted) before it
    /// answers 503.
    pub request_timeout: std::time::Duration,
    /// Seed demo data and run the simulator (`server demo`).
    pub demo: Option<crate::demo::DemoOptions>,
    /// The native adapters' links to the engines and GitHub's secret.
    pub adapters: backend::adapters::AdapterSettings,
}

/// Serves the application on `listener` until `shutdown` completes, then
/// drains in-flight requests and returns.
pub async fn launch(
    launch: Launch,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let address = listener.local_addr()?;
    let core = Core::new(
        launch.db,
        Settings {
            anonymous_read: launch.anonymous_read,
            streams: launch.streams,
        },
    );
    let state = AppState {
        loopback_hosts_only: launch.loopback_hosts_only,
        request_timeout: launch.request_timeout,
        core: core.clone(),
        leptos_options: leptos_options(address),
        adapters: launch.adapters,
    };
    // Before anything writes (see `checkpoint::start`).
    backend::checkpoint::start(&core);
    // Before anything commits or any stream starts (see `Tailer::start`).
    let tailer = backend::live::Tailer::start(core.clone()).await;
    tokio::spawn(tailer.run());
    if let Some(options) = launch.demo {
        let with_history = crate::demo::needs_history(&core)
            .await
            .map_err(std::io::Error::other)?;
        tokio::spawn(crate::demo::run(core.clone(), options, with_history));
    }
    crate::assets::precompress_in_background(site_pkg_dir(&state.leptos_options));
    // Webhook deliveries left pending by an earlier run are sent now.
    tokio::spawn(backend::webhook::run_worker(
        core.clone(),
        backend::webhook::RetryPolicy::default(),
    ));
    let streams = core.shutdown.clone();
    let app = router(state);
    // Live streams write small events as they happen: send each at once
    // rather than wait for the previous one's acknowledgement (Nagle).
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        // Live streams never end by themselves: end them, so draining
        // finishes.
        streams.send_replace(true);
    })
    .await
}

/// The Leptos options: read from the `LEPTOS_*` environment as cargo-leptos
/// sets it, with the listen address and hashed asset names filled in.
fn leptos_options(address: std::net::SocketAddr) -> LeptosOptions {
    let mut options = get_configuration(None)
        .map(|conf| conf.leptos_options)
        .unwrap_or_else(|_| LeptosOptions::builder().output_name("releases").build());
    options.site_addr = address;
    if options.output_name.is_empty() {
        options.output_name = "releases".into();
    }
    // cargo-leptos writes hashed asset names and a hash file beside the
    // binary; use them whenever that file is there.
    let hash_file = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(options.hash_file.as_ref())));
    options.hash_files = hash_file.is_some_and(|file| file.exists());
    options
}

fn site_pkg_dir(options: &LeptosOptions) -> PathBuf {
    PathBuf::from(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref())
}

/// The app's routes, generated once per process. Generating them renders the
/// app with every resource's loading suppressed by a process-wide flag
/// (`leptos_server::SuppressResourceLoad`): a second generation while a page
/// of another server in the same process renders (tests launch many) left
/// that page's resources unloaded and its response hanging until the request
/// timeout.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole router: API, health, metrics, static assets, and the pages.
pub fn router(state: AppState) -> Router {
    let loopback_hosts_only = state.loopback_hosts_only;
    let request_timeout = state.request_timeout;
    let metrics = Arc::new(Metrics::new(state.core.clone()));
    let routes = route_list();
    let leptos_options = state.leptos_options.clone();
    let context_core = state.core.clone();
    let fallback_core = state.core.clone();

    let pages = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(crate::rest::router())
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context_core.clone()),
            {
                let options = leptos_options.clone();
                move || shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(
            move || provide_context(fallback_core.clone()), shell
        ))
        .layer(CompressionLayer::new())
        .with_state(state);

    let mut router = Router::new()
        .nest_service(
            "/pkg",
            crate::assets::pkg_service(&site_pkg_dir(&leptos_options), leptos_options.hash_files),
        )
        .merge(pages)
        .route(
            "/metrics",
            get(crate::metrics::render).with_state(metrics.clone()),
        )
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::metrics::track,
        ));
    router = router.layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            within(request_timeout, request, next)
        },
    ));
    if loopback_hosts_only {
        router = router.layer(axum::middleware::from_fn(loopback_hosts));
    }
    security_headers(router)
        .layer(axum::middleware::from_fn(without_reactive_owner))
        .layer(crate::trace::layer())
}

/// Runs a request with no reactive owner current on its thread, before and
/// after each poll. Leptos keeps the current owner in a thread-local and
/// leaves it set after a page starts rendering (`Owner::new_root`), so a
/// request polled next on that worker thread inherited the page's owner:
/// a static file served by the fallback (`file_and_error_handler`) found
/// the page's `ResponseOptions` and took its headers — the page lost its
/// nonce policy, so its hydration script was blocked, and the file got the
/// page's status. Each handler sets the owners it needs while it runs.
async fn without_reactive_owner(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    fn clear() {
        if let Some(owner) = Owner::current() {
            owner.unset();
        }
    }
    let mut response = std::pin::pin!(next.run(request));
    std::future::poll_fn(move |cx| {
        clear();
        let poll = response.as_mut().poll(cx);
        clear();
        poll
    })
    .await
}

/// Answers 503 (the SPEC's error shape) when a request takes longer than
/// `timeout`; the live stream, which lasts by design, is exempt.
async fn within(
    timeout: std::time::Duration,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if request.uri().path() == "/api/v1/stream" {
        return next.run(request).await;
    }
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => AppError::unavailable(format!(
            "the request took longer than {} ms: try again",
            timeout.as_millis()
        ))
        .into_response(),
    }
}

/// Refuses (421, the SPEC's error shape) a request whose `Host` is not a
/// loopback name.
async fn loopback_hosts(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if is_loopback_host(host) {
        return next.run(request).await;
    }
    let error = AppError::invalid(
        "Host",
        "this server listens on loopback and answers loopback names only \
         (localhost, 127.0.0.1, [::1]); behind a proxy, start it with --anonymous-read=false",
    );
    (
        axum::http::StatusCode::MISDIRECTED_REQUEST,
        Json(error.to_json()),
    )
        .into_response()
}

/// `localhost`, `*.localhost`, `127.x.y.z` or `[::1]`, with any port.
pub fn is_loopback_host(host: &str) -> bool {
    // The `Host` header is a URL's authority: parsed as one.
    let Ok(url) = url::Url::parse(&format!("http://{host}/")) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost" || name.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Headers on every response: no MIME sniffing, no framing, the referrer
/// kept to this origin, and, where a page did not set its own (with its
/// nonce), a policy that allows only this origin.
fn security_headers(router: Router) -> Router {
    use axum::http::{header, HeaderValue};
    use tower_http::set_header::SetResponseHeaderLayer;
    router
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ))
}

/// The process is up.
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers: 200, else 503 with the SPEC's error shape.
async fn readyz(State(core): State<Core>) -> Result<Json<serde_json::Value>, AppError> {
    match core.db.ping().await {
        Ok(()) => Ok(Json(
            serde_json::json!({"status": "ready", "database": core.db.backend.name()}),
        )),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            Err(AppError::unavailable("the database does not answer"))
        }
    }
}

/// Completes on Ctrl-C or SIGTERM. The handlers are installed when this is
/// called, not when the future is first polled, so a signal that arrives
/// during start-up still drains and exits 0.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let terminate = async move {
            match terminate {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot listen for SIGTERM");
                    std::future::pending::<()>().await;
                }
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            () = terminate => {},
        }
        tracing::info!("shutting down: draining requests");
    }
}

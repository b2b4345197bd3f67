//! Every request gets an id (`x-request-id`: the one a proxy sent, else a
//! new one, echoed in the response) and a trace span carrying it, its
//! method and its route, so every log line written while serving it names
//! the request.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{HeaderName, HeaderValue, Request};
use tower::layer::util::Stack;
use tower::ServiceBuilder;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

/// The header that carries the request id.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: a random prefix per process and a counter, so ids from
/// several replicas do not collide and each stays short.
#[derive(Clone)]
pub struct RequestIds {
    prefix: u32,
    next: std::sync::Arc<AtomicU64>,
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds {
            prefix: rand::random(),
            next: std::sync::Arc::new(AtomicU64::new(1)),
        }
    }
}

impl MakeRequestId for RequestIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{:08x}-{n}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

/// The span of one request.
#[derive(Clone, Copy)]
pub struct RequestSpan;

impl<B> tower_http::trace::MakeSpan<B> for RequestSpan {
    fn make_span(&mut self, request: &Request<B>) -> tracing::Span {
        let id = request
            .headers()
            .get(&REQUEST_ID)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("-");
        tracing::info_span!(
            "request",
            request_id = %id,
            method = %request.method(),
            path = %request.uri().path(),
        )
    }
}

/// The layers, outermost first: set the id, trace with it, echo it.
pub type Layers = Stack<
    PropagateRequestIdLayer,
    Stack<
        TraceLayer<SharedClassifier<ServerErrorsAsFailures>, RequestSpan>,
        Stack<SetRequestIdLayer<RequestIds>, tower::layer::util::Identity>,
    >,
>;

/// Request ids and trace spans for every request.
pub fn layer() -> ServiceBuilder<Layers> {
    ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, RequestIds::default()))
        .layer(TraceLayer::new_for_http().make_span_with(RequestSpan))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
}

//! The caller of a REST request, resolved once from its headers by
//! `backend::auth::resolve`, as extractors that state what a handler needs.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::request::Parts;
use backend::auth::{self, Role};
use backend::Core;
use domain::AppError;

pub use backend::auth::Caller;

/// A caller allowed to read (see `backend::auth::require_read`): who, when
/// a token or session says.
pub struct Reader(pub Option<Caller>);

impl Reader {
    /// Whether the caller holds an operator token.
    pub fn is_operator(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|caller| caller.role == Role::Operator)
    }
}

impl<S> FromRequestParts<S> for Reader
where
    Core: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let core = Core::from_ref(state);
        let caller = auth::resolve(&core, &parts.headers, &parts.method).await?;
        auth::require_read(&core, caller.as_ref())?;
        Ok(Reader(caller))
    }
}

/// A caller with an `operator` token.
pub struct Operator(pub Caller);

impl<S> FromRequestParts<S> for Operator
where
    Core: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let core = Core::from_ref(state);
        let caller = auth::resolve(&core, &parts.headers, &parts.method).await?;
        auth::require(caller, Role::Operator).map(Operator)
    }
}

/// A caller with an `ingest` token.
pub struct Ingestor(pub Caller);

impl<S> FromRequestParts<S> for Ingestor
where
    Core: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let core = Core::from_ref(state);
        let caller = auth::resolve(&core, &parts.headers, &parts.method).await?;
        auth::require(caller, Role::Ingest).map(Ingestor)
    }
}

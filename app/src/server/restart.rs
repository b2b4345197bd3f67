//! Restarting a failed release (SPEC §2.6, §4.4): one transaction records
//! who restarted and when, opens the next attempt of every environment the
//! domain's `plan_restart` reopens, re-derives the release (it reads
//! `progressing`), appends its change and queues the orchestrator webhook
//! in the durable outbox; after the commit the live tailer, the delivery
//! worker and in-process subscribers hear of it.

use std::collections::BTreeMap;

use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{derive_release, plan_restart, DeliveryState, RestartError};
use crate::error::AppError;

use super::auth::{hash_token, session_token};
use super::state::AppState;
use super::store::restarts::NewRestart;
use super::store::{self, OrInternal};
use super::write::{Changed, Write};

/// The `type` of the webhook payload.
pub const RESTART_REQUESTED: &str = "release.restart_requested";

/// The body of the orchestrator webhook (SPEC §4.4), also published
/// in-process on `AppState::restarts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartRequested {
    /// Always `release.restart_requested`.
    #[serde(rename = "type")]
    pub kind: String,
    pub product: String,
    /// The per-product release id.
    pub release: i64,
    /// The sender's key of the release, as in its events.
    pub release_key: String,
    /// The release's attempt once restarted.
    pub attempt: u32,
    /// The environments to re-run, in flow order.
    pub environments: Vec<String>,
    /// The new attempt of each of them (they differ when some environments
    /// were restarted before).
    pub environment_attempts: BTreeMap<String, u32>,
    pub requested_by: String,
    pub requested_at: DateTime<Utc>,
}

/// What `POST …/restart` answers (202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartAccepted {
    #[serde(flatten)]
    pub request: RestartRequested,
    /// `pending` when the product has a webhook, else `none`: nobody will
    /// be notified.
    pub delivery: DeliveryState,
}

/// Who asked for a restart: the operator token's name and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    pub name: String,
    pub token_id: Option<i64>,
}

/// The token behind an (already authorised) request: its bearer token, or
/// else the browser's session cookie. 401 when neither names a token.
pub async fn requester(state: &AppState, headers: &HeaderMap) -> Result<Requester, AppError> {
    let bearer = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    let token = bearer
        .or_else(|| session_token(headers))
        .ok_or(AppError::Unauthorized)?;
    let mut conn = state.db.pool.acquire().await.or_internal()?;
    let (id, name) = store::restarts::token(&mut conn, &hash_token(&token))
        .await?
        .ok_or(AppError::Unauthorized)?;
    Ok(Requester {
        name,
        token_id: Some(id),
    })
}

/// Restarts release `id` of `product` on behalf of `requester`. 404 when
/// either is unknown, 409 unless the release is `failed` or `terminated`.
pub async fn restart_release(
    state: &AppState,
    product: &str,
    id: i64,
    requester: &Requester,
) -> Result<RestartAccepted, AppError> {
    let now = Utc::now();
    let millis = now.timestamp_millis();
    let mut write = Write::begin(state).await?;
    let conn = &mut *write.tx;
    let product_id = store::products::get(conn, product).await?;
    let row = store::releases::get(conn, product_id, id)
        .await?
        .ok_or_else(|| AppError::not_found(format!("product {product:?} has no release {id}")))?;
    let (pk, key, flow) = (row.pk, row.release_key.clone(), row.flow()?);
    let facts = store::facts::load(conn, vec![row]).await?;
    let view = facts
        .first()
        .map(derive_release)
        .ok_or_else(|| AppError::internal("release facts vanished"))?;
    let plan = plan_restart(&view, &flow).map_err(|error| match error {
        RestartError::NotRestartable(_) => AppError::conflict(error.to_string()),
    })?;

    let restart_id = store::restarts::insert(
        conn,
        &NewRestart {
            release_pk: pk,
            attempt: plan.attempt,
            environments: &plan.environments,
            requested_by: &requester.name,
            token_id: requester.token_id,
            requested_at: millis,
        },
    )
    .await?;
    let request = RestartRequested {
        kind: RESTART_REQUESTED.to_owned(),
        product: product.to_owned(),
        release: id,
        release_key: key,
        attempt: plan.attempt,
        environments: plan.environments.iter().map(|(e, _)| e.clone()).collect(),
        environment_attempts: plan.environments.iter().cloned().collect(),
        requested_by: requester.name.clone(),
        requested_at: store::time(millis)?,
    };
    let delivery = if store::webhooks::find(conn, product_id).await?.is_some() {
        let body = serde_json::to_string(&request).or_internal()?;
        store::restarts::enqueue(conn, restart_id, product_id, pk, &body, millis).await?;
        DeliveryState::Pending
    } else {
        DeliveryState::None
    };
    write
        .rederive(Changed::releases(&[pk], millis), millis)
        .await?;
    write.commit(state).await?;
    if delivery == DeliveryState::Pending {
        state.outbox.notify_one();
    }
    // Nobody listening is fine: the webhook is the durable path.
    let _ = state.restarts.send(request.clone());
    tracing::info!(
        product,
        release = id,
        attempt = plan.attempt,
        by = %requester.name,
        "release restarted"
    );
    Ok(RestartAccepted { request, delivery })
}

//! Restarting a failed release (SPEC §2.6, §4.4): one transaction records
//! who restarted and when, opens the next attempt of every environment the
//! domain's `plan_restart` reopens, re-derives the release (it reads
//! `progressing`), appends its change and queues the orchestrator webhook
//! in the durable outbox; after the commit the live tailer, the delivery
//! worker and in-process subscribers hear of it.

use chrono::Utc;
use serde::{Deserialize, Serialize};

use domain::{
    derive_release, plan_restart, AppError, DeliveryState, RestartError, RestartRequested,
    RESTART_REQUESTED,
};

use crate::auth::Caller;
use crate::state::Core;
use crate::store::restarts::NewRestart;
use crate::store::{self, OrInternal};
use crate::write::{Changed, Write};

/// What `POST …/restart` answers (202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestartAccepted {
    #[serde(flatten)]
    pub request: RestartRequested,
    /// `pending` when the product has a webhook, else `none`: nobody will
    /// be notified.
    pub delivery: DeliveryState,
}

/// Restarts release `id` of `product` on behalf of `requester` (an
/// operator). 404 when
/// either is unknown, 409 unless the release is `failed` or `terminated`.
pub async fn restart_release(
    core: &Core,
    product: &str,
    id: i64,
    requester: &Caller,
) -> Result<RestartAccepted, AppError> {
    let now = Utc::now();
    let millis = now.timestamp_millis();
    let mut write = Write::begin(core).await?;
    let conn = write.conn()?;
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
            token_id: Some(requester.token_id),
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
    write.commit().await?;
    if delivery == DeliveryState::Pending {
        core.outbox.notify_one();
    }
    // Nobody listening is fine: the webhook is the durable path.
    let _ = core.restarts.send(request.clone());
    tracing::info!(
        product,
        release = id,
        attempt = plan.attempt,
        by = %requester.name,
        "release restarted"
    );
    Ok(RestartAccepted { request, delivery })
}

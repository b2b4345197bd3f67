//! The orchestrator webhook (SPEC §4.4): its configuration per product,
//! and its delivery from the durable outbox
//! the restart transaction writes: a background worker claims due rows,
//! POSTs their exact body signed with `X-Releases-Signature: sha256=<hex
//! HMAC-SHA256>` using the product's current secret, and records the
//! outcome — delivered, retried later with exponential backoff, or failed
//! after the last attempt — re-deriving the release so its page shows the
//! state live. Rows left pending by a stopped server are picked up on start.
//! Secrets are never logged.

use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

use domain::AppError;

use crate::state::Core;
use crate::store::restarts::{DueDelivery, Outcome};
use crate::store::{self, OrInternal};
use crate::write::{Changed, Write};

/// Sets the orchestrator webhook of `product` (404 if unknown). The URL
/// must be http(s); the secret is stored and never returned or logged.
pub async fn set_webhook(
    core: &Core,
    product: &str,
    url: &str,
    secret: &str,
) -> Result<(), AppError> {
    if !domain::is_web_url(url) {
        return Err(AppError::invalid(
            "url",
            "the webhook URL must be an absolute http:// or https:// URL",
        ));
    }
    if let Some(host) = literal_host(url) {
        if is_metadata_address(host) {
            return Err(AppError::invalid(
                "url",
                "the webhook URL may not point at a link-local or metadata address \
                 (169.254.0.0/16, fe80::/10)",
            ));
        }
    }
    if url.len() > 2048 {
        return Err(AppError::invalid(
            "url",
            "the webhook URL is longer than 2048 bytes",
        ));
    }
    if secret.is_empty() || secret.len() > 1024 {
        return Err(AppError::invalid(
            "secret",
            "the secret must be 1 to 1024 bytes long",
        ));
    }
    let _writer = core.writer().await?;
    let mut conn = core.db.pool.acquire().await.or_internal()?;
    let product_id = store::products::get(&mut conn, product).await?;
    store::webhooks::put(
        &mut conn,
        product_id,
        url,
        secret,
        Utc::now().timestamp_millis(),
    )
    .await
}

/// Removes the orchestrator webhook of `product` (404 if the product is unknown).
pub async fn delete_webhook(core: &Core, product: &str) -> Result<(), AppError> {
    let _writer = core.writer().await?;
    let mut conn = core.db.pool.acquire().await.or_internal()?;
    let product_id = store::products::get(&mut conn, product).await?;
    store::webhooks::delete(&mut conn, product_id).await?;
    Ok(())
}

/// The signature header of every delivery.
pub const SIGNATURE_HEADER: &str = "X-Releases-Signature";

/// The IP address a URL's host is written as, if it is one, read as the
/// HTTP client reads it (so `http://2852039166/` is 169.254.169.254 too).
fn literal_host(url: &str) -> Option<std::net::IpAddr> {
    match url::Url::parse(url).ok()?.host()? {
        url::Host::Ipv4(ip) => Some(ip.into()),
        url::Host::Ipv6(ip) => Some(ip.into()),
        url::Host::Domain(_) => None,
    }
}

/// Link-local addresses, where cloud metadata services answer
/// (169.254.0.0/16, fe80::/10, and IPv4 ones written as IPv6). Loopback
/// and private addresses are allowed: the orchestrator is usually near.
pub fn is_metadata_address(ip: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.is_link_local(),
            None => (v6.segments()[0] & 0xffc0) == 0xfe80,
        },
    }
}

/// Resolves webhook hosts like the system does, leaving out link-local and
/// metadata addresses, so that no name (and no DNS answer changed after the
/// URL was set) can send a delivery there.
struct NoMetadataResolver;

impl reqwest::dns::Resolve for NoMetadataResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed: Vec<std::net::SocketAddr> = found
                .filter(|addr| !is_metadata_address(addr.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(format!(
                    "{host} resolves to no address a webhook may use (link-local and \
                     metadata addresses are refused)"
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// The client of every delivery: TLS with the system's and the bundled web
/// roots (`SSL_CERT_FILE` names other roots instead of the system's), no
/// redirects, no metadata addresses.
pub fn client(policy: &RetryPolicy) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(policy.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(std::sync::Arc::new(NoMetadataResolver))
        .user_agent(concat!("releases/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// How deliveries are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Delay after the first failure; doubled after each further one.
    pub base: Duration,
    /// The longest delay between two tries.
    pub cap: Duration,
    /// Tries before the delivery is `failed`.
    pub max_attempts: u32,
    /// Timeout of one request.
    pub timeout: Duration,
    /// How often the outbox is read when nothing wakes the worker (other
    /// replicas' restarts).
    pub poll: Duration,
}

impl Default for RetryPolicy {
    /// 1 s, 2 s, 4 s … up to 5 min between tries, 12 tries (about 20 min).
    fn default() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_attempts: 12,
            timeout: Duration::from_secs(10),
            poll: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The delay before try `attempts + 1`, after `attempts` failed ones
    /// (with up to 10% jitter, so many deliveries do not retry in step).
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(20);
        let delay = self.base.saturating_mul(1 << exponent).min(self.cap);
        let jitter = rand::rng().random_range(0.0..0.1);
        delay.mul_f64(1.0 + jitter).min(self.cap)
    }
}

/// `sha256=<hex HMAC-SHA256 of body with secret>`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Due deliveries read per round.
const BATCH: i64 = 64;

/// Runs the delivery worker until the server shuts down. Each product's
/// deliveries go one at a time, in order; different products' go at once,
/// so a slow or dead URL delays only its own product.
pub async fn run_worker(core: Core, policy: RetryPolicy) {
    let client = match client(&policy) {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "webhook deliveries are off: no HTTP client");
            return;
        }
    };
    let mut shutdown = core.shutdown.subscribe();
    let mut sending = tokio::task::JoinSet::new();
    let mut busy = std::collections::HashSet::new();
    loop {
        if *shutdown.borrow() {
            return;
        }
        let wait = match start_due(&core, &client, &policy, &mut busy, &mut sending).await {
            // What is due now belongs to a product still sending: its end wakes us.
            Ok(Some(due)) if due.is_zero() && !busy.is_empty() => policy.poll,
            Ok(Some(due)) => due.min(policy.poll),
            Ok(None) => policy.poll,
            Err(error) => {
                tracing::warn!(%error, "webhook outbox: will retry");
                policy.poll
            }
        };
        tokio::select! {
            () = core.outbox.notified() => {}
            () = tokio::time::sleep(wait) => {}
            Some(done) = sending.join_next() => {
                if let Ok(product_id) = done {
                    busy.remove(&product_id);
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}

/// Starts the oldest due delivery of every product not already sending;
/// returns how long until the next delivery is due.
async fn start_due(
    core: &Core,
    client: &reqwest::Client,
    policy: &RetryPolicy,
    busy: &mut std::collections::HashSet<i64>,
    sending: &mut tokio::task::JoinSet<i64>,
) -> Result<Option<Duration>, AppError> {
    let now = Utc::now().timestamp_millis();
    let mut conn = core.db.pool.acquire().await.or_internal()?;
    let due = store::restarts::due(&mut conn, now, BATCH).await?;
    for delivery in due {
        if !busy.insert(delivery.product_id) {
            continue;
        }
        let (core, client, policy) = (core.clone(), client.clone(), *policy);
        sending.spawn(async move {
            if let Err(error) = deliver(&core, &client, &policy, &delivery).await {
                tracing::warn!(delivery = delivery.id, %error, "webhook delivery: will retry");
            }
            delivery.product_id
        });
    }
    let next = store::restarts::next_due(&mut conn).await?;
    let now = Utc::now().timestamp_millis();
    Ok(next.map(|at| Duration::from_millis(u64::try_from(at - now).unwrap_or(0))))
}

/// Claims, sends and settles one delivery.
async fn deliver(
    core: &Core,
    client: &reqwest::Client,
    policy: &RetryPolicy,
    delivery: &DueDelivery,
) -> Result<(), AppError> {
    let lease = policy.timeout.as_millis() as i64 + 30_000;
    let (claimed, webhook) = {
        let _writer = core.writer().await?;
        let mut conn = core.db.pool.acquire().await.or_internal()?;
        let now = Utc::now().timestamp_millis();
        let claimed = store::restarts::claim(&mut conn, delivery, now + lease).await?;
        let webhook = store::webhooks::find(&mut conn, delivery.product_id).await?;
        (claimed, webhook)
    };
    if !claimed {
        return Ok(());
    }
    let attempts = u32::try_from(delivery.attempts).unwrap_or(u32::MAX) + 1;
    // The error of a failed try, and whether trying again may help.
    let failure: Option<(String, bool)> = match webhook {
        None => Some((
            "the product's webhook was removed before delivery".to_owned(),
            false,
        )),
        Some((url, secret)) => {
            let signature = sign(secret.as_bytes(), delivery.body.as_bytes());
            let sent = client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, signature)
                .body(delivery.body.clone())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => None,
                Ok(response) => Some((
                    format!("the webhook answered HTTP {}", response.status()),
                    true,
                )),
                // The URL may carry credentials in its query: leave it out.
                Err(error) => Some((
                    format!("the webhook could not be reached: {}", error.without_url()),
                    true,
                )),
            }
        }
    };
    let now = Utc::now().timestamp_millis();
    let outcome = match &failure {
        None => Outcome::Delivered,
        Some((error, retry)) => Outcome::Failed {
            error,
            next_attempt_at: (*retry && attempts < policy.max_attempts)
                .then(|| now + policy.backoff(attempts).as_millis() as i64),
        },
    };
    match &failure {
        None => tracing::info!(delivery = delivery.id, attempts, "webhook delivered"),
        Some((error, _)) => {
            tracing::warn!(delivery = delivery.id, attempts, %error, "webhook delivery failed")
        }
    }
    let mut write = Write::begin(core).await?;
    store::restarts::settle(write.conn()?, delivery.id, &outcome, now).await?;
    // The release page shows the delivery state: re-derive so watchers hear
    // of it, without moving the release's `updated_at`.
    write
        .rederive(Changed::releases(&[delivery.release_pk], i64::MIN), now)
        .await?;
    write.commit().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_the_rfc_4231_hmac_sha256() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn metadata_addresses_are_link_local_however_written() {
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "febf::1",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_metadata_address(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "192.168.1.1",
            "::1",
            "fc00::1",
            "fec0::1",
            "8.8.8.8",
        ] {
            assert!(!is_metadata_address(ip.parse().expect("ip")), "{ip}");
        }
        assert_eq!(
            literal_host("http://u:p@169.254.169.254:80/x?y#z"),
            Some("169.254.169.254".parse().expect("ip"))
        );
        assert_eq!(
            literal_host("https://[fe80::1]:8443/"),
            Some("fe80::1".parse().expect("ip"))
        );
        assert_eq!(literal_host("https://orchestrator.internal/hook"), None);
        assert_eq!(
            literal_host("http://2852039166/"),
            Some("169.254.169.254".parse().expect("ip"))
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        let secs = |n| policy.backoff(n).as_secs_f64();
        assert!((1.0..1.1).contains(&secs(1)));
        assert!((2.0..2.2).contains(&secs(2)));
        assert!((8.0..8.8).contains(&secs(4)));
        assert!(secs(30) <= 300.0);
        assert!(secs(30) >= 270.0);
    }
}

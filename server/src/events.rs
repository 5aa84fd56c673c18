//! What happens to licenses, told to whoever listens: security events (LicenseCM's security
//! log), webhook deliveries (queued in a durable outbox and sent by [`run_outbox`]), and
//! notifications for LicenseCM users.
//!
//! A webhook receives the events of products its owner owns; an admin's webhooks receive every
//! event. Deliveries are POSTs of `{"event", "timestamp", "data"}` with
//! `X-LicenseCM-Signature: sha256=<hex HMAC-SHA256 of the body keyed by the webhook's secret>`
//! (also `X-Webhook-Signature: <hex>`), retried with exponential backoff (10 s doubling, at most
//! an hour apart, 10 attempts); the outbox lives in sled, so a restart loses nothing.

use licet_core::audit::AuditAction;
use licet_core::ids::{LicenseId, ProductId};
use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::app::error::ApiResult;
use crate::app::journal::Journal;
use crate::app::state::AppState;
use licet_core::events::{DomainEvent, EventKind, Kind, kind};
use licet_core::model::{
    AuditEvent, Delivery, DeliveryState, License, Notification, SecurityEvent, Severity,
};
use licet_core::store::{Halted, LicensesWith};
use licet_core::store::{Record, StoreResult};

/// The webhook events there are (LicenseCM's eight, and licet's reinstated, renewed and
/// revoked).
pub use licet_core::events::EVENT_NAMES as WEBHOOK_EVENTS;

/// Checks a webhook URL: `http(s)://`, at most 2048 characters, and a host that resolves only
/// to public addresses unless the server allows private ones (`--webhook-allow-private`), so
/// that a caller cannot make the server call into its own network. Checked again at every
/// delivery ([`crate::outbound`]): a name may point elsewhere later. The error is a message
/// for the caller; each family answers it in its own shape.
pub async fn check_webhook_url(s: &AppState, url: &str) -> Result<(), String> {
    if url.len() > 2048 {
        return Err("url: at most 2048 characters".into());
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err("url: an http:// or https:// URL".into());
    }
    let (owned, allow) = (url.to_owned(), s.config.webhook_allow_private);
    let checked =
        tokio::task::spawn_blocking(move || crate::outbound::resolve_checked(&owned, allow))
            .await
            .unwrap_or(Err(crate::outbound::Failure::Dns));
    match checked {
        Ok(_) => Ok(()),
        Err(crate::outbound::Failure::Blocked) => Err(
            "url: the host resolves to a loopback, private or otherwise internal address, which this server does not call".into(),
        ),
        Err(crate::outbound::Failure::Dns) => Err("url: the host does not resolve".into()),
        Err(_) => Err("url: an http:// or https:// URL".into()),
    }
}

/// Checks the events a webhook subscribes to: one or more of [`WEBHOOK_EVENTS`].
pub fn check_webhook_events(events: &[String]) -> Result<(), String> {
    if events.is_empty() || events.len() > WEBHOOK_EVENTS.len() {
        return Err("events: one or more event names".into());
    }
    if let Some(e) = events
        .iter()
        .find(|e| !WEBHOOK_EVENTS.contains(&e.as_str()))
    {
        return Err(format!(
            "events: {e:?} is not one of {}",
            WEBHOOK_EVENTS.join(", ")
        ));
    }
    Ok(())
}

/// Checks a webhook's signing secret: 1 to 256 characters.
pub fn check_webhook_secret(secret: &str) -> Result<(), String> {
    if secret.is_empty() || secret.len() > 256 {
        return Err("secret: 1 to 256 characters".into());
    }
    Ok(())
}

/// A new webhook signing secret (shown once, to whoever made the webhook).
pub fn new_webhook_secret() -> String {
    format!(
        "whsec_{}",
        crate::ids::random_token(32).to_ascii_lowercase()
    )
}

/// Attempts before a delivery is given up.
pub const MAX_ATTEMPTS: u32 = 10;

/// Seconds to wait before attempt `n + 1` after `n` failures: 10 s doubling, at most an hour.
pub fn backoff(failures: u32) -> i64 {
    (10_i64 << failures.min(9)).min(3600)
}

/// The hex HMAC-SHA256 of `body` keyed by `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(body);
    crate::ids::hex(&mac.finalize().into_bytes())
}

/// The journal's events: who hears them, their records, security events and notifications.
/// Here, beside the outbox that delivers what they record.
impl Journal {
    /// The owner (LicenseCM user id) of a license's product, if a user owns it.
    pub async fn owner_of(&self, license: &License) -> Option<String> {
        self.store
            .product(&license.product_id)
            .await
            .ok()
            .flatten()
            .and_then(|p| p.owner_id)
    }

    /// The webhooks that hear event `name` of `product_id`: active, subscribed, and allowed
    /// to see it. A LicenseCM webhook hears its owner's products (an admin's, every product);
    /// an API webhook hears its key's product (an unrestricted key's, every product). Read
    /// before the change, so that the deliveries are built and written inside its store
    /// operation ([`Audience::record`]).
    pub async fn audience<K: Kind>(
        &self,
        kind: K,
        product_id: Option<&str>,
    ) -> StoreResult<Audience<K>> {
        Ok(Audience {
            kind,
            hooks: self.hearers(K::KIND, product_id).await?,
        })
    }

    /// The ids of the webhooks that hear events of `kind` about `product_id`.
    async fn hearers(&self, kind: EventKind, product_id: Option<&str>) -> StoreResult<Vec<String>> {
        let name = kind.name();
        let hooks = self.store.webhooks().await?;
        let mut heard = Vec::new();
        if hooks.is_empty() {
            return Ok(heard);
        }
        let product = match product_id {
            Some(p) => self.store.product(&ProductId::from(p)).await?,
            None => None,
        };
        for w in hooks {
            if !w.is_active || !w.events.iter().any(|e| e == name || e == "*") {
                continue;
            }
            let hears = if w.api {
                w.product_id
                    .as_deref()
                    .is_none_or(|p| Some(p) == product_id)
            } else {
                // A LicenseCM user's webhook hears the products the user reaches, by the rule
                // every surface it signs in to applies (`User::reaches`: its own; an admin's,
                // every LicenseCM user's and the operator products granted to it), and nothing
                // that names no product.
                match &product {
                    Some(p) => self
                        .store
                        .user(&w.owner_id)
                        .await?
                        .is_some_and(|u| u.is_active && u.reaches(p)),
                    None => false,
                }
            };
            if hears {
                heard.push(w.id);
            }
        }
        Ok(heard)
    }

    /// The record of `event` (known before its change): `audit` and its deliveries.
    pub async fn tell(&self, event: &DomainEvent, audit: Vec<AuditEvent>) -> ApiResult<Record> {
        let hooks = self.hearers(event.kind(), event.product_id()).await?;
        Ok(Record {
            audit,
            deliveries: deliveries(&hooks, event, self.clock.now()),
        })
    }

    /// A notification for a LicenseCM user.
    pub async fn notify(
        &self,
        user_id: &str,
        kind: &str,
        title: &str,
        message: &str,
    ) -> ApiResult<()> {
        self.store
            .put_notification(&Notification {
                id: crate::ids::uuid(),
                user_id: user_id.to_owned(),
                kind: kind.to_owned(),
                title: title.to_owned(),
                message: message.to_owned(),
                is_read: false,
                created_at: self.clock.now(),
            })
            .await?;
        Ok(())
    }

    /// Records a security event. Blocked requests also emit `security.blocked`; high and
    /// critical events emit `security.alert` and notify the product's owner.
    #[allow(clippy::too_many_arguments)]
    pub async fn security_event(
        &self,
        event_type: &str,
        severity: Severity,
        license: Option<&License>,
        ip: Option<String>,
        hwid: Option<&str>,
        blocked: bool,
        details: Value,
    ) -> ApiResult<SecurityEvent> {
        let mut event = SecurityEvent {
            seq: 0,
            event_type: event_type.to_owned(),
            severity,
            license_id: license.map(|l| l.id.clone()),
            product_id: license.map(|l| l.product_id.clone()),
            ip_address: ip,
            hwid: hwid.map(str::to_owned),
            is_blocked: blocked,
            details,
            created_at: self.clock.now(),
        };
        // Anyone can cause these (a bad envelope, a wrong password, a blocked address): the
        // same event of one address, license and machine is recorded once a minute, with the
        // number of repeats passed over since, and only a recorded one goes to webhooks.
        let repeats = self.once_a_minute(&[
            "security",
            event_type,
            event.ip_address.as_deref().unwrap_or(""),
            event.license_id.as_deref().unwrap_or(""),
            hwid.unwrap_or(""),
        ]);
        let Some(repeats) = repeats else {
            return Ok(event);
        };
        if repeats > 0
            && let Some(d) = event.details.as_object_mut()
        {
            d.insert("repeats_since_last".into(), json!(repeats));
        }
        let product_id = event.product_id.clone();
        let blocked_to = match blocked {
            true => Some(
                self.audience(kind::SecurityBlocked, product_id.as_deref())
                    .await?,
            ),
            false => None,
        };
        let alert_to = match severity >= Severity::High {
            true => Some(
                self.audience(kind::SecurityAlert, product_id.as_deref())
                    .await?,
            ),
            false => None,
        };
        let now = self.clock.now();
        let e = self
            .store
            .append_security_event(event, &|e| {
                let mut r = Record::none();
                if let Some(a) = &blocked_to {
                    r = r.and(a.record(e.clone(), now, Vec::new()));
                }
                if let Some(a) = &alert_to {
                    r = r.and(a.record(e.clone(), now, Vec::new()));
                }
                r
            })
            .await?;
        let owner = match license {
            Some(l) => self.owner_of(l).await,
            None => None,
        };
        if severity >= Severity::High
            && let Some(o) = &owner
        {
            self.notify(
                o,
                "security_alert",
                "Security alert",
                &format!("{event_type} ({severity:?})"),
            )
            .await?;
        }
        Ok(e)
    }
}

/// The webhooks that hear one kind of event (see [`AppState::audience`]). What it tells is
/// built by its kind from the kind's payload, so it cannot tell another kind of event.
#[derive(Debug, Clone)]
pub struct Audience<K> {
    kind: K,
    hooks: Vec<String>,
}

impl<K: Kind> Audience<K> {
    /// `audit` and the deliveries of the event of `payload` queued at `now`, as one record.
    pub fn record(&self, payload: K::Payload, now: i64, audit: Vec<AuditEvent>) -> Record {
        Record {
            audit,
            deliveries: deliveries(&self.hooks, &self.kind.event(payload), now),
        }
    }
}

/// The deliveries of `event` to `hooks`, queued at `now`.
fn deliveries(hooks: &[String], event: &DomainEvent, now: i64) -> Vec<Delivery> {
    if hooks.is_empty() {
        return Vec::new();
    }
    let body = json!({
        "event": event.name(),
        "timestamp": crate::payload::iso(now),
        "data": crate::payload::event(event),
    })
    .to_string();
    hooks
        .iter()
        .map(|w| Delivery {
            webhook_id: w.clone(),
            event: event.name().to_owned(),
            body: body.clone(),
            next_attempt_at: now,
            created_at: now,
            ..Delivery::default()
        })
        .collect()
}

pub use crate::dispatch::{Dispatch, IN_FLIGHT, PER_ENDPOINT};

/// One attempt at a delivery to `url`: the receiver's status and the time it took, or why it
/// failed (a class, never the raw error). Blocking: call it off the async workers.
pub fn deliver(
    s: &AppState,
    url: &str,
    secret: &[u8],
    event: &str,
    body: &str,
) -> Result<(u16, u64), crate::outbound::Failure> {
    let signature = sign(secret, body.as_bytes());
    let licensecm_signature = format!("sha256={signature}");
    crate::outbound::post(
        url,
        &[
            ("content-type", "application/json"),
            (
                "user-agent",
                concat!("licet-server/", env!("CARGO_PKG_VERSION")),
            ),
            ("x-licensecm-event", event),
            ("x-licensecm-signature", &licensecm_signature),
            ("x-webhook-signature", &signature),
        ],
        body,
        s.config.webhook_allow_private,
        Duration::from_secs(s.config.webhook_timeout),
    )
}

/// Sends what is due in the outbox: each due delivery not already in flight, concurrently
/// within [`PER_ENDPOINT`] and [`IN_FLIGHT`]; waits for the ones it started and returns how
/// many of them succeeded. Deliveries over the bounds wait for a later round.
pub async fn drain_outbox(s: &AppState) -> ApiResult<usize> {
    let now = s.clock.now();
    let mut round = tokio::task::JoinSet::new();
    for d in s.store.deliveries().await? {
        if d.next_attempt_at > now {
            continue;
        }
        // Claimed here, before any send of the round starts: a fast endpoint that answers
        // its first deliveries before the later ones are spawned still gets only its share
        // this round, so a round's share per endpoint does not depend on scheduling.
        let Some(claim) = s.dispatch.claim(d.id, &d.webhook_id) else {
            continue;
        };
        let s = s.clone();
        round.spawn(async move {
            let _claim = claim;
            attempt(&s, d.id, now).await
        });
    }
    let mut sent = 0;
    while let Some(r) = round.join_next().await {
        match r {
            Ok(Ok(true)) => sent += 1,
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!(
                code = e.code().as_str(),
                "webhook delivery failed to record"
            ),
            Err(e) => tracing::warn!(error = %e, "webhook delivery task failed"),
        }
    }
    Ok(sent)
}

/// Sends delivery `id` once, if it is still queued and due, and records the outcome durably;
/// whether it was delivered.
pub(crate) async fn attempt(s: &AppState, id: u64, now: i64) -> ApiResult<bool> {
    // Read again under the claim: another round may have sent it since it was listed.
    let Some(mut d) = s.store.delivery(id).await? else {
        return Ok(false);
    };
    if d.next_attempt_at > now {
        return Ok(false);
    }
    let Some(w) = s.store.webhook(&d.webhook_id).await? else {
        s.store.remove_delivery(d.id).await?;
        return Ok(false);
    };
    let Some(secret) = s.tokens.keys().unseal(&w.sealed_secret) else {
        tracing::warn!(webhook = %w.id, "webhook secret cannot be unsealed; delivery dropped");
        d.state = DeliveryState::Failed;
        d.settled_at = Some(now);
        d.last_error = Some("the webhook's secret cannot be unsealed".into());
        s.store.settle_delivery(&d).await?;
        return Ok(false);
    };
    let (state, url, event, body) = (s.clone(), w.url.clone(), d.event.clone(), d.body.clone());
    let result = tokio::task::spawn_blocking(move || {
        deliver(&state, &url, secret.as_bytes(), &event, &body)
    })
    .await
    .unwrap_or(Err(crate::outbound::Failure::Connection));
    d.last_status = match &result {
        Ok((status, _)) | Err(crate::outbound::Failure::HttpStatus(status)) => Some(*status),
        Err(_) => d.last_status,
    };
    let result = result.and_then(|(status, ms)| {
        if (200..300).contains(&status) {
            Ok((status, ms))
        } else {
            Err(crate::outbound::Failure::HttpStatus(status))
        }
    });
    d.attempts += 1;
    let delivered = match result {
        Ok(_) => {
            d.state = DeliveryState::Delivered;
            d.settled_at = Some(s.clock.now());
            d.last_error = None;
            s.store.settle_delivery(&d).await?;
            true
        }
        Err(why) => {
            d.last_error = Some(why.describe());
            if d.attempts >= MAX_ATTEMPTS {
                tracing::warn!(webhook = %w.id, error = why.class(), "webhook delivery given up");
                d.state = DeliveryState::Failed;
                d.settled_at = Some(s.clock.now());
                s.store.settle_delivery(&d).await?;
            } else {
                d.next_attempt_at = s.clock.now() + backoff(d.attempts - 1);
                s.store.update_delivery(&d).await?;
            }
            false
        }
    };
    Ok(delivered)
}

/// The outbox worker: starts a round every `every`. Rounds overlap, so an endpoint that never
/// answers holds up only its own deliveries.
pub fn run_outbox(s: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            // On a shared store one instance drains the outbox at a time, so that no delivery
            // is sent by two.
            if !s.leads("outbox").await {
                continue;
            }
            let s = s.clone();
            // Not held back by a backup's gate: a drain waits on webhook receivers for up to
            // --webhook-timeout, and a copy that catches a delivery half-recorded at worst sends
            // it again after a restore (deliveries are at least once in any case).
            tokio::spawn(async move {
                if let Err(e) = drain_outbox(&s).await {
                    tracing::warn!(code = e.code().as_str(), "webhook outbox failed");
                }
            });
        }
    })
}

/// Whether `l` has expired at `now`, and whether its current expiry was announced.
fn expiry_of(l: &License, now: i64) -> (bool, bool) {
    let due = l.expires_at.is_some_and(|e| e <= now);
    let announced = l
        .expiry_announced
        .is_some_and(|a| l.expires_at.is_some_and(|e| a >= e));
    (due, announced)
}

/// The license as stored when the sweeper found it not to announce (not due, announced
/// already, suspended or revoked).
struct NotNow(Box<License>);

/// The expiry sweeper: announces licenses that expired since the last sweep (webhook
/// `license.expired`, a notification for the owner, an audit event); returns how many.
pub async fn sweep_expired(s: &AppState) -> ApiResult<usize> {
    let now = s.clock.now();
    let mut n = 0;
    // The expiry index holds a candidate per expiry ever set; only those due are read, so a
    // sweep costs the licenses that expired, not every license (1M licenses).
    for (at, id) in s.store.expiry_candidates(now).await? {
        // Announced in one store operation that judges the license as stored then: a renewal
        // or a suspension that lands meanwhile is neither lost nor announced as an expiry.
        let Some(seen) = s.store.license(&LicenseId::from(&id)).await? else {
            s.store.forget_expiry(at, &id).await?;
            continue;
        };
        let audience = s
            .journal
            .audience(kind::LicenseExpired, Some(&seen.product_id))
            .await?;
        let stored = s
            .store
            .change_license_with(&id, &|l| {
                let (due, announced) = expiry_of(l, now);
                if !due || announced || l.status != licet_core::model::LicenseStatus::Active {
                    return Err(NotNow(Box::new(l.clone())));
                }
                let mut next = l.clone();
                next.expiry_announced = Some(now);
                let entry = s.journal.audit_entry(
                    "server",
                    AuditAction::LicenseExpired,
                    &l.id,
                    None,
                    json!({ "expires_at": l.expires_at }),
                    Some(l.product_id.clone()),
                );
                let told = audience.record(next.clone(), now, vec![entry]);
                Ok(Some((next, told)))
            })
            .await;
        let l = match stored {
            Ok(Some(l)) => l,
            Ok(None) => {
                s.store.forget_expiry(at, &id).await?;
                continue;
            }
            Err(Halted::Declined(NotNow(l))) => {
                let (due, announced) = expiry_of(&l, now);
                if !due || announced {
                    // Extended (its new expiry has its own entry), or done.
                    s.store.forget_expiry(at, &id).await?;
                }
                // Suspended or revoked: announced if it comes back while still expired.
                continue;
            }
            Err(Halted::Failed(e)) => return Err(e.into()),
        };
        s.store.forget_expiry(at, &id).await?;
        let owner = s.journal.owner_of(&l).await;
        if let Some(o) = &owner {
            s.journal
                .notify(
                    o,
                    "license_expired",
                    "License Expired",
                    &format!("License {} expired", l.key),
                )
                .await?;
        }
        n += 1;
    }

    Ok(n)
}

//! What happens to licenses, told to whoever listens: security events (LicenseCM's security
//! log), webhook deliveries (queued in a durable outbox and sent by [`run_outbox`]), and
//! notifications for LicenseCM users.
//!
//! A webhook receives the events of products its owner owns; an admin's webhooks receive every
//! event. Deliveries are POSTs of `{"event", "timestamp", "data"}` with
//! `X-LicenseCM-Signature: sha256=<hex HMAC-SHA256 of the body keyed by the webhook's secret>`
//! (also `X-Webhook-Signature: <hex>`), retried with exponential backoff (10 s doubling, at most
//! an hour apart, 10 attempts); the outbox lives in sled, so a restart loses nothing.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Value, json};

use crate::error::ApiResult;
use crate::model::{Delivery, License, Notification, Role, SecurityEvent, Severity};
use crate::state::AppState;

/// The webhook events LicenseCM defines.
pub const WEBHOOK_EVENTS: &[&str] = &[
    "license.created",
    "license.activated",
    "license.deactivated",
    "license.expired",
    "license.suspended",
    "license.deleted",
    "security.alert",
    "security.blocked",
];

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
    crate::state::hex(&mac.finalize().into_bytes())
}

impl AppState {
    /// The owner (LicenseCM user id) of a license's product, if a user owns it.
    pub fn owner_of(&self, license: &License) -> Option<String> {
        self.store
            .product(&license.product_id)
            .ok()
            .flatten()
            .and_then(|p| p.owner_id)
    }

    /// Queues `event` for every active webhook that subscribes to it and may see it: the
    /// owner's, and every admin's. Durable with the next commit.
    pub fn emit(&self, event: &str, owner: Option<&str>, data: Value) -> ApiResult<()> {
        let hooks = self.store.webhooks()?;
        if hooks.is_empty() {
            return Ok(());
        }
        let now = self.clock.now();
        let body = json!({
            "event": event,
            "timestamp": crate::routes::licensecm::iso(now),
            "data": data,
        })
        .to_string();
        let mut out = Vec::new();
        for w in hooks {
            if !w.is_active || !w.events.iter().any(|e| e == event || e == "*") {
                continue;
            }
            let admin = self
                .store
                .user(&w.owner_id)?
                .is_some_and(|u| u.role == Role::Admin && u.is_active);
            if !admin && owner != Some(w.owner_id.as_str()) {
                continue;
            }
            out.push(Delivery {
                id: 0,
                webhook_id: w.id,
                event: event.to_owned(),
                body: body.clone(),
                attempts: 0,
                next_attempt_at: now,
                last_error: None,
            });
        }
        self.store.enqueue(&mut out)
    }

    /// A notification for a LicenseCM user.
    pub fn notify(&self, user_id: &str, kind: &str, title: &str, message: &str) -> ApiResult<()> {
        self.store.put_notification(&Notification {
            id: crate::ids::uuid(),
            user_id: user_id.to_owned(),
            kind: kind.to_owned(),
            title: title.to_owned(),
            message: message.to_owned(),
            is_read: false,
            created_at: self.clock.now(),
        })
    }

    /// Records a security event. Blocked requests also emit `security.blocked`; high and
    /// critical events emit `security.alert` and notify the product's owner.
    #[allow(clippy::too_many_arguments)]
    pub fn security_event(
        &self,
        event_type: &str,
        severity: Severity,
        license: Option<&License>,
        ip: Option<String>,
        hwid: Option<&str>,
        blocked: bool,
        details: Value,
    ) -> ApiResult<SecurityEvent> {
        let e = self.store.append_security_event(SecurityEvent {
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
        })?;
        let owner = license.and_then(|l| self.owner_of(l));
        let data = crate::routes::licensecm::security::event_view(&e);
        if blocked {
            self.emit("security.blocked", owner.as_deref(), data.clone())?;
        }
        if severity >= Severity::High {
            self.emit("security.alert", owner.as_deref(), data)?;
            if let Some(o) = &owner {
                self.notify(
                    o,
                    "security_alert",
                    "Security alert",
                    &format!("{event_type} ({severity:?})"),
                )?;
            }
        }
        Ok(e)
    }
}

/// One attempt at a delivery: the response status and the time it took.
pub fn deliver(url: &str, secret: &[u8], event: &str, body: &str) -> Result<(u16, u64), String> {
    let signature = sign(secret, body.as_bytes());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .max_redirects(0)
        .build()
        .into();
    let started = std::time::Instant::now();
    let resp = agent
        .post(url)
        .header("content-type", "application/json")
        .header(
            "user-agent",
            concat!("licet-server/", env!("CARGO_PKG_VERSION")),
        )
        .header("x-licensecm-event", event)
        .header("x-licensecm-signature", format!("sha256={signature}"))
        .header("x-webhook-signature", signature)
        .send(body)
        .map_err(|e| e.to_string())?;
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok((resp.status().as_u16(), ms))
}

/// Sends what is due in the outbox once; returns how many deliveries succeeded.
pub async fn drain_outbox(s: &AppState) -> ApiResult<usize> {
    let now = s.clock.now();
    let mut sent = 0;
    let mut changed = false;
    for mut d in s.store.deliveries()? {
        if d.next_attempt_at > now {
            continue;
        }
        let Some(w) = s.store.webhook(&d.webhook_id)? else {
            s.store.remove_delivery(d.id)?;
            changed = true;
            continue;
        };
        let Some(secret) = s.keys.unseal(&w.sealed_secret) else {
            tracing::warn!(webhook = %w.id, "webhook secret cannot be unsealed; delivery dropped");
            s.store.remove_delivery(d.id)?;
            changed = true;
            continue;
        };
        let (url, event, body) = (w.url.clone(), d.event.clone(), d.body.clone());
        let result =
            tokio::task::spawn_blocking(move || deliver(&url, secret.as_bytes(), &event, &body))
                .await
                .unwrap_or_else(|e| Err(e.to_string()));
        match result {
            Ok((status, _)) if (200..300).contains(&status) => {
                s.store.remove_delivery(d.id)?;
                sent += 1;
            }
            other => {
                let why = match other {
                    Ok((status, _)) => format!("HTTP {status}"),
                    Err(e) => e,
                };
                d.attempts += 1;
                if d.attempts >= MAX_ATTEMPTS {
                    tracing::warn!(webhook = %w.id, error = %why, "webhook delivery given up");
                    s.store.remove_delivery(d.id)?;
                } else {
                    d.next_attempt_at = now + backoff(d.attempts - 1);
                    d.last_error = Some(why);
                    s.store.update_delivery(&d)?;
                }
            }
        }
        changed = true;
    }
    if changed {
        s.store.commit().await?;
    }
    Ok(sent)
}

/// The outbox worker: drains due deliveries every `every`.
pub fn run_outbox(s: AppState, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = drain_outbox(&s).await {
                tracing::warn!(code = e.code(), "webhook outbox failed");
            }
        }
    })
}

/// The expiry sweeper: announces licenses that expired since the last sweep (webhook
/// `license.expired`, a notification for the owner, an audit event); returns how many.
pub async fn sweep_expired(s: &AppState) -> ApiResult<usize> {
    let now = s.clock.now();
    let mut n = 0;
    // The expiry index holds a candidate per expiry ever set; only those due are read, so a
    // sweep costs the licenses that expired, not every license (issue #7: 1M licenses).
    for (entry, id) in s.store.expiry_candidates(now)? {
        let Some(mut l) = s.store.license(&id)? else {
            s.store.forget_expiry(&entry)?;
            continue;
        };
        let due = l.expires_at.is_some_and(|e| e <= now);
        let announced = l
            .expiry_announced
            .is_some_and(|a| l.expires_at.is_some_and(|e| a >= e));
        if !due || announced {
            // Extended (its new expiry has its own entry), or done.
            s.store.forget_expiry(&entry)?;
            continue;
        }
        if l.status != crate::model::LicenseStatus::Active {
            // Suspended or revoked: announced if it comes back while still expired.
            continue;
        }
        let _seat = s.lock_license(&l.id).await;
        l.expiry_announced = Some(now);
        s.store.update_license(&l)?;
        s.store.forget_expiry(&entry)?;
        let owner = s.owner_of(&l);
        s.emit(
            "license.expired",
            owner.as_deref(),
            crate::routes::licensecm::licenses::event_data(&l),
        )?;
        if let Some(o) = &owner {
            s.notify(
                o,
                "license_expired",
                "License Expired",
                &format!("License {} expired", l.key),
            )?;
        }
        s.audit(
            "server",
            "license.expired",
            &l.id,
            None,
            json!({ "expires_at": l.expires_at }),
        )?;
        n += 1;
    }
    if n > 0 {
        s.store.commit().await?;
    }
    Ok(n)
}

//! What several LicenseCM resources share; no handlers.

use serde_json::{Value, json};

use super::{Fail, iso};
use crate::app::state::AppState;
use licet_core::model::{License, LicenseStatus, Product, User};

/// Ends every open session of a license (of one machine, if `hwid` is given); how many.
pub async fn end_sessions(
    s: &AppState,
    license_id: &str,
    hwid: Option<&str>,
    reason: &str,
) -> Result<usize, Fail> {
    let now = s.clock.now();
    let mut n = 0;
    for mut sess in s.store.sessions_of(license_id).await? {
        if hwid.is_none_or(|h| sess.hwid == h) && sess.end(now, reason) {
            s.store.put_session(&sess, &[]).await?;
            n += 1;
        }
    }
    Ok(n)
}

/// The product's secret, unsealed.
pub fn secret(s: &AppState, p: &Product) -> Option<zeroize::Zeroizing<String>> {
    p.sealed_secret
        .as_deref()
        .and_then(|x| s.tokens.keys().unseal(x))
}

/// LicenseCM's name of a status.
pub fn status_name(l: &License, now: i64) -> &'static str {
    match l.status_at(now) {
        LicenseStatus::Active => "active",
        LicenseStatus::Expired => "expired",
        LicenseStatus::Suspended => "suspended",
        LicenseStatus::Revoked => "revoked",
    }
}

/// A user as the API shows it (never the hash).
pub fn user_view(u: &User) -> Value {
    json!({
        "id": u.id,
        "email": u.email,
        "display_name": u.display_name,
        "role": u.role,
        "is_active": u.is_active,
        "created_at": iso(u.created_at),
    })
}

pub fn valid_email(e: &str) -> bool {
    e.len() <= 254
        && e.split_once('@').is_some_and(|(local, host)| {
            !local.is_empty()
                && !local.contains(char::is_whitespace)
                && host.contains('.')
                && crate::domains::valid_host(&host.to_ascii_lowercase())
        })
}

/// Whether a new password is acceptable: 8 to 128 characters.
pub fn password_ok(p: &str) -> bool {
    p.chars().count() >= 8 && p.len() <= 128
}

/// A new user's display name: the one given, trimmed, or the e-mail's local part; `None` if it
/// is longer than 100 characters.
pub fn display_name(email: &str, given: Option<String>) -> Option<String> {
    let name = given
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or("").to_owned());
    (name.chars().count() <= 100).then_some(name)
}

//! Downloads: signed, expiring URLs to a package's files.

use super::*;
use licet_core::audit::AuditAction;

/// Length of a download grant id.
pub(super) const GRANT_ID: usize = 16;
/// Length of the MAC kept in a download token.
pub(super) const GRANT_MAC: usize = 16;

/// The key that signs download URLs: derived from the server's token key with a label of its
/// own, so it needs no file of its own and changes when the token key does.
pub(super) fn url_key(s: &AppState) -> zeroize::Zeroizing<[u8; 32]> {
    s.tokens.keys().derive(b"licet-download-url-v1\0")
}

pub(super) fn url_mac(s: &AppState, id: &[u8; GRANT_ID], exp: i64) -> hmac::Hmac<Sha256> {
    let key = url_key(s);
    let mut mac = <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(key.as_ref())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(id);
    mac.update(&exp.to_be_bytes());
    mac
}

/// `base64url(id ‖ expiry ‖ HMAC-SHA256(id ‖ expiry)[..16])`.
pub(super) fn grant_token(s: &AppState, id: &[u8; GRANT_ID], exp: i64) -> String {
    let tag = url_mac(s, id, exp).finalize().into_bytes();
    let mut raw = Vec::with_capacity(GRANT_ID + 8 + GRANT_MAC);
    raw.extend_from_slice(id);
    raw.extend_from_slice(&exp.to_be_bytes());
    raw.extend_from_slice(&tag[..GRANT_MAC]);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The grant id and expiry of a token whose MAC is right (checked in constant time).
pub(super) fn open_token(s: &AppState, token: &str) -> Option<([u8; GRANT_ID], i64)> {
    if token.len() > 128 {
        return None;
    }
    let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
    if raw.len() != GRANT_ID + 8 + GRANT_MAC {
        return None;
    }
    let id: [u8; GRANT_ID] = raw[..GRANT_ID].try_into().ok()?;
    let exp = i64::from_be_bytes(raw[GRANT_ID..GRANT_ID + 8].try_into().ok()?);
    url_mac(s, &id, exp)
        .verify_truncated_left(&raw[GRANT_ID + 8..])
        .ok()?;
    Some((id, exp))
}

/// WemX: check a license and hand out a single-use, expiring URL for one of its downloads.
#[utoipa::path(post, path = "/api/v1/licenses/public/download", tag = "wemx",
    request_body(content = serde_json::Value, description = "`{license, domain, packages, resource_name}`"),
    responses((status = 200, description = "`{success: true, message: \"Download started.\", download_url}`", body = serde_json::Value),
              (status = 403, description = "the license may not be used here", body = serde_json::Value),
              (status = 404, description = "no such license or resource", body = serde_json::Value),
              (status = 422, description = "Laravel validation", body = serde_json::Value)))]
pub(super) async fn download(
    State(s): State<AppState>,
    ip: ClientIp,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    let body = body?;
    let input = input(query.as_deref(), &headers, &body);
    let mut rules = Rules::new(&input);
    let key = rules.string("license", true, 255);
    let domain = rules.domain("domain");
    let packages = rules.string("packages", true, 1000);
    let resource = rules.string("resource_name", true, 255);
    rules.finish()?;
    let (Some(key), Some(domain), Some(packages), Some(resource)) =
        (key, domain, packages, resource)
    else {
        return Err(ApiError::internal("validated input missing").into());
    };
    s.limits.check_license(&key)?;
    let c = check(&s, &key, &packages, &domain, ip).await?;
    let mut found = None;
    for p in &c.products {
        if let Some(d) = s.store.download_by_name(&p.id, &resource).await? {
            found = Some(d);
            break;
        }
    }
    let d = found.ok_or_else(|| Refusal::new(StatusCode::NOT_FOUND, "Resource not found."))?;
    if c.domain_changed {
        write_domain(&s, &c.license, &c.policy, &c.domain, ip).await?;
    }
    let id = crate::ids::random_bytes::<GRANT_ID>();
    let exp = s
        .clock
        .now()
        .saturating_add(i64::try_from(s.config.download_url_ttl).unwrap_or(300));
    s.store
        .put_grant(
            &id,
            &DownloadGrant {
                download_id: d.id,
                license_id: c.license.id.clone(),
                expires_at: exp,
                used_at: None,
            },
        )
        .await?;
    s.journal
        .audit(
            &format!("license:{}", c.license.id),
            AuditAction::DownloadGranted,
            &d.id.to_string(),
            ip.text(),
            json!({ "resource_name": d.name, "domain": domain.name, "expires_at": exp }),
        )
        .await?;
    let url = format!(
        "{}/api/v1/licenses/public/download/{}",
        public_url(&s, &headers),
        grant_token(&s, &id, exp)
    );
    Ok(
        Json(json!({ "success": true, "message": "Download started.", "download_url": url }))
            .into_response(),
    )
}

/// WemX: the file behind a download URL, once.
#[utoipa::path(get, path = "/api/v1/licenses/public/download/{token}", tag = "wemx",
    params(("token" = String, Path, description = "the token of a URL handed out by `POST /api/v1/licenses/public/download`")),
    responses((status = 200, description = "the file, streamed", content_type = "application/octet-stream"),
              (status = 403, description = "the license is no longer valid", body = serde_json::Value),
              (status = 404, description = "no such download", body = serde_json::Value),
              (status = 410, description = "the URL expired or was used", body = serde_json::Value)))]
pub(super) async fn fetch(
    State(s): State<AppState>,
    ip: ClientIp,
    token: Result<Path<String>, PathRejection>,
) -> Answer {
    let not_found = || Refusal::new(StatusCode::NOT_FOUND, "Download not found.");
    let Ok(Path(token)) = token else {
        return Err(not_found());
    };
    let (id, exp) = open_token(&s, &token).ok_or_else(not_found)?;
    let now = s.clock.now();
    if now >= exp {
        return Err(Refusal::new(
            StatusCode::GONE,
            "This download link has expired.",
        ));
    }
    let g = s.store.grant(&id).await?.ok_or_else(not_found)?;
    if g.used_at.is_some() {
        return Err(Refusal::new(
            StatusCode::GONE,
            "This download link has already been used.",
        ));
    }
    let l = s
        .store
        .license(&g.license_id)
        .await?
        .ok_or_else(not_found)?;
    if l.status_at(now) != LicenseStatus::Active {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            "This license is no longer valid.",
        ));
    }
    let d = s
        .store
        .download(g.download_id)
        .await?
        .ok_or_else(not_found)?;
    // Open the file before spending the URL, so that a missing file does not burn it.
    let file = crate::files::open(&s, &d).await?;
    if !s.store.use_grant(&id, now).await? {
        return Err(Refusal::new(
            StatusCode::GONE,
            "This download link has already been used.",
        ));
    }
    s.journal
        .audit(
            &format!("license:{}", l.id),
            AuditAction::DownloadServed,
            &d.id.to_string(),
            ip.text(),
            json!({ "resource_name": d.name, "file": d.file }),
        )
        .await?;
    // Single use must survive a crash: the mark is on disk before the first byte leaves.
    Ok(crate::files::stream(&s, file, &d))
}

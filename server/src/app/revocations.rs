//! The revocation service: the signed revocation list, kept fresh, and revocations published
//! in one durable step with what they revoke.

use std::sync::Arc;

use licet_core::audit::AuditAction;
use licet_core::clock::Clock;
use licet_core::model::{License, Machine};
use licet_core::store::{Record, RevocationState, Store};
use licet_issuer::RevocationListBuilder;

use super::journal::Journal;
use super::tokens::TokenService;
use crate::app::error::{ApiError, ApiResult};
use crate::config::Config;
use crate::ids::unhex16;

/// Revocation lists and what goes on them.
#[derive(Debug)]
pub struct RevocationService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    config: Arc<Config>,
    tokens: Arc<TokenService>,
    journal: Arc<Journal>,
    /// One list signed at a time in this process (the store orders those of several).
    lock: tokio::sync::Mutex<()>,
}

impl RevocationService {
    /// The service over `store`, signing with `tokens`' keys.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        tokens: Arc<TokenService>,
        journal: Arc<Journal>,
    ) -> RevocationService {
        RevocationService {
            store,
            clock,
            config,
            tokens,
            journal,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The current list, re-signed (sequence + 1) if there is none or it is past half its
    /// validity, so that clients always get a list that is fresh for a while.
    pub async fn current_revocations(&self) -> ApiResult<Vec<u8>> {
        let now = self.clock.now();
        let half = i64::try_from(self.config.revocation_validity / 2).unwrap_or(i64::MAX);
        if let Some(list) = self.store.revocation_list().await?
            && let Ok(l) = licet_verifier::RevocationList::verify(
                &list,
                self.tokens.keys().token.public_key(),
                None,
            )
            && now < l.next_update() - half
        {
            return Ok(list);
        }
        let _guard = self.lock.lock().await;
        let mut state = self.store.revocation_state().await?;
        let list = self.sign_revocations(&mut state).await?;
        Ok(list)
    }

    /// The current list as the JSON answer gives it: its header fields and the signed bytes,
    /// base64url.
    pub async fn current_body(&self) -> ApiResult<licet_api::answers::RevocationListBody> {
        use base64::Engine;
        let list = self.current_revocations().await?;
        // Any generation that verifies: the key may have rotated since the list was read.
        let keys = self.tokens.keys().verifying_keys(self.clock.now());
        let l = licet_verifier::RevocationList::verify(&list, &keys[..], None)
            .map_err(ApiError::internal)?;
        Ok(licet_api::answers::RevocationListBody {
            sequence: l.sequence(),
            issued_at: l.issued_at(),
            next_update: l.next_update(),
            revoked_tokens: l.token_count(),
            revoked_licenses: l.license_count(),
            list: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&list),
        })
    }

    /// Revokes `license` for good: its status and a newly published list holding its id and
    /// `token_ids` are one durable step, so a crash cannot leave a license marked revoked that
    /// no list holds. Returns the license as stored and the published state.
    pub async fn revoke_license(
        &self,
        license: &License,
        token_ids: &[String],
        tell: licet_core::store::TellRevocation<'_>,
    ) -> ApiResult<(License, RevocationState)> {
        let mut l = license.clone();
        l.status = licet_core::model::LicenseStatus::Revoked;
        l.updated_at = self.clock.now();
        let _guard = self.lock.lock().await;
        let state = self
            .store
            .revoke_license(
                &l,
                token_ids,
                &|st| {
                    self.sign_list(st)
                        .map_err(|e| licet_core::StoreError::backend(e.message()))
                },
                tell,
            )
            .await?;
        Ok((l, state))
    }

    /// Puts tokens on a newly published list (unless every one is listed already), with the
    /// record `tell` makes: one durable step.
    pub async fn revoke_tokens(
        &self,
        token_ids: &[String],
        tell: licet_core::store::TellRevocation<'_>,
    ) -> ApiResult<RevocationState> {
        let _guard = self.lock.lock().await;
        Ok(self
            .store
            .revoke_tokens(
                token_ids,
                &|st| {
                    self.sign_list(st)
                        .map_err(|e| licet_core::StoreError::backend(e.message()))
                },
                tell,
            )
            .await?)
    }

    async fn sign_revocations(&self, state: &mut RevocationState) -> ApiResult<Vec<u8>> {
        state.sequence += 1;
        let list = self.sign_list(state)?;
        self.store.put_revocations(state, &list).await?;
        Ok(list)
    }

    /// The signed list of `state`, as it is (sequence included), valid from now.
    fn sign_list(&self, state: &RevocationState) -> ApiResult<Vec<u8>> {
        let now = self.clock.now();
        let validity = i64::try_from(self.config.revocation_validity).unwrap_or(86_400);
        let mut b = RevocationListBuilder::new(state.sequence, now, now + validity);
        for t in &state.token_ids {
            if let Some(id) = unhex16(t) {
                b.revoke_token(id);
            }
        }
        for l in &state.license_ids {
            b.revoke_license(l);
        }
        b.sign(&self.tokens.keys().token)
            .map_err(ApiError::internal)
    }

    /// Puts `tokens` (what machine `m` of `l` holds) on a newly published revocation list,
    /// with a `token.revoked` entry, unless every one is listed already.
    pub async fn revoke_held(
        &self,
        l: &License,
        m: &Machine,
        tokens: &[String],
        actor: &str,
        ip: Option<String>,
    ) -> ApiResult<()> {
        if tokens.is_empty() {
            return Ok(());
        }
        self.revoke_tokens(tokens, &|state| {
            Record::from(self.journal.audit_entry(
                actor,
                AuditAction::TokenRevoked,
                &m.id,
                ip.clone(),
                serde_json::json!({
                    "license_id": l.id,
                    "token_ids": tokens,
                    "reason": "seat_given_back",
                    "revocation_sequence": state.sequence,
                }),
                Some(l.product_id.clone()),
            ))
        })
        .await?;
        Ok(())
    }
}

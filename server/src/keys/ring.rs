//! Rotation of the token key: a ring of generations, each one the signing key until the next.
//!
//! What a rotation writes, in this order, each step first-wins:
//!
//! 1. generation *n*'s private key, where the first generation's lives: a file of the data
//!    directory on sled (`token-ed25519.<n>.pem`, 0600), or the store's key vault sealed under
//!    the master key on PostgreSQL (`token-ed25519.<n>`);
//! 2. generation *n*'s ring record in the store's key vault (`token-ring.<n>`): when it took
//!    over, and until when generation *n − 1* verifies.
//!
//! A generation exists once its record does. Two instances rotating at once both write step 1
//! for the same *n*; one key is stored and both use it, so they make one rotation, not two. A
//! crash between the steps leaves a key without a record, which the next rotation adopts.
//!
//! Instances that did not rotate learn of it within [`REFRESH`]: each reads the record of the
//! generation after its own that often. Until then they sign with the old generation, which is
//! why the old one verifies for that long past the longest lifetime of what it signed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use licet_core::store::Store;
use licet_issuer::{KeySpec, SigningKey};
use serde::{Deserialize, Serialize};

use super::{MasterKey, ServerKeys, TOKEN_KEY_NAME, load_or_create_one, load_or_create_sealed};

/// How often an instance looks for a generation another instance made.
pub const REFRESH: Duration = Duration::from_secs(10);

/// Leeway for clocks that differ between the server and the verifiers (seconds).
const CLOCK_LEEWAY: i64 = 300;

/// Where the token key's generations after the first keep their private halves.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Files in the data directory, as the first generation (the embedded sled store).
    Files(PathBuf),
    /// The store's key vault, sealed under the master key (PostgreSQL; also the tests').
    Sealed(Arc<MasterKey>),
}

/// A generation's ring record, as stored (JSON).
#[derive(Debug, Serialize, Deserialize)]
struct RingRecord {
    /// When this generation took over (unix seconds).
    created_at: i64,
    /// Until when the generation before it verifies.
    previous_valid_until: i64,
    /// The generation before's endorsement of this one's public key (base64url; see
    /// `licet_verifier::PublicKey::endorses`): what lets a client that pinned the older key
    /// trust this one from the published set. Absent for generations made before endorsements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    endorsement: Option<String>,
}

fn record_name(generation: u32) -> String {
    format!("token-ring.{generation}")
}

/// The file of generation `generation` (from 1) in the data directory.
pub fn key_file(generation: u32) -> String {
    format!("token-ed25519.{generation}.pem")
}

/// The vault name of generation `generation` (from 1).
pub fn key_name(generation: u32) -> String {
    format!("{TOKEN_KEY_NAME}.{generation}")
}

impl KeySource {
    /// Generation `generation`'s key, made now unless one is stored already (then that one).
    async fn create(&self, store: &dyn Store, generation: u32) -> Result<SigningKey> {
        Ok(match self {
            KeySource::Files(dir) => {
                load_or_create_one(dir, &key_file(generation), KeySpec::Ed25519)?.0
            }
            KeySource::Sealed(master) => {
                load_or_create_sealed(store, master, &key_name(generation), KeySpec::Ed25519)
                    .await?
                    .0
            }
        })
    }

    /// Generation `generation`'s stored key.
    async fn load(&self, store: &dyn Store, generation: u32) -> Result<Option<SigningKey>> {
        match self {
            KeySource::Files(dir) => {
                let path = dir.join(key_file(generation));
                if !path.exists() {
                    return Ok(None);
                }
                let pem = zeroize::Zeroizing::new(
                    std::fs::read(&path)
                        .with_context(|| format!("{}: cannot read", path.display()))?,
                );
                SigningKey::from_pkcs8(&pem)
                    .with_context(|| format!("{}: not a usable key", path.display()))
                    .map(Some)
            }
            KeySource::Sealed(master) => {
                let name = key_name(generation);
                let Some(sealed) = store.sealed_key(&name).await? else {
                    return Ok(None);
                };
                let pem = master.unseal(&name, &sealed)?;
                SigningKey::from_pkcs8(&pem)
                    .with_context(|| format!("the stored {name} key is not a usable key"))
                    .map(Some)
            }
        }
    }
}

/// `keys` with every generation stored after its own: the same keys if there is none.
pub async fn load_newer(
    keys: Arc<ServerKeys>,
    store: &dyn Store,
    source: &KeySource,
) -> Result<Arc<ServerKeys>> {
    let mut keys = keys;
    loop {
        let generation = keys.generation() + 1;
        let Some(record) = store.sealed_key(&record_name(generation)).await? else {
            return Ok(keys);
        };
        let record: RingRecord = serde_json::from_slice(&record)
            .with_context(|| format!("the ring record of generation {generation} is damaged"))?;
        let key = source.load(store, generation).await?.with_context(|| {
            format!("the ring names generation {generation} of the token key, whose key is missing")
        })?;
        let endorsement = record.endorsement.as_deref().and_then(|e| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(e)
                .ok()
        });
        keys = Arc::new(keys.succeeded_by(
            generation,
            key,
            record.created_at,
            record.previous_valid_until,
            endorsement,
        )?);
    }
}

/// Makes the generation after `keys`'s the signing one, at `now`; the current one verifies for
/// `window` seconds more (the longest any of what it signed may be presented) plus the time
/// other instances take to notice. Returns the keys with it (and any generation another
/// instance made meanwhile).
pub async fn rotate(
    keys: Arc<ServerKeys>,
    store: &dyn Store,
    source: &KeySource,
    now: i64,
    window: i64,
) -> Result<Arc<ServerKeys>> {
    // Another instance may have rotated already: build on the newest generation.
    let keys = load_newer(keys, store, source).await?;
    let generation = keys.generation() + 1;
    let next = source.create(store, generation).await?;
    let notice = i64::try_from(REFRESH.as_secs() * 2).unwrap_or(20);
    // The signing generation vouches for its successor before it retires.
    let endorsement = next.public_key().ed25519_bytes().map(|raw| {
        use base64::Engine;
        use ed25519_dalek::Signer;
        let mut message = licet_verifier::KEY_ENDORSEMENT_LABEL.to_vec();
        message.extend_from_slice(raw);
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(keys.token_dalek().sign(&message).to_bytes())
    });
    let record = RingRecord {
        created_at: now,
        previous_valid_until: now
            .saturating_add(window)
            .saturating_add(notice + CLOCK_LEEWAY),
        endorsement,
    };
    store
        .insert_sealed_key(&record_name(generation), &serde_json::to_vec(&record)?)
        .await?;
    tracing::info!(generation, "rotated the token key");
    load_newer(keys, store, source).await
}

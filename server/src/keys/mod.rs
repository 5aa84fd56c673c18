//! The server's own signing keys, created on first start and never regenerated.
//!
//! `token-ed25519.pem` signs license tokens, revocation lists, online answers and minted JWTs;
//! `compat-rsa4096.pem` is for compatibility endpoints that need RSA signatures. Both are PKCS#8
//! PEM files with mode 0600; their public halves sit beside them as `*.pub.pem`.
//!
//! The token key can be rotated ([`ring`]): each rotation adds a generation that becomes the
//! signing key, and the generations before it stay published, as retiring, until the last
//! token, list and JWT they signed has expired.
//!
//! Every other secret the server derives (dashboard sessions and their CSRF tokens, sealed
//! LicenseCM and webhook secrets, download URLs, challenges, watermarks) comes from a root
//! secret of its own ([`root`]), random and versioned, rotated on its own: a leaked signing key
//! unlocks none of them.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use licet_issuer::{KeySpec, SigningKey};
use licet_verifier::PublicKey;

pub mod ring;
pub mod root;

/// File name of the token signing key.
pub const TOKEN_KEY_FILE: &str = "token-ed25519.pem";
/// File name of the RSA key for compatibility endpoints.
pub const RSA_KEY_FILE: &str = "compat-rsa4096.pem";

/// The server's keys: one generation of the token ring signs; the RSA key does not rotate.
#[derive(Debug)]
pub struct ServerKeys {
    /// Ed25519, the ring's newest generation: tokens, revocation lists, signed answers, JWTs.
    pub token: SigningKey,
    /// RSA-4096 (RS256) for compatibility endpoints.
    pub rsa: Arc<SigningKey>,
    /// The token key as ed25519-dalek's type, for signing online answers.
    answer_signer: ed25519_dalek::SigningKey,
    /// When the RSA key came into use (unix seconds): its file's modification time.
    pub rsa_valid_from: Option<i64>,
    /// Every generation of the token key, oldest first; the last one signs.
    ring: Vec<RingKey>,
    /// The JWT keys: the signing generation's, and every generation's for checking.
    jwt: JwtKeys,
    /// The versions of the root secret every derived secret comes from, oldest first; the
    /// newest derives and seals, the older ones only open what they sealed. Version 0 is the
    /// first token key's seed, which roots were derived from before they had secrets of their
    /// own: it opens what was sealed then, and derives nothing once a version 1 exists.
    roots: Vec<root::Root>,
    /// The RSA key as a PKCS#1 v1.5 / SHA-512 signer (LicenseCM's response signatures).
    rsa_sha512: Option<rsa::pkcs1v15::SigningKey<sha2::Sha512>>,
}

/// One generation of the token key as the ring lists it.
#[derive(Debug, Clone)]
pub struct RingKey {
    /// 0 for the key the server was created with, one more for each rotation.
    pub generation: u32,
    pub public: PublicKey,
    /// When it came into use, if known (the first generation's file time on sled).
    pub created_at: Option<i64>,
    /// When the next generation took over; `None` while it signs.
    pub retired_at: Option<i64>,
    /// Until when what it signed may still be presented: after that it verifies nothing.
    pub valid_until: Option<i64>,
    /// The generation before's endorsement of this one (an Ed25519 signature), if it made one.
    pub endorsement: Option<Vec<u8>>,
}

/// Where a generation of the token key stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    /// It signs.
    Active,
    /// It no longer signs, and verifies what it signed until `valid_until`.
    Retiring,
    /// Everything it signed has expired: it verifies nothing.
    Retired,
}

impl KeyStatus {
    pub fn name(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Retiring => "retiring",
            KeyStatus::Retired => "retired",
        }
    }
}

impl RingKey {
    pub fn status(&self, now: i64) -> KeyStatus {
        match (self.retired_at, self.valid_until) {
            (None, _) => KeyStatus::Active,
            (Some(_), Some(until)) if now < until => KeyStatus::Retiring,
            (Some(_), None) => KeyStatus::Retiring,
            _ => KeyStatus::Retired,
        }
    }
}

impl ServerKeys {
    /// Wraps existing keys (tests build them once and share them): the token key is the
    /// ring's first generation.
    pub fn new(token: SigningKey, rsa: SigningKey) -> Result<ServerKeys> {
        let legacy = root::Root::legacy(Self::active_parts(&token)?.1.to_bytes());
        let rsa_sha512 = rsa
            .rsa_private_key()
            .map(|k| rsa::pkcs1v15::SigningKey::<sha2::Sha512>::new(k.clone()));
        let ring = vec![RingKey {
            generation: 0,
            public: token.public_key().clone(),
            created_at: None,
            retired_at: None,
            valid_until: None,
            endorsement: None,
        }];
        Self::assemble(token, Arc::new(rsa), rsa_sha512, None, ring, vec![legacy])
    }

    /// The PEM and ed25519-dalek forms of a token key.
    fn active_parts(
        token: &SigningKey,
    ) -> Result<(zeroize::Zeroizing<String>, ed25519_dalek::SigningKey)> {
        use ed25519_dalek::pkcs8::DecodePrivateKey;
        let token_pem = token.to_pkcs8_pem()?;
        let dalek = ed25519_dalek::SigningKey::from_pkcs8_pem(&token_pem)
            .map_err(|e| anyhow::anyhow!("the token key must be Ed25519: {e}"))?;
        Ok((token_pem, dalek))
    }

    fn assemble(
        token: SigningKey,
        rsa: Arc<SigningKey>,
        rsa_sha512: Option<rsa::pkcs1v15::SigningKey<sha2::Sha512>>,
        rsa_valid_from: Option<i64>,
        ring: Vec<RingKey>,
        roots: Vec<root::Root>,
    ) -> Result<ServerKeys> {
        let (token_pem, answer_signer) = Self::active_parts(&token)?;
        let jwt = JwtKeys::of(&token_pem, &ring)?;
        Ok(ServerKeys {
            token,
            rsa,
            answer_signer,
            rsa_valid_from,
            ring,
            jwt,
            roots,
            rsa_sha512,
        })
    }

    /// These keys with the root secret's versions `roots` (oldest first) in place of theirs.
    pub(crate) fn with_roots(&self, roots: Vec<root::Root>) -> Result<ServerKeys> {
        let token = SigningKey::from_pkcs8(self.token.to_pkcs8_pem()?.as_bytes())?;
        Self::assemble(
            token,
            Arc::clone(&self.rsa),
            self.rsa_sha512.clone(),
            self.rsa_valid_from,
            self.ring.clone(),
            roots,
        )
    }

    /// The root secret's versions, oldest first.
    pub(crate) fn roots(&self) -> &[root::Root] {
        &self.roots
    }

    /// The version of the root secret that derives and seals now.
    pub fn root_version(&self) -> u32 {
        self.current_root().version
    }

    fn current_root(&self) -> &root::Root {
        // Never empty: every constructor gives version 0.
        self.roots.last().unwrap_or(&self.roots[0])
    }

    /// These keys with `token` as generation `generation`, the signing one: the generation that
    /// signed until now retires at `created_at` and verifies until `previous_valid_until`.
    pub(crate) fn succeeded_by(
        &self,
        generation: u32,
        token: SigningKey,
        created_at: i64,
        previous_valid_until: i64,
        endorsement: Option<Vec<u8>>,
    ) -> Result<ServerKeys> {
        let mut ring = self.ring.clone();
        if let Some(last) = ring.last_mut() {
            last.retired_at = Some(created_at);
            last.valid_until = Some(previous_valid_until);
        }
        ring.push(RingKey {
            generation,
            public: token.public_key().clone(),
            created_at: Some(created_at),
            retired_at: None,
            valid_until: None,
            endorsement,
        });
        Self::assemble(
            token,
            Arc::clone(&self.rsa),
            self.rsa_sha512.clone(),
            self.rsa_valid_from,
            ring,
            self.roots.clone(),
        )
    }

    /// The generation that signs.
    pub fn generation(&self) -> u32 {
        self.ring.last().map_or(0, |k| k.generation)
    }

    /// Every generation of the token key, oldest first.
    pub fn ring(&self) -> &[RingKey] {
        &self.ring
    }

    /// The token keys that verify at `now`: the signing one and the retiring ones, newest
    /// first (a key set for [`licet_verifier::KeyProvider`]).
    pub fn verifying_keys(&self, now: i64) -> Vec<PublicKey> {
        self.ring
            .iter()
            .rev()
            .filter(|k| k.status(now) != KeyStatus::Retired)
            .map(|k| k.public.clone())
            .collect()
    }

    /// The JWT keys.
    pub(crate) fn jwt(&self) -> &JwtKeys {
        &self.jwt
    }

    /// A 32-byte key for one purpose, derived from the current root secret:
    /// SHA-256(label ‖ root). A new version of the root changes every such key.
    pub fn derive(&self, label: &[u8]) -> zeroize::Zeroizing<[u8; 32]> {
        derive(&self.current_root().secret, label)
    }

    /// Seals a secret for storage under the current root: `v<version>.` (for version 1 on)
    /// and hex(nonce ‖ AES-256-GCM(ciphertext ‖ tag)).
    pub fn seal(&self, plain: &str) -> String {
        use aes_gcm::aead::{Aead, KeyInit};
        let root = self.current_root();
        let key = derive(&root.secret, SEAL_LABEL);
        let cipher = aes_gcm::Aes256Gcm::new((&*key).into());
        let nonce = crate::ids::random_bytes::<12>();
        let ct = cipher
            .encrypt(&nonce.into(), plain.as_bytes())
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        match root.version {
            0 => crate::ids::hex(&out),
            v => format!("v{v}.{}", crate::ids::hex(&out)),
        }
    }

    /// Opens what [`ServerKeys::seal`] sealed, under the root version it names; `None` if it
    /// was not sealed by a root these keys hold.
    pub fn unseal(&self, sealed: &str) -> Option<zeroize::Zeroizing<String>> {
        use aes_gcm::aead::{Aead, KeyInit};
        let (version, body) = sealed_version(sealed)?;
        let root = self.roots.iter().find(|r| r.version == version)?;
        let raw = crate::ids::unhex(body)?;
        if raw.len() < 12 + 16 {
            return None;
        }
        let key = derive(&root.secret, SEAL_LABEL);
        let cipher = aes_gcm::Aes256Gcm::new((&*key).into());
        let nonce: [u8; 12] = raw[..12].try_into().ok()?;
        let plain = cipher.decrypt(&nonce.into(), &raw[12..]).ok()?;
        String::from_utf8(plain).ok().map(zeroize::Zeroizing::new)
    }

    /// Whether `sealed` was sealed under the current root (a rotation seals the others again).
    pub fn sealed_now(&self, sealed: &str) -> bool {
        sealed_version(sealed).is_some_and(|(v, _)| v == self.root_version())
    }

    /// RSASSA-PKCS1-v1_5 with SHA-512 over `message` by the RSA key (blinded).
    pub fn rsa_sign_sha512(&self, message: &[u8]) -> Option<Vec<u8>> {
        use rsa::signature::{RandomizedSigner, SignatureEncoding};
        let mut rng = rand_core::UnwrapErr(getrandom::SysRng);
        self.rsa_sha512
            .as_ref()?
            .try_sign_with_rng(&mut rng, message)
            .ok()
            .map(|s| s.to_vec())
    }

    /// The token key as an ed25519-dalek key.
    pub fn token_dalek(&self) -> &ed25519_dalek::SigningKey {
        &self.answer_signer
    }

    /// Loads the keys from `dir`, creating any that do not exist yet. Returns the keys and
    /// whether any were created.
    pub fn load_or_create(dir: &Path) -> Result<(ServerKeys, bool)> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?;
        let (token, a) = load_or_create_one(dir, TOKEN_KEY_FILE, KeySpec::Ed25519)?;
        let (rsa, b) = load_or_create_one(dir, RSA_KEY_FILE, KeySpec::RsaPkcs1(4096))?;
        let mut keys = ServerKeys::new(token, rsa)?;
        keys.ring[0].created_at = modified(&dir.join(TOKEN_KEY_FILE));
        keys.rsa_valid_from = modified(&dir.join(RSA_KEY_FILE));
        Ok((keys, a || b))
    }
}

/// The key-encryption key of signing keys kept in a shared store (PostgreSQL): 32 bytes from
/// `--master-key-file`, the same on every instance. Zeroized on drop, never logged.
pub struct MasterKey(zeroize::Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// Reads the key file: exactly 32 bytes, and (on Unix) readable by its owner only, since
    /// whoever reads it can open every signing key in the database.
    pub fn read(path: &Path) -> Result<MasterKey> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .with_context(|| format!("{}: cannot read the master key file", path.display()))?
                .permissions()
                .mode();
            anyhow::ensure!(
                mode & 0o077 == 0,
                "{}: the master key file is open to others (mode {:o}); make it 0600",
                path.display(),
                mode & 0o777
            );
        }
        let bytes = zeroize::Zeroizing::new(
            std::fs::read(path)
                .with_context(|| format!("{}: cannot read the master key file", path.display()))?,
        );
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            anyhow::anyhow!(
                "{}: a master key file holds exactly 32 bytes (head -c 32 /dev/urandom), not {}",
                path.display(),
                bytes.len()
            )
        })?;
        Ok(MasterKey(zeroize::Zeroizing::new(key)))
    }

    /// A key from its bytes (tests).
    pub fn from_bytes(key: [u8; 32]) -> MasterKey {
        MasterKey(zeroize::Zeroizing::new(key))
    }

    /// nonce ‖ AES-256-GCM(`plain`), bound to `name` (the associated data), so that a sealed
    /// key cannot be moved to another name.
    pub(crate) fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        let cipher = aes_gcm::Aes256Gcm::new((&*self.0).into());
        let nonce = crate::ids::random_bytes::<12>();
        let ct = cipher
            .encrypt(
                &nonce.into(),
                Payload {
                    msg: plain,
                    aad: name.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("cannot seal the {name} key"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub(crate) fn unseal(&self, name: &str, sealed: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        use aes_gcm::aead::{Aead, KeyInit, Payload};
        anyhow::ensure!(sealed.len() > 12 + 16, "the stored {name} key is truncated");
        let cipher = aes_gcm::Aes256Gcm::new((&*self.0).into());
        let nonce: [u8; 12] = sealed[..12]
            .try_into()
            .map_err(|_| anyhow::anyhow!("the stored {name} key is truncated"))?;
        cipher
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: &sealed[12..],
                    aad: name.as_bytes(),
                },
            )
            .map(zeroize::Zeroizing::new)
            .map_err(|_| {
                anyhow::anyhow!(
                    "the stored {name} key does not open with this master key: every instance \
                     must be given the same --master-key-file"
                )
            })
    }
}

/// Names of the sealed keys in a shared store.
pub const TOKEN_KEY_NAME: &str = "token-ed25519";
/// See [`TOKEN_KEY_NAME`].
pub const RSA_KEY_NAME: &str = "compat-rsa4096";

impl ServerKeys {
    /// Loads the keys from a shared store, sealed under `master`, creating any the store lacks.
    /// Of several instances starting at once, the first to store a key wins and the others use
    /// it. Returns the keys and whether this instance created any.
    pub async fn load_or_create_in(
        store: &dyn licet_core::store::Store,
        master: &MasterKey,
    ) -> Result<(ServerKeys, bool)> {
        let (token, a) =
            load_or_create_sealed(store, master, TOKEN_KEY_NAME, KeySpec::Ed25519).await?;
        let (rsa, b) =
            load_or_create_sealed(store, master, RSA_KEY_NAME, KeySpec::RsaPkcs1(4096)).await?;
        let mut keys = ServerKeys::new(token, rsa)?;
        // When each came into use: recorded by the instance that made it (or by migrate, from
        // the files' times); the first record stored is kept.
        let now = chrono::Utc::now().timestamp();
        keys.ring[0].created_at = Some(record_created(store, TOKEN_KEY_NAME, now).await?);
        keys.rsa_valid_from = Some(record_created(store, RSA_KEY_NAME, now).await?);
        Ok((keys, a || b))
    }
}

/// The vault entry of when the key `name` came into use.
fn created_name(name: &str) -> String {
    format!("created.{name}")
}

/// Records `at` as the time the key `name` came into use, unless a time is recorded; the time
/// recorded.
pub(crate) async fn record_created(
    store: &dyn licet_core::store::Store,
    name: &str,
    at: i64,
) -> Result<i64> {
    let stored = store
        .insert_sealed_key(&created_name(name), &at.to_be_bytes())
        .await?;
    Ok(<[u8; 8]>::try_from(stored.as_slice()).map_or(at, i64::from_be_bytes))
}

pub(crate) async fn load_or_create_sealed(
    store: &dyn licet_core::store::Store,
    master: &MasterKey,
    name: &str,
    spec: KeySpec,
) -> Result<(SigningKey, bool)> {
    let (sealed, created) = match store.sealed_key(name).await? {
        Some(sealed) => (sealed, false),
        None => {
            tracing::info!(key = name, "creating signing key in the database");
            let key = SigningKey::generate(spec)?;
            let pem = key.to_pkcs8_pem()?;
            let mine = master.seal(name, pem.as_bytes())?;
            // Another instance may have stored its key first: the stored one is the key.
            let stored = store.insert_sealed_key(name, &mine).await?;
            let created = stored == mine;
            (stored, created)
        }
    };
    let pem = master.unseal(name, &sealed)?;
    let key = SigningKey::from_pkcs8(&pem)
        .with_context(|| format!("the stored {name} key is not a usable key"))?;
    Ok((key, created))
}

/// The label of the key that seals stored secrets.
const SEAL_LABEL: &[u8] = b"licet-storage-seal-v1\0";

/// The root version a sealed value names, and its hex body (no prefix: version 0).
fn sealed_version(sealed: &str) -> Option<(u32, &str)> {
    match sealed.strip_prefix('v') {
        Some(rest) => {
            let (v, body) = rest.split_once('.')?;
            Some((v.parse().ok()?, body))
        }
        None => Some((0, sealed)),
    }
}

fn derive(root: &[u8; 32], label: &[u8]) -> zeroize::Zeroizing<[u8; 32]> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(label);
    h.update(root);
    zeroize::Zeroizing::new(h.finalize().into())
}

/// When the file at `path` was last changed (unix seconds): when a key file came into use.
pub(crate) fn modified(path: &Path) -> Option<i64> {
    let t = std::fs::metadata(path).ok()?.modified().ok()?;
    i64::try_from(t.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs()).ok()
}

pub(crate) fn load_or_create_one(
    dir: &Path,
    name: &str,
    spec: KeySpec,
) -> Result<(SigningKey, bool)> {
    let path = dir.join(name);
    if path.exists() {
        let pem = zeroize::Zeroizing::new(
            std::fs::read(&path).with_context(|| format!("{}: cannot read", path.display()))?,
        );
        let key = SigningKey::from_pkcs8(&pem)
            .with_context(|| format!("{}: not a usable key", path.display()))?;
        return Ok((key, false));
    }
    tracing::info!(file = %path.display(), "creating signing key");
    let key = SigningKey::generate(spec)?;
    let pem = key.to_pkcs8_pem()?;
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&path)
        .with_context(|| format!("{}: cannot create", path.display()))?;
    f.write_all(pem.as_bytes())
        .and_then(|()| f.sync_all())
        .with_context(|| format!("{}: cannot write", path.display()))?;
    let public = dir.join(name.replace(".pem", ".pub.pem"));
    std::fs::write(&public, key.public_key().to_spki_pem())
        .with_context(|| format!("{}: cannot write", public.display()))?;
    Ok((key, true))
}

/// The JWT keys: the signing generation's for minting, every generation's that still verifies
/// for checking, by key id (minted JWTs name theirs in `kid`).
#[derive(Clone)]
pub struct JwtKeys {
    encoding: jsonwebtoken::EncodingKey,
    kid: String,
    /// (kid, key, generation's status inputs) of every generation.
    decoding: Vec<(String, jsonwebtoken::DecodingKey, RingKey)>,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(..)")
    }
}

impl JwtKeys {
    fn of(pem: &str, ring: &[RingKey]) -> Result<JwtKeys> {
        let encoding = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes())?;
        let decoding = ring
            .iter()
            .map(|k| {
                let public = k.public.ed25519_bytes().copied().unwrap_or_default();
                (
                    k.public.kid().to_string(),
                    jsonwebtoken::DecodingKey::from_ed_der(&public),
                    k.clone(),
                )
            })
            .collect();
        let kid = ring
            .last()
            .map(|k| k.public.kid().to_string())
            .unwrap_or_default();
        Ok(JwtKeys {
            encoding,
            kid,
            decoding,
        })
    }

    /// The header of a JWT minted now: EdDSA, and the signing generation's key id.
    pub(crate) fn header(&self) -> jsonwebtoken::Header {
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        h.kid = Some(self.kid.clone());
        h
    }

    pub(crate) fn encoding(&self) -> &jsonwebtoken::EncodingKey {
        &self.encoding
    }

    /// The key that checks `token` at `now`: the generation its `kid` names, if that one still
    /// verifies; the signing one for a JWT without a `kid` (minted before keys rotated). With
    /// it, when that generation stopped signing: a JWT it checks must have been issued before
    /// then ([`JwtKeys::admits`]).
    pub(crate) fn decoding(
        &self,
        token: &str,
        now: i64,
    ) -> Option<(&jsonwebtoken::DecodingKey, Option<i64>)> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        let (_, key, k) = match header.kid {
            Some(kid) => self.decoding.iter().find(|(id, _, _)| *id == kid)?,
            None => self.decoding.last()?,
        };
        (k.status(now) != KeyStatus::Retired).then_some((key, k.retired_at))
    }

    /// Whether a JWT whose signature checked with a generation retired at `retired_at` (`None`:
    /// the signing one) may be taken at `now`: issued no later than now, living at most
    /// `longest` seconds, and, for a retiring generation, issued before it retired. So a
    /// generation's leaked key mints nothing that outlives its retirement by more than
    /// `longest`, whatever expiry the forger writes.
    pub(crate) fn admits(
        iat: i64,
        exp: i64,
        retired_at: Option<i64>,
        now: i64,
        longest: u64,
    ) -> bool {
        let longest = i64::try_from(longest).unwrap_or(i64::MAX);
        iat <= now
            && exp > now
            && exp.saturating_sub(iat) <= longest
            && retired_at.is_none_or(|r| iat <= r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_under_its_name_and_master_key() {
        let master = MasterKey::from_bytes([7; 32]);
        let sealed = master.seal(TOKEN_KEY_NAME, b"pem").expect("seal");
        assert_eq!(
            master
                .unseal(TOKEN_KEY_NAME, &sealed)
                .expect("opens")
                .as_slice(),
            b"pem"
        );
        assert!(
            master.unseal(RSA_KEY_NAME, &sealed).is_err(),
            "bound to its name"
        );
        assert!(
            MasterKey::from_bytes([8; 32])
                .unseal(TOKEN_KEY_NAME, &sealed)
                .is_err(),
            "another master key"
        );
        let mut flipped = sealed.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert!(master.unseal(TOKEN_KEY_NAME, &flipped).is_err(), "tampered");
        assert!(
            master.unseal(TOKEN_KEY_NAME, &sealed[..20]).is_err(),
            "truncated"
        );
    }
}

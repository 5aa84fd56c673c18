//! The online client: activate once, then work offline; check in when the
//! token asks for it; survive the server being down for the grace period; never readmit a
//! revoked license; notice a clock that was moved back.
//!
//! It speaks licet-server's native client API with blocking HTTP (no async runtime needed),
//! sends the machine's fingerprint parts, checks every answer it acts on (signature over the
//! exact body, echoed nonce, server time — [`crate::answer`]) and every token (signature,
//! product, machine, revocations) before storing it in the product's [`LocalState`].
//!
//! The whole start-up logic is [`Client::ensure`]:
//!
//! | situation | [`Status`] |
//! |---|---|
//! | no (valid) token stored | `NeedsActivation` |
//! | token valid, not yet due for a check-in | `Valid` |
//! | due for a check-in and the server answers | `Valid` (a fresh token) |
//! | due, the server cannot be reached, within `offline_grace` of the last contact | `Grace` |
//! | due, unreachable, past the grace | `GraceEnded` |
//! | the server says revoked / suspended / expired, or a newer revocation list names it | `Revoked` / `Suspended` / `Expired` (the token is deleted at once) |
//! | the clock is behind what was seen before, beyond the tolerance, and the policy refuses | `ClockRolledBack` |
//! | a stored file was copied back or removed (a token the record does not name, a list older than the newest seen, no record next to a token) | `StateRolledBack`, until the server is reached |
//!
//! A refusal (`revoked`, `suspended`, …) is acted on only when the server signed it for this
//! request (`Licet-Signature`, the echoed nonce): anything else is the server being unreachable.

use std::path::PathBuf;
use std::string::{String, ToString};
use std::sync::Arc;
use std::time::Duration;
use std::vec::Vec;

use licet_api::client::{
    DeactivateAnswer, KeySet, MachineRequest, PublishedKey, RefusalAnswer, TokenAnswer,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::answer::{SignedAnswer, check_freshness, verify_answer};
use crate::fingerprint::{Fingerprint, hex};
use crate::state::{LocalState, Slot, default_base_dir};
use licet_verifier::Error;
use licet_verifier::PublicKey;
use licet_verifier::RevocationList;
use licet_verifier::clock::{ClockCheck, ClockState};
use licet_verifier::{Context, UnverifiedToken};

/// What to do when the clock reads earlier than a time already seen (beyond the tolerance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackPolicy {
    /// Report [`Status::ClockRolledBack`] instead of a license status.
    Refuse,
    /// Carry on (the status is computed with the clock as it reads); the application may
    /// still look at [`Client::clock_check`].
    Allow,
}

/// The client's settings.
#[derive(Clone)]
pub struct Config {
    /// The server's base URL (`https://licenses.example.com`).
    pub server: String,
    /// The product code tokens must be for.
    pub product: String,
    /// The keys tokens and answers must be signed with (pinned in the application).
    pub keys: Vec<PublicKey>,
    /// Base directory of local state [default: [`default_base_dir`]].
    pub state_dir: Option<PathBuf>,
    /// This machine's fingerprint [default: [`Fingerprint::collect`] for the product].
    pub fingerprint: Option<Fingerprint>,
    /// Seconds the clock may read behind what was seen before without counting as rolled
    /// back [default: 300].
    pub clock_tolerance: u64,
    /// What a rolled-back clock means [default: refuse].
    pub rollback: RollbackPolicy,
    /// Seconds a server's time may differ from the local clock in an answer [default: 300].
    pub max_skew: u64,
    /// HTTP timeout [default: 10 s].
    pub timeout: Duration,
    /// The certificate authorities (PEM) the server's TLS certificate must chain to, instead of
    /// the system's roots: for a server whose certificate a private CA signed [default: none,
    /// the system's roots].
    pub ca_certificates: Option<Vec<u8>>,
    /// Send this machine's host name and platform (`linux-x86_64`, …) on activation, so that
    /// the vendor's support can tell a customer's machines apart [default: true].
    pub send_host_details: bool,
    /// Also trust the keys the server publishes (`/v1/keys`, fetched at check-ins and cached)
    /// besides `keys` [default: false]. On, a server can rotate its token key without an
    /// application update, at the price of trusting whoever answers at `server` over TLS.
    pub trust_server_keys: bool,
    /// Time between background check-ins [default: the policy's heartbeat interval for
    /// floating licenses, else the token's refresh period, else an hour].
    pub heartbeat_interval: Option<Duration>,
    /// The clock, unix seconds [default: the system clock]. Tests inject one.
    pub clock: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl core::fmt::Debug for Config {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Config")
            .field("server", &self.server)
            .field("product", &self.product)
            .field("state_dir", &self.state_dir)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Settings with the defaults.
    pub fn new(server: &str, product: &str, keys: Vec<PublicKey>) -> Config {
        Config {
            server: server.trim_end_matches('/').to_string(),
            product: product.to_string(),
            keys,
            state_dir: None,
            fingerprint: None,
            clock_tolerance: 300,
            rollback: RollbackPolicy::Refuse,
            max_skew: 300,
            timeout: Duration::from_secs(10),
            ca_certificates: None,
            send_host_details: true,
            heartbeat_interval: None,
            trust_server_keys: false,
            clock: Arc::new(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
            }),
        }
    }
}

/// Where a license stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// Licensed until `until`; the next check-in is due at `refresh_after`.
    Valid {
        /// Token expiry.
        until: i64,
        /// When the application should check in.
        refresh_after: Option<i64>,
    },
    /// Licensed, though the server could not be reached, until `until`.
    Grace {
        /// End of the offline grace.
        until: i64,
    },
    /// The offline grace ended before the server could be reached.
    GraceEnded,
    /// No license on this machine: activate one.
    NeedsActivation,
    /// The license was revoked.
    Revoked,
    /// The license is suspended.
    Suspended,
    /// The license (or its token) expired.
    Expired,
    /// The clock reads `behind_by` seconds earlier than a time already seen.
    ClockRolledBack {
        /// Seconds.
        behind_by: u64,
    },
    /// The stored token does not verify here (another machine, another product, a bad key).
    Invalid(Error),
    /// The local state is older than what this machine has seen: a token, revocation list or
    /// record was copied back or removed. Not licensed until the server is reached again.
    StateRolledBack,
}

impl Status {
    /// Whether the application may run licensed.
    pub fn is_licensed(&self) -> bool {
        matches!(self, Status::Valid { .. } | Status::Grace { .. })
    }
}

/// Why an online operation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The server could not be reached (or did not answer in time).
    Unreachable(String),
    /// The server refused, with its error code (`too_many_machines`, `license_not_found`, …).
    Refused {
        /// The server's stable code.
        code: String,
        /// Its message.
        message: String,
    },
    /// An answer or token did not check out; it was not trusted.
    Untrusted(Error),
    /// The local state could not be read or written.
    State(std::io::Error),
    /// No license key is stored (activate first).
    NotActivated,
    /// No offline activation request is pending on this machine (`offline request` first).
    NoPendingRequest,
}

impl core::fmt::Display for ClientError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ClientError::Unreachable(e) => write!(f, "the license server cannot be reached: {e}"),
            ClientError::Refused { code, message } => write!(f, "refused: {code} ({message})"),
            ClientError::Untrusted(e) => write!(f, "an answer did not check out: {}", e.code()),
            ClientError::State(e) => write!(f, "local license state: {e}"),
            ClientError::NotActivated => f.write_str("this machine has no license; activate first"),
            ClientError::NoPendingRequest => {
                f.write_str("no offline activation request is pending on this machine")
            }
        }
    }
}

impl std::error::Error for ClientError {}

impl From<std::io::Error> for ClientError {
    fn from(e: std::io::Error) -> Self {
        ClientError::State(e)
    }
}

/// What the client remembers besides the token (in the `Meta` slot).
/// The client's record (`meta.bin`). Besides the server and key it anchors the rest of the
/// state: the digest of the stored token, the highest revocation-list sequence seen and the
/// clock guard's memory, so that copying back an older `token.bin` or `revocations.bin`, or
/// deleting a file, is noticed (`Status::StateRolledBack`). Restoring the whole directory at
/// once cannot be told from the machine itself; the next contact with the server can.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta {
    pub(crate) server: Option<String>,
    pub(crate) key: Option<String>,
    pub(crate) last_contact: i64,
    heartbeat_interval: Option<u64>,
    revocation_sequence: Option<u64>,
    /// Written by a client that binds the state (older records lack the fields below).
    pub(crate) bound: bool,
    /// SHA-256 (hex) of the stored token; `None`: no token is stored.
    pub(crate) token_digest: Option<String>,
    /// The clock guard's memory.
    clock: ClockState,
    /// The offline request (hex) whose response the stored token came in, if it was installed
    /// offline: a deactivation receipt names it.
    pub(crate) request_id: Option<String>,
}

/// `meta.bin` as written: its field names are the record's format, kept by every version.
#[derive(Serialize, Deserialize, Default)]
#[serde(default)]
struct MetaRecord {
    server: Option<String>,
    key: Option<String>,
    last_contact: i64,
    heartbeat_interval: Option<u64>,
    revocation_sequence: Option<u64>,
    bound: bool,
    token_digest: Option<String>,
    clock_time: Option<i64>,
    clock_iat: Option<i64>,
    request_id: Option<String>,
}

impl Meta {
    fn to_bytes(&self) -> Vec<u8> {
        let record = MetaRecord {
            server: self.server.clone(),
            key: self.key.clone(),
            last_contact: self.last_contact,
            heartbeat_interval: self.heartbeat_interval,
            revocation_sequence: self.revocation_sequence,
            bound: true,
            token_digest: self.token_digest.clone(),
            clock_time: Some(self.clock.highest_time_seen),
            clock_iat: Some(self.clock.highest_iat_seen),
            request_id: self.request_id.clone(),
        };
        serde_json::to_vec(&record).unwrap_or_default()
    }

    /// A record that does not parse reads as none (`bound: false`): the state checks then
    /// refuse what it should have anchored.
    fn from_bytes(b: &[u8]) -> Meta {
        let r: MetaRecord = serde_json::from_slice(b).unwrap_or_default();
        Meta {
            server: r.server,
            key: r.key,
            last_contact: r.last_contact,
            heartbeat_interval: r.heartbeat_interval,
            revocation_sequence: r.revocation_sequence,
            bound: r.bound,
            token_digest: r.token_digest,
            clock: ClockState {
                highest_time_seen: r.clock_time.unwrap_or(i64::MIN),
                highest_iat_seen: r.clock_iat.unwrap_or(i64::MIN),
            },
            request_id: r.request_id,
        }
    }
}

/// An HTTP agent for a license server: HTTPS checked against the system's roots, or only
/// against `ca_pem`'s certificates when given (a PEM without one is refused).
pub fn http_agent(timeout: Duration, ca_pem: Option<&[u8]>) -> Result<ureq::Agent, ClientError> {
    use ureq::tls::{PemItem, RootCerts, TlsConfig};
    let roots = match ca_pem {
        None => RootCerts::PlatformVerifier,
        Some(pem) => {
            let certs: Vec<_> = ureq::tls::parse_pem(pem)
                .filter_map(|item| match item {
                    Ok(PemItem::Certificate(c)) => Some(c),
                    _ => None,
                })
                .collect();
            if certs.is_empty() {
                return Err(ClientError::State(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "the CA file holds no PEM certificate",
                )));
            }
            RootCerts::new_with_certs(&certs)
        }
    };
    Ok(ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .into())
}

/// A warning for a server reached over plain HTTP anywhere but this machine: license keys,
/// API keys and answers would cross the network readable and changeable by anyone on the way
/// (answers are signed, but keys are not secret from them).
pub fn plain_http_warning(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = match authority.rsplit_once('@') {
        Some((_, h)) => h,
        None => authority,
    };
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then(|| {
        std::format!(
            "warning: {url} is plain HTTP to another machine: keys and answers cross the network \
             unencrypted; use https://"
        )
    })
}

/// The client of one product on this machine.
#[derive(Debug)]
pub struct Client {
    pub(crate) config: Config,
    pub(crate) state: LocalState,
    pub(crate) fingerprint: Fingerprint,
    agent: ureq::Agent,
}

impl Client {
    /// A client; opens (creates) the product's state directory.
    pub fn new(config: Config) -> Result<Client, ClientError> {
        let fingerprint = config
            .fingerprint
            .clone()
            .unwrap_or_else(|| Fingerprint::collect(&config.product));
        let base = config
            .state_dir
            .clone()
            .or_else(default_base_dir)
            .ok_or_else(|| {
                ClientError::State(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no state directory (set Config::state_dir or LICET_STATE_DIR)",
                ))
            })?;
        let state = LocalState::open(&base, &config.product, &fingerprint.stable_id())?;
        let agent = http_agent(config.timeout, config.ca_certificates.as_deref())?;
        Ok(Client {
            config,
            state,
            fingerprint,
            agent,
        })
    }

    /// The local state (for applications that keep more there).
    pub fn state(&self) -> &LocalState {
        &self.state
    }

    pub(crate) fn now(&self) -> i64 {
        (self.config.clock)()
    }

    pub(crate) fn meta(&self) -> Meta {
        self.state
            .load(Slot::Meta)
            .map(|b| Meta::from_bytes(&b))
            .unwrap_or_default()
    }

    pub(crate) fn store_meta(&self, m: &Meta) -> Result<(), ClientError> {
        Ok(self.state.store(Slot::Meta, &m.to_bytes())?)
    }

    /// Stores a token and records its digest in the record (token first: a crash between the
    /// two reads as a rollback until the next contact, never as a license it should not be).
    pub(crate) fn save_token(&self, token: &[u8], m: &mut Meta) -> Result<(), ClientError> {
        self.state.store(Slot::Token, token)?;
        m.token_digest = Some(digest(token));
        m.bound = true;
        self.store_meta(m)
    }

    /// Deletes the token, and records that there is none.
    pub(crate) fn forget_token(&self) -> Result<(), ClientError> {
        let mut m = self.meta();
        self.state.clear(Slot::Token)?;
        m.token_digest = None;
        m.request_id = None;
        m.bound = true;
        self.store_meta(&m)
    }

    /// The clock guard's memory: the record's (older records kept it in `clock.bin`).
    fn clock_of(&self, m: Option<&Meta>) -> ClockState {
        match m {
            Some(m) if m.bound => m.clock,
            _ => self.state.clock(),
        }
    }

    /// The keys tokens, answers and lists are checked with: the pinned ones and, if the
    /// configuration trusts the server's key set, the keys of the cached set that a trusted key
    /// endorsed ([`trusted_from`]). The cache is state a user can rewrite, so it is a list of
    /// candidates, never an anchor: a key in it that no pinned key vouches for is not used.
    pub(crate) fn keys(&self) -> Vec<PublicKey> {
        let pinned = self.config.keys.clone();
        match self.state.load(Slot::Keys) {
            Some(set) if self.config.trust_server_keys => trusted_from(pinned, &set),
            _ => pinned,
        }
    }

    /// Fetches the server's published key set (`/v1/keys`) and caches its SPKI PEMs; how many
    /// keys it holds. They are used only with [`Config::trust_server_keys`].
    pub fn refresh_keys(&self) -> Result<usize, ClientError> {
        let url = std::format!("{}/v1/keys", self.config.server);
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let bytes = resp
            .body_mut()
            .read_to_vec()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let set: KeySet = serde_json::from_slice(&bytes)
            .map_err(|_| ClientError::Untrusted(Error::Malformed("the key set is not JSON")))?;
        let usable: Vec<PublishedKey> = set
            .keys
            .into_iter()
            // A retired generation of a rotated key verifies nothing: everything it signed
            // has expired, so a token naming it is not one the server stands behind.
            .filter(|k| !k.is_retired())
            .filter(|k| !parse_pems(&k.public_key_pem).is_empty())
            .collect();
        if usable.is_empty() {
            return Err(ClientError::Untrusted(Error::Malformed(
                "the key set holds no usable key",
            )));
        }
        let count = usable.len();
        let set = serde_json::to_vec(&KeySet { keys: usable })
            .map_err(|e| ClientError::State(std::io::Error::other(e)))?;
        self.state.store(Slot::Keys, &set)?;
        Ok(count)
    }

    /// How the clock compares with what was seen before.
    pub fn clock_check(&self) -> ClockCheck {
        let m = self.state.load(Slot::Meta).map(|b| Meta::from_bytes(&b));
        self.clock_of(m.as_ref())
            .check(self.now(), self.config.clock_tolerance)
    }

    /// The license's status from local state alone (no network).
    pub fn status(&self) -> Status {
        let now = self.now();
        let stored = self.state.load(Slot::Meta).map(|b| Meta::from_bytes(&b));
        let token = self.state.load(Slot::Token);
        // The record anchors the rest: a token it does not name was copied back (or the record
        // removed), which may be a revoked token brought back.
        if let Some(t) = &token {
            match &stored {
                None => return Status::StateRolledBack,
                Some(m) if m.bound && m.token_digest.as_deref() != Some(digest(t).as_str()) => {
                    return Status::StateRolledBack;
                }
                _ => {}
            }
        }
        let mut m = stored.unwrap_or_default();
        let clock = self.clock_of(Some(&m).filter(|m| m.bound));
        if let ClockCheck::RolledBack { behind_by } = clock.check(now, self.config.clock_tolerance)
            && self.config.rollback == RollbackPolicy::Refuse
        {
            return Status::ClockRolledBack { behind_by };
        }
        let Some(token) = token else {
            return Status::NeedsActivation;
        };
        let parts = self.fingerprint.parts();
        let fp = self.fingerprint.id();
        // A list older than the newest seen, or none where one was seen, was copied back or
        // removed: the token may be on the newer one.
        let list_bytes = self.state.load(Slot::Revocations);
        let list = match (&list_bytes, m.revocation_sequence) {
            (Some(b), seen) => match RevocationList::verify(b, &self.keys()[..], seen) {
                Ok(l) => Some(l),
                Err(_) if seen.is_some() => return Status::StateRolledBack,
                Err(_) => None,
            },
            (None, Some(_)) => return Status::StateRolledBack,
            (None, None) => None,
        };
        let device = self.state.device_key();
        let device_public = device.as_ref().map(|d| d.public());
        let mut ctx = Context::new(now, &self.config.product)
            .hwid_parts(&parts)
            .fingerprint(&fp);
        if let Some(l) = &list {
            ctx = ctx.revocations(l);
        }
        // A machine that holds a device key accepts only tokens bound to it: one issued
        // without `cnf` (by an API that cannot bind it) does not stand in for its own.
        if let Some(k) = &device_public {
            ctx = ctx.device_key(k).require_device_binding();
        }
        let verified = UnverifiedToken::decode(&token)
            .and_then(|t| t.verify(&self.keys()[..], &ctx))
            .and_then(|v| prove_possession(v.claims(), device.as_ref()).map(|()| v));
        let claims = match verified {
            Ok(v) => *v.claims(),
            Err(Error::Revoked) => {
                let _ = self.forget_token();
                return Status::Revoked;
            }
            Err(Error::Expired) => return Status::Expired,
            Err(e) => return Status::Invalid(e),
        };
        // Written by an older client: bind it now.
        if !m.bound {
            m.token_digest = Some(digest(&token));
            m.bound = true;
        }
        m.clock = clock.observe(now, Some(claims.issued_at));
        let _ = self.store_meta(&m);
        let until = claims.expires_at.unwrap_or(i64::MAX);
        match claims.refresh_after {
            Some(due) if now >= due => {
                let grace = i64::try_from(claims.offline_grace.unwrap_or(0)).unwrap_or(i64::MAX);
                let last = self.meta().last_contact.max(claims.issued_at);
                let end = until.min(last.saturating_add(grace));
                if now < end {
                    Status::Grace { until: end }
                } else {
                    Status::GraceEnded
                }
            }
            refresh_after => Status::Valid {
                until,
                refresh_after,
            },
        }
    }

    /// Sends a client request; the answer once its signature, nonce and time checked out.
    /// `fill` adds what the request carries beyond the key, fingerprint and nonce. With a device key, the body carries its public
    /// half and the time, and is signed with it (`Licet-Device-Signature`), so that the license
    /// key and fingerprint alone cannot release or take over this machine's seat.
    pub(crate) fn call<T: DeserializeOwned + SignedAnswer>(
        &self,
        path: &str,
        key: &str,
        device: Option<&crate::device::DeviceKey>,
        fill: impl FnOnce(&mut MachineRequest),
    ) -> Result<T, ClientError> {
        let nonce = hex(&rand_nonce());
        let mut body = request_body(key, &self.fingerprint, &nonce);
        fill(&mut body);
        if let Some(d) = device {
            body.device_key = Some(hex(&d.public()));
            body.time = Some(self.now());
        }
        let body = serde_json::to_string(&body)
            .map_err(|e| ClientError::State(std::io::Error::other(e)))?;
        let url = std::format!("{}{path}", self.config.server);
        let mut req = self
            .agent
            .post(&url)
            .header("content-type", "application/json");
        if let Some(d) = device {
            use base64::Engine;
            let sig = d.sign_request(path, body.as_bytes());
            req = req.header(
                "licet-device-signature",
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig),
            );
        }
        let resp = req.send(body);
        let mut resp = resp.map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let status = resp.status().as_u16();
        let signature = resp
            .headers()
            .get("licet-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = resp
            .body_mut()
            .read_to_vec()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let signed = signature
            .ok_or(Error::Malformed("the answer is not signed"))
            .and_then(|sig| verify_answer(&self.keys()[..], &sig, &bytes));
        if !(200..300).contains(&status) {
            // A refusal is acted on only when the server signed it for this request: anyone
            // else answering at the server's address is the server being unreachable, and
            // cannot make the client forget a license.
            let refusal = signed
                .ok()
                .and_then(|()| serde_json::from_slice::<RefusalAnswer>(&bytes).ok())
                .filter(|r| check_freshness(r, &nonce, self.now(), self.config.max_skew).is_ok());
            return Err(match refusal {
                Some(r) => ClientError::Refused {
                    code: r.error.code,
                    message: r.error.message,
                },
                None => ClientError::Unreachable(std::format!(
                    "a refusal (HTTP {status}) not signed for this request is not the server's word"
                )),
            });
        }
        signed.map_err(ClientError::Untrusted)?;
        let answer: T = serde_json::from_slice(&bytes).map_err(|_| {
            ClientError::Untrusted(Error::Malformed(
                "the signed answer is not the one this request expects",
            ))
        })?;
        check_freshness(&answer, &nonce, self.now(), self.config.max_skew)
            .map_err(ClientError::Untrusted)?;
        Ok(answer)
    }

    /// Checks and stores the token of an answer; the status it gives.
    pub(crate) fn accept_token(
        &self,
        answer: &TokenAnswer,
        key: &str,
    ) -> Result<Status, ClientError> {
        let token = licet_verifier::text::decode(answer.token.as_bytes(), "LICET LICENSE")
            .map_err(ClientError::Untrusted)?;
        let now = self.now();
        let parts = self.fingerprint.parts();
        let fp = self.fingerprint.id();
        let device = self.state.device_key();
        let device_public = device.as_ref().map(|d| d.public());
        let mut ctx = Context::new(now, &self.config.product)
            .hwid_parts(&parts)
            .fingerprint(&fp);
        // A machine that holds a device key accepts only tokens bound to it: one issued
        // without `cnf` (by an API that cannot bind it) does not stand in for its own.
        if let Some(k) = &device_public {
            ctx = ctx.device_key(k).require_device_binding();
        }
        UnverifiedToken::decode(&token)
            .and_then(|t| t.verify(&self.keys()[..], &ctx))
            .and_then(|v| prove_possession(v.claims(), device.as_ref()))
            .map_err(ClientError::Untrusted)?;
        let mut m = self.meta();
        m.request_id = None;
        m.server = Some(self.config.server.clone());
        m.key = Some(key.to_string());
        m.last_contact = now;
        m.heartbeat_interval = answer
            .heartbeat
            .map(|h| h.interval)
            .or(m.heartbeat_interval);
        self.save_token(&token, &mut m)?;
        Ok(self.status())
    }

    /// What a refusal means for the stored license: revoked, suspended, expired or unknown
    /// licenses are deleted at once.
    fn refused(&self, e: ClientError) -> Result<Status, ClientError> {
        if let ClientError::Refused { code, .. } = &e {
            let status = match code.as_str() {
                "revoked" => Some(Status::Revoked),
                "suspended" => Some(Status::Suspended),
                "expired" => Some(Status::Expired),
                "license_not_found" => Some(Status::NeedsActivation),
                _ => None,
            };
            if let Some(s) = status {
                self.forget_token()?;
                return Ok(s);
            }
        }
        Err(e)
    }

    /// Activates this machine with a license key and stores the token. A refusal leaves the
    /// stored state alone (a mistyped key must not cost the license already there).
    pub fn activate(&self, key: &str) -> Result<Status, ClientError> {
        let device = self.state.device_key_or_new()?;
        let hostname = self
            .config
            .send_host_details
            .then(sysinfo::System::host_name)
            .flatten()
            .map(|mut host| {
                // The server takes at most 255 bytes: cut at a character's edge.
                let mut end = host.len().min(255);
                while !host.is_char_boundary(end) {
                    end -= 1;
                }
                host.truncate(end);
                host
            });
        let a: TokenAnswer = self.call("/v1/client/activate", key, Some(&device), |r| {
            r.product = Some(self.config.product.clone());
            r.hostname = hostname;
            r.platform = self.config.send_host_details.then(platform);
        })?;
        self.accept_token(&a, key)
    }

    /// Checks in: a fresh token (and seat) for this machine.
    pub fn heartbeat(&self) -> Result<Status, ClientError> {
        let key = self.meta().key.ok_or(ClientError::NotActivated)?;
        let device = self.state.device_key();
        match self.call::<TokenAnswer>("/v1/client/heartbeat", &key, device.as_ref(), |_| {}) {
            Ok(a) => self.accept_token(&a, &key),
            Err(ClientError::Refused { code, .. })
                if code == "heartbeat_dead" || code == "machine_not_found" =>
            {
                // The seat was released (missed heartbeats, or an admin): take one again.
                match self.activate(&key) {
                    Ok(s) => Ok(s),
                    Err(e) => self.refused(e),
                }
            }
            Err(e) => self.refused(e),
        }
    }

    /// Deactivates this machine (frees its seat) and deletes the token.
    pub fn deactivate(&self) -> Result<(), ClientError> {
        let key = self.meta().key.ok_or(ClientError::NotActivated)?;
        let device = self.state.device_key();
        let result: Result<DeactivateAnswer, _> =
            self.call("/v1/client/deactivate", &key, device.as_ref(), |_| {});
        self.forget_token()?;
        // The next activation makes a new device key: nothing signed by this one is of use.
        self.state.clear(Slot::DeviceKey)?;
        match result {
            Ok(_) => Ok(()),
            Err(ClientError::Refused { code, .. }) if code == "machine_not_found" => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Fetches the server's revocation list, checks it (signature, not older than the one
    /// seen) and stores it.
    pub fn refresh_revocations(&self) -> Result<(), ClientError> {
        let url = std::format!("{}/v1/revocations?format=cbor", self.config.server);
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        if resp.status().as_u16() != 200 {
            return Err(ClientError::Refused {
                code: "revocations_unavailable".into(),
                message: std::format!("HTTP {}", resp.status()),
            });
        }
        let bytes = resp
            .body_mut()
            .read_to_vec()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        let mut m = self.meta();
        let list = RevocationList::verify(&bytes, &self.keys()[..], m.revocation_sequence)
            .map_err(ClientError::Untrusted)?;
        m.revocation_sequence = Some(list.sequence());
        self.state.store(Slot::Revocations, &bytes)?;
        self.store_meta(&m)?;
        Ok(())
    }

    /// Checks in with the server now, whatever the token asks (`licet status --online`): the
    /// revocation list is refreshed first, so that a revocation published offline is seen even
    /// when the check-in itself is refused for another reason, then a heartbeat takes a fresh
    /// token. A machine with no license is [`Status::NeedsActivation`]; an unreachable server is
    /// an error here (the offline status is [`Client::status`]), unlike in [`Client::ensure`].
    pub fn check_in(&self) -> Result<Status, ClientError> {
        let _ = self.refresh_revocations();
        match self.heartbeat() {
            Err(ClientError::NotActivated) => Ok(Status::NeedsActivation),
            other => other,
        }
    }

    /// The start-up call: the status from local state, refreshed online when the token asks
    /// for a check-in; the server being down is not an error (the grace applies).
    pub fn ensure(&self) -> Result<Status, ClientError> {
        let status = self.status();
        let due = matches!(
            status,
            Status::Grace { .. } | Status::GraceEnded | Status::StateRolledBack
        );
        if !due {
            return Ok(status);
        }
        if self.config.trust_server_keys {
            let _ = self.refresh_keys();
        }
        let _ = self.refresh_revocations();
        match self.heartbeat() {
            Ok(s) => Ok(s),
            Err(ClientError::Unreachable(_) | ClientError::NotActivated) => Ok(self.status()),
            Err(e) => Err(e),
        }
    }
}

/// The body of a client request to `/v1/client/activate`, `heartbeat` and `deactivate`: the
/// license key, the fingerprint's id and hex parts, and the request's nonce. This is the wire
/// format `test-vectors/wire/client-request.json` pins, and the server's tests send that file.
pub fn request_body(key: &str, fingerprint: &Fingerprint, nonce: &str) -> MachineRequest {
    MachineRequest {
        key: key.to_owned(),
        fingerprint: fingerprint.id(),
        parts: Some(fingerprint.parts().iter().map(|p| hex(p)).collect()),
        nonce: Some(nonce.to_owned()),
        ..MachineRequest::default()
    }
}

/// This machine's platform as the client reports it: operating system and architecture
/// (`linux-x86_64`, `windows-aarch64`, `macos-aarch64`).
pub fn platform() -> String {
    std::format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// The public keys in a text of concatenated SPKI PEM blocks (unusable blocks are skipped).
pub fn parse_pems(text: &str) -> Vec<PublicKey> {
    text.split("-----END PUBLIC KEY-----")
        .filter(|p| p.contains("-----BEGIN PUBLIC KEY-----"))
        .filter_map(|p| {
            PublicKey::from_spki_pem(&std::format!("{p}-----END PUBLIC KEY-----\n")).ok()
        })
        .collect()
}

/// The server URL a product's state was activated against, if any.
pub fn stored_server(state: &LocalState) -> Option<String> {
    state
        .load(Slot::Meta)
        .and_then(|b| Meta::from_bytes(&b).server)
}

/// Checks the license at start-up: [`Client::new`] then [`Client::ensure`].
pub fn ensure(config: Config) -> Result<Status, ClientError> {
    Client::new(config)?.ensure()
}

/// The background check-ins of a [`Client`]; stops when dropped.
#[derive(Debug)]
pub struct Heartbeats {
    stop: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeats {
    /// Stops the check-ins and waits for the thread.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        let (lock, cv) = &*self.stop;
        if let Ok(mut s) = lock.lock() {
            *s = true;
        }
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Heartbeats {
    fn drop(&mut self) {
        self.halt();
    }
}

/// `d` with ±10 % jitter, so that many clients do not call at the same instant.
fn jittered(d: Duration) -> Duration {
    let r = u64::from_be_bytes(rand_nonce()[..8].try_into().unwrap_or_default());
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1);
    let spread = (ms / 5).max(1);
    Duration::from_millis(ms - ms / 10 + r % spread)
}

impl Client {
    /// The interval between check-ins.
    fn interval(&self) -> Duration {
        if let Some(d) = self.config.heartbeat_interval {
            return d;
        }
        if let Some(s) = self.meta().heartbeat_interval {
            return Duration::from_secs(s.max(10));
        }
        let from_token = self.state.load(Slot::Token).and_then(|t| {
            let u = UnverifiedToken::decode(&t).ok()?;
            let c = u.unverified_claims().ok()?;
            let period = c.refresh_after? - c.issued_at;
            u64::try_from(period).ok()
        });
        Duration::from_secs(from_token.unwrap_or(3600).max(10))
    }

    /// Checks in on a background thread at the interval (with jitter), backing off (30 s,
    /// doubling, at most the interval) while the server cannot be reached; `on_status` hears
    /// every outcome. A revoked, suspended, expired or unknown license stops the check-ins.
    pub fn spawn_heartbeats(
        self: Arc<Self>,
        on_status: impl Fn(&Result<Status, ClientError>) + Send + 'static,
    ) -> Heartbeats {
        let stop = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let interval = self.interval();
            let mut wait = jittered(interval);
            loop {
                let (lock, cv) = &*flag;
                let Ok(guard) = lock.lock() else { return };
                let Ok((guard, _)) = cv.wait_timeout_while(guard, wait, |stopped| !*stopped) else {
                    return;
                };
                if *guard {
                    return;
                }
                drop(guard);
                let result = self.heartbeat();
                on_status(&result);
                wait = match &result {
                    Ok(s) if s.is_licensed() => jittered(interval),
                    Ok(_) => return,
                    Err(ClientError::Unreachable(_)) => {
                        let next = if wait >= interval {
                            Duration::from_secs(30).min(interval)
                        } else {
                            (wait * 2).min(interval)
                        };
                        jittered(next)
                    }
                    Err(_) => jittered(interval),
                };
            }
        });
        Heartbeats {
            stop,
            thread: Some(thread),
        }
    }
}

/// The keys to check with: `pinned`, and each key of the published `set` (`/v1/keys` JSON) that
/// a key already trusted endorsed (`endorsed_by`, `endorsement`; see
/// [`PublicKey::endorses`]), following the chain of rotations from a pinned key. A key nobody
/// trusted vouches for is left out, whatever else the set says.
pub fn trusted_from(pinned: Vec<PublicKey>, set: &[u8]) -> Vec<PublicKey> {
    use base64::Engine;
    let mut trusted = pinned;
    let Ok(set) = serde_json::from_slice::<KeySet>(set) else {
        return trusted;
    };
    let candidates: Vec<(PublicKey, String, Vec<u8>)> = set
        .keys
        .iter()
        .filter_map(|k| {
            let key = parse_pems(&k.public_key_pem).into_iter().next()?;
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k.endorsement.as_deref()?)
                .ok()?;
            Some((key, k.endorsed_by.clone()?, sig))
        })
        .collect();
    // Each pass takes up the keys the trusted ones vouch for; a chain of n rotations takes at
    // most n passes.
    loop {
        let before = trusted.len();
        for (key, by, sig) in &candidates {
            if trusted.iter().any(|t| t.kid() == key.kid()) {
                continue;
            }
            let vouched = trusted
                .iter()
                .any(|t| t.kid().to_string() == *by && t.endorses(key, sig));
            if vouched {
                trusted.push(key.clone());
            }
        }
        if trusted.len() == before {
            return trusted;
        }
    }
}

/// Proves that this machine holds the device key the token binds (a fresh random challenge,
/// signed and checked against the token's `cnf`); nothing to prove for a token that binds none.
pub(crate) fn prove_possession(
    claims: &licet_verifier::Claims<'_>,
    device: Option<&crate::device::DeviceKey>,
) -> Result<(), Error> {
    if claims.device_key.is_none() {
        return Ok(());
    }
    let device = device.ok_or(Error::DeviceKeyRequired)?;
    let challenge = rand_nonce();
    claims.verify_possession(&challenge, &device.prove(&challenge))
}

/// SHA-256 of a stored token, hex: what the record binds.
fn digest(token: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(token))
}

pub(crate) fn rand_nonce() -> [u8; 16] {
    use sha2::{Digest, Sha256};
    // Unpredictability is not needed (the nonce only binds an answer to its request); a hash
    // of the time and a process-wide counter is unique enough without an RNG dependency.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let d: [u8; 32] = Sha256::new()
        .chain_update(t.to_be_bytes())
        .chain_update(n.to_be_bytes())
        .chain_update(std::process::id().to_be_bytes())
        .finalize()
        .into();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// The client's side of the wire files in `test-vectors/wire/` (the server's side is
/// `server/tests/suite/wire.rs`). `LICET_WRITE_GOLDEN=1` rewrites `client-request.json` from the
/// client instead of checking it.
#[cfg(test)]
mod wire {
    use super::*;

    fn wire_file(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../test-vectors/wire")
            .join(name)
    }

    use serde_json::Value;

    fn read(name: &str) -> Value {
        let text = std::fs::read_to_string(wire_file(name)).expect("a wire file");
        serde_json::from_str(&text).expect("JSON")
    }

    /// The golden machine: fixed components, so its fingerprint is the same everywhere.
    fn machine(inputs: &Value) -> Fingerprint {
        let components: Vec<(&'static str, String, Vec<u8>)> = inputs["components"]
            .as_array()
            .expect("components")
            .iter()
            .map(|c| {
                let name: &'static str = match c[0].as_str().expect("name") {
                    "machine-id" => "machine-id",
                    "cpu" => "cpu",
                    "memory" => "memory",
                    "disk" => "disk",
                    "mac" => "mac",
                    _ => "host",
                };
                let value = c[2].as_str().expect("value").as_bytes().to_vec();
                (name, c[1].as_str().expect("label").to_string(), value)
            })
            .collect();
        Fingerprint::from_values(inputs["product"].as_str().expect("product"), &components)
    }

    #[test]
    fn the_client_sends_the_golden_request() {
        let mut golden = read("client-request.json");
        let inputs = golden["inputs"].clone();
        let body = request_body(
            inputs["key"].as_str().expect("key"),
            &machine(&inputs),
            inputs["nonce"].as_str().expect("nonce"),
        );
        if std::env::var_os("LICET_WRITE_GOLDEN").is_some() {
            golden["body"] = serde_json::to_value(&body).expect("json");
            let text = serde_json::to_string_pretty(&golden).expect("json") + "\n";
            std::fs::write(wire_file("client-request.json"), text).expect("write");
            return;
        }
        assert_eq!(
            serde_json::to_value(&body).expect("json"),
            golden["body"],
            "the request the client builds"
        );
    }

    #[test]
    fn the_client_reads_the_golden_answers() {
        let answer: TokenAnswer = serde_json::from_value(read("activate-answer.json"))
            .expect("the golden token answer reads as the client's type");
        let token = licet_verifier::text::decode(answer.token.as_bytes(), "LICET LICENSE")
            .expect("its text form");
        UnverifiedToken::decode(&token).expect("a token the client can decode");
        assert!(answer.heartbeat.is_some_and(|h| h.interval > 0));
        let nonce = answer.nonce.clone().expect("the nonce echoed");
        check_freshness(&answer, &nonce, answer.server_time, 0).expect("fresh");
        assert!(check_freshness(&answer, "another nonce", answer.server_time, 0).is_err());
        assert!(check_freshness(&answer, &nonce, answer.server_time + 301, 300).is_err());
        let refusal: RefusalAnswer = serde_json::from_value(read("refusal-answer.json"))
            .expect("the golden refusal reads as the client's type");
        assert_eq!(refusal.error.code, "license_not_found");
        assert!(!refusal.error.message.is_empty());
    }
}

#[cfg(test)]
mod transport {
    use super::*;

    #[test]
    fn plain_http_is_flagged_unless_it_stays_on_this_machine() {
        for quiet in [
            "http://127.0.0.1:47293",
            "http://localhost/",
            "http://LOCALHOST:8080/x",
            "http://[::1]:47293",
            "http://127.9.9.9",
            "https://licenses.example.com",
            "https://10.0.0.5:8443",
        ] {
            assert_eq!(plain_http_warning(quiet), None, "{quiet}");
        }
        for loud in [
            "http://licenses.example.com",
            "http://10.0.0.5:47293/v1",
            "http://[2001:db8::1]:80",
            "http://localhost.example.com",
            "http://user@192.0.2.7",
        ] {
            let w = plain_http_warning(loud).expect(loud);
            assert!(w.contains(loud) && w.contains("https://"), "{w}");
        }
    }

    #[test]
    fn a_ca_file_without_a_certificate_is_refused() {
        let err =
            http_agent(Duration::from_secs(1), Some(b"not a certificate")).expect_err("no CA");
        assert!(err.to_string().contains("no PEM certificate"), "{err}");
    }
}

//! The pages' templates (askama, compiled into the binary from `server/templates/admin/`),
//! each with the rows it shows. Askama escapes every value for HTML.

use askama::Template;

/// The facts of the layout: who is signed in, with what reach, and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The API key's name.
    pub who: String,
    /// The key's id.
    pub key_id: String,
    /// The product the key is limited to, if it is.
    pub limited_to: Option<String>,
    /// The session's CSRF token.
    pub csrf: String,
    /// Which section of the navigation is current.
    pub section: &'static str,
}

/// A flash line at the top of a page: what the last action did or why it was refused.
#[derive(Debug, Clone, Default)]
pub struct Notice {
    /// `ok` or `error`.
    pub kind: &'static str,
    /// The text.
    pub text: String,
}

/// A plain page for a failure.
#[derive(Debug, Template)]
#[template(path = "admin/failure.html")]
pub struct Failure {
    pub status: u16,
    pub code: String,
    pub message: String,
}

/// The sign-in page.
#[derive(Debug, Template)]
#[template(path = "admin/sign_in.html")]
pub struct SignIn {
    pub csrf: String,
    pub notice: Option<Notice>,
}

/// The overview.
#[derive(Debug, Template)]
#[template(path = "admin/overview.html")]
pub struct Overview {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub tiles: Vec<Tile>,
    pub charts: Vec<Chart>,
    /// The charts' figures as a table: day, activations, validations, refusals.
    pub days: Vec<(String, u64, u64, u64)>,
    /// Refusals by code, the most first.
    pub refusals: Vec<(String, u64)>,
    pub expiring: Vec<ExpiringRow>,
    pub expiring_more: bool,
    pub products: Vec<ProductFigures>,
    pub as_of: String,
    /// When licenses and seats were summed up.
    pub summed_up: String,
}

/// A figure in a tile.
#[derive(Debug, Clone)]
pub struct Tile {
    pub id: &'static str,
    pub label: &'static str,
    pub n: u64,
}

/// A bar chart, in SVG units.
#[derive(Debug, Clone)]
pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    /// The bars' CSS class.
    pub class: &'static str,
    pub total: u64,
    pub max: u64,
    pub bars: Vec<Bar>,
    pub width: u32,
    pub height: u32,
    /// The first and last day shown.
    pub first: String,
    pub last: String,
}

/// One day's bar.
#[derive(Debug, Clone)]
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub value: u64,
    /// "YYYY-MM-DD: n", the bar's tooltip.
    pub label: String,
}

/// A license about to expire.
#[derive(Debug, Clone)]
pub struct ExpiringRow {
    pub id: String,
    pub key: String,
    pub product: String,
    pub expires: String,
}

/// One product's licenses (active, expired, suspended, revoked) and seats.
#[derive(Debug, Clone)]
pub struct ProductFigures {
    pub code: String,
    pub name: String,
    pub licenses: [u64; 4],
    pub seats: u64,
}

/// A product in a choice.
#[derive(Debug, Clone)]
pub struct ProductChoice {
    pub id: String,
    pub code: String,
}

/// A license in the list.
#[derive(Debug, Clone)]
pub struct LicenseRow {
    pub id: String,
    pub key: String,
    pub product: String,
    pub status: &'static str,
    /// None: never.
    pub expires: Option<super::time::When>,
    pub created: super::time::When,
}

/// The license list and search.
#[derive(Debug, Template)]
#[template(path = "admin/licenses.html")]
pub struct Licenses {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub q: String,
    pub product: String,
    pub status: String,
    pub statuses: Vec<String>,
    pub products: Vec<ProductChoice>,
    /// The policy filtered by, and the choices (id, "product · name").
    pub policy: String,
    pub policies: Vec<ProductChoice>,
    pub rows: Vec<LicenseRow>,
    pub next: Option<String>,
}

/// One license as its page shows it.
#[derive(Debug, Clone, Default)]
pub struct LicenseView {
    pub id: String,
    pub key: String,
    pub status: String,
    pub product: String,
    pub policy: String,
    pub kind: String,
    pub expires: String,
    pub seats: String,
    pub entitlements: String,
    pub domains: String,
    pub metadata: String,
    pub created: String,
}

/// A machine of a license.
#[derive(Debug, Clone)]
pub struct MachineRow {
    pub id: String,
    pub fingerprint: String,
    pub short: String,
    pub host: String,
    pub state: String,
    pub state_class: &'static str,
    pub heartbeat: String,
    pub first_seen: String,
    /// Activated offline with a lease still running: its license file can be downloaded.
    pub offline_file: bool,
}

/// An entry of a license's timeline.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub at: String,
    pub action: String,
    pub actor: String,
    pub detail: String,
}

/// One license.
#[derive(Debug, Template)]
#[template(path = "admin/license.html")]
pub struct License {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub l: LicenseView,
    /// (path segment, label, destructive)
    pub actions: Vec<(&'static str, &'static str, bool)>,
    pub machines: Vec<MachineRow>,
    pub events: Vec<EventRow>,
}

/// A destructive action, asked once more.
#[derive(Debug, Template)]
#[template(path = "admin/confirm.html")]
pub struct Confirm {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub question: String,
    pub consequence: String,
    pub verb: String,
    pub action: String,
    pub back: String,
    pub fields: Vec<(String, String)>,
}

/// A policy in the products page.
#[derive(Debug, Clone)]
pub struct PolicyRow {
    pub id: String,
    pub name: String,
    pub seats: String,
    pub offline: String,
    pub default: bool,
}

/// A product with its policies.
#[derive(Debug, Clone)]
pub struct ProductRow {
    pub id: String,
    pub code: String,
    pub name: String,
    pub lifetime: String,
    pub families: String,
    pub policies: Vec<PolicyRow>,
}

/// Products and policies.
#[derive(Debug, Template)]
#[template(path = "admin/products.html")]
pub struct Products {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub products: Vec<ProductRow>,
}

/// A signing key.
#[derive(Debug, Clone)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub use_: String,
    pub status: String,
    pub until: String,
}

/// Signing keys and the revocation list.
#[derive(Debug, Template)]
#[template(path = "admin/revocations.html")]
pub struct Revocations {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub sequence: String,
    pub size: usize,
    pub licenses: usize,
    pub tokens: usize,
    pub issued: String,
    pub next_update: String,
    pub keys: Vec<KeyRow>,
}

/// An audit entry in the log page.
#[derive(Debug, Clone)]
pub struct AuditRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub ip: String,
    pub detail: String,
}

/// The audit log.
#[derive(Debug, Template)]
#[template(path = "admin/audit.html")]
pub struct Audit {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub action: String,
    pub subject: String,
    pub actor: String,
    pub since: String,
    pub until: String,
    pub rows: Vec<AuditRow>,
    pub next: Option<String>,
}

/// An API key in the keys page.
#[derive(Debug, Clone)]
pub struct ApiKeyRow {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub product: String,
    pub today: String,
    pub quota: String,
    pub created: String,
    pub state: String,
    pub live: bool,
}

/// API keys.
#[derive(Debug, Template)]
#[template(path = "admin/api_keys.html")]
pub struct ApiKeys {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    /// A secret just made, shown this once (never in a URL).
    pub shown: Option<String>,
    pub keys: Vec<ApiKeyRow>,
    pub products: Vec<ProductChoice>,
}

/// An answered activation request.
#[derive(Debug, Clone)]
pub struct Answered {
    pub repeated: bool,
    pub machine: String,
    pub token: String,
    pub lease_until: String,
    pub response: String,
    pub response_b64: String,
}

/// A seat given back by receipt.
#[derive(Debug, Clone)]
pub struct GivenBack {
    pub machine: String,
    pub token: String,
    pub sequence: String,
}

/// The offline desk.
#[derive(Debug, Template)]
#[template(path = "admin/offline.html")]
pub struct Offline {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub answer: Option<Answered>,
    pub given_back: Option<GivenBack>,
}

/// A delivery of a webhook.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: String,
    pub event: String,
    pub state: String,
    pub attempts: String,
    pub queued: String,
    pub next: String,
    pub last: String,
}

/// A webhook with its recent deliveries.
#[derive(Debug, Clone)]
pub struct WebhookRow {
    pub id: String,
    pub url: String,
    pub events: String,
    pub product: String,
    pub active: bool,
    pub deliveries: Vec<DeliveryRow>,
}

/// Webhooks.
#[derive(Debug, Template)]
#[template(path = "admin/webhooks.html")]
pub struct Webhooks {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub shown: Option<String>,
    pub hooks: Vec<WebhookRow>,
    pub events: Vec<String>,
    pub products: Vec<ProductChoice>,
}

/// A product's edit form, filled with what is stored.
#[derive(Debug, Template)]
#[template(path = "admin/product_edit.html")]
pub struct ProductEdit {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub id: String,
    pub code: String,
    pub name: String,
    pub key_prefix: String,
    pub key_format: String,
    pub token_lifetime: String,
    /// The product's policies: (id, name, whether the default).
    pub policies: Vec<(String, String, bool)>,
    /// The families: (form name, label, on).
    pub families: Vec<(&'static str, &'static str, bool)>,
}

/// A policy's edit form, filled with what is stored. Optional numbers are empty when unset.
#[derive(Debug, Template)]
#[template(path = "admin/policy_edit.html")]
pub struct PolicyEdit {
    pub chrome: Chrome,
    pub notice: Option<Notice>,
    pub id: String,
    pub product_id: String,
    pub name: String,
    pub max_machines: String,
    pub floating: bool,
    pub duration: String,
    pub heartbeat_interval: String,
    pub heartbeat_ttl: String,
    pub offline_grace: String,
    pub refresh_after: String,
    pub entitlements: String,
    pub hwid_locked: bool,
    pub require_device_key: bool,
    pub offline_lease: String,
    pub offline_window: String,
    pub max_borrow: String,
}

//! Configuration: command-line flags, then environment variables, then an optional TOML file,
//! then the built-in defaults (the embedded sled store in `./licet-data`, `127.0.0.1:47293`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Parser;
use serde::Deserialize;

/// licet-server: online activation, heartbeats and floating seats, revocation lists and key
/// publication for licet license tokens, on an embedded sled database.
///
/// Every option can also be given as an environment variable (shown in brackets) or in a TOML
/// file passed with --config (keys are the option names with `_` for `-`). Flags win over the
/// environment, which wins over the file.
/// What to move, and where.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// The data directory of a stopped licet-server on sled.
    #[arg(long)]
    pub from_data: PathBuf,
    /// The PostgreSQL database to move it to (new, or empty).
    #[arg(long, env = "LICET_DATABASE_URL", hide_env_values = true)]
    pub to_database_url: String,
    /// The key-encryption key the servers on PostgreSQL will be given (32 bytes, mode 0600):
    /// the signing keys are sealed under it.
    #[arg(long, env = "LICET_MASTER_KEY_FILE")]
    pub master_key_file: PathBuf,
}

/// What licet-server does instead of serving.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Moves a stopped server's sled data directory (store, signing keys, download files) to
    /// a new PostgreSQL database, for servers started with --database-url.
    Migrate(MigrateArgs),
    /// API keys made on the server's own machine, without the API: a new admin key when every
    /// admin key is lost. Uses the store of --data (the server stopped) or --database-url
    /// (running or not); the audit log records it as made from the console.
    #[command(name = "api-keys", subcommand)]
    ApiKeys(ApiKeysCommand),
    /// Copies the sled data directory of --data (store, signing keys, root secret, download
    /// files) into one encrypted file, while the server keeps answering (or with it stopped).
    /// On PostgreSQL, use pg_dump and keep the master key file (see deployment.md).
    Backup(BackupArgs),
    /// Brings a backup back into --data, a new or empty directory, and checks that it opens.
    Restore(RestoreArgs),
}

/// Where a backup goes.
#[derive(Debug, Clone, clap::Args)]
pub struct BackupArgs {
    /// The backup file to write (never replaced; mode 0600): an age file, encrypted with the
    /// passphrase.
    #[arg(long)]
    pub to: PathBuf,
    /// A file whose first line is the passphrase (at least 12 characters) [default: the
    /// LICET_BACKUP_PASSPHRASE environment variable].
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
}

/// Where a backup comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct RestoreArgs {
    /// The backup file.
    #[arg(long)]
    pub from: PathBuf,
    /// A file whose first line is the passphrase [default: the LICET_BACKUP_PASSPHRASE
    /// environment variable].
    #[arg(long)]
    pub passphrase_file: Option<PathBuf>,
    /// Filled from --data: where the data directory is restored.
    #[arg(skip)]
    pub data: PathBuf,
}

/// `licet-server api-keys …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ApiKeysCommand {
    /// Makes an API key and prints it once on stdout.
    Create(CreateKeyArgs),
}

/// A new API key.
#[derive(Debug, Clone, clap::Args)]
pub struct CreateKeyArgs {
    /// What the key may do.
    #[arg(long, value_enum)]
    pub scope: ConsoleScope,
    /// A name for the key, shown in listings and the audit log.
    #[arg(long, default_value = "console")]
    pub name: String,
}

/// The scopes of an API key.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ConsoleScope {
    /// Everything, API keys included.
    Admin,
    /// Products, policies, licenses and machines.
    ReadWrite,
    /// Reading only.
    ReadOnly,
}

#[derive(Debug, Parser, Default)]
#[command(name = "licet-server", version, about, long_about)]
pub struct Args {
    /// Something to do other than serve.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// TOML configuration file.
    #[arg(help_heading = "Storage", long, env = "LICET_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Data directory: the sled database and the server's signing keys [default: ./licet-data].
    #[arg(help_heading = "Storage", long, env = "LICET_DATA", global = true)]
    pub data: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:47293].
    #[arg(help_heading = "Network", long, env = "LICET_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key. The files
    /// are read again when they change and on SIGHUP, without dropping connections
    /// [default: plain HTTP].
    #[arg(
        help_heading = "Network",
        long,
        env = "LICET_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        help_heading = "Network",
        long,
        env = "LICET_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Issuer name written into tokens (`iss`) and minted JWTs [default: licet-server].
    #[arg(help_heading = "Tokens and seats", long, env = "LICET_ISSUER")]
    pub issuer: Option<String>,
    /// Largest request body accepted, in bytes [default: 65536].
    #[arg(help_heading = "Limits", long, env = "LICET_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Requests per minute allowed from one client IP [default: 600].
    #[arg(help_heading = "Limits", long, env = "LICET_RATE_LIMIT_IP")]
    pub rate_limit_ip: Option<u32>,
    /// Client requests per minute allowed for one license key [default: 60].
    #[arg(help_heading = "Limits", long, env = "LICET_RATE_LIMIT_LICENSE")]
    pub rate_limit_license: Option<u32>,
    /// Seconds a published revocation list is valid before clients should fetch a newer one
    /// [default: 86400].
    #[arg(
        help_heading = "Tokens and seats",
        long,
        env = "LICET_REVOCATION_VALIDITY"
    )]
    pub revocation_validity: Option<u64>,
    /// How often, in seconds, dead floating machines are culled [default: 10].
    #[arg(help_heading = "Tokens and seats", long, env = "LICET_CULL_INTERVAL")]
    pub cull_interval: Option<u64>,
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection waits for its next request [default: 10].
    #[arg(help_heading = "Network", long, env = "LICET_HEADER_TIMEOUT")]
    pub header_timeout: Option<u64>,
    /// Seconds a request may take, body included, on every route but uploads [default: 30].
    #[arg(help_heading = "Network", long, env = "LICET_REQUEST_TIMEOUT")]
    pub request_timeout: Option<u64>,
    /// Seconds a shutdown waits for open connections before closing them [default: 30].
    #[arg(help_heading = "Network", long, env = "LICET_SHUTDOWN_TIMEOUT")]
    pub shutdown_timeout: Option<u64>,
    /// Memory for the store's page cache, MiB [default: 128]. The store's files are the
    /// record; this bounds how much of them is kept in memory.
    #[arg(help_heading = "Storage", long, env = "LICET_CACHE_MB")]
    pub cache_mb: Option<u64>,
    /// PostgreSQL to store everything in instead of the sled database in `--data`
    /// (`postgres://user:password@host/db`): several instances may share it. Needs
    /// `--master-key-file`.
    #[arg(
        help_heading = "Storage",
        long,
        env = "LICET_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_url: Option<String>,
    /// Connections to PostgreSQL at most, per instance [default: 16].
    #[arg(help_heading = "Storage", long, env = "LICET_DB_POOL_SIZE")]
    pub db_pool_size: Option<usize>,
    /// Seconds a request waits for a PostgreSQL connection before it is answered 503
    /// [default: 5].
    #[arg(help_heading = "Storage", long, env = "LICET_DB_WAIT")]
    pub db_wait: Option<u64>,
    /// The key-encryption key of the signing keys stored in PostgreSQL: a file of 32 random
    /// bytes (`head -c 32 /dev/urandom`), mode 0600, the same on every instance.
    #[arg(
        help_heading = "Storage",
        long,
        env = "LICET_MASTER_KEY_FILE",
        global = true
    )]
    pub master_key_file: Option<PathBuf>,
    /// Lifetime in seconds of JWTs minted from API keys [default: 900; at most 86400].
    #[arg(help_heading = "Tokens and seats", long, env = "LICET_JWT_TTL")]
    pub jwt_ttl: Option<u64>,
    /// Log format: text or json [default: text].
    #[arg(help_heading = "Logging and metrics", long, env = "LICET_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Log one line per request (target `licet::access`: client address, method, route
    /// template, status, milliseconds, request id). Route templates, not paths, so that a
    /// license key in a path never reaches the log [default: false].
    #[arg(help_heading = "Logging and metrics", long, env = "LICET_ACCESS_LOG", value_parser = clap::builder::BoolishValueParser::new())]
    pub access_log: Option<bool>,
    /// The server's public base URL, used in answers that name the server (FaxStore's
    /// "Authorisation completed - <url>") [default: http://<Host header>].
    #[arg(help_heading = "Network", long, env = "LICET_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// A header carrying the client IP set by a reverse proxy (e.g. `x-forwarded-for`), read
    /// only on requests from a trusted proxy (`--trusted-proxies`) [default: none, use the peer].
    #[arg(help_heading = "Network", long, env = "LICET_TRUSTED_PROXY_HEADER")]
    pub trusted_proxy_header: Option<String>,
    /// The proxies whose forwarding header is believed: CIDR ranges or addresses,
    /// comma-separated. The client is the right-most address in the header that is not one of
    /// them [default: 127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1/128,fc00::/7].
    #[arg(help_heading = "Network", long, env = "LICET_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Serve the store Verify API (`POST /api/v1/licenses/verify`) [default: true].
    #[arg(help_heading = "Families", long, env = "LICET_COMPAT_VERIFY", value_parser = clap::builder::BoolishValueParser::new())]
    pub compat_verify: Option<bool>,
    /// Serve FaxStore's license-check endpoints (`/api/check/…`) [default: true].
    #[arg(help_heading = "Families", long, env = "LICET_COMPAT_FAXSTORE", value_parser = clap::builder::BoolishValueParser::new())]
    pub compat_faxstore: Option<bool>,
    /// Also serve FaxStore's removed V1 route `/api/checkitem/…` [default: false].
    #[arg(help_heading = "Families", long, env = "LICET_COMPAT_FAXSTORE_V1", value_parser = clap::builder::BoolishValueParser::new())]
    pub compat_faxstore_v1: Option<bool>,
    /// Serve WemX's licensing API (`/api/v1/licenses/public/…`, `/private/…`) [default: true].
    #[arg(help_heading = "Families", long, env = "LICET_COMPAT_WEMX", value_parser = clap::builder::BoolishValueParser::new())]
    pub compat_wemx: Option<bool>,
    /// Seconds a download URL handed out stays valid [default: 300].
    #[arg(
        help_heading = "Tokens and seats",
        long,
        env = "LICET_DOWNLOAD_URL_TTL"
    )]
    pub download_url_ttl: Option<u64>,
    /// Largest file an admin may upload as a download, in bytes [default: 1073741824].
    #[arg(help_heading = "Limits", long, env = "LICET_MAX_UPLOAD_BYTES")]
    pub max_upload_bytes: Option<u64>,
    /// Serve LicenseCM's API (`/api/auth`, `/api/products`, `/api/licenses`, `/api/client`, …) [default: true].
    #[arg(help_heading = "Families", long, env = "LICET_COMPAT_LICENSECM", value_parser = clap::builder::BoolishValueParser::new())]
    pub compat_licensecm: Option<bool>,
    /// Let anyone register a LicenseCM user (`POST /api/auth/register`); registered users are plain users, never admins [default: false].
    #[arg(help_heading = "Families", long, env = "LICET_LICENSECM_REGISTRATION", value_parser = clap::builder::BoolishValueParser::new())]
    pub licensecm_registration: Option<bool>,
    /// LicenseCM API requests per minute per client IP [default: 100].
    #[arg(help_heading = "Families", long, env = "LICET_LICENSECM_RATE_API")]
    pub licensecm_rate_api: Option<u32>,
    /// LicenseCM client requests per minute per license key [default: 10].
    #[arg(
        help_heading = "Families",
        long,
        env = "LICET_LICENSECM_RATE_VALIDATION"
    )]
    pub licensecm_rate_validation: Option<u32>,
    /// Login attempts per minute per client IP and per e-mail address [default: 10].
    #[arg(help_heading = "Limits", long, env = "LICET_LOGIN_RATE_LIMIT")]
    pub login_rate_limit: Option<u32>,
    /// Lifetime in seconds of a LicenseCM user's JWT [default: 86400].
    #[arg(help_heading = "Families", long, env = "LICET_USER_JWT_TTL")]
    pub user_jwt_ttl: Option<u64>,
    /// Seconds a LicenseCM client session lives after its last heartbeat [default: 86400].
    #[arg(help_heading = "Families", long, env = "LICET_SESSION_TTL")]
    pub session_ttl: Option<u64>,
    /// Seconds an encrypted LicenseCM request's timestamp may differ from the server's clock [default: 300].
    #[arg(help_heading = "Families", long, env = "LICET_ENVELOPE_WINDOW")]
    pub envelope_window: Option<u64>,
    /// Allow webhook URLs on loopback and private networks [default: false].
    #[arg(help_heading = "Webhooks", long, env = "LICET_WEBHOOK_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new())]
    pub webhook_allow_private: Option<bool>,
    /// Seconds one webhook delivery may take [default: 10].
    #[arg(help_heading = "Webhooks", long, env = "LICET_WEBHOOK_TIMEOUT")]
    pub webhook_timeout: Option<u64>,
    /// A bearer token `/metrics` requires; without one, `/metrics` is public (its figures are
    /// counted at most once a minute, so scraping costs little) [default: none].
    #[arg(
        help_heading = "Logging and metrics",
        long,
        env = "LICET_METRICS_TOKEN",
        hide_env_values = true
    )]
    pub metrics_token: Option<String>,
    /// Serve the admin dashboard at `/admin` [default: true].
    #[arg(help_heading = "Dashboard", long, env = "LICET_DASHBOARD", value_parser = clap::builder::BoolishValueParser::new())]
    pub dashboard: Option<bool>,
    /// Seconds a dashboard session lasts from sign-in [default: 28800, 8 hours].
    #[arg(help_heading = "Dashboard", long, env = "LICET_DASHBOARD_SESSION_TTL")]
    pub dashboard_session_ttl: Option<u64>,
    /// Days the audit log and the security log keep an entry; older ones are pruned in the
    /// background [default: 365].
    #[arg(
        help_heading = "Logging and metrics",
        long,
        env = "LICET_LOG_RETENTION_DAYS"
    )]
    pub log_retention_days: Option<u64>,
    /// Most entries each of the audit log and the security log keeps; the oldest go first
    /// [default: 10000000].
    #[arg(
        help_heading = "Logging and metrics",
        long,
        env = "LICET_LOG_MAX_ENTRIES"
    )]
    pub log_max_entries: Option<u64>,
}

/// The same options, as read from a TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<PathBuf>,
    listen: Option<SocketAddr>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    issuer: Option<String>,
    max_body_bytes: Option<usize>,
    rate_limit_ip: Option<u32>,
    rate_limit_license: Option<u32>,
    revocation_validity: Option<u64>,
    cull_interval: Option<u64>,
    header_timeout: Option<u64>,
    request_timeout: Option<u64>,
    shutdown_timeout: Option<u64>,
    cache_mb: Option<u64>,
    database_url: Option<String>,
    db_pool_size: Option<usize>,
    db_wait: Option<u64>,
    master_key_file: Option<PathBuf>,
    jwt_ttl: Option<u64>,
    log_format: Option<String>,
    access_log: Option<bool>,
    public_url: Option<String>,
    trusted_proxy_header: Option<String>,
    trusted_proxies: Option<String>,
    compat_verify: Option<bool>,
    compat_faxstore: Option<bool>,
    compat_faxstore_v1: Option<bool>,
    compat_wemx: Option<bool>,
    download_url_ttl: Option<u64>,
    max_upload_bytes: Option<u64>,
    compat_licensecm: Option<bool>,
    licensecm_registration: Option<bool>,
    licensecm_rate_api: Option<u32>,
    licensecm_rate_validation: Option<u32>,
    login_rate_limit: Option<u32>,
    user_jwt_ttl: Option<u64>,
    session_ttl: Option<u64>,
    envelope_window: Option<u64>,
    webhook_allow_private: Option<bool>,
    webhook_timeout: Option<u64>,
    log_retention_days: Option<u64>,
    log_max_entries: Option<u64>,
    metrics_token: Option<String>,
    dashboard: Option<bool>,
    dashboard_session_ttl: Option<u64>,
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory.
    pub data: PathBuf,
    /// Listen address.
    pub listen: SocketAddr,
    /// The TLS certificate chain and key files, when serving HTTPS.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Issuer name.
    pub issuer: String,
    /// Body size limit.
    pub max_body_bytes: usize,
    /// Requests per minute per client IP (0: unlimited).
    pub rate_limit_ip: u32,
    /// Client requests per minute per license key (0: unlimited).
    pub rate_limit_license: u32,
    /// Revocation list validity, seconds.
    pub revocation_validity: u64,
    /// Culling interval, seconds.
    pub cull_interval: u64,
    /// Seconds to send request headers, and an idle keep-alive connection's wait.
    pub header_timeout: u64,
    /// Seconds a request may take (uploads excepted).
    pub request_timeout: u64,
    /// Seconds a shutdown waits for open connections.
    pub shutdown_timeout: u64,
    /// The store's page cache, MiB.
    pub cache_mb: u64,
    /// PostgreSQL instead of sled, when set (it may hold a password).
    pub database_url: Option<Redacted>,
    /// PostgreSQL connections at most.
    pub db_pool_size: usize,
    /// Seconds a request waits for a PostgreSQL connection.
    pub db_wait: u64,
    /// The key-encryption key file (PostgreSQL).
    pub master_key_file: Option<PathBuf>,
    /// Minted JWT lifetime, seconds.
    pub jwt_ttl: u64,
    /// `text` or `json`.
    pub log_format: String,
    /// One log line per request.
    pub access_log: bool,
    /// Public base URL, if configured.
    pub public_url: Option<String>,
    /// Trusted proxy header (lower-case), if any.
    pub trusted_proxy_header: Option<String>,
    /// The proxies whose header is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Verify API on.
    pub compat_verify: bool,
    /// FaxStore endpoints on.
    pub compat_faxstore: bool,
    /// FaxStore V1 route on.
    pub compat_faxstore_v1: bool,
    /// WemX licensing API on.
    pub compat_wemx: bool,
    /// Download URL lifetime, seconds.
    pub download_url_ttl: u64,
    /// Largest upload, bytes.
    pub max_upload_bytes: u64,
    /// Serve LicenseCM's API (`/api/auth`, `/api/products`, `/api/licenses`, `/api/client`, …)
    pub compat_licensecm: bool,
    /// Let anyone register a LicenseCM user (`POST /api/auth/register`). Off by default: a stranger
    /// who reaches a fresh server first must not get an account on it. Registered users are plain
    /// users; LicenseCM admins are made by the operator (`POST /v1/licensecm/admins`).
    pub licensecm_registration: bool,
    /// LicenseCM API requests per minute per client IP
    pub licensecm_rate_api: u32,
    /// LicenseCM client requests per minute per license key
    pub licensecm_rate_validation: u32,
    /// Login attempts per minute per client IP and per e-mail address
    pub login_rate_limit: u32,
    /// Lifetime in seconds of a LicenseCM user's JWT
    pub user_jwt_ttl: u64,
    /// Seconds a LicenseCM client session lives after its last heartbeat
    pub session_ttl: u64,
    /// Seconds an encrypted LicenseCM request's timestamp may differ from the server's clock
    pub envelope_window: u64,
    /// Allow webhook URLs on loopback and private networks
    pub webhook_allow_private: bool,
    /// Seconds one webhook delivery may take.
    pub webhook_timeout: u64,
    /// The bearer token `/metrics` requires, if any.
    pub metrics_token: Option<Redacted>,
    /// Whether `/admin` serves the dashboard.
    pub dashboard: bool,
    /// Seconds a dashboard session lasts.
    pub dashboard_session_ttl: u64,
    /// Days the audit and security logs keep an entry.
    pub log_retention_days: u64,
    /// Most entries each of the audit and security logs keeps.
    pub log_max_entries: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("licet-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 47293)),
            tls: None,
            issuer: "licet-server".into(),
            max_body_bytes: 64 * 1024,
            rate_limit_ip: 600,
            rate_limit_license: 60,
            revocation_validity: 86_400,
            cull_interval: 10,
            header_timeout: 10,
            request_timeout: 30,
            shutdown_timeout: 30,
            cache_mb: 128,
            database_url: None,
            db_pool_size: 16,
            db_wait: 5,
            master_key_file: None,
            jwt_ttl: 900,
            log_format: "text".into(),
            access_log: false,
            public_url: None,
            trusted_proxy_header: None,
            trusted_proxies: crate::net::default_trusted_proxies(),
            compat_verify: true,
            compat_faxstore: true,
            compat_faxstore_v1: false,
            compat_wemx: true,
            download_url_ttl: 300,
            max_upload_bytes: 1 << 30,
            compat_licensecm: true,
            licensecm_registration: false,
            licensecm_rate_api: 100,
            licensecm_rate_validation: 10,
            login_rate_limit: 10,
            user_jwt_ttl: 86_400,
            session_ttl: 86_400,
            envelope_window: 300,
            webhook_allow_private: false,
            webhook_timeout: 10,
            log_retention_days: 365,
            metrics_token: None,
            log_max_entries: 10_000_000,
            dashboard: true,
            dashboard_session_ttl: 8 * 3600,
        }
    }
}

impl Config {
    /// Resolves flags and environment (already merged by clap) over the TOML file over defaults.
    pub fn resolve(args: Args) -> Result<Config> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("{}: cannot read", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("{}: invalid configuration", path.display()))?
            }
            None => FileConfig::default(),
        };
        let d = Config::default();
        let c = Config {
            data: args.data.or(file.data).unwrap_or(d.data),
            listen: args.listen.or(file.listen).unwrap_or(d.listen),
            tls: match (
                args.tls_cert.or(file.tls_cert),
                args.tls_key.or(file.tls_key),
            ) {
                (Some(c), Some(k)) => Some((c, k)),
                (None, None) => None,
                _ => anyhow::bail!("tls-cert and tls-key: give both, or neither"),
            },
            issuer: args.issuer.or(file.issuer).unwrap_or(d.issuer),
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(d.max_body_bytes),
            rate_limit_ip: args
                .rate_limit_ip
                .or(file.rate_limit_ip)
                .unwrap_or(d.rate_limit_ip),
            rate_limit_license: args
                .rate_limit_license
                .or(file.rate_limit_license)
                .unwrap_or(d.rate_limit_license),
            revocation_validity: args
                .revocation_validity
                .or(file.revocation_validity)
                .unwrap_or(d.revocation_validity),
            cull_interval: args
                .cull_interval
                .or(file.cull_interval)
                .unwrap_or(d.cull_interval),
            header_timeout: args
                .header_timeout
                .or(file.header_timeout)
                .unwrap_or(d.header_timeout),
            request_timeout: args
                .request_timeout
                .or(file.request_timeout)
                .unwrap_or(d.request_timeout),
            shutdown_timeout: args
                .shutdown_timeout
                .or(file.shutdown_timeout)
                .unwrap_or(d.shutdown_timeout),
            cache_mb: args.cache_mb.or(file.cache_mb).unwrap_or(d.cache_mb),
            database_url: args.database_url.or(file.database_url).map(Redacted),
            db_pool_size: args
                .db_pool_size
                .or(file.db_pool_size)
                .unwrap_or(d.db_pool_size),
            db_wait: args.db_wait.or(file.db_wait).unwrap_or(d.db_wait),
            master_key_file: args.master_key_file.or(file.master_key_file),
            jwt_ttl: args.jwt_ttl.or(file.jwt_ttl).unwrap_or(d.jwt_ttl),
            log_format: args.log_format.or(file.log_format).unwrap_or(d.log_format),
            access_log: args.access_log.or(file.access_log).unwrap_or(d.access_log),
            public_url: args
                .public_url
                .or(file.public_url)
                .map(|u| u.trim_end_matches('/').to_owned()),
            trusted_proxy_header: args
                .trusted_proxy_header
                .or(file.trusted_proxy_header)
                .map(|h| h.to_ascii_lowercase()),
            trusted_proxies: match args.trusted_proxies.or(file.trusted_proxies) {
                Some(list) => crate::net::parse_proxies(&list)
                    .map_err(|e| anyhow::anyhow!("--trusted-proxies: {e}"))?,
                None => d.trusted_proxies.clone(),
            },
            compat_verify: args
                .compat_verify
                .or(file.compat_verify)
                .unwrap_or(d.compat_verify),
            compat_faxstore: args
                .compat_faxstore
                .or(file.compat_faxstore)
                .unwrap_or(d.compat_faxstore),
            compat_faxstore_v1: args
                .compat_faxstore_v1
                .or(file.compat_faxstore_v1)
                .unwrap_or(d.compat_faxstore_v1),
            compat_wemx: args
                .compat_wemx
                .or(file.compat_wemx)
                .unwrap_or(d.compat_wemx),
            download_url_ttl: args
                .download_url_ttl
                .or(file.download_url_ttl)
                .unwrap_or(d.download_url_ttl),
            max_upload_bytes: args
                .max_upload_bytes
                .or(file.max_upload_bytes)
                .unwrap_or(d.max_upload_bytes),
            compat_licensecm: args
                .compat_licensecm
                .or(file.compat_licensecm)
                .unwrap_or(d.compat_licensecm),
            licensecm_registration: args
                .licensecm_registration
                .or(file.licensecm_registration)
                .unwrap_or(d.licensecm_registration),
            licensecm_rate_api: args
                .licensecm_rate_api
                .or(file.licensecm_rate_api)
                .unwrap_or(d.licensecm_rate_api),
            licensecm_rate_validation: args
                .licensecm_rate_validation
                .or(file.licensecm_rate_validation)
                .unwrap_or(d.licensecm_rate_validation),
            login_rate_limit: args
                .login_rate_limit
                .or(file.login_rate_limit)
                .unwrap_or(d.login_rate_limit),
            user_jwt_ttl: args
                .user_jwt_ttl
                .or(file.user_jwt_ttl)
                .unwrap_or(d.user_jwt_ttl),
            session_ttl: args
                .session_ttl
                .or(file.session_ttl)
                .unwrap_or(d.session_ttl),
            envelope_window: args
                .envelope_window
                .or(file.envelope_window)
                .unwrap_or(d.envelope_window),
            webhook_allow_private: args
                .webhook_allow_private
                .or(file.webhook_allow_private)
                .unwrap_or(d.webhook_allow_private),
            webhook_timeout: args
                .webhook_timeout
                .or(file.webhook_timeout)
                .unwrap_or(d.webhook_timeout),
            metrics_token: args
                .metrics_token
                .or(file.metrics_token)
                .filter(|t| !t.is_empty())
                .map(Redacted),
            log_retention_days: args
                .log_retention_days
                .or(file.log_retention_days)
                .unwrap_or(d.log_retention_days),
            log_max_entries: args
                .log_max_entries
                .or(file.log_max_entries)
                .unwrap_or(d.log_max_entries),
            dashboard: args.dashboard.or(file.dashboard).unwrap_or(d.dashboard),
            dashboard_session_ttl: args
                .dashboard_session_ttl
                .or(file.dashboard_session_ttl)
                .unwrap_or(d.dashboard_session_ttl),
        };
        anyhow::ensure!(
            (60..=30 * 86_400).contains(&c.dashboard_session_ttl),
            "dashboard-session-ttl: 60..=2592000 seconds"
        );
        anyhow::ensure!(
            (60..=30 * 86_400).contains(&c.user_jwt_ttl),
            "user-jwt-ttl: 60..=2592000 seconds"
        );
        anyhow::ensure!(c.session_ttl >= 60, "session-ttl: at least 60 seconds");
        anyhow::ensure!(
            (10..=3600).contains(&c.envelope_window),
            "envelope-window: 10..=3600 seconds"
        );
        anyhow::ensure!(
            (10..=86_400).contains(&c.download_url_ttl),
            "download-url-ttl: 10..=86400 seconds"
        );
        anyhow::ensure!(
            c.jwt_ttl > 0 && c.jwt_ttl <= 86_400,
            "jwt-ttl: must be 1..=86400 seconds"
        );
        anyhow::ensure!(c.max_body_bytes >= 1024, "max-body-bytes: at least 1024");
        anyhow::ensure!(c.cull_interval > 0, "cull-interval: at least 1 second");
        anyhow::ensure!(c.header_timeout > 0, "header-timeout: at least 1 second");
        anyhow::ensure!(c.webhook_timeout > 0, "webhook-timeout: at least 1 second");
        anyhow::ensure!(c.log_retention_days > 0, "log-retention-days: at least 1");
        anyhow::ensure!(c.log_max_entries > 0, "log-max-entries: at least 1");
        anyhow::ensure!(c.request_timeout > 0, "request-timeout: at least 1 second");
        anyhow::ensure!(
            (8..=1_048_576).contains(&c.cache_mb),
            "cache-mb: 8 to 1048576"
        );
        anyhow::ensure!(
            (1..=1024).contains(&c.db_pool_size),
            "db-pool-size: 1 to 1024"
        );
        anyhow::ensure!((1..=300).contains(&c.db_wait), "db-wait: 1 to 300 seconds");
        anyhow::ensure!(
            c.database_url.is_none() || c.master_key_file.is_some(),
            "database-url: PostgreSQL needs --master-key-file (32 random bytes, mode 0600, the \
             same file on every instance)"
        );
        anyhow::ensure!(
            c.revocation_validity >= 60,
            "revocation-validity: at least 60 seconds"
        );
        anyhow::ensure!(
            matches!(c.log_format.as_str(), "text" | "json"),
            "log-format: text or json"
        );
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Args::command().debug_assert();
        // The store's options may follow a subcommand that works on the store.
        let a = Args::try_parse_from([
            "licet-server",
            "api-keys",
            "create",
            "--scope",
            "admin",
            "--data",
            "d",
        ])
        .expect("parses");
        assert_eq!(a.data, Some(PathBuf::from("d")));
    }

    /// `--help` groups the options: every one of the server's own is under a heading, and
    /// the headings are the few an operator looks for.
    #[test]
    fn every_option_is_under_a_heading() {
        use clap::CommandFactory;
        let cmd = Args::command();
        let mut headings = std::collections::BTreeSet::new();
        for a in cmd.get_arguments() {
            if matches!(a.get_id().as_str(), "help" | "version") {
                continue;
            }
            let h = a.get_help_heading();
            assert!(h.is_some(), "--{} is under no heading", a.get_id());
            headings.extend(h);
        }
        assert_eq!(
            headings.into_iter().collect::<Vec<_>>(),
            [
                "Dashboard",
                "Families",
                "Limits",
                "Logging and metrics",
                "Network",
                "Storage",
                "Tokens and seats",
                "Webhooks"
            ]
        );
    }

    #[test]
    fn flags_over_file_over_defaults() {
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("licet.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\nissuer = \"from-file\"\njwt_ttl = 60\n",
        )
        .expect("write");
        let args = Args {
            config: Some(file.clone()),
            issuer: Some("from-flag".into()),
            ..Args::default()
        };
        let c = Config::resolve(args).expect("config");
        assert_eq!(c.issuer, "from-flag");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.jwt_ttl, 60);
        assert_eq!(c.data, PathBuf::from("licet-data"));
        std::fs::write(&file, "listn = \"x\"\n").expect("write");
        let err = Config::resolve(Args {
            config: Some(file),
            ..Args::default()
        })
        .expect_err("typo");
        assert!(format!("{err:#}").contains("licet.toml"));
    }

    #[test]
    fn postgres_needs_a_master_key_and_keeps_its_url_out_of_debug() {
        let url = "postgres://licet:hunter2@db/licet";
        let err = Config::resolve(Args {
            database_url: Some(url.into()),
            ..Args::default()
        })
        .expect_err("no master key");
        assert!(format!("{err:#}").contains("master-key-file"), "{err:#}");
        let c = Config::resolve(Args {
            database_url: Some(url.into()),
            master_key_file: Some("master.key".into()),
            db_pool_size: Some(4),
            ..Args::default()
        })
        .expect("config");
        assert_eq!(c.database_url.as_ref().map(|u| u.0.as_str()), Some(url));
        assert_eq!((c.db_pool_size, c.db_wait), (4, 5));
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "the password stays out of logs"
        );
        for bad in [
            Args {
                db_pool_size: Some(0),
                ..Args::default()
            },
            Args {
                db_wait: Some(0),
                ..Args::default()
            },
        ] {
            assert!(Config::resolve(bad).is_err());
        }
    }
}

/// A secret from the configuration, kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(pub String);

impl std::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redacted(..)")
    }
}

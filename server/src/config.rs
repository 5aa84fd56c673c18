//! Configuration: command-line flags, then environment variables, then an optional TOML file,
//! then the built-in defaults (the embedded sled store in `./licet-data`, `127.0.0.1:47293`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Parser;
use serde::Deserialize;

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

/// licet-server: online activation, heartbeats and floating seats, revocation lists and key
/// publication for licet license tokens, on an embedded sled database or PostgreSQL.
///
/// Every option can also be given as an environment variable (shown in brackets) or in a TOML
/// file passed with --config (keys are the option names with `_` for `-`). Flags win over the
/// environment, which wins over the file.
#[derive(Debug, Parser, Default)]
#[command(name = "licet-server", version, about, long_about)]
pub struct Args {
    /// Something to do other than serve.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// TOML configuration file.
    #[arg(help_heading = "Storage", long, env = "LICET_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// The server's options.
    #[command(flatten)]
    pub options: Options,
}

/// Declares the server's options once: each with its documentation, its flag and environment
/// variable (`#[arg]`), its type and its default (none: the option is unset unless given).
/// From the one list come [`Options`] (what the flags and the TOML file set, every field
/// optional, so that each source says only what it sets), [`Config`] (the resolved value),
/// its defaults, and the merge of flags over file over defaults. Adding an option is one
/// entry here.
macro_rules! options {
    ($(
        $(#[doc = $doc:literal])*
        #[arg($($arg:tt)*)]
        $name:ident : $t:ty $(= $default:expr)? ;
    )*) => {
        /// The options as one source gives them (the flags and environment, or the TOML
        /// file): only what it sets.
        #[derive(Debug, Default, Clone, clap::Args, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Options {
            $(
                $(#[doc = $doc])*
                #[arg($($arg)*)]
                pub $name: Option<$t>,
            )*
        }

        /// The resolved configuration: every option from the flags, else the file, else its
        /// default.
        #[derive(Debug, Clone)]
        pub struct Config {
            $(
                $(#[doc = $doc])*
                pub $name: resolved_type!($t $(, $default)?),
            )*
        }

        impl Default for Config {
            fn default() -> Self {
                Config {
                    $($name: default_of!($(, $default)?),)*
                }
            }
        }

        impl Options {
            /// What `self` sets, else what `under` sets.
            fn over(self, under: Options) -> Options {
                Options {
                    $($name: self.$name.or(under.$name),)*
                }
            }

            /// The value of every option: what is set, else its default.
            fn resolved(self) -> Config {
                Config {
                    $($name: resolved_value!(self.$name $(, $default)?),)*
                }
            }
        }
    };
}

/// An option's resolved type: itself with a default, optional without.
macro_rules! resolved_type {
    ($t:ty) => { Option<$t> };
    ($t:ty, $d:expr) => { $t };
}

/// An option's default: its own, or unset.
macro_rules! default_of {
    () => {
        None
    };
    (, $d:expr) => {
        $d
    };
}

/// An option's value: as set, else its default (unset when it has none).
macro_rules! resolved_value {
    ($v:expr) => {
        $v
    };
    ($v:expr, $d:expr) => {
        $v.unwrap_or_else(|| $d)
    };
}

options! {
    /// Data directory: the sled database and the server's signing keys [default: licet-data,
    /// in the working directory].
    #[arg(help_heading = "Storage", long, env = "LICET_DATA", global = true)]
    data: PathBuf = PathBuf::from("licet-data");
    /// Address to listen on [default: 127.0.0.1:47293].
    #[arg(help_heading = "Network", long, env = "LICET_LISTEN")]
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 47293));
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key. The files
    /// are read again when they change and on SIGHUP, without dropping connections
    /// [unset: plain HTTP].
    #[arg(
        help_heading = "Network",
        long,
        env = "LICET_TLS_CERT",
        requires = "tls_key"
    )]
    tls_cert: PathBuf;
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(
        help_heading = "Network",
        long,
        env = "LICET_TLS_KEY",
        requires = "tls_cert"
    )]
    tls_key: PathBuf;
    /// Issuer name written into tokens (`iss`) and minted JWTs [default: licet-server].
    #[arg(help_heading = "Tokens and seats", long, env = "LICET_ISSUER")]
    issuer: String = "licet-server".into();
    /// Largest request body accepted, in bytes [default: 65536].
    #[arg(help_heading = "Limits", long, env = "LICET_MAX_BODY_BYTES")]
    max_body_bytes: usize = 64 * 1024;
    /// Requests per minute allowed from one client IP [default: 600].
    #[arg(help_heading = "Limits", long, env = "LICET_RATE_LIMIT_IP")]
    rate_limit_ip: u32 = 600;
    /// Client requests per minute allowed for one license key [default: 60].
    #[arg(help_heading = "Limits", long, env = "LICET_RATE_LIMIT_LICENSE")]
    rate_limit_license: u32 = 60;
    /// Seconds a published revocation list is valid before clients should fetch a newer one
    /// [default: 86400].
    #[arg(
        help_heading = "Tokens and seats",
        long,
        env = "LICET_REVOCATION_VALIDITY"
    )]
    revocation_validity: u64 = 86_400;
    /// How often, in seconds, dead floating machines are culled [default: 10].
    #[arg(help_heading = "Tokens and seats", long, env = "LICET_CULL_INTERVAL")]
    cull_interval: u64 = 10;
    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection waits for its next request [default: 10].
    #[arg(help_heading = "Network", long, env = "LICET_HEADER_TIMEOUT")]
    header_timeout: u64 = 10;
    /// Seconds a request may take, body included, on every route but uploads [default: 30].
    #[arg(help_heading = "Network", long, env = "LICET_REQUEST_TIMEOUT")]
    request_timeout: u64 = 30;
    /// Seconds a shutdown waits for open connections before closing them [default: 30].
    #[arg(help_heading = "Network", long, env = "LICET_SHUTDOWN_TIMEOUT")]
    shutdown_timeout: u64 = 30;
    /// Memory for the store's page cache, MiB [default: 128]. The store's files are the
    /// record; this bounds how much of them is kept in memory.
    #[arg(help_heading = "Storage", long, env = "LICET_CACHE_MB")]
    cache_mb: u64 = 128;
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
    database_url: Redacted;
    /// Connections to PostgreSQL at most, per instance [default: 16].
    #[arg(help_heading = "Storage", long, env = "LICET_DB_POOL_SIZE")]
    db_pool_size: usize = 16;
    /// Seconds a request waits for a PostgreSQL connection before it is answered 503
    /// [default: 5].
    #[arg(help_heading = "Storage", long, env = "LICET_DB_WAIT")]
    db_wait: u64 = 5;
    /// The key-encryption key of the signing keys stored in PostgreSQL: a file of 32 random
    /// bytes (`head -c 32 /dev/urandom`), mode 0600, the same on every instance.
    #[arg(
        help_heading = "Storage",
        long,
        env = "LICET_MASTER_KEY_FILE",
        global = true
    )]
    master_key_file: PathBuf;
    /// Lifetime in seconds of JWTs minted from API keys [default: 900; at most 86400].
    #[arg(help_heading = "Tokens and seats", long, env = "LICET_JWT_TTL")]
    jwt_ttl: u64 = 900;
    /// Log format: text or json [default: text].
    #[arg(help_heading = "Logging and metrics", long, env = "LICET_LOG_FORMAT")]
    log_format: String = "text".into();
    /// Log one line per request (target `licet::access`: client address, method, route
    /// template, status, milliseconds, request id). Route templates, not paths, so that a
    /// license key in a path never reaches the log [default: false].
    #[arg(help_heading = "Logging and metrics", long, env = "LICET_ACCESS_LOG", value_parser = clap::builder::BoolishValueParser::new())]
    access_log: bool = false;
    /// The server's public base URL, used in answers that name the server (FaxStore's
    /// "Authorisation completed - <url>") [unset: http://<Host header>].
    #[arg(help_heading = "Network", long, env = "LICET_PUBLIC_URL")]
    public_url: String;
    /// A header carrying the client IP set by a reverse proxy (e.g. `x-forwarded-for`), read
    /// only on requests from a trusted proxy (`--trusted-proxies`) [unset: the peer].
    #[arg(help_heading = "Network", long, env = "LICET_TRUSTED_PROXY_HEADER")]
    trusted_proxy_header: String;
    /// The proxies whose forwarding header is believed: CIDR ranges or addresses,
    /// comma-separated. The client is the right-most address in the header that is not one of
    /// them [default: 127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,::1/128,fc00::/7].
    #[arg(help_heading = "Network", long, env = "LICET_TRUSTED_PROXIES")]
    trusted_proxies: ProxyList = ProxyList(crate::net::default_trusted_proxies());
    /// Serve the store Verify API (`POST /api/v1/licenses/verify`) [default: true].
    #[arg(help_heading = "Families", long, env = "LICET_COMPAT_VERIFY", value_parser = clap::builder::BoolishValueParser::new())]
    compat_verify: bool = true;
    /// Serve FaxStore's license-check endpoints (`/api/check/…`) [default: true].
    #[arg(help_heading = "Families", long, env = "LICET_COMPAT_FAXSTORE", value_parser = clap::builder::BoolishValueParser::new())]
    compat_faxstore: bool = true;
    /// Also serve FaxStore's removed V1 route `/api/checkitem/…` [default: false].
    #[arg(help_heading = "Families", long, env = "LICET_COMPAT_FAXSTORE_V1", value_parser = clap::builder::BoolishValueParser::new())]
    compat_faxstore_v1: bool = false;
    /// Serve WemX's licensing API (`/api/v1/licenses/public/…`, `/private/…`) [default: true].
    #[arg(help_heading = "Families", long, env = "LICET_COMPAT_WEMX", value_parser = clap::builder::BoolishValueParser::new())]
    compat_wemx: bool = true;
    /// Seconds a download URL handed out stays valid [default: 300].
    #[arg(
        help_heading = "Tokens and seats",
        long,
        env = "LICET_DOWNLOAD_URL_TTL"
    )]
    download_url_ttl: u64 = 300;
    /// Largest file an admin may upload as a download, in bytes [default: 1073741824].
    #[arg(help_heading = "Limits", long, env = "LICET_MAX_UPLOAD_BYTES")]
    max_upload_bytes: u64 = 1 << 30;
    /// Serve LicenseCM's API (`/api/auth`, `/api/products`, `/api/licenses`, `/api/client`, …) [default: true].
    #[arg(help_heading = "Families", long, env = "LICET_COMPAT_LICENSECM", value_parser = clap::builder::BoolishValueParser::new())]
    compat_licensecm: bool = true;
    /// Let anyone register a LicenseCM user (`POST /api/auth/register`); registered users are plain users, never admins [default: false].
    #[arg(help_heading = "Families", long, env = "LICET_LICENSECM_REGISTRATION", value_parser = clap::builder::BoolishValueParser::new())]
    licensecm_registration: bool = false;
    /// LicenseCM API requests per minute per client IP [default: 100].
    #[arg(help_heading = "Families", long, env = "LICET_LICENSECM_RATE_API")]
    licensecm_rate_api: u32 = 100;
    /// LicenseCM client requests per minute per license key [default: 10].
    #[arg(
        help_heading = "Families",
        long,
        env = "LICET_LICENSECM_RATE_VALIDATION"
    )]
    licensecm_rate_validation: u32 = 10;
    /// Login attempts per minute per client IP and per e-mail address [default: 10].
    #[arg(help_heading = "Limits", long, env = "LICET_LOGIN_RATE_LIMIT")]
    login_rate_limit: u32 = 10;
    /// Lifetime in seconds of a LicenseCM user's JWT [default: 86400].
    #[arg(help_heading = "Families", long, env = "LICET_USER_JWT_TTL")]
    user_jwt_ttl: u64 = 86_400;
    /// Seconds a LicenseCM client session lives after its last heartbeat [default: 86400].
    #[arg(help_heading = "Families", long, env = "LICET_SESSION_TTL")]
    session_ttl: u64 = 86_400;
    /// Seconds an encrypted LicenseCM request's timestamp may differ from the server's clock [default: 300].
    #[arg(help_heading = "Families", long, env = "LICET_ENVELOPE_WINDOW")]
    envelope_window: u64 = 300;
    /// Allow webhook URLs on loopback and private networks [default: false].
    #[arg(help_heading = "Webhooks", long, env = "LICET_WEBHOOK_ALLOW_PRIVATE", value_parser = clap::builder::BoolishValueParser::new())]
    webhook_allow_private: bool = false;
    /// Seconds one webhook delivery may take [default: 10].
    #[arg(help_heading = "Webhooks", long, env = "LICET_WEBHOOK_TIMEOUT")]
    webhook_timeout: u64 = 10;
    /// A bearer token `/metrics` requires; without one, `/metrics` is public (its figures are
    /// counted at most once a minute, so scraping costs little) [unset: public].
    #[arg(
        help_heading = "Logging and metrics",
        long,
        env = "LICET_METRICS_TOKEN",
        hide_env_values = true
    )]
    metrics_token: Redacted;
    /// Serve the admin dashboard at `/admin` [default: true].
    #[arg(help_heading = "Dashboard", long, env = "LICET_DASHBOARD", value_parser = clap::builder::BoolishValueParser::new())]
    dashboard: bool = true;
    /// Seconds a dashboard session lasts from sign-in [default: 28800, 8 hours].
    #[arg(help_heading = "Dashboard", long, env = "LICET_DASHBOARD_SESSION_TTL")]
    dashboard_session_ttl: u64 = 8 * 3600;
    /// Days the audit log and the security log keep an entry; older ones are pruned in the
    /// background [default: 365].
    #[arg(
        help_heading = "Logging and metrics",
        long,
        env = "LICET_LOG_RETENTION_DAYS"
    )]
    log_retention_days: u64 = 365;
    /// Most entries each of the audit log and the security log keeps; the oldest go first
    /// [default: 10000000].
    #[arg(
        help_heading = "Logging and metrics",
        long,
        env = "LICET_LOG_MAX_ENTRIES"
    )]
    log_max_entries: u64 = 10_000_000;
}

impl Config {
    /// Resolves flags and environment (already merged by clap) over the TOML file over defaults.
    pub fn resolve(args: Args) -> Result<Config> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("{}: cannot read", path.display()))?;
                toml::from_str::<Options>(&text)
                    .with_context(|| format!("{}: invalid configuration", path.display()))?
            }
            None => Options::default(),
        };
        let mut c = args.options.over(file).resolved();
        c.public_url = c.public_url.map(|u| u.trim_end_matches('/').to_owned());
        c.trusted_proxy_header = c.trusted_proxy_header.map(|h| h.to_ascii_lowercase());
        c.metrics_token = c.metrics_token.filter(|t| !t.0.is_empty());
        anyhow::ensure!(
            c.tls_cert.is_some() == c.tls_key.is_some(),
            "tls-cert and tls-key: give both, or neither"
        );
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

    /// The TLS certificate chain and key files, when serving HTTPS.
    pub fn tls(&self) -> Option<(&Path, &Path)> {
        self.tls_cert.as_deref().zip(self.tls_key.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arguments that set `options` and nothing else.
    fn with(options: Options) -> Args {
        Args {
            options,
            ..Args::default()
        }
    }

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
        assert_eq!(a.options.data, Some(PathBuf::from("d")));
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

    /// The defaults `--help` names are the ones the server uses: for every option whose help
    /// says `[default: X]`, giving `--option X` resolves to the same configuration as giving
    /// nothing.
    #[test]
    fn the_defaults_in_the_help_are_the_defaults() {
        use clap::CommandFactory;
        let none = format!("{:?}", Config::default());
        let mut checked = 0;
        for a in Args::command().get_arguments() {
            let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
            let Some(text) = help
                .split("[default: ")
                .nth(1)
                .and_then(|t| t.split(']').next())
            else {
                continue;
            };
            let flag = format!("--{}", a.get_long().expect("a long flag"));
            // "28800, 8 hours": the value, then words for people.
            let given = [text.split(", ").next().unwrap_or(text), text];
            let resolved = given.iter().find_map(|v| {
                let args = Args::try_parse_from(["licet-server", flag.as_str(), v]).ok()?;
                Config::resolve(args).ok()
            });
            let Some(c) = resolved else {
                // Words only ("plain HTTP", "none, use the peer"): nothing to give.
                continue;
            };
            assert_eq!(
                format!("{c:?}"),
                none,
                "{flag}: the help says [default: {text}]"
            );
            checked += 1;
        }
        assert!(checked >= 35, "only {checked} defaults were checked");
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
            options: Options {
                issuer: Some("from-flag".into()),
                ..Options::default()
            },
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
        let err = Config::resolve(with(Options {
            database_url: Some(Redacted(url.into())),
            ..Options::default()
        }))
        .expect_err("no master key");
        assert!(format!("{err:#}").contains("master-key-file"), "{err:#}");
        let c = Config::resolve(with(Options {
            database_url: Some(Redacted(url.into())),
            master_key_file: Some("master.key".into()),
            db_pool_size: Some(4),
            ..Options::default()
        }))
        .expect("config");
        assert_eq!(c.database_url.as_ref().map(|u| u.0.as_str()), Some(url));
        assert_eq!((c.db_pool_size, c.db_wait), (4, 5));
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "the password stays out of logs"
        );
        for bad in [
            Options {
                db_pool_size: Some(0),
                ..Options::default()
            },
            Options {
                db_wait: Some(0),
                ..Options::default()
            },
        ] {
            assert!(Config::resolve(with(bad)).is_err());
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

impl std::str::FromStr for Redacted {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Redacted(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Redacted {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Redacted)
    }
}

/// The proxies whose forwarding header is believed: CIDR ranges or addresses, given
/// comma-separated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyList(pub Vec<ipnet::IpNet>);

impl std::ops::Deref for ProxyList {
    type Target = [ipnet::IpNet];
    fn deref(&self) -> &[ipnet::IpNet] {
        &self.0
    }
}

impl std::str::FromStr for ProxyList {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::net::parse_proxies(s).map(ProxyList)
    }
}

impl<'de> Deserialize<'de> for ProxyList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format!("trusted_proxies: {e}")))
    }
}

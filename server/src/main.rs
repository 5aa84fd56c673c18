//! `licet-server`: parses the configuration, opens the data directory, serves until SIGTERM or
//! Ctrl-C, then lets in-flight requests finish and flushes the database.

use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use licet_server::clock::SystemClock;
use licet_server::keys::ring::KeySource;
use licet_server::{AppState, Args, Config};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(licet_server::config::Command::Migrate(m)) = &args.command {
        init_logging("text");
        println!("{}", licet_server::migrate::run(m).await?);
        return Ok(());
    }
    let command = args.command.clone();
    let config = Config::resolve(args)?;
    match &command {
        Some(licet_server::config::Command::ApiKeys(c)) => {
            init_logging("text");
            println!("{}", licet_server::console::api_keys(&config, c).await?);
            return Ok(());
        }
        Some(licet_server::config::Command::Backup(b)) => {
            init_logging("text");
            anyhow::ensure!(
                config.database_url.is_none(),
                "backup copies a sled data directory; on PostgreSQL, use pg_dump and keep the \
                 master key file (see docs/deployment.md)"
            );
            let (data, b) = (config.data.clone(), b.clone());
            println!(
                "{}",
                tokio::task::spawn_blocking(move || licet_server::backup::backup(&data, &b))
                    .await??
            );
            return Ok(());
        }
        Some(licet_server::config::Command::Restore(r)) => {
            init_logging("text");
            let mut r = r.clone();
            r.data = config.data.clone();
            println!(
                "{}",
                tokio::task::spawn_blocking(move || licet_server::backup::restore(&r)).await??
            );
            return Ok(());
        }
        _ => {}
    }
    init_logging(&config.log_format);
    // The embedded sled store in --data, or PostgreSQL shared with other instances.
    let (store, sled, keys, source, created): (Arc<dyn licet_server::store::Store>, _, _, _, _) =
        match &config.database_url {
            None => {
                let (store, keys, created) = licet_server::open(&config).with_context(|| {
                    format!("{}: cannot open the data directory", config.data.display())
                })?;
                // Rotated generations of the token key sit beside the first one.
                let source = KeySource::Files(config.data.clone());
                let keys = licet_server::keys::ring::load_newer(keys, &store, &source).await?;
                (Arc::new(store.clone()), Some(store), keys, source, created)
            }
            Some(_) => {
                let (store, keys, source, created) = licet_server::open_postgres(&config).await?;
                (Arc::new(store), None, keys, source, created)
            }
        };
    if created {
        tracing::info!("created signing keys");
    }
    let state =
        AppState::new(store, keys, Arc::new(SystemClock), config.clone())?.with_key_source(source);
    state
        .tokens
        .take_up_root()
        .await
        .context("cannot load or make the root secret")?;
    // The listener first: a start that cannot listen (the port in use) makes no admin key, so
    // the one-time key is never printed by a server that then stops.
    let tls = match config.tls() {
        Some((cert, key)) => Some(licet_server::tls::Certificates::load(cert, key)?),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bootstrap = licet_server::bootstrap_admin_key(&state).await?;
    let background = licet_server::spawn_background(state.clone());
    // On sled, `licet-server backup` asks this process for a snapshot over a socket.
    #[cfg(unix)]
    let control = match &sled {
        Some(sled) => Some(licet_server::backup::serve_control(
            state.gate.clone(),
            sled.clone(),
            config.data.clone(),
        )?),
        None => None,
    };
    // Every signal handler is in place before the `listening on` line: a supervisor or a
    // script that signals the moment the server says it started must not find the default
    // action (which ends the process) still there.
    let stop = Shutdown::install();
    let acceptor = match &tls {
        Some(certs) => {
            certs.clone().watch();
            Some(certs.acceptor()?)
        }
        None => {
            // SIGHUP (`systemctl reload`) would otherwise end the process: without TLS there
            // is nothing to take up again.
            #[cfg(unix)]
            if let Ok(mut hup) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        tracing::info!("SIGHUP: nothing to reload (no TLS certificate)");
                    }
                });
            }
            None
        }
    };
    let local = listener.local_addr()?;
    tracing::info!(listen = %local, backend = if config.database_url.is_some() { "postgres" } else { "sled" }, "licet-server started");
    if let Some(key) = bootstrap {
        // Printed once, on stdout, never logged: only its hash is stored. Before the
        // `listening on` line, which scripts and tests read as "started".
        println!("bootstrap admin API key (shown once; store it now): {key}");
    }
    println!("listening on {local}");
    let scheme = if tls.is_some() { "https" } else { "http" };
    if config.dashboard {
        println!("dashboard: {scheme}://{local}/admin (sign in with an admin API key)");
    }
    let timeouts = licet_server::serve::Timeouts::of(&config);
    licet_server::serve::serve(
        listener,
        licet_server::app(state.clone()),
        timeouts,
        acceptor,
        stop.wait(),
    )
    .await?;
    background.abort();
    #[cfg(unix)]
    if let Some(control) = control {
        control.abort();
        let _ = std::fs::remove_file(config.data.join(licet_server::backup::SOCKET));
    }
    // What this instance counted since the last flush goes to the store before it closes.
    if let Err(e) = licet_server::stats::flush(&state).await {
        tracing::warn!(
            code = e.code().as_str(),
            "adding the last daily counts to the store failed"
        );
    }
    match sled {
        Some(sled) => {
            sled.close()?;
            tracing::info!("stopped; database flushed");
        }
        None => tracing::info!("stopped"),
    }
    Ok(())
}

fn init_logging(format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("LICET_LOG").unwrap_or_else(|_| "info".into());
    // Colour only for a person at a terminal: a log file or journald gets plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// The signals that stop the server, listened for from [`Shutdown::install`] on.
struct Shutdown {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Shutdown {
    /// Takes SIGTERM over now, so one sent at any later moment is a graceful stop and not the
    /// default action. (Ctrl-C's handler is installed on first poll by tokio, which is fine
    /// for a person at a terminal.)
    fn install() -> Self {
        Self {
            #[cfg(unix)]
            term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok(),
        }
    }

    async fn wait(self) {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match self.term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
        tracing::info!("shutting down: finishing in-flight requests (at most --shutdown-timeout)");
    }
}

//! Serving the router on a socket, with every wait bounded.
//!
//! `axum::serve` gives hyper no timer, so a client that sends half a request, or keeps an idle
//! connection open, holds it for as long as it likes, and a graceful shutdown waits for it.
//! Here hyper gets a timer and a header timeout (which also bounds the wait for the next
//! request on an idle keep-alive connection), and a shutdown stops accepting, lets open
//! connections finish for at most the shutdown timeout, then closes them.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::Service;

/// How long the server waits for clients.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// To receive a request's headers, and an idle keep-alive connection's next request.
    pub header: Duration,
    /// For open connections to finish once a shutdown began.
    pub shutdown: Duration,
}

impl Timeouts {
    /// The configured timeouts.
    pub fn of(c: &crate::config::Config) -> Timeouts {
        Timeouts {
            header: Duration::from_secs(c.header_timeout),
            shutdown: Duration::from_secs(c.shutdown_timeout),
        }
    }
}

/// Serves `app` on `listener` until `signal` completes, then shuts down within
/// `t.shutdown`. Peers' addresses reach handlers as `ConnectInfo<SocketAddr>`. With `tls`,
/// every connection is a TLS one; its handshake has the header timeout too.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    t: Timeouts,
    tls: Option<tokio_rustls::TlsAcceptor>,
    signal: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(t.header);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(t.header)
        .keep_alive_timeout(t.header);
    let graceful = GracefulShutdown::new();
    let mut connections = tokio::task::JoinSet::new();
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::pin!(signal);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors, say: wait a moment rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        while connections.try_join_next().is_some() {}
        let service = match make.call(peer).await {
            Ok(s) => s,
            Err(never) => match never {},
        };
        let service = TowerToHyperService::new(service);
        let Some(tls) = tls.clone() else {
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            let conn = graceful.watch(conn);
            connections.spawn(async move {
                if let Err(e) = conn.await {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
            });
            continue;
        };
        // The handshake runs in the connection's own task: a slow client never holds the
        // accept loop.
        let (builder, watcher) = (builder.clone(), graceful.watcher());
        connections.spawn(async move {
            let stream = match tokio::time::timeout(t.header, tls.accept(stream)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!("TLS handshake timed out");
                    return;
                }
            };
            let conn = builder
                .serve_connection(TokioIo::new(stream), service)
                .into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(t.shutdown) => {
            tracing::warn!(
                open = connections.len(),
                "closing connections still open after the shutdown timeout"
            );
        }
    }
    connections.shutdown().await;
    Ok(())
}

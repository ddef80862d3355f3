//! The accept loop, with the limits a server reachable from a network needs (axum's own
//! `serve` has none of them, and 150 idle connections under a 128-file limit kept every later
//! request waiting):
//! - a client has [`HEADER_TIMEOUT`] to send a request's headers, counted from the moment the
//!   server waits for them: a new connection that sends nothing, headers trickled a byte at a
//!   time and a kept-alive connection left idle between requests are all closed after it
//!   (hyper's header-read timer starts whenever it waits for a request);
//! - a client that stops reading its answers (its receive window full, so the server's writes
//!   wait) is cut off after [`WRITE_STALL`] without progress;
//! - at most [`Limits::connections`] connections are served at once; one more is answered
//!   `503 Service Unavailable` and closed, rather than left in the listen queue;
//! - a stop signal stops accepting, lets the requests under way finish (at most
//!   [`SHUTDOWN_GRACE`]) and is returned.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::{Extension, Router};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};

use crate::process::signals::StopSignal;
use crate::serve::api::{Peer, REQUEST_TIMEOUT};

/// Longest wait for a request's headers, from a new connection or between the requests of a
/// kept-alive one (nginx allows 60 s; a page on a local network sends its request at once).
pub(super) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a write to a client may wait without any byte going out.
pub(super) const WRITE_STALL: Duration = Duration::from_secs(10);

/// After a stop signal, the longest wait for the requests under way: a request has at most
/// [`REQUEST_TIMEOUT`], so none is cut short.
const SHUTDOWN_GRACE: Duration = REQUEST_TIMEOUT;

/// Longest a `503` answer to one connection too many may take to be sent.
const REFUSAL_TIME: Duration = Duration::from_secs(1);

/// File descriptors kept for everything but connections: the model's files, the runtime, the
/// standard streams and the libraries' own (a CPU backend serving uses about 20).
const RESERVED_FILES: u64 = 48;

/// Most connections served at once, whatever the open-file limit.
const MAX_CONNECTIONS: u64 = 512;

/// How many connections are served at once, and how many more can be answered `503` at once
/// (beyond both, a connection is closed as soon as it is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Limits {
    /// Connections served at once.
    pub connections: usize,
    /// Connections being refused (answered `503`) at once.
    pub refusals: usize,
}

impl Limits {
    /// The limits that fit `open_files`, the process's open-file limit (`ulimit -n`): what is
    /// left after [`RESERVED_FILES`], three quarters to connections (at most
    /// [`MAX_CONNECTIONS`]) and a quarter to refusals, at least one of each.
    pub(super) fn for_open_files(open_files: u64) -> Self {
        let spare = open_files.saturating_sub(RESERVED_FILES);
        let count = |files: u64| usize::try_from(files.max(1)).unwrap_or(usize::MAX);
        Self {
            connections: count((spare * 3 / 4).min(MAX_CONNECTIONS)),
            refusals: count((spare / 4).min(MAX_CONNECTIONS / 4)),
        }
    }

    /// The limits for this process's open-file limit (its soft `RLIMIT_NOFILE`).
    pub(super) fn for_this_process() -> Self {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit writes into the struct it is given.
        let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0;
        // Unreadable: Linux's usual soft limit.
        Self::for_open_files(if read { limit.rlim_cur } else { 1024 })
    }
}

/// Serves `router` on the connections `listener` accepts, within `limits`, until `stop`
/// delivers a signal; then stops accepting, waits for the requests under way (at most
/// [`SHUTDOWN_GRACE`]) and returns the signal (`None` if `stop`'s sender was dropped).
pub(super) async fn serve_connections(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: oneshot::Receiver<StopSignal>,
) -> Option<StopSignal> {
    let open = Arc::new(Semaphore::new(limits.connections));
    let refusing = Arc::new(Semaphore::new(limits.refusals));
    let (shut_down, shutting_down) = watch::channel(false);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    tokio::pin!(stop);
    let signal = loop {
        let accepted = tokio::select! {
            signal = &mut stop => break signal.ok(),
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, or a connection reset before it was accepted: the
                // next accept may fail the same way at once, so wait a moment first.
                log::warn!("cannot accept a connection: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if let Ok(permit) = Arc::clone(&open).try_acquire_owned() {
            // Each request knows its client, for the request log.
            let service = TowerToHyperService::new(router.clone().layer(Extension(Peer(peer))));
            let connection = http.serve_connection(StallLimited::new(stream), service);
            tokio::spawn(answer(connection, permit, shutting_down.clone()));
        } else if let Ok(permit) = Arc::clone(&refusing).try_acquire_owned() {
            tokio::spawn(refuse(stream, permit));
        }
        // Else the stream is dropped here: closed at once.
    };
    drop(listener);
    let _ = shut_down.send(true);
    // Every connection holds a permit until it ends: all permits back means all are done.
    let all = u32::try_from(limits.connections).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, open.acquire_many(all)).await;
    signal
}

/// One HTTP/1 connection, served until it ends or the server shuts down (then the request
/// under way, if any, is finished and the connection closed).
async fn answer(
    connection: http1::Connection<StallLimited, TowerToHyperService<Router>>,
    permit: OwnedSemaphorePermit,
    mut shutting_down: watch::Receiver<bool>,
) {
    let _permit = permit;
    tokio::pin!(connection);
    // The watch's guard is dropped inside: it must not be held while the connection is awaited.
    let shutdown = async move {
        let _ = shutting_down.wait_for(|&shut| shut).await;
    };
    tokio::select! {
        // An error here is the client's (it hung up, sent garbage, or was too slow): the
        // connection is over either way.
        _ = connection.as_mut() => {}
        () = shutdown => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// A connection's socket whose writes fail after [`WRITE_STALL`] without progress: hyper has
/// no write timeout, and a client that never reads held its connection (and a permit) for
/// ever (seen: 60 such clients kept `/healthz` at 503 for as long as they stayed).
struct StallLimited {
    /// The socket, as hyper reads and writes it.
    io: TokioIo<TcpStream>,
    /// Armed when a write first waits; cleared whenever one makes progress.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl StallLimited {
    /// The socket of a connection just accepted.
    fn new(stream: TcpStream) -> Self {
        Self {
            io: TokioIo::new(stream),
            stalled: None,
        }
    }

    /// A write's outcome: progress clears the stall timer; waiting runs it, and is an error
    /// once it has waited [`WRITE_STALL`] in all.
    fn progress<T>(
        &mut self,
        cx: &mut Context<'_>,
        outcome: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        if outcome.is_ready() {
            self.stalled = None;
            return outcome;
        }
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(WRITE_STALL)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl hyper::rt::Read for StallLimited {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for StallLimited {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_write(cx, buf);
        this.progress(cx, outcome)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.progress(cx, outcome)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_flush(cx);
        this.progress(cx, outcome)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let outcome = Pin::new(&mut this.io).poll_shutdown(cx);
        this.progress(cx, outcome)
    }
}

/// Answers one connection too many with `503 Service Unavailable` (JSON, as every refusal)
/// and closes it, within [`REFUSAL_TIME`].
async fn refuse(mut stream: TcpStream, permit: OwnedSemaphorePermit) {
    let _permit = permit;
    let body = r#"{"error":"too many connections at once; try again in a moment"}"#;
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(REFUSAL_TIME, async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        // Read what the client sent until it closes: closing with unread bytes would reset
        // the connection, and the client could lose the answer.
        let mut sink = [0; 1024];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_leave_room_for_the_process_and_never_reach_zero() {
        assert_eq!(
            Limits::for_open_files(128),
            Limits {
                connections: 60,
                refusals: 20
            }
        );
        assert_eq!(
            Limits::for_open_files(1 << 20),
            Limits {
                connections: 512,
                refusals: 128
            }
        );
        assert_eq!(
            Limits::for_open_files(10),
            Limits {
                connections: 1,
                refusals: 1
            }
        );
    }
}

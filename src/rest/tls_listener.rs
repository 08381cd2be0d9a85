//! An https listener for `axum::serve`: TCP connections accepted in a task of their own, each
//! TLS handshake in a task of its own, so that a client that connects and says nothing (or
//! speaks plain HTTP) holds up no other.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use openssl::ssl::{Ssl, SslAcceptor};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_openssl::SslStream;
use tracing::debug;

/// How long a client has to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Handshaken connections waiting for `axum::serve`: few, as it takes them at once.
const BACKLOG: usize = 64;

pub struct TlsListener {
    ready: mpsc::Receiver<(SslStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp`; the accepting stops when this listener is dropped.
    pub fn new(tcp: TcpListener, acceptor: Arc<SslAcceptor>) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(BACKLOG);
        tokio::spawn(accept_loop(tcp, acceptor, tx));
        Ok(TlsListener { ready, local })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: Arc<SslAcceptor>,
    tx: mpsc::Sender<(SslStream<TcpStream>, SocketAddr)>,
) {
    loop {
        let accepted = tokio::select! {
            () = tx.closed() => return,
            a = tcp.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // As axum's own listener does: out of file descriptors, say; wait, then retry.
                debug!("https listener: accept failed: {e}");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake(&acceptor, stream)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, peer)).await;
                }
                // A client's mistake (an unknown CA, plain HTTP): not the operator's concern.
                Ok(Err(e)) => debug!("TLS handshake with {peer} failed: {e}"),
                Err(_) => debug!("TLS handshake with {peer} timed out"),
            }
        });
    }
}

async fn handshake(
    acceptor: &SslAcceptor,
    stream: TcpStream,
) -> Result<SslStream<TcpStream>, String> {
    let ssl = Ssl::new(acceptor.context()).map_err(|e| e.to_string())?;
    let mut tls = SslStream::new(ssl, stream).map_err(|e| e.to_string())?;
    Pin::new(&mut tls)
        .accept()
        .await
        .map_err(|e| e.to_string())?;
    Ok(tls)
}

impl axum::serve::Listener for TlsListener {
    type Io = SslStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(c) => c,
            // The accepting task ended, which happens only once this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

//! The REST server's sockets: every `listeners` entry bound (https ones with the TLS acceptor
//! built once from their settings), basic authentication set up when configured, and the API
//! served on each until told to stop.

use std::net::SocketAddr;
use std::sync::Arc;

use openssl::ssl::SslAcceptor;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::basic_auth::{AuthError, BasicAuth};
use super::tls::{self, TlsError};
use super::tls_listener::TlsListener;
use super::Api;
use crate::config::rest::{Listener, RestSettings, Scheme};

/// Why the REST server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cannot listen on {listener} (listeners): {source}")]
    Bind {
        listener: String,
        #[source]
        source: std::io::Error,
    },
}

impl ServerError {
    /// Whether the operator's configuration is at fault, rather than the machine.
    pub fn is_config(&self) -> bool {
        !matches!(self, ServerError::Bind { .. })
    }
}

struct Bound {
    scheme: Scheme,
    tcp: TcpListener,
    addr: SocketAddr,
    /// For an https listener.
    tls: Option<Arc<SslAcceptor>>,
}

/// The bound listeners, not yet serving.
pub struct Server {
    bound: Vec<Bound>,
    auth: Option<Arc<BasicAuth>>,
    advertised: Scheme,
}

impl Server {
    /// Reads the TLS material and the JAAS file, then binds every listener.
    pub async fn open(settings: &RestSettings) -> Result<Server, ServerError> {
        let tls = match &settings.tls {
            Some(t) => Some(Arc::new(tls::acceptor(t)?)),
            None => None,
        };
        let auth = if settings.basic_auth {
            Some(Arc::new(BasicAuth::from_environment()?))
        } else {
            None
        };
        let mut bound = Vec::new();
        for l in &settings.listeners {
            // Never plain HTTP where https was asked for.
            let tls = match l.scheme {
                Scheme::Http => None,
                Scheme::Https => Some(tls.clone().ok_or_else(|| TlsError::Invalid {
                    key: "listeners".into(),
                    message: format!("{l} has no TLS settings"),
                })?),
            };
            let tcp = bind(l).await.map_err(|source| ServerError::Bind {
                listener: l.to_string(),
                source,
            })?;
            let addr = tcp.local_addr().map_err(|source| ServerError::Bind {
                listener: l.to_string(),
                source,
            })?;
            bound.push(Bound {
                scheme: l.scheme,
                tcp,
                addr,
                tls,
            });
        }
        Ok(Server {
            bound,
            auth,
            advertised: settings.advertised,
        })
    }

    /// No listener at all (connect-mirror-maker without `listeners`).
    pub fn none() -> Server {
        Server {
            bound: Vec::new(),
            auth: None,
            advertised: Scheme::Http,
        }
    }

    /// The bound addresses, in `listeners` order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.bound.iter().map(|b| b.addr).collect()
    }

    /// The address the worker's id is made of: the first listener of the advertised scheme.
    pub fn advertised_addr(&self) -> Option<SocketAddr> {
        self.bound
            .iter()
            .find(|b| b.scheme == self.advertised)
            .or(self.bound.first())
            .map(|b| b.addr)
    }

    /// Serves `api` on every listener until `stop` turns true, one task each.
    pub fn serve(
        self,
        api: &Api,
        stop: &watch::Receiver<bool>,
    ) -> Vec<tokio::task::JoinHandle<Result<(), String>>> {
        let router = super::router(api.clone(), self.auth.clone());
        self.bound
            .into_iter()
            .map(|b| {
                tracing::info!(
                    "serving the REST API and metrics on {}://{}",
                    b.scheme,
                    b.addr
                );
                let (router, mut stop) = (router.clone(), stop.clone());
                tokio::spawn(async move {
                    let stopped = async move { crate::shutdown::stopped(&mut stop).await };
                    let served = match b.tls {
                        Some(acceptor) => {
                            let l = TlsListener::new(b.tcp, acceptor)
                                .map_err(|e| format!("HTTPS listener: {e}"))?;
                            axum::serve(l, router).with_graceful_shutdown(stopped).await
                        }
                        None => {
                            axum::serve(b.tcp, router)
                                .with_graceful_shutdown(stopped)
                                .await
                        }
                    };
                    served.map_err(|e| format!("HTTP listener: {e}"))
                })
            })
            .collect()
    }
}

async fn bind(l: &Listener) -> std::io::Result<TcpListener> {
    TcpListener::bind(l.bind_addr()).await
}

/// A Connect launcher's end: waits for SIGINT or SIGTERM, tells everything to stop, runs
/// `shutdown` (the herder's, or leaving the group) and waits for the listeners.
pub async fn until_signal(
    served: Vec<tokio::task::JoinHandle<Result<(), String>>>,
    stop: watch::Sender<bool>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    crate::shutdown::signal().await;
    let _ = stop.send(true);
    shutdown.await;
    for s in served {
        let _ = s.await;
    }
}

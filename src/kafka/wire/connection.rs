//! One connection to one broker: TCP, TLS when asked, the API versions the broker speaks, SASL,
//! and then requests pipelined on it. A writer task sends frames in the order they are asked
//! for and a reader task hands each response to its waiter by correlation id; Kafka answers
//! a connection's requests in order, which the produce path relies on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiVersionsRequest, RequestHeader, ResponseHeader, SaslAuthenticateRequest,
    SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request, StrBytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

use super::sasl::Exchange;
use super::security::Security;
use super::WireError;

/// The largest response accepted (Kafka's own clients cap a receive at the socket's limit; a
/// fetch is bounded by its `max_bytes`, so a larger frame means a broken stream).
const MAX_FRAME: usize = 256 * 1024 * 1024;
/// How long a connection and its handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

type Waiters = Arc<Mutex<HashMap<i32, oneshot::Sender<Bytes>>>>;

/// A live, authenticated connection. Cheap to share behind an `Arc`.
pub struct Connection {
    broker: String,
    client_id: StrBytes,
    /// API key → the highest version both sides speak.
    versions: HashMap<i16, i16>,
    next_id: AtomicI32,
    frames: mpsc::UnboundedSender<Bytes>,
    waiters: Waiters,
    broken: Arc<AtomicBool>,
}

impl Connection {
    /// Connects to `broker` (`host:port`) and authenticates as `security` says.
    pub async fn open(broker: &str, security: &Security) -> Result<Connection, WireError> {
        tokio::time::timeout(CONNECT_TIMEOUT, Self::open_now(broker, security))
            .await
            .map_err(|_| WireError::Connect {
                broker: broker.to_string(),
                reason: format!("no answer in {CONNECT_TIMEOUT:?}"),
            })?
    }

    async fn open_now(broker: &str, security: &Security) -> Result<Connection, WireError> {
        let connect_error = |reason: String| WireError::Connect {
            broker: broker.to_string(),
            reason,
        };
        let tcp = TcpStream::connect(broker)
            .await
            .map_err(|e| connect_error(e.to_string()))?;
        tcp.set_nodelay(true).ok();
        let mut stream: Box<dyn Stream> = match &security.tls {
            None => Box::new(tcp),
            Some(tls) => {
                let host = broker.rsplit_once(':').map_or(broker, |(h, _)| h);
                let mut config = tls
                    .connector
                    .configure()
                    .map_err(|e| connect_error(e.to_string()))?;
                config.set_verify_hostname(tls.verify_hostname);
                let ssl = config
                    .into_ssl(host)
                    .map_err(|e| connect_error(e.to_string()))?;
                let mut s = tokio_openssl::SslStream::new(ssl, tcp)
                    .map_err(|e| connect_error(e.to_string()))?;
                std::pin::Pin::new(&mut s)
                    .connect()
                    .await
                    .map_err(|e| connect_error(format!("TLS handshake: {e}")))?;
                Box::new(s)
            }
        };
        let client_id = StrBytes::from_string(security.client_id.clone());
        let mut hs = Handshake {
            broker,
            stream: &mut stream,
            client_id: &client_id,
            next_id: 0,
        };
        let versions = hs.api_versions().await?;
        if let Some(sasl) = &security.sasl {
            hs.authenticate(sasl).await?;
        }
        let next_id = hs.next_id;
        let (reader, writer) = tokio::io::split(stream);
        let (frames, outbox) = mpsc::unbounded_channel();
        let waiters: Waiters = Arc::default();
        let broken = Arc::new(AtomicBool::new(false));
        tokio::spawn(write_loop(writer, outbox, broken.clone()));
        tokio::spawn(read_loop(reader, waiters.clone(), broken.clone()));
        Ok(Connection {
            broker: broker.to_string(),
            client_id,
            versions,
            next_id: AtomicI32::new(next_id),
            frames,
            waiters,
            broken,
        })
    }

    pub fn broker(&self) -> &str {
        &self.broker
    }

    /// Whether the connection failed; a new one is needed.
    pub fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed) || self.frames.is_closed()
    }

    /// The highest version of `R` both sides speak, capped at `cap`; `None` if there is none.
    pub fn version<R: Request>(&self, cap: i16) -> Option<i16> {
        let broker_max = *self.versions.get(&R::KEY)?;
        let v = broker_max.min(cap).min(R::VERSIONS.max);
        (v >= R::VERSIONS.min).then_some(v)
    }

    /// Sends `request` at `version` now, and returns what waits for its response. Requests
    /// sent on one connection are answered in the order they were sent.
    pub fn send<R: Request>(
        &self,
        request: &R,
        version: i16,
    ) -> Result<impl std::future::Future<Output = Result<R::Response, WireError>>, WireError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = encode(request, version, id, &self.client_id).map_err(|reason| {
            WireError::Protocol {
                broker: self.broker.clone(),
                api: std::any::type_name::<R>(),
                reason,
            }
        })?;
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().unwrap().insert(id, tx);
        if self.frames.send(frame).is_err() {
            self.waiters.lock().unwrap().remove(&id);
            return Err(self.io_error("closed"));
        }
        let broker = self.broker.clone();
        Ok(async move {
            let frame = rx.await.map_err(|_| WireError::Io {
                broker: broker.clone(),
                reason: "closed before the answer came".into(),
            })?;
            decode::<R>(frame, version).map_err(|reason| WireError::Protocol {
                broker,
                api: std::any::type_name::<R>(),
                reason,
            })
        })
    }

    /// Sends and waits, up to `timeout`.
    pub async fn call<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, WireError> {
        let answer = self.send(request, version)?;
        match tokio::time::timeout(timeout, answer).await {
            Ok(r) => r,
            Err(_) => {
                // The stream is now out of step with what waits: nobody may use it again.
                self.broken.store(true, Ordering::Relaxed);
                Err(self.io_error(&format!("no answer in {timeout:?}")))
            }
        }
    }

    fn io_error(&self, reason: &str) -> WireError {
        WireError::Io {
            broker: self.broker.clone(),
            reason: reason.to_string(),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.broken.store(true, Ordering::Relaxed);
    }
}

/// A request's frame: its size, header and body.
fn encode<R: Request>(
    request: &R,
    version: i16,
    id: i32,
    client_id: &StrBytes,
) -> Result<Bytes, String> {
    let header = RequestHeader::default()
        .with_request_api_key(R::KEY)
        .with_request_api_version(version)
        .with_correlation_id(id)
        .with_client_id(Some(client_id.clone()));
    let header_version = R::header_version(version);
    let size = header
        .compute_size(header_version)
        .and_then(|h| request.compute_size(version).map(|b| h + b))
        .map_err(|e| e.to_string())?;
    let mut buf = BytesMut::with_capacity(4 + size);
    buf.put_i32(size as i32);
    header
        .encode(&mut buf, header_version)
        .map_err(|e| e.to_string())?;
    request
        .encode(&mut buf, version)
        .map_err(|e| e.to_string())?;
    Ok(buf.freeze())
}

/// A response frame (without its size) into the response of `R`.
fn decode<R: Request>(mut frame: Bytes, version: i16) -> Result<R::Response, String> {
    let header_version = <R::Response as HeaderVersion>::header_version(version);
    ResponseHeader::decode(&mut frame, header_version).map_err(|e| e.to_string())?;
    R::Response::decode(&mut frame, version).map_err(|e| e.to_string())
}

async fn write_loop(
    mut writer: WriteHalf<Box<dyn Stream>>,
    mut outbox: mpsc::UnboundedReceiver<Bytes>,
    broken: Arc<AtomicBool>,
) {
    let mut batch = Vec::new();
    while outbox.recv_many(&mut batch, 64).await > 0 {
        for frame in batch.drain(..) {
            if writer.write_all(&frame).await.is_err() {
                broken.store(true, Ordering::Relaxed);
                return;
            }
        }
        if writer.flush().await.is_err() {
            broken.store(true, Ordering::Relaxed);
            return;
        }
        if broken.load(Ordering::Relaxed) {
            return;
        }
    }
}

async fn read_loop(
    mut reader: ReadHalf<Box<dyn Stream>>,
    waiters: Waiters,
    broken: Arc<AtomicBool>,
) {
    loop {
        let frame = match read_frame(&mut reader).await {
            Ok(f) => f,
            Err(_) => break,
        };
        if frame.len() < 4 {
            break;
        }
        let id = (&frame[..4]).get_i32();
        let waiter = waiters.lock().unwrap().remove(&id);
        if let Some(w) = waiter {
            let _ = w.send(frame);
        }
        if broken.load(Ordering::Relaxed) {
            break;
        }
    }
    broken.store(true, Ordering::Relaxed);
    // Dropping the senders fails every request still waiting.
    waiters.lock().unwrap().clear();
}

async fn read_frame<S: AsyncRead + Unpin>(reader: &mut S) -> std::io::Result<Bytes> {
    let size = reader.read_i32().await?;
    let size = usize::try_from(size)
        .ok()
        .filter(|s| *s <= MAX_FRAME)
        .ok_or_else(|| std::io::Error::other(format!("frame of {size} bytes")))?;
    let mut buf = BytesMut::zeroed(size);
    reader.read_exact(&mut buf).await?;
    Ok(buf.freeze())
}

/// The exchanges before requests are pipelined: one request, one answer.
struct Handshake<'a> {
    broker: &'a str,
    stream: &'a mut Box<dyn Stream>,
    client_id: &'a StrBytes,
    next_id: i32,
}

impl Handshake<'_> {
    async fn call<R: Request>(
        &mut self,
        request: &R,
        version: i16,
    ) -> Result<R::Response, WireError> {
        let id = self.next_id;
        self.next_id += 1;
        let io = |e: std::io::Error| WireError::Io {
            broker: self.broker.to_string(),
            reason: e.to_string(),
        };
        let frame =
            encode(request, version, id, self.client_id).map_err(|reason| WireError::Protocol {
                broker: self.broker.to_string(),
                api: std::any::type_name::<R>(),
                reason,
            })?;
        self.stream.write_all(&frame).await.map_err(io)?;
        self.stream.flush().await.map_err(io)?;
        let answer = read_frame(self.stream).await.map_err(io)?;
        decode::<R>(answer, version).map_err(|reason| WireError::Protocol {
            broker: self.broker.to_string(),
            api: std::any::type_name::<R>(),
            reason,
        })
    }

    async fn api_versions(&mut self) -> Result<HashMap<i16, i16>, WireError> {
        let request = ApiVersionsRequest::default()
            .with_client_software_name(StrBytes::from_static_str("mm2-rust"))
            .with_client_software_version(StrBytes::from_static_str(env!("CARGO_PKG_VERSION")));
        let r = self.call(&request, 3).await?;
        if let Some(e) = WireError::from_code(r.error_code) {
            return Err(e);
        }
        Ok(r.api_keys
            .iter()
            .map(|k| (k.api_key, k.max_version))
            .collect())
    }

    async fn authenticate(&mut self, sasl: &super::security::Sasl) -> Result<(), WireError> {
        let auth = |reason: String| WireError::Auth {
            broker: self.broker.to_string(),
            reason,
        };
        let name = sasl.mechanism.name();
        let r = self
            .call(
                &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(name)),
                1,
            )
            .await?;
        if r.error_code != 0 {
            let offered: Vec<&str> = r.mechanisms.iter().map(|m| m.as_str()).collect();
            return Err(auth(format!(
                "the broker does not accept {name} (it offers {offered:?})"
            )));
        }
        let mut exchange = Exchange::new(sasl).map_err(auth)?;
        let mut message = exchange.initial();
        loop {
            let r = self
                .call(
                    &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(message)),
                    2,
                )
                .await?;
            if r.error_code != 0 {
                let why = r.error_message.map(|m| m.to_string()).unwrap_or_default();
                return Err(auth(format!("{name} refused: {why}")));
            }
            match sasl.mechanism {
                super::security::Mechanism::Plain => return Ok(()),
                _ if r.auth_bytes.starts_with(b"v=") => {
                    return exchange.finish(&r.auth_bytes).map_err(auth);
                }
                _ => message = exchange.respond(&r.auth_bytes).map_err(auth)?,
            }
        }
    }
}

//! The HTTP endpoint: `/metrics` (Prometheus text format), `/healthz` (alive and not wedged),
//! `/readyz` (every mirror running, reachable and within the lag bound) and `/status` (what
//! `strait status` shows, from this process's own state: no request reaches a cluster). Plain
//! HTTP by default; TLS through rustls with an optional client CA
//! (mutual TLS); an optional bearer token guards `/metrics`, `/status` and `POST /translate`
//! (offsets kept outside Kafka, translated: [`super::translate`]; the probes stay open for
//! orchestrators).
//!
//! Hardened for a listener that may face an untrusted network: at most `http.max_connections`
//! connections at once (more are closed as soon as they are accepted, and counted); each client
//! has `http.header_read_timeout` for its TLS handshake and then for each request's headers; only
//! `GET` and `HEAD` without a body are answered (a body is refused unread), but for
//! `POST /translate` (a bounded body, one request at a time); the token is
//! compared through SHA-256 digests in constant time, so the time an answer takes tells nothing
//! about the token's bytes or length.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, AUTHORIZATION, CONNECTION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::health;
use super::metrics::metrics;
use super::translate::Translations;
use crate::config::{Config, HttpConfig, HttpTls};

/// While connections are being refused, a warning at most this often.
const REFUSED_WARNING_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr} (http.listen): {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("http.tls: {0}")]
    Tls(String),
}

/// A bound endpoint, ready to serve.
pub struct Endpoint {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<State>,
    /// One permit per connection being served (`http.max_connections`).
    connections: Arc<Semaphore>,
}

struct State {
    /// The running config (a reload replaces it).
    config: watch::Receiver<Arc<Config>>,
    http: HttpConfig,
    /// SHA-256 of `http.bearer_token`.
    token_digest: Option<TokenDigest>,
    translations: Translations,
}

type TokenDigest = [u8; 32];

fn sha256(bytes: &[u8]) -> TokenDigest {
    let mut out = [0u8; 32];
    out.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
    out
}

impl Endpoint {
    /// Binds the listen address and loads the TLS material, so that a bad address, a port in
    /// use or an unreadable certificate stops strait at start with a clear message.
    pub async fn bind(
        config: watch::Receiver<Arc<Config>>,
        http: HttpConfig,
    ) -> Result<Endpoint, HttpError> {
        let tls = match &http.tls {
            Some(t) => Some(TlsAcceptor::from(Arc::new(tls_config(t)?))),
            None => None,
        };
        let listener = TcpListener::bind(http.listen)
            .await
            .map_err(|source| HttpError::Bind {
                addr: http.listen,
                source,
            })?;
        let token_digest = http
            .bearer_token
            .as_ref()
            .map(|t| sha256(t.expose().as_bytes()));
        let connections = Arc::new(Semaphore::new(http.max_connections));
        Ok(Endpoint {
            listener,
            tls,
            state: Arc::new(State {
                config,
                http,
                token_digest,
                translations: Translations::default(),
            }),
            connections,
        })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.http.listen)
    }

    /// Serves until cancelled.
    pub async fn serve(self, cancel: CancellationToken) {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %self.local_addr(), scheme, "http endpoint listening (/metrics, /healthz, /readyz, /status, POST /translate)");
        let mut refused_since_warning: u64 = 0;
        let mut last_warning: Option<Instant> = None;
        loop {
            let (stream, peer) = tokio::select! {
                _ = cancel.cancelled() => return,
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "http accept failed");
                        continue;
                    }
                },
            };
            let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() else {
                // Closed at once, before a byte is read or written.
                drop(stream);
                metrics().http_connections_refused.inc();
                refused_since_warning += 1;
                if last_warning.is_none_or(|at| at.elapsed() >= REFUSED_WARNING_INTERVAL) {
                    tracing::warn!(
                        %peer,
                        refused_since_last_warning = refused_since_warning,
                        max_connections = self.state.http.max_connections,
                        "http endpoint refusing connections: all http.max_connections are in \
                         use (strait_http_connections_refused_total counts the refused; raise \
                         http.max_connections if these clients are legitimate)"
                    );
                    refused_since_warning = 0;
                    last_warning = Some(Instant::now());
                }
                continue;
            };
            let state = Arc::clone(&self.state);
            let tls = self.tls.clone();
            crate::runtime::spawn_detached("http connection", async move {
                let _permit = permit; // released when the connection ends
                serve_connection(state, tls, stream, peer).await;
            });
        }
    }
}

/// One connection: the TLS handshake and the request headers each within
/// `http.header_read_timeout`.
async fn serve_connection(
    state: Arc<State>,
    tls: Option<TlsAcceptor>,
    stream: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
) {
    let timeout = state.http.header_read_timeout;
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeout);
    let service = hyper::service::service_fn(move |req| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(handle(&state, req).await) }
    });
    let result = match tls {
        Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(s)) => builder.serve_connection(TokioIo::new(s), service).await,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "tls handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, ?timeout, "tls handshake not done within http.header_read_timeout");
                return;
            }
        },
        None => {
            builder
                .serve_connection(TokioIo::new(stream), service)
                .await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "http connection ended with an error");
    }
}

fn text(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<Full<Bytes>> {
    text(status, "application/json", value.to_string())
}

fn authorized(state: &State, req: &Request<Incoming>) -> bool {
    let Some(expected) = &state.token_digest else {
        return true;
    };
    req.headers()
        .get(AUTHORIZATION)
        .is_some_and(|v| bearer_matches(expected, v.as_bytes()))
}

/// Whether an `Authorization` header's value is `Bearer <token>` (the scheme in any case, as
/// RFC 6750 allows) with the token whose SHA-256 is `expected`. The presented token is hashed and
/// the two digests, always 32 bytes, compared in constant time: neither how much of the token
/// matched nor how long it is shows in the time taken.
fn bearer_matches(expected: &TokenDigest, header: &[u8]) -> bool {
    let Some(at) = header.iter().position(|&b| b == b' ') else {
        return false;
    };
    let (scheme, rest) = header.split_at(at);
    if !scheme.eq_ignore_ascii_case(b"Bearer") {
        return false;
    }
    let token = rest.trim_ascii_start();
    bool::from(sha256(token).ct_eq(expected))
}

/// A refusal that also closes the connection, so that nothing the client still sends is read.
fn refuse(status: StatusCode, message: &'static str) -> Response<Full<Bytes>> {
    let mut r = text(status, "text/plain", message);
    r.headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    r
}

fn unauthorized() -> Response<Full<Bytes>> {
    let mut r = text(
        StatusCode::UNAUTHORIZED,
        "text/plain",
        "bearer token required\n",
    );
    r.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer"),
    );
    r
}

/// `POST /translate`: the only request with a body.
async fn translate(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        let mut r = refuse(StatusCode::METHOD_NOT_ALLOWED, "POST only\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return r;
    }
    if !authorized(state, &req) {
        let mut r = unauthorized();
        // The body is not read.
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return r;
    }
    let query = req.uri().query().map(str::to_owned);
    let config = Arc::clone(&state.config.borrow());
    let answer = state
        .translations
        .answer(
            &config,
            query.as_deref(),
            req.into_body(),
            state.http.header_read_timeout,
        )
        .await;
    let mut r = json(answer.status, &answer.body);
    if let Some(secs) = answer.retry_after {
        r.headers_mut()
            .insert(hyper::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if !answer.status.is_success() {
        // What is left of a refused body is not read.
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    r
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.uri().path() == "/translate" {
        return translate(state, req).await;
    }
    // A body (`Content-Length` above 0, or any `Transfer-Encoding`) is never read.
    if !req.body().is_end_stream() {
        return refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request bodies are not accepted\n",
        );
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = refuse(StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only\n");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    match req.uri().path() {
        "/metrics" | "/status" if !authorized(state, &req) => unauthorized(),
        "/metrics" => {
            readiness(state); // keeps strait_ready current
            text(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                metrics().render(),
            )
        }
        "/healthz" => {
            let wedged: Vec<String> = health::verdicts(u64::MAX)
                .into_iter()
                .filter(|v| v.wedged)
                .map(|v| v.mirror)
                .collect();
            if wedged.is_empty() {
                json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
            } else {
                json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &serde_json::json!({"status": "wedged", "mirrors": wedged}),
                )
            }
        }
        "/readyz" => {
            let (ready, verdicts) = readiness(state);
            json(
                if ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                },
                &serde_json::json!({"ready": ready, "mirrors": verdicts}),
            )
        }
        "/status" => json(
            StatusCode::OK,
            &serde_json::json!({ "mirrors": super::status::mirrors(&state.config.borrow()) }),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found; try /metrics, /healthz, /readyz, /status or POST /translate\n",
        ),
    }
}

/// Every configured mirror judged; ready when all are.
fn readiness(state: &State) -> (bool, Vec<health::MirrorVerdict>) {
    let verdicts = health::verdicts(state.http.ready_max_lag_records);
    let ready = !verdicts.is_empty()
        && verdicts.len() >= state.config.borrow().mirrors.len()
        && verdicts.iter().all(|v| v.ready);
    metrics().ready.set(i64::from(ready));
    (ready, verdicts)
}

fn tls_config(t: &HttpTls) -> Result<rustls::ServerConfig, HttpError> {
    let pem = |path: &str, key: &str, e: rustls::pki_types::pem::Error| {
        HttpError::Tls(match e {
            rustls::pki_types::pem::Error::Io(io) => format!("cannot read {path} ({key}): {io}"),
            rustls::pki_types::pem::Error::NoItemsFound => {
                format!(
                    "{path}: no PEM {} in it ({key})",
                    if key == "key_file" {
                        "private key"
                    } else {
                        "certificate"
                    }
                )
            }
            other => format!("{path} ({key}): {other}"),
        })
    };
    let certs = |path: &str, key: &str| -> Result<Vec<CertificateDer<'static>>, HttpError> {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| pem(path, key, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem(path, key, e))?;
        if certs.is_empty() {
            return Err(pem(path, key, rustls::pki_types::pem::Error::NoItemsFound));
        }
        Ok(certs)
    };
    let chain = certs(&t.cert_file, "cert_file")?;
    let private_key =
        PrivateKeyDer::from_pem_file(&t.key_file).map_err(|e| pem(&t.key_file, "key_file", e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Tls(e.to_string()))?;
    let builder = match &t.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs(ca, "client_ca_file")? {
                roots
                    .add(c)
                    .map_err(|e| HttpError::Tls(format!("{ca}: {e}")))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| HttpError::Tls(format!("client_ca_file: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder
        .with_single_cert(chain, private_key)
        .map_err(|e| HttpError::Tls(format!("certificate and key do not fit: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_token_matches_only_itself() {
        let expected = sha256(b"s3cret");
        assert!(bearer_matches(&expected, b"Bearer s3cret"));
        // The scheme in any case, and more than one space before the token (RFC 6750 `1*SP`).
        assert!(bearer_matches(&expected, b"bearer s3cret"));
        assert!(bearer_matches(&expected, b"BEARER   s3cret"));
        for wrong in [
            &b"Bearer s3creT"[..], // same length, last byte differs
            b"Bearer x3cret",      // same length, first byte differs
            b"Bearer s3cre",       // a prefix
            b"Bearer s3crets",     // longer
            b"Bearer ",
            b"Bearer",
            b"",
            b"Basic s3cret",
            b"s3cret",
            b"Bearers3cret",
            b"Bearer s3cret ", // a trailing space is part of what was sent
        ] {
            assert!(
                !bearer_matches(&expected, wrong),
                "{:?} accepted",
                String::from_utf8_lossy(wrong)
            );
        }
    }

    #[test]
    fn token_digest_is_sha256() {
        // FIPS 180-2 test vector: SHA-256("abc").
        let want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let got: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, want);
    }
}

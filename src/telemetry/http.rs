//! The HTTP endpoint: `/metrics` (Prometheus text format), `/healthz` (alive and not wedged),
//! `/readyz` (every mirror running, reachable and within the lag bound) and `/status` (what
//! `strait status` shows, from this process's own state: no request reaches a cluster). Plain
//! HTTP by default; TLS through rustls with an optional client CA
//! (mutual TLS); an optional bearer token guards `/metrics` and `/status` (the probes stay open
//! for orchestrators).

use std::convert::Infallible;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::health;
use super::metrics::metrics;
use crate::config::{Config, HttpConfig, HttpTls};

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
}

struct State {
    config: Arc<Config>,
    http: HttpConfig,
}

impl Endpoint {
    /// Binds the listen address and loads the TLS material, so that a bad address, a port in
    /// use or an unreadable certificate stops strait at start with a clear message.
    pub async fn bind(config: Arc<Config>, http: HttpConfig) -> Result<Endpoint, HttpError> {
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
        Ok(Endpoint {
            listener,
            tls,
            state: Arc::new(State { config, http }),
        })
    }

    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.listener.local_addr().unwrap_or(self.state.http.listen)
    }

    /// Serves until cancelled.
    pub async fn serve(self, cancel: CancellationToken) {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(address = %self.local_addr(), scheme, "http endpoint listening (/metrics, /healthz, /readyz, /status)");
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
            let state = Arc::clone(&self.state);
            let tls = self.tls.clone();
            crate::runtime::spawn_detached("http connection", async move {
                let service = hyper::service::service_fn(move |req| {
                    let state = Arc::clone(&state);
                    async move { Ok::<_, Infallible>(handle(&state, req).await) }
                });
                let builder = hyper::server::conn::http1::Builder::new();
                let result = match tls {
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(s) => builder.serve_connection(TokioIo::new(s), service).await,
                        Err(e) => {
                            tracing::debug!(%peer, error = %e, "tls handshake failed");
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
            });
        }
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
    let Some(token) = &state.http.bearer_token else {
        return true;
    };
    let expected = format!("Bearer {}", token.expose());
    req.headers()
        .get(AUTHORIZATION)
        .is_some_and(|v| constant_time_eq(v.as_bytes(), expected.as_bytes()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn handle(state: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
    }
    match req.uri().path() {
        "/metrics" | "/status" if !authorized(state, &req) => {
            let mut r = text(
                StatusCode::UNAUTHORIZED,
                "text/plain",
                "bearer token required\n",
            );
            r.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Bearer"),
            );
            r
        }
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
            &serde_json::json!({ "mirrors": super::status::mirrors(&state.config) }),
        ),
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found; try /metrics, /healthz, /readyz or /status\n",
        ),
    }
}

/// Every configured mirror judged; ready when all are.
fn readiness(state: &State) -> (bool, Vec<health::MirrorVerdict>) {
    let verdicts = health::verdicts(state.http.ready_max_lag_records);
    let ready = !verdicts.is_empty()
        && verdicts.len() >= state.config.mirrors.len()
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

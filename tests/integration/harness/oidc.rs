//! An OpenID Connect token endpoint for the tests ([`TokenEndpoint`]): it checks the client
//! credentials (HTTP Basic, `grant_type=client_credentials`) and issues unsigned JWTs that the
//! secured test clusters' OAUTHBEARER listener accepts (Kafka's unsecured validator).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_yaml::{Mapping, Value};

use super::config::ClusterConfig;
use super::kafka::KafkaCluster;
use super::secure::Listener;

/// One request the token endpoint answered.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub at: Instant,
    pub authorization: Option<String>,
    pub body: String,
    /// The credentials were right and a token was issued.
    pub granted: bool,
}

/// A token endpoint for one client: `client_id` and `client_secret` (HTTP Basic) get an
/// unsigned JWT for `principal` valid for `lifetime`; anything else gets 401.
pub struct TokenEndpoint {
    pub url: String,
    requests: Arc<Mutex<Vec<TokenRequest>>>,
}

impl TokenEndpoint {
    pub fn start(
        client_id: &str,
        client_secret: &str,
        principal: &str,
        lifetime: Duration,
    ) -> TokenEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the token endpoint");
        let url = format!("http://{}/oauth2/token", listener.local_addr().unwrap());
        let expected = format!(
            "Basic {}",
            STANDARD.encode(format!("{client_id}:{client_secret}"))
        );
        let requests: Arc<Mutex<Vec<TokenRequest>>> = Arc::default();
        let seen = Arc::clone(&requests);
        let principal = principal.to_string();
        // Serves until the test process ends (the listener is not shared with other tests).
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                if let Some(request) = answer(stream, &expected, &principal, lifetime) {
                    seen.lock().unwrap().push(request);
                }
            }
        });
        TokenEndpoint { url, requests }
    }

    /// Every request answered so far, in order.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one HTTP request and answers it with a token or 401.
fn answer(
    stream: TcpStream,
    expected: &str,
    principal: &str,
    lifetime: Duration,
) -> Option<TokenRequest> {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut authorization = None;
    let mut length = 0usize;
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    loop {
        line.clear();
        if reader.read_line(&mut line).ok()? == 0 || line == "\r\n" {
            break;
        }
        let (name, value) = line.split_once(':')?;
        let value = value.trim().to_string();
        match name.to_ascii_lowercase().as_str() {
            "authorization" => authorization = Some(value),
            "content-length" => length = value.parse().ok()?,
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let granted = authorization.as_deref() == Some(expected)
        && body
            .split('&')
            .any(|p| p == "grant_type=client_credentials");
    let (status, json) = if granted {
        let now = chrono::Utc::now().timestamp();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        let claims = URL_SAFE_NO_PAD.encode(
            serde_json::json!({
                "sub": principal,
                "iat": now,
                "exp": now + lifetime.as_secs() as i64,
                "scope": "kafka",
            })
            .to_string(),
        );
        let token = format!("{header}.{claims}.");
        let json = serde_json::json!({
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
        });
        ("200 OK", json.to_string())
    } else {
        (
            "401 Unauthorized",
            r#"{"error":"invalid_client"}"#.to_string(),
        )
    };
    let mut out = stream;
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    Some(TokenRequest {
        at: Instant::now(),
        authorization,
        body,
        granted,
    })
}

/// strait's `clusters` entry for `cluster`'s OAUTHBEARER listener with OIDC client credentials.
pub fn oidc_cluster(
    cluster: &KafkaCluster,
    endpoint: &TokenEndpoint,
    client_id: &str,
    secret: &str,
) -> ClusterConfig {
    let mut oidc = Mapping::new();
    oidc.insert("token_endpoint_url".into(), endpoint.url.as_str().into());
    oidc.insert("client_id".into(), client_id.into());
    oidc.insert("client_secret".into(), secret.into());
    oidc.insert("scope".into(), "kafka".into());
    let mut sasl = Mapping::new();
    sasl.insert("mechanism".into(), "OAUTHBEARER".into());
    sasl.insert("oidc".into(), Value::Mapping(oidc));
    let mut security = Mapping::new();
    security.insert("protocol".into(), "sasl_plaintext".into());
    security.insert("sasl".into(), Value::Mapping(sasl));
    ClusterConfig::new(&cluster.secured_bootstrap(Listener::OAuthBearer))
        .set("security", Value::Mapping(security))
}

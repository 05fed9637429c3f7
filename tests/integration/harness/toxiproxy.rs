//! Toxiproxy v2, a userspace TCP proxy, between strait and a cluster: the fault tests cut the
//! network (a disabled proxy closes its connections and refuses new ones) and add latency (a
//! `latency` toxic) without touching the kernel (this one has no netem).
//!
//! `harness/toxiproxy.sh build` builds `toxiproxy-server` from its Go module on first use and
//! caches it in `harness/.toxiproxy-VERSION/`. Each [`Toxiproxy`] is one server process on a
//! free 127.0.0.1 port, killed on drop; [`Toxiproxy`]'s methods speak its HTTP API over a plain
//! `TcpStream` (HTTP/1.1, one request per connection).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::process::{tail_of, ChildProcess, Launch};
use super::util::{random_u64, repo_root, scratch_dir};

/// Time limit of `harness/toxiproxy.sh build` (a cold Go module cache downloads the sources).
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the server may take to answer `GET /version` after its start.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Time limit of one API request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Ports for the API and the proxies' listeners: below Linux's ephemeral range, like the
/// brokers' (see `kafka::PORT_RANGE`), in a part of it the brokers' single ports rarely take.
const PORT_RANGE: std::ops::Range<u16> = 20_000..32_000;

/// `toxiproxy-server`, built once per test process by `harness/toxiproxy.sh build` (instant
/// once cached).
pub fn toxiproxy_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = repo_root().join("harness/toxiproxy.sh");
        let out = Launch::new("toxiproxy.sh build", "bash")
            .arg(&script)
            .arg("build")
            .run(BUILD_TIMEOUT)
            .unwrap_or_else(|e| panic!("{e}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "`harness/toxiproxy.sh build` failed ({}); the fault tests need Go 1.22+ on the PATH \
             to build toxiproxy.\n{}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let bin = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        assert!(
            bin.is_file(),
            "toxiproxy.sh build printed no binary: {stdout:?}"
        );
        bin
    })
}

/// A free port on 127.0.0.1 in [`PORT_RANGE`] (free when probed: the caller binds it soon).
pub fn free_port() -> u16 {
    let span = u64::from(PORT_RANGE.end - PORT_RANGE.start);
    for _ in 0..200 {
        let port = PORT_RANGE.start + (random_u64() % span) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {PORT_RANGE:?} on 127.0.0.1");
}

/// An HTTP answer of the API.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: String,
}

/// One running `toxiproxy-server`.
pub struct Toxiproxy {
    api_port: u16,
    // Declared before the scratch directory: killed before its log is removed.
    server: Mutex<Option<ChildProcess>>,
    log: PathBuf,
    _scratch: tempfile::TempDir,
}

impl Toxiproxy {
    /// Starts a server on a free port and waits until its API answers.
    pub fn start(label: &str) -> Toxiproxy {
        let bin = toxiproxy_bin();
        let mut last_error = String::new();
        for attempt in 1..=3 {
            let scratch = scratch_dir(&format!("toxiproxy-{label}"));
            let log = scratch.path().join("toxiproxy.log");
            let api_port = free_port();
            let server = Launch::new(&format!("toxiproxy {label}"), bin)
                .args(["-host", "127.0.0.1", "-port"])
                .arg(api_port.to_string())
                // Info, not every API request at debug level.
                .env("LOG_LEVEL", "info")
                .spawn(&log)
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let proxy = Toxiproxy {
                api_port,
                server: Mutex::new(Some(server)),
                log,
                _scratch: scratch,
            };
            match proxy.wait_ready() {
                Ok(()) => return proxy,
                // Most likely another process took the port between the probe and the bind.
                Err(e) => {
                    eprintln!("[harness] toxiproxy {label}, attempt {attempt}: {e}");
                    last_error = e;
                }
            }
        }
        panic!("toxiproxy {label} did not start after 3 attempts: {last_error}");
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(a) = self.request("GET", "/version", None) {
                if a.status == 200 {
                    return Ok(());
                }
            }
            let exited = self
                .server
                .lock()
                .unwrap()
                .as_mut()
                .and_then(|s| s.exited());
            if let Some(status) = exited {
                return Err(format!("exited ({status}): {}", tail_of(&self.log, 10)));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no answer on port {} within {START_TIMEOUT:?}: {}",
                    self.api_port,
                    tail_of(&self.log, 10)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server's log (proxy starts and stops, connection errors).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Creates proxy `name` listening on `127.0.0.1:listen` towards `upstream`. `Err` with the
    /// server's message if it cannot (e.g. the port was taken meanwhile).
    pub fn create_proxy(&self, name: &str, listen: u16, upstream: &str) -> Result<(), String> {
        let body = format!(
            r#"{{"name":"{name}","listen":"127.0.0.1:{listen}","upstream":"{upstream}","enabled":true}}"#
        );
        let a = self.request("POST", "/proxies", Some(&body))?;
        match a.status {
            201 => Ok(()),
            _ => Err(format!(
                "create proxy {name}: HTTP {}: {}",
                a.status, a.body
            )),
        }
    }

    /// Enables (listens, forwards) or disables (closes every connection, refuses new ones)
    /// proxy `name`.
    pub fn set_enabled(&self, name: &str, enabled: bool) {
        let body = format!(r#"{{"enabled":{enabled}}}"#);
        self.expect(
            "PATCH",
            &format!("/proxies/{name}"),
            Some(&body),
            &[200],
            &format!("set proxy {name} enabled={enabled}"),
        );
    }

    /// Adds toxic `toxic` to proxy `name`: `latency_ms` of delay on every chunk of data in
    /// `stream` (`"upstream"`: client to server, `"downstream"`: server to client).
    pub fn add_latency(&self, name: &str, toxic: &str, stream: &str, latency_ms: u64) {
        let body = format!(
            r#"{{"name":"{toxic}","type":"latency","stream":"{stream}","toxicity":1.0,"attributes":{{"latency":{latency_ms},"jitter":0}}}}"#
        );
        self.expect(
            "POST",
            &format!("/proxies/{name}/toxics"),
            Some(&body),
            &[200],
            &format!("add latency toxic {toxic} to proxy {name}"),
        );
    }

    /// Removes toxic `toxic` from proxy `name`.
    pub fn remove_toxic(&self, name: &str, toxic: &str) {
        self.expect(
            "DELETE",
            &format!("/proxies/{name}/toxics/{toxic}"),
            None,
            &[204],
            &format!("remove toxic {toxic} from proxy {name}"),
        );
    }

    /// The names of the toxics of proxy `name`.
    pub fn toxics(&self, name: &str) -> Vec<String> {
        let a = self.expect(
            "GET",
            &format!("/proxies/{name}/toxics"),
            None,
            &[200],
            &format!("list toxics of proxy {name}"),
        );
        // `[{"attributes":{...},"name":"lat","type":"latency",...}, ...]`: every "name" value.
        a.body
            .split(r#""name":""#)
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .map(str::to_string)
            .collect()
    }

    /// Kills the server (its proxies close with it).
    pub fn kill(&self) {
        if let Ok(mut guard) = self.server.try_lock() {
            if let Some(mut server) = guard.take() {
                server.kill();
            }
        }
    }

    fn expect(
        &self,
        method: &str,
        path: &str,
        body: Option<&str>,
        ok: &[u16],
        what: &str,
    ) -> Answer {
        let a = self
            .request(method, path, body)
            .unwrap_or_else(|e| panic!("toxiproxy: {what}: {e}"));
        assert!(
            ok.contains(&a.status),
            "toxiproxy: {what}: HTTP {}: {}",
            a.status,
            a.body
        );
        a
    }

    fn request(&self, method: &str, path: &str, body: Option<&str>) -> Result<Answer, String> {
        let addr = format!("127.0.0.1:{}", self.api_port);
        let mut stream =
            TcpStream::connect_timeout(&addr.parse().expect("socket address"), REQUEST_TIMEOUT)
                .map_err(|e| format!("connect to {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(REQUEST_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(REQUEST_TIMEOUT)))
            .map_err(|e| format!("socket timeouts: {e}"))?;
        let body = body.unwrap_or("");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .map_err(|e| format!("{method} {path}: reading the answer: {e}"))?;
        let text = String::from_utf8_lossy(&response);
        let (head, rest) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| format!("{method} {path}: no HTTP header in {text:?}"))?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("{method} {path}: bad status line in {head:?}"))?;
        let chunked = head
            .lines()
            .any(|l| l.eq_ignore_ascii_case("transfer-encoding: chunked"));
        let body = if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        };
        Ok(Answer { status, body })
    }
}

/// The payload of a `Transfer-Encoding: chunked` body.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Toxiproxy {
    fn drop(&mut self) {
        self.kill();
    }
}

//! The backup heartbeat: after each job, a GET to an Uptime Kuma push monitor
//! (001 §6.1), so a backup that stops succeeding is noticed by the monitor rather
//! than by the next restore.
//!
//! The push URL carries the monitor's token: it is a secret, and no error or log
//! line shows more of it than the scheme and the host. A failed heartbeat is the
//! caller's warning, never a failed backup.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;

const TIMEOUT: Duration = Duration::from_secs(10);

/// The push URL in the bundle's backup env file.
pub const URL_VAR: &str = "VPAI_BACKUP_HEARTBEAT_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Up,
    Down,
}

#[derive(Debug, thiserror::Error)]
#[error("heartbeat to {endpoint}: {reason}")]
pub struct HeartbeatError {
    /// Scheme and host only: the path holds the token.
    pub endpoint: String,
    pub reason: String,
}

/// Tell the monitor how a job went: `GET <push URL>?status=up&msg=...&ping=`.
/// Whatever query the operator copied from Uptime Kuma is replaced.
pub async fn push(url: &str, status: Status, message: &str) -> Result<(), HeartbeatError> {
    let uri: hyper::Uri = url.parse().map_err(|_| HeartbeatError {
        endpoint: "the push URL".to_string(),
        reason: "`backup_heartbeat_url` is not a URL".to_string(),
    })?;
    let host = uri.host().unwrap_or_default().to_string();
    let endpoint = format!("{}://{host}", uri.scheme_str().unwrap_or("?"));
    let fail = |reason: String| HeartbeatError {
        endpoint: endpoint.clone(),
        reason,
    };
    if uri.scheme_str() != Some("http") || host.is_empty() {
        return Err(fail(
            "only http:// push URLs are supported (this build has no TLS client): use the monitor's address over the VPN, e.g. http://100.64.0.2:3001/api/push/TOKEN".to_string(),
        ));
    }
    let port = uri.port_u16().unwrap_or(80);
    let status = match status {
        Status::Up => "up",
        Status::Down => "down",
    };
    let target = format!(
        "{}?status={status}&msg={}&ping=",
        uri.path(),
        percent_encode(message)
    );
    let exchange = async {
        let stream = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = Request::get(target)
            .header(hyper::header::HOST, format!("{host}:{port}"))
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let code = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        // Uptime Kuma answers an unknown or paused monitor with `"ok":false`.
        let refused = String::from_utf8_lossy(&body)
            .replace(' ', "")
            .contains("\"ok\":false");
        if !code.is_success() || refused {
            return Err(format!(
                "the monitor answered {code}: is the push monitor active?"
            ));
        }
        Ok(())
    };
    match tokio::time::timeout(TIMEOUT, exchange).await {
        Ok(result) => result.map_err(fail),
        Err(_) => Err(fail(format!("no answer within {}s", TIMEOUT.as_secs()))),
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

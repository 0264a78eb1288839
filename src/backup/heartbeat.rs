//! The backup heartbeat: after each job, a GET to an Uptime Kuma push monitor
//! (001 §6.1), so a backup that stops succeeding is noticed by the monitor rather
//! than by the next restore.
//!
//! The push URL carries the monitor's token: it is a secret, and no error or log
//! line shows more of it than the scheme and the host. A failed heartbeat is the
//! caller's warning, never a failed backup.

use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(10);

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
    let mut parsed = reqwest::Url::parse(url).map_err(|_| HeartbeatError {
        endpoint: "the push URL".to_string(),
        reason: "`backup_heartbeat_url` is not a URL".to_string(),
    })?;
    let endpoint = format!(
        "{}://{}",
        parsed.scheme(),
        parsed.host_str().unwrap_or_default()
    );
    let fail = |reason: String| HeartbeatError {
        endpoint: endpoint.clone(),
        reason,
    };
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(fail("the push URL must be http:// or https://".to_string()));
    }
    let status = match status {
        Status::Up => "up",
        Status::Down => "down",
    };
    parsed.set_query(Some(&format!(
        "status={status}&msg={}&ping=",
        percent_encode(message)
    )));
    // reqwest is built without a default crypto provider; ring is ours.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    // reqwest's errors quote the URL, token included: only its kind is kept.
    let response = client.get(parsed).send().await.map_err(|e| {
        fail(if e.is_timeout() {
            format!("no answer within {}s", TIMEOUT.as_secs())
        } else if e.is_connect() {
            "cannot connect".to_string()
        } else {
            "the request failed".to_string()
        })
    })?;
    let code = response.status();
    let body = response.text().await.unwrap_or_default();
    // Uptime Kuma answers an unknown or paused monitor with `"ok":false`.
    let refused = body.replace(' ', "").contains("\"ok\":false");
    if !code.is_success() || refused {
        return Err(fail(format!(
            "the monitor answered {code}: is the push monitor active?"
        )));
    }
    Ok(())
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

//! The fence webhook: every enter/exit/cross event is POSTed as JSON to a configured URL, in
//! the background. The intake hands events over without waiting (a bounded queue; when it is
//! full the event is dropped with a warning — it is stored and on the stream anyway), and a
//! failed delivery is retried with exponential backoff (0.5 s, 1 s, 2 s … up to
//! [`MAX_ATTEMPTS`]). A webhook that is down therefore never slows intake.
//!
//! Plain `http://` only: a relay on the centre's own network. The request is written by hand
//! (one POST, `Connection: close`), which is all a webhook needs.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

pub const MAX_ATTEMPTS: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const TIMEOUT: Duration = Duration::from_secs(5);
const QUEUE: usize = 10_000;

/// Where the events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl Target {
    pub fn parse(url: &str) -> Result<Target, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("the webhook must be an http:// URL, got {url:?}"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| format!("bad port in webhook URL {url:?}"))?,
            ),
            None => (authority, 80),
        };
        if host.is_empty() {
            return Err(format!("no host in webhook URL {url:?}"));
        }
        Ok(Target {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

/// The sending side, cheap to clone.
#[derive(Debug, Clone)]
pub struct Webhook {
    queue: mpsc::Sender<String>,
}

impl Webhook {
    /// Starts the delivery task on the current runtime.
    pub fn start(target: Target) -> Webhook {
        let (queue, mut incoming) = mpsc::channel::<String>(QUEUE);
        tokio::spawn(async move {
            while let Some(body) = incoming.recv().await {
                deliver(&target, &body).await;
            }
        });
        Webhook { queue }
    }

    /// Queues one JSON body; never waits.
    pub fn send(&self, body: String) {
        if self.queue.try_send(body).is_err() {
            tracing::warn!(
                "fence webhook queue full or closed: an event was not delivered (it is stored)"
            );
        }
    }
}

async fn deliver(target: &Target, body: &str) {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=MAX_ATTEMPTS {
        match tokio::time::timeout(TIMEOUT, post(target, body)).await {
            Ok(Ok(status)) if (200..300).contains(&status) => return,
            Ok(Ok(status)) => tracing::warn!(attempt, status, "fence webhook refused an event"),
            Ok(Err(e)) => tracing::warn!(attempt, "fence webhook unreachable: {e}"),
            Err(_) => tracing::warn!(attempt, "fence webhook timed out"),
        }
        if attempt < MAX_ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    tracing::error!("fence webhook: gave up on an event after {MAX_ATTEMPTS} attempts");
}

/// One POST; the response's status code.
async fn post(target: &Target, body: &str) -> std::io::Result<u16> {
    let mut stream = tokio::net::TcpStream::connect((target.host.as_str(), target.port)).await?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: gridlink\r\n\r\n",
        target.path,
        target.host,
        target.port,
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.flush().await?;
    let mut buf = [0u8; 64];
    let mut got = 0;
    while got < 12 {
        let n = stream.read(&mut buf[got..]).await?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let line = std::str::from_utf8(&buf[..got]).unwrap_or("");
    line.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("not an HTTP response: {line:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Target::parse("http://127.0.0.1:9000/hook").unwrap(),
            Target {
                host: "127.0.0.1".into(),
                port: 9000,
                path: "/hook".into()
            }
        );
        assert_eq!(Target::parse("http://relay").unwrap().port, 80);
        assert!(Target::parse("https://x/").is_err());
    }
}

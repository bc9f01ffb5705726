//! `gridlink replay FILE --url URL --key KEY [--speed N | --as-fast-as-possible] [--retime]`:
//! replays a recorded CSV of station readings (`station,time,kind,value`) into a running
//! server through `POST /api/feeds/readings`, so a past storm can be rehearsed on the live map
//! and alert chain.
//!
//! Readings are sent in time order, one request per timestamp (readings stamped alike travel
//! together, as a station network delivers them; `--batch-max` splits very large ones). Time
//! runs `--speed` times faster than recorded (12 hours at `--speed 720` take a minute), or
//! not at all with `--as-fast-as-possible`.
//!
//! `--retime` shifts every reading by one constant so that the recording's *last* reading is
//! stamped with the moment the replay will end (now + recorded span ÷ speed; now, when as fast
//! as possible). The spacing of the readings is kept, every reading is in the past when it is
//! sent — so the server's future-time check passes at any speed — and the map's "latest"
//! values look current when the replay finishes. Without `--retime` the recorded times are sent
//! unchanged (a recording from the future is refused row by row).
//!
//! Ingestion is idempotent, so a failed request is simply retried (3 tries) and a whole replay
//! can be run again: the second run stores nothing and raises no alerts.
//!
//! The client is a small HTTP/1.1 client over one kept-alive TCP connection (plain `http://`:
//! replays run inside the centre's network or on the server itself; put a TLS proxy's plain
//! side in `--url` otherwise).

use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The recording: CSV `station,time,kind,value` (RFC 3339 times), header optional.
    pub file: PathBuf,
    /// The server to replay into.
    #[arg(long, env = "GRIDLINK_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A staff API key (`gridlink keys create --role dispatcher`).
    #[arg(long, env = "GRIDLINK_KEY")]
    pub key: String,
    /// Time compression: recorded seconds per replayed second.
    #[arg(long, default_value_t = 60.0, conflicts_with = "as_fast_as_possible")]
    pub speed: f64,
    /// Send every batch as soon as the previous one is answered.
    #[arg(long)]
    pub as_fast_as_possible: bool,
    /// Shift the recording so its last reading is stamped with the time the replay ends.
    #[arg(long)]
    pub retime: bool,
    /// Most readings per request (a timestamp with more is split).
    #[arg(long, default_value_t = 10_000)]
    pub batch_max: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("{0}: nothing to replay")]
    Empty(PathBuf),
    #[error("--url {url:?}: {message}")]
    Url { url: String, message: String },
    #[error("{0} must be a positive number")]
    Option(&'static str),
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("talking to the server: {0}")]
    Io(#[from] std::io::Error),
    #[error("the server answered {status}: {body}")]
    Http { status: u16, body: String },
    #[error("unexpected answer from the server: {0}")]
    BadResponse(String),
    #[error("no answer from the server within {0} s")]
    Timeout(u64),
}

/// One recorded reading. `time` is kept as written so a replay without `--retime` sends
/// exactly what was recorded (offsets included).
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub station: String,
    pub time_text: String,
    pub time: i64,
    pub kind: String,
    pub value: String,
}

/// A recording, in time order (stable: rows of one time keep their file order).
#[derive(Debug, Clone, Default)]
pub struct Recording {
    pub rows: Vec<Recorded>,
    /// Rows that cannot be placed in time: (CSV line, why). Reported, not sent.
    pub skipped: Vec<(u64, String)>,
}

impl Recording {
    pub fn parse(text: &str) -> Recording {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut out = Recording::default();
        let mut order = [0usize, 1, 2, 3];
        let mut first = true;
        for record in reader.records() {
            let record = match record {
                Ok(r) => r,
                Err(e) => {
                    let line = e.position().map_or(0, |p| p.line());
                    out.skipped.push((line, format!("unreadable CSV: {e}")));
                    continue;
                }
            };
            let line = record.position().map_or(0, |p| p.line());
            if std::mem::take(&mut first) && crate::feeds::reading::is_header(&record) {
                let names: Vec<String> = record
                    .iter()
                    .map(|f| f.trim_start_matches('\u{feff}').to_ascii_lowercase())
                    .collect();
                for (slot, column) in ["station", "time", "kind", "value"].iter().enumerate() {
                    match names.iter().position(|n| n == column) {
                        Some(at) => order[slot] = at,
                        None => {
                            out.skipped
                                .push((line, format!("the header has no column {column:?}")));
                            return out;
                        }
                    }
                }
                continue;
            }
            let field = |slot: usize| record.get(order[slot]).unwrap_or("").to_string();
            let time_text = field(1);
            let Some(time) = crate::feeds::reading::parse_time(&time_text) else {
                out.skipped.push((
                    line,
                    format!("time {time_text:?} is not RFC 3339 with an offset"),
                ));
                continue;
            };
            out.rows.push(Recorded {
                station: field(0),
                time_text,
                time,
                kind: field(2),
                value: field(3),
            });
        }
        out.rows.sort_by_key(|r| r.time);
        out
    }

    pub fn load(path: &Path) -> Result<Recording, ReplayError> {
        let text = std::fs::read_to_string(path).map_err(|e| ReplayError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        Ok(Recording::parse(&text))
    }

    /// Batches of readings stamped alike, at most `max` each, in time order.
    pub fn batches(&self, max: usize) -> Vec<&[Recorded]> {
        let max = max.max(1);
        let mut out = Vec::new();
        let mut start = 0;
        while start < self.rows.len() {
            let time = self.rows[start].time;
            let mut end = start;
            while end < self.rows.len() && self.rows[end].time == time && end - start < max {
                end += 1;
            }
            out.push(&self.rows[start..end]);
            start = end;
        }
        out
    }

    /// The recorded span (first to last reading), ms.
    pub fn span_ms(&self) -> i64 {
        match (self.rows.first(), self.rows.last()) {
            (Some(a), Some(b)) => b.time - a.time,
            _ => 0,
        }
    }
}

/// How to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Recorded seconds per replayed second; `None` = as fast as possible.
    pub speed: Option<f64>,
    pub retime: bool,
    pub batch_max: usize,
}

/// The constant (whole seconds, in ms) `--retime` adds to every reading: the last reading lands
/// at `now` + the replay's duration, so each reading is at or before the moment it is sent.
pub fn retime_offset(first: i64, last: i64, speed: Option<f64>, now: i64) -> i64 {
    let duration = match speed {
        Some(s) if s > 0.0 => ((last - first) as f64 / s) as i64,
        _ => 0,
    };
    let offset = now + duration - last;
    offset.div_euclid(1000) * 1000
}

/// What the server said about one batch.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct BatchAnswer {
    pub accepted: u64,
    pub duplicates: u64,
    #[serde(default)]
    pub rejected: Vec<serde_json::Value>,
    #[serde(default)]
    pub alerts: Vec<serde_json::Value>,
    #[serde(default)]
    pub ended: u64,
}

/// One sent batch.
#[derive(Debug, Clone)]
pub struct BatchReport {
    /// The time the readings were sent with (RFC 3339 as sent).
    pub time: String,
    pub readings: usize,
    pub answer: BatchAnswer,
}

#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub batches: usize,
    pub sent: usize,
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: usize,
    pub alerts: Vec<serde_json::Value>,
    pub ended: u64,
    pub skipped: usize,
    pub elapsed: Duration,
}

/// A plain-HTTP/1.1 client on one kept-alive connection, enough to post batches.
#[derive(Debug)]
pub struct HttpClient {
    addr: String,
    host_header: String,
    base_path: String,
    key: String,
    conn: Option<BufReader<TcpStream>>,
    pub timeout: Duration,
}

impl HttpClient {
    pub fn new(url: &str, key: &str) -> Result<HttpClient, ReplayError> {
        let bad = |message: &str| ReplayError::Url {
            url: url.to_string(),
            message: message.to_string(),
        };
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if url.starts_with("https://") {
            return Err(bad(
                "https is not supported: give the plain-HTTP address (the server itself, or a TLS proxy's inside)",
            ));
        } else {
            return Err(bad("must start with http://"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(bad("has no host"));
        }
        let has_port = match authority.rfind(':') {
            Some(i) => !authority[i..].contains(']'),
            None => false,
        };
        let addr = if has_port {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(HttpClient {
            addr,
            host_header: authority.to_string(),
            base_path: path.to_string(),
            key: key.to_string(),
            conn: None,
            timeout: Duration::from_secs(120),
        })
    }

    async fn connect(&mut self) -> Result<&mut BufReader<TcpStream>, ReplayError> {
        if self.conn.is_none() {
            let stream =
                TcpStream::connect(&self.addr)
                    .await
                    .map_err(|source| ReplayError::Connect {
                        addr: self.addr.clone(),
                        source,
                    })?;
            let _ = stream.set_nodelay(true);
            self.conn = Some(BufReader::new(stream));
        }
        self.conn
            .as_mut()
            .ok_or_else(|| ReplayError::BadResponse("no connection".into()))
    }

    /// POSTs `body`; the status and the response body. A kept-alive connection the server has
    /// closed meanwhile is reopened once.
    pub async fn post(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), ReplayError> {
        let reused = self.conn.is_some();
        match self.exchange(path, content_type, body).await {
            Err(ReplayError::Io(_)) if reused => {
                self.conn = None;
                self.exchange(path, content_type, body).await
            }
            other => other,
        }
    }

    async fn exchange(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), ReplayError> {
        let timeout = self.timeout;
        let result = tokio::time::timeout(timeout, self.exchange_inner(path, content_type, body))
            .await
            .unwrap_or(Err(ReplayError::Timeout(timeout.as_secs())));
        if result.is_err() {
            self.conn = None;
        }
        result
    }

    async fn exchange_inner(
        &mut self,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), ReplayError> {
        let head = format!(
            "POST {}{} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nAccept: application/json\r\nConnection: keep-alive\r\nUser-Agent: gridlink-replay\r\n\r\n",
            self.base_path,
            path,
            self.host_header,
            self.key,
            content_type,
            body.len()
        );
        let conn = self.connect().await?;
        conn.get_mut().write_all(head.as_bytes()).await?;
        conn.get_mut().write_all(body).await?;
        conn.get_mut().flush().await?;

        let mut line = String::new();
        if conn.read_line(&mut line).await? == 0 {
            return Err(ReplayError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            )));
        }
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ReplayError::BadResponse(format!("status line {line:?}")))?;
        let mut length: Option<usize> = None;
        let mut chunked = false;
        let mut close = false;
        loop {
            line.clear();
            if conn.read_line(&mut line).await? == 0 {
                return Err(ReplayError::BadResponse("headers cut short".into()));
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => {
                    length = Some(value.parse().map_err(|_| {
                        ReplayError::BadResponse(format!("content-length {value:?}"))
                    })?);
                }
                "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
        let mut out = Vec::new();
        if chunked {
            loop {
                line.clear();
                conn.read_line(&mut line).await?;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16)
                    .map_err(|_| ReplayError::BadResponse(format!("chunk size {line:?}")))?;
                if size == 0 {
                    // Trailers, then the blank line.
                    loop {
                        line.clear();
                        if conn.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = out.len();
                out.resize(start + size, 0);
                conn.read_exact(&mut out[start..]).await?;
                line.clear();
                conn.read_line(&mut line).await?;
            }
        } else if let Some(n) = length {
            out.resize(n, 0);
            conn.read_exact(&mut out).await?;
        } else {
            conn.read_to_end(&mut out).await?;
            close = true;
        }
        if close {
            self.conn = None;
        }
        Ok((status, out))
    }
}

fn csv_body(rows: &[Recorded], offset: Option<i64>) -> Result<(Vec<u8>, String), ReplayError> {
    let mut writer = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 48 + 32));
    let io = |e: csv::Error| ReplayError::BadResponse(format!("writing CSV: {e}"));
    writer
        .write_record(["station", "time", "kind", "value"])
        .map_err(io)?;
    let mut sent_time = String::new();
    for r in rows {
        let time = match offset {
            Some(off) => chrono::DateTime::from_timestamp_millis(r.time + off)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            None => r.time_text.clone(),
        };
        writer
            .write_record([
                r.station.as_str(),
                time.as_str(),
                r.kind.as_str(),
                r.value.as_str(),
            ])
            .map_err(io)?;
        if sent_time.is_empty() {
            sent_time = time;
        }
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| ReplayError::BadResponse(format!("writing CSV: {e}")))?;
    Ok((bytes, sent_time))
}

/// Tries a batch up to 3 times (safe: ingestion is idempotent); a 4xx is final at once.
async fn send_batch(client: &mut HttpClient, body: &[u8]) -> Result<BatchAnswer, ReplayError> {
    let mut last = None;
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_secs(attempt)).await;
        }
        match client.post("/api/feeds/readings", "text/csv", body).await {
            Ok((200, bytes)) => {
                return serde_json::from_slice(&bytes).map_err(|e| {
                    ReplayError::BadResponse(format!(
                        "{e}: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                    ))
                });
            }
            Ok((status, bytes)) => {
                let error = ReplayError::Http {
                    status,
                    body: String::from_utf8_lossy(&bytes[..bytes.len().min(2000)]).into_owned(),
                };
                if (400..500).contains(&status) {
                    return Err(error);
                }
                last = Some(error);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or(ReplayError::BadResponse("no attempt made".into())))
}

/// Replays `recording` through `client`; `progress` sees each batch as it is answered.
pub async fn replay(
    recording: &Recording,
    client: &mut HttpClient,
    options: Options,
    mut progress: impl FnMut(&BatchReport),
) -> Result<Summary, ReplayError> {
    if options.speed.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        return Err(ReplayError::Option("--speed"));
    }
    if options.batch_max == 0 {
        return Err(ReplayError::Option("--batch-max"));
    }
    let started = tokio::time::Instant::now();
    let (Some(first), Some(last)) = (recording.rows.first(), recording.rows.last()) else {
        return Ok(Summary {
            skipped: recording.skipped.len(),
            ..Summary::default()
        });
    };
    let (t0, t_last) = (first.time, last.time);
    let offset = options.retime.then(|| {
        retime_offset(
            t0,
            t_last,
            options.speed,
            chrono::Utc::now().timestamp_millis(),
        )
    });
    let mut summary = Summary {
        skipped: recording.skipped.len(),
        ..Summary::default()
    };
    for batch in recording.batches(options.batch_max) {
        if let Some(speed) = options.speed {
            let due =
                Duration::from_secs_f64(((batch[0].time - t0) as f64 / 1000.0 / speed).max(0.0));
            tokio::time::sleep_until(started + due).await;
        }
        let (body, time) = csv_body(batch, offset)?;
        let answer = send_batch(client, &body).await?;
        summary.batches += 1;
        summary.sent += batch.len();
        summary.accepted += answer.accepted;
        summary.duplicates += answer.duplicates;
        summary.rejected += answer.rejected.len();
        summary.ended += answer.ended;
        summary.alerts.extend(answer.alerts.iter().cloned());
        progress(&BatchReport {
            time,
            readings: batch.len(),
            answer,
        });
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

fn print_batch(report: &BatchReport) {
    let a = &report.answer;
    println!(
        "{}  {:>5} readings: {} new, {} duplicate, {} rejected",
        report.time,
        report.readings,
        a.accepted,
        a.duplicates,
        a.rejected.len()
    );
    for r in a.rejected.iter().take(5) {
        println!(
            "    rejected row {}: {} ({})",
            r["row"],
            r["message"].as_str().unwrap_or(""),
            r["reason"].as_str().unwrap_or("")
        );
    }
    if a.rejected.len() > 5 {
        println!("    … and {} more rejected", a.rejected.len() - 5);
    }
    for alert in &a.alerts {
        println!(
            "    ALERT {} {} {} {} = {} {} (threshold {}): {} flood-prone points, {} villages nearby",
            alert["level_name"].as_str().unwrap_or(""),
            alert["kind"].as_str().unwrap_or(""),
            alert["station"].as_str().unwrap_or(""),
            alert["station_name"].as_str().unwrap_or(""),
            alert["value"],
            alert["unit"].as_str().unwrap_or(""),
            alert["threshold"],
            alert["flood_points"].as_array().map_or(0, Vec::len),
            alert["villages"].as_array().map_or(0, Vec::len),
        );
    }
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let recording = Recording::load(&args.file)?;
    for (line, why) in recording.skipped.iter().take(20) {
        eprintln!("{}:{line}: skipped: {why}", args.file.display());
    }
    if recording.rows.is_empty() {
        return Err(ReplayError::Empty(args.file.clone()).into());
    }
    let options = Options {
        speed: (!args.as_fast_as_possible).then_some(args.speed),
        retime: args.retime,
        batch_max: args.batch_max,
    };
    let mut client = HttpClient::new(&args.url, &args.key)?;
    let batches = recording.batches(args.batch_max).len();
    let span_h = recording.span_ms() as f64 / 3_600_000.0;
    match options.speed {
        Some(s) => println!(
            "replaying {} readings in {batches} batches ({span_h:.1} h recorded) at {s}× ≈ {:.0} s{}",
            recording.rows.len(),
            recording.span_ms() as f64 / 1000.0 / s,
            if args.retime {
                ", retimed to end then"
            } else {
                ""
            }
        ),
        None => println!(
            "replaying {} readings in {batches} batches ({span_h:.1} h recorded) as fast as possible{}",
            recording.rows.len(),
            if args.retime {
                ", retimed to end now"
            } else {
                ""
            }
        ),
    }
    let runtime = tokio::runtime::Runtime::new()?;
    let summary = runtime.block_on(replay(&recording, &mut client, options, print_batch))?;
    let mut by_level = std::collections::BTreeMap::new();
    for a in &summary.alerts {
        *by_level
            .entry(a["level_name"].as_str().unwrap_or("?").to_string())
            .or_insert(0) += 1;
    }
    println!(
        "done in {:.1} s: {} batches, {} readings sent, {} new, {} duplicate, {} rejected, {} skipped; {} alerts raised {:?}, {} ended",
        summary.elapsed.as_secs_f64(),
        summary.batches,
        summary.sent,
        summary.accepted,
        summary.duplicates,
        summary.rejected,
        summary.skipped,
        summary.alerts.len(),
        by_level,
        summary.ended
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_batches_and_skips_bad_times() {
        let rec = Recording::parse(
            "station,time,kind,value\n\
             B,2026-09-15T08:15:00+08:00,rain_1h,2\n\
             A,2026-09-15T00:00:00Z,rain_1h,1\n\
             C,not a time,rain_1h,1\n\
             A,2026-09-15T00:15:00Z,rain_1h,3\n",
        );
        assert_eq!(rec.skipped.len(), 1);
        assert_eq!(rec.skipped[0].0, 4);
        let batches = rec.batches(10);
        assert_eq!(batches.len(), 2);
        assert_eq!(batches[0].len(), 1);
        assert_eq!(batches[1].len(), 2, "08:15+08:00 is 00:15Z");
        assert_eq!(batches[1][0].station, "B");
        assert_eq!(rec.batches(1).len(), 3);
        assert_eq!(rec.span_ms(), 15 * 60 * 1000);
    }

    #[test]
    fn retiming_ends_the_recording_when_the_replay_ends() {
        let hour = 3_600_000;
        let now = 1_800_000_000_000;
        // As fast as possible: the last reading is stamped now.
        assert_eq!(retime_offset(0, 12 * hour, None, now) + 12 * hour, now);
        // At 720×, 12 h take a minute: the last reading is stamped a minute from now, and the
        // reading at recorded time t is sent at now + t/720, after its stamp.
        let off = retime_offset(0, 12 * hour, Some(720.0), now);
        assert_eq!(off + 12 * hour, now + 60_000);
        for t in [0, hour, 6 * hour, 12 * hour] {
            assert!(t + off <= now + t / 720, "{t}");
        }
    }

    #[test]
    fn urls() {
        let c = HttpClient::new("http://127.0.0.1:8080", "k").expect("ok");
        assert_eq!(
            (c.addr.as_str(), c.base_path.as_str()),
            ("127.0.0.1:8080", "")
        );
        let c = HttpClient::new("http://example.org/gridlink/", "k").expect("ok");
        assert_eq!(
            (c.addr.as_str(), c.base_path.as_str()),
            ("example.org:80", "/gridlink")
        );
        let c = HttpClient::new("http://[::1]:9000", "k").expect("ok");
        assert_eq!(c.addr, "[::1]:9000");
        let c = HttpClient::new("http://[::1]", "k").expect("ok");
        assert_eq!(c.addr, "[::1]:80");
        assert!(HttpClient::new("https://example.org", "k").is_err());
        assert!(HttpClient::new("example.org", "k").is_err());
    }
}

//! The linkage network's two figures: a sub-centre's queue page with 100,000 cases in the
//! database, and the appraisal of a year of 500,000 cases over the demo's units.
//!
//! `cargo bench --bench network` (SQLite in a temp dir; with `GRIDLINK_BENCH_DATABASE` a
//! PostgreSQL database too, in a schema of its own, dropped after). Environment:
//! `GRIDLINK_BENCH_QUEUE_CASES` (100,000), `GRIDLINK_BENCH_APPRAISAL_CASES` (500,000),
//! `GRIDLINK_BENCH_PAGES` (500 queue pages timed), `GRIDLINK_BENCH_UPLOADS` (20 uploads timed),
//! `GRIDLINK_BENCH_ONLY` (`queue`, `appraisal` or `upload`: run only that part).
//!
//! - Upload: the real server (`router`, SQLite, the local photo store) on a loopback port; a
//!   reporter's `POST /api/cases` as multipart with one 5 MB phone photo (4000 × 3000 JPEG,
//!   each request a different photo), sent over a fresh TCP connection and timed to the last
//!   byte of the answer → median and max. Baseline in the same run: the same request without
//!   the photo. Target ≤ 200 ms.
//!
//! - Queue: the cases spread over the 12 sub-centres' queues and the district's (about 1 in
//!   13 each); `GET /api/cases?queue=town:…`'s query (`CaseStore::list`, a page of 100 and the
//!   total) timed `PAGES` times → p50 / p99. Baseline in the same run: the same page of the
//!   whole district's list (no queue, as before the network). Target p99 ≤ 50 ms.
//! - Appraisal: every case reported, filed, dispatched to one of the units (round robin),
//!   started, handled (one in ten late), verified, closed, one in five called back; a
//!   supervision order on one in fifty (the cases through the store's batched insert, the
//!   histories by SQL, progress printed). The full appraisal (units with categories and ranks,
//!   sub-centres) over the year, timed 3 times → best: `CaseService::appraisal` (the database
//!   sums the steps, migration 0009). Baselines in the same run: the appraisal as it was, every
//!   event of the year read and appraised in Rust (`appraisal_from_events`, which must give the
//!   same figures), and reading the events alone (`events_between`). Target ≤ 2 s.

use gridlink::cases::model::NewCase;
use gridlink::cases::{Actor, CaseFilter, CaseService, Clock, Status};
use gridlink::catalog::Role as LayerRole;
use gridlink::db::{Db, Pool};
use gridlink::spatial::SharedStore;
use std::time::{Duration, Instant};

mod common;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const YEAR_MS: i64 = 365 * 86_400_000;
const START: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|s| s.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `n` new cases over the year, spread over the towns' queues (and the district's) and units.
fn new_cases(n: usize, towns: &[String], units: &[String]) -> Vec<NewCase> {
    let actor = Actor::anonymous();
    (0..n)
        .map(|i| {
            let q = i % (towns.len() + 1);
            let town = towns[i % towns.len()].clone();
            let queue = if q == towns.len() {
                "district".to_string()
            } else {
                format!("town:{}", towns[q])
            };
            NewCase {
                class: "C0101".into(),
                urgency: "normal".into(),
                channel: "web".into(),
                description: format!("基准案件 {i}"),
                photos: Vec::new(),
                address: None,
                reporter: None,
                lon: 121.45 + (i % 1000) as f64 * 1e-4,
                lat: 30.90 + (i / 1000 % 1000) as f64 * 1e-4,
                cell: None,
                village: None,
                town: Some(town),
                ambiguous: false,
                unit: Some(units[i % units.len()].clone()),
                unit_basis: Some("jurisdiction".into()),
                reported_at: START + (i as i64 * (YEAR_MS - 30 * 86_400_000) / n as i64),
                actor: actor.clone(),
                public_report: false,
                track_hash: None,
                uploads: Vec::new(),
                client_id: None,
                queue,
                command: Some("urban".into()),
            }
        })
        .collect()
}

/// Stores the cases through the store's batched insert (the intake's), showing progress.
async fn fill(service: &CaseService, cases: Vec<NewCase>) {
    let t = Instant::now();
    let total = cases.len();
    for (i, chunk) in cases.chunks(512).enumerate() {
        service
            .store
            .insert_cases(chunk)
            .await
            .expect("cases stored");
        let done = (i + 1) * 512;
        if done % 51_200 == 0 {
            println!(
                "  … {done} / {total} cases in {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }
    }
}

/// The rest of each case's history, written by SQL from the cases themselves (as the server
/// writes it: `data` and the appraisal's columns of migration 0009).
async fn histories(db: &Db) {
    // (action, from, to, hours after the report, the data's extra JSON members, the appraisal
    // columns `since, on_time, reached, satisfied`, which cases)
    let steps: [(&str, &str, &str, i64, &str, &str, &str); 7] = [
        (
            "file",
            "reported",
            "filed",
            1,
            "'\"reported_at\":' || reported_at",
            "reported_at, NULL, NULL, NULL",
            "1 = 1",
        ),
        (
            "dispatch",
            "filed",
            "dispatched",
            2,
            "'\"deadline\":' || (reported_at + 26 * 3600000)",
            "reported_at + 3600000, NULL, NULL, NULL",
            "1 = 1",
        ),
        (
            "start",
            "dispatched",
            "in_progress",
            4,
            "'\"x\":0'",
            "NULL, NULL, NULL, NULL",
            "1 = 1",
        ),
        (
            "feedback",
            "in_progress",
            "handled",
            20,
            "'\"on_time\":' || CASE WHEN id % 10 = 0 THEN 'false' ELSE 'true' END || ',\"dispatched_at\":' || (reported_at + 7200000)",
            "reported_at + 7200000, id % 10 <> 0, NULL, NULL",
            "1 = 1",
        ),
        (
            "verify_ok",
            "handled",
            "verifying",
            22,
            "'\"x\":0'",
            "NULL, NULL, NULL, NULL",
            "1 = 1",
        ),
        (
            "callback",
            "verifying",
            "verifying",
            23,
            "'\"reached\":true,\"satisfaction\":\"' || CASE WHEN id % 3 = 0 THEN 'unsatisfied' ELSE 'satisfied' END || '\"'",
            "NULL, NULL, 1 = 1, id % 3 <> 0",
            "id % 5 = 0",
        ),
        (
            "close",
            "verifying",
            "closed",
            24,
            "'\"x\":0'",
            "NULL, NULL, NULL, NULL",
            "1 = 1",
        ),
    ];
    for (action, from, to, hours, extra, columns, which) in steps {
        let t = Instant::now();
        let sql = format!(
            "INSERT INTO case_events (case_id, action, from_status, to_status, actor, role, unit, at, note, photos, data, case_unit, case_town, since, on_time, reached, satisfied) \
             SELECT id, '{action}', '{from}', '{to}', 'bench', 'dispatcher', NULL, reported_at + {hours} * 3600000, NULL, '[]', \
             '{{\"case_unit\":\"' || unit || '\",\"case_town\":\"' || town || '\",' || {extra} || '}}', unit, town, {columns} FROM cases WHERE {which}"
        );
        let rows = match db.pool() {
            Pool::Sqlite(p) => sqlx::query(&sql)
                .execute(p)
                .await
                .expect("events")
                .rows_affected(),
            Pool::Postgres(p) => sqlx::query(&sql)
                .execute(p)
                .await
                .expect("events")
                .rows_affected(),
        };
        println!(
            "  … {rows} {action} events in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    let orders = "INSERT INTO supervision_orders (case_id, issuer, issued_by, target, requirement, due_at, status, reply, replied_by, replied_at, created_at) \
        SELECT id, 'district', 'bench', 'unit:' || unit, '尽快处置', reported_at + 10 * 3600000, 'replied', '已处置', 'bench', reported_at + 9 * 3600000, reported_at + 3 * 3600000 FROM cases WHERE id % 50 = 0";
    match db.pool() {
        Pool::Sqlite(p) => {
            sqlx::query(orders).execute(p).await.expect("orders");
        }
        Pool::Postgres(p) => {
            sqlx::query(orders).execute(p).await.expect("orders");
        }
    }
}

async fn open(backend: &str, url: Option<&str>, dir: &std::path::Path, tag: &str) -> Db {
    match backend {
        "sqlite" => Db::connect_sqlite(&dir.join(format!("{tag}.sqlite")))
            .await
            .expect("sqlite"),
        _ => {
            let schema = format!("gridlink_bench_network_{tag}");
            let url = url.expect("url");
            let pool = sqlx::PgPool::connect(url).await.expect("postgres");
            sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .execute(&pool)
                .await
                .expect("drop");
            Db::connect_postgres_schema(url, &schema)
                .await
                .expect("schema")
        }
    }
}

async fn drop_schema(url: Option<&str>, tag: &str) {
    if let Some(url) = url
        && let Ok(pool) = sqlx::PgPool::connect(url).await
    {
        let _ = sqlx::query(&format!(
            "DROP SCHEMA IF EXISTS gridlink_bench_network_{tag} CASCADE"
        ))
        .execute(&pool)
        .await;
    }
}

/// Queue pages: `GET /api/cases?queue=town:…`'s query on a database of `n` cases of which 7 in
/// 8 are closed (a year's queue), the whole queue and its open cases (the web's default),
/// against the whole district's page.
async fn queue_pages(
    backend: &str,
    pg: Option<&str>,
    dir: &std::path::Path,
    n: usize,
    pages: usize,
    towns: &[String],
    units: &[String],
) {
    let db = open(backend, pg, dir, "queue").await;
    let service = CaseService::start(db.clone(), Clock::fixed(START + YEAR_MS))
        .await
        .expect("service");
    let t = Instant::now();
    fill(&service, new_cases(n, towns, units)).await;
    let closed = "UPDATE cases SET status = 'closed' WHERE id % 8 <> 0";
    match db.pool() {
        Pool::Sqlite(p) => {
            sqlx::query(closed).execute(p).await.expect("closed");
        }
        Pool::Postgres(p) => {
            sqlx::query(closed).execute(p).await.expect("closed");
            sqlx::query("VACUUM ANALYZE cases")
                .execute(p)
                .await
                .expect("vacuum");
        }
    }
    println!(
        "{backend}: {n} cases stored in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let open_statuses: Vec<Status> = Status::ALL.into_iter().filter(|s| s.is_open()).collect();
    let time_pages = |queue: Option<String>, statuses: Vec<Status>| {
        let service = service.clone();
        async move {
            let mut times = Vec::with_capacity(pages);
            for _ in 0..pages {
                let filter = CaseFilter {
                    queue: queue.clone(),
                    statuses: statuses.clone(),
                    limit: 100,
                    ..Default::default()
                };
                let t = Instant::now();
                let (page, total) = service.store.list(&filter).await.expect("list");
                times.push(t.elapsed());
                assert_eq!(page.len(), 100);
                assert!(total > 0);
            }
            times.sort();
            times
        }
    };
    let baseline = time_pages(None, Vec::new()).await;
    let queue = Some(format!("town:{}", towns[0]));
    for (what, statuses) in [("all", Vec::new()), ("open", open_statuses)] {
        let times = time_pages(queue.clone(), statuses).await;
        println!(
            "{backend}: sub-centre queue page, {what} cases (100 of ~{} in the queue, {n} in the database): p50 {:.2} ms, p99 {:.2} ms (target ≤ 50 ms) | baseline whole-district page: p50 {:.2} ms, p99 {:.2} ms | ratio p99 {:.2}",
            n / (towns.len() + 1),
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.99)),
            ms(percentile(&baseline, 0.5)),
            ms(percentile(&baseline, 0.99)),
            ms(percentile(&times, 0.99)) / ms(percentile(&baseline, 0.99)),
        );
    }
    db.close().await;
    drop_schema(pg, "queue").await;
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` only builds it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let queue_cases = env_usize("GRIDLINK_BENCH_QUEUE_CASES", 100_000);
    let appraisal_cases = env_usize("GRIDLINK_BENCH_APPRAISAL_CASES", 500_000);
    let pages = env_usize("GRIDLINK_BENCH_PAGES", 500);
    let uploads = env_usize("GRIDLINK_BENCH_UPLOADS", 20);
    let only = std::env::var("GRIDLINK_BENCH_ONLY").ok();
    let wants = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let pg = std::env::var("GRIDLINK_BENCH_DATABASE").ok();
    let shared = SharedStore::new(common::store());
    let store = shared.snapshot();
    let towns: Vec<String> = {
        let layer = store.by_role(LayerRole::Town).expect("towns");
        (0..layer.len()).map(|i| layer.id(i).to_string()).collect()
    };
    let units: Vec<String> = [LayerRole::DistrictUnit, LayerRole::TownUnit]
        .into_iter()
        .filter_map(|r| store.by_role(r))
        .flat_map(|l| {
            (0..l.len())
                .map(|i| l.id(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    println!(
        "network bench: {} towns, {} units; queue {queue_cases} cases, appraisal {appraisal_cases} cases",
        towns.len(),
        units.len()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut backends = vec!["sqlite"];
    if pg.is_some() {
        backends.push("postgres");
    }
    runtime.block_on(async {
        for backend in backends {
            if wants("queue") {
                queue_pages(backend, pg.as_deref(), dir.path(), queue_cases, pages, &towns, &units)
                    .await;
            }
            if !wants("appraisal") {
                continue;
            }
            // Appraisal of a year.
            let db = open(backend, pg.as_deref(), dir.path(), "appraisal").await;
            let service = CaseService::start(db.clone(), Clock::fixed(START + YEAR_MS))
                .await
                .expect("service");
            let t = Instant::now();
            fill(&service, new_cases(appraisal_cases, &towns, &units)).await;
            histories(&db).await;
            println!(
                "{backend}: {appraisal_cases} cases with their histories stored in {:.1} s",
                t.elapsed().as_secs_f64()
            );
            if let Pool::Postgres(p) = db.pool() {
                // What autovacuum does after a bulk load (visibility map, statistics).
                sqlx::query("VACUUM ANALYZE case_events")
                    .execute(p)
                    .await
                    .expect("vacuum");
            }
            let mut read = Duration::MAX;
            let mut old = Duration::MAX;
            let mut full = Duration::MAX;
            let mut events = 0;
            for _ in 0..3 {
                let t = Instant::now();
                events = service
                    .store
                    .events_between(START, START + YEAR_MS)
                    .await
                    .expect("events")
                    .len();
                read = read.min(t.elapsed());
                let t = Instant::now();
                let reference = service
                    .appraisal_from_events(&store, START, START + YEAR_MS, None)
                    .await
                    .expect("appraisal from the events");
                old = old.min(t.elapsed());
                let t = Instant::now();
                let appraisal = service
                    .appraisal(&store, START, START + YEAR_MS, None)
                    .await
                    .expect("appraisal");
                full = full.min(t.elapsed());
                assert_eq!(appraisal.units.len(), units.len());
                assert_eq!(
                    appraisal.units.iter().map(|u| u.closed).sum::<u64>(),
                    appraisal_cases as u64
                );
                assert!(
                    appraisal == reference,
                    "the tallies give the reference's figures"
                );
            }
            println!(
                "{backend}: appraisal of a year ({appraisal_cases} cases, {events} events, {} units): {:.3} s (target ≤ 2 s) | baseline in this run: the events read and appraised in Rust (before) {:.2} s, reading the events alone {:.2} s | speed-up {:.1}×",
                units.len(),
                full.as_secs_f64(),
                old.as_secs_f64(),
                read.as_secs_f64(),
                old.as_secs_f64() / full.as_secs_f64()
            );
            db.close().await;
            drop_schema(pg.as_deref(), "appraisal").await;
        }
        if wants("upload") {
            upload(&shared, dir.path(), uploads).await;
        }
    });
}

/// A phone photo of about 5 MB: 4000 × 3000 (12 MP), a sky-to-street gradient with grain, as
/// JPEG at the first quality that stays within 5 MB.
fn phone_jpeg() -> Vec<u8> {
    let mut seed = 7u32;
    let image = image::RgbImage::from_fn(4000, 3000, |x, y| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let grain = (seed >> 27) as i32 - 16;
        let sky = y < 1200;
        let base = if sky {
            [120 + (y / 20) as i32, 160 + (y / 30) as i32, 220]
        } else {
            [90 + (x % 400 / 8) as i32, 85 + (y % 300 / 6) as i32, 80]
        };
        image::Rgb(base.map(|c| (c + grain).clamp(0, 255) as u8))
    });
    let mut best = Vec::new();
    for quality in [95, 92, 90, 88, 85, 80, 75] {
        let mut out = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
        image.write_with_encoder(encoder).expect("JPEG");
        best = out;
        if best.len() <= 5 * 1024 * 1024 {
            break;
        }
    }
    best
}

/// The photo made distinct by a comment segment after the start marker (a different hash, so
/// no request finds its photo already stored; still a valid JPEG).
fn distinct(photo: &[u8], n: usize) -> Vec<u8> {
    let text = format!("gridlink bench {n}");
    let len = (text.len() + 2) as u16;
    let mut out = Vec::with_capacity(photo.len() + text.len() + 4);
    out.extend_from_slice(&photo[..2]);
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(&photo[2..]);
    out
}

/// A reporter's `POST /api/cases` as multipart, with the photo if any.
fn report_request(key: &str, n: usize, photo: Option<&[u8]>) -> Vec<u8> {
    let boundary = "gridlink-bench-boundary";
    let mut body = Vec::new();
    for (name, value) in [
        ("class", "C0101".to_string()),
        ("lon", format!("{:.6}", 121.4602 + (n % 50) as f64 * 2e-4)),
        ("lat", format!("{:.6}", 30.9191 + (n / 50) as f64 * 2e-4)),
        ("description", format!("路面井盖破损，现场照片 {n}")),
        ("channel", "supervisor".to_string()),
    ] {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    if let Some(photo) = photo {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"photos\"; filename=\"IMG_{n:04}.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(photo);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let mut request = format!(
        "POST /api/cases HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    request
}

/// Sends one request over a fresh loopback connection; its time to the answer's last byte.
async fn send(addr: std::net::SocketAddr, request: &[u8]) -> Duration {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let t = Instant::now();
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer");
    let elapsed = t.elapsed();
    let head = String::from_utf8_lossy(&answer[..answer.len().min(200)]).to_string();
    assert!(head.starts_with("HTTP/1.1 201"), "{head}");
    elapsed
}

/// Uploads of a 5 MB photo through the real server on loopback, against the same report
/// without the photo.
async fn upload(shared: &SharedStore, dir: &std::path::Path, n: usize) {
    let db = Db::connect_sqlite(&dir.join("upload.sqlite"))
        .await
        .expect("sqlite");
    let service = CaseService::start(db.clone(), Clock::system())
        .await
        .expect("service");
    service.attach_photos(
        gridlink::photos::PhotoStore::local(&dir.join("photos")).expect("photo store"),
    );
    let key = gridlink::cases::keys::create(
        &db,
        gridlink::cases::Role::Supervisor,
        None,
        Some("bench"),
        START,
    )
    .await
    .expect("key")
    .secret;
    let tables = gridlink::catalog::CodeTables::load(&common::repo().join("data")).expect("tables");
    let mut state = gridlink::http::AppState::new(shared.clone(), tables);
    state.cases = Some(service);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("loopback port");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        axum::serve(listener, gridlink::http::router(state))
            .await
            .expect("serve")
    });
    let photo = phone_jpeg();
    println!(
        "upload: the photo is {:.2} MB (4000 × 3000 JPEG)",
        photo.len() as f64 / 1_048_576.0
    );
    // One of each first (connections, statements, the photo directory).
    send(addr, &report_request(&key, 0, None)).await;
    send(addr, &report_request(&key, 1, Some(&distinct(&photo, 1)))).await;
    let mut without = Vec::with_capacity(n);
    let mut with = Vec::with_capacity(n);
    for i in 0..n {
        without.push(send(addr, &report_request(&key, 2 + 2 * i, None)).await);
        let request = report_request(&key, 3 + 2 * i, Some(&distinct(&photo, 3 + 2 * i)));
        with.push(send(addr, &request).await);
    }
    without.sort();
    with.sort();
    println!(
        "upload: report with a {:.1} MB photo over loopback: median {:.1} ms, max {:.1} ms (target ≤ 200 ms) | baseline the same report without the photo: median {:.1} ms, max {:.1} ms | ratio median {:.1}",
        photo.len() as f64 / 1_048_576.0,
        ms(percentile(&with, 0.5)),
        ms(with[with.len() - 1]),
        ms(percentile(&without, 0.5)),
        ms(without[without.len() - 1]),
        ms(percentile(&with, 0.5)) / ms(percentile(&without, 0.5)),
    );
    db.close().await;
}

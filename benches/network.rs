//! The linkage network's two figures: a sub-centre's queue page with 100,000 cases in the
//! database, and the appraisal of a year of 500,000 cases over the demo's units.
//!
//! `cargo bench --bench network` (SQLite in a temp dir; with `GRIDLINK_BENCH_DATABASE` a
//! PostgreSQL database too, in a schema of its own, dropped after). Environment:
//! `GRIDLINK_BENCH_QUEUE_CASES` (100,000), `GRIDLINK_BENCH_APPRAISAL_CASES` (500,000),
//! `GRIDLINK_BENCH_PAGES` (500 queue pages timed).
//!
//! - Queue: the cases spread over the 12 sub-centres' queues and the district's (about 1 in
//!   13 each); `GET /api/cases?queue=town:…`'s query (`CaseStore::list`, a page of 100 and the
//!   total) timed `PAGES` times → p50 / p99. Baseline in the same run: the same page of the
//!   whole district's list (no queue, as before the network). Target p99 ≤ 50 ms.
//! - Appraisal: every case reported, filed, dispatched to one of the units (round robin),
//!   handled (one in ten late), closed, one in five called back; a supervision order on one in
//!   fifty. The full appraisal (units with categories and ranks, sub-centres) over the year,
//!   timed 3 times → best. Baseline in the same run: reading the year's events alone
//!   (`events_between`), the floor any appraisal from the log pays. Target ≤ 2 s.

use gridlink::cases::model::NewCase;
use gridlink::cases::{Actor, CaseFilter, CaseService, Clock};
use gridlink::catalog::Role as LayerRole;
use gridlink::db::{Db, Pool};
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

async fn fill(service: &CaseService, cases: Vec<NewCase>) {
    for chunk in cases.chunks(512) {
        service
            .store
            .insert_cases(chunk)
            .await
            .expect("cases stored");
    }
}

/// The rest of each case's history, written by SQL from the cases themselves.
async fn histories(db: &Db) {
    // (action, from, to, hours after the report, the data's extra JSON members, which cases)
    let steps: [(&str, &str, &str, i64, &str, &str); 6] = [
        (
            "file",
            "reported",
            "filed",
            1,
            "'\"reported_at\":' || reported_at",
            "1 = 1",
        ),
        (
            "dispatch",
            "filed",
            "dispatched",
            2,
            "'\"deadline\":' || (reported_at + 26 * 3600000)",
            "1 = 1",
        ),
        (
            "feedback",
            "dispatched",
            "handled",
            20,
            "'\"on_time\":' || CASE WHEN id % 10 = 0 THEN 'false' ELSE 'true' END || ',\"dispatched_at\":' || (reported_at + 7200000)",
            "1 = 1",
        ),
        (
            "verify_ok",
            "handled",
            "verifying",
            22,
            "'\"x\":0'",
            "1 = 1",
        ),
        (
            "callback",
            "verifying",
            "verifying",
            23,
            "'\"reached\":true,\"satisfaction\":\"' || CASE WHEN id % 3 = 0 THEN 'unsatisfied' ELSE 'satisfied' END || '\"'",
            "id % 5 = 0",
        ),
        ("close", "verifying", "closed", 24, "'\"x\":0'", "1 = 1"),
    ];
    for (action, from, to, hours, extra, which) in steps {
        let sql = format!(
            "INSERT INTO case_events (case_id, action, from_status, to_status, actor, role, unit, at, note, photos, data) \
             SELECT id, '{action}', '{from}', '{to}', 'bench', 'dispatcher', NULL, reported_at + {hours} * 3600000, NULL, '[]', \
             '{{\"case_unit\":\"' || unit || '\",\"case_town\":\"' || town || '\",' || {extra} || '}}' FROM cases WHERE {which}"
        );
        match db.pool() {
            Pool::Sqlite(p) => {
                sqlx::query(&sql).execute(p).await.expect("events");
            }
            Pool::Postgres(p) => {
                sqlx::query(&sql).execute(p).await.expect("events");
            }
        }
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

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` only builds it.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let queue_cases = env_usize("GRIDLINK_BENCH_QUEUE_CASES", 100_000);
    let appraisal_cases = env_usize("GRIDLINK_BENCH_APPRAISAL_CASES", 500_000);
    let pages = env_usize("GRIDLINK_BENCH_PAGES", 500);
    let pg = std::env::var("GRIDLINK_BENCH_DATABASE").ok();
    let store = common::store();
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
            // Queue pages.
            let db = open(backend, pg.as_deref(), dir.path(), "queue").await;
            let service = CaseService::start(db.clone(), Clock::fixed(START + YEAR_MS))
                .await
                .expect("service");
            let t = Instant::now();
            fill(&service, new_cases(queue_cases, &towns, &units)).await;
            println!("{backend}: {queue_cases} cases stored in {:.1} s", t.elapsed().as_secs_f64());
            let time_pages = |queue: Option<String>| {
                let service = service.clone();
                async move {
                    let mut times = Vec::with_capacity(pages);
                    for _ in 0..pages {
                        let filter = CaseFilter {
                            queue: queue.clone(),
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
            let baseline = time_pages(None).await;
            let queue = time_pages(Some(format!("town:{}", towns[0]))).await;
            println!(
                "{backend}: sub-centre queue page (100 of ~{} cases): p50 {:.2} ms, p99 {:.2} ms (target ≤ 50 ms) | baseline whole-district page: p50 {:.2} ms, p99 {:.2} ms | ratio p99 {:.2}",
                queue_cases / (towns.len() + 1),
                ms(percentile(&queue, 0.5)),
                ms(percentile(&queue, 0.99)),
                ms(percentile(&baseline, 0.5)),
                ms(percentile(&baseline, 0.99)),
                ms(percentile(&queue, 0.99)) / ms(percentile(&baseline, 0.99)),
            );
            db.close().await;
            drop_schema(pg.as_deref(), "queue").await;

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
            let mut read = Duration::MAX;
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
            }
            println!(
                "{backend}: appraisal of a year ({appraisal_cases} cases, {events} events, {} units): {:.2} s (target ≤ 2 s) | baseline reading the events alone: {:.2} s | ratio {:.2}",
                units.len(),
                full.as_secs_f64(),
                read.as_secs_f64(),
                full.as_secs_f64() / read.as_secs_f64()
            );
            db.close().await;
            drop_schema(pg.as_deref(), "appraisal").await;
        }
    });
}

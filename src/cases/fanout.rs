//! Fan-out between gridlink servers sharing one PostgreSQL: each change is announced with
//! `NOTIFY gridlink_cases`, and every other server reloads the case and pushes it to its own
//! stream and case layer. (SQLite is one file for one server: nothing to fan out.)

use super::service::CaseService;
use super::store::CaseDb;
use serde::{Deserialize, Serialize};

pub const CHANNEL: &str = "gridlink_cases";

#[derive(Debug, Serialize, Deserialize)]
struct Notice {
    /// The announcing server, so it ignores its own notices.
    from: String,
    id: i64,
    kind: String,
}

/// Announces a change to the other servers (best effort: a lost notice only delays their
/// view until the case changes again or they restart).
pub fn announce(db: &CaseDb, instance: &str, id: i64, kind: &str) {
    let CaseDb::Postgres(pool) = db else { return };
    let pool = pool.clone();
    let payload = serde_json::to_string(&Notice {
        from: instance.to_string(),
        id,
        kind: kind.to_string(),
    })
    .unwrap_or_default();
    tokio::spawn(async move {
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(payload)
            .execute(&pool)
            .await
        {
            tracing::warn!("announcing case {id} to other servers failed: {e}");
        }
    });
}

/// Listens for other servers' changes for as long as the runtime lives (reconnecting).
pub fn listen(service: CaseService) {
    let CaseDb::Postgres(pool) = service.db.clone() else {
        return;
    };
    tokio::spawn(async move {
        loop {
            match sqlx::postgres::PgListener::connect_with(&pool).await {
                Ok(mut listener) => {
                    if let Err(e) = listener.listen(CHANNEL).await {
                        tracing::warn!("LISTEN {CHANNEL} failed: {e}");
                    } else {
                        service.mark_fanout_ready();
                        while let Ok(notification) = listener.recv().await {
                            let Ok(notice) = serde_json::from_str::<Notice>(notification.payload())
                            else {
                                continue;
                            };
                            if notice.from == service.instance() {
                                continue;
                            }
                            match service.db.get(notice.id).await {
                                Ok(case) => service.publish_local(&notice.kind, &case),
                                Err(e) => tracing::warn!(
                                    "case {} announced but unreadable: {e}",
                                    notice.id
                                ),
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!("cannot listen for other servers' changes: {e}"),
            }
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        }
    });
}

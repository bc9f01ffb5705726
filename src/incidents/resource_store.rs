//! The resource tables (`team_state`, `depot_stock`, `stock_moves` of
//! `migrations/*/0005_incidents.sql`): seeding from the register and reading the live state.
//! Bookings (team to task, stock to task) are in `store.rs`, in the transaction that records
//! them on the incident's timeline.

use super::error::{IncidentError, Result};
use super::resources::{Resources, Seed, TeamState, TeamStatus};
use crate::db::{Db, on_db};
use sqlx::Row;

/// Adds the register's teams and stock lines the database has not met; rows that exist keep
/// their live values (a layer reload never resets a booked team or a drawn stock line).
pub async fn seed(db: &Db, seed: &Seed, now: i64) -> Result<()> {
    const TEAM: &str = "INSERT INTO team_state (team, status, updated_at) VALUES (?, 'standby', ?) ON CONFLICT (team) DO NOTHING";
    const STOCK: &str = "INSERT INTO depot_stock (depot, item, quantity, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (depot, item) DO NOTHING";
    on_db!(db, |pool, sql| {
        let (team, stock) = (sql(TEAM), sql(STOCK));
        let mut tx = pool.begin().await?;
        for id in &seed.teams {
            sqlx::query(&team)
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        for (depot, item, n) in &seed.stock {
            sqlx::query(&stock)
                .bind(depot)
                .bind(item)
                .bind(n)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    })
}

/// Every team's state and stock line.
pub async fn read_all(db: &Db) -> Result<Resources> {
    const TEAMS: &str = "SELECT team, status, task, incident, updated_at FROM team_state";
    const STOCK: &str = "SELECT depot, item, quantity FROM depot_stock";
    on_db!(db, |pool, sql| {
        let mut out = Resources::default();
        for row in sqlx::query(&sql(TEAMS)).fetch_all(pool).await? {
            let status: String = row.try_get("status")?;
            out.teams.insert(
                row.try_get("team")?,
                TeamState {
                    status: TeamStatus::parse(&status)
                        .ok_or_else(|| IncidentError::Corrupt(format!("team status {status:?}")))?,
                    task: row.try_get("task")?,
                    incident: row.try_get("incident")?,
                    updated_at: row.try_get("updated_at")?,
                },
            );
        }
        for row in sqlx::query(&sql(STOCK)).fetch_all(pool).await? {
            out.stock
                .entry(row.try_get("depot")?)
                .or_default()
                .insert(row.try_get("item")?, row.try_get("quantity")?);
        }
        Ok(out)
    })
}

/// Sets a team's status by hand (a team back at base stands by again, releasing its task).
pub async fn set_team_status(db: &Db, team: &str, status: TeamStatus, now: i64) -> Result<()> {
    const UPDATE: &str = "UPDATE team_state SET status = ?, task = CASE WHEN ? = 'standby' THEN NULL ELSE task END, incident = CASE WHEN ? = 'standby' THEN NULL ELSE incident END, updated_at = ? WHERE team = ?";
    on_db!(db, |pool, sql| {
        let done = sqlx::query(&sql(UPDATE))
            .bind(status.as_str())
            .bind(status.as_str())
            .bind(status.as_str())
            .bind(now)
            .bind(team)
            .execute(pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(IncidentError::UnknownTeam(team.to_string()));
        }
        Ok(())
    })
}

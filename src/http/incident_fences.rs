//! Incident areas as fences: while an incident is proposed or active, its area (a drawn
//! polygon, a leak's zones) is the fence `incident/{id}`, so teams and inspectors entering or
//! leaving it raise enter/exit events like any fence; when the area changes the fence follows,
//! and when the incident is closed or dismissed the fence goes.
//!
//! The wiring lives here, on floor 2, because it joins two rooms that stand beside each other
//! on floor 3 (`incidents` and `field`) and may not use one another: this follower reads the
//! incident stream and calls [`FieldService::put_fence`] / `remove_fence`. It runs on every
//! server, and both calls are idempotent, so servers sharing a database agree; an incident
//! changed on another server reaches this one's stream (and so this follower) by NOTIFY.
//! Following is asynchronous: a fix that arrives in the instant between the incident's answer
//! and the fence's arrival raises its enter on the worker's next fix (as for any fence posted
//! around a worker).

use super::AppState;
use crate::db::Db;
use crate::field::{FieldService, NewFence};
use crate::incidents::generate::area_polygons;
use crate::incidents::{Incident, IncidentEvent, IncidentService, IncidentStatus};
use tokio::sync::broadcast::error::RecvError;

/// The fence id of an incident's area.
pub fn fence_id(incident: i64) -> String {
    format!("{PREFIX}{incident}")
}

const PREFIX: &str = "incident/";
/// Who the fence table names as the fence's author.
const ACTOR: &str = "incidents";
/// Most open incidents read when catching up (more open incidents than this at once would be
/// a different district).
const CATCH_UP_LIMIT: i64 = 10_000;

/// Starts following the incidents for the server's field service, when the server has both
/// (a database). Call once per server, inside the runtime (`gridlink serve` does; tests that
/// want incident fences do).
pub fn follow(state: &AppState) {
    let (Some(field), Some(cases)) = (state.field.clone(), state.cases.as_ref()) else {
        return;
    };
    let incidents = state.incidents.clone();
    let (db, clock) = (cases.db.clone(), cases.clock.clone());
    let (store, tables) = (state.store.clone(), state.tables.clone());
    // Subscribe before catching up, so nothing changed meanwhile is missed.
    let mut heard = incidents.subscribe();
    tokio::spawn(async move {
        // Loaded, the incident room also hears the other servers' changes (NOTIFY).
        if let Err(e) = incidents
            .load(&db, &store.snapshot(), &tables.plans, clock.now())
            .await
        {
            tracing::warn!("incident fences: the incident room did not load: {e}");
        }
        catch_up(&field, &incidents, &db).await;
        loop {
            match heard.recv().await {
                Ok(IncidentEvent::Incident { incident, .. }) => sync(&field, &incident).await,
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => catch_up(&field, &incidents, &db).await,
                Err(RecvError::Closed) => return,
            }
        }
    });
}

/// Makes the fences match the open incidents: each open incident's area is its fence, and no
/// `incident/…` fence is left for an incident that is not open.
pub async fn catch_up(field: &FieldService, incidents: &IncidentService, db: &Db) {
    let open = match incidents
        .list(
            db,
            &[IncidentStatus::Proposed, IncidentStatus::Active],
            CATCH_UP_LIMIT,
        )
        .await
    {
        Ok(open) => open,
        Err(e) => {
            tracing::warn!("incident fences: reading the open incidents failed: {e}");
            return;
        }
    };
    let wanted: std::collections::HashSet<String> = open
        .iter()
        .filter(|i| area_polygons(i).is_some_and(|m| !m.0.is_empty()))
        .map(|i| fence_id(i.id))
        .collect();
    for incident in &open {
        sync(field, incident).await;
    }
    for fence in field.posted_fences() {
        if fence.id.starts_with(PREFIX) && !wanted.contains(&*fence.id) {
            remove(field, &fence.id).await;
        }
    }
}

/// One incident's fence after a change of the incident.
pub async fn sync(field: &FieldService, incident: &Incident) {
    let id = fence_id(incident.id);
    let open = matches!(
        incident.status,
        IncidentStatus::Proposed | IncidentStatus::Active
    );
    let shape = area_polygons(incident).filter(|m| !m.0.is_empty());
    let Some(shape) = shape.filter(|_| open) else {
        if field.fences().get(&id).is_some() {
            remove(field, &id).await;
        }
        return;
    };
    let fence = NewFence {
        id: Some(id.clone()),
        name: incident.title.clone(),
        kind: "incident".to_string(),
        geometry: geo::Geometry::MultiPolygon(shape),
    };
    match field.put_fence(fence, ACTOR).await {
        Ok(true) => tracing::info!(fence = %id, "incident area set as a fence"),
        Ok(false) => {}
        Err(e) => tracing::warn!(fence = %id, "incident area not usable as a fence: {e}"),
    }
}

async fn remove(field: &FieldService, id: &str) {
    match field.remove_fence(id).await {
        Ok(()) => tracing::info!(fence = %id, "incident fence removed"),
        // Another server sharing the database removed it first.
        Err(crate::field::FieldError::UnknownFence(_)) => {}
        Err(e) => tracing::warn!(fence = %id, "removing the incident fence failed: {e}"),
    }
}

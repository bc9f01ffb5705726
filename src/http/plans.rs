//! The special command headquarters and their plans (read-only).
//!
//! - `GET /api/plans` — every headquarters with its office, levels and member count, and the
//!   team types and supply items tasks may ask for.
//! - `GET /api/plans/{id}` — one plan in full: members and town members with their duties,
//!   each response level with its triggers and standard tasks. Unit codes are resolved to the
//!   units' names from the unit layers, so the duty officer reads bodies, not codes.
//!
//! Staff only, like the leak-zone analysis: the plans name who does what in an emergency,
//! which is for the linkage units (and open on a closed network with `--expose-staff-layers`).

use super::auth::Caller;
use super::{ApiError, AppState};
use crate::catalog::{
    Category, LevelDef, Plan, Plans, ResponseLevel, Role, SupplyItem, TeamKind, TownMember,
};
use crate::spatial::{LayerStore, PropertyValue};
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

/// A unit as the plans show it: its code and, when the unit layers have it, name and type.
#[derive(Debug, Serialize)]
struct UnitRef {
    code: String,
    name: Option<String>,
    unit_type: Option<String>,
}

fn text(store: &LayerStore, role: Role, code: &str, field: &str) -> Option<String> {
    let layer = store.by_role(role)?;
    let i = layer.find(code)?;
    match layer.property(i, field) {
        Some(PropertyValue::Text(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn unit_ref(store: &LayerStore, code: &str) -> UnitRef {
    let lookup = |field: &str| {
        text(store, Role::DistrictUnit, code, field)
            .or_else(|| text(store, Role::TownUnit, code, field))
    };
    UnitRef {
        code: code.to_string(),
        name: lookup("name"),
        unit_type: lookup("unit_type"),
    }
}

#[derive(Debug, Serialize)]
struct PlanSummary<'a> {
    id: &'a str,
    name: &'a str,
    name_en: &'a str,
    plan_name: &'a str,
    category: Category,
    office: UnitRef,
    members: usize,
    levels: Vec<ResponseLevel>,
}

#[derive(Debug, Serialize)]
struct PlanList<'a> {
    demo: bool,
    note: &'a str,
    count: usize,
    plans: Vec<PlanSummary<'a>>,
    team_kinds: &'a [TeamKind],
    supplies: &'a [SupplyItem],
}

#[derive(Debug, Serialize)]
struct MemberView<'a> {
    unit: UnitRef,
    duties: &'a str,
}

#[derive(Debug, Serialize)]
struct LevelView<'a> {
    /// 一般 / 较大 / 重大 / 特别重大.
    name: &'static str,
    #[serde(flatten)]
    level: &'a LevelDef,
}

#[derive(Debug, Serialize)]
struct PlanDetail<'a> {
    demo: bool,
    id: &'a str,
    name: &'a str,
    name_en: &'a str,
    plan_name: &'a str,
    category: Category,
    commander: &'a str,
    office: UnitRef,
    basis: &'a str,
    members: Vec<MemberView<'a>>,
    town_members: &'a [TownMember],
    levels: Vec<LevelView<'a>>,
}

fn summary<'a>(store: &LayerStore, p: &'a Plan) -> PlanSummary<'a> {
    PlanSummary {
        id: &p.id,
        name: &p.name,
        name_en: &p.name_en,
        plan_name: &p.plan_name,
        category: p.category,
        office: unit_ref(store, &p.office),
        members: p.members.len(),
        levels: p.levels.iter().map(|l| l.level).collect(),
    }
}

fn detail<'a>(store: &LayerStore, plans: &Plans, p: &'a Plan) -> PlanDetail<'a> {
    PlanDetail {
        demo: plans.demo,
        id: &p.id,
        name: &p.name,
        name_en: &p.name_en,
        plan_name: &p.plan_name,
        category: p.category,
        commander: &p.commander,
        office: unit_ref(store, &p.office),
        basis: &p.basis,
        members: p
            .members
            .iter()
            .map(|m| MemberView {
                unit: unit_ref(store, &m.unit),
                duties: &m.duties,
            })
            .collect(),
        town_members: &p.town_members,
        levels: p
            .levels
            .iter()
            .map(|l| LevelView {
                name: l.level.name_zh(),
                level: l,
            })
            .collect(),
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Json<serde_json::Value>, ApiError> {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// `GET /api/plans`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require_staff_view()?;
    let store = state.store.snapshot();
    let plans = &state.tables.plans;
    to_json(&PlanList {
        demo: plans.demo,
        note: &plans.note,
        count: plans.plans.len(),
        plans: plans.plans.iter().map(|p| summary(&store, p)).collect(),
        team_kinds: &plans.team_kinds,
        supplies: &plans.supplies,
    })
}

/// `GET /api/plans/{id}`.
pub async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require_staff_view()?;
    let plans = &state.tables.plans;
    let p = plans.plan(&id).ok_or_else(|| {
        ApiError::not_found(
            "unknown_plan",
            format!("unknown plan {id:?} (see GET /api/plans)"),
        )
        .with_field("id")
    })?;
    let store = state.store.snapshot();
    to_json(&detail(&store, plans, p))
}

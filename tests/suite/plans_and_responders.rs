//! The special command headquarters table (`data/plans.toml`) and the chemicals' responder
//! records: what the shipped files hold, that their references resolve against the demo
//! layers, that the plans' triggers answer feed alerts and real leak zones as written, and that
//! both come out of the API.

use crate::common;

use axum::http::StatusCode;
use common::{demo_store, get_json_as, tables, tables_dir};
use gridlink::catalog::{
    CodeTables, Exposed, LeakExposure, ResponseLevel, Role, Signal, TaskTarget, Trigger,
};
use gridlink::services::Viewer;
use gridlink::services::hazmat::{Origin, Request, analyse};
use gridlink::spatial::PropertyValue;
use serde_json::Value;

#[test]
fn the_shipped_demo_set_has_23_headquarters_each_with_levels_iv_to_i() {
    let t = tables();
    let plans = &t.plans;
    assert!(plans.demo, "the set must say it is a demo set");
    assert_eq!(plans.plans.len(), 23);
    for p in &plans.plans {
        let levels: Vec<ResponseLevel> = p.levels.iter().map(|l| l.level).collect();
        assert_eq!(levels, ResponseLevel::ALL.to_vec(), "{}", p.id);
        assert!(!p.members.is_empty(), "{}", p.id);
        assert!(p.levels.iter().all(|l| !l.tasks.is_empty()), "{}", p.id);
    }
    // The headquarters the issue names are all there.
    for id in [
        "flood",
        "hazmat",
        "fire",
        "public_health",
        "power",
        "gas",
        "marine",
        "cyber",
    ] {
        assert!(plans.plan(id).is_some(), "{id}");
    }
}

#[test]
fn every_unit_code_and_team_type_the_plans_name_exists_in_the_demo_layers() {
    let t = tables();
    gridlink::cli::check_plans(&tables_dir(), &t, demo_store())
        .unwrap_or_else(|e| panic!("plans refer to units the demo data lacks: {e}"));
    let teams = demo_store().by_role(Role::Team).expect("teams layer");
    let kinds: std::collections::HashSet<&str> = (0..teams.len())
        .filter_map(|i| match teams.property(i, "kind") {
            Some(PropertyValue::Text(k)) => Some(k),
            _ => None,
        })
        .collect();
    assert_eq!(t.plans.missing_team_kinds(&kinds), Vec::<&str>::new());
    // And a plan naming a unit the layers lack is refused, naming the plan and field.
    let mut broken = t.plans.clone();
    broken.plans[1].members[0].unit = "CZD999".into();
    let units = demo_store().by_role(Role::DistrictUnit).expect("units");
    let err = broken
        .check_units(std::path::Path::new("plans.toml"), |c| {
            units.find(c).is_some()
        })
        .expect_err("CZD999 is no unit")
        .to_string();
    assert!(err.contains("\"hazmat\" members[0].unit"), "{err}");
}

#[test]
fn the_plans_signal_colours_are_the_feeds_alert_levels() {
    let names: Vec<&str> = Signal::ALL.iter().map(|s| s.as_str()).collect();
    let feeds: Vec<&str> = gridlink::feeds::AlertLevel::ALL
        .iter()
        .map(|l| l.as_str())
        .collect();
    assert_eq!(names, feeds);
}

#[test]
fn rainstorm_signals_propose_the_flood_levels_shanghai_uses() {
    let t = tables();
    let flood = t.plans.plan("flood").expect("flood plan");
    // Blue → IV and yellow → III as the municipal flood headquarters starts them; orange → II,
    // red → I by the same colour-for-level pattern (see data/README.md).
    assert_eq!(
        flood.level_for_alert("rain_12h", Signal::Blue),
        Some(ResponseLevel::IV)
    );
    assert_eq!(
        flood.level_for_alert("rain_6h", Signal::Yellow),
        Some(ResponseLevel::III)
    );
    assert_eq!(
        flood.level_for_alert("rain_3h", Signal::Orange),
        Some(ResponseLevel::II)
    );
    assert_eq!(
        flood.level_for_alert("rain_3h", Signal::Red),
        Some(ResponseLevel::I)
    );
    assert_eq!(
        flood.level_for_alert("rain_12h", Signal::Red),
        Some(ResponseLevel::IV)
    );
    // The flood level-III task list patrols flood points and opens shelters by town.
    let iii = flood.level(ResponseLevel::III).expect("level III");
    let kinds: Vec<&str> = iii.tasks.iter().map(|t| t.target.kind()).collect();
    for k in ["flood_points", "shelters", "team", "depot", "unit"] {
        assert!(kinds.contains(&k), "{k} in {kinds:?}");
    }
    // A gale alone never proposes the hazardous-chemicals plan.
    let proposed: Vec<&str> = t
        .plans
        .for_alert("wind_speed", Signal::Red)
        .iter()
        .map(|(p, _)| p.id.as_str())
        .collect();
    assert!(
        proposed.contains(&"flood") && !proposed.contains(&"hazmat"),
        "{proposed:?}"
    );
}

/// What the leak-zone analysis found, as plan triggers read it.
fn exposures(a: &gridlink::services::hazmat::Analysis<'_, '_>) -> Vec<LeakExposure> {
    let mut out: Vec<LeakExposure> = a
        .groups
        .iter()
        .filter_map(|g| {
            let exposes = match g.role {
                Role::ProtectedTarget => Exposed::ProtectedTarget,
                Role::Village => Exposed::Village,
                Role::Shelter => Exposed::Shelter,
                Role::HazardSource => Exposed::HazardSource,
                _ => return None,
            };
            Some(LeakExposure {
                exposes,
                in_isolation: g.hits.iter().filter(|e| e.in_isolation).count(),
                in_protective: g.hits.iter().filter(|e| e.in_protective).count(),
                people: g.people.unwrap_or(0),
            })
        })
        .collect();
    if let Some(c) = &a.cells {
        out.push(LeakExposure {
            exposes: Exposed::GridCell,
            in_isolation: c.in_isolation,
            in_protective: c.in_protective,
            people: 0,
        });
    }
    out
}

#[test]
fn a_chlorine_leak_over_a_protected_target_proposes_hazardous_chemicals_level_ii_or_higher() {
    let t = tables();
    let store = demo_store();
    let sources = store.by_role(Role::HazardSource).expect("hazard sources");
    let chlorine = t.chemical("chlorine").expect("chlorine");
    let mut over_target = 0;
    let mut clear = 0;
    for i in 0..sources.len() {
        let holds_chlorine = matches!(
            sources.property(i, "chemical_ids"),
            Some(PropertyValue::Text(ids)) if ids.split(',').any(|c| c.trim() == "chlorine")
        );
        if !holds_chlorine {
            continue;
        }
        let request = Request {
            origin: Origin::HazardSource(sources.id(i)),
            chemical: Some("chlorine"),
            spill: gridlink::catalog::Spill::Large,
            time: gridlink::catalog::TimeOfDay::Night,
            wind_from_deg: 90.0,
            wind_speed_ms: 3.0,
        };
        let a = analyse(store, &t, &request, Viewer::Staff, &Default::default()).expect("zone");
        let found = exposures(&a);
        let hazmat = t
            .plans
            .for_leak(&chlorine.hazard_class, &found)
            .into_iter()
            .find(|(p, _)| p.id == "hazmat")
            .map(|(_, l)| l);
        let targets = found
            .iter()
            .find(|e| e.exposes == Exposed::ProtectedTarget)
            .map_or(0, |e| e.in_isolation + e.in_protective);
        // Every drawn zone covers grid cells, so every chlorine leak proposes at least IV.
        assert!(hazmat.is_some(), "{}: no hazmat proposal", sources.id(i));
        if targets > 0 {
            over_target += 1;
            assert!(
                hazmat >= Some(ResponseLevel::II),
                "{}: {targets} protected targets in the zone but level {hazmat:?}",
                sources.id(i)
            );
        } else {
            clear += 1;
            // Level I needs people in a protected target inside the isolation zone.
            assert!(
                hazmat <= Some(ResponseLevel::II),
                "{}: {hazmat:?}",
                sources.id(i)
            );
        }
    }
    assert!(
        over_target > 0,
        "no chlorine source of the demo data reaches a protected target ({clear} do not)"
    );
}

#[test]
fn every_task_of_every_plan_goes_to_a_member_a_town_member_a_team_type_or_a_supply() {
    let t = tables();
    for p in &t.plans.plans {
        for l in &p.levels {
            for task in &l.tasks {
                let ok = match &task.target {
                    TaskTarget::Unit { unit } => p.is_member(unit),
                    TaskTarget::Team { team, .. } => t.plans.team_kind(team).is_some(),
                    TaskTarget::Depot { item, .. } => t.plans.supply(item).is_some(),
                    other => other.town_unit_type().is_some_and(|u| p.has_town_member(u)),
                };
                assert!(ok, "{} {}: {:?}", p.id, l.level.as_str(), task);
            }
            for trigger in &l.triggers {
                if let Trigger::Case { classes } = trigger {
                    assert!(classes.iter().all(|c| t.class(c).is_some()), "{}", p.id);
                }
            }
        }
    }
}

/// Copies the shipped tables into a temp dir, applies `edit` to plans.toml and loads them.
fn tables_with_plans(edit: impl FnOnce(String) -> String) -> Result<CodeTables, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(tables_dir()).expect("data dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    let file = dir.path().join("plans.toml");
    let text = std::fs::read_to_string(&file).expect("plans.toml");
    std::fs::write(&file, edit(text)).expect("write");
    CodeTables::load(dir.path()).map_err(|e| e.to_string())
}

#[test]
fn a_broken_plans_file_stops_the_code_tables_naming_file_plan_and_field() {
    let err = tables_with_plans(|t| {
        t.replacen(
            "{ kind = \"case\", classes = [\"Y0101\", \"Z0104\"] }",
            "{ kind = \"meteor\", classes = [\"Y0101\"] }",
            1,
        )
    })
    .expect_err("an unknown trigger kind must not load");
    assert!(err.contains("plans.toml"), "{err}");
    assert!(err.contains("\"hazmat\""), "{err}");
    assert!(err.contains("meteor"), "{err}");

    let err =
        tables_with_plans(|t| t.replacen("alerts = [\"rain_1h\"", "alerts = [\"rain_2h\"", 1))
            .expect_err("an alert kind thresholds.toml lacks must not load");
    assert!(
        err.contains("\"flood\"") && err.contains("rain_2h"),
        "{err}"
    );
}

#[tokio::test]
async fn the_plans_api_lists_the_headquarters_and_resolves_units_for_staff_only() {
    let (status, body) = get_json_as("/api/plans", false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let (status, body) = get_json_as("/api/plans", true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["demo"], true);
    assert_eq!(body["count"], 23);
    let flood = body["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .find(|p| p["id"] == "flood")
        .expect("flood");
    assert_eq!(flood["office"]["code"], "CZD004");
    assert_eq!(flood["office"]["name"], "奉贤区水务局");
    assert_eq!(flood["levels"], serde_json::json!(["IV", "III", "II", "I"]));
    assert!(body["team_kinds"].as_array().is_some_and(|k| k.len() >= 8));

    let (status, body) = get_json_as("/api/plans/hazmat", true).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["office"]["name"], "奉贤区应急管理局");
    let members = body["members"].as_array().expect("members");
    assert!(
        members
            .iter()
            .all(|m| m["unit"]["name"].is_string() && m["duties"].is_string())
    );
    let levels = body["levels"].as_array().expect("levels");
    assert_eq!(levels[1]["level"], "III");
    assert_eq!(levels[1]["name"], "较大");
    let ii: &Value = &levels[2];
    assert!(
        ii["triggers"]
            .as_array()
            .expect("triggers")
            .iter()
            .any(|t| t["kind"] == "leak_zone" && t["exposes"] == "protected_target"),
        "{ii}"
    );
    assert!(
        ii["tasks"][0]["deadline_min"]
            .as_u64()
            .is_some_and(|m| m > 0)
    );

    let (status, body) = get_json_as("/api/plans/nope", true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "unknown_plan");
    assert_eq!(body["error"]["field"], "id");
}

#[test]
fn every_responder_property_of_the_shipped_table_carries_its_source() {
    let t = tables();
    let with = t.chemicals.iter().filter(|c| c.responder.is_some()).count();
    assert!(with >= 40, "{with} chemicals with a responder record");
    for c in &t.chemicals {
        let Some(r) = &c.responder else { continue };
        let value = serde_json::to_value(r).expect("serialises");
        for (name, property) in value.as_object().expect("object") {
            let source = property["source"].as_str().unwrap_or_default();
            assert!(!source.trim().is_empty(), "{} {name}: no source", c.id);
        }
    }
}

#[tokio::test]
async fn a_chemical_comes_out_with_its_responder_record_and_sources() {
    let (status, body) = get_json_as("/api/chemicals/ammonia", false).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let r = &body["responder"];
    assert_eq!(r["vapour_density"]["value"], 0.59);
    assert!(
        r["vapour_density"]["source"]
            .as_str()
            .is_some_and(|s| s.contains("ICSC 0414"))
    );
    assert_eq!(r["explosive_limits"]["lower_pct"], 15.0);
    assert_eq!(r["explosive_limits"]["upper_pct"], 28.0);
    assert_eq!(r["physical_state"]["value"], "liquefied_gas");
    for field in ["hazards", "ppe", "first_aid", "fire_fighting", "spill"] {
        assert!(r[field]["value"].is_string(), "{field}: {r}");
        assert!(r[field]["source"].is_string(), "{field}: {r}");
    }

    let (_, body) = get_json_as("/api/chemicals/methanol", false).await;
    assert_eq!(body["responder"]["flash_point_c"]["value"], 12.0);
    assert!(
        body["responder"]["ppe"].is_null(),
        "no card text was found for methanol's PPE"
    );

    let (_, body) = get_json_as("/api/chemicals?q=chlorine", false).await;
    let listed = &body["chemicals"][0]["responder"];
    assert!(
        listed
            .as_array()
            .is_some_and(|p| p.iter().any(|f| f == "ppe")),
        "{listed}"
    );
}

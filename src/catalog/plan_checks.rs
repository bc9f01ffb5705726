//! Loading and checking `data/plans.toml` (see [`super::plans`]).
//!
//! Everything a plan refers to is checked when the tables load: unit types, case classes, the
//! alert kinds of `thresholds.toml` (and that the kind can reach the signal a trigger waits
//! for — a trigger that can never fire is a mistake, not a setting), team types and supply
//! items, which units a task may go to, and that levels run IV → I. Unit *codes* live in the
//! unit layers, which load later: [`Plans::check_units`] checks them once the layers are there.
//! Every error names the file, the plan's id and the field.

use super::plans::{Plan, Plans, RawPlansFile, ResponseLevel, Signal, TaskTarget, Trigger};
use super::{CatalogError, UnitType, parse_toml, read_text};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Longest deadline a standard task may have: a week. More is a typing error.
pub const MAX_DEADLINE_MIN: u32 = 7 * 24 * 60;

/// What plans may refer to, from the other code tables.
pub(crate) struct References<'a> {
    pub unit_types: &'a [UnitType],
    pub classes: HashSet<&'a str>,
    /// Alert kinds of `thresholds.toml` and the highest signal each can raise; `None` when the
    /// file is absent (the feeds are off, so alert triggers cannot be checked and never fire).
    pub alert_kinds: Option<BTreeMap<String, Signal>>,
}

/// Reads the alert kinds of `thresholds.toml` and the highest signal each declares, absolute
/// or relative. Only these two things are read; the feeds check the rest of the file.
pub(crate) fn alert_kinds(path: &Path) -> Result<Option<BTreeMap<String, Signal>>, CatalogError> {
    #[derive(Deserialize)]
    struct Thresholds {
        #[serde(default)]
        kinds: BTreeMap<String, toml::Table>,
    }
    if !path.is_file() {
        return Ok(None);
    }
    let file: Thresholds = parse_toml(path, &read_text(path)?)?;
    let mut out = BTreeMap::new();
    for (kind, table) in file.kinds {
        let relative = table.get("relative").and_then(|r| r.as_table());
        let highest = Signal::ALL.into_iter().rev().find(|s| {
            table.contains_key(s.as_str()) || relative.is_some_and(|r| r.contains_key(s.as_str()))
        });
        if let Some(signal) = highest {
            out.insert(kind, signal);
        }
    }
    Ok(Some(out))
}

fn is_id(s: &str) -> bool {
    !s.is_empty()
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Names one plan in errors: `plan[3] "flood" level[1].tasks[0]`.
struct At<'a> {
    file: &'a Path,
    index: usize,
    id: &'a str,
}

impl At<'_> {
    fn err(&self, field: impl AsRef<str>, message: impl Into<String>) -> CatalogError {
        let field = field.as_ref();
        let sep = if field.is_empty() { "" } else { " " };
        CatalogError::field(
            self.file,
            format!("plan[{}] {:?}{sep}{field}", self.index, self.id),
            message,
        )
    }
}

/// Parses and checks the file.
pub(crate) fn load(file: &Path, refs: &References<'_>) -> Result<Plans, CatalogError> {
    let raw: RawPlansFile = parse_toml(file, &read_text(file)?)?;
    check_list(
        file,
        "team_kind",
        raw.team_kind.iter().map(|t| t.id.as_str()),
    )?;
    check_list(file, "supply", raw.supply.iter().map(|s| s.id.as_str()))?;
    check_list(
        file,
        "equipment",
        raw.equipment.iter().map(|e| e.id.as_str()),
    )?;
    let mut names = HashSet::new();
    for (i, e) in raw.equipment.iter().enumerate() {
        if e.name.trim().is_empty() || e.name.contains([';', '；', ' ']) || !names.insert(&e.name)
        {
            return Err(CatalogError::field(
                file,
                format!("equipment[{i}].name"),
                format!(
                    "{:?} must be unique, not empty, without spaces or semicolons (the teams layer's text is \"name count; …\")",
                    e.name
                ),
            ));
        }
    }
    let dismissal_cooldown_min = raw
        .dismissal_cooldown_min
        .unwrap_or(super::plans::DEFAULT_DISMISSAL_COOLDOWN_MIN);
    if !(0..=7 * 24 * 60).contains(&dismissal_cooldown_min) {
        return Err(CatalogError::field(
            file,
            "dismissal_cooldown_min",
            "dismissal_cooldown_min is 0 (off) to 10080 minutes (a week)",
        ));
    }
    let mut plans = Vec::with_capacity(raw.plan.len());
    let mut seen = HashSet::new();
    for (index, table) in raw.plan.into_iter().enumerate() {
        let id = table
            .get("id")
            .and_then(|v| v.as_str())
            .unwrap_or("?")
            .to_string();
        let at = At {
            file,
            index,
            id: &id,
        };
        let plan: Plan = parse_plan(table).map_err(|(path, message)| at.err(path, message))?;
        if !seen.insert(plan.id.clone()) {
            return Err(at.err("id", format!("plan id {:?} appears twice", plan.id)));
        }
        check_plan(&at, &plan, refs, &raw.team_kind, &raw.supply)?;
        plans.push(plan);
    }
    if plans.is_empty() {
        return Err(CatalogError::field(
            file,
            "plan",
            "at least one plan is needed",
        ));
    }
    Ok(Plans {
        demo: raw.demo,
        note: raw.note,
        team_kinds: raw.team_kind,
        supplies: raw.supply,
        equipment: raw.equipment,
        dismissal_cooldown_min,
        plans,
    })
}

/// Deserialises one plan, keeping serde's path to the field at fault.
fn parse_plan(table: toml::Table) -> Result<Plan, (String, String)> {
    serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        (path, err.into_inner().to_string())
    })
}

fn check_list<'a>(
    file: &Path,
    table: &str,
    ids: impl Iterator<Item = &'a str>,
) -> Result<(), CatalogError> {
    let mut seen = HashSet::new();
    for (i, id) in ids.enumerate() {
        if !is_id(id) {
            return Err(CatalogError::field(
                file,
                format!("{table}[{i}].id"),
                format!("{id:?} must be lower-case letters, digits and _"),
            ));
        }
        if !seen.insert(id) {
            return Err(CatalogError::field(
                file,
                format!("{table}[{i}].id"),
                format!("{id:?} appears twice"),
            ));
        }
    }
    Ok(())
}

fn check_plan(
    at: &At<'_>,
    plan: &Plan,
    refs: &References<'_>,
    team_kinds: &[super::plans::TeamKind],
    supplies: &[super::plans::SupplyItem],
) -> Result<(), CatalogError> {
    if !is_id(&plan.id) {
        return Err(at.err(
            "id",
            "must be lower-case letters, digits and _ (it is used in URLs)",
        ));
    }
    for (field, value) in [
        ("name", &plan.name),
        ("name_en", &plan.name_en),
        ("plan_name", &plan.plan_name),
        ("commander", &plan.commander),
        ("office", &plan.office),
        ("basis", &plan.basis),
    ] {
        if value.trim().is_empty() {
            return Err(at.err(field, "must not be empty"));
        }
    }
    let mut units = HashSet::new();
    for (i, m) in plan.members.iter().enumerate() {
        if m.unit.trim().is_empty() || m.duties.trim().is_empty() {
            return Err(at.err(
                format!("members[{i}]"),
                "a member needs its unit code and its duties",
            ));
        }
        if !units.insert(m.unit.as_str()) {
            return Err(at.err(
                format!("members[{i}].unit"),
                format!("unit {:?} is listed twice", m.unit),
            ));
        }
    }
    let mut types = HashSet::new();
    for (i, m) in plan.town_members.iter().enumerate() {
        if !refs.unit_types.iter().any(|u| u.code == m.unit_type) {
            return Err(at.err(
                format!("town_members[{i}].unit_type"),
                format!("unknown unit type {:?} (see unit_types.toml)", m.unit_type),
            ));
        }
        if !types.insert(m.unit_type.as_str()) || m.duties.trim().is_empty() {
            return Err(at.err(
                format!("town_members[{i}]"),
                format!(
                    "unit type {:?} is listed twice or has no duties",
                    m.unit_type
                ),
            ));
        }
    }
    if plan.levels.is_empty() {
        return Err(at.err("level", "a plan needs at least one response level"));
    }
    let mut previous: Option<ResponseLevel> = None;
    for (i, level) in plan.levels.iter().enumerate() {
        if let Some(p) = previous
            && level.level <= p
        {
            return Err(at.err(
                format!("level[{i}].level"),
                format!(
                    "levels out of order: {} after {}; list them IV, III, II, I, each once",
                    level.level.as_str(),
                    p.as_str()
                ),
            ));
        }
        previous = Some(level.level);
        if level.triggers.is_empty() {
            return Err(at.err(
                format!("level[{i}].triggers"),
                "a level needs at least one trigger (use kind = \"manual\" for a duty officer's decision)",
            ));
        }
        for (t, trigger) in level.triggers.iter().enumerate() {
            check_trigger(at, &format!("level[{i}].triggers[{t}]"), trigger, refs)?;
        }
        if level.tasks.is_empty() {
            return Err(at.err(
                format!("level[{i}].tasks"),
                "a level needs at least one standard task",
            ));
        }
        for (t, task) in level.tasks.iter().enumerate() {
            let field = format!("level[{i}].tasks[{t}]");
            if task.title.trim().is_empty() {
                return Err(at.err(format!("{field}.title"), "must not be empty"));
            }
            if task.deadline_min == 0 || task.deadline_min > MAX_DEADLINE_MIN {
                return Err(at.err(
                    format!("{field}.deadline_min"),
                    format!(
                        "{} is not between 1 and {MAX_DEADLINE_MIN} minutes",
                        task.deadline_min
                    ),
                ));
            }
            check_target(
                at,
                &format!("{field}.target"),
                plan,
                &task.target,
                team_kinds,
                supplies,
            )?;
        }
    }
    Ok(())
}

fn check_trigger(
    at: &At<'_>,
    field: &str,
    trigger: &Trigger,
    refs: &References<'_>,
) -> Result<(), CatalogError> {
    match trigger {
        Trigger::FeedAlert { alerts, min_signal } => {
            if alerts.is_empty() {
                return Err(at.err(format!("{field}.alerts"), "name at least one alert kind"));
            }
            let Some(kinds) = &refs.alert_kinds else {
                return Ok(());
            };
            for (a, kind) in alerts.iter().enumerate() {
                match kinds.get(kind) {
                    None => {
                        let known: Vec<&str> = kinds.keys().map(String::as_str).collect();
                        return Err(at.err(
                            format!("{field}.alerts[{a}]"),
                            format!(
                                "unknown alert kind {kind:?} (thresholds.toml has: {})",
                                known.join(", ")
                            ),
                        ));
                    }
                    Some(highest) if highest < min_signal => {
                        return Err(at.err(
                            format!("{field}.min_signal"),
                            format!(
                                "alert kind {kind:?} never rises above {} in thresholds.toml, so {} can never fire",
                                highest.as_str(),
                                min_signal.as_str()
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        Trigger::LeakZone {
            min_people,
            hazard_classes,
            ..
        } => {
            if *min_people < 0 {
                return Err(at.err(format!("{field}.min_people"), "must not be negative"));
            }
            if let Some(c) = hazard_classes.iter().find(|c| !is_un_class(c)) {
                return Err(at.err(
                    format!("{field}.hazard_classes"),
                    format!("{c:?} is not a UN hazard class such as \"2.3\" or \"3\""),
                ));
            }
        }
        Trigger::Case { classes } => {
            if classes.is_empty() {
                return Err(at.err(format!("{field}.classes"), "name at least one case class"));
            }
            if let Some(c) = classes.iter().find(|c| !refs.classes.contains(c.as_str())) {
                return Err(at.err(
                    format!("{field}.classes"),
                    format!("unknown case class {c:?} (see case_classes.toml)"),
                ));
            }
        }
        Trigger::Manual { when } => {
            if when.trim().is_empty() {
                return Err(at.err(
                    format!("{field}.when"),
                    "say when a duty officer would choose this level",
                ));
            }
        }
    }
    Ok(())
}

/// UN classes and divisions: 1–9, optionally with a division digit (`2.3`, `5.1`).
fn is_un_class(s: &str) -> bool {
    let mut parts = s.split('.');
    let class_ok = parts
        .next()
        .is_some_and(|c| c.len() == 1 && (b'1'..=b'9').contains(&c.as_bytes()[0]));
    let division_ok = match parts.next() {
        None => true,
        Some(d) => d.len() == 1 && d.as_bytes()[0].is_ascii_digit(),
    };
    class_ok && division_ok && parts.next().is_none()
}

fn check_target(
    at: &At<'_>,
    field: &str,
    plan: &Plan,
    target: &TaskTarget,
    team_kinds: &[super::plans::TeamKind],
    supplies: &[super::plans::SupplyItem],
) -> Result<(), CatalogError> {
    match target {
        TaskTarget::Unit { unit } if !plan.is_member(unit) => Err(at.err(
            format!("{field}.unit"),
            format!("unit {unit:?} is not the office or a member of this headquarters"),
        )),
        TaskTarget::Team { team, count } => {
            if !team_kinds.iter().any(|t| &t.id == team) {
                return Err(at.err(
                    format!("{field}.team"),
                    format!("unknown team type {team:?} (see [[team_kind]])"),
                ));
            }
            if *count == 0 {
                return Err(at.err(format!("{field}.count"), "must be at least 1"));
            }
            Ok(())
        }
        TaskTarget::Depot { item, quantity } => {
            if !supplies.iter().any(|s| &s.id == item) {
                return Err(at.err(
                    format!("{field}.item"),
                    format!("unknown supply item {item:?} (see [[supply]])"),
                ));
            }
            if *quantity == 0 {
                return Err(at.err(format!("{field}.quantity"), "must be at least 1"));
            }
            Ok(())
        }
        TaskTarget::Shelters { count: 0, .. } => {
            Err(at.err(format!("{field}.count"), "must be at least 1"))
        }
        other => match other.town_unit_type() {
            Some(t) if !plan.has_town_member(t) => Err(at.err(
                format!("{field}.unit_type"),
                format!("town units of type {t:?} are not among this plan's town_members"),
            )),
            _ => Ok(()),
        },
    }
}

impl Plans {
    /// Checks every unit code the plans name (offices and members) against the units that
    /// exist, once the unit layers are loaded. `exists` answers for one code.
    pub fn check_units(
        &self,
        file: &Path,
        exists: impl Fn(&str) -> bool,
    ) -> Result<(), CatalogError> {
        for (index, plan) in self.plans.iter().enumerate() {
            let at = At {
                file,
                index,
                id: &plan.id,
            };
            if !exists(&plan.office) {
                return Err(at.err(
                    "office",
                    format!(
                        "unknown unit code {:?} (not in the unit layers)",
                        plan.office
                    ),
                ));
            }
            for (i, m) in plan.members.iter().enumerate() {
                if !exists(&m.unit) {
                    return Err(at.err(
                        format!("members[{i}].unit"),
                        format!("unknown unit code {:?} (not in the unit layers)", m.unit),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Team types that tasks ask for but no team in the teams layer has (`kinds` are the
    /// layer's `kind` values): such tasks could never be staffed. Warnings, not errors: a
    /// district may lack a team type and borrow one from the city.
    pub fn missing_team_kinds<'a>(&'a self, kinds: &HashSet<&str>) -> Vec<&'a str> {
        self.team_kinds
            .iter()
            .filter(|t| !kinds.contains(t.kind.as_str()))
            .map(|t| t.kind.as_str())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
demo = true
note = "test"
team_kind = [{ id = "flood", kind = "防汛抢险", name_en = "Flood" }]
supply = [{ id = "sandbag", name = "沙袋", name_en = "Sandbags", unit = "袋" }]

[[plan]]
id = "flood"
name = "区防汛防台指挥部"
name_en = "Flood"
plan_name = "防汛防台专项应急预案"
category = "natural_disaster"
commander = "区长"
office = "CZD004"
basis = "test"
members = [{ unit = "CZD007", duties = "抢险救援" }]
town_members = [{ unit_type = "shuiwu", duties = "巡查" }]

[[plan.level]]
level = "IV"
triggers = [{ kind = "feed_alert", alerts = ["rain_3h"], min_signal = "orange" }]
tasks = [
  { kind = "notify", title = "值守", target = { type = "unit", unit = "CZD004" }, deadline_min = 15 },
  { kind = "patrol", title = "巡查易涝点", target = { type = "flood_points", unit_type = "shuiwu" }, deadline_min = 30 },
]

[[plan.level]]
level = "III"
triggers = [{ kind = "case", classes = ["Y0201"] }]
tasks = [
  { kind = "send_team", title = "派队", target = { type = "team", team = "flood", count = 1 }, deadline_min = 60 },
  { kind = "move_supplies", title = "调沙袋", target = { type = "depot", item = "sandbag", quantity = 500 }, deadline_min = 60 },
]
"#;

    fn unit_types() -> Vec<UnitType> {
        ["shuiwu", "yingji"]
            .into_iter()
            .map(|c| UnitType {
                code: c.into(),
                name: c.into(),
                name_en: c.into(),
            })
            .collect()
    }

    fn load_text(text: &str) -> Result<Plans, String> {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("plans.toml");
        std::fs::write(&path, text).expect("write");
        let types = unit_types();
        let refs = References {
            unit_types: &types,
            classes: ["Y0201"].into_iter().collect(),
            alert_kinds: Some(
                [
                    ("rain_3h".to_string(), Signal::Red),
                    ("rain_6h".to_string(), Signal::Yellow),
                ]
                .into_iter()
                .collect(),
            ),
        };
        load(&path, &refs).map_err(|e| e.to_string())
    }

    #[test]
    fn a_valid_file_loads() {
        let plans = load_text(FILE).expect("loads");
        let flood = plans.plan("flood").expect("flood");
        assert_eq!(flood.levels.len(), 2);
        assert_eq!(
            flood.level_for_alert("rain_3h", Signal::Red),
            Some(ResponseLevel::IV)
        );
        assert_eq!(flood.level_for_case("Y0201"), Some(ResponseLevel::III));
    }

    #[test]
    fn an_unknown_trigger_kind_names_the_plan_and_field() {
        let err = load_text(&FILE.replace("kind = \"case\"", "kind = \"earthquake\"")).unwrap_err();
        assert!(err.contains("plan[0] \"flood\""), "{err}");
        assert!(err.contains("level[1].triggers[0]"), "{err}");
        assert!(err.contains("earthquake"), "{err}");
    }

    #[test]
    fn levels_out_of_order_are_refused() {
        let swapped = FILE
            .replace("level = \"IV\"", "level = \"X\"")
            .replace("level = \"III\"", "level = \"IV\"")
            .replace("level = \"X\"", "level = \"III\"");
        let err = load_text(&swapped).unwrap_err();
        assert!(err.contains("level[1].level"), "{err}");
        assert!(err.contains("out of order"), "{err}");
        let twice = FILE.replace("level = \"III\"", "level = \"IV\"");
        assert!(load_text(&twice).unwrap_err().contains("out of order"));
    }

    #[test]
    fn duplicate_plan_ids_are_refused() {
        let start = FILE.find("[[plan]]").expect("a plan");
        let doubled = format!("{FILE}\n{}", &FILE[start..]);
        let err = load_text(&doubled).unwrap_err();
        assert!(err.contains("plan[1] \"flood\" id"), "{err}");
        assert!(err.contains("twice"), "{err}");
    }

    #[test]
    fn references_to_unknown_things_are_refused() {
        let cases = [
            (
                ("alerts = [\"rain_3h\"]", "alerts = [\"rain_99h\"]"),
                "alerts[0]",
            ),
            (
                ("classes = [\"Y0201\"]", "classes = [\"Q9999\"]"),
                "classes",
            ),
            (("team = \"flood\"", "team = \"divers\""), "target.team"),
            (("item = \"sandbag\"", "item = \"gold\""), "target.item"),
            (
                ("unit = \"CZD004\" }", "unit = \"CZD099\" }"),
                "target.unit",
            ),
            (
                (
                    "unit_type = \"shuiwu\", duties",
                    "unit_type = \"nobody\", duties",
                ),
                "town_members[0].unit_type",
            ),
            (("deadline_min = 15", "deadline_min = 0"), "deadline_min"),
        ];
        for ((from, to), field) in cases {
            assert!(FILE.contains(from), "{from}");
            let err = load_text(&FILE.replacen(from, to, 1)).expect_err(to);
            assert!(err.contains("plan[0] \"flood\""), "{err}");
            assert!(err.contains(field), "{field}: {err}");
        }
        // A kind that never reaches the signal waited for can never fire.
        let err = load_text(&FILE.replace("alerts = [\"rain_3h\"]", "alerts = [\"rain_6h\"]"))
            .unwrap_err();
        assert!(err.contains("min_signal") && err.contains("never"), "{err}");
    }

    #[test]
    fn unknown_unit_codes_are_found_once_the_layers_are_there() {
        let plans = load_text(FILE).expect("loads");
        let file = Path::new("plans.toml");
        assert!(plans.check_units(file, |c| c.starts_with("CZD")).is_ok());
        let err = plans
            .check_units(file, |c| c != "CZD007")
            .unwrap_err()
            .to_string();
        assert!(err.contains("plan[0] \"flood\" members[0].unit"), "{err}");
        assert!(err.contains("CZD007"), "{err}");
        let err = plans.check_units(file, |_| false).unwrap_err().to_string();
        assert!(err.contains("office"), "{err}");
        let present: HashSet<&str> = ["防汛抢险"].into_iter().collect();
        assert!(plans.missing_team_kinds(&present).is_empty());
        assert_eq!(plans.missing_team_kinds(&HashSet::new()), vec!["防汛抢险"]);
    }

    #[test]
    fn un_classes_are_recognised() {
        for ok in ["2.3", "3", "5.1", "8"] {
            assert!(is_un_class(ok), "{ok}");
        }
        for bad in ["", "0", "2.", "2.3.1", "10", "x"] {
            assert!(!is_un_class(bad), "{bad}");
        }
    }
}

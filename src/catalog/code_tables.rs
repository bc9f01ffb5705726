//! Loads and cross-checks the code tables in the tables directory.

use super::case_classes::{AffairsClass, CaseClass, CaseClassesFile, MajorClass, Urgency};
use super::chemicals::{Chemical, ChemicalsFile};
use super::command_bodies::{CommandBodiesFile, CommandBody};
use super::plan_checks;
use super::plans::Plans;
use super::unit_types::{UnitType, UnitTypesFile};
use super::{CatalogError, parse_toml, read_text};
use std::collections::{HashMap, HashSet};
use std::path::Path;

pub const UNIT_TYPES_FILE: &str = "unit_types.toml";
pub const CASE_CLASSES_FILE: &str = "case_classes.toml";
pub const CHEMICALS_FILE: &str = "chemicals.toml";
pub const PLANS_FILE: &str = "plans.toml";
pub const COMMAND_BODIES_FILE: &str = "command_bodies.toml";
/// Read only for the alert kinds plan triggers may name; the feeds own the file.
pub const THRESHOLDS_FILE: &str = "thresholds.toml";

#[derive(Debug, Clone)]
pub struct CodeTables {
    pub unit_types: Vec<UnitType>,
    pub affairs: Vec<AffairsClass>,
    pub urgencies: Vec<Urgency>,
    pub majors: Vec<MajorClass>,
    pub classes: Vec<CaseClass>,
    pub chemicals: Vec<Chemical>,
    /// The special command headquarters and their plans.
    pub plans: Plans,
    /// The command body of each affairs class (the linkage network's command queues).
    pub command_bodies: Vec<CommandBody>,
    class_index: HashMap<String, usize>,
    chemical_index: HashMap<String, usize>,
}

impl CodeTables {
    pub fn load(tables_dir: &Path) -> Result<CodeTables, CatalogError> {
        let path = tables_dir.join(UNIT_TYPES_FILE);
        let units: UnitTypesFile = parse_toml(&path, &read_text(&path)?)?;
        check_unique(&path, "unit_type", units.unit_type.iter().map(|u| &u.code))?;

        let path = tables_dir.join(CASE_CLASSES_FILE);
        let classes: CaseClassesFile = parse_toml(&path, &read_text(&path)?)?;
        validate_classes(&path, &classes, &units.unit_type)?;

        let path = tables_dir.join(CHEMICALS_FILE);
        let chemicals: ChemicalsFile = parse_toml(&path, &read_text(&path)?)?;
        validate_chemicals(&path, &chemicals.chemical)?;

        let path = tables_dir.join(PLANS_FILE);
        let refs = plan_checks::References {
            unit_types: &units.unit_type,
            classes: classes.class.iter().map(|c| c.code.as_str()).collect(),
            alert_kinds: plan_checks::alert_kinds(&tables_dir.join(THRESHOLDS_FILE))?,
        };
        let plans = plan_checks::load(&path, &refs)?;

        let path = tables_dir.join(COMMAND_BODIES_FILE);
        let bodies: CommandBodiesFile = parse_toml(&path, &read_text(&path)?)?;
        validate_command_bodies(&path, &bodies.body, &classes.affairs)?;

        let class_index = index_by(classes.class.iter().map(|c| &c.code));
        let chemical_index = index_by(chemicals.chemical.iter().map(|c| &c.id));
        Ok(CodeTables {
            unit_types: units.unit_type,
            affairs: classes.affairs,
            urgencies: classes.urgency,
            majors: classes.major,
            classes: classes.class,
            chemicals: chemicals.chemical,
            plans,
            command_bodies: bodies.body,
            class_index,
            chemical_index,
        })
    }

    pub fn class(&self, code: &str) -> Option<&CaseClass> {
        self.class_index.get(code).map(|&i| &self.classes[i])
    }

    pub fn chemical(&self, id: &str) -> Option<&Chemical> {
        self.chemical_index.get(id).map(|&i| &self.chemicals[i])
    }

    pub fn unit_type(&self, code: &str) -> Option<&UnitType> {
        self.unit_types.iter().find(|u| u.code == code)
    }

    pub fn major(&self, code: &str) -> Option<&MajorClass> {
        self.majors.iter().find(|m| m.code == code)
    }

    pub fn command_body(&self, code: &str) -> Option<&CommandBody> {
        self.command_bodies.iter().find(|b| b.code == code)
    }

    /// The command body of a case class (through its major class's affairs class).
    pub fn command_of_class(&self, class: &str) -> Option<&CommandBody> {
        let major = self.major(&self.class(class)?.major)?;
        self.command_bodies
            .iter()
            .find(|b| b.affairs == major.affairs)
    }
}

fn index_by<'a>(keys: impl Iterator<Item = &'a String>) -> HashMap<String, usize> {
    keys.enumerate().map(|(i, k)| (k.clone(), i)).collect()
}

fn check_unique<'a>(
    file: &Path,
    table: &str,
    codes: impl Iterator<Item = &'a String>,
) -> Result<(), CatalogError> {
    let mut seen = HashSet::new();
    for (i, code) in codes.enumerate() {
        if code.trim().is_empty() {
            return Err(CatalogError::field(
                file,
                format!("{table}[{i}]"),
                "empty code",
            ));
        }
        if !seen.insert(code) {
            return Err(CatalogError::field(
                file,
                format!("{table}[{i}]"),
                format!("code {code:?} appears twice"),
            ));
        }
    }
    Ok(())
}

/// Every affairs class has exactly one command body, and at most one body is the district
/// centre.
fn validate_command_bodies(
    file: &Path,
    bodies: &[CommandBody],
    affairs: &[AffairsClass],
) -> Result<(), CatalogError> {
    check_unique(file, "body", bodies.iter().map(|b| &b.code))?;
    for (i, body) in bodies.iter().enumerate() {
        if !affairs.iter().any(|a| a.code == body.affairs) {
            return Err(CatalogError::field(
                file,
                format!("body[{i}].affairs"),
                format!("unknown affairs class {:?}", body.affairs),
            ));
        }
        if body.code.contains(':') || body.code == "district" {
            return Err(CatalogError::field(
                file,
                format!("body[{i}].code"),
                "a command body's code must not be `district` or contain `:` (node syntax)",
            ));
        }
    }
    for a in affairs {
        let n = bodies.iter().filter(|b| b.affairs == a.code).count();
        if n != 1 {
            return Err(CatalogError::field(
                file,
                "body",
                format!(
                    "affairs class {} needs exactly one command body, has {n}",
                    a.code
                ),
            ));
        }
    }
    if bodies.iter().filter(|b| b.district_centre).count() > 1 {
        return Err(CatalogError::field(
            file,
            "body",
            "at most one command body is the district centre",
        ));
    }
    Ok(())
}

fn validate_classes(
    file: &Path,
    t: &CaseClassesFile,
    unit_types: &[UnitType],
) -> Result<(), CatalogError> {
    check_unique(file, "affairs", t.affairs.iter().map(|a| &a.code))?;
    check_unique(file, "urgency", t.urgency.iter().map(|u| &u.code))?;
    check_unique(file, "major", t.major.iter().map(|m| &m.code))?;
    check_unique(file, "class", t.class.iter().map(|c| &c.code))?;
    if t.urgency.is_empty() {
        return Err(CatalogError::field(
            file,
            "urgency",
            "at least one urgency level is needed",
        ));
    }
    for (i, major) in t.major.iter().enumerate() {
        if !t.affairs.iter().any(|a| a.code == major.affairs) {
            return Err(CatalogError::field(
                file,
                format!("major[{i}].affairs"),
                format!("unknown affairs class {:?}", major.affairs),
            ));
        }
    }
    for (i, class) in t.class.iter().enumerate() {
        let field = |name: &str| format!("class[{i}].{name}");
        let Some(major) = t.major.iter().find(|m| m.code == class.major) else {
            return Err(CatalogError::field(
                file,
                field("major"),
                format!("{}: unknown major class {:?}", class.code, class.major),
            ));
        };
        if !class.code.starts_with(&major.code) {
            return Err(CatalogError::field(
                file,
                field("code"),
                format!(
                    "{:?} must start with its major class code {:?}",
                    class.code, major.code
                ),
            ));
        }
        if !unit_types.iter().any(|u| u.code == class.unit_type) {
            return Err(CatalogError::field(
                file,
                field("unit_type"),
                format!("{}: unknown unit type {:?}", class.code, class.unit_type),
            ));
        }
        if let Some(number) = &class.call
            && !super::case_classes::EMERGENCY_NUMBERS.contains(&number.as_str())
        {
            return Err(CatalogError::field(
                file,
                field("call"),
                format!(
                    "{}: call must be one of {}, got {number:?}",
                    class.code,
                    super::case_classes::EMERGENCY_NUMBERS.join(", ")
                ),
            ));
        }
        if class.call.is_some() && class.visibility == super::case_classes::Visibility::Staff {
            return Err(CatalogError::field(
                file,
                field("call"),
                format!(
                    "{}: a call-first number is for citizens; staff-only classes have none",
                    class.code
                ),
            ));
        }
        let mut previous = u32::MAX;
        for urgency in &t.urgency {
            let Some(&hours) = class.limits_h.get(&urgency.code) else {
                return Err(CatalogError::field(
                    file,
                    field("limits_h"),
                    format!(
                        "{}: no time limit for urgency {:?}",
                        class.code, urgency.code
                    ),
                ));
            };
            if hours == 0 || hours > previous {
                return Err(CatalogError::field(
                    file,
                    field("limits_h"),
                    format!(
                        "{}: limits must be positive and shrink as urgency rises",
                        class.code
                    ),
                ));
            }
            previous = hours;
        }
        if class.limits_h.len() != t.urgency.len() {
            return Err(CatalogError::field(
                file,
                field("limits_h"),
                format!(
                    "{}: limits name an urgency that is not declared",
                    class.code
                ),
            ));
        }
    }
    Ok(())
}

fn validate_chemicals(file: &Path, chemicals: &[Chemical]) -> Result<(), CatalogError> {
    check_unique(file, "chemical", chemicals.iter().map(|c| &c.id))?;
    for (i, c) in chemicals.iter().enumerate() {
        if !(c.critical_quantity_t.is_finite() && c.critical_quantity_t > 0.0) {
            return Err(CatalogError::field(
                file,
                format!("chemical[{i}].critical_quantity_t"),
                format!("{}: must be a positive number of tonnes", c.id),
            ));
        }
        if !(c.beta.is_finite() && c.beta >= 1.0) {
            return Err(CatalogError::field(
                file,
                format!("chemical[{i}].beta"),
                format!("{}: GB 18218 correction factors are >= 1", c.id),
            ));
        }
        if c.source.trim().is_empty() {
            return Err(CatalogError::field(
                file,
                format!("chemical[{i}].source"),
                format!("{}: every value needs its source", c.id),
            ));
        }
        if let Some(erg) = &c.erg {
            for (name, block) in [("small", &erg.small), ("large", &erg.large)] {
                if let Some(problem) = super::chemicals::verified_claim_problem(block) {
                    return Err(CatalogError::field(
                        file,
                        format!("chemical[{i}].erg.{name}.verified"),
                        format!("{}: {problem}", c.id),
                    ));
                }
            }
        }
        if let Some(responder) = &c.responder {
            responder.check().map_err(|message| {
                CatalogError::field(
                    file,
                    format!("chemical[{i}].responder"),
                    format!("{}: {message}", c.id),
                )
            })?;
        }
    }
    Ok(())
}

//! The layer catalogue (`layers/*.toml`) and the code tables (`data/*.toml`).
//!
//! Everything the server knows about *which* layers and classes exist comes from these files;
//! `src/` only knows roles and field types. Loading validates hard and early: a broken file is
//! refused with its name and the field at fault, before anything is served.
//!
//! Floor 8, the ground (see the crate doc): imports nothing from the crate.

mod case_classes;
mod chemicals;
mod code_tables;
mod coded_values;
mod command_bodies;
mod error;
mod groups;
pub mod hazard_grade;
mod layer_def;
mod plan_checks;
mod plans;
mod responder;
mod unit_types;

pub use case_classes::{
    AffairsClass, CaseClass, ClassKind, EMERGENCY_NUMBERS, Level, MajorClass, Urgency, Visibility,
};
pub use chemicals::{AppliedDistances, Chemical, Erg, ErgBasis, Spill, SpillDistances, TimeOfDay};
pub use code_tables::{COMMAND_BODIES_FILE, CodeTables, PLANS_FILE};
pub use command_bodies::CommandBody;
pub use error::{CatalogError, parse_toml, read_text};
pub use groups::GroupDef;
pub use layer_def::{
    Access, FieldDef, FieldType, GeometryKind, LayerDef, Repair, Role, SourceDef, SourceFormat,
};
pub use plan_checks::MAX_DEADLINE_MIN;
pub use plans::{
    Category, EquipmentItem, Exposed, LeakExposure, LevelDef, Member, Plan, Plans, ResponseLevel,
    Signal, SupplyItem, TaskKind, TaskTarget, TaskTemplate, TeamKind, TownMember, Trigger, ZoneSel,
};
pub use responder::{ExplosiveLimits, PhysicalState, Responder, Sourced};
pub use unit_types::UnitType;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Highest zoom a layer may declare; MapLibre stops at 24.
pub const MAX_ZOOM: u8 = 24;

/// The file, under the tables directory, that lists the layer groups.
pub const GROUPS_FILE: &str = "layer_groups.toml";

#[derive(Debug, Clone)]
pub struct Catalog {
    pub groups: Vec<GroupDef>,
    /// In display order: by group, then by file name.
    pub layers: Vec<Arc<LayerDef>>,
    /// The file each layer came from, for messages.
    pub files: Vec<PathBuf>,
}

impl Catalog {
    /// Loads every `*.toml` in `layers_dir` and the groups from `tables_dir` (and the code
    /// tables that fields name with `values_from`).
    pub fn load(layers_dir: &Path, tables_dir: &Path) -> Result<Catalog, CatalogError> {
        let groups_path = tables_dir.join(GROUPS_FILE);
        let groups: groups::GroupsFile = parse_toml(&groups_path, &read_text(&groups_path)?)?;
        let mut files = toml_files(layers_dir)?;
        files.sort();
        if files.is_empty() {
            return Err(CatalogError::file(
                layers_dir,
                "no layer files (*.toml) found",
            ));
        }
        let mut layers = Vec::with_capacity(files.len());
        let mut code_lists = coded_values::CodeListCache::default();
        for file in &files {
            let mut def: LayerDef = parse_toml(file, &read_text(file)?)?;
            validate_layer(file, &def, &groups.group)?;
            coded_values::resolve(file, &mut def, tables_dir, &mut code_lists)?;
            layers.push(def);
        }
        validate_catalogue(&files, &layers)?;
        let group_order: HashMap<&str, usize> = groups
            .group
            .iter()
            .enumerate()
            .map(|(i, g)| (g.id.as_str(), i))
            .collect();
        let mut order: Vec<usize> = (0..layers.len()).collect();
        order.sort_by_key(|&i| (group_order[layers[i].group.as_str()], i));
        let files = order.iter().map(|&i| files[i].clone()).collect();
        let mut slots: Vec<Option<LayerDef>> = layers.into_iter().map(Some).collect();
        let layers = order
            .iter()
            .filter_map(|&i| slots[i].take().map(Arc::new))
            .collect();
        Ok(Catalog {
            groups: groups.group,
            layers,
            files,
        })
    }

    pub fn layer(&self, id: &str) -> Option<&Arc<LayerDef>> {
        self.layers.iter().find(|l| l.id == id)
    }

    /// The layer playing `role`, if the catalogue has one.
    pub fn with_role(&self, role: Role) -> Option<&Arc<LayerDef>> {
        self.layers.iter().find(|l| l.role == Some(role))
    }
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>, CatalogError> {
    let entries = std::fs::read_dir(dir).map_err(|source| CatalogError::Read {
        file: dir.to_path_buf(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| CatalogError::Read {
            file: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
    Ok(files)
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && s.as_bytes()[0].is_ascii_lowercase()
}

fn validate_layer(file: &Path, def: &LayerDef, groups: &[GroupDef]) -> Result<(), CatalogError> {
    let err = |field: &str, message: String| Err(CatalogError::field(file, field, message));
    if !is_identifier(&def.id) {
        return err(
            "id",
            format!(
                "{:?} must be lower-case letters, digits and _ (it is used in URLs)",
                def.id
            ),
        );
    }
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    if stem != def.id {
        return err(
            "id",
            format!(
                "{:?} must equal the file name {:?} so layers are easy to find",
                def.id, stem
            ),
        );
    }
    if def.title.trim().is_empty() {
        return err("title", "must not be empty".into());
    }
    if def.title_en.trim().is_empty() {
        return err("title_en", "must not be empty".into());
    }
    if !groups.iter().any(|g| g.id == def.group) {
        let known: Vec<&str> = groups.iter().map(|g| g.id.as_str()).collect();
        return err(
            "group",
            format!(
                "unknown group {:?} (known: {})",
                def.group,
                known.join(", ")
            ),
        );
    }
    if def.minzoom > def.maxzoom || def.maxzoom > MAX_ZOOM {
        return err(
            "maxzoom",
            format!(
                "zoom range {}..{} is not within 0..={MAX_ZOOM} with minzoom <= maxzoom",
                def.minzoom, def.maxzoom
            ),
        );
    }
    validate_source(file, def)?;
    if def.fields.is_empty() {
        return err("fields", "a layer needs at least its id field".into());
    }
    let mut seen = HashSet::new();
    for (i, field) in def.fields.iter().enumerate() {
        if !is_identifier(&field.name) {
            return err(
                &format!("fields[{i}].name"),
                format!("{:?} must be lower-case letters, digits and _", field.name),
            );
        }
        if !seen.insert(field.name.as_str()) {
            return err(
                &format!("fields[{i}].name"),
                format!("{:?} is declared twice", field.name),
            );
        }
    }
    if let Some(role) = def.role {
        for &(name, kind) in role.required_fields() {
            match def.field(name) {
                Some(f) if f.kind == kind => {}
                _ => {
                    return err(
                        "fields",
                        format!(
                            "a layer with role {:?} needs a {} field {name:?}",
                            role.as_str(),
                            kind.as_str()
                        ),
                    );
                }
            }
        }
    }
    match def.field(&def.source.id_field) {
        None => err(
            "source.id_field",
            format!(
                "{:?} is not one of the declared fields",
                def.source.id_field
            ),
        ),
        Some(f) if f.kind != FieldType::String && f.kind != FieldType::Integer => err(
            "source.id_field",
            format!(
                "{:?} must be a string or integer field",
                def.source.id_field
            ),
        ),
        Some(_) => match &def.label {
            Some(label) if def.field(label).is_none() => err(
                "label",
                format!("{label:?} is not one of the declared fields"),
            ),
            _ => Ok(()),
        },
    }
}

/// The `[source]` table: one of `path`/`postgis`, a CRS PROJ knows, an encoding that exists,
/// mapped fields that are declared. Checked here so a typo is named with its file and field
/// before anything is read.
fn validate_source(file: &Path, def: &LayerDef) -> Result<(), CatalogError> {
    let err = |field: &str, message: String| Err(CatalogError::field(file, field, message));
    let source = &def.source;
    match (&source.path, &source.postgis) {
        (Some(_), Some(_)) => {
            return err(
                "source.postgis",
                "give either `path` (a file) or `postgis` (a table), not both".into(),
            );
        }
        (None, None) => {
            return err(
                "source.path",
                "a source needs `path` (a file or folder) or `postgis` (schema.table)".into(),
            );
        }
        (Some(path), None) if path.trim().is_empty() => {
            return err("source.path", "must not be empty".into());
        }
        (None, Some(table)) => {
            let parts: Vec<&str> = table.split('.').collect();
            if parts.len() > 2 || parts.iter().any(|p| p.trim().is_empty()) {
                return err(
                    "source.postgis",
                    format!("{table:?} must be \"schema.table\" or \"table\""),
                );
            }
        }
        (Some(_), None) => {
            for key in ["geometry_column", "where"] {
                let set = match key {
                    "geometry_column" => source.geometry_column.is_some(),
                    _ => source.filter.is_some(),
                };
                if set {
                    return err(
                        &format!("source.{key}"),
                        "only applies to a `postgis` source".into(),
                    );
                }
            }
        }
    }
    // Whether PROJ knows the CRS is checked when the layer is opened (the catalogue sits
    // below the CRS code); here only that one is given.
    if source.crs.as_deref().is_some_and(|c| c.trim().is_empty()) {
        return err(
            "source.crs",
            "must not be empty (leave it out to use the source's own)".into(),
        );
    }
    if let Some(encoding) = &source.encoding {
        if encoding_rs::Encoding::for_label(encoding.trim().as_bytes()).is_none() {
            return err(
                "source.encoding",
                format!("unknown encoding {encoding:?} (use e.g. GBK, GB18030, UTF-8, Big5)"),
            );
        }
    }
    if source.x.is_some() != source.y.is_some() {
        return err(
            "source.x",
            "CSV points need both `x` and `y` (the coordinate columns)".into(),
        );
    }
    if source.x.is_some() && source.postgis.is_some() {
        return err("source.x", "only applies to CSV files".into());
    }
    for (field, column) in &source.fields {
        if def.field(field).is_none() {
            return err(
                &format!("source.fields.{field}"),
                format!("{field:?} is not one of the declared fields"),
            );
        }
        if column.trim().is_empty() {
            return err(
                &format!("source.fields.{field}"),
                "the source column must not be empty".into(),
            );
        }
    }
    Ok(())
}

fn validate_catalogue(files: &[PathBuf], layers: &[LayerDef]) -> Result<(), CatalogError> {
    let mut roles: HashMap<Role, usize> = HashMap::new();
    for (i, def) in layers.iter().enumerate() {
        if let Some(role) = def.role {
            if let Some(&first) = roles.get(&role) {
                return Err(CatalogError::field(
                    &files[i],
                    "role",
                    format!(
                        "role {:?} is already played by {}",
                        role.as_str(),
                        files[first].display()
                    ),
                ));
            }
            roles.insert(role, i);
        }
    }
    Ok(())
}

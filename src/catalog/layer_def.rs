//! One layer of the catalogue, as declared by one `layers/*.toml` file.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The geometry every feature of a layer must have. Multi-geometries of the same dimension are
/// accepted (a village cut in two by a river is still one village).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeometryKind {
    Point,
    Line,
    Polygon,
}

impl GeometryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            GeometryKind::Point => "point",
            GeometryKind::Line => "line",
            GeometryKind::Polygon => "polygon",
        }
    }
}

/// Who may see a layer. Staff layers (hazard sources, cameras…) are withheld from anonymous
/// users everywhere a layer can leak: tiles, features, nearest and around.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Public,
    Staff,
}

/// What a layer *is* to the services. Services find their layers by role, never by id, so a
/// deployment can rename or re-source a layer without touching code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    District,
    Town,
    Village,
    GridCell,
    Beat,
    LinkageCentre,
    Workstation,
    /// District-level handling units (区级处置单位).
    DistrictUnit,
    /// Town-level handling units (镇级处置单位).
    TownUnit,
    HazardSource,
    HazmatEnterprise,
    Pipeline,
    ProtectedTarget,
    Shelter,
    Team,
    SupplyDepot,
    MedicalFacility,
    Road,
    Water,
    RainGauge,
    WaterLevelStation,
    WeatherStation,
    Camera,
    Component,
    FloodPoint,
    ConstructionSite,
    FirePoliceStation,
}

impl Role {
    pub const ALL: [Role; 27] = [
        Role::District,
        Role::Town,
        Role::Village,
        Role::GridCell,
        Role::Beat,
        Role::LinkageCentre,
        Role::Workstation,
        Role::DistrictUnit,
        Role::TownUnit,
        Role::HazardSource,
        Role::HazmatEnterprise,
        Role::Pipeline,
        Role::ProtectedTarget,
        Role::Shelter,
        Role::Team,
        Role::SupplyDepot,
        Role::MedicalFacility,
        Role::Road,
        Role::Water,
        Role::RainGauge,
        Role::WaterLevelStation,
        Role::WeatherStation,
        Role::Camera,
        Role::Component,
        Role::FloodPoint,
        Role::ConstructionSite,
        Role::FirePoliceStation,
    ];

    /// The attributes the services read from a layer playing this role: the role's contract,
    /// checked when the catalogue loads.
    pub fn required_fields(self) -> &'static [(&'static str, FieldType)] {
        match self {
            Role::Village => &[("population", FieldType::Integer)],
            Role::DistrictUnit | Role::TownUnit => &[
                ("unit_type", FieldType::String),
                ("jurisdiction", FieldType::String),
            ],
            Role::Shelter => &[
                ("capacity", FieldType::Integer),
                ("occupancy", FieldType::Integer),
                ("status", FieldType::String),
            ],
            Role::HazardSource => &[("grade", FieldType::Integer)],
            Role::ProtectedTarget => &[("headcount", FieldType::Integer)],
            _ => &[],
        }
    }

    /// District and town units are two layers but one routing pool.
    pub fn is_handling_unit(self) -> bool {
        matches!(self, Role::DistrictUnit | Role::TownUnit)
    }

    pub fn as_str(self) -> &'static str {
        // The same names serde uses; a unit test keeps the two in step.
        match self {
            Role::District => "district",
            Role::Town => "town",
            Role::Village => "village",
            Role::GridCell => "grid_cell",
            Role::Beat => "beat",
            Role::LinkageCentre => "linkage_centre",
            Role::Workstation => "workstation",
            Role::DistrictUnit => "district_unit",
            Role::TownUnit => "town_unit",
            Role::HazardSource => "hazard_source",
            Role::HazmatEnterprise => "hazmat_enterprise",
            Role::Pipeline => "pipeline",
            Role::ProtectedTarget => "protected_target",
            Role::Shelter => "shelter",
            Role::Team => "team",
            Role::SupplyDepot => "supply_depot",
            Role::MedicalFacility => "medical_facility",
            Role::Road => "road",
            Role::Water => "water",
            Role::RainGauge => "rain_gauge",
            Role::WaterLevelStation => "water_level_station",
            Role::WeatherStation => "weather_station",
            Role::Camera => "camera",
            Role::Component => "component",
            Role::FloodPoint => "flood_point",
            Role::ConstructionSite => "construction_site",
            Role::FirePoliceStation => "fire_police_station",
        }
    }
}

/// The type of one attribute. Values are checked against it at load time, so every later
/// consumer (filters, tiles, JSON) can trust the column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    String,
    Integer,
    Number,
    Boolean,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Integer => "integer",
            FieldType::Number => "number",
            FieldType::Boolean => "boolean",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldDef {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: FieldType,
    /// Chinese caption shown in popups and tables.
    pub title: String,
    #[serde(default)]
    pub required: bool,
    /// Names of coded values (`expressway` → 高速公路), so popups and legends show words, not
    /// codes. Written inline (`[fields.values]`) or filled from a code table by `values_from`
    /// when the catalogue loads; served with the field by `/api/layers`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// A code table in the tables directory that names this field's values, as
    /// `"file.toml#array"`: every entry of that array of tables gives its `code` → `name`
    /// (`"unit_types.toml#unit_type"`). One table, many fields: no copy to drift.
    #[serde(default, skip_serializing)]
    pub values_from: Option<String>,
}

/// Where a layer's features come from: a file or folder any OGR driver reads, or a PostGIS
/// table. Backward compatible with the first catalogue (`path` + GeoPackage `table`).
///
/// ```toml
/// [source]
/// path = "shelters"            # extension optional: the data dir's manifest or the one file found
/// layer = "shelters"           # FileGDB feature class, GeoPackage table, KML folder
/// crs = "EPSG:4528"            # default: what the source declares (.prj, GeoPackage SRS, SRID)
/// encoding = "GBK"             # DBF and CSV text
/// id_field = "code"
/// [source.fields]
/// name = "名称"                # catalogue field = source column
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceDef {
    /// Relative to the data directory, or absolute. Without an extension the data directory
    /// decides which file it is (see `sources::resolve_path`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A PostGIS table, `schema.table`; the connection comes from the configuration
    /// (`GRIDLINK_LAYERS_DATABASE` or `[postgis]` in gridlink.toml), never from a layer file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postgis: Option<String>,
    /// The table's geometry column (default: its only one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geometry_column: Option<String>,
    /// An SQL condition on the table (`"status <> 'retired'"`).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The layer inside a multi-layer source: FileGDB feature class, GeoPackage table, KML
    /// folder. Default: the layer id, or the source's only layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// The first catalogue's name for `layer` (GeoPackage table); still accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// `EPSG:nnnn`, a PROJ string, `gcj02` or `bd09`; overrides what the source declares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crs: Option<String>,
    /// Text encoding of DBF and CSV files (`GBK`, `GB18030`, `UTF-8`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    /// What to do with an invalid polygon: refuse it (the default) or `make_valid` — repair it
    /// with GEOS MakeValid and report the repair and the area it changed.
    #[serde(default, skip_serializing_if = "Repair::is_refuse")]
    pub repair: Repair,
    /// CSV point columns: longitude/easting and latitude/northing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// Catalogue field = source column, for columns named otherwise (名称, 地址, 容纳人数…).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
    /// The attribute that identifies a feature (for GeoJSON the feature `id` is used when the
    /// attribute is absent).
    pub id_field: String,
}

/// How a source is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// gridlink's own GeoJSON reader (faster than OGR's for this job).
    GeoJson,
    /// gridlink's own GeoPackage reader.
    GeoPackage,
    /// Any other file or folder, through GDAL/OGR.
    Gdal,
    /// A PostGIS table.
    PostGis,
}

impl SourceFormat {
    /// The format a file path is read as, from its extension.
    pub fn of_path(path: &str) -> SourceFormat {
        let lower = path.to_ascii_lowercase();
        if lower.ends_with(".geojson") || lower.ends_with(".json") {
            SourceFormat::GeoJson
        } else if lower.ends_with(".gpkg") {
            SourceFormat::GeoPackage
        } else {
            SourceFormat::Gdal
        }
    }
}

impl SourceDef {
    /// A source read from a file or folder.
    pub fn file(path: impl Into<String>, id_field: impl Into<String>) -> SourceDef {
        SourceDef {
            path: Some(path.into()),
            id_field: id_field.into(),
            ..Default::default()
        }
    }

    /// The layer inside a multi-layer source, if one is named.
    pub fn layer_name(&self) -> Option<&str> {
        self.layer.as_deref().or(self.table.as_deref())
    }

    /// The source column a catalogue field reads, when the catalogue maps it.
    pub fn column_for(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerDef {
    pub id: String,
    /// Chinese title, the one the centre's staff read.
    pub title: String,
    pub title_en: String,
    pub group: String,
    pub geometry: GeometryKind,
    #[serde(default)]
    pub role: Option<Role>,
    pub access: Access,
    pub minzoom: u8,
    pub maxzoom: u8,
    /// The attribute drawn as the map label.
    #[serde(default)]
    pub label: Option<String>,
    pub source: SourceDef,
    pub fields: Vec<FieldDef>,
}

impl LayerDef {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    pub fn is_public(&self) -> bool {
        self.access == Access::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_match_serde() {
        for role in Role::ALL {
            let json = serde_json::to_value(role).unwrap();
            assert_eq!(json.as_str().unwrap(), role.as_str());
        }
    }
}

/// `repair` in `[source]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Repair {
    /// Invalid polygons are skipped and reported.
    #[default]
    Refuse,
    /// Invalid polygons are repaired (GEOS MakeValid) and the repair reported.
    MakeValid,
}

impl Repair {
    pub fn is_refuse(&self) -> bool {
        *self == Repair::Refuse
    }
}

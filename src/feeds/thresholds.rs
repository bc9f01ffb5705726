//! What the feeds measure and when a measurement is an alert: `data/thresholds.toml`.
//!
//! Each *kind* (rain_1h, water_level, …) declares its unit, the station roles that measure it,
//! a plausible range (values outside are refused as instrument faults, not alerted on) and up
//! to four thresholds, blue < yellow < orange < red. A kind may leave levels out (the CMA
//! rainstorm signals put only the orange and red criteria on 3-hour totals). A threshold may be
//! *relative* to a field of the station's layer (a water-level station's 警戒水位), with the
//! absolute value as the default for stations without that field; `[[overrides]]` set single
//! stations' thresholds outright. Adding a kind is adding a table to the file.

use super::error::{FeedError, Result};
use super::level::AlertLevel;
use crate::catalog::Role;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file name under the tables directory (`data/`).
pub const FILE_NAME: &str = "thresholds.toml";

/// Flood-prone points and villages this close to an alerting station are listed in the alert.
pub const DEFAULT_RADIUS_M: f64 = 2000.0;
/// Readings stamped further ahead of the server's clock than this are refused: a station with
/// a wrong clock would otherwise hold the "latest" value for hours.
pub const DEFAULT_FUTURE_TOLERANCE_S: i64 = 600;

/// Thresholds of one station for one kind, by level; `None` = the kind has no such level.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize)]
pub struct Levels(pub [Option<f64>; 4]);

impl Levels {
    /// The highest level whose threshold the value reaches ("at or above"), and that threshold.
    pub fn classify(&self, value: f64) -> Option<(AlertLevel, f64)> {
        AlertLevel::ALL
            .into_iter()
            .rev()
            .find_map(|l| self.0[l.index()].filter(|&t| value >= t).map(|t| (l, t)))
    }

    pub fn get(&self, level: AlertLevel) -> Option<f64> {
        self.0[level.index()]
    }

    /// Thresholds present must rise strictly with the level; the message says which do not.
    pub fn check_increasing(&self) -> std::result::Result<(), String> {
        let mut last: Option<(AlertLevel, f64)> = None;
        for level in AlertLevel::ALL {
            let Some(t) = self.get(level) else { continue };
            if !t.is_finite() {
                return Err(format!("{level} threshold must be a finite number"));
            }
            if let Some((prev, p)) = last {
                if t <= p {
                    return Err(format!(
                        "{level} threshold {t} must be above the {prev} threshold {p}"
                    ));
                }
            }
            last = Some((level, t));
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// JSON object `{blue: …, yellow: …}` with the levels present.
    pub fn to_json(&self) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        for level in AlertLevel::ALL {
            if let Some(t) = self.get(level) {
                out.insert(level.as_str().into(), serde_json::json!(t));
            }
        }
        serde_json::Value::Object(out)
    }
}

/// A threshold relative to a numeric field of the station's layer: `field + offset`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Relative {
    pub field: String,
    #[serde(default)]
    pub offset: f64,
}

/// One measured quantity.
#[derive(Debug, Clone)]
pub struct KindDef {
    pub name: String,
    pub title: String,
    pub unit: String,
    pub roles: Vec<Role>,
    /// Plausible range, inclusive: outside it the reading is refused (`out_of_range`).
    pub min: f64,
    pub max: f64,
    pub absolute: Levels,
    pub relative: [Option<Relative>; 4],
    /// Where the numbers come from, in a sentence (shown by `/api/feeds/kinds`).
    pub basis: String,
}

impl KindDef {
    pub fn measured_by(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A station's own thresholds for one kind, replacing the levels it names.
#[derive(Debug, Clone)]
pub struct Override {
    pub station: String,
    pub kind: usize,
    pub levels: Levels,
}

#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub file: PathBuf,
    pub radius_m: f64,
    pub future_tolerance_ms: i64,
    /// Sorted by name; a kind's index is its position here.
    pub kinds: Vec<KindDef>,
    pub overrides: Vec<Override>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileToml {
    #[serde(default)]
    alerts: AlertsToml,
    kinds: BTreeMap<String, KindToml>,
    #[serde(default)]
    overrides: Vec<OverrideToml>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsToml {
    #[serde(default = "default_radius")]
    radius_m: f64,
    #[serde(default = "default_future")]
    future_tolerance_s: i64,
}

impl Default for AlertsToml {
    fn default() -> Self {
        AlertsToml {
            radius_m: DEFAULT_RADIUS_M,
            future_tolerance_s: DEFAULT_FUTURE_TOLERANCE_S,
        }
    }
}

fn default_radius() -> f64 {
    DEFAULT_RADIUS_M
}

fn default_future() -> i64 {
    DEFAULT_FUTURE_TOLERANCE_S
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RelativeToml {
    blue: Option<Relative>,
    yellow: Option<Relative>,
    orange: Option<Relative>,
    red: Option<Relative>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KindToml {
    title: String,
    unit: String,
    roles: Vec<Role>,
    range: [f64; 2],
    #[serde(default)]
    basis: String,
    blue: Option<f64>,
    yellow: Option<f64>,
    orange: Option<f64>,
    red: Option<f64>,
    #[serde(default)]
    relative: RelativeToml,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideToml {
    station: String,
    kind: String,
    blue: Option<f64>,
    yellow: Option<f64>,
    orange: Option<f64>,
    red: Option<f64>,
}

impl FeedConfig {
    /// Reads and checks the thresholds file; every problem names the file and the field.
    pub fn load(path: &Path) -> Result<FeedConfig> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| FeedError::thresholds(path, "file", format!("cannot read: {e}")))?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<FeedConfig> {
        let de = toml::Deserializer::new(text);
        let raw: FileToml = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            FeedError::thresholds(path, &field, e.inner().message().trim().to_string())
        })?;
        let bad = |field: String, message: String| FeedError::thresholds(path, &field, message);
        if !(raw.alerts.radius_m.is_finite() && (0.0..=20_000.0).contains(&raw.alerts.radius_m)) {
            return Err(bad(
                "alerts.radius_m".into(),
                "must be between 0 and 20000 metres".into(),
            ));
        }
        if !(0..=86_400).contains(&raw.alerts.future_tolerance_s) {
            return Err(bad(
                "alerts.future_tolerance_s".into(),
                "must be between 0 and 86400 seconds".into(),
            ));
        }
        if raw.kinds.is_empty() {
            return Err(bad("kinds".into(), "at least one kind is needed".into()));
        }
        let mut kinds = Vec::with_capacity(raw.kinds.len());
        for (name, k) in raw.kinds {
            let at = |f: &str| format!("kinds.{name}.{f}");
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(bad(
                    format!("kinds.{name}"),
                    "kind names are lower-case letters, digits and _".into(),
                ));
            }
            if k.roles.is_empty() {
                return Err(bad(at("roles"), "name at least one station role".into()));
            }
            let [min, max] = k.range;
            if !(min.is_finite() && max.is_finite() && min < max) {
                return Err(bad(
                    at("range"),
                    "must be [min, max] with finite min < max".into(),
                ));
            }
            let absolute = Levels([k.blue, k.yellow, k.orange, k.red]);
            absolute
                .check_increasing()
                .map_err(|m| bad(at("levels"), m))?;
            for level in AlertLevel::ALL {
                if let Some(t) = absolute.get(level) {
                    if !(min..=max).contains(&t) {
                        return Err(bad(
                            at(level.as_str()),
                            format!("threshold {t} lies outside the plausible range {min}…{max}"),
                        ));
                    }
                }
            }
            let r = k.relative;
            let relative = [r.blue, r.yellow, r.orange, r.red];
            for (level, rel) in AlertLevel::ALL.into_iter().zip(&relative) {
                if let Some(rel) = rel {
                    if rel.field.is_empty() || !rel.offset.is_finite() {
                        return Err(bad(
                            at(&format!("relative.{level}")),
                            "needs a field name and a finite offset".into(),
                        ));
                    }
                }
            }
            if absolute.is_empty() && relative.iter().all(Option::is_none) {
                return Err(bad(
                    format!("kinds.{name}"),
                    "give at least one threshold (blue, yellow, orange, red)".into(),
                ));
            }
            kinds.push(KindDef {
                name,
                title: k.title,
                unit: k.unit,
                roles: k.roles,
                min,
                max,
                absolute,
                relative,
                basis: k.basis,
            });
        }
        let mut overrides = Vec::with_capacity(raw.overrides.len());
        for (i, o) in raw.overrides.into_iter().enumerate() {
            let kind = kinds.iter().position(|k| k.name == o.kind).ok_or_else(|| {
                bad(
                    format!("overrides[{i}].kind"),
                    format!("unknown kind {:?}", o.kind),
                )
            })?;
            let levels = Levels([o.blue, o.yellow, o.orange, o.red]);
            if levels.is_empty() {
                return Err(bad(
                    format!("overrides[{i}]"),
                    "give at least one threshold".into(),
                ));
            }
            overrides.push(Override {
                station: o.station,
                kind,
                levels,
            });
        }
        Ok(FeedConfig {
            file: path.to_path_buf(),
            radius_m: raw.alerts.radius_m,
            future_tolerance_ms: raw.alerts.future_tolerance_s * 1000,
            kinds,
            overrides,
        })
    }

    pub fn kind_index(&self, name: &str) -> Option<usize> {
        self.kinds.iter().position(|k| k.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FeedConfig> {
        FeedConfig::parse(Path::new("thresholds.toml"), text)
    }

    const MINIMAL: &str = r#"
        [kinds.rain_1h]
        title = "1小时降雨量"
        unit = "mm"
        roles = ["rain_gauge"]
        range = [0, 250]
        blue = 20
        orange = 50
    "#;

    #[test]
    fn classify_takes_the_highest_level_reached() {
        let config = parse(MINIMAL).expect("parses");
        let k = &config.kinds[0];
        assert_eq!(k.absolute.classify(19.9), None);
        assert_eq!(k.absolute.classify(20.0), Some((AlertLevel::Blue, 20.0)));
        assert_eq!(k.absolute.classify(49.0), Some((AlertLevel::Blue, 20.0)));
        assert_eq!(k.absolute.classify(80.0), Some((AlertLevel::Orange, 50.0)));
        assert_eq!(config.radius_m, DEFAULT_RADIUS_M);
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse(&MINIMAL.replace("blue = 20", "blue = 60")).unwrap_err();
        assert!(e.to_string().contains("kinds.rain_1h.levels"), "{e}");
        let e = parse(&MINIMAL.replace("blue = 20", "bleu = 20")).unwrap_err();
        assert!(e.to_string().contains("bleu"), "{e}");
        let e = parse(&MINIMAL.replace("rain_gauge", "rain_barrel")).unwrap_err();
        assert!(e.to_string().contains("kinds.rain_1h.roles"), "{e}");
        let e = parse(&MINIMAL.replace("orange = 50", "orange = 300")).unwrap_err();
        assert!(e.to_string().contains("plausible range"), "{e}");
        let e = parse(&format!(
            "{MINIMAL}\n[[overrides]]\nstation = \"X\"\nkind = \"rain_2h\"\nred = 1\n"
        ))
        .unwrap_err();
        assert!(e.to_string().contains("overrides[0].kind"), "{e}");
    }

    #[test]
    fn the_shipped_file_loads() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data")
            .join(FILE_NAME);
        let config = FeedConfig::load(&path).expect("data/thresholds.toml loads");
        for name in ["rain_1h", "rain_24h", "water_level", "wind_speed"] {
            assert!(config.kind_index(name).is_some(), "{name}");
        }
    }
}

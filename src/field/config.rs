//! The field room's settings: `data/field.toml` (limits of the position checks, the worker
//! registry's rule, coverage radius, fence sources, the webhook). Absent keys take the
//! defaults written here, each with its reason.

use super::error::{FieldError, Result};
use crate::catalog::Role;
use serde::Deserialize;
use std::path::Path;

/// The file name under the tables directory (`data/`).
pub const FILE_NAME: &str = "field.toml";

#[derive(Debug, Clone)]
pub struct FieldConfig {
    /// Fixes stamped further ahead of the server's clock than this are refused.
    pub future_tolerance_ms: i64,
    /// Faster than this between two fixes is a GPS jump, refused.
    pub max_speed_mps: f64,
    /// Tracks older than this are pruned (`None`: kept).
    pub retention_ms: Option<i64>,
    /// A worker whose newest fix is older than this is not available.
    pub on_duty_within_ms: i64,
    pub inspectors_per_beat: usize,
    pub coverage_radius_m: f64,
    pub max_gap_ms: i64,
    pub webhook: Option<String>,
    pub fence_roles: Vec<Role>,
    pub min_fence_area_m2: f64,
}

impl Default for FieldConfig {
    fn default() -> Self {
        FieldConfig {
            future_tolerance_ms: 120_000,
            max_speed_mps: 200.0 / 3.6,
            retention_ms: Some(92 * 86_400_000),
            on_duty_within_ms: 600_000,
            inspectors_per_beat: 2,
            coverage_radius_m: 30.0,
            max_gap_ms: 300_000,
            webhook: None,
            fence_roles: vec![Role::Beat, Role::Town],
            min_fence_area_m2: 10.0,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    positions: Positions,
    #[serde(default)]
    workers: Workers,
    #[serde(default)]
    coverage: Coverage,
    #[serde(default)]
    fences: Fences,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Positions {
    future_tolerance_s: Option<i64>,
    max_speed_kmh: Option<f64>,
    retention_days: Option<i64>,
    on_duty_within_s: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Workers {
    inspectors_per_beat: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Coverage {
    radius_m: Option<f64>,
    max_gap_s: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fences {
    webhook: Option<String>,
    layer_roles: Option<Vec<String>>,
    min_area_m2: Option<f64>,
}

impl FieldConfig {
    /// Reads `path`; a missing file gives the defaults, a broken one an error naming the field.
    pub fn load(path: &Path) -> Result<FieldConfig> {
        let mut config = FieldConfig::default();
        if !path.is_file() {
            return Ok(config);
        }
        let bad = |field: &str, message: String| FieldError::Config {
            file: path.display().to_string(),
            field: field.to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad("", e.to_string()))?;
        let file: File = toml::from_str(&text).map_err(|e| bad("", e.to_string()))?;
        let positive = |field: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(v)
            } else {
                Err(bad(field, format!("must be a positive number, got {v}")))
            }
        };
        if let Some(s) = file.positions.future_tolerance_s {
            config.future_tolerance_ms =
                positive("positions.future_tolerance_s", s as f64)? as i64 * 1000;
        }
        if let Some(v) = file.positions.max_speed_kmh {
            config.max_speed_mps = positive("positions.max_speed_kmh", v)? / 3.6;
        }
        if let Some(days) = file.positions.retention_days {
            config.retention_ms = match days {
                0 => None,
                d if d > 0 => Some(d * 86_400_000),
                d => {
                    return Err(bad(
                        "positions.retention_days",
                        format!("must be 0 or more, got {d}"),
                    ));
                }
            };
        }
        if let Some(s) = file.positions.on_duty_within_s {
            config.on_duty_within_ms =
                positive("positions.on_duty_within_s", s as f64)? as i64 * 1000;
        }
        if let Some(n) = file.workers.inspectors_per_beat {
            config.inspectors_per_beat = n;
        }
        if let Some(r) = file.coverage.radius_m {
            config.coverage_radius_m = positive("coverage.radius_m", r)?;
        }
        if let Some(s) = file.coverage.max_gap_s {
            config.max_gap_ms = positive("coverage.max_gap_s", s as f64)? as i64 * 1000;
        }
        if let Some(url) = file.fences.webhook {
            config.webhook = Some(url);
        }
        if let Some(roles) = file.fences.layer_roles {
            config.fence_roles = roles
                .iter()
                .map(|r| {
                    Role::ALL
                        .into_iter()
                        .find(|x| x.as_str() == r)
                        .ok_or_else(|| bad("fences.layer_roles", format!("unknown role {r:?}")))
                })
                .collect::<Result<_>>()?;
        }
        if let Some(a) = file.fences.min_area_m2 {
            config.min_fence_area_m2 = positive("fences.min_area_m2", a)?;
        }
        if let Some(url) = &config.webhook {
            super::webhook::Target::parse(url).map_err(|m| bad("fences.webhook", m))?;
        }
        Ok(config)
    }
}

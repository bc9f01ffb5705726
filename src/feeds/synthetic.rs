//! A synthetic typhoon rainstorm over the district, for demonstrations, the replay tool and
//! the tests: `data/rainstorm-2026-typhoon.csv` is this function's output for the demo data
//! (a test regenerates it and fails if the committed file differs).
//!
//! Nothing here is observed weather. The model: a rain cell (Gaussian, 9 km scale) whose centre
//! crosses the district from the south-east (the Hangzhou Bay side, where typhoon rain bands
//! come ashore) to the north-west in 12 hours, strongest in hours 5–8 (≈ 50 mm/h at its core,
//! a typhoon rainstorm's order of magnitude), over light rain everywhere. Every 15 minutes each
//! rain gauge and weather station reports its trailing 1/3/6/12/24-hour totals (dry before the
//! storm), weather stations their 10-minute mean wind (strongest on the coast), and water-level
//! stations a level that starts 0.9 m below the station's 警戒水位 and rises with the rain at
//! the station (a linear reservoir with a 3-hour time constant), plus the tide at coastal
//! stations. Stations near the track go
//! through blue → red on the 3-hour totals and several rivers pass their warning level;
//! stations far from it stay quiet. Seeded per station: the same layers give the same file.

use super::thresholds::FeedConfig;
use crate::spatial::distance::metres;
use crate::spatial::{GeometryRef, LayerStore, PropertyValue};
use chrono::Offset as _;
use geo::Coord;
use rand::{Rng, SeedableRng};
use std::fmt::Write as _;

/// 2026-09-15T00:00:00+08:00, the start of the storm (the first reading is 15 minutes later).
pub const START_MS: i64 = 1_789_401_600_000;
pub const STEP_MS: i64 = 15 * 60 * 1000;
/// 12 hours of 15-minute steps.
pub const STEPS: usize = 48;
const HOUR_MS: f64 = 3_600_000.0;

/// One reading of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthReading {
    pub station: String,
    pub time: i64,
    pub kind: String,
    pub value: f64,
}

/// FNV-1a: a hash that never changes between Rust versions, for per-station seeds.
fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The rain cell's centre `hours` after the start.
fn cell_centre(hours: f64) -> Coord<f64> {
    let f = (hours / 12.0).clamp(0.0, 1.0);
    Coord {
        x: 121.78 + (121.40 - 121.78) * f,
        y: 30.74 + (31.02 - 30.74) * f,
    }
}

/// Rain rate (mm/h) at `p`, `hours` after the start, before the station's own variation.
fn rain_rate(p: Coord<f64>, hours: f64) -> f64 {
    let strength = 6.0 + 46.0 * (-((hours - 6.5) / 2.4).powi(2)).exp();
    let d_km = metres(p, cell_centre(hours)) / 1000.0;
    let band = (-(d_km / 9.0).powi(2)).exp();
    // Outer rain bands: light rain everywhere while the typhoon is near.
    let outer = 2.5 * (-((hours - 6.0) / 4.0).powi(2)).exp();
    strength * band + outer
}

fn window_steps(kind: &str) -> Option<usize> {
    match kind {
        "rain_1h" => Some(4),
        "rain_3h" => Some(12),
        "rain_6h" => Some(24),
        "rain_12h" => Some(48),
        "rain_24h" => Some(96),
        _ => None,
    }
}

fn round_to(x: f64, unit: f64) -> f64 {
    (x / unit).round() * unit
}

/// The recording for every station of `store` that `config` knows, in time order (then
/// station, then kind).
pub fn rainstorm(store: &LayerStore, config: &FeedConfig) -> Vec<SynthReading> {
    let mut out = Vec::new();
    for layer in store.layers() {
        let Some(role) = layer.def.role else { continue };
        let kinds: Vec<&str> = config
            .kinds
            .iter()
            .filter(|k| k.measured_by(role))
            .map(|k| k.name.as_str())
            .collect();
        if kinds.is_empty() {
            continue;
        }
        for i in 0..layer.len() {
            let GeometryRef::Point(p) = layer.geometry(i) else {
                continue;
            };
            let id = layer.id(i);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(stable_hash(id));
            // A gauge's catch and exposure differ from the model's by a few tens of percent.
            let catch: f64 = rng.random_range(0.85..1.15);
            let increments: Vec<f64> = (1..=STEPS)
                .map(|s| {
                    let mid = (s as f64 - 0.5) * STEP_MS as f64 / HOUR_MS;
                    let jitter: f64 = rng.random_range(0.8..1.2);
                    round_to(rain_rate(p, mid) * catch * jitter * 0.25, 0.1)
                })
                .collect();
            let warning = match layer.property(i, "warning_level_m") {
                Some(PropertyValue::Number(x)) => x,
                _ => 3.5,
            };
            let coastal = layer
                .property(i, "river")
                .and_then(|v| v.as_text())
                .is_some_and(|r| r.contains("海"));
            let base = warning - 0.9 + rng.random_range(-0.08..0.08);
            let gain: f64 = rng.random_range(0.014..0.019);
            let exposure = 1.0 + (30.95 - p.y).max(0.0) * 3.0;
            let mut storage = 0.0;
            for s in 1..=STEPS {
                let time = START_MS + s as i64 * STEP_MS;
                let hours = s as f64 * STEP_MS as f64 / HOUR_MS;
                storage = storage * (-0.25f64 / 3.0).exp() + increments[s - 1];
                for &kind in &kinds {
                    let value = if let Some(n) = window_steps(kind) {
                        let from = s.saturating_sub(n);
                        round_to(increments[from..s].iter().sum::<f64>(), 0.1)
                    } else if kind == "water_level" {
                        let tide = if coastal {
                            0.45 * (2.0 * std::f64::consts::PI * hours / 12.42).sin()
                        } else {
                            0.0
                        };
                        round_to(base + gain * storage + tide, 0.01)
                    } else if kind == "wind_speed" {
                        let gust: f64 = rng.random_range(-1.0..1.0);
                        let w = 6.0 + 15.0 * exposure * (-((hours - 7.0) / 3.0).powi(2)).exp();
                        round_to((w + gust).max(0.0), 0.1)
                    } else {
                        continue;
                    };
                    out.push(SynthReading {
                        station: id.to_string(),
                        time,
                        kind: kind.to_string(),
                        value,
                    });
                }
            }
        }
    }
    out.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then_with(|| a.station.cmp(&b.station))
            .then_with(|| a.kind.cmp(&b.kind))
    });
    out
}

/// CSV `station,time,kind,value` with Beijing-time (+08:00) RFC 3339 times, as the district's
/// automatic stations stamp them.
pub fn to_csv(readings: &[SynthReading]) -> String {
    // UTC+8 is a valid offset; the fallback to UTC only keeps this free of panics.
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap_or(chrono::Utc.fix());
    let mut out = String::with_capacity(readings.len() * 48 + 32);
    out.push_str("station,time,kind,value\n");
    for r in readings {
        let time = chrono::DateTime::from_timestamp_millis(r.time)
            .unwrap_or_default()
            .with_timezone(&beijing)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
        // Levels to the centimetre, rain and wind to a tenth, as the stations report them.
        let decimals = if r.kind == "water_level" { 2 } else { 1 };
        let _ = writeln!(
            out,
            "{},{},{},{:.*}",
            r.station, time, r.kind, decimals, r.value
        );
    }
    out
}

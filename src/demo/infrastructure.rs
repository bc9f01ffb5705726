//! Infrastructure and monitoring: roads, rivers, rain gauges, water-level and weather stations,
//! video cameras.

use super::context::{Context, point, weighted};
use super::lines::{clip_to_district, length_km};
use super::names::Namer;
use super::output::{Dataset, Feature, round7};
use crate::catalog::Role;
use geo::{Coord, Geometry, LineString};
use rand::Rng as _;
use serde_json::Value;

fn path(points: &[[f64; 2]]) -> LineString<f64> {
    LineString::new(
        points
            .iter()
            .map(|p| Coord {
                x: round7(p[0]),
                y: round7(p[1]),
            })
            .collect(),
    )
}

fn roads(ctx: &Context, namer: &Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("roads");
    let mut out = Vec::new();
    let push =
        |name: String, class: &str, lanes: i64, geometry: Geometry<f64>, out: &mut Vec<Feature>| {
            let code = format!("DL{:04}", out.len() + 1);
            out.push(Feature {
                id: code.clone(),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(name)),
                    ("class", Value::from(class)),
                    ("lanes", Value::from(lanes)),
                    ("length_km", Value::from(length_km(ctx, &geometry))),
                ],
                geometry,
            });
        };
    for road in &ctx.spec.road {
        if let Some(g) = clip_to_district(ctx, path(&road.path)) {
            push(road.name.clone(), &road.class, road.lanes, g, &mut out);
        }
    }
    // Local streets: a slightly skewed grid in each built-up area.
    for area in &ctx.spec.built_up {
        let centre = Coord {
            x: area.center[0],
            y: area.center[1],
        };
        let half = area.radius_km * 1000.0 * 0.9;
        let spacing = 420.0;
        let n = (half / spacing).floor() as i32;
        for k in -n..=n {
            let offset = k as f64 * spacing + rng.random_range(-60.0..60.0);
            let reach = (half * half - offset * offset).max(0.0).sqrt();
            if reach < 300.0 {
                continue;
            }
            for horizontal in [true, false] {
                let (a, b) = if horizontal {
                    (
                        ctx.frame.offset(centre, -reach, offset),
                        ctx.frame
                            .offset(centre, reach, offset + rng.random_range(-80.0..80.0)),
                    )
                } else {
                    (
                        ctx.frame.offset(centre, offset, -reach),
                        ctx.frame
                            .offset(centre, offset + rng.random_range(-80.0..80.0), reach),
                    )
                };
                let mid = ctx.frame.offset(
                    Coord {
                        x: (a.x + b.x) / 2.0,
                        y: (a.y + b.y) / 2.0,
                    },
                    rng.random_range(-40.0..40.0),
                    rng.random_range(-40.0..40.0),
                );
                let line = LineString::new(
                    vec![a, mid, b]
                        .into_iter()
                        .map(|c| Coord {
                            x: round7(c.x),
                            y: round7(c.y),
                        })
                        .collect(),
                );
                if let Some(g) = clip_to_district(ctx, line) {
                    let suffix = if horizontal { "路" } else { "街" };
                    let stem: String = namer.street(&mut rng).chars().take(2).collect();
                    let name = format!(
                        "{}{}{}",
                        area.name.chars().take(2).collect::<String>(),
                        stem,
                        suffix
                    );
                    let class = if k % 3 == 0 { "secondary" } else { "local" };
                    push(
                        name,
                        class,
                        if class == "secondary" { 4 } else { 2 },
                        g,
                        &mut out,
                    );
                }
            }
        }
    }
    out
}

fn rivers(ctx: &Context) -> Vec<Feature> {
    ctx.spec
        .river
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            // Rivers and the coast that form the district border stay whole; canals are clipped.
            let line = path(&r.path);
            let geometry = if r.kind == "canal" {
                clip_to_district(ctx, line)?
            } else {
                Geometry::LineString(line)
            };
            let code = format!("HD{:03}", i + 1);
            Some(Feature {
                id: code.clone(),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(r.name.clone())),
                    ("kind", Value::from(r.kind.clone())),
                    ("width_m", Value::from(r.width_m)),
                    ("length_km", Value::from(length_km(ctx, &geometry))),
                ],
                geometry,
            })
        })
        .collect()
}

/// Evenly spread stations: a jittered grid over the district thinned to `n`.
fn spread(ctx: &Context, n: usize, rng: &mut super::rng::Rng) -> Vec<(usize, Coord<f64>)> {
    let area_m2: f64 = ctx.admin.cells.iter().map(|c| c.area_m2).sum();
    let spacing = (area_m2 / n as f64).sqrt();
    let cells = ctx.sampler(|c| ctx.admin.cells[c].area_m2);
    let mut chosen: Vec<(usize, Coord<f64>)> = Vec::new();
    let mut min_gap = spacing * 0.8;
    let mut attempts = 0;
    while chosen.len() < n {
        let (cell, p) = ctx.place(&cells, rng);
        if chosen
            .iter()
            .all(|(_, q)| ctx.frame.distance_m(p, *q) >= min_gap)
        {
            chosen.push((cell, p));
        }
        attempts += 1;
        if attempts % 2000 == 0 {
            min_gap *= 0.8;
        }
    }
    chosen
}

fn rain_gauges(ctx: &Context) -> Vec<Feature> {
    let mut rng = ctx.rng("rain-gauges");
    spread(ctx, ctx.count("rain_gauges"), &mut rng)
        .into_iter()
        .enumerate()
        .map(|(i, (cell, p))| {
            let village = &ctx.admin.villages[ctx.admin.cells[cell].village];
            let code = format!("YL{:05}", 63100 + i);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(format!("{}雨量站", village.name))),
                    ("town_code", ctx.town_code(cell)),
                    (
                        "elevation_m",
                        Value::from((rng.random_range(2.8f64..5.5) * 10.0).round() / 10.0),
                    ),
                    (
                        "operator",
                        Value::from(if i % 4 == 0 {
                            "区气象局"
                        } else {
                            "区水务局"
                        }),
                    ),
                ],
            }
        })
        .collect()
}

fn water_level_stations(ctx: &Context) -> Vec<Feature> {
    let mut rng = ctx.rng("water-level");
    let n = ctx.count("water_level_stations");
    let rivers = &ctx.spec.river;
    let mut out = Vec::new();
    let mut i = 0;
    let mut guard = 0;
    while out.len() < n && guard < n * 100 {
        guard += 1;
        let river = &rivers[i % rivers.len()];
        i += 1;
        let k = rng.random_range(0..river.path.len() - 1);
        let t: f64 = rng.random_range(0.0..1.0);
        let (a, b) = (river.path[k], river.path[k + 1]);
        let on = Coord {
            x: a[0] + (b[0] - a[0]) * t,
            y: a[1] + (b[1] - a[1]) * t,
        };
        // Stations stand on the bank, inside the district.
        let bank = ctx.frame.offset(
            on,
            rng.random_range(-60.0..60.0),
            rng.random_range(-60.0..60.0),
        );
        let bank = Coord {
            x: round7(bank.x),
            y: round7(bank.y),
        };
        let Some(cell) = ctx.cells.containing(ctx.admin, bank) else {
            continue;
        };
        let code = format!("SW{:04}", out.len() + 1);
        let warning = if river.kind == "river" { 4.2 } else { 3.6 } + rng.random_range(-0.2..0.2);
        out.push(Feature {
            id: code.clone(),
            geometry: point(bank),
            properties: vec![
                ("code", Value::from(code)),
                (
                    "name",
                    Value::from(format!(
                        "{}{}水位站",
                        river.name, ctx.admin.villages[ctx.admin.cells[cell].village].name
                    )),
                ),
                ("river", Value::from(river.name.clone())),
                (
                    "warning_level_m",
                    Value::from((warning * 100.0f64).round() / 100.0),
                ),
                (
                    "guarantee_level_m",
                    Value::from(((warning + 0.6) * 100.0f64).round() / 100.0),
                ),
                ("town_code", ctx.town_code(cell)),
            ],
        });
    }
    out
}

fn weather_stations(ctx: &Context) -> Vec<Feature> {
    let mut rng = ctx.rng("weather");
    let n = ctx.count("weather_stations");
    (0..n)
        .map(|i| {
            let t = i % ctx.spec.town.len();
            let (cell, p) =
                ctx.place_near(ctx.admin.cells[ctx.seat_cell(t)].centroid, 2500.0, &mut rng);
            let national = i == 0;
            let code = format!("QX{:05}", 58460 + i);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    (
                        "name",
                        Value::from(if national {
                            format!("{}国家气象观测站", ctx.spec.district.name)
                        } else {
                            format!("{}自动气象站", ctx.spec.town[t].name)
                        }),
                    ),
                    (
                        "kind",
                        Value::from(if national {
                            "国家站"
                        } else {
                            "区域自动站"
                        }),
                    ),
                    ("town_code", ctx.town_code(cell)),
                    (
                        "elevation_m",
                        Value::from((rng.random_range(3.0f64..6.0) * 10.0).round() / 10.0),
                    ),
                ],
            }
        })
        .collect()
}

fn cameras(ctx: &Context) -> Vec<Feature> {
    let mut rng = ctx.rng("cameras");
    let n = ctx.count("cameras");
    let kinds = [
        (("治安", "gongan"), 0.5),
        (("交通", "jiaojing"), 0.25),
        (("城管", "chengguan"), 0.13),
        (("防汛", "shuiwu"), 0.07),
        (("危化监控", "yingji"), 0.05),
    ];
    let sampler = ctx.sampler(|c| {
        let cell = &ctx.admin.cells[c];
        cell.area_m2 * (0.05 + cell.urban * cell.urban * 4.0)
    });
    (0..n)
        .map(|i| {
            let (cell, p) = ctx.place(&sampler, &mut rng);
            let (kind, owner) = *weighted(&kinds, &mut rng);
            let code = format!("SP{:06}", i + 1);
            let village = &ctx.admin.villages[ctx.admin.cells[cell].village];
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    (
                        "name",
                        Value::from(format!("{}{}监控{:03}", village.name, kind, i % 1000)),
                    ),
                    ("kind", Value::from(kind)),
                    ("owner_type", Value::from(owner)),
                    (
                        "resolution",
                        Value::from(if rng.random_bool(0.7) { "1080P" } else { "4K" }),
                    ),
                    ("online", Value::from(rng.random_bool(0.96))),
                    ("town_code", ctx.town_code(cell)),
                    ("cell_code", ctx.cell_code(cell)),
                ],
            }
        })
        .collect()
}

pub fn datasets(ctx: &Context, namer: &Namer) -> Vec<Dataset> {
    vec![
        Dataset {
            role: Role::Road,
            features: roads(ctx, namer),
        },
        Dataset {
            role: Role::Water,
            features: rivers(ctx),
        },
        Dataset {
            role: Role::RainGauge,
            features: rain_gauges(ctx),
        },
        Dataset {
            role: Role::WaterLevelStation,
            features: water_level_stations(ctx),
        },
        Dataset {
            role: Role::WeatherStation,
            features: weather_stations(ctx),
        },
        Dataset {
            role: Role::Camera,
            features: cameras(ctx),
        },
    ]
}

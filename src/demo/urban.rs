//! Urban-management layers: city components, flood-prone points, construction sites, fire and
//! police stations.

use super::context::{Context, point, weighted};
use super::names::Namer;
use super::output::{Dataset, Feature};
use crate::catalog::{ClassKind, Role};
use rand::Rng as _;
use serde_json::Value;

fn components(ctx: &Context) -> Vec<Feature> {
    let mut rng = ctx.rng("components");
    let n = ctx.count("components");
    // The 151 component types with a weight: the major class's share spread evenly.
    let component_classes: Vec<_> = ctx
        .tables
        .classes
        .iter()
        .filter(|c| {
            ctx.tables
                .major(&c.major)
                .is_some_and(|m| m.kind == ClassKind::Component)
        })
        .collect();
    let mut types = Vec::new();
    for class in &component_classes {
        let share = ctx
            .spec
            .component_mix
            .get(&class.major)
            .copied()
            .unwrap_or(0.01);
        let siblings = component_classes
            .iter()
            .filter(|c| c.major == class.major)
            .count() as f64;
        types.push((*class, share / siblings));
    }
    let statuses = [
        ("完好", 0.91),
        ("破损", 0.05),
        ("丢失", 0.01),
        ("占用", 0.02),
        ("废弃", 0.01),
    ];
    let sampler = ctx.sampler(|c| {
        let cell = &ctx.admin.cells[c];
        cell.area_m2 * (0.04 + cell.urban.powi(2) * 3.0)
    });
    let mut serial: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    (0..n)
        .map(|_| {
            let (cell, p) = ctx.place(&sampler, &mut rng);
            let class = *weighted(&types, &mut rng);
            let major_name = ctx
                .tables
                .major(&class.major)
                .map(|m| m.name.clone())
                .unwrap_or_default();
            let number = serial.entry(class.code.as_str()).or_insert(0);
            *number += 1;
            // CJ/T 214 object code: district (6) + major (2) + minor (2) + serial (6).
            let digits: String = class.code.chars().filter(char::is_ascii_digit).collect();
            let code = format!("{}{}{:06}", ctx.spec.district.code, digits, number);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    ("class", Value::from(class.code.clone())),
                    ("class_name", Value::from(class.name.clone())),
                    ("major", Value::from(class.major.clone())),
                    ("major_name", Value::from(major_name)),
                    ("status", Value::from(*weighted(&statuses, &mut rng))),
                    ("owner_type", Value::from(class.unit_type.clone())),
                    ("installed", Value::from(rng.random_range(1995..=2026))),
                    ("town_code", ctx.town_code(cell)),
                    ("cell_code", ctx.cell_code(cell)),
                ],
            }
        })
        .collect()
}

fn flood_points(ctx: &Context, namer: &Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("flood-points");
    let n = ctx.count("flood_points");
    let causes = [
        ("排水能力不足", 0.4),
        ("地势低洼", 0.3),
        ("下立交", 0.12),
        ("管网未接通", 0.1),
        ("河道顶托", 0.08),
    ];
    let sampler = ctx.sampler(|c| {
        let cell = &ctx.admin.cells[c];
        cell.area_m2 * (0.02 + cell.urban.powi(2))
    });
    (0..n)
        .map(|i| {
            let (cell, p) = ctx.place(&sampler, &mut rng);
            let a = namer.street(&mut rng);
            let mut b = namer.street(&mut rng);
            if a == b {
                b = "新建路".into();
            }
            let code = format!("YLD{:03}", i + 1);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(format!("{a}{b}路口积水点"))),
                    ("cause", Value::from(*weighted(&causes, &mut rng))),
                    ("max_depth_cm", Value::from(rng.random_range(15..60))),
                    ("pumps", Value::from(rng.random_range(0..4))),
                    ("town_code", ctx.town_code(cell)),
                    ("cell_code", ctx.cell_code(cell)),
                ],
            }
        })
        .collect()
}

fn construction_sites(ctx: &Context, namer: &mut Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("construction");
    let n = ctx.count("construction_sites");
    let kinds = [
        ("住宅", 0.35),
        ("市政道路", 0.2),
        ("厂房", 0.15),
        ("公共建筑", 0.15),
        ("管线", 0.1),
        ("水利", 0.05),
    ];
    let sampler = ctx.sampler(|c| {
        let cell = &ctx.admin.cells[c];
        cell.area_m2 * (0.1 + cell.urban)
    });
    (0..n)
        .map(|i| {
            let (cell, p) = ctx.place(&sampler, &mut rng);
            let kind = *weighted(&kinds, &mut rng);
            let start_year = rng.random_range(2024..=2026);
            let start_month = rng.random_range(1..=12);
            let months = rng.random_range(6..36);
            let end_total = start_year * 12 + start_month - 1 + months;
            let status = if start_year == 2026 && start_month > 10 {
                "准备中"
            } else if rng.random_bool(0.1) {
                "停工"
            } else {
                "在建"
            };
            let village = &ctx.admin.villages[ctx.admin.cells[cell].village];
            let code = format!("GD{:02}{:04}", start_year % 100, i + 1);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(format!("{}{}项目", village.name, kind))),
                    ("kind", Value::from(kind)),
                    ("area_m2", Value::from(rng.random_range(20..800) * 100)),
                    (
                        "start_date",
                        Value::from(format!(
                            "{start_year}-{start_month:02}-{:02}",
                            rng.random_range(1..=28)
                        )),
                    ),
                    (
                        "end_date",
                        Value::from(format!(
                            "{}-{:02}-{:02}",
                            end_total / 12,
                            end_total % 12 + 1,
                            rng.random_range(1..=28)
                        )),
                    ),
                    ("contractor", Value::from(namer.firm(&mut rng, "建设"))),
                    (
                        "permit",
                        Value::from(format!(
                            "3101202{}{:05}",
                            start_year,
                            rng.random_range(0..100_000)
                        )),
                    ),
                    ("status", Value::from(status)),
                    ("night_work", Value::from(rng.random_bool(0.15))),
                    ("town_code", ctx.town_code(cell)),
                    ("cell_code", ctx.cell_code(cell)),
                ],
            }
        })
        .collect()
}

fn fire_police_stations(ctx: &Context) -> Vec<Feature> {
    let mut rng = ctx.rng("fire-police");
    let fire = ctx.count("fire_stations");
    let police = ctx.count("police_stations");
    let towns = ctx.spec.town.len();
    (0..fire + police)
        .map(|i| {
            let is_fire = i < fire;
            let k = if is_fire { i } else { i - fire };
            let t = k % towns;
            let town = &ctx.spec.town[t];
            let short = town
                .name
                .trim_end_matches('镇')
                .trim_end_matches("街道")
                .to_string();
            let (cell, p) = ctx.place_near(
                ctx.admin.cells[ctx.seat_cell(t)].centroid,
                if k < towns { 1500.0 } else { 4000.0 },
                &mut rng,
            );
            let name = match (is_fire, k < towns) {
                (true, true) => format!("奉贤区消防救援支队{short}站"),
                (true, false) => format!("奉贤区消防救援支队{short}特勤站{}", k / towns),
                (false, true) => format!("上海市公安局奉贤分局{short}派出所"),
                (false, false) => format!("上海市公安局奉贤分局{short}第{}警务站", k / towns + 1),
            };
            let code = format!("{}{:03}", if is_fire { "XF" } else { "GA" }, k + 1);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(name)),
                    ("kind", Value::from(if is_fire { "fire" } else { "police" })),
                    ("staff", Value::from(rng.random_range(25..120))),
                    ("vehicles", Value::from(rng.random_range(3..15))),
                    ("phone", Value::from(Namer::phone(&mut rng, false))),
                    ("town_code", ctx.town_code(cell)),
                ],
            }
        })
        .collect()
}

pub fn datasets(ctx: &Context, namer: &mut Namer) -> Vec<Dataset> {
    vec![
        Dataset {
            role: Role::Component,
            features: components(ctx),
        },
        Dataset {
            role: Role::FloodPoint,
            features: flood_points(ctx, namer),
        },
        Dataset {
            role: Role::ConstructionSite,
            features: construction_sites(ctx, namer),
        },
        Dataset {
            role: Role::FirePoliceStation,
            features: fire_police_stations(ctx),
        },
    ]
}

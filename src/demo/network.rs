//! The handling network: linkage centres, village workstations and handling units.

use super::context::{Context, point};
use super::names::Namer;
use super::output::{Dataset, Feature};
use crate::catalog::{Level, Role};
use rand::Rng as _;
use serde_json::Value;

/// The classes a unit of `unit_type` at `level` handles, as a comma-separated list.
fn classes_for(ctx: &Context, unit_type: &str, level: Level) -> (String, usize) {
    let codes: Vec<&str> = ctx
        .tables
        .classes
        .iter()
        .filter(|c| c.unit_type == unit_type && c.level == level)
        .map(|c| c.code.as_str())
        .collect();
    (codes.join(","), codes.len())
}

fn type_name(ctx: &Context, unit_type: &str) -> String {
    ctx.tables
        .unit_type(unit_type)
        .map(|u| u.name.clone())
        .unwrap_or_default()
}

pub fn datasets(ctx: &Context, namer: &mut Namer) -> Vec<Dataset> {
    let mut rng = ctx.rng("network");
    let district_seat = ctx.seat_cell(
        ctx.spec
            .town
            .iter()
            .position(|t| t.code.ends_with("101"))
            .unwrap_or(0),
    );
    let district_point = ctx.admin.cells[district_seat].centroid;

    // 13 linkage centres: the district centre and one sub-centre per town.
    let mut centres = vec![Feature {
        id: format!("LD{}", ctx.spec.district.code),
        geometry: point(super::places::point_in_cell(
            ctx.admin,
            district_seat,
            &mut rng,
        )),
        properties: vec![
            ("code", Value::from(format!("LD{}", ctx.spec.district.code))),
            (
                "name",
                Value::from(format!(
                    "{}城市综合管理和应急联动中心",
                    ctx.spec.district.name
                )),
            ),
            ("level", Value::from("district")),
            ("town_code", ctx.town_code(district_seat)),
            ("address", ctx.address(namer, district_seat, &mut rng)),
            ("phone", Value::from(Namer::phone(&mut rng, false))),
            ("duty_phone", Value::from(Namer::phone(&mut rng, false))),
            ("staff", Value::from(rng.random_range(60..90))),
        ],
    }];
    for (t, town) in ctx.spec.town.iter().enumerate() {
        let cell = ctx.seat_cell(t);
        centres.push(Feature {
            id: format!("LD{}", town.code),
            geometry: point(super::places::point_in_cell(ctx.admin, cell, &mut rng)),
            properties: vec![
                ("code", Value::from(format!("LD{}", town.code))),
                (
                    "name",
                    Value::from(format!("{}城市综合管理和应急联动分中心", town.name)),
                ),
                ("level", Value::from("town")),
                ("town_code", Value::from(town.code.clone())),
                ("address", ctx.address(namer, cell, &mut rng)),
                ("phone", Value::from(Namer::phone(&mut rng, false))),
                ("duty_phone", Value::from(Namer::phone(&mut rng, false))),
                ("staff", Value::from(rng.random_range(12..30))),
            ],
        });
    }

    // One workstation per village, in its most built-up cell.
    let workstations = ctx
        .admin
        .villages
        .iter()
        .map(|v| {
            let kind = if v.kind == "居委会" {
                "居民区"
            } else {
                "村"
            };
            Feature {
                id: format!("GZZ{}", v.code),
                geometry: point(super::places::point_in_cell(
                    ctx.admin,
                    v.anchor_cell,
                    &mut rng,
                )),
                properties: vec![
                    ("code", Value::from(format!("GZZ{}", v.code))),
                    ("name", Value::from(format!("{}{}工作站", v.name, kind))),
                    ("village_code", Value::from(v.code.clone())),
                    ("town_code", ctx.town_code(v.anchor_cell)),
                    ("address", ctx.address(namer, v.anchor_cell, &mut rng)),
                    ("phone", Value::from(Namer::phone(&mut rng, false))),
                    ("staff", Value::from(rng.random_range(4..12))),
                    (
                        "supervisors",
                        Value::from(v.cells.len().div_ceil(40).max(1)),
                    ),
                ],
            }
        })
        .collect();

    // District handling units: offices around the district seat.
    let district_units = ctx
        .spec
        .units
        .district_unit
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let (cell, p) = ctx.place_near(district_point, 2500.0, &mut rng);
            let (classes, count) = classes_for(ctx, &u.unit_type, Level::District);
            let code = format!("CZD{:03}", i + 1);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(u.name.clone())),
                    ("short_name", Value::from(u.short.clone())),
                    ("unit_type", Value::from(u.unit_type.clone())),
                    ("unit_type_name", Value::from(type_name(ctx, &u.unit_type))),
                    ("level", Value::from("district")),
                    ("jurisdiction", Value::from(ctx.spec.district.code.clone())),
                    ("classes", Value::from(classes)),
                    ("class_count", Value::from(count)),
                    ("address", ctx.address(namer, cell, &mut rng)),
                    ("phone", Value::from(Namer::phone(&mut rng, false))),
                ],
            }
        })
        .collect();

    // Town handling units: the first `units` templates for every town, near its seat.
    let mut town_units = Vec::new();
    for (t, town) in ctx.spec.town.iter().enumerate() {
        let seat = ctx.admin.cells[ctx.seat_cell(t)].centroid;
        for (i, template) in ctx.spec.units.town_unit.iter().take(town.units).enumerate() {
            let (cell, p) = ctx.place_near(seat, 1500.0, &mut rng);
            let (classes, count) = classes_for(ctx, &template.unit_type, Level::Town);
            let code = format!("CZT{}{:02}", &town.code[6..], i + 1);
            town_units.push(Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    (
                        "name",
                        Value::from(template.name.replace("{town}", &town.name)),
                    ),
                    (
                        "short_name",
                        Value::from(template.name.replace("{town}", "")),
                    ),
                    ("unit_type", Value::from(template.unit_type.clone())),
                    (
                        "unit_type_name",
                        Value::from(type_name(ctx, &template.unit_type)),
                    ),
                    ("level", Value::from("town")),
                    ("jurisdiction", Value::from(town.code.clone())),
                    ("classes", Value::from(classes)),
                    ("class_count", Value::from(count)),
                    ("address", ctx.address(namer, cell, &mut rng)),
                    ("phone", Value::from(Namer::phone(&mut rng, false))),
                ],
            });
        }
    }

    vec![
        Dataset {
            role: Role::LinkageCentre,
            features: centres,
        },
        Dataset {
            role: Role::Workstation,
            features: workstations,
        },
        Dataset {
            role: Role::DistrictUnit,
            features: district_units,
        },
        Dataset {
            role: Role::TownUnit,
            features: town_units,
        },
    ]
}

//! Features of the administrative and grid layers.

use super::admin::Admin;
use super::density::Intensity;
use super::output::{Dataset, Feature};
use super::rings::{assemble, trace_rings, union_boundary};
use super::spec::Spec;
use crate::catalog::Role;
use geo::{Geometry, MultiPolygon};
use serde_json::Value;

fn polygonal(m: &MultiPolygon<f64>) -> Geometry<f64> {
    if m.0.len() == 1 {
        Geometry::Polygon(m.0[0].clone())
    } else {
        Geometry::MultiPolygon(m.clone())
    }
}

fn km2(m2: f64) -> Value {
    Value::from((m2 / 1e4).round() / 100.0)
}

/// Households at Shanghai's average of about 2.4 people per household (synthetic).
fn households(population: u64) -> Value {
    Value::from((population as f64 / 2.4).round() as i64)
}

pub fn land_use(intensity: &Intensity, admin: &Admin, cell: usize) -> &'static str {
    let c = &admin.cells[cell];
    if intensity.zone(c.centroid).is_some() {
        "工业园区"
    } else if c.urban >= 0.45 {
        "建成区"
    } else if c.urban >= 0.2 {
        "城乡结合"
    } else {
        "农村"
    }
}

pub fn datasets(spec: &Spec, admin: &Admin, intensity: &Intensity) -> Result<Vec<Dataset>, String> {
    let all: Vec<usize> = (0..admin.cells.len()).collect();
    let edges = union_boundary(
        all.iter()
            .flat_map(|&c| admin.cells[c].rings.iter().map(Vec::as_slice)),
    );
    let district = assemble(&trace_rings(&edges, &admin.coords)?, &admin.coords);
    let d = &spec.district;
    let area: f64 = admin.cells.iter().map(|c| c.area_m2).sum();
    let district_feature = Feature {
        id: d.code.clone(),
        geometry: polygonal(&district),
        properties: vec![
            ("code", Value::from(d.code.clone())),
            ("name", Value::from(d.name.clone())),
            ("name_en", Value::from(d.name_en.clone())),
            ("population", Value::from(d.population)),
            ("migrant_population", Value::from(d.migrant_population)),
            ("area_km2", km2(area)),
            ("town_count", Value::from(admin.towns.len())),
            ("village_count", Value::from(admin.villages.len())),
            ("cell_count", Value::from(admin.cells.len())),
        ],
    };

    let towns = admin
        .towns
        .iter()
        .map(|t| {
            let s = &spec.town[t.spec];
            Feature {
                id: s.code.clone(),
                geometry: polygonal(&t.polygon),
                properties: vec![
                    ("code", Value::from(s.code.clone())),
                    ("name", Value::from(s.name.clone())),
                    ("name_en", Value::from(s.name_en.clone())),
                    ("kind", Value::from(s.kind.clone())),
                    ("population", Value::from(t.population)),
                    ("households", households(t.population)),
                    ("area_km2", km2(t.area_m2)),
                    ("village_count", Value::from(t.villages.len())),
                    ("cell_count", Value::from(t.cells.len())),
                ],
            }
        })
        .collect();

    let villages = admin
        .villages
        .iter()
        .map(|v| {
            let town = &spec.town[admin.towns[v.town].spec];
            Feature {
                id: v.code.clone(),
                geometry: polygonal(&v.polygon),
                properties: vec![
                    ("code", Value::from(v.code.clone())),
                    ("name", Value::from(v.name.clone())),
                    ("kind", Value::from(v.kind)),
                    ("town_code", Value::from(town.code.clone())),
                    ("town_name", Value::from(town.name.clone())),
                    ("population", Value::from(v.population)),
                    ("households", households(v.population)),
                    ("area_km2", km2(v.area_m2)),
                    ("cell_count", Value::from(v.cells.len())),
                ],
            }
        })
        .collect();

    // Cells in code order, so the file reads village by village.
    let mut order: Vec<usize> = (0..admin.cells.len()).collect();
    order.sort_by(|&a, &b| admin.cells[a].code.cmp(&admin.cells[b].code));
    let cells = order
        .iter()
        .map(|&c| {
            let cell = &admin.cells[c];
            let village = &admin.villages[cell.village];
            let town = &spec.town[admin.towns[cell.town].spec];
            Feature {
                id: cell.code.clone(),
                geometry: polygonal(&cell.polygon),
                properties: vec![
                    ("code", Value::from(cell.code.clone())),
                    ("village_code", Value::from(village.code.clone())),
                    ("village_name", Value::from(village.name.clone())),
                    ("town_code", Value::from(town.code.clone())),
                    ("town_name", Value::from(town.name.clone())),
                    (
                        "beat_code",
                        Value::from(admin.beats[cell.beat].code.clone()),
                    ),
                    ("land_use", Value::from(land_use(intensity, admin, c))),
                    ("area_m2", Value::from(cell.area_m2.round() as i64)),
                    ("population", Value::from(cell.population)),
                ],
            }
        })
        .collect();

    let beats = admin
        .beats
        .iter()
        .map(|b| {
            let village = &admin.villages[b.village];
            let town = &spec.town[admin.towns[village.town].spec];
            let area: f64 = b.cells.iter().map(|&c| admin.cells[c].area_m2).sum();
            Feature {
                id: b.code.clone(),
                geometry: polygonal(&b.polygon),
                properties: vec![
                    ("code", Value::from(b.code.clone())),
                    ("village_code", Value::from(village.code.clone())),
                    ("village_name", Value::from(village.name.clone())),
                    ("town_code", Value::from(town.code.clone())),
                    ("supervisor", Value::from(b.supervisor.clone())),
                    ("phone", Value::from(b.phone.clone())),
                    ("cell_count", Value::from(b.cells.len())),
                    ("area_km2", km2(area)),
                ],
            }
        })
        .collect();

    Ok(vec![
        Dataset {
            role: Role::District,
            features: vec![district_feature],
        },
        Dataset {
            role: Role::Town,
            features: towns,
        },
        Dataset {
            role: Role::Village,
            features: villages,
        },
        Dataset {
            role: Role::GridCell,
            features: cells,
        },
        Dataset {
            role: Role::Beat,
            features: beats,
        },
    ])
}

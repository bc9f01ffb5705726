//! The administrative hierarchy: unit grid cells, villages, towns and supervisor beats.
//!
//! Cells come from the exact subdivision; villages, towns and beats are unions of whole cells,
//! so a cell lies in exactly one village and a village in exactly one town *by construction*,
//! and their borders are the cells' own edges.

use super::density::{Frame, Intensity, M_PER_DEG_LAT};
use super::names::Namer;
use super::partition::{Warp, assign, kmeans, make_contiguous};
use super::rings::{Vid, assemble, ring_coords, trace_rings, union_boundary};
use super::rng::{Rng, stream};
use super::spec::Spec;
use super::subdivision;
use geo::{Area, Centroid, Coord, MultiPolygon, Polygon};
use rand::Rng as _;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct CellInfo {
    pub rings: Vec<Vec<Vid>>,
    pub polygon: MultiPolygon<f64>,
    pub centroid: Coord<f64>,
    pub area_m2: f64,
    pub urban: f64,
    pub town: usize,
    pub village: usize,
    pub beat: usize,
    pub code: String,
    pub population: u64,
}

#[derive(Debug, Clone)]
pub struct VillageInfo {
    pub code: String,
    pub name: String,
    /// 居委会 (residential committee) or 村委会 (village committee).
    pub kind: &'static str,
    pub town: usize,
    pub cells: Vec<usize>,
    pub polygon: MultiPolygon<f64>,
    pub population: u64,
    pub area_m2: f64,
    /// The most central of its most urban cells: where its workstation sits.
    pub anchor_cell: usize,
}

#[derive(Debug, Clone)]
pub struct TownInfo {
    pub spec: usize,
    pub cells: Vec<usize>,
    pub villages: Vec<usize>,
    pub polygon: MultiPolygon<f64>,
    pub population: u64,
    pub area_m2: f64,
}

#[derive(Debug, Clone)]
pub struct BeatInfo {
    pub code: String,
    pub village: usize,
    pub cells: Vec<usize>,
    pub polygon: MultiPolygon<f64>,
    pub supervisor: String,
    pub phone: String,
}

pub struct Admin {
    pub coords: Vec<Coord<f64>>,
    pub cells: Vec<CellInfo>,
    pub villages: Vec<VillageInfo>,
    pub towns: Vec<TownInfo>,
    pub beats: Vec<BeatInfo>,
    /// Cell adjacency through shared edges.
    pub neighbours: Vec<Vec<usize>>,
}

/// Square metres per square degree at the district's latitude.
pub fn m2_per_deg2(frame: &Frame) -> f64 {
    M_PER_DEG_LAT * frame.m_per_deg_lon()
}

fn metric(frame: &Frame, origin: Coord<f64>, c: Coord<f64>) -> [f64; 2] {
    [
        (c.x - origin.x) * frame.m_per_deg_lon(),
        (c.y - origin.y) * M_PER_DEG_LAT,
    ]
}

/// Jittered seeds: the district's bounding box in blocks, each block split finer where the
/// land is built up, one jittered seed per sub-square.
fn seeds(
    spec: &Spec,
    outline: &Polygon<f64>,
    frame: &Frame,
    intensity: &Intensity,
    rng: &mut Rng,
) -> Vec<Coord<f64>> {
    use geo::BoundingRect;
    let Some(bbox) = outline.bounding_rect() else {
        return Vec::new();
    };
    let block_lon = spec.cells.block_m / frame.m_per_deg_lon();
    let block_lat = spec.cells.block_m / M_PER_DEG_LAT;
    let (x0, y0) = (bbox.min().x - block_lon, bbox.min().y - block_lat);
    let nx = ((bbox.width() + 2.0 * block_lon) / block_lon).ceil() as usize;
    let ny = ((bbox.height() + 2.0 * block_lat) / block_lat).ceil() as usize;
    let mut out = Vec::new();
    for j in 0..ny {
        for i in 0..nx {
            let centre = Coord {
                x: x0 + (i as f64 + 0.5) * block_lon,
                y: y0 + (j as f64 + 0.5) * block_lat,
            };
            let k = if intensity.urban(centre) >= spec.cells.urban_threshold {
                spec.cells.urban_split
            } else {
                spec.cells.rural_split
            };
            let (sx, sy) = (block_lon / k as f64, block_lat / k as f64);
            for b in 0..k {
                for a in 0..k {
                    let jx: f64 = rng.random_range(-1.0..1.0) * spec.cells.jitter;
                    let jy: f64 = rng.random_range(-1.0..1.0) * spec.cells.jitter;
                    out.push(Coord {
                        x: x0 + i as f64 * block_lon + (a as f64 + 0.5 + jx) * sx,
                        y: y0 + j as f64 * block_lat + (b as f64 + 0.5 + jy) * sy,
                    });
                }
            }
        }
    }
    out
}

fn union(
    cells: &[CellInfo],
    members: &[usize],
    coords: &[Coord<f64>],
) -> Result<MultiPolygon<f64>, String> {
    let edges = union_boundary(
        members
            .iter()
            .flat_map(|&c| cells[c].rings.iter().map(Vec::as_slice)),
    );
    let rings = trace_rings(&edges, coords)?;
    Ok(assemble(&rings, coords))
}

/// Neighbour lists restricted to `members` (indexes into `members`).
fn local_neighbours(members: &[usize], neighbours: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let position: HashMap<usize, usize> =
        members.iter().enumerate().map(|(i, &c)| (c, i)).collect();
    members
        .iter()
        .map(|&c| {
            neighbours[c]
                .iter()
                .filter_map(|n| position.get(n).copied())
                .collect()
        })
        .collect()
}

/// Orders cells north→south in rows, west→east within a row (how cell codes are numbered).
fn reading_order(cells: &[CellInfo], members: &mut [usize]) {
    if members.is_empty() {
        return;
    }
    let mean_area: f64 =
        members.iter().map(|&c| cells[c].area_m2).sum::<f64>() / members.len() as f64;
    let row_h = mean_area.sqrt() / M_PER_DEG_LAT;
    let top = members
        .iter()
        .map(|&c| cells[c].centroid.y)
        .fold(f64::MIN, f64::max);
    members.sort_by(|&a, &b| {
        let ra = ((top - cells[a].centroid.y) / row_h).floor() as i64;
        let rb = ((top - cells[b].centroid.y) / row_h).floor() as i64;
        ra.cmp(&rb)
            .then(cells[a].centroid.x.total_cmp(&cells[b].centroid.x))
    });
}

/// Splits `total` in proportion to `weights` with integer parts that add up exactly.
pub fn apportion(total: u64, weights: &[f64]) -> Vec<u64> {
    let sum: f64 = weights.iter().sum();
    if sum <= 0.0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<f64> = weights.iter().map(|w| w / sum * total as f64).collect();
    let mut parts: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
    let mut remainder = total - parts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        (exact[b] - exact[b].floor())
            .total_cmp(&(exact[a] - exact[a].floor()))
            .then(a.cmp(&b))
    });
    for i in order {
        if remainder == 0 {
            break;
        }
        parts[i] += 1;
        remainder -= 1;
    }
    parts
}

pub fn build(
    spec: &Spec,
    outline: &Polygon<f64>,
    frame: &Frame,
    intensity: &Intensity,
    seed: u64,
    namer: &mut Namer,
) -> Result<Admin, String> {
    let mut rng = stream(seed, "cells");
    let seeds = seeds(spec, outline, frame, intensity, &mut rng);
    let sub = subdivision::build(&seeds, outline, frame.x_scale)?;
    let coords = sub.coords;
    let area_factor = m2_per_deg2(frame);

    let mut cells: Vec<CellInfo> = Vec::with_capacity(sub.cells.len());
    for cell in sub.cells {
        let polygon = MultiPolygon::new(
            cell.rings
                .iter()
                .map(|r| Polygon::new(ring_coords(r, &coords), vec![]))
                .collect(),
        );
        let centroid = polygon.centroid().map(|p| p.0).unwrap_or(cell.seed);
        let area_m2 = polygon.unsigned_area() * area_factor;
        cells.push(CellInfo {
            rings: cell.rings,
            urban: intensity.urban(centroid),
            polygon,
            centroid,
            area_m2,
            town: 0,
            village: 0,
            beat: 0,
            code: String::new(),
            population: 0,
        });
    }

    // Adjacency through shared edges.
    let mut by_edge: HashMap<(Vid, Vid), Vec<usize>> = HashMap::new();
    for (i, cell) in cells.iter().enumerate() {
        for ring in &cell.rings {
            for k in 0..ring.len() {
                let (a, b) = (ring[k], ring[(k + 1) % ring.len()]);
                by_edge.entry((a.min(b), a.max(b))).or_default().push(i);
            }
        }
    }
    let mut neighbours: Vec<Vec<usize>> = vec![Vec::new(); cells.len()];
    for owners in by_edge.values() {
        if let [a, b] = owners[..] {
            if a != b {
                neighbours[a].push(b);
                neighbours[b].push(a);
            }
        }
    }
    for list in &mut neighbours {
        list.sort_unstable();
        list.dedup();
    }

    // Towns: weighted Voronoi regions of the seats in warped space, then made contiguous.
    let origin = Coord {
        x: spec.town[0].seat[0],
        y: spec.town[0].seat[1],
    };
    let town_warp = Warp::new(&mut stream(seed, "town-warp"), 900.0, (2500.0, 7000.0));
    let warped: Vec<[f64; 2]> = cells
        .iter()
        .map(|c| town_warp.apply(metric(frame, origin, c.centroid)))
        .collect();
    let seats: Vec<[f64; 2]> = spec
        .town
        .iter()
        .map(|t| {
            metric(
                frame,
                origin,
                Coord {
                    x: t.seat[0],
                    y: t.seat[1],
                },
            )
        })
        .collect();
    let weights: Vec<f64> = spec.town.iter().map(|t| t.weight).collect();
    let mut town_of = assign(&warped, &seats, &weights);
    make_contiguous(&mut town_of, &neighbours);
    for (cell, &t) in cells.iter_mut().zip(&town_of) {
        cell.town = t;
    }

    // Villages: weighted k-means inside each town; built-up land weighs more, so residential
    // committees come out smaller than farming villages.
    let village_warp = Warp::new(&mut stream(seed, "village-warp"), 260.0, (900.0, 2600.0));
    let mut village_rng = stream(seed, "villages");
    let mut villages: Vec<VillageInfo> = Vec::new();
    let mut towns: Vec<TownInfo> = Vec::new();
    for (t, town_spec) in spec.town.iter().enumerate() {
        let members: Vec<usize> = (0..cells.len()).filter(|&c| cells[c].town == t).collect();
        if members.len() < town_spec.villages {
            return Err(format!(
                "{} has {} cells for {} villages",
                town_spec.name,
                members.len(),
                town_spec.villages
            ));
        }
        let points: Vec<[f64; 2]> = members
            .iter()
            .map(|&c| village_warp.apply(metric(frame, origin, cells[c].centroid)))
            .collect();
        let mass: Vec<f64> = members
            .iter()
            .map(|&c| cells[c].area_m2 * (1.0 + 6.0 * cells[c].urban.powi(2)))
            .collect();
        let mut labels = kmeans(&points, &mass, town_spec.villages, &mut village_rng);
        make_contiguous(&mut labels, &local_neighbours(&members, &neighbours));
        // Classify and order the villages of this town, then give codes.
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); town_spec.villages];
        for (i, &l) in labels.iter().enumerate() {
            groups[l].push(members[i]);
        }
        groups.retain(|g| !g.is_empty());
        let mut described: Vec<(bool, Coord<f64>, Vec<usize>)> = groups
            .into_iter()
            .map(|g| {
                let area: f64 = g.iter().map(|&c| cells[c].area_m2).sum();
                let urban: f64 = g
                    .iter()
                    .map(|&c| cells[c].urban * cells[c].area_m2)
                    .sum::<f64>()
                    / area;
                let cx = g
                    .iter()
                    .map(|&c| cells[c].centroid.x * cells[c].area_m2)
                    .sum::<f64>()
                    / area;
                let cy = g
                    .iter()
                    .map(|&c| cells[c].centroid.y * cells[c].area_m2)
                    .sum::<f64>()
                    / area;
                (urban >= 0.3, Coord { x: cx, y: cy }, g)
            })
            .collect();
        described.sort_by(|a, b| {
            b.0.cmp(&a.0)
                .then(b.1.y.total_cmp(&a.1.y))
                .then(a.1.x.total_cmp(&b.1.x))
        });
        let (mut next_residential, mut next_village) = (1, 201);
        let mut town_villages = Vec::new();
        for (residential, _, group) in described {
            let number = if residential {
                &mut next_residential
            } else {
                &mut next_village
            };
            let code = format!("{}{:03}", town_spec.code, number);
            *number += 1;
            let (kind, name) = if residential {
                ("居委会", namer.unique_place(&mut village_rng, "社区"))
            } else {
                ("村委会", namer.unique_place(&mut village_rng, "村"))
            };
            let v = villages.len();
            for &c in &group {
                cells[c].village = v;
            }
            let anchor_cell = *group
                .iter()
                .max_by(|&&a, &&b| cells[a].urban.total_cmp(&cells[b].urban).then(b.cmp(&a)))
                .unwrap_or(&group[0]);
            town_villages.push(v);
            villages.push(VillageInfo {
                code,
                name,
                kind,
                town: t,
                area_m2: group.iter().map(|&c| cells[c].area_m2).sum(),
                cells: group,
                polygon: MultiPolygon::new(vec![]),
                population: 0,
                anchor_cell,
            });
        }
        towns.push(TownInfo {
            spec: t,
            area_m2: members.iter().map(|&c| cells[c].area_m2).sum(),
            cells: members,
            villages: town_villages,
            polygon: MultiPolygon::new(vec![]),
            population: 0,
        });
    }

    // Cell codes: village code + 3-digit sequence in reading order.
    for v in &mut villages {
        reading_order(&cells, &mut v.cells);
        if v.cells.len() > 999 {
            return Err(format!(
                "village {} has {} cells; codes allow 999",
                v.code,
                v.cells.len()
            ));
        }
        for (seq, &c) in v.cells.iter().enumerate() {
            cells[c].code = format!("{}{:03}", v.code, seq + 1);
        }
    }

    // Population: density from urban intensity, apportioned exactly to the district total.
    let density = |u: f64| {
        spec.population.rural_density
            + (spec.population.urban_density - spec.population.rural_density) * u.powf(1.5)
    };
    let cell_weight: Vec<f64> = cells
        .iter()
        .map(|c| c.area_m2 / 1e6 * density(c.urban))
        .collect();
    let village_weight: Vec<f64> = villages
        .iter()
        .map(|v| v.cells.iter().map(|&c| cell_weight[c]).sum())
        .collect();
    let village_pop = apportion(spec.district.population, &village_weight);
    for (v, village) in villages.iter_mut().enumerate() {
        village.population = village_pop[v];
        let weights: Vec<f64> = village.cells.iter().map(|&c| cell_weight[c]).collect();
        for (&c, p) in village
            .cells
            .iter()
            .zip(apportion(village_pop[v], &weights))
        {
            cells[c].population = p;
        }
    }
    for town in &mut towns {
        town.population = town.villages.iter().map(|&v| villages[v].population).sum();
    }

    // Supervisor beats inside each village.
    let mut beat_rng = stream(seed, "beats");
    let mut beats: Vec<BeatInfo> = Vec::new();
    for (v, village) in villages.iter().enumerate() {
        let per_beat = if village.kind == "居委会" {
            spec.cells.beat_cells_urban
        } else {
            spec.cells.beat_cells_rural
        };
        let k = village.cells.len().div_ceil(per_beat).clamp(1, 99);
        let points: Vec<[f64; 2]> = village
            .cells
            .iter()
            .map(|&c| metric(frame, origin, cells[c].centroid))
            .collect();
        let mass: Vec<f64> = vec![1.0; points.len()];
        let mut labels = kmeans(&points, &mass, k, &mut beat_rng);
        make_contiguous(&mut labels, &local_neighbours(&village.cells, &neighbours));
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); k];
        for (i, &l) in labels.iter().enumerate() {
            groups[l].push(village.cells[i]);
        }
        groups.retain(|g| !g.is_empty());
        // Number beats in the reading order of their first cell.
        for g in &mut groups {
            g.sort_by_key(|&c| cells[c].code.clone());
        }
        groups.sort_by(|a, b| cells[a[0]].code.cmp(&cells[b[0]].code));
        for (n, group) in groups.into_iter().enumerate() {
            let b = beats.len();
            for &c in &group {
                cells[c].beat = b;
            }
            beats.push(BeatInfo {
                code: format!("{}{:02}", village.code, n + 1),
                village: v,
                cells: group,
                polygon: MultiPolygon::new(vec![]),
                supervisor: namer.person(&mut beat_rng),
                phone: Namer::phone(&mut beat_rng, true),
            });
        }
    }

    for village in &mut villages {
        village.polygon = union(&cells, &village.cells, &coords)?;
    }
    for town in &mut towns {
        town.polygon = union(&cells, &town.cells, &coords)?;
    }
    for beat in &mut beats {
        beat.polygon = union(&cells, &beat.cells, &coords)?;
    }
    Ok(Admin {
        coords,
        cells,
        villages,
        towns,
        beats,
        neighbours,
    })
}

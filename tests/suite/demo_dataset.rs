//! The Fengxian demo dataset as the centre would use it: the real counts hold, codes follow the
//! national rules, cells tile villages and villages tile towns, and the generator is
//! deterministic.

use crate::common;

use common::{demo_dir, demo_store, generate_into, layers_dir};
use geo::{Contains, Point};
use gridlink::catalog::Role;
use gridlink::catalog::hazard_grade::{Holding, grade};
use gridlink::spatial::{GeometryRef, Layer, PropertyValue};
use rand::{Rng, SeedableRng};
use std::collections::HashSet;

fn layer(role: Role) -> &'static Layer {
    demo_store().by_role(role).expect("layer for role")
}

fn text(layer: &Layer, i: usize, field: &str) -> String {
    match layer.property(i, field) {
        Some(PropertyValue::Text(s)) => s.to_string(),
        other => panic!("{}: {field} is {other:?}", layer.def.id),
    }
}

fn integer(layer: &Layer, i: usize, field: &str) -> i64 {
    match layer.property(i, field) {
        Some(PropertyValue::Integer(n)) => n,
        other => panic!("{}: {field} is {other:?}", layer.def.id),
    }
}

#[test]
fn the_district_has_its_real_counts() {
    let store = demo_store();
    assert_eq!(store.layers().len(), 27);
    assert_eq!(layer(Role::District).len(), 1);
    assert_eq!(layer(Role::Town).len(), 12);
    assert_eq!(layer(Role::Village).len(), 215);
    assert_eq!(layer(Role::LinkageCentre).len(), 13);
    assert_eq!(layer(Role::Workstation).len(), 215);
    assert_eq!(layer(Role::DistrictUnit).len(), 43);
    assert_eq!(layer(Role::TownUnit).len(), 273);
    assert!(
        layer(Role::GridCell).len() >= 40_000,
        "cells: {}",
        layer(Role::GridCell).len()
    );
    assert!(layer(Role::Component).len() >= 100_000);
    for l in store.layers() {
        assert!(
            l.report.problems.is_empty(),
            "{} skipped {:?}",
            l.def.id,
            l.report.problems.first()
        );
        assert!(!l.is_empty(), "{} is empty", l.def.id);
    }
}

#[test]
fn towns_carry_their_real_names_and_codes() {
    let towns = layer(Role::Town);
    let mut found: Vec<(String, String)> = (0..towns.len())
        .map(|i| (towns.id(i).to_string(), text(towns, i, "name")))
        .collect();
    found.sort();
    let expected = [
        ("310120001", "西渡街道"),
        ("310120002", "奉浦街道"),
        ("310120003", "金海街道"),
        ("310120101", "南桥镇"),
        ("310120102", "奉城镇"),
        ("310120104", "庄行镇"),
        ("310120106", "金汇镇"),
        ("310120109", "四团镇"),
        ("310120111", "青村镇"),
        ("310120118", "柘林镇"),
        ("310120123", "海湾镇"),
        ("310120503", "海湾旅游区"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(c, n)| (c.to_string(), n.to_string()))
        .collect();
    assert_eq!(found, expected);
}

#[test]
fn codes_follow_the_12_and_15_digit_rules() {
    let villages = layer(Role::Village);
    for i in 0..villages.len() {
        let code = villages.id(i);
        assert_eq!(code.len(), 12, "{code}");
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert!(code.starts_with(&text(villages, i, "town_code")));
    }
    let cells = layer(Role::GridCell);
    let mut seen = HashSet::new();
    for i in 0..cells.len() {
        let code = cells.id(i);
        assert_eq!(code.len(), 15, "{code}");
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        assert!(code.starts_with(&text(cells, i, "village_code")));
        assert!(seen.insert(code));
    }
}

#[test]
fn village_populations_sum_to_the_district_total() {
    let villages = layer(Role::Village);
    let total: i64 = (0..villages.len())
        .map(|i| integer(villages, i, "population"))
        .sum();
    assert_eq!(total, 1_129_900);
    let cells = layer(Role::GridCell);
    let cell_total: i64 = (0..cells.len())
        .map(|i| integer(cells, i, "population"))
        .sum();
    assert_eq!(cell_total, 1_129_900);
}

#[test]
fn cells_are_about_a_hectare_in_town_and_larger_in_farmland() {
    let cells = layer(Role::GridCell);
    let mean = |use_: &str| {
        let areas: Vec<i64> = (0..cells.len())
            .filter(|&i| text(cells, i, "land_use") == use_)
            .map(|i| integer(cells, i, "area_m2"))
            .collect();
        areas.iter().sum::<i64>() as f64 / areas.len() as f64
    };
    let built_up = mean("建成区");
    let rural = mean("农村");
    assert!(
        (7_000.0..13_000.0).contains(&built_up),
        "built-up mean {built_up}"
    );
    assert!(
        rural > 1.4 * built_up,
        "rural mean {rural} vs built-up {built_up}"
    );
}

/// Random points checked with geo's point-in-polygon against every candidate, independently
/// of the generator: inside the district a point is in exactly one cell, that cell's village
/// contains it too, and that village's town as well; outside it is in none.
#[test]
fn cells_nest_in_villages_and_towns_without_gaps_or_overlaps() {
    let (cells, villages, towns, district) = (
        layer(Role::GridCell),
        layer(Role::Village),
        layer(Role::Town),
        layer(Role::District),
    );
    let polygon = |l: &Layer, i: usize| match l.geometry(i) {
        GeometryRef::Polygons(m) => m.clone(),
        _ => panic!("polygon layer"),
    };
    let containing = |l: &Layer, p: Point<f64>| -> Vec<usize> {
        (0..l.len())
            .filter(|&i| {
                l.index().at_point(p.0).contains(&(i as u32)) && polygon(l, i).contains(&p)
            })
            .collect()
    };
    let outline = polygon(district, 0);
    let extent = district.extent().expect("extent");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(42);
    let (mut inside, mut outside) = (0, 0);
    for _ in 0..3000 {
        let p = Point::new(
            rng.random_range(extent.min().x..extent.max().x),
            rng.random_range(extent.min().y..extent.max().y),
        );
        let in_cells: Vec<usize> = cells
            .index()
            .at_point(p.0)
            .into_iter()
            .map(|i| i as usize)
            .filter(|&i| polygon(cells, i).contains(&p))
            .collect();
        if !outline.contains(&p) {
            assert!(
                in_cells.is_empty(),
                "{p:?} is outside the district but in a cell"
            );
            outside += 1;
            continue;
        }
        inside += 1;
        assert_eq!(in_cells.len(), 1, "{p:?} lies in {} cells", in_cells.len());
        let cell = in_cells[0];
        let in_villages = containing(villages, p);
        assert_eq!(
            in_villages.len(),
            1,
            "{p:?} lies in {} villages",
            in_villages.len()
        );
        assert_eq!(
            villages.id(in_villages[0]),
            text(cells, cell, "village_code")
        );
        let in_towns = containing(towns, p);
        assert_eq!(in_towns.len(), 1);
        assert_eq!(towns.id(in_towns[0]), text(cells, cell, "town_code"));
    }
    assert!(
        inside > 1000 && outside > 100,
        "inside {inside}, outside {outside}"
    );
}

#[test]
fn the_topology_check_passes() {
    let report = gridlink::spatial::topology::check(demo_store()).expect("roles present");
    assert!(report.passed(), "{:#?}", report);
}

#[test]
fn hazard_source_grades_follow_gb_18218() {
    let tables = gridlink::catalog::CodeTables::load(&common::tables_dir()).expect("tables");
    let sources = layer(Role::HazardSource);
    let mut grades = HashSet::new();
    for i in 0..sources.len() {
        let ids = text(sources, i, "chemical_ids");
        let quantities = text(sources, i, "quantities_t");
        let holdings: Vec<Holding> = ids
            .split(',')
            .zip(quantities.split(','))
            .map(|(id, q)| {
                let chem = tables.chemical(id).expect("known chemical");
                Holding {
                    quantity_t: q.parse().expect("number"),
                    critical_quantity_t: chem.critical_quantity_t,
                    beta: chem.beta,
                }
            })
            .collect();
        let g = grade(&holdings, integer(sources, i, "exposed_people") as u32);
        assert!(
            g.ratio_sum >= 1.0,
            "{} is not a major hazard source",
            sources.id(i)
        );
        assert_eq!(
            g.grade.map(i64::from),
            Some(integer(sources, i, "grade")),
            "{}",
            sources.id(i)
        );
        grades.insert(integer(sources, i, "grade"));
    }
    assert!(grades.len() >= 3, "grades present: {grades:?}");
}

#[test]
fn hazard_sources_cluster_in_the_chemical_zones() {
    let sources = layer(Role::HazardSource);
    let in_zone = (0..sources.len())
        .filter(|&i| {
            text(sources, i, "zone").contains("化学工业区")
                || text(sources, i, "zone").contains("杭州湾")
        })
        .count();
    assert!(
        in_zone * 10 >= sources.len() * 6,
        "{in_zone} of {}",
        sources.len()
    );
}

#[test]
fn same_seed_and_scale_give_identical_bytes() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate_into(a.path(), 7, 0.2, &layers_dir());
    generate_into(b.path(), 7, 0.2, &layers_dir());
    generate_into(c.path(), 8, 0.2, &layers_dir());
    let mut files: Vec<_> = std::fs::read_dir(a.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        28,
        "27 layers and the data directory's dataset.toml"
    );
    for name in &files {
        let x = std::fs::read(a.path().join(name)).unwrap();
        let y = std::fs::read(b.path().join(name)).unwrap();
        assert!(
            x == y,
            "{name:?} differs between two runs with the same seed"
        );
    }
    let cells = |d: &std::path::Path| std::fs::read(d.join("grid_cells.geojson")).unwrap();
    assert_ne!(
        cells(a.path()),
        cells(c.path()),
        "another seed must give another grid"
    );
}

#[test]
fn the_default_dataset_is_the_one_on_disk() {
    // The fixture used by the other tests is the default seed at scale 1.
    assert!(demo_dir().join("grid_cells.geojson").is_file());
}

#[test]
fn components_cover_all_151_component_types() {
    let components = layer(Role::Component);
    let classes: HashSet<String> = (0..components.len())
        .map(|i| text(components, i, "class"))
        .collect();
    assert_eq!(classes.len(), 151);
    for i in (0..components.len()).step_by(997) {
        let code = components.id(i);
        assert_eq!(code.len(), 16, "{code}");
        assert!(code.starts_with("310120"));
    }
}

#[test]
fn every_handling_unit_has_a_type_level_jurisdiction_and_classes() {
    for (role, level) in [(Role::DistrictUnit, "district"), (Role::TownUnit, "town")] {
        let units = layer(role);
        for i in 0..units.len() {
            assert_eq!(text(units, i, "level"), level);
            assert!(!text(units, i, "unit_type").is_empty());
            assert!(!text(units, i, "phone").is_empty());
            let jurisdiction = text(units, i, "jurisdiction");
            assert!(jurisdiction.starts_with("310120"), "{jurisdiction}");
        }
        let with_classes = (0..units.len())
            .filter(|&i| integer(units, i, "class_count") > 0)
            .count();
        assert!(
            with_classes * 2 > units.len(),
            "{}: most units handle some classes",
            units.def.id
        );
    }
}

#[test]
fn shelters_never_hold_more_than_their_capacity() {
    let shelters = layer(Role::Shelter);
    for i in 0..shelters.len() {
        assert!(integer(shelters, i, "occupancy") <= integer(shelters, i, "capacity"));
        assert!(["open", "closed"].contains(&text(shelters, i, "status").as_str()));
        assert!(["I", "II", "III"].contains(&text(shelters, i, "class").as_str()));
    }
}

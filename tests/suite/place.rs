//! `services::place`, the one "where is this point and who handles it" that `/api/locate`, the
//! batch locate and case filing all ask, on the demo data: each answer is checked against the
//! layers themselves (the cell polygon holding the point, the codes the cell carries, the
//! units' types and jurisdictions), not against another call of the same code.

use crate::common;

use common::{demo_store, tables};
use geo::{Contains, Distance, Geodesic, InteriorPoint, Point};
use gridlink::catalog::{Level, Role};
use gridlink::services::ServiceError;
use gridlink::services::locate::DEFAULT_TOLERANCE_M;
use gridlink::services::place::{place, place_many};
use gridlink::services::routing::Basis;
use gridlink::spatial::{GeometryRef, Layer, PropertyValue};

fn layer(role: Role) -> &'static Layer {
    demo_store().by_role(role).expect("role present")
}

fn text(layer: &Layer, i: usize, field: &str) -> String {
    match layer.property(i, field) {
        Some(PropertyValue::Text(s)) => s.to_string(),
        other => panic!("{field}: {other:?}"),
    }
}

/// A text field, empty when the feature has none (as routing reads it).
fn text_or_empty(layer: &Layer, i: usize, field: &str) -> String {
    match layer.property(i, field) {
        Some(PropertyValue::Text(s)) => s.to_string(),
        _ => String::new(),
    }
}

/// Interior points of every 97th cell, with the cell they lie in.
fn cell_points() -> Vec<(usize, geo::Coord<f64>)> {
    let cells = layer(Role::GridCell);
    (0..cells.len())
        .step_by(97)
        .map(|i| match cells.geometry(i) {
            GeometryRef::Polygons(m) => (i, m.interior_point().expect("interior point").0),
            _ => panic!("cells are polygons"),
        })
        .collect()
}

#[test]
fn a_point_is_placed_in_the_cell_holding_it_with_that_cells_village_town_and_beat() {
    let (store, tables) = (demo_store(), tables());
    let cells = layer(Role::GridCell);
    for (i, p) in cell_points() {
        let placed = place(store, &tables, p, None, DEFAULT_TOLERANCE_M, 3).expect("inside");
        let codes = placed.codes(store);
        let holder = codes.cell.expect("a cell");
        let h = cells.find(holder).expect("a known cell");
        match cells.geometry(h) {
            GeometryRef::Polygons(m) => assert!(m.contains(&Point(p)), "{holder} holds {p:?}"),
            _ => panic!("cells are polygons"),
        }
        if !codes.ambiguous {
            assert_eq!(holder, cells.id(i));
        }
        assert_eq!(codes.village, Some(text(cells, h, "village_code").as_str()));
        assert_eq!(codes.town, Some(text(cells, h, "town_code").as_str()));
        assert_eq!(codes.beat, Some(text(cells, h, "beat_code").as_str()));
        assert!(placed.routing.is_none() && placed.unit(store).is_none());
    }
}

#[test]
fn with_a_class_the_unit_is_of_the_class_type_and_the_nearest_whose_jurisdiction_holds_the_cell() {
    let (store, tables) = (demo_store(), tables());
    let class = tables.class("C0101").expect("the demo's street-lamp class");
    let units = layer(match class.level {
        Level::District => Role::DistrictUnit,
        Level::Town => Role::TownUnit,
    });
    let mut by_jurisdiction = 0;
    for (_, p) in cell_points() {
        let placed = place(store, &tables, p, Some("C0101"), DEFAULT_TOLERANCE_M, 3).unwrap();
        let cell = placed.codes(store).cell.expect("a cell").to_string();
        let distance = |u: usize| match units.geometry(u) {
            GeometryRef::Point(c) => Geodesic.distance(Point(p), Point(c)),
            _ => panic!("units are points"),
        };
        // Independently: the units of the class's type, those holding the cell, the nearest.
        let of_type: Vec<usize> = (0..units.len())
            .filter(|&u| text_or_empty(units, u, "unit_type") == class.unit_type)
            .collect();
        let holding: Vec<usize> = of_type
            .iter()
            .copied()
            .filter(|&u| {
                text_or_empty(units, u, "jurisdiction")
                    .split(',')
                    .map(str::trim)
                    .any(|area| !area.is_empty() && cell.starts_with(area))
            })
            .collect();
        let nearest = |among: &[usize]| {
            among
                .iter()
                .copied()
                .min_by(|&a, &b| distance(a).total_cmp(&distance(b)))
        };
        let (code, basis) = placed.unit(store).expect("a unit of the type exists");
        let chosen = units.find(code).expect("a known unit");
        let expected = if holding.is_empty() {
            assert_eq!(basis, Basis::Nearest);
            nearest(&of_type)
        } else {
            by_jurisdiction += 1;
            assert_eq!(basis, Basis::Jurisdiction);
            nearest(&holding)
        };
        // Routing measures with a fast formula (within parts per million of the geodesic):
        // near-ties may fall either way, so the chosen unit need only be as near.
        let expected = expected.expect("some unit");
        assert!(
            distance(chosen) <= distance(expected) * (1.0 + 1e-5) + 0.01,
            "{cell}: chose {code}, expected {}",
            units.id(expected)
        );
        let listed = &placed.routing.as_ref().unwrap().nearest;
        assert_eq!(listed.len(), 3.min(of_type.len()));
        assert!(
            listed
                .windows(2)
                .all(|w| w[0].distance_m <= w[1].distance_m)
        );
    }
    assert!(
        by_jurisdiction > 0,
        "the demo's jurisdictions hold some cells"
    );
}

#[test]
fn a_point_outside_the_district_or_an_unknown_class_is_refused() {
    let (store, tables) = (demo_store(), tables());
    let far = geo::coord! { x: 116.39, y: 39.91 };
    assert_eq!(
        place(store, &tables, far, None, DEFAULT_TOLERANCE_M, 0).unwrap_err(),
        ServiceError::OutsideDistrict {
            lon: 116.39,
            lat: 39.91
        }
    );
    let (_, inside) = cell_points()[0];
    assert_eq!(
        place(
            store,
            &tables,
            inside,
            Some("X9999"),
            DEFAULT_TOLERANCE_M,
            0
        )
        .unwrap_err(),
        ServiceError::UnknownClass("X9999".into())
    );
}

#[test]
fn many_points_are_placed_as_each_alone_whatever_order_they_are_visited_in() {
    let (store, tables) = (demo_store(), tables());
    let mut points: Vec<geo::Coord<f64>> = cell_points().into_iter().map(|(_, p)| p).collect();
    points.push(geo::coord! { x: 116.39, y: 39.91 });
    let classes = ["C0101", "C0102"];
    let class_of = |i: usize| (i % 3 != 0).then_some(classes[i % 2]);
    let mut seen = vec![false; points.len()];
    place_many(
        store,
        &tables,
        &points,
        class_of,
        DEFAULT_TOLERANCE_M,
        1,
        |i, answer| {
            assert!(!seen[i], "point {i} answered once");
            seen[i] = true;
            let alone = place(
                store,
                &tables,
                points[i],
                class_of(i),
                DEFAULT_TOLERANCE_M,
                1,
            );
            match (answer, alone) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.codes(store), b.codes(store), "point {i}");
                    assert_eq!(a.unit(store), b.unit(store), "point {i}");
                    assert_eq!(a.routing.is_some(), class_of(i).is_some());
                }
                (Err(a), Err(b)) => assert_eq!(a, b),
                (a, b) => panic!("point {i}: {a:?} vs {b:?}"),
            }
        },
    );
    assert!(seen.iter().all(|s| *s));
}

//! Repairing invalid polygons with GEOS's MakeValid (through GDAL), for sources whose
//! `[source]` says `repair = "make_valid"`. Real boundary data — web-map exports, digitised
//! plans — often carries self-intersections a few metres long; refusing the whole district
//! for one of them helps nobody, but repairing silently would hide a changed shape, so every
//! repair is reported with the area it changed.
//!
//! GEOS is reached through the `gdal` crate because GDAL (Debian's, built with GEOS) is
//! already linked; no second geometry engine is added.

use gdal::cpl::CslStringList;
use gdal::vector::ToGdal;
use geo::{Area, Geometry, MultiPolygon};

/// The valid polygonal form of `g` (the `STRUCTURE` method: rings are read as an
/// outline-with-holes, the way a person reads the drawing), with how much the area changed
/// as a fraction of the original's. Lines and points the repair leaves over are dropped.
pub fn make_valid(g: &MultiPolygon<f64>) -> Result<(MultiPolygon<f64>, f64), String> {
    let before = g.unsigned_area();
    let geometry = Geometry::MultiPolygon(g.clone())
        .to_gdal()
        .map_err(|e| format!("cannot hand the polygon to GEOS: {e}"))?;
    let mut options = CslStringList::new();
    options
        .set_name_value("METHOD", "STRUCTURE")
        .map_err(|e| e.to_string())?;
    let repaired = geometry
        .make_valid(&options)
        .map_err(|e| format!("MakeValid failed: {e}"))?
        .to_geo()
        .map_err(|e| format!("cannot read the repaired polygon: {e}"))?;
    let mut polygons = Vec::new();
    collect(repaired, &mut polygons);
    if polygons.is_empty() {
        return Err("MakeValid left no polygon".into());
    }
    let fixed = MultiPolygon::new(polygons);
    let change = if before > 0.0 {
        (fixed.unsigned_area() - before).abs() / before
    } else {
        0.0
    };
    Ok((fixed, change))
}

fn collect(g: Geometry<f64>, out: &mut Vec<geo::Polygon<f64>>) {
    match g {
        Geometry::Polygon(p) => out.push(p),
        Geometry::MultiPolygon(m) => out.extend(m.0),
        Geometry::GeometryCollection(c) => c.0.into_iter().for_each(|g| collect(g, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Validation, polygon};

    #[test]
    fn a_bow_tie_becomes_two_valid_triangles() {
        let bow_tie = MultiPolygon::new(vec![polygon![
            (x: 0.0, y: 0.0), (x: 2.0, y: 2.0), (x: 2.0, y: 0.0), (x: 0.0, y: 2.0), (x: 0.0, y: 0.0)
        ]]);
        assert!(!bow_tie.is_valid());
        let (fixed, _) = make_valid(&bow_tie).unwrap();
        assert!(fixed.is_valid());
        assert_eq!(fixed.0.len(), 2);
        assert!((fixed.unsigned_area() - 2.0).abs() < 1e-9);
    }

    #[test]
    fn a_small_loop_on_a_square_changes_little_area() {
        // A 10 × 10 square whose top edge makes a tiny self-crossing loop.
        let square = MultiPolygon::new(vec![polygon![
            (x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0), (x: 5.1, y: 10.0),
            (x: 4.9, y: 10.2), (x: 4.9, y: 9.9), (x: 5.1, y: 10.2), (x: 4.8, y: 10.0),
            (x: 0.0, y: 10.0), (x: 0.0, y: 0.0)
        ]]);
        assert!(!square.is_valid());
        let (fixed, change) = make_valid(&square).unwrap();
        assert!(fixed.is_valid());
        assert!(change < 0.01, "{change}");
    }
}

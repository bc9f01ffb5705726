//! The rules every feature must pass before it enters the store, whatever its source.

use super::columns::OwnedValue;
use crate::catalog::{FieldDef, FieldType, GeometryKind};
use geo::{CoordsIter, Geometry, LineString, MultiLineString, MultiPolygon, Validation};
use serde_json::Value;

/// A geometry accepted for a layer, normalised to the layer's storage form.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    Point(geo::Coord<f64>),
    Lines(MultiLineString<f64>),
    Polygons(MultiPolygon<f64>),
}

fn type_name(g: &Geometry<f64>) -> &'static str {
    match g {
        Geometry::Point(_) => "Point",
        Geometry::Line(_) => "Line",
        Geometry::LineString(_) => "LineString",
        Geometry::Polygon(_) => "Polygon",
        Geometry::MultiPoint(_) => "MultiPoint",
        Geometry::MultiLineString(_) => "MultiLineString",
        Geometry::MultiPolygon(_) => "MultiPolygon",
        Geometry::GeometryCollection(_) => "GeometryCollection",
        Geometry::Rect(_) => "Rect",
        Geometry::Triangle(_) => "Triangle",
    }
}

/// Checks coordinates (finite, WGS84 range), the geometry type against the layer, and
/// OGC validity (closed rings, no self-intersection) for polygons.
pub fn geometry(kind: GeometryKind, g: Geometry<f64>) -> Result<Accepted, String> {
    for c in g.coords_iter() {
        if !(c.x.is_finite() && c.y.is_finite()) {
            return Err(format!(
                "coordinate ({}, {}) is not a finite number",
                c.x, c.y
            ));
        }
        if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
            return Err(format!(
                "coordinate ({}, {}) is outside longitude -180..180 / latitude -90..90 \
                 (is the file in WGS84 lon/lat?)",
                c.x, c.y
            ));
        }
    }
    let wrong = |g: &Geometry<f64>| {
        Err(format!(
            "geometry is a {}, but the layer holds {} features",
            type_name(g),
            kind.as_str()
        ))
    };
    match (kind, g) {
        (GeometryKind::Point, Geometry::Point(p)) => Ok(Accepted::Point(p.0)),
        (GeometryKind::Line, Geometry::LineString(l)) => lines(MultiLineString::new(vec![l])),
        (GeometryKind::Line, Geometry::MultiLineString(m)) => lines(m),
        (GeometryKind::Polygon, Geometry::Polygon(p)) => polygons(MultiPolygon::new(vec![p])),
        (GeometryKind::Polygon, Geometry::MultiPolygon(m)) => polygons(m),
        (_, g) => wrong(&g),
    }
}

fn distinct_points(line: &LineString<f64>) -> bool {
    line.0.windows(2).any(|w| w[0] != w[1])
}

fn lines(m: MultiLineString<f64>) -> Result<Accepted, String> {
    if m.0.is_empty() {
        return Err("empty line geometry".into());
    }
    if let Some(i) = m.0.iter().position(|l| !distinct_points(l)) {
        return Err(format!("line {i} has fewer than two distinct points"));
    }
    Ok(Accepted::Lines(m))
}

fn polygons(m: MultiPolygon<f64>) -> Result<Accepted, String> {
    if m.0.is_empty() {
        return Err("empty polygon geometry".into());
    }
    if let Some(problem) = m.validation_errors().into_iter().next() {
        return Err(format!("invalid polygon: {problem}"));
    }
    Ok(Accepted::Polygons(m))
}

/// Removes what real polygon data often carries and OGC validity forbids although it encloses
/// nothing: repeated points and zero-width spikes (a vertex visited on the way out and back).
/// The area and every other vertex stay exactly as they were. Returns the ring, closed.
pub fn clean_ring(mut coords: Vec<geo::Coord<f64>>) -> Vec<geo::Coord<f64>> {
    if coords.len() > 1 && coords.first() == coords.last() {
        coords.pop();
    }
    loop {
        let before = coords.len();
        coords.dedup();
        while coords.len() > 1 && coords.first() == coords.last() {
            coords.pop();
        }
        let n = coords.len();
        if n < 3 {
            break;
        }
        let mut keep = vec![true; n];
        for i in 0..n {
            let prev = coords[(i + n - 1) % n];
            let next = coords[(i + 1) % n];
            // A spike: we arrive from `prev`, step out and come straight back along the line.
            let (ax, ay) = (coords[i].x - prev.x, coords[i].y - prev.y);
            let (bx, by) = (next.x - coords[i].x, next.y - coords[i].y);
            let scale = (ax.abs() + ay.abs()) * (bx.abs() + by.abs());
            let collinear = (ax * by - ay * bx).abs() <= scale * 1e-12;
            let reverses = ax * bx + ay * by < 0.0;
            if collinear && reverses && keep[(i + n - 1) % n] {
                keep[i] = false;
            }
        }
        let mut i = 0;
        coords.retain(|_| {
            i += 1;
            keep[i - 1]
        });
        if coords.len() == before {
            break;
        }
    }
    if let Some(&first) = coords.first() {
        coords.push(first);
    }
    coords
}

/// [`clean_ring`] on every ring of a polygon geometry; other geometries pass unchanged.
pub fn clean_polygons(g: &mut Geometry<f64>) {
    let clean = |p: &mut geo::Polygon<f64>| {
        p.exterior_mut(|r| *r = LineString::new(clean_ring(std::mem::take(&mut r.0))));
        p.interiors_mut(|rs| {
            for r in rs {
                *r = LineString::new(clean_ring(std::mem::take(&mut r.0)));
            }
        });
    };
    match g {
        Geometry::Polygon(p) => clean(p),
        Geometry::MultiPolygon(m) => m.0.iter_mut().for_each(clean),
        _ => {}
    }
}

/// Checks one attribute against its declared type. Missing and `null` are the same thing.
pub fn property(field: &FieldDef, value: Option<&Value>) -> Result<OwnedValue, String> {
    let value = match value {
        None | Some(Value::Null) if field.required => {
            return Err(format!("required property `{}` is missing", field.name));
        }
        None | Some(Value::Null) => return Ok(OwnedValue::Null),
        Some(v) => v,
    };
    let mismatch = || {
        Err(format!(
            "property `{}` must be {}, found {}",
            field.name,
            match field.kind {
                FieldType::String => "a string",
                FieldType::Integer => "an integer",
                FieldType::Number => "a finite number",
                FieldType::Boolean => "true or false",
            },
            describe(value)
        ))
    };
    match (field.kind, value) {
        (FieldType::String, Value::String(s)) => Ok(OwnedValue::Text(s.clone())),
        (FieldType::Integer, Value::Number(n)) => match n.as_i64() {
            Some(i) => Ok(OwnedValue::Integer(i)),
            None => mismatch(),
        },
        (FieldType::Number, Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(OwnedValue::Number(x)),
            _ => mismatch(),
        },
        (FieldType::Boolean, Value::Bool(b)) => Ok(OwnedValue::Boolean(*b)),
        _ => mismatch(),
    }
}

fn describe(value: &Value) -> String {
    let text = value.to_string();
    let short: String = text.chars().take(40).collect();
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    if short.len() < text.len() {
        format!("{kind} {short}…")
    } else {
        format!("{kind} {short}")
    }
}

/// Feature ids are kept as text; integer ids are written in decimal.
pub fn id(value: Option<&Value>, id_field: &str) -> Result<String, String> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
        Some(Value::Null) | None => Err(format!("missing id (field `{id_field}`)")),
        Some(other) => Err(format!(
            "id (field `{id_field}`) must be a non-empty string or an integer, found {}",
            describe(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{coord, line_string, point, polygon};

    #[test]
    fn points_must_be_finite_and_in_range() {
        assert!(geometry(GeometryKind::Point, point!(x: 121.4, y: 30.9).into()).is_ok());
        let err = geometry(GeometryKind::Point, point!(x: f64::NAN, y: 30.9).into()).unwrap_err();
        assert!(err.contains("not a finite number"), "{err}");
        let err = geometry(GeometryKind::Point, point!(x: 181.0, y: 30.9).into()).unwrap_err();
        assert!(err.contains("outside longitude"), "{err}");
    }

    #[test]
    fn geometry_type_must_match_layer() {
        let err = geometry(GeometryKind::Polygon, point!(x: 1.0, y: 1.0).into()).unwrap_err();
        assert!(err.contains("is a Point"), "{err}");
    }

    #[test]
    fn self_intersecting_polygon_is_refused() {
        let bow_tie = polygon![(x: 0., y: 0.), (x: 1., y: 1.), (x: 1., y: 0.), (x: 0., y: 1.)];
        let err = geometry(GeometryKind::Polygon, bow_tie.into()).unwrap_err();
        assert!(err.contains("invalid polygon"), "{err}");
    }

    #[test]
    fn degenerate_line_is_refused() {
        let line = line_string![coord! {x: 1., y: 1.}, coord! {x: 1., y: 1.}];
        assert!(geometry(GeometryKind::Line, line.into()).is_err());
    }

    #[test]
    fn spikes_and_repeated_points_are_removed_and_the_rest_kept() {
        // A square with a spike out of (1,1) to (2,2) and back, and a repeated point.
        let ring = vec![
            coord! {x: 0., y: 0.},
            coord! {x: 1., y: 0.},
            coord! {x: 1., y: 0.},
            coord! {x: 1., y: 1.},
            coord! {x: 2., y: 2.},
            coord! {x: 1., y: 1.},
            coord! {x: 0., y: 1.},
            coord! {x: 0., y: 0.},
        ];
        let cleaned = clean_ring(ring);
        assert_eq!(
            cleaned,
            vec![
                coord! {x: 0., y: 0.},
                coord! {x: 1., y: 0.},
                coord! {x: 1., y: 1.},
                coord! {x: 0., y: 1.},
                coord! {x: 0., y: 0.},
            ]
        );
    }

    #[test]
    fn property_types_are_enforced() {
        let field = FieldDef {
            name: "capacity".into(),
            kind: FieldType::Integer,
            title: "容量".into(),
            required: true,
            values: Default::default(),
            values_from: None,
        };
        assert_eq!(
            property(&field, Some(&Value::from(12))),
            Ok(OwnedValue::Integer(12))
        );
        let err = property(&field, Some(&Value::from("12"))).unwrap_err();
        assert!(err.contains("must be an integer, found string"), "{err}");
        let err = property(&field, None).unwrap_err();
        assert!(err.contains("required"), "{err}");
    }
}

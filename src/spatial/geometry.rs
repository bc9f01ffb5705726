//! A feature's geometry in the forms the store keeps: points as coordinates, lines and
//! polygons as multi-geometries. The layers hold them ([`super::layer`]) and the indexes
//! measure them ([`super::index`]).

use geo::{BoundingRect, Coord, MultiLineString, MultiPolygon, Rect};

/// Geometries in the one form the layer's kind allows.
#[derive(Debug, Clone)]
pub enum Geometries {
    Points(Vec<Coord<f64>>),
    Lines(Vec<MultiLineString<f64>>),
    Polygons(Vec<MultiPolygon<f64>>),
}

/// A borrowed geometry of one feature.
#[derive(Debug, Clone, Copy)]
pub enum GeometryRef<'a> {
    Point(Coord<f64>),
    Lines(&'a MultiLineString<f64>),
    Polygons(&'a MultiPolygon<f64>),
}

impl GeometryRef<'_> {
    pub fn to_geo(self) -> geo::Geometry<f64> {
        match self {
            GeometryRef::Point(c) => geo::Geometry::Point(c.into()),
            GeometryRef::Lines(m) if m.0.len() == 1 => geo::Geometry::LineString(m.0[0].clone()),
            GeometryRef::Lines(m) => geo::Geometry::MultiLineString(m.clone()),
            GeometryRef::Polygons(m) if m.0.len() == 1 => geo::Geometry::Polygon(m.0[0].clone()),
            GeometryRef::Polygons(m) => geo::Geometry::MultiPolygon(m.clone()),
        }
    }

    /// The coordinate of a point feature.
    pub fn to_geo_point(self) -> Option<Coord<f64>> {
        match self {
            GeometryRef::Point(c) => Some(c),
            _ => None,
        }
    }

    pub fn bounding_rect(self) -> Option<Rect<f64>> {
        match self {
            GeometryRef::Point(c) => Some(Rect::new(c, c)),
            GeometryRef::Lines(m) => m.bounding_rect(),
            GeometryRef::Polygons(m) => m.bounding_rect(),
        }
    }
}

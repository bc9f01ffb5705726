//! Line helpers: hand-drawn-looking routes, clipping to the district, lengths.

use super::context::Context;
use super::output::round7;
use geo::{BooleanOps, Coord, Geometry, LineString, MultiLineString};
use rand::Rng as _;

/// A route from `from` to `to` through five displaced waypoints.
pub fn wiggle_line(
    ctx: &Context,
    from: Coord<f64>,
    to: Coord<f64>,
    rng: &mut super::rng::Rng,
) -> LineString<f64> {
    let steps = 6;
    let mut points = vec![from];
    for s in 1..steps {
        let t = s as f64 / steps as f64;
        let base = Coord {
            x: from.x + (to.x - from.x) * t,
            y: from.y + (to.y - from.y) * t,
        };
        points.push(ctx.frame.offset(
            base,
            rng.random_range(-250.0..250.0),
            rng.random_range(-250.0..250.0),
        ));
    }
    points.push(to);
    LineString::new(
        points
            .into_iter()
            .map(|c| Coord {
                x: round7(c.x),
                y: round7(c.y),
            })
            .collect(),
    )
}

/// The parts of `line` inside the district, rounded to 1e-7°; `None` if nothing is left.
pub fn clip_to_district(ctx: &Context, line: LineString<f64>) -> Option<Geometry<f64>> {
    let clipped = ctx.outline.clip(&MultiLineString::new(vec![line]), false);
    let parts: Vec<LineString<f64>> = clipped
        .0
        .into_iter()
        .map(|l| {
            LineString::new(
                l.0.into_iter()
                    .map(|c| Coord {
                        x: round7(c.x),
                        y: round7(c.y),
                    })
                    .collect(),
            )
        })
        .filter(|l| l.0.len() >= 2 && l.0.windows(2).any(|w| w[0] != w[1]))
        .collect();
    match parts.len() {
        0 => None,
        1 => parts.into_iter().next().map(Geometry::LineString),
        _ => Some(Geometry::MultiLineString(MultiLineString::new(parts))),
    }
}

/// Planar length in km, two decimals.
pub fn length_km(ctx: &Context, g: &Geometry<f64>) -> f64 {
    let lines: Vec<&LineString<f64>> = match g {
        Geometry::LineString(l) => vec![l],
        Geometry::MultiLineString(m) => m.0.iter().collect(),
        _ => vec![],
    };
    let m: f64 = lines
        .iter()
        .flat_map(|l| l.0.windows(2))
        .map(|w| ctx.frame.distance_m(w[0], w[1]))
        .sum();
    (m / 10.0).round() / 100.0
}

//! Writing layers through GDAL: the demo dataset as a real centre delivers it (Gauss-Krüger
//! Shapefiles with GBK DBFs and `.prj` files), or GeoPackages in any CRS.

use crate::catalog::{FieldType, GeometryKind, LayerDef};
use gdal::vector::{FieldDefn, LayerAccess, LayerOptions};
use gdal::{DriverManager, spatial_ref::SpatialRef};
use gdal_sys::{OGRFieldType, OGRwkbGeometryType};
use geo::{Geometry, MultiLineString, MultiPolygon};
use geozero::GeozeroGeometry;
use serde_json::Value;
use std::path::Path;

/// One feature to write: its geometry, already in the target CRS, and its properties.
pub struct Row<'a> {
    pub geometry: Geometry<f64>,
    pub properties: &'a [(&'static str, Value)],
}

/// The longest text a DBF field holds.
const DBF_TEXT_MAX: usize = 254;
/// The longest field name a DBF holds; gridlink's reader matches names cut to this length.
pub const DBF_NAME_MAX: usize = 10;

fn wkb(geometry: &Geometry<f64>) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut writer = geozero::wkb::WkbWriter::new(&mut out, geozero::wkb::WkbDialect::Wkb);
    geometry
        .process_geom(&mut writer)
        .map_err(|e| format!("encoding a geometry: {e}"))?;
    Ok(out)
}

/// Lines and polygons as multi-geometries, so one layer type fits every feature.
fn promoted(kind: GeometryKind, geometry: Geometry<f64>) -> Geometry<f64> {
    match (kind, geometry) {
        (GeometryKind::Line, Geometry::LineString(l)) => {
            Geometry::MultiLineString(MultiLineString::new(vec![l]))
        }
        (GeometryKind::Polygon, Geometry::Polygon(p)) => {
            Geometry::MultiPolygon(MultiPolygon::new(vec![p]))
        }
        (_, g) => g,
    }
}

/// Writes one layer to `path` with GDAL `driver` ("ESRI Shapefile", "GPKG", …) in the CRS
/// `crs` (an EPSG code). Shapefile text goes into the DBF in `encoding` (e.g. GBK, with a
/// `.cpg` naming it); field names longer than a DBF allows are cut to 10 characters.
pub fn write_layer(
    path: &Path,
    driver: &str,
    def: &LayerDef,
    table: &str,
    epsg: u32,
    encoding: Option<&str>,
    rows: Vec<Row<'_>>,
) -> Result<(), String> {
    super::quiet_errors();
    let fail = |e: String| format!("{}: {e}", path.display());
    let gdal_fail = |e: gdal::errors::GdalError| fail(e.to_string());
    let shapefile = driver == "ESRI Shapefile";
    let encoder = encoding
        .and_then(|l| encoding_rs::Encoding::for_label(l.as_bytes()))
        .unwrap_or(encoding_rs::UTF_8);
    let driver = DriverManager::get_driver_by_name(driver).map_err(gdal_fail)?;
    let mut dataset = if path.exists() && !shapefile {
        gdal::Dataset::open_ex(
            path,
            gdal::DatasetOptions {
                open_flags: gdal::GdalOpenFlags::GDAL_OF_VECTOR
                    | gdal::GdalOpenFlags::GDAL_OF_UPDATE,
                ..Default::default()
            },
        )
        .map_err(gdal_fail)?
    } else {
        driver.create_vector_only(path).map_err(gdal_fail)?
    };
    let srs = SpatialRef::from_epsg(epsg).map_err(gdal_fail)?;
    let ty = match (def.geometry, shapefile) {
        (GeometryKind::Point, _) => OGRwkbGeometryType::wkbPoint,
        (GeometryKind::Line, true) => OGRwkbGeometryType::wkbLineString,
        (GeometryKind::Line, false) => OGRwkbGeometryType::wkbMultiLineString,
        (GeometryKind::Polygon, true) => OGRwkbGeometryType::wkbPolygon,
        (GeometryKind::Polygon, false) => OGRwkbGeometryType::wkbMultiPolygon,
    };
    let encoding_option = format!("ENCODING={}", encoding.unwrap_or("UTF-8"));
    let options: Vec<&str> = if shapefile {
        vec![encoding_option.as_str()]
    } else {
        Vec::new()
    };
    let mut transaction_ok = false;
    if !shapefile {
        // SAFETY: a live dataset; GPKG and FileGDB support (emulated) transactions.
        transaction_ok = unsafe {
            gdal_sys::GDALDatasetStartTransaction(dataset.c_dataset(), 0)
                == gdal_sys::OGRErr::OGRERR_NONE
        };
    }
    {
        let layer = dataset
            .create_layer(LayerOptions {
                name: table,
                srs: Some(&srs),
                ty,
                options: (!options.is_empty()).then_some(&options[..]),
            })
            .map_err(gdal_fail)?;
        for field in &def.fields {
            let name: String = if shapefile {
                field.name.chars().take(DBF_NAME_MAX).collect()
            } else {
                field.name.clone()
            };
            let kind = match field.kind {
                FieldType::String => OGRFieldType::OFTString,
                FieldType::Integer => OGRFieldType::OFTInteger64,
                FieldType::Number => OGRFieldType::OFTReal,
                FieldType::Boolean => OGRFieldType::OFTInteger,
            };
            let defn = FieldDefn::new(&name, kind).map_err(gdal_fail)?;
            if shapefile && field.kind == FieldType::String {
                let mut width = 1;
                for row in &rows {
                    if let Some((_, Value::String(s))) =
                        row.properties.iter().find(|(n, _)| *n == field.name)
                    {
                        let bytes = encoder.encode(s).0.len();
                        if bytes > DBF_TEXT_MAX {
                            return Err(fail(format!(
                                "field {} holds {bytes} bytes, more than a DBF field takes ({DBF_TEXT_MAX})",
                                field.name
                            )));
                        }
                        width = width.max(bytes);
                    }
                }
                defn.set_width(width as i32);
            }
            defn.add_to_layer(&layer).map_err(gdal_fail)?;
        }
        let feature_defn = layer.defn();
        for row in rows {
            let mut feature = gdal::vector::Feature::new(feature_defn).map_err(gdal_fail)?;
            let geometry = promoted(def.geometry, row.geometry);
            feature
                .set_geometry(
                    gdal::vector::Geometry::from_wkb(&wkb(&geometry)?).map_err(gdal_fail)?,
                )
                .map_err(gdal_fail)?;
            for (i, field) in def.fields.iter().enumerate() {
                let value = row
                    .properties
                    .iter()
                    .find(|(n, _)| *n == field.name)
                    .map(|(_, v)| v);
                match value {
                    None | Some(Value::Null) => {}
                    Some(Value::String(s)) => feature.set_field_string(i, s).map_err(gdal_fail)?,
                    Some(Value::Bool(b)) => feature
                        .set_field_integer(i, i32::from(*b))
                        .map_err(gdal_fail)?,
                    Some(Value::Number(n)) if field.kind == FieldType::Number => feature
                        .set_field_double(i, n.as_f64().unwrap_or(f64::NAN))
                        .map_err(gdal_fail)?,
                    Some(Value::Number(n)) => match n.as_i64() {
                        Some(v) => feature.set_field_integer64(i, v).map_err(gdal_fail)?,
                        None => feature
                            .set_field_double(i, n.as_f64().unwrap_or(f64::NAN))
                            .map_err(gdal_fail)?,
                    },
                    Some(other) => feature
                        .set_field_string(i, &other.to_string())
                        .map_err(gdal_fail)?,
                }
            }
            feature.create(&layer).map_err(gdal_fail)?;
        }
    }
    if transaction_ok {
        // SAFETY: the transaction started above on this dataset.
        let err = unsafe { gdal_sys::GDALDatasetCommitTransaction(dataset.c_dataset()) };
        if err != gdal_sys::OGRErr::OGRERR_NONE {
            return Err(fail(format!("commit failed (OGR error {err})")));
        }
    }
    dataset.close().map_err(gdal_fail)
}

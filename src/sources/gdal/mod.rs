//! Every other file format, through GDAL/OGR (Debian's GDAL 3.6): Shapefiles, ArcGIS file
//! geodatabases, MapInfo TAB/MIF, KML, GML, CSV with coordinate columns, FlatGeobuf, …
//!
//! Geometries leave OGR as ISO WKB and are decoded by geozero; attribute text is taken as raw
//! bytes (Shapefiles are opened with `ENCODING=` so GDAL does not recode them) and decoded
//! strictly in the layer's encoding ([`super::text`]). Values are matched to catalogue fields
//! by [`super::match_columns`] and coerced where the format has no types (CSV, KML): `"500"`
//! is the integer 500 for an integer field, and anything that is not stays a string, for
//! validation to report.

pub mod repair;
pub mod write;

use super::text::{self, TextEncoding};
use super::{BATCH, FeatureSink, LayerSource, Location, RawFeature, RawItem, SourceError};
use crate::catalog::{FieldType, LayerDef};
use gdal::vector::LayerAccess;
use gdal::{Dataset, DatasetOptions, GdalOpenFlags};
use gdal_sys::OGRFieldType;
use geozero::ToGeo;
use serde_json::{Map, Number, Value};
use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::Once;

/// Routes GDAL's warnings into the log instead of stderr (once per process).
pub fn quiet_errors() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        gdal::config::set_error_handler(|class, number, message| {
            tracing::debug!(?class, number, "GDAL: {message}");
        });
    });
}

/// A layer of a dataset GDAL opened.
pub struct GdalSource {
    dataset: Dataset,
    layer_index: usize,
    location: Location,
    driver: String,
    declared: Option<String>,
    /// How attribute text is decoded.
    encoding: TextEncoding,
    /// Whether GDAL already hands over UTF-8 (every driver but Shapefile and CSV).
    utf8_by_format: bool,
    count: Option<u64>,
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// A sibling file with `extension` in either case (`towns.dbf`, `towns.DBF`).
fn sibling(path: &Path, extension: &str) -> Option<PathBuf> {
    [
        extension.to_ascii_lowercase(),
        extension.to_ascii_uppercase(),
    ]
    .iter()
    .map(|e| path.with_extension(e))
    .find(|p| p.is_file())
}

impl GdalSource {
    /// Opens `path` (a file or, for FileGDB, a folder) and the layer the catalogue means.
    pub fn open(
        def: &LayerDef,
        path: PathBuf,
        layer_name: Option<&str>,
        encoding: Option<&str>,
    ) -> Result<GdalSource, SourceError> {
        quiet_errors();
        let unreadable = |message: String| SourceError::Unreadable {
            layer: def.id.clone(),
            location: Location::file(&path),
            message,
        };
        if !path.exists() {
            return Err(unreadable("no such file".into()));
        }
        let ext = extension(&path);
        if ext == "shp" {
            for (needed, what) in [("shx", "index"), ("dbf", "attribute table")] {
                if sibling(&path, needed).is_none() {
                    return Err(unreadable(format!(
                        "the Shapefile has no .{needed} ({what}) beside it: a Shapefile is the \
                         .shp, .shx and .dbf files together (with .prj for its CRS, .cpg for its \
                         encoding) — copy the whole set"
                    )));
                }
            }
        }
        let mut open_options: Vec<String> = Vec::new();
        let is_dbf = ext == "shp" || ext == "dbf";
        if is_dbf {
            // Hand over the DBF's bytes as they are: gridlink decodes them strictly.
            open_options.push("ENCODING=".into());
        }
        if ext == "csv" {
            if let (Some(x), Some(y)) = (&def.source.x, &def.source.y) {
                open_options.push(format!("X_POSSIBLE_NAMES={x}"));
                open_options.push(format!("Y_POSSIBLE_NAMES={y}"));
                open_options.push("KEEP_GEOM_COLUMNS=NO".into());
            }
        }
        let option_refs: Vec<&str> = open_options.iter().map(String::as_str).collect();
        let dataset = Dataset::open_ex(
            &path,
            DatasetOptions {
                open_flags: GdalOpenFlags::GDAL_OF_VECTOR | GdalOpenFlags::GDAL_OF_READONLY,
                open_options: (!option_refs.is_empty()).then_some(&option_refs[..]),
                ..Default::default()
            },
        )
        .map_err(|e| unreadable(format!("GDAL cannot open it as vector data: {e}")))?;
        let driver = dataset.driver().short_name();
        let names: Vec<String> = dataset.layers().map(|l| l.name()).collect();
        let layer_index = match layer_name {
            Some(name) => names.iter().position(|n| n == name).ok_or_else(|| {
                unreadable(format!(
                    "has no layer {name:?} (it has: {})",
                    names.join(", ")
                ))
            })?,
            None if names.len() == 1 => 0,
            None => names.iter().position(|n| *n == def.id).ok_or_else(|| {
                unreadable(format!(
                    "has {} layers ({}): name the one to read with `layer` in [source]",
                    names.len(),
                    names.join(", ")
                ))
            })?,
        };
        let location = Location::File {
            file: path.clone(),
            layer: (names.len() > 1 || layer_name.is_some()).then(|| names[layer_index].clone()),
        };
        let layer = dataset
            .layer(layer_index)
            .map_err(|e| unreadable(e.to_string()))?;
        let declared = layer.spatial_ref().and_then(|mut srs| {
            let _ = srs.auto_identify_epsg();
            match (srs.auth_name(), srs.auth_code()) {
                (Some(name), Ok(code)) if name.eq_ignore_ascii_case("epsg") => {
                    Some(format!("EPSG:{code}"))
                }
                _ => srs.to_wkt().ok().filter(|w| !w.is_empty()),
            }
        });
        let count = layer.try_feature_count();
        let utf8_by_format = !(is_dbf || ext == "csv");
        let encoding = if utf8_by_format {
            TextEncoding::UTF8_DEFAULT
        } else {
            source_encoding(def, &path, is_dbf, encoding)
        };
        Ok(GdalSource {
            dataset,
            layer_index,
            location,
            driver,
            declared,
            encoding,
            utf8_by_format,
            count,
        })
    }
}

/// The encoding of a DBF or CSV: the catalogue's `encoding`, else the `.cpg`, else the DBF's
/// language-driver id, else the data directory's manifest, else UTF-8.
fn source_encoding(
    def: &LayerDef,
    path: &Path,
    is_dbf: bool,
    fallback: Option<&str>,
) -> TextEncoding {
    if let Some(label) = &def.source.encoding {
        if let Some(e) = TextEncoding::from_label(label, "`encoding` in [source]") {
            return e;
        }
    }
    if is_dbf {
        let from_cpg = sibling(path, "cpg")
            .and_then(|cpg| std::fs::read_to_string(cpg).ok())
            .and_then(|content| text::from_cpg(&content));
        if let Some(e) = from_cpg.or_else(|| sibling(path, "dbf").and_then(|d| text::from_ldid(&d)))
        {
            return e;
        }
    }
    fallback
        .and_then(|label| TextEncoding::from_label(label, "the data directory's dataset.toml"))
        .unwrap_or(TextEncoding::UTF8_DEFAULT)
}

/// One source column: where it is and what OGR says it holds.
struct Column {
    index: i32,
    kind: OGRFieldType::Type,
}

/// Tally of non-ASCII text, to catch UTF-8 files declared as GBK (whose bytes often decode as
/// GBK without error, into nonsense).
#[derive(Default)]
struct TextTally {
    non_ascii: usize,
    valid_utf8: usize,
    example: Option<(usize, String)>,
}

impl LayerSource for GdalSource {
    fn location(&self) -> &Location {
        &self.location
    }

    fn format(&self) -> String {
        self.driver.clone()
    }

    fn declared_crs(&self) -> Option<String> {
        self.declared.clone()
    }

    fn feature_count(&self) -> Option<u64> {
        self.count
    }

    fn read(&mut self, def: &LayerDef, sink: &mut FeatureSink<'_>) -> Result<(), SourceError> {
        let malformed = |message: String| SourceError::Malformed {
            layer: def.id.clone(),
            location: self.location.clone(),
            message,
        };
        let layer = self
            .dataset
            .layer(self.layer_index)
            .map_err(|e| malformed(e.to_string()))?;
        // SAFETY: the layer handle lives as long as `layer` (and the dataset) below.
        let handle = unsafe { layer.c_layer() };
        // Column names are bytes in the file's encoding too (名称 in a GBK DBF).
        let mut names = Vec::new();
        let mut kinds = Vec::new();
        for field in layer.defn().fields() {
            kinds.push(field.field_type());
        }
        // SAFETY: handle is a live layer; the definition and its field definitions are owned
        // by it and only read here.
        unsafe {
            let defn = gdal_sys::OGR_L_GetLayerDefn(handle);
            for i in 0..gdal_sys::OGR_FD_GetFieldCount(defn) {
                let field = gdal_sys::OGR_FD_GetFieldDefn(defn, i);
                let raw = CStr::from_ptr(gdal_sys::OGR_Fld_GetNameRef(field)).to_bytes();
                names.push(
                    self.encoding
                        .decode(raw)
                        .unwrap_or_else(|_| String::from_utf8_lossy(raw).into_owned()),
                );
            }
        }
        let matched = super::match_columns(def, &names, &self.location)?;
        let columns: Vec<Option<Column>> = matched
            .iter()
            .map(|m| {
                m.map(|i| Column {
                    index: i as i32,
                    kind: kinds[i],
                })
            })
            .collect();
        let id_position = def.field_index(&def.source.id_field);
        let mut tally = TextTally::default();
        let mut batch: Vec<RawItem> = Vec::with_capacity(BATCH);
        let mut wkb: Vec<u8> = Vec::new();
        let mut index = 0usize;
        // SAFETY: handle is live; every feature returned is destroyed after use.
        unsafe { gdal_sys::OGR_L_ResetReading(handle) };
        loop {
            // SAFETY: as above.
            let feature = unsafe { gdal_sys::OGR_L_GetNextFeature(handle) };
            if feature.is_null() {
                break;
            }
            let decoded = decode_feature(
                feature,
                def,
                &columns,
                id_position,
                self.encoding,
                &mut wkb,
                &mut tally,
                index,
            );
            // SAFETY: the feature came from OGR_L_GetNextFeature and is destroyed once.
            unsafe { gdal_sys::OGR_F_Destroy(feature) };
            let decoded =
                decoded.map_err(|message| malformed(format!("feature #{index}: {message}")))?;
            batch.push(RawItem::at(index, decoded));
            index += 1;
            if batch.len() == BATCH {
                sink(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
            }
        }
        if !batch.is_empty() {
            sink(batch);
        }
        if !self.utf8_by_format
            && self.encoding.encoding != encoding_rs::UTF_8
            && tally.non_ascii >= 3
            && tally.valid_utf8 == tally.non_ascii
        {
            let (at, value) = tally.example.unwrap_or_default();
            return Err(malformed(format!(
                "the text is declared {} (by {}) but every non-ASCII value is valid UTF-8 \
                 (feature #{at} reads {value:?} as {}): the file is UTF-8 — set encoding = \
                 \"UTF-8\" in [source]",
                self.encoding.name(),
                self.encoding.basis,
                self.encoding.name()
            )));
        }
        Ok(())
    }
}

/// One OGR feature → a raw feature. `Err` only for text that does not decode (which fails the
/// layer: storing mojibake is worse than stopping); an unusable geometry is the feature's own
/// problem (`Ok(Err(..))`).
#[allow(clippy::too_many_arguments)]
fn decode_feature(
    feature: gdal_sys::OGRFeatureH,
    def: &LayerDef,
    columns: &[Option<Column>],
    id_position: Option<usize>,
    encoding: TextEncoding,
    wkb: &mut Vec<u8>,
    tally: &mut TextTally,
    index: usize,
) -> Result<Result<RawFeature, String>, String> {
    let mut properties = Map::new();
    for (field, column) in def.fields.iter().zip(columns) {
        let Some(column) = column else { continue };
        let value = read_value(feature, column, field.kind, encoding, tally, index)
            .map_err(|e| format!("column of field `{}` {e}", field.name))?;
        properties.insert(field.name.clone(), value);
    }
    let id = id_position
        .and_then(|i| properties.get(&def.fields[i].name))
        .filter(|v| !v.is_null())
        .cloned();
    Ok(read_geometry(feature, wkb).map(|geometry| RawFeature {
        id,
        geometry,
        properties,
    }))
}

fn read_geometry(
    feature: gdal_sys::OGRFeatureH,
    wkb: &mut Vec<u8>,
) -> Result<geo::Geometry<f64>, String> {
    // SAFETY: feature is live; the geometry it returns is owned by it. A linearised copy (for
    // curves) is owned here and destroyed below.
    unsafe {
        let geometry = gdal_sys::OGR_F_GetGeometryRef(feature);
        if geometry.is_null() || gdal_sys::OGR_G_IsEmpty(geometry) != 0 {
            return Err("feature has no geometry".into());
        }
        let linear = if gdal_sys::OGR_G_HasCurveGeometry(geometry, 0) != 0 {
            gdal_sys::OGR_G_GetLinearGeometry(geometry, 0.0, std::ptr::null_mut())
        } else {
            std::ptr::null_mut()
        };
        let source = if linear.is_null() { geometry } else { linear };
        let size = gdal_sys::OGR_G_WkbSize(source).max(0) as usize;
        wkb.clear();
        wkb.resize(size, 0);
        let err = gdal_sys::OGR_G_ExportToIsoWkb(
            source,
            gdal_sys::OGRwkbByteOrder::wkbNDR,
            wkb.as_mut_ptr(),
        );
        if !linear.is_null() {
            gdal_sys::OGR_G_DestroyGeometry(linear);
        }
        if err != gdal_sys::OGRErr::OGRERR_NONE {
            return Err(format!("OGR cannot export the geometry (error {err})"));
        }
    }
    geozero::wkb::Wkb(wkb.as_slice())
        .to_geo()
        .map_err(|e| format!("invalid geometry: {e}"))
}

fn read_value(
    feature: gdal_sys::OGRFeatureH,
    column: &Column,
    kind: FieldType,
    encoding: TextEncoding,
    tally: &mut TextTally,
    index: usize,
) -> Result<Value, String> {
    let i = column.index;
    // SAFETY: feature is live and i is a field index of its definition.
    if unsafe { gdal_sys::OGR_F_IsFieldSetAndNotNull(feature, i) } == 0 {
        return Ok(Value::Null);
    }
    match column.kind {
        OGRFieldType::OFTInteger | OGRFieldType::OFTInteger64 => {
            // SAFETY: as above.
            let n = unsafe { gdal_sys::OGR_F_GetFieldAsInteger64(feature, i) };
            Ok(match kind {
                FieldType::Boolean if n == 0 || n == 1 => Value::Bool(n == 1),
                FieldType::String => Value::String(n.to_string()),
                _ => Value::from(n),
            })
        }
        OGRFieldType::OFTReal => {
            // SAFETY: as above.
            let x = unsafe { gdal_sys::OGR_F_GetFieldAsDouble(feature, i) };
            Ok(match kind {
                FieldType::Integer if x.fract() == 0.0 && x.abs() < 9.0e15 => Value::from(x as i64),
                FieldType::String => Value::String(x.to_string()),
                // JSON has no NaN; keep it as a string so validation reports it.
                _ => {
                    Number::from_f64(x).map_or_else(|| Value::String(x.to_string()), Value::Number)
                }
            })
        }
        OGRFieldType::OFTDate | OGRFieldType::OFTDateTime => {
            let (mut y, mut mo, mut d, mut h, mut mi, mut tz) = (0, 0, 0, 0, 0, 0);
            let mut s = 0f32;
            // SAFETY: as above; out-pointers point at locals.
            let ok = unsafe {
                gdal_sys::OGR_F_GetFieldAsDateTimeEx(
                    feature, i, &mut y, &mut mo, &mut d, &mut h, &mut mi, &mut s, &mut tz,
                )
            };
            if ok == 0 {
                return Ok(Value::Null);
            }
            // ISO 8601, as the catalogue's date fields are written; midnight is a date.
            let text = if column.kind == OGRFieldType::OFTDate || (h, mi, s) == (0, 0, 0.0) {
                format!("{y:04}-{mo:02}-{d:02}")
            } else {
                format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{:02}", s as u32)
            };
            Ok(coerce(text, kind))
        }
        _ => {
            // SAFETY: as above; the string is owned by the feature and copied at once.
            let bytes =
                unsafe { CStr::from_ptr(gdal_sys::OGR_F_GetFieldAsString(feature, i)) }.to_bytes();
            if !bytes.is_ascii() {
                tally.non_ascii += 1;
                if std::str::from_utf8(bytes).is_ok() {
                    tally.valid_utf8 += 1;
                }
            }
            let text = encoding
                .decode(bytes)
                .map_err(|e| format!("(declared {} by {}) {e}", encoding.name(), encoding.basis))?;
            if tally.example.is_none() && !bytes.is_ascii() {
                tally.example = Some((index, text.clone()));
            }
            Ok(coerce(text, kind))
        }
    }
}

/// Text from a typeless format, as the catalogue field's type when it reads as one. Empty text
/// is a missing value (DBF and CSV cannot tell the two apart).
fn coerce(text: String, kind: FieldType) -> Value {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Value::Null;
    }
    match kind {
        FieldType::Integer => trimmed
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(text)),
        FieldType::Number => trimmed
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::String(text)),
        FieldType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "t" | "y" | "yes" | "1" => Value::Bool(true),
            "false" | "f" | "n" | "no" | "0" => Value::Bool(false),
            _ => Value::String(text),
        },
        FieldType::String => Value::String(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typeless_text_becomes_the_declared_type_or_stays_text() {
        assert_eq!(coerce("500".into(), FieldType::Integer), Value::from(500));
        assert_eq!(
            coerce("five".into(), FieldType::Integer),
            Value::String("five".into())
        );
        assert_eq!(coerce(" ".into(), FieldType::String), Value::Null);
        assert_eq!(coerce("T".into(), FieldType::Boolean), Value::Bool(true));
        assert_eq!(coerce("2.5".into(), FieldType::Number), Value::from(2.5));
    }
}

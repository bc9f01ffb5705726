//! `POST /api/locate/batch`: locate (and route) many points in one request, streaming.
//!
//! Input is CSV (`id,lon,lat[,class]`, `Content-Type: text/csv`) or a GeoJSON FeatureCollection
//! of points (`application/geo+json` or `application/json`; `class` from the properties).
//! Output is one line per input point, in input order: NDJSON by default, CSV with
//! `Accept: text/csv`; a bad row gets a line with its error and the rest go on. The last line
//! is a summary.
//!
//! Work happens in chunks: a chunk's points are placed (located and routed,
//! [`place_many`]) in a Z-order visit of the cell grid, so consecutive look-ups touch
//! neighbouring memory, written back in input order and sent. CSV is read from the request as it arrives; neither input nor output is ever held
//! whole, so a million points stream in bounded memory. (GeoJSON must be read whole to be
//! parsed; its size is bounded by the batch limit.)

use super::locate::MAX_TOLERANCE_M;
use super::params::Params;
use super::{ApiError, AppState};
use crate::catalog::{CodeTables, Role};
use crate::services::ServiceError;
use crate::services::locate::DEFAULT_TOLERANCE_M;
use crate::services::place::{Placed, feature_id, place_many};
use crate::services::routing::Basis;
use crate::spatial::LayerStore;
use crate::spatial::crs::Crs;
use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Rows per chunk of work.
const CHUNK_ROWS: usize = 32_768;
/// CSV bytes gathered before a chunk is cut (about 32k rows).
const CHUNK_BYTES: usize = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Output {
    Ndjson,
    Csv,
}

struct Batch {
    store: Arc<LayerStore>,
    tables: Arc<CodeTables>,
    crs: Crs,
    tolerance_m: f64,
    class: Option<String>,
    output: Output,
}

/// One input point, or why it is not one.
struct Row {
    /// CSV line number (1-based) or GeoJSON feature index (0-based).
    position: Position,
    id: String,
    point: Result<(f64, f64, Option<String>), ApiError>,
}

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
enum Position {
    Line(usize),
    Index(usize),
}

#[derive(Default)]
struct Tally {
    points: usize,
    located: usize,
    ambiguous: usize,
    errors: usize,
}

#[derive(Serialize)]
struct ErrorOut<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
}

#[derive(Serialize)]
struct Line<'a> {
    id: &'a str,
    #[serde(flatten)]
    position: Position,
    #[serde(skip_serializing_if = "Option::is_none")]
    cell: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    village: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    town: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    beat: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ambiguous: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    candidates: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    basis: Option<Basis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ErrorOut<'a>>,
}

impl<'a> Line<'a> {
    /// A row's line before anything is known of it.
    fn new(id: &'a str, position: Position) -> Self {
        Line {
            id,
            position,
            cell: None,
            village: None,
            town: None,
            beat: None,
            ambiguous: None,
            candidates: Vec::new(),
            unit: None,
            basis: None,
            error: None,
        }
    }

    /// A row that could not be answered: its id and position, and why.
    fn failed(id: &'a str, position: Position, e: &'a ApiError) -> Self {
        Line {
            error: Some(ErrorOut {
                code: e.code,
                message: &e.message,
                field: e.field.as_deref(),
            }),
            ..Line::new(id, position)
        }
    }
}

const CSV_HEADER: &str =
    "id,position,cell,village,town,beat,ambiguous,candidates,unit,basis,error_code,error\n";

fn csv_field(out: &mut Vec<u8>, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(value.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(value.as_bytes());
    }
}

fn write_line(out: &mut Vec<u8>, format: Output, line: &Line<'_>) {
    match format {
        Output::Ndjson => {
            // Serialising plain structs into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, line);
            out.push(b'\n');
        }
        Output::Csv => {
            let basis = line.basis.map(Basis::as_str);
            let candidates = line.candidates.join(";");
            let line_number = match line.position {
                Position::Line(n) | Position::Index(n) => n.to_string(),
            };
            let fields = [
                Some(line.id),
                Some(line_number.as_str()),
                line.cell,
                line.village,
                line.town,
                line.beat,
                line.ambiguous.map(|a| if a { "true" } else { "false" }),
                Some(candidates.as_str()),
                line.unit,
                basis,
                line.error.as_ref().map(|e| e.code),
                line.error.as_ref().map(|e| e.message),
            ];
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                csv_field(out, field.unwrap_or(""));
            }
            out.push(b'\n');
        }
    }
}

impl Batch {
    /// Answers one chunk and renders its lines in input order.
    fn process(&self, rows: Vec<Row>, tally: &mut Tally) -> Bytes {
        if self.store.grid.is_none() {
            return self.fail_all(&rows, ServiceError::NoGrid.into(), tally);
        }
        let id_of = |role: Role, index: Option<u32>| feature_id(&self.store, role, index);
        // Rows with a usable point, converted to WGS84; the others keep their error.
        let mut errors: Vec<Option<ApiError>> = vec![None; rows.len()];
        let mut points = Vec::with_capacity(rows.len());
        let mut point_row = Vec::with_capacity(rows.len());
        for (k, row) in rows.iter().enumerate() {
            match &row.point {
                Ok((lon, lat, _)) => match super::params::point(*lon, *lat, &self.crs) {
                    Ok(p) => {
                        points.push(p);
                        point_row.push(k);
                    }
                    Err(e) => errors[k] = Some(e),
                },
                Err(e) => errors[k] = Some(e.clone()),
            }
        }
        let class_of = |i: usize| match &rows[point_row[i]].point {
            Ok((_, _, class)) => class.as_deref().or(self.class.as_deref()),
            Err(_) => None,
        };
        let mut placed: Vec<Option<Result<Placed<'_>, ServiceError>>> = vec![None; rows.len()];
        place_many(
            &self.store,
            &self.tables,
            &points,
            class_of,
            self.tolerance_m,
            0,
            |i, answer| placed[point_row[i]] = Some(answer),
        );
        let mut out = Vec::with_capacity(rows.len() * 120);
        for (k, row) in rows.iter().enumerate() {
            tally.points += 1;
            let mut line = Line::new(&row.id, row.position);
            let mut error = errors[k].take();
            if let (None, Ok((lon, lat, _))) = (&error, &row.point) {
                match placed[k].take() {
                    None => {}
                    Some(Err(e)) => error = Some(e.as_given(*lon, *lat).into()),
                    Some(Ok(at)) => {
                        let codes = at.codes(&self.store);
                        line.cell = codes.cell;
                        line.village = codes.village;
                        line.town = codes.town;
                        line.beat = codes.beat;
                        line.ambiguous = Some(codes.ambiguous);
                        line.candidates = at
                            .at
                            .candidates
                            .iter()
                            .filter_map(|&(c, _)| id_of(Role::GridCell, Some(c)))
                            .collect();
                        if let Some((unit, basis)) = at.unit(&self.store) {
                            line.unit = Some(unit);
                            line.basis = Some(basis);
                        }
                    }
                }
            }
            match &error {
                None => {
                    tally.located += 1;
                    tally.ambiguous += usize::from(line.ambiguous == Some(true));
                }
                Some(e) => {
                    tally.errors += 1;
                    line = Line::failed(line.id, line.position, e);
                }
            }
            write_line(&mut out, self.output, &line);
        }
        Bytes::from(out)
    }

    fn fail_all(&self, rows: &[Row], e: ApiError, tally: &mut Tally) -> Bytes {
        let mut out = Vec::new();
        for row in rows {
            tally.points += 1;
            tally.errors += 1;
            let line = Line::failed(&row.id, row.position, &e);
            write_line(&mut out, self.output, &line);
        }
        Bytes::from(out)
    }

    fn summary(&self, tally: &Tally) -> Bytes {
        match self.output {
            Output::Ndjson => Bytes::from(format!(
                "{{\"summary\":{{\"points\":{},\"located\":{},\"ambiguous\":{},\"errors\":{}}}}}\n",
                tally.points, tally.located, tally.ambiguous, tally.errors
            )),
            // CSV readers want uniform rows; the summary goes in a comment-like trailer row.
            Output::Csv => Bytes::from(format!(
                "#summary,{},,,,,,,,,located={} ambiguous={} errors={},\n",
                tally.points, tally.located, tally.ambiguous, tally.errors
            )),
        }
    }
}

fn parse_csv_chunk(text: &[u8], first_line: usize, skip_header: &mut bool) -> Vec<Row> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text);
    // Line numbers from byte offsets: the csv crate does not count blank lines it skips.
    let newlines: Vec<usize> = text
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect();
    let line_at = |byte: u64| {
        // A record's position may point at blank lines skipped before it.
        let mut at = byte as usize;
        while at < text.len() && matches!(text[at], b'\n' | b'\r') {
            at += 1;
        }
        first_line + newlines.partition_point(|&n| n < at)
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let (line, record) = match record {
            Ok(r) => (line_at(r.position().map_or(0, |p| p.byte())), r),
            Err(e) => {
                let line = line_at(e.position().map_or(0, |p| p.byte()));
                rows.push(Row {
                    position: Position::Line(line),
                    id: String::new(),
                    point: Err(ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_row",
                        format!("unreadable CSV row: {e}"),
                    )),
                });
                continue;
            }
        };
        if record.iter().all(str::is_empty) {
            continue;
        }
        if *skip_header {
            *skip_header = false;
            if record.get(1).is_some_and(|f| f.eq_ignore_ascii_case("lon")) {
                continue;
            }
        }
        let id = record.get(0).unwrap_or("").to_string();
        let number = |index: usize, name: &str| -> Result<f64, ApiError> {
            let raw = record.get(index).unwrap_or("");
            if raw.is_empty() {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_row",
                    format!("{name} is missing"),
                )
                .with_field(name));
            }
            raw.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::BAD_REQUEST,
                        "invalid_row",
                        format!("{name} must be a finite number, got {raw:?}"),
                    )
                    .with_field(name)
                })
        };
        let point = number(1, "lon").and_then(|lon| {
            let lat = number(2, "lat")?;
            let class = record.get(3).filter(|c| !c.is_empty()).map(str::to_string);
            Ok((lon, lat, class))
        });
        rows.push(Row {
            position: Position::Line(line),
            id,
            point,
        });
    }
    rows
}

#[derive(Deserialize)]
struct Collection<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(borrow)]
    features: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct PointFeature {
    id: Option<serde_json::Value>,
    geometry: Option<PointGeometry>,
    #[serde(default)]
    properties: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
struct PointGeometry {
    #[serde(rename = "type")]
    kind: String,
    coordinates: serde_json::Value,
}

fn geojson_row(index: usize, raw: &RawValue) -> Row {
    let invalid = |message: String, field: &str| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_row", message).with_field(field)
    };
    let feature: PointFeature = match serde_json::from_str(raw.get()) {
        Ok(f) => f,
        Err(e) => {
            return Row {
                position: Position::Index(index),
                id: index.to_string(),
                point: Err(invalid(format!("not a GeoJSON feature: {e}"), "geometry")),
            };
        }
    };
    let properties = feature.properties.unwrap_or_default();
    let id = match feature.id.as_ref().or_else(|| properties.get("id")) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => index.to_string(),
    };
    let point = match feature.geometry {
        None => Err(invalid("feature has no geometry".into(), "geometry")),
        Some(g) if g.kind != "Point" => Err(invalid(
            format!("geometry is a {}, not a Point", g.kind),
            "geometry",
        )),
        Some(g) => match g
            .coordinates
            .as_array()
            .map(|a| a.iter().map(serde_json::Value::as_f64).collect::<Vec<_>>())
        {
            Some(c) if c.len() >= 2 && c[0].is_some() && c[1].is_some() => {
                let class = properties
                    .get("class")
                    .and_then(|c| c.as_str())
                    .map(str::to_string);
                Ok((c[0].unwrap_or_default(), c[1].unwrap_or_default(), class))
            }
            _ => Err(invalid(
                "a Point's coordinates must be [lon, lat] numbers".into(),
                "geometry",
            )),
        },
    };
    Row {
        position: Position::Index(index),
        id,
        point,
    }
}

pub async fn locate_batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref());
    let crs = params.crs()?;
    let tolerance_m = params.f64_in("tolerance", DEFAULT_TOLERANCE_M, MAX_TOLERANCE_M)?;
    let class = params
        .get("class")
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    if let Some(code) = &class {
        if state.tables.class(code).is_none() {
            return Err(ServiceError::UnknownClass(code.clone()).into());
        }
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            format!(
                "a batch may carry at most {} bytes; split it into several requests",
                state.batch_limit
            ),
        )
        .with_field("body")
    };
    if declared.is_some_and(|n| n > state.batch_limit) {
        return Err(too_large());
    }
    let output = match headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        Some(accept) if accept.contains("text/csv") => Output::Csv,
        _ => Output::Ndjson,
    };
    let batch = Arc::new(Batch {
        store: state.store.snapshot(),
        tables: state.tables.clone(),
        crs,
        tolerance_m,
        class,
        output,
    });
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    match super::params::content_type(&headers).as_deref() {
        Some("text/csv") => {
            tokio::spawn(stream_csv(batch, body, state.batch_limit, tx));
        }
        Some("application/json" | "application/geo+json") => {
            let bytes = axum::body::to_bytes(body, state.batch_limit)
                .await
                .map_err(|_| too_large())?;
            let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
            tokio::task::spawn_blocking(move || run_geojson(&batch, &bytes, ready_tx, &tx));
            ready_rx
                .await
                .map_err(|_| ApiError::internal("the batch worker stopped"))??;
        }
        other => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!(
                    "send text/csv (id,lon,lat[,class]) or application/geo+json, not {}",
                    other.unwrap_or("a body without Content-Type")
                ),
            )
            .with_field("Content-Type"));
        }
    }
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<Bytes, Infallible>(b), rx))
    });
    let content_type = match output {
        Output::Ndjson => "application/x-ndjson",
        Output::Csv => "text/csv; charset=utf-8",
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Parses the collection (answering the handshake with the verdict), then streams the rows.
fn run_geojson(
    batch: &Batch,
    bytes: &[u8],
    ready: tokio::sync::oneshot::Sender<Result<(), ApiError>>,
    tx: &mpsc::Sender<Bytes>,
) {
    let collection = match serde_json::from_slice::<Collection<'_>>(bytes) {
        Ok(c) if c.kind == "FeatureCollection" => c,
        Ok(c) => {
            let _ = ready.send(Err(ApiError::invalid(
                "body",
                format!("expected a FeatureCollection, got {:?}", c.kind),
            )));
            return;
        }
        Err(e) => {
            let _ = ready.send(Err(ApiError::invalid(
                "body",
                format!("not a GeoJSON FeatureCollection: {e}"),
            )));
            return;
        }
    };
    if ready.send(Ok(())).is_err() {
        return;
    }
    if batch.output == Output::Csv
        && tx
            .blocking_send(Bytes::from_static(CSV_HEADER.as_bytes()))
            .is_err()
    {
        return;
    }
    let mut tally = Tally::default();
    for (n, chunk) in collection.features.chunks(CHUNK_ROWS).enumerate() {
        let rows = chunk
            .iter()
            .enumerate()
            .map(|(i, raw)| geojson_row(n * CHUNK_ROWS + i, raw))
            .collect();
        if tx.blocking_send(batch.process(rows, &mut tally)).is_err() {
            return;
        }
    }
    let _ = tx.blocking_send(batch.summary(&tally));
}

/// Reads CSV as it arrives, cutting chunks at line ends, and answers each on a blocking thread.
async fn stream_csv(batch: Arc<Batch>, body: Body, limit: usize, tx: mpsc::Sender<Bytes>) {
    if batch.output == Output::Csv
        && tx
            .send(Bytes::from_static(CSV_HEADER.as_bytes()))
            .await
            .is_err()
    {
        return;
    }
    let mut stream = body.into_data_stream();
    let mut pending: Vec<u8> = Vec::new();
    let mut total = 0usize;
    let mut next_line = 1usize;
    let mut header = true;
    let mut tally = Tally::default();
    let mut finished = false;
    while !finished {
        let mut cut = None;
        match stream.next().await {
            Some(Ok(data)) => {
                total += data.len();
                if total > limit {
                    let line = format!(
                        "{{\"error\":{{\"code\":\"body_too_large\",\"message\":\"the batch passed {limit} bytes; the rest was not read\",\"field\":\"body\"}}}}\n"
                    );
                    let _ = tx.send(Bytes::from(line)).await;
                    return;
                }
                pending.extend_from_slice(&data);
                if pending.len() >= CHUNK_BYTES {
                    cut = pending.iter().rposition(|&b| b == b'\n').map(|i| i + 1);
                }
            }
            Some(Err(e)) => {
                let _ = tx
                    .send(Bytes::from(format!(
                        "{{\"error\":{{\"code\":\"read_failed\",\"message\":{:?}}}}}\n",
                        e.to_string()
                    )))
                    .await;
                return;
            }
            None => {
                finished = true;
                cut = Some(pending.len());
            }
        }
        let Some(cut) = cut else { continue };
        let chunk: Vec<u8> = pending.drain(..cut).collect();
        let first_line = next_line;
        next_line += chunk.iter().filter(|&&b| b == b'\n').count();
        let worker = batch.clone();
        let mut skip_header = header;
        header = false;
        let mut chunk_tally = Tally::default();
        let result = tokio::task::spawn_blocking(move || {
            let rows = parse_csv_chunk(&chunk, first_line, &mut skip_header);
            let bytes = worker.process(rows, &mut chunk_tally);
            (bytes, chunk_tally)
        })
        .await;
        let Ok((bytes, t)) = result else { return };
        tally.points += t.points;
        tally.located += t.located;
        tally.ambiguous += t.ambiguous;
        tally.errors += t.errors;
        if tx.send(bytes).await.is_err() {
            return;
        }
    }
    let _ = tx.send(batch.summary(&tally)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_parse_with_errors_kept_per_row() {
        let text = b"id,lon,lat,class\np1,121.45,30.92\np2,abc,30.92\np3,121.46,NaN,C0101\n\"p,4\",121.47,30.93,C0102\n";
        let mut header = true;
        let rows = parse_csv_chunk(text, 1, &mut header);
        assert_eq!(rows.len(), 4);
        assert!(matches!(rows[0].position, Position::Line(2)));
        assert!(rows[0].point.is_ok());
        assert_eq!(
            rows[1].point.as_ref().unwrap_err().field.as_deref(),
            Some("lon")
        );
        assert_eq!(
            rows[2].point.as_ref().unwrap_err().field.as_deref(),
            Some("lat")
        );
        assert_eq!(rows[3].id, "p,4");
        assert_eq!(rows[3].point.as_ref().unwrap().2.as_deref(), Some("C0102"));
    }
}

//! Fixes as they arrive — a JSON array of `{who, time, lon, lat, accuracy?, speed?, heading?}`
//! or CSV with those columns — and the checks one row can pass or fail on its own. A bad row
//! never fails the request: it is refused with its row number and a reason, and the good rows
//! are stored, as the station feeds do (a phone that lost its fix for a minute must not blind
//! the centre to the rest of the batch). The checks that need the worker's previous fix
//! (duplicate, out of order, too fast) run in the intake ([`super::service`]).

use super::workers::Workers;
use crate::spatial::crs::Crs;
use geo::{Coord, Rect};
use serde::Serialize;

/// A fix that passed the row checks (WGS84).
#[derive(Debug, Clone, PartialEq)]
pub struct Fix {
    pub row: usize,
    pub who: std::sync::Arc<str>,
    /// Unix milliseconds, UTC.
    pub time: i64,
    pub at: Coord<f64>,
    pub accuracy: Option<f64>,
    /// Metres per second, as phones report it.
    pub speed: Option<f64>,
    /// Degrees clockwise from north.
    pub heading: Option<f64>,
}

/// Why a row was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not an object (JSON) or too few fields (CSV).
    BadRow,
    MissingField,
    /// Not RFC 3339 with an offset, nor Unix milliseconds.
    BadTime,
    /// More than the tolerance (2 min) ahead of the server's clock.
    FutureTime,
    UnknownWorker,
    /// lon/lat not numbers, not on Earth, or not convertible from the request's CRS.
    BadCoordinate,
    /// On Earth but nowhere near the district.
    OutsideArea,
    /// accuracy, speed or heading present but not a plausible number.
    BadValue,
    /// The same worker and time as a fix already stored (or earlier in the request).
    Duplicate,
    /// Older than the worker's newest fix: time going backwards.
    OutOfOrder,
    /// Faster than the limit (200 km/h) from the worker's previous fix: a GPS jump.
    TooFast,
}

/// A refused row: `row` is its 1-based position among the request's fixes (a CSV header is
/// not counted; `line` is the CSV line).
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub row: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub who: Option<String>,
    pub reason: Reason,
    pub message: String,
}

/// A number field before checking.
#[derive(Debug, Clone, PartialEq)]
pub enum RawNumber {
    Number(f64),
    Text(String),
    Missing,
    Wrong(&'static str),
}

/// One row before checking.
#[derive(Debug, Clone, PartialEq)]
pub struct RawFix {
    pub row: usize,
    pub line: Option<u64>,
    pub who: Option<String>,
    pub time: Option<String>,
    pub lon: RawNumber,
    pub lat: RawNumber,
    pub accuracy: RawNumber,
    pub speed: RawNumber,
    pub heading: RawNumber,
}

/// The rows of a request body: parsed ones and those the parser already refused.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<RawFix>,
    pub refused: Vec<Rejection>,
}

impl Parsed {
    pub fn len(&self) -> usize {
        self.rows.len() + self.refused.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn number(v: Option<&serde_json::Value>) -> RawNumber {
    match v {
        None | Some(serde_json::Value::Null) => RawNumber::Missing,
        Some(serde_json::Value::Number(n)) => n
            .as_f64()
            .map_or(RawNumber::Wrong("a number out of range"), RawNumber::Number),
        Some(serde_json::Value::String(s)) => RawNumber::Text(s.clone()),
        Some(serde_json::Value::Bool(_)) => RawNumber::Wrong("a boolean"),
        Some(serde_json::Value::Array(_)) => RawNumber::Wrong("an array"),
        Some(serde_json::Value::Object(_)) => RawNumber::Wrong("an object"),
    }
}

fn text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A JSON body: an array of fixes, or `{"crs": …, "fixes": [...]}`. Returns the rows and the
/// body's `crs` member, if any. Only a body that is neither is an error.
pub fn parse_json(body: &[u8]) -> Result<(Parsed, Option<String>), String> {
    const SHAPE: &str = "expected a JSON array of {who, time, lon, lat, accuracy?, speed?, heading?} (or {\"crs\": …, \"fixes\": [...]})";
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("{SHAPE}: {e}"))?;
    let (items, crs) = match value {
        serde_json::Value::Array(items) => (items, None),
        serde_json::Value::Object(mut obj) => match obj.remove("fixes") {
            Some(serde_json::Value::Array(items)) => (
                items,
                obj.get("crs").and_then(|c| c.as_str()).map(str::to_string),
            ),
            _ => return Err(SHAPE.to_string()),
        },
        _ => return Err(SHAPE.to_string()),
    };
    let mut out = Parsed {
        rows: Vec::with_capacity(items.len()),
        refused: Vec::new(),
    };
    for (i, item) in items.iter().enumerate() {
        let row = i + 1;
        let Some(obj) = item.as_object() else {
            out.refused.push(Rejection {
                row,
                line: None,
                who: None,
                reason: Reason::BadRow,
                message: "each fix must be an object {who, time, lon, lat}".into(),
            });
            continue;
        };
        out.rows.push(RawFix {
            row,
            line: None,
            who: text(obj.get("who")),
            time: text(obj.get("time")),
            lon: number(obj.get("lon")),
            lat: number(obj.get("lat")),
            accuracy: number(obj.get("accuracy")),
            speed: number(obj.get("speed")),
            heading: number(obj.get("heading")),
        });
    }
    Ok((out, crs))
}

const COLUMNS: [&str; 7] = ["who", "time", "lon", "lat", "accuracy", "speed", "heading"];
/// The first four columns are required, the rest optional.
const REQUIRED: usize = 4;

/// CSV `who,time,lon,lat[,accuracy,speed,heading]`. A first line naming a `who` column is a
/// header, and its names decide the order.
///
/// What gateways send — UTF-8 without quotes — is split by hand (lines, then commas), with
/// the coordinates parsed as numbers at once; anything else goes through the `csv` crate.
/// Both give the same rows, line numbers and refusals (a test holds them to it).
pub fn parse_csv(body: &[u8]) -> Parsed {
    match std::str::from_utf8(body) {
        Ok(text) if !body.contains(&b'"') => {
            parse_plain_csv(text).unwrap_or_else(|| parse_quoted_csv(body))
        }
        _ => parse_quoted_csv(body),
    }
}

/// The column of each slot of [`COLUMNS`] by a header line, or the refusal of a header
/// without a required column. `None` when the line is not a header.
fn header_order<'a>(
    fields: impl Iterator<Item = &'a str>,
    line: Option<u64>,
) -> Option<Result<[Option<usize>; 7], Rejection>> {
    let names: Vec<String> = fields
        .map(|f| f.trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    if !names.iter().any(|n| n == "who") {
        return None;
    }
    let mut order = [None; 7];
    for (slot, column) in COLUMNS.iter().enumerate() {
        order[slot] = names.iter().position(|n| n == column);
        if slot < REQUIRED && order[slot].is_none() {
            return Some(Err(Rejection {
                row: 0,
                line,
                who: None,
                reason: Reason::BadRow,
                message: format!(
                    "the header has no column {column:?} (who,time,lon,lat[,accuracy,speed,heading]); no row can be read"
                ),
            }));
        }
    }
    Some(Ok(order))
}

const PLAIN_ORDER: [Option<usize>; 7] = [
    Some(0),
    Some(1),
    Some(2),
    Some(3),
    Some(4),
    Some(5),
    Some(6),
];

/// `None` when the text needs the `csv` crate after all (a carriage return not before a line
/// feed).
fn parse_plain_csv(text: &str) -> Option<Parsed> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Parsed {
        rows: Vec::with_capacity(text.len() / 40),
        refused: Vec::new(),
    };
    let mut order = PLAIN_ORDER;
    let mut first = true;
    let mut row = 0;
    let mut fields: smallvec::SmallVec<[&str; 8]> = smallvec::SmallVec::new();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.contains('\r') {
            return None;
        }
        // Empty lines are skipped, as the csv crate does.
        if line.is_empty() {
            continue;
        }
        let line_no = Some(n as u64 + 1);
        fields.clear();
        fields.extend(line.split(',').map(str::trim));
        if first {
            first = false;
            match header_order(fields.iter().copied(), line_no) {
                Some(Ok(o)) => {
                    order = o;
                    continue;
                }
                Some(Err(refusal)) => {
                    out.refused.push(refusal);
                    return Some(out);
                }
                None => {}
            }
        }
        row += 1;
        push_row(&mut out, &order, &fields, row, line_no);
    }
    Some(out)
}

/// One row of fields, by `order`: a refusal when a required column is missing.
fn push_row(
    out: &mut Parsed,
    order: &[Option<usize>; 7],
    fields: &[&str],
    row: usize,
    line: Option<u64>,
) {
    let field = |slot: usize| {
        order[slot]
            .and_then(|c| fields.get(c))
            .filter(|s| !s.is_empty())
            .map(|s| s.to_string())
    };
    if order[..REQUIRED]
        .iter()
        .any(|c| c.is_none_or(|c| c >= fields.len()))
    {
        out.refused.push(Rejection {
            row,
            line,
            who: field(0),
            reason: Reason::BadRow,
            message: format!(
                "expected at least 4 fields who,time,lon,lat, got {}",
                fields.len()
            ),
        });
        return;
    }
    let num = |slot: usize| {
        match order[slot]
            .and_then(|c| fields.get(c))
            .filter(|s| !s.is_empty())
        {
            None => RawNumber::Missing,
            // A number now saves its text's allocation and a second parse.
            Some(s) => s
                .parse::<f64>()
                .map_or_else(|_| RawNumber::Text(s.to_string()), RawNumber::Number),
        }
    };
    out.rows.push(RawFix {
        row,
        line,
        who: field(0),
        time: field(1),
        lon: num(2),
        lat: num(3),
        accuracy: num(4),
        speed: num(5),
        heading: num(6),
    });
}

fn parse_quoted_csv(body: &[u8]) -> Parsed {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let mut out = Parsed::default();
    let mut order = PLAIN_ORDER;
    let mut first = true;
    let mut row = 0;
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                row += 1;
                first = false;
                out.refused.push(Rejection {
                    row,
                    line: e.position().map(|p| p.line()),
                    who: None,
                    reason: Reason::BadRow,
                    message: format!("unreadable CSV row: {e}"),
                });
                continue;
            }
        };
        let line = record.position().map(|p| p.line());
        if first {
            first = false;
            match header_order(record.iter(), line) {
                Some(Ok(o)) => {
                    order = o;
                    continue;
                }
                Some(Err(refusal)) => {
                    out.refused.push(refusal);
                    return out;
                }
                None => {}
            }
        }
        row += 1;
        let fields: smallvec::SmallVec<[&str; 8]> = record.iter().collect();
        push_row(&mut out, &order, &fields, row, line);
    }
    out
}

/// RFC 3339 with an offset, or Unix milliseconds (AVL gateways send those).
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// What the row checks need: the registry, the CRS of the request, the clock, the area.
pub struct Context<'a> {
    pub workers: &'a Workers,
    pub crs: &'a Crs,
    pub now: i64,
    pub future_tolerance_ms: i64,
    /// Fixes outside this box (the district with a margin) are refused.
    pub area: Option<Rect<f64>>,
}

impl RawFix {
    fn refuse(&self, reason: Reason, message: String) -> Rejection {
        Rejection {
            row: self.row,
            line: self.line,
            who: self.who.clone(),
            reason,
            message,
        }
    }
}

fn value(raw: &RawNumber, name: &str) -> Result<Option<f64>, String> {
    let v = match raw {
        RawNumber::Missing => return Ok(None),
        RawNumber::Number(x) => *x,
        RawNumber::Text(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{name} must be a number, got {s:?}"))?,
        RawNumber::Wrong(what) => return Err(format!("{name} must be a number, got {what}")),
    };
    if v.is_finite() {
        Ok(Some(v))
    } else {
        Err(format!("{name} must be finite, got {v}"))
    }
}

/// Checks one row on its own.
pub fn check(raw: &RawFix, ctx: &Context<'_>) -> Result<Fix, Rejection> {
    let Some(who) = raw.who.as_deref().filter(|s| !s.is_empty()) else {
        return Err(raw.refuse(Reason::MissingField, "who is missing".into()));
    };
    let Some(time_text) = raw.time.as_deref() else {
        return Err(raw.refuse(Reason::MissingField, "time is missing".into()));
    };
    let Some(time) = parse_time(time_text) else {
        return Err(raw.refuse(
            Reason::BadTime,
            format!("time must be RFC 3339 with an offset (2026-11-29T08:00:00+08:00) or Unix milliseconds; got {time_text:?}"),
        ));
    };
    let Some(worker) = ctx.workers.get(who) else {
        return Err(raw.refuse(
            Reason::UnknownWorker,
            format!("no worker {who:?} in the registry (GET /api/workers)"),
        ));
    };
    let (lon, lat) = match (value(&raw.lon, "lon"), value(&raw.lat, "lat")) {
        (Ok(Some(lon)), Ok(Some(lat))) => (lon, lat),
        (Ok(None), _) => return Err(raw.refuse(Reason::MissingField, "lon is missing".into())),
        (_, Ok(None)) => return Err(raw.refuse(Reason::MissingField, "lat is missing".into())),
        (Err(m), _) | (_, Err(m)) => return Err(raw.refuse(Reason::BadCoordinate, m)),
    };
    if ctx.crs.is_geographic()
        && (!(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat))
    {
        return Err(raw.refuse(
            Reason::BadCoordinate,
            format!(
                "({lon}, {lat}) is not a place on Earth: lon must be within ±180, lat within ±90"
            ),
        ));
    }
    let at = match ctx.crs.to_wgs84(lon, lat) {
        Ok((x, y)) if (-180.0..=180.0).contains(&x) && (-90.0..=90.0).contains(&y) => {
            Coord { x, y }
        }
        Ok((x, y)) => {
            return Err(raw.refuse(
                Reason::BadCoordinate,
                format!(
                    "({lon}, {lat}) in {} is ({x}, {y}) in WGS84, not a place on Earth",
                    ctx.crs.label()
                ),
            ));
        }
        Err(e) => return Err(raw.refuse(Reason::BadCoordinate, e.to_string())),
    };
    if let Some(area) = ctx.area {
        if !(area.min().x..=area.max().x).contains(&at.x)
            || !(area.min().y..=area.max().y).contains(&at.y)
        {
            return Err(raw.refuse(
                Reason::OutsideArea,
                format!("({:.6}, {:.6}) is far outside the district", at.x, at.y),
            ));
        }
    }
    let optional =
        |raw_value: &RawNumber, name: &str, max: f64| -> Result<Option<f64>, Rejection> {
            match value(raw_value, name) {
                Ok(Some(v)) if !(0.0..=max).contains(&v) => Err(raw.refuse(
                    Reason::BadValue,
                    format!("{name} must be between 0 and {max}, got {v}"),
                )),
                Ok(v) => Ok(v),
                Err(m) => Err(raw.refuse(Reason::BadValue, m)),
            }
        };
    let accuracy = optional(&raw.accuracy, "accuracy", 100_000.0)?;
    let speed = optional(&raw.speed, "speed", 1_000.0)?;
    let heading = optional(&raw.heading, "heading", 360.0)?;
    if time > ctx.now + ctx.future_tolerance_ms {
        return Err(raw.refuse(
            Reason::FutureTime,
            format!(
                "time {time_text} is more than {} s ahead of the server's clock ({})",
                ctx.future_tolerance_ms / 1000,
                crate::cases::clock::rfc3339(ctx.now)
            ),
        ));
    }
    Ok(Fix {
        row: raw.row,
        who: worker.id.clone(),
        time,
        at,
        accuracy,
        speed,
        heading,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_a_reordered_header_and_without_one() {
        let plain = parse_csv(b"A-1,2026-11-29T08:00:00+08:00,121.45,30.92\nA-1,x\n");
        assert_eq!(plain.rows.len(), 1);
        assert_eq!(plain.refused[0].row, 2);
        let headed = parse_csv(b"time,lat,lon,who,speed\n1795910400000,30.9,121.4,B-2,3.5\n");
        assert_eq!(headed.rows.len(), 1, "{:?}", headed.refused);
        let r = &headed.rows[0];
        assert_eq!(r.who.as_deref(), Some("B-2"));
        assert_eq!(r.lon, RawNumber::Number(121.4));
        assert_eq!(r.speed, RawNumber::Number(3.5));
        assert_eq!(r.heading, RawNumber::Missing);
    }

    #[test]
    fn json_array_or_object_with_crs() {
        let (p, crs) =
            parse_json(br#"[{"who":"A","time":"2026-11-29T00:00:00Z","lon":1,"lat":2}, 5]"#)
                .unwrap();
        assert_eq!((p.rows.len(), p.refused.len(), crs), (1, 1, None));
        let (p, crs) =
            parse_json(br#"{"crs":"gcj02","fixes":[{"who":"A","time":1,"lon":"1","lat":2}]}"#)
                .unwrap();
        assert_eq!((p.rows.len(), crs.as_deref()), (1, Some("gcj02")));
        assert_eq!(p.rows[0].time.as_deref(), Some("1"));
        assert!(parse_json(b"{\"who\":1}").is_err());
    }

    #[test]
    fn times_are_rfc3339_with_offset_or_milliseconds() {
        assert_eq!(
            parse_time("2026-11-29T08:00:00+08:00"),
            Some(1_795_910_400_000)
        );
        assert_eq!(parse_time("1795910400000"), Some(1_795_910_400_000));
        assert_eq!(parse_time("2026-11-29T08:00:00"), None);
    }

    #[test]
    fn the_plain_csv_path_reads_what_the_csv_crate_reads() {
        let bodies: [&[u8]; 6] = [
            b"A-1,1795910400000,121.45,30.92\nB-2,2026-11-29T08:00:00+08:00, 121.5 ,30.9,5,1.5,90\n",
            b"A-1,1,2,3\r\nA-1,x\nC,1,abc,3,,,\n  ,  ,1,2\nD,5,1,2,3,4,5,6,7",
            b"time,lat,lon,who,speed\n1795910400000,30.9,121.4,B-2,3.5\nx,y\n",
            b"Who,Lon,Lat\nA,1,2\n",
            b"\xef\xbb\xbfwho,time,lon,lat\nA,1,2,3\n",
            b"   \nA,1,2,3\n   \n",
        ];
        for body in bodies {
            let text = std::str::from_utf8(body).unwrap();
            let plain = parse_plain_csv(text).expect("plain");
            let quoted = parse_quoted_csv(body);
            assert_eq!(plain.rows, quoted.rows, "{text:?}");
            // After a CRLF the csv crate numbers the next record's line one short ("A-1,x" on
            // line 2 is named line 1); the plain path names the row's own line. Lines are
            // compared where the body has no CRLF, and checked by hand below where it has.
            let crlf = text.contains("\r\n");
            let refusals = |p: &Parsed| -> Vec<(usize, Option<u64>, Option<String>, Reason)> {
                p.refused
                    .iter()
                    .map(|r| (r.row, r.line.filter(|_| !crlf), r.who.clone(), r.reason))
                    .collect()
            };
            assert_eq!(refusals(&plain), refusals(&quoted), "{text:?}");
        }
        let crlf = parse_plain_csv("A-1,1,2,3\r\nA-1,x\n").expect("plain");
        assert_eq!(crlf.refused[0].line, Some(2), "the refused row's own line");
        // Blank lines are skipped; the line is the row's own (the csv crate names the first
        // blank line before it).
        let blank = parse_plain_csv("A,1,2,3\n\n\r\nB,1,2,3\n").expect("plain");
        assert_eq!(blank.rows.len(), 2);
        assert_eq!(blank.rows[1].line, Some(4));
        // Quotes and lone carriage returns take the csv crate's path.
        assert!(parse_plain_csv("A,1,2,3\rB,1,2,3").is_none());
        let quoted = parse_csv(b"\"A,1\",1,2,3\n");
        assert_eq!(quoted.rows[0].who.as_deref(), Some("A,1"));
    }
}

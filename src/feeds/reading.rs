//! Readings as they arrive (a JSON array or CSV `station,time,kind,value`) and the per-row
//! checks. A bad row never fails the request: it is set aside with its row number and the
//! reason, and the good rows are stored — a gauge network always has a few broken sensors, and
//! refusing a whole batch for one of them would blind the centre to the rest.

use super::stations::Stations;
use super::thresholds::FeedConfig;
use serde::Serialize;

/// A reading that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub station: String,
    /// Index of the kind in the configuration.
    pub kind: usize,
    /// Unix milliseconds, UTC.
    pub time: i64,
    pub value: f64,
}

/// Why a row was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not an object (JSON) or not four fields (CSV).
    BadRow,
    MissingField,
    /// The time is not RFC 3339 with an offset.
    BadTime,
    /// The time lies further ahead of the server's clock than the tolerance.
    FutureTime,
    UnknownStation,
    UnknownKind,
    /// A real kind, but not one this station's type measures (a water level from a rain gauge).
    KindNotMeasured,
    /// The value is not a number.
    BadValue,
    /// NaN or ±infinity.
    NotFinite,
    /// Outside the kind's plausible range: an instrument fault, not weather.
    OutOfRange,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::BadRow => "bad_row",
            Reason::MissingField => "missing_field",
            Reason::BadTime => "bad_time",
            Reason::FutureTime => "future_time",
            Reason::UnknownStation => "unknown_station",
            Reason::UnknownKind => "unknown_kind",
            Reason::KindNotMeasured => "kind_not_measured",
            Reason::BadValue => "bad_value",
            Reason::NotFinite => "not_finite",
            Reason::OutOfRange => "out_of_range",
        }
    }
}

/// A refused row: `row` is its 1-based position among the request's readings (JSON element
/// i is row i + 1; a CSV header is not counted, `line` is the CSV line).
#[derive(Debug, Clone, Serialize)]
pub struct Rejection {
    pub row: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub station: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    pub reason: Reason,
    pub message: String,
}

/// A value field before checking.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Number(f64),
    Text(String),
    Missing,
    /// Present but neither a number nor a string (JSON `true`, an object, …).
    Wrong(&'static str),
}

/// One row before checking.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    pub row: usize,
    pub line: Option<u64>,
    pub station: Option<String>,
    pub time: Option<String>,
    pub kind: Option<String>,
    pub value: RawValue,
}

/// The rows of a request body: the parsed ones and those already refused by the parser.
#[derive(Debug, Default)]
pub struct Parsed {
    pub rows: Vec<RawRow>,
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

fn json_text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Parses a JSON array of `{station, time, kind, value}` objects. Only a body that is not an
/// array at all is an error; a malformed element is a refused row.
pub fn parse_json(body: &[u8]) -> Result<Parsed, String> {
    let items: Vec<serde_json::Value> = serde_json::from_slice(body)
        .map_err(|e| format!("expected a JSON array of {{station, time, kind, value}}: {e}"))?;
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
                station: None,
                kind: None,
                reason: Reason::BadRow,
                message: "each reading must be an object {station, time, kind, value}".into(),
            });
            continue;
        };
        let value = match obj.get("value") {
            None | Some(serde_json::Value::Null) => RawValue::Missing,
            Some(serde_json::Value::Number(n)) => match n.as_f64() {
                Some(x) => RawValue::Number(x),
                None => RawValue::Wrong("a number out of range"),
            },
            Some(serde_json::Value::String(s)) => RawValue::Text(s.clone()),
            Some(serde_json::Value::Bool(_)) => RawValue::Wrong("a boolean"),
            Some(serde_json::Value::Array(_)) => RawValue::Wrong("an array"),
            Some(serde_json::Value::Object(_)) => RawValue::Wrong("an object"),
        };
        out.rows.push(RawRow {
            row,
            line: None,
            station: json_text(obj.get("station")),
            time: obj
                .get("time")
                .and_then(|t| t.as_str())
                .map(str::to_string)
                .or_else(|| obj.get("time").map(|t| t.to_string())),
            kind: json_text(obj.get("kind")),
            value,
        });
    }
    Ok(out)
}

const COLUMNS: [&str; 4] = ["station", "time", "kind", "value"];

/// A first CSV record naming a `station` column is a header (no station is called that).
pub fn is_header(record: &csv::StringRecord) -> bool {
    record.iter().any(|f| {
        f.trim_start_matches('\u{feff}')
            .eq_ignore_ascii_case("station")
    })
}

/// Parses CSV `station,time,kind,value`. A first line naming the columns is a header, and then
/// its names decide the order (`time,station,value,kind` works too).
pub fn parse_csv(body: &[u8]) -> Parsed {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let mut out = Parsed::default();
    let mut order = [0usize, 1, 2, 3];
    let mut first = true;
    let mut row = 0;
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                row += 1;
                out.refused.push(Rejection {
                    row,
                    line: e.position().map(|p| p.line()),
                    station: None,
                    kind: None,
                    reason: Reason::BadRow,
                    message: format!("unreadable CSV row: {e}"),
                });
                first = false;
                continue;
            }
        };
        let line = record.position().map(|p| p.line());
        if first {
            first = false;
            if is_header(&record) {
                let names: Vec<String> = record
                    .iter()
                    .map(|f| f.trim_start_matches('\u{feff}').to_ascii_lowercase())
                    .collect();
                for (slot, column) in COLUMNS.iter().enumerate() {
                    match names.iter().position(|n| n == column) {
                        Some(at) => order[slot] = at,
                        None => {
                            out.refused.push(Rejection {
                                row: 0,
                                line,
                                station: None,
                                kind: None,
                                reason: Reason::BadRow,
                                message: format!(
                                    "the header has no column {column:?} (station,time,kind,value); no row can be read"
                                ),
                            });
                            return out;
                        }
                    }
                }
                continue;
            }
        }
        row += 1;
        if record.len() < 4 || order.iter().any(|&c| c >= record.len()) {
            out.refused.push(Rejection {
                row,
                line,
                station: record.get(order[0]).map(str::to_string),
                kind: None,
                reason: Reason::BadRow,
                message: format!(
                    "expected 4 fields station,time,kind,value, got {}",
                    record.len()
                ),
            });
            continue;
        }
        let field = |slot: usize| {
            record
                .get(order[slot])
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        out.rows.push(RawRow {
            row,
            line,
            station: field(0),
            time: field(1),
            kind: field(2),
            value: field(3).map_or(RawValue::Missing, RawValue::Text),
        });
    }
    out
}

/// RFC 3339 (an offset is required: a bare local time is ambiguous) → Unix ms.
pub fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Checks one row against the stations, the kinds and the clock.
pub fn check(
    raw: RawRow,
    stations: &Stations,
    config: &FeedConfig,
    now: i64,
) -> Result<Reading, Rejection> {
    let refuse = |raw: &RawRow, reason: Reason, message: String| Rejection {
        row: raw.row,
        line: raw.line,
        station: raw.station.clone(),
        kind: raw.kind.clone(),
        reason,
        message,
    };
    let Some(station_id) = raw.station.as_deref() else {
        return Err(refuse(
            &raw,
            Reason::MissingField,
            "station is missing".into(),
        ));
    };
    let Some(kind_name) = raw.kind.as_deref() else {
        return Err(refuse(&raw, Reason::MissingField, "kind is missing".into()));
    };
    let Some(time_text) = raw.time.as_deref() else {
        return Err(refuse(&raw, Reason::MissingField, "time is missing".into()));
    };
    let Some(time) = parse_time(time_text) else {
        return Err(refuse(
            &raw,
            Reason::BadTime,
            format!(
                "time must be RFC 3339 with an offset, e.g. 2026-09-15T08:00:00+08:00; got {time_text:?}"
            ),
        ));
    };
    let Some(station) = stations.get(station_id) else {
        return Err(refuse(
            &raw,
            Reason::UnknownStation,
            format!("no station {station_id:?} in the station layers"),
        ));
    };
    let Some(kind) = config.kind_index(kind_name) else {
        return Err(refuse(
            &raw,
            Reason::UnknownKind,
            format!(
                "unknown kind {kind_name:?}; known: {}",
                config
                    .kinds
                    .iter()
                    .map(|k| k.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    };
    let def = &config.kinds[kind];
    if !station.measures(kind) {
        return Err(refuse(
            &raw,
            Reason::KindNotMeasured,
            format!(
                "{kind_name} is not measured by {} stations ({})",
                station.role.as_str(),
                station.layer
            ),
        ));
    }
    let value = match &raw.value {
        RawValue::Number(x) => *x,
        RawValue::Text(s) => match s.trim().parse::<f64>() {
            Ok(x) => x,
            Err(_) => {
                return Err(refuse(
                    &raw,
                    Reason::BadValue,
                    format!("value must be a number, got {s:?}"),
                ));
            }
        },
        RawValue::Missing => {
            return Err(refuse(
                &raw,
                Reason::MissingField,
                "value is missing".into(),
            ));
        }
        RawValue::Wrong(what) => {
            return Err(refuse(
                &raw,
                Reason::BadValue,
                format!("value must be a number, got {what}"),
            ));
        }
    };
    if !value.is_finite() {
        return Err(refuse(
            &raw,
            Reason::NotFinite,
            format!("value must be finite, got {value}"),
        ));
    }
    if !(def.min..=def.max).contains(&value) {
        return Err(refuse(
            &raw,
            Reason::OutOfRange,
            format!(
                "{kind_name} {value} {} is outside the plausible range {}…{} {}",
                def.unit, def.min, def.max, def.unit
            ),
        ));
    }
    if time > now + config.future_tolerance_ms {
        return Err(refuse(
            &raw,
            Reason::FutureTime,
            format!(
                "time {time_text} is more than {} s ahead of the server's clock ({})",
                config.future_tolerance_ms / 1000,
                crate::cases::clock::rfc3339(now)
            ),
        ));
    }
    Ok(Reading {
        station: station_id.to_string(),
        kind,
        time,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_and_without_header_and_reordered_columns() {
        let plain = parse_csv(b"YL1,2026-09-15T08:00:00+08:00,rain_1h,12.5\nYL2,x,rain_1h\n");
        assert_eq!(plain.rows.len(), 1);
        assert_eq!(plain.rows[0].value, RawValue::Text("12.5".into()));
        assert_eq!(plain.refused.len(), 1);
        assert_eq!(plain.refused[0].row, 2);
        assert_eq!(plain.refused[0].reason, Reason::BadRow);

        let headed =
            parse_csv(b"time,station,value,kind\n2026-09-15T08:00:00+08:00,YL1,3,rain_1h\n");
        assert_eq!(headed.rows.len(), 1);
        let r = &headed.rows[0];
        assert_eq!((r.row, r.line), (1, Some(2)));
        assert_eq!(r.station.as_deref(), Some("YL1"));
        assert_eq!(r.kind.as_deref(), Some("rain_1h"));
    }

    #[test]
    fn json_elements_are_refused_one_by_one() {
        let parsed = parse_json(
            br#"[{"station":"A","time":"2026-09-15T00:00:00Z","kind":"rain_1h","value":1},
                 7,
                 {"station":"B","time":"2026-09-15T00:00:00Z","kind":"rain_1h","value":"NaN"},
                 {"station":"C","time":"2026-09-15T00:00:00Z","kind":"rain_1h","value":true}]"#,
        )
        .expect("an array");
        assert_eq!(parsed.rows.len(), 3);
        assert_eq!(parsed.refused[0].row, 2);
        assert_eq!(parsed.rows[1].value, RawValue::Text("NaN".into()));
        assert_eq!(parsed.rows[2].value, RawValue::Wrong("a boolean"));
        assert!(parse_json(b"{\"station\":1}").is_err());
    }

    #[test]
    fn times_need_an_offset() {
        assert_eq!(
            parse_time("2026-09-15T08:00:00+08:00"),
            parse_time("2026-09-15T00:00:00Z")
        );
        assert_eq!(parse_time("2026-09-15T08:00:00"), None);
        assert_eq!(parse_time("yesterday"), None);
    }
}

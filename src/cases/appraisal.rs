//! Appraisal (考核) of the handling units over a period, from the append-only event log: what
//! each unit received, handled on time or late, returned, had reopened, and closed.

use super::model::Event;
use serde::Serialize;
use std::collections::HashMap;

/// A unit to appraise (every unit of the level is listed, also those with nothing to do).
#[derive(Debug, Clone)]
pub struct UnitInfo {
    pub code: String,
    pub name: String,
    pub unit_type: String,
    pub level: &'static str,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct UnitAppraisal {
    pub unit: String,
    pub name: String,
    pub unit_type: String,
    pub level: String,
    /// Cases dispatched to the unit in the period.
    pub received: u64,
    /// Feedback (处置反馈) given in the period.
    pub handled: u64,
    pub handled_on_time: u64,
    /// Handled late in the period, plus cases still on the clock past their deadline.
    pub overdue: u64,
    pub returned: u64,
    pub reopened: u64,
    pub closed: u64,
    /// handled_on_time / received; `None` when nothing was received.
    pub on_time_rate: Option<f64>,
    /// closed / received.
    pub closure_rate: Option<f64>,
    /// Mean hours from dispatch to feedback over the feedback given in the period.
    pub mean_handling_h: Option<f64>,
}

fn case_unit(e: &Event) -> Option<&str> {
    e.data.get("case_unit").and_then(|u| u.as_str())
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| (a as f64 / b as f64 * 10_000.0).round() / 10_000.0)
}

/// Appraises `units` from the period's events; `open_overdue` names the unit of every case that
/// is on the clock past its deadline at the period's end.
pub fn appraise(
    units: &[UnitInfo],
    events: &[Event],
    open_overdue: &[String],
) -> Vec<UnitAppraisal> {
    // Each unit's row, with the summed dispatch-to-feedback time and its count beside it.
    let mut rows: HashMap<&str, (UnitAppraisal, i64, u64)> = units
        .iter()
        .map(|u| {
            let row = UnitAppraisal {
                unit: u.code.clone(),
                name: u.name.clone(),
                unit_type: u.unit_type.clone(),
                level: u.level.to_string(),
                ..Default::default()
            };
            (u.code.as_str(), (row, 0, 0))
        })
        .collect();
    for e in events {
        let Some(unit) = case_unit(e) else { continue };
        let Some((row, handling_ms, handled_timed)) = rows.get_mut(unit) else {
            continue;
        };
        match e.action.as_str() {
            "dispatch" => row.received += 1,
            "feedback" => {
                row.handled += 1;
                if e.data
                    .get("on_time")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(true)
                {
                    row.handled_on_time += 1;
                } else {
                    row.overdue += 1;
                }
                if let Some(from) = e.data.get("dispatched_at").and_then(|v| v.as_i64()) {
                    *handling_ms += e.at - from;
                    *handled_timed += 1;
                }
            }
            "return" => row.returned += 1,
            "verify_fail" => row.reopened += 1,
            "close" => row.closed += 1,
            _ => {}
        }
    }
    for unit in open_overdue {
        if let Some((row, _, _)) = rows.get_mut(unit.as_str()) {
            row.overdue += 1;
        }
    }
    let mut out: Vec<UnitAppraisal> = units
        .iter()
        .filter_map(|u| rows.remove(u.code.as_str()))
        .map(|(mut row, ms, n)| {
            row.on_time_rate = ratio(row.handled_on_time, row.received);
            row.closure_rate = ratio(row.closed, row.received);
            row.mean_handling_h =
                (n > 0).then(|| (ms as f64 / n as f64 / 3_600_000.0 * 100.0).round() / 100.0);
            row
        })
        .collect();
    out.sort_by(|a, b| b.received.cmp(&a.received).then(a.unit.cmp(&b.unit)));
    out
}

/// The appraisal as CSV (UTF-8 with a BOM, so Excel opens the Chinese names correctly).
pub fn to_csv(rows: &[UnitAppraisal]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "unit",
        "name",
        "unit_type",
        "level",
        "received",
        "handled",
        "handled_on_time",
        "overdue",
        "returned",
        "reopened",
        "closed",
        "on_time_rate",
        "closure_rate",
        "mean_handling_h",
    ])?;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in rows {
        out.write_record([
            r.unit.clone(),
            r.name.clone(),
            r.unit_type.clone(),
            r.level.clone(),
            r.received.to_string(),
            r.handled.to_string(),
            r.handled_on_time.to_string(),
            r.overdue.to_string(),
            r.returned.to_string(),
            r.reopened.to_string(),
            r.closed.to_string(),
            opt(r.on_time_rate),
            opt(r.closure_rate),
            opt(r.mean_handling_h),
        ])?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(action: &str, unit: &str, at: i64, data: serde_json::Value) -> Event {
        let mut data = data;
        data["case_unit"] = json!(unit);
        Event {
            id: at,
            case_id: 1,
            action: action.into(),
            from_status: None,
            to_status: String::new(),
            actor: "t".into(),
            role: "unit".into(),
            unit: None,
            at,
            note: None,
            public_note: None,
            photos: vec![],
            data,
        }
    }

    #[test]
    fn figures_follow_the_log() {
        let units = vec![UnitInfo {
            code: "U1".into(),
            name: "城管中队".into(),
            unit_type: "chengguan".into(),
            level: "town",
        }];
        let h = 3_600_000;
        let events = vec![
            event("dispatch", "U1", 0, json!({})),
            event("dispatch", "U1", 1, json!({})),
            event("dispatch", "U1", 2, json!({})),
            event(
                "feedback",
                "U1",
                2 * h,
                json!({"on_time": true, "dispatched_at": 0}),
            ),
            event(
                "feedback",
                "U1",
                6 * h,
                json!({"on_time": false, "dispatched_at": 0}),
            ),
            event("verify_fail", "U1", 7 * h, json!({})),
            event("close", "U1", 8 * h, json!({})),
            event("return", "OTHER", 8 * h, json!({})),
        ];
        let rows = appraise(&units, &events, &["U1".to_string()]);
        let r = &rows[0];
        assert_eq!(
            (r.received, r.handled, r.handled_on_time, r.overdue),
            (3, 2, 1, 2)
        );
        assert_eq!((r.reopened, r.closed, r.returned), (1, 1, 0));
        assert_eq!(r.on_time_rate, Some(0.3333));
        assert_eq!(r.mean_handling_h, Some(4.0));
        assert!(to_csv(&rows).unwrap().contains("城管中队"));
    }
}

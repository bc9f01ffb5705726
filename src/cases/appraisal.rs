//! Appraisal (考核) over a period, from the append-only event log and the supervision orders,
//! as the district runs it: each handling unit's figures (received, handled on time or late,
//! returned, reopened, closed, supervision orders answered on time, call-back reach and
//! satisfaction), the units in workload categories and ranked within them, and a row per town
//! sub-centre (its area's cases filed and dispatched on time, closed, passed up, and the orders
//! it received).
//!
//! Two ways to the same figures. [`appraise_tallies`] is the one the server runs: the database
//! sums the period's steps per (action, unit) and per (action, town) over the [`Evidence`]
//! columns of the log ([`Tally`]), so a year of 500,000 cases costs two index scans instead of
//! millions of JSON documents parsed here. [`appraise_network`] reads the same figures off every
//! event of the period in Rust; it is the reference the tallies are tested against (same
//! figures on random histories) and the baseline of `benches/network.rs`.

use super::model::Event;
use super::supervision::Order;
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
    /// Supervision orders addressed to the unit in the period, and those answered by their due
    /// time.
    pub orders_received: u64,
    pub orders_answered_on_time: u64,
    /// Call-backs on the unit's cases; the citizen reached; reached and satisfied (满意 or
    /// 基本满意).
    pub callbacks: u64,
    pub callbacks_reached: u64,
    pub callbacks_satisfied: u64,
    /// callbacks_reached / callbacks.
    pub reach_rate: Option<f64>,
    /// callbacks_satisfied / callbacks_reached.
    pub satisfaction_rate: Option<f64>,
    /// Workload category (1 the heaviest) by cases received: see [`categorise`].
    pub category: u32,
    /// Place within the category (1 the best): see [`rank`].
    pub rank: u32,
}

impl UnitAppraisal {
    /// A unit's row before any step of the period is counted (both the database sums and the
    /// reference reading of the events start from it).
    fn empty(u: &UnitInfo) -> UnitAppraisal {
        UnitAppraisal {
            unit: u.code.clone(),
            name: u.name.clone(),
            unit_type: u.unit_type.clone(),
            level: u.level.to_string(),
            ..Default::default()
        }
    }
}

/// A town sub-centre's row: the cases of its area and how its queue handled them.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct SubCentreAppraisal {
    pub town: String,
    pub name: String,
    /// Cases reported in its area in the period.
    pub cases: u64,
    pub filed: u64,
    /// Filed within the filing limit of the report.
    pub filed_on_time: u64,
    pub dispatched: u64,
    /// Dispatched within the dispatch limit of filing (filing seen in the period).
    pub dispatched_on_time: u64,
    pub closed: u64,
    /// closed / cases.
    pub closure_rate: Option<f64>,
    /// filed_on_time / filed.
    pub filed_on_time_rate: Option<f64>,
    /// dispatched_on_time / dispatched.
    pub dispatched_on_time_rate: Option<f64>,
    /// Cases it passed up to the district centre.
    pub pass_ups: u64,
    /// Cases the district centre handed down to it.
    pub hand_downs: u64,
    pub orders_received: u64,
    pub orders_answered_on_time: u64,
    pub callbacks: u64,
    pub callbacks_reached: u64,
    pub callbacks_satisfied: u64,
    pub reach_rate: Option<f64>,
    pub satisfaction_rate: Option<f64>,
}

/// A sub-centre to appraise (every one is listed, also those with nothing to do).
#[derive(Debug, Clone)]
pub struct TownInfo {
    pub code: String,
    pub name: String,
}

/// What decides the figures: the on-time limits of the sub-centres and the category bounds.
#[derive(Debug, Clone)]
pub struct Rules {
    pub file_limit_ms: i64,
    pub dispatch_limit_ms: i64,
    /// Descending: received ≥ thresholds[0] is category 1, ≥ thresholds[1] category 2, …
    pub category_thresholds: Vec<u64>,
}

/// The whole appraisal of a period.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Appraisal {
    pub units: Vec<UnitAppraisal>,
    pub sub_centres: Vec<SubCentreAppraisal>,
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
        .map(|u| (u.code.as_str(), (UnitAppraisal::empty(u), 0, 0)))
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
            // A call-back may reopen the case (unsatisfied) or close it (satisfied).
            "callback" => {
                if e.data.get("reopened").and_then(|v| v.as_bool()) == Some(true) {
                    row.reopened += 1;
                }
                if e.data.get("closed").and_then(|v| v.as_bool()) == Some(true) {
                    row.closed += 1;
                }
            }
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

/// The category of a unit that received `received` cases: 1 + the number of thresholds above
/// it (thresholds sorted descending).
pub fn categorise(received: u64, thresholds: &[u64]) -> u32 {
    let mut sorted = thresholds.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    1 + sorted.iter().take_while(|&&t| received < t).count() as u32
}

/// Orders units within each category: the higher on-time rate first, then the higher closure
/// rate, the higher satisfaction rate, the fewer overdue, the unit code; numbers each category
/// 1, 2, … in that order. (A missing rate counts as 0.)
pub fn rank(rows: &mut [UnitAppraisal]) {
    let key = |v: Option<f64>| v.unwrap_or(0.0);
    rows.sort_by(|a, b| {
        a.category
            .cmp(&b.category)
            .then(key(b.on_time_rate).total_cmp(&key(a.on_time_rate)))
            .then(key(b.closure_rate).total_cmp(&key(a.closure_rate)))
            .then(key(b.satisfaction_rate).total_cmp(&key(a.satisfaction_rate)))
            .then(a.overdue.cmp(&b.overdue))
            .then(a.unit.cmp(&b.unit))
    });
    let mut place = 0;
    let mut category = 0;
    for row in rows.iter_mut() {
        if row.category != category {
            category = row.category;
            place = 0;
        }
        place += 1;
        row.rank = place;
    }
}

fn text<'a>(e: &'a Event, key: &str) -> Option<&'a str> {
    e.data.get(key).and_then(|v| v.as_str())
}

/// A call-back's figures: (reached, satisfied) — satisfied is 满意 or 基本满意.
fn callback_outcome(e: &Event) -> (bool, bool) {
    let reached = e.data.get("reached").and_then(|v| v.as_bool()) == Some(true);
    let satisfied = matches!(text(e, "satisfaction"), Some("satisfied" | "basic"));
    (reached, reached && satisfied)
}

fn town_rows(towns: &[TownInfo]) -> Vec<SubCentreAppraisal> {
    towns
        .iter()
        .map(|t| SubCentreAppraisal {
            town: t.code.clone(),
            name: t.name.clone(),
            ..Default::default()
        })
        .collect()
}

fn index_of<T>(rows: &[T], key: impl Fn(&T) -> &str) -> HashMap<String, usize> {
    rows.iter()
        .enumerate()
        .map(|(i, r)| (key(r).to_string(), i))
        .collect()
}

/// The full appraisal from the period's events, read in Rust: every unit (categorised and
/// ranked) and every sub-centre. The reference of [`appraise_tallies`].
pub fn appraise_network(
    units: &[UnitInfo],
    towns: &[TownInfo],
    events: &[Event],
    orders: &[Order],
    open_overdue: &[String],
    rules: &Rules,
) -> Appraisal {
    let mut unit_rows = appraise(units, events, open_overdue);
    let unit_index = index_of(&unit_rows, |r| &r.unit);
    let mut town_rows = town_rows(towns);
    let town_index = index_of(&town_rows, |r| &r.town);
    // When each case was filed in the period (for dispatching on time).
    let mut filed_at: HashMap<i64, i64> = HashMap::new();
    for e in events {
        if e.action == "callback" {
            let (reached, satisfied) = callback_outcome(e);
            if let Some(&i) = case_unit(e).and_then(|u| unit_index.get(u)) {
                let row = &mut unit_rows[i];
                row.callbacks += 1;
                row.callbacks_reached += u64::from(reached);
                row.callbacks_satisfied += u64::from(satisfied);
            }
            if let Some(&i) = text(e, "case_town").and_then(|t| town_index.get(t)) {
                let row = &mut town_rows[i];
                row.callbacks += 1;
                row.callbacks_reached += u64::from(reached);
                row.callbacks_satisfied += u64::from(satisfied);
            }
        }
        let Some(&i) = text(e, "case_town").and_then(|t| town_index.get(t)) else {
            if e.action == "file" {
                filed_at.insert(e.case_id, e.at);
            }
            continue;
        };
        let row = &mut town_rows[i];
        match e.action.as_str() {
            "report" => row.cases += 1,
            "file" => {
                filed_at.insert(e.case_id, e.at);
                row.filed += 1;
                let reported = e.data.get("reported_at").and_then(|v| v.as_i64());
                if reported.is_some_and(|r| e.at - r <= rules.file_limit_ms) {
                    row.filed_on_time += 1;
                }
            }
            "dispatch" => {
                // A re-dispatch after a return counts again; timing only from a filing seen.
                row.dispatched += 1;
                if filed_at
                    .get(&e.case_id)
                    .is_some_and(|f| e.at - f <= rules.dispatch_limit_ms)
                {
                    row.dispatched_on_time += 1;
                }
            }
            "close" => row.closed += 1,
            "callback" if e.data.get("closed").and_then(|v| v.as_bool()) == Some(true) => {
                row.closed += 1
            }
            "pass_up" => row.pass_ups += 1,
            "hand_down" => row.hand_downs += 1,
            _ => {}
        }
    }
    finish(unit_rows, town_rows, orders, rules)
}

/// The orders' counts, the rates, the categories and the ranks, once the steps are counted.
fn finish(
    mut unit_rows: Vec<UnitAppraisal>,
    mut town_rows: Vec<SubCentreAppraisal>,
    orders: &[Order],
    rules: &Rules,
) -> Appraisal {
    let unit_index = index_of(&unit_rows, |r| &r.unit);
    let town_index = index_of(&town_rows, |r| &r.town);
    for order in orders {
        let on_time = order.answered_on_time() == Some(true);
        if let Some(unit) = order.target.strip_prefix("unit:")
            && let Some(&i) = unit_index.get(unit)
        {
            unit_rows[i].orders_received += 1;
            unit_rows[i].orders_answered_on_time += u64::from(on_time);
        }
        if let Some(town) = order.target.strip_prefix("town:")
            && let Some(&i) = town_index.get(town)
        {
            town_rows[i].orders_received += 1;
            town_rows[i].orders_answered_on_time += u64::from(on_time);
        }
    }
    for row in &mut unit_rows {
        row.reach_rate = ratio(row.callbacks_reached, row.callbacks);
        row.satisfaction_rate = ratio(row.callbacks_satisfied, row.callbacks_reached);
        row.category = categorise(row.received, &rules.category_thresholds);
    }
    for row in &mut town_rows {
        row.closure_rate = ratio(row.closed, row.cases);
        row.filed_on_time_rate = ratio(row.filed_on_time, row.filed);
        row.dispatched_on_time_rate = ratio(row.dispatched_on_time, row.dispatched);
        row.reach_rate = ratio(row.callbacks_reached, row.callbacks);
        row.satisfaction_rate = ratio(row.callbacks_satisfied, row.callbacks_reached);
    }
    rank(&mut unit_rows);
    Appraisal {
        units: unit_rows,
        sub_centres: town_rows,
    }
}

/// What the appraisal reads of one step, kept in columns of its event (`case_unit`,
/// `case_town`, `since`, `on_time`, `reached`, `satisfied`, migration 0009) so the database can
/// sum a period without parsing `data`. Read off `data` by the same rules as
/// [`appraise_network`]; a dispatch's `since` (when the case was filed) is the store's, read
/// from the log when the dispatch is written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    pub case_unit: Option<String>,
    pub case_town: Option<String>,
    /// A feedback's dispatch time, a filing's report time.
    pub since: Option<i64>,
    /// A feedback's: given by the deadline (absent counts as on time).
    pub on_time: Option<bool>,
    /// A call-back's: the citizen reached; reached and satisfied.
    pub reached: Option<bool>,
    pub satisfied: Option<bool>,
}

impl Evidence {
    pub fn of(action: &str, data: &serde_json::Value) -> Evidence {
        let text = |key: &str| data.get(key).and_then(|v| v.as_str()).map(str::to_string);
        let number = |key: &str| data.get(key).and_then(|v| v.as_i64());
        let callback = (action == "callback").then(|| {
            let reached = data.get("reached").and_then(|v| v.as_bool()) == Some(true);
            let satisfied = matches!(
                data.get("satisfaction").and_then(|v| v.as_str()),
                Some("satisfied" | "basic")
            );
            (reached, reached && satisfied)
        });
        Evidence {
            case_unit: text("case_unit"),
            case_town: text("case_town"),
            since: match action {
                "feedback" => number("dispatched_at"),
                "file" => number("reported_at"),
                _ => None,
            },
            on_time: (action == "feedback").then(|| {
                data.get("on_time")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(true)
            }),
            reached: callback.map(|c| c.0),
            satisfied: callback.map(|c| c.1),
        }
    }
}

/// The period's steps of one action counted for one unit or town, summed by the database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    pub action: String,
    /// The unit's or the town's code.
    pub key: String,
    pub steps: u64,
    /// Feedback given on time.
    pub on_time: u64,
    /// Steps with a `since`, and the sum of their `at - since` (ms).
    pub timed: u64,
    pub span_ms: i64,
    /// Filings within the filing limit of the report.
    pub within_file_limit: u64,
    /// Dispatches within the dispatch limit of a filing made in the period.
    pub within_dispatch_limit: u64,
    pub reached: u64,
    pub satisfied: u64,
    /// Steps that left the case reopened, or closed (a call-back's outcome).
    pub to_reopened: u64,
    pub to_closed: u64,
}

/// A period's tallies: by (action, unit) and by (action, town).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tallies {
    pub units: Vec<Tally>,
    pub towns: Vec<Tally>,
}

/// The full appraisal from the database's tallies: the same figures as [`appraise_network`]
/// over the same period.
pub fn appraise_tallies(
    units: &[UnitInfo],
    towns: &[TownInfo],
    tallies: &Tallies,
    orders: &[Order],
    open_overdue: &[String],
    rules: &Rules,
) -> Appraisal {
    let mut unit_rows: Vec<(UnitAppraisal, i64, u64)> = units
        .iter()
        .map(|u| (UnitAppraisal::empty(u), 0, 0))
        .collect();
    let unit_index = index_of(&unit_rows, |r| &r.0.unit);
    for t in &tallies.units {
        let Some(&i) = unit_index.get(&t.key) else {
            continue;
        };
        let (row, span_ms, timed) = &mut unit_rows[i];
        match t.action.as_str() {
            "dispatch" => row.received += t.steps,
            "feedback" => {
                row.handled += t.steps;
                row.handled_on_time += t.on_time;
                row.overdue += t.steps - t.on_time;
                *span_ms += t.span_ms;
                *timed += t.timed;
            }
            "return" => row.returned += t.steps,
            "verify_fail" => row.reopened += t.steps,
            "close" => row.closed += t.steps,
            "callback" => {
                row.reopened += t.to_reopened;
                row.closed += t.to_closed;
                row.callbacks += t.steps;
                row.callbacks_reached += t.reached;
                row.callbacks_satisfied += t.satisfied;
            }
            _ => {}
        }
    }
    for unit in open_overdue {
        if let Some(&i) = unit_index.get(unit) {
            unit_rows[i].0.overdue += 1;
        }
    }
    let unit_rows = unit_rows
        .into_iter()
        .map(|(mut row, ms, n)| {
            row.on_time_rate = ratio(row.handled_on_time, row.received);
            row.closure_rate = ratio(row.closed, row.received);
            row.mean_handling_h =
                (n > 0).then(|| (ms as f64 / n as f64 / 3_600_000.0 * 100.0).round() / 100.0);
            row
        })
        .collect();
    let mut town_rows = town_rows(towns);
    let town_index = index_of(&town_rows, |r| &r.town);
    for t in &tallies.towns {
        let Some(&i) = town_index.get(&t.key) else {
            continue;
        };
        let row = &mut town_rows[i];
        match t.action.as_str() {
            "report" => row.cases += t.steps,
            "file" => {
                row.filed += t.steps;
                row.filed_on_time += t.within_file_limit;
            }
            "dispatch" => {
                row.dispatched += t.steps;
                row.dispatched_on_time += t.within_dispatch_limit;
            }
            "close" => row.closed += t.steps,
            "callback" => {
                row.closed += t.to_closed;
                row.callbacks += t.steps;
                row.callbacks_reached += t.reached;
                row.callbacks_satisfied += t.satisfied;
            }
            "pass_up" => row.pass_ups += t.steps,
            "hand_down" => row.hand_downs += t.steps,
            _ => {}
        }
    }
    finish(unit_rows, town_rows, orders, rules)
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
        "orders_received",
        "orders_answered_on_time",
        "callbacks",
        "reach_rate",
        "satisfaction_rate",
        "category",
        "rank",
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
            r.orders_received.to_string(),
            r.orders_answered_on_time.to_string(),
            r.callbacks.to_string(),
            opt(r.reach_rate),
            opt(r.satisfaction_rate),
            r.category.to_string(),
            r.rank.to_string(),
        ])?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

/// The sub-centres' rows as CSV (UTF-8 with a BOM).
pub fn sub_centres_csv(rows: &[SubCentreAppraisal]) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record([
        "town",
        "name",
        "cases",
        "filed",
        "filed_on_time",
        "dispatched",
        "dispatched_on_time",
        "closed",
        "closure_rate",
        "pass_ups",
        "hand_downs",
        "orders_received",
        "orders_answered_on_time",
        "callbacks",
        "reach_rate",
        "satisfaction_rate",
    ])?;
    let opt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for r in rows {
        out.write_record([
            r.town.clone(),
            r.name.clone(),
            r.cases.to_string(),
            r.filed.to_string(),
            r.filed_on_time.to_string(),
            r.dispatched.to_string(),
            r.dispatched_on_time.to_string(),
            r.closed.to_string(),
            opt(r.closure_rate),
            r.pass_ups.to_string(),
            r.hand_downs.to_string(),
            r.orders_received.to_string(),
            r.orders_answered_on_time.to_string(),
            r.callbacks.to_string(),
            opt(r.reach_rate),
            opt(r.satisfaction_rate),
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

    #[test]
    fn categories_follow_the_thresholds_and_ranks_restart_in_each() {
        assert_eq!(categorise(50, &[10, 50]), 1);
        assert_eq!(categorise(49, &[50, 10]), 2);
        assert_eq!(categorise(10, &[50, 10]), 2);
        assert_eq!(categorise(9, &[50, 10]), 3);
        assert_eq!(categorise(0, &[]), 1);
        let row = |unit: &str, category, on_time| UnitAppraisal {
            unit: unit.into(),
            category,
            on_time_rate: on_time,
            ..Default::default()
        };
        let mut rows = vec![
            row("A", 2, Some(0.5)),
            row("B", 1, Some(0.2)),
            row("C", 2, Some(0.9)),
            row("D", 1, None),
            row("E", 1, Some(0.7)),
        ];
        rank(&mut rows);
        let order: Vec<(&str, u32, u32)> = rows
            .iter()
            .map(|r| (r.unit.as_str(), r.category, r.rank))
            .collect();
        assert_eq!(
            order,
            [
                ("E", 1, 1),
                ("B", 1, 2),
                ("D", 1, 3),
                ("C", 2, 1),
                ("A", 2, 2)
            ]
        );
    }
}

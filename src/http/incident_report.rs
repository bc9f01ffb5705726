//! `GET /incidents/{id}/report`: the duty report (值班快报) of an incident as an HTML page made
//! for paper — what happened, where, level and plan, every action with its time, the tasks and
//! their state, people in the incident's shelters and the protected targets exposed — with a
//! print stylesheet (A4, no buttons, tables that do not split rows). Staff only; a browser
//! opening it from the map passes the key as `?key=`.

use super::auth::Caller;
use super::incidents::{counts, db, stored_photo, team_equipment, unit_name};
use super::params::Params;
use super::{ApiError, AppState};
use crate::catalog::Role;
use crate::incidents::{Page, Task};
use crate::services::occupancy::{Live, register};
use crate::spatial::LayerStore;
use axum::extract::{Path, RawQuery, State};
use axum::response::Html;
use chrono::{FixedOffset, TimeZone};
use std::collections::HashMap;
use std::fmt::Write;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Beijing time (UTC+8), as a duty room writes it.
fn local(ms: i64) -> String {
    let Some(tz) = FixedOffset::east_opt(8 * 3600) else {
        return String::new();
    };
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => String::new(),
    }
}

fn label(store: &LayerStore, role: Role, id: &str) -> String {
    store
        .by_role(role)
        .and_then(|l| l.find(id).and_then(|i| l.label(i)))
        .map_or_else(|| id.to_string(), str::to_string)
}

fn who(store: &LayerStore, t: &Task) -> String {
    if let Some(team) = &t.team {
        return match team_equipment(store, team) {
            Some(kit) => format!("{}（装备：{kit}）", label(store, Role::Team, team)),
            None => label(store, Role::Team, team),
        };
    }
    if let Some(depot) = &t.depot {
        return label(store, Role::SupplyDepot, depot);
    }
    if let Some(unit) = &t.unit {
        return unit_name(store, unit).unwrap_or_else(|| unit.clone());
    }
    match (&t.team_kind, &t.item) {
        (Some(k), _) => format!("（待派{k}队伍）"),
        (_, Some(item)) => format!("（待调拨{item}）"),
        _ => String::new(),
    }
}

const STYLE: &str = r#"
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", sans-serif; margin: 2em auto; max-width: 60em; color: #111; }
h1 { font-size: 1.5em; text-align: center; border-bottom: 3px double #b00; padding-bottom: .3em; color: #b00; }
h2 { font-size: 1.1em; margin-top: 1.4em; border-left: 4px solid #b00; padding-left: .4em; }
table { border-collapse: collapse; width: 100%; font-size: .9em; }
th, td { border: 1px solid #999; padding: .25em .4em; text-align: left; vertical-align: top; }
th { background: #eee; }
dl.facts { display: grid; grid-template-columns: 8em 1fr; gap: .2em 1em; }
dl.facts dt { font-weight: bold; }
.overdue { color: #b00; font-weight: bold; }
img.thumb { max-width: 8em; max-height: 6em; display: block; }
.meta { text-align: center; color: #555; font-size: .9em; }
.actions { margin: 1em 0; }
@media print {
  @page { size: A4; margin: 15mm; }
  body { margin: 0; max-width: none; font-size: 10.5pt; }
  .actions { display: none; }
  tr { break-inside: avoid; }
  h2 { break-after: avoid; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// Most completion photos a report carries inline; past that it says how many more there are.
const MAX_THUMBS: usize = 200;

/// The report's HTML. `thumbs` holds the tasks' completion-photo thumbnails as `data:` URIs,
/// so the printed report carries them and the page never puts a key into an image address.
pub fn render(
    store: &LayerStore,
    state: &AppState,
    page: &Page,
    live: &Live,
    thumbs: &HashMap<i64, String>,
    now: i64,
) -> String {
    let plans = &state.tables.plans;
    let inc = &page.incident;
    let plan = plans.plan(&inc.plan);
    let mut h = String::with_capacity(16 * 1024);
    let _ = write!(
        h,
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>值班快报 · 事件{}</title><style>{STYLE}</style></head><body>",
        inc.id
    );
    let _ = write!(
        h,
        "<h1>值班快报</h1><p class=\"meta\">事件编号 {} · 生成时间 {}（北京时间）</p>",
        inc.id,
        local(now)
    );
    h.push_str(
        "<div class=\"actions\"><button onclick=\"window.print()\">打印 / Print</button></div>",
    );
    let towns: Vec<String> = inc
        .context
        .towns
        .iter()
        .map(|t| label(store, Role::Town, t))
        .collect();
    let what = page
        .timeline
        .iter()
        .find(|e| matches!(e.kind.as_str(), "proposed" | "opened"))
        .and_then(|e| e.note.clone())
        .unwrap_or_else(|| inc.title.clone());
    let _ = write!(
        h,
        "<h2>一、基本情况</h2><dl class=\"facts\">\
         <dt>事件</dt><dd id=\"report-title\">{}</dd>\
         <dt>发生情况</dt><dd>{}</dd>\
         <dt>地点</dt><dd>{}（{:.5}, {:.5}）</dd>\
         <dt>响应等级</dt><dd id=\"report-level\">{}级（{}）</dd>\
         <dt>预案</dt><dd>{}</dd>\
         <dt>状态</dt><dd>{}</dd>\
         <dt>开始时间</dt><dd>{}</dd>{}</dl>",
        esc(&inc.title),
        esc(&what),
        esc(&if towns.is_empty() {
            "—".to_string()
        } else {
            towns.join("、")
        }),
        inc.lon,
        inc.lat,
        inc.level.as_str(),
        inc.level.name_zh(),
        esc(&plan.map_or_else(
            || inc.plan.clone(),
            |p| format!("{}（{}）", p.plan_name, p.name)
        )),
        inc.status.name_zh(),
        local(inc.opened_at),
        inc.closed_at
            .map(|t| format!("<dt>结束时间</dt><dd>{}</dd>", local(t)))
            .unwrap_or_default(),
    );

    h.push_str("<h2>二、处置经过</h2><table id=\"report-timeline\"><thead><tr><th>时间</th><th>事项</th><th>等级</th><th>操作人</th><th>说明</th></tr></thead><tbody>");
    for e in &page.timeline {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            local(e.at),
            esc(entry_name(&e.kind)),
            e.level.map(|l| l.as_str()).unwrap_or(""),
            esc(&e.actor),
            esc(e.note.as_deref().unwrap_or("")),
        );
    }
    h.push_str("</tbody></table>");

    let c = counts(&page.tasks, now);
    let _ = write!(
        h,
        "<h2>三、任务落实（共{}项：完成{}，未完成{}，拒收{}，超时{}）</h2><table id=\"report-tasks\"><thead><tr><th>#</th><th>任务</th><th>承担</th><th>时限</th><th>状态</th><th>反馈</th><th>照片</th></tr></thead><tbody>",
        c.tasks, c.done, c.open, c.refused, c.overdue
    );
    for t in &page.tasks {
        let overdue = t.is_overdue(now);
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}{}</td><td>{}</td><td>{}</td></tr>",
            t.id,
            esc(&t.title),
            esc(&who(store, t)),
            local(t.deadline),
            if overdue { " class=\"overdue\"" } else { "" },
            t.status.name_zh(),
            if overdue { "（超时）" } else { "" },
            esc(t.note.as_deref().or(t.reason.as_deref()).unwrap_or("")),
            photo_cell(t, thumbs),
        );
    }
    h.push_str("</tbody></table>");

    // Shelters the incident's tasks open, with the people in them now.
    h.push_str("<h2>四、人员转移安置</h2>");
    let mut moved_total = 0;
    let mut rows = String::new();
    if let Some(layer) = store.by_role(Role::Shelter) {
        let mut seen: Vec<&str> = Vec::new();
        for t in &page.tasks {
            let Some(place) = t.place.as_deref() else {
                continue;
            };
            let Some(i) = layer.find(place) else { continue };
            if seen.contains(&place) {
                continue;
            }
            seen.push(place);
            let Some(view) = live.view(layer, i) else {
                continue;
            };
            let moved = (view.occupancy - register(layer, i).0).max(0);
            moved_total += moved;
            let _ = write!(
                rows,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(layer.label(i).unwrap_or(place)),
                view.capacity,
                view.occupancy,
                moved
            );
        }
    }
    let _ = write!(
        h,
        "<p id=\"report-moved\">转移安置人员 {moved_total} 人（各避难场所现有人数与登记人数之差）。</p><table><thead><tr><th>避难场所</th><th>容量</th><th>现有</th><th>新安置</th></tr></thead><tbody>{rows}</tbody></table>"
    );

    h.push_str("<h2>五、受威胁保护目标</h2>");
    if inc.context.targets.is_empty() {
        h.push_str("<p>无。</p>");
    } else {
        h.push_str(
            "<table><thead><tr><th>目标</th><th>人数</th><th>所在街镇</th></tr></thead><tbody>",
        );
        for p in &inc.context.targets {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p.name.as_deref().unwrap_or(&p.id)),
                p.people.map(|n| n.to_string()).unwrap_or_default(),
                esc(&p
                    .town
                    .as_deref()
                    .map(|t| label(store, Role::Town, t))
                    .unwrap_or_default()),
            );
        }
        h.push_str("</tbody></table>");
    }
    if !inc.context.flood_points.is_empty() {
        let _ = write!(
            h,
            "<p>预警站点周边易涝点 {} 处。</p>",
            inc.context.flood_points.len()
        );
    }
    h.push_str("</body></html>");
    h
}

/// A task's photo in the report: its thumbnail inline; an outside URL as a link; a stored
/// photo past [`MAX_THUMBS`] as a note.
fn photo_cell(t: &Task, thumbs: &HashMap<i64, String>) -> String {
    match (thumbs.get(&t.id), &t.photo) {
        (Some(uri), _) => format!(
            "<img class=\"thumb\" data-task-photo=\"{}\" alt=\"任务{}完成照片\" src=\"{}\">",
            t.id,
            t.id,
            esc(uri)
        ),
        (None, Some(p)) if crate::photos::hash_of(p).is_none() => {
            format!("<a href=\"{}\">照片链接</a>", esc(p))
        }
        (None, Some(_)) => "有照片（见系统）".to_string(),
        (None, None) => String::new(),
    }
}

/// The thumbnails of the tasks' stored completion photos (at most [`MAX_THUMBS`]), as `data:`
/// URIs. A thumbnail the store cannot give is left out (the cell then says a photo exists).
async fn thumbnails(state: &AppState, page: &Page) -> HashMap<i64, String> {
    use base64::Engine;
    let mut out = HashMap::new();
    let Some(photos) = state.cases.as_ref().and_then(|c| c.photo_store()) else {
        return out;
    };
    for t in page.tasks.iter().filter(|t| stored_photo(t).is_some()) {
        if out.len() == MAX_THUMBS {
            break;
        }
        let Some(hash) = stored_photo(t) else {
            continue;
        };
        match photos.get(hash, crate::photos::Variant::Thumb).await {
            Ok(bytes) => {
                let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
                out.insert(t.id, format!("data:image/jpeg;base64,{data}"));
            }
            Err(e) => tracing::warn!(task = t.id, "a task photo's thumbnail is unreadable: {e}"),
        }
    }
    out
}

fn entry_name(kind: &str) -> &str {
    match kind {
        "proposed" => "触发提议",
        "trigger" => "新的触发",
        "held" => "冷却期内再次触发（未提议）",
        "opened" => "值班员启动",
        "confirmed" => "确认启动响应",
        "dismissed" => "排除",
        "raised" => "提高等级",
        "lowered" => "降低等级",
        "closed" => "结束响应",
        "task_added" => "下达任务",
        "task_acknowledged" => "任务签收",
        "task_started" => "开始处置",
        "task_done" => "任务完成",
        "task_refused" => "任务拒收",
        "team_assigned" => "调派队伍",
        "stock_drawn" => "调拨物资",
        other => other,
    }
}

/// `GET /incidents/{id}/report`.
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
    RawQuery(query): RawQuery,
) -> Result<Html<String>, ApiError> {
    let params = Params::parse(query.as_deref());
    let caller = caller.or_query_key(&state, &params).await?;
    caller.require_staff()?;
    let db = db(&state)?;
    let page = state.incidents.page(db, id).await?;
    let live = super::shelters::live(&state).await?;
    let store = state.store.snapshot();
    let now = state.cases.as_ref().map_or(0, |c| c.clock.now());
    let thumbs = thumbnails(&state, &page).await;
    Ok(Html(render(&store, &state, &page, &live, &thumbs, now)))
}

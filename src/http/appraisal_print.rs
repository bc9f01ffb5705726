//! The appraisal as a printable page (`GET /api/appraisal?format=html`): the units by workload
//! category with their rank, then the sub-centres; A4 landscape with the browser's print.

use crate::cases::appraisal::{Appraisal, SubCentreAppraisal, UnitAppraisal};
use std::fmt::Write as _;

/// Text for HTML (every value from the layers or the database goes through this).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{:.1}%", x * 100.0))
        .unwrap_or_else(|| "—".into())
}

fn unit_row(out: &mut String, r: &UnitAppraisal) {
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td></tr>",
        r.rank,
        esc(&r.name),
        esc(&r.unit),
        if r.level == "district" {
            "区级"
        } else {
            "镇级"
        },
        r.received,
        r.handled_on_time,
        r.overdue,
        pct(r.on_time_rate),
        r.closed,
        pct(r.closure_rate),
        r.orders_answered_on_time,
        r.orders_received,
        pct(r.reach_rate),
        pct(r.satisfaction_rate),
    );
}

fn town_row(out: &mut String, r: &SubCentreAppraisal) {
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}/{}</td><td>{}</td><td>{}</td></tr>",
        esc(&r.name),
        r.cases,
        pct(r.filed_on_time_rate),
        pct(r.dispatched_on_time_rate),
        pct(r.closure_rate),
        r.pass_ups,
        r.hand_downs,
        r.orders_answered_on_time,
        r.orders_received,
        pct(r.reach_rate),
        pct(r.satisfaction_rate),
    );
}

const CATEGORY: [&str; 3] = ["一类（工作量大）", "二类", "三类"];

pub fn page(appraisal: &Appraisal, from: &str, to: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>考核报表 {from} – {to}</title>\
<style>@page{{size:A4 landscape;margin:12mm}}body{{font:12px sans-serif}}h1{{font-size:18px}}\
table{{border-collapse:collapse;width:100%;margin-bottom:16px}}th,td{{border:1px solid #999;padding:2px 4px;text-align:right}}\
td:nth-child(2),th:nth-child(2){{text-align:left}}h2{{page-break-before:auto;font-size:15px}}</style></head><body>\
<h1>城市综合管理和应急联动 考核报表</h1><p>考核期：{} 至 {}</p>",
        esc(from),
        esc(to)
    );
    let mut categories: Vec<u32> = appraisal.units.iter().map(|r| r.category).collect();
    categories.dedup();
    for category in categories {
        let name = CATEGORY
            .get(category.saturating_sub(1) as usize)
            .map(|s| s.to_string())
            .unwrap_or_else(|| format!("{category}类"));
        let _ = write!(
            out,
            "<h2>处置单位 · {name}</h2><table><thead><tr><th>名次</th><th>单位</th><th>编码</th><th>层级</th><th>受理</th><th>按期处置</th><th>超期</th><th>按期率</th><th>结案</th><th>结案率</th><th>督办按期回复</th><th>回访联系率</th><th>满意率</th></tr></thead><tbody>"
        );
        for r in appraisal.units.iter().filter(|r| r.category == category) {
            unit_row(&mut out, r);
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("<h2>街镇分中心</h2><table><thead><tr><th>分中心</th><th>辖区案件</th><th>按期立案率</th><th>按期派遣率</th><th>结案率</th><th>上报区中心</th><th>区中心下派</th><th>督办按期回复</th><th>回访联系率</th><th>满意率</th></tr></thead><tbody>");
    for r in &appraisal.sub_centres {
        town_row(&mut out, r);
    }
    out.push_str("</tbody></table></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped() {
        let appraisal = Appraisal {
            units: vec![UnitAppraisal {
                unit: "U<1>".into(),
                name: "<script>".into(),
                category: 1,
                rank: 1,
                ..Default::default()
            }],
            sub_centres: vec![],
        };
        let html = page(&appraisal, "a", "b");
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(html.contains("一类"));
    }
}

//! Emergency layers: hazard sources, hazardous-chemical enterprises, pipelines, protected
//! targets, shelters, teams, supply depots and medical facilities.

use super::context::{Context, point, weighted};
use super::lines::{clip_to_district, length_km, wiggle_line};
use super::names::Namer;
use super::output::{Dataset, Feature};
use super::spec::ZoneSpec;
use crate::catalog::Role;
use crate::catalog::hazard_grade::{Holding, grade};
use geo::{Coord, LineString};
use rand::Rng as _;
use rand::seq::IndexedRandom;
use serde_json::Value;

fn zone_centre(z: &ZoneSpec) -> Coord<f64> {
    Coord {
        x: z.center[0],
        y: z.center[1],
    }
}

/// People living within `radius_m` (sum over cells whose centroid is that close).
fn people_within(ctx: &Context, p: Coord<f64>, radius_m: f64) -> u64 {
    ctx.cells
        .within(ctx.frame, p, radius_m)
        .iter()
        .map(|&c| ctx.admin.cells[c].population)
        .sum()
}

/// Planning radius of a hazard source's consequences by grade (synthetic planning values used
/// for the shelter siting check).
pub fn impact_radius_m(grade: u8) -> i64 {
    match grade {
        1 => 1500,
        2 => 1000,
        3 => 600,
        _ => 300,
    }
}

fn hazard_sources(ctx: &Context, namer: &mut Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("hazard-sources");
    let n = ctx.count("hazard_sources");
    let chemical_zones: Vec<&ZoneSpec> = ctx
        .spec
        .industrial_zone
        .iter()
        .filter(|z| z.chemical)
        .collect();
    let other_zones: Vec<&ZoneSpec> = ctx
        .spec
        .industrial_zone
        .iter()
        .filter(|z| !z.chemical)
        .collect();
    let mut out = Vec::with_capacity(n);
    let mut enterprise = String::new();
    for i in 0..n {
        // Most major hazard sources sit in the chemical-industry zones on the coast.
        let zone = if rng.random_bool(0.78) || other_zones.is_empty() {
            chemical_zones
                .choose(&mut rng)
                .copied()
                .unwrap_or(&ctx.spec.industrial_zone[0])
        } else {
            other_zones
                .choose(&mut rng)
                .copied()
                .unwrap_or(&ctx.spec.industrial_zone[0])
        };
        let (cell, p) = ctx.place_near(zone_centre(zone), zone.radius_km * 1000.0, &mut rng);
        if i == 0 || rng.random_bool(0.6) {
            enterprise = namer.firm(&mut rng, if zone.chemical { "化工" } else { "实业" });
        }
        let kinds = rng.random_range(1..=3usize).min(zone.chemicals.len());
        let picked: Vec<&String> = zone.chemicals.choose_multiple(&mut rng, kinds).collect();
        let mut holdings = Vec::new();
        let mut parts = Vec::new();
        let mut ids = Vec::new();
        let mut quantities = Vec::new();
        for (k, id) in picked.iter().enumerate() {
            let Some(chem) = ctx.tables.chemical(id) else {
                continue;
            };
            // The first substance alone reaches its critical quantity (a major hazard source);
            // the others add to R.
            let ratio: f64 = if k == 0 {
                (rng.random_range(0.0f64..3.2)).exp()
            } else {
                rng.random_range(0.1..1.5)
            };
            let q = ((chem.critical_quantity_t * ratio) * 10.0).round() / 10.0;
            let q = q.max(chem.critical_quantity_t);
            holdings.push(Holding {
                quantity_t: q,
                critical_quantity_t: chem.critical_quantity_t,
                beta: chem.beta,
            });
            parts.push(format!("{} {:.1} t", chem.name, q));
            ids.push(chem.id.clone());
            quantities.push(format!("{q:.1}"));
        }
        let exposed = people_within(ctx, p, 500.0).min(u64::from(u32::MAX)) as u32;
        let g = grade(&holdings, exposed);
        let level = g.grade.unwrap_or(4);
        let facility = ["储罐区", "生产装置", "仓库", "装卸区"][rng.random_range(0..4)];
        let code = format!("WXY{:04}", i + 1);
        out.push(Feature {
            id: code.clone(),
            geometry: point(p),
            properties: vec![
                ("code", Value::from(code)),
                ("name", Value::from(format!("{enterprise}{facility}"))),
                ("enterprise", Value::from(enterprise.clone())),
                ("chemicals", Value::from(parts.join("; "))),
                ("chemical_ids", Value::from(ids.join(","))),
                ("quantities_t", Value::from(quantities.join(","))),
                (
                    "ratio_sum",
                    Value::from((g.ratio_sum * 100.0).round() / 100.0),
                ),
                ("r_value", Value::from((g.r * 100.0).round() / 100.0)),
                ("grade", Value::from(level)),
                ("exposed_people", Value::from(exposed)),
                ("impact_radius_m", Value::from(impact_radius_m(level))),
                ("zone", Value::from(zone.name.clone())),
                ("town_code", ctx.town_code(cell)),
                ("cell_code", ctx.cell_code(cell)),
                ("address", ctx.address(namer, cell, &mut rng)),
                ("contact", Value::from(namer.person(&mut rng))),
                ("phone", Value::from(Namer::phone(&mut rng, true))),
            ],
        });
    }
    out
}

fn hazmat_enterprises(ctx: &Context, namer: &mut Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("hazmat-enterprises");
    let n = ctx.count("hazmat_enterprises");
    let licences = [
        ("生产", 0.25),
        ("储存", 0.15),
        ("经营(带储存)", 0.2),
        ("经营(无储存)", 0.15),
        ("使用", 0.25),
    ];
    (0..n)
        .map(|i| {
            let zone = &ctx.spec.industrial_zone[if rng.random_bool(0.7) {
                rng.random_range(0..ctx.spec.industrial_zone.len())
            } else {
                0
            }];
            // A third are spread over the towns (filling stations, plating shops, dealers).
            let (cell, p) = if rng.random_bool(0.33) {
                let sampler = ctx.sampler(|c| 0.2 + ctx.admin.cells[c].urban);
                ctx.place(&sampler, &mut rng)
            } else {
                ctx.place_near(zone_centre(zone), zone.radius_km * 1200.0, &mut rng)
            };
            let licence = *weighted(&licences, &mut rng);
            let main: Vec<String> = zone
                .chemicals
                .choose_multiple(&mut rng, 2)
                .filter_map(|id| ctx.tables.chemical(id).map(|c| c.name.clone()))
                .collect();
            let trade =
                ["化工", "化学品", "新材料", "涂料", "精细化工", "气体"][rng.random_range(0..6)];
            let code = format!("WHQ{:04}", i + 1);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(namer.firm(&mut rng, trade))),
                    ("licence", Value::from(licence)),
                    ("main_chemicals", Value::from(main.join("、"))),
                    ("staff", Value::from(rng.random_range(12..600))),
                    ("town_code", ctx.town_code(cell)),
                    ("cell_code", ctx.cell_code(cell)),
                    ("address", ctx.address(namer, cell, &mut rng)),
                    ("phone", Value::from(Namer::phone(&mut rng, false))),
                ],
            }
        })
        .collect()
}

/// Name, medium, design pressure (MPa), diameter (mm), operator, route.
type Route<'a> = (String, &'a str, f64, i64, String, LineString<f64>);

fn pipelines(ctx: &Context, namer: &mut Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("pipelines");
    let mut routes: Vec<Route> = Vec::new();
    // A high-pressure gas trunk across the district and branches to each town seat.
    let west = Coord {
        x: 121.345,
        y: 30.935,
    };
    let east = Coord {
        x: 121.80,
        y: 30.905,
    };
    let gate = Coord {
        x: 121.47,
        y: 30.93,
    };
    routes.push((
        "天然气高压主干管".into(),
        "天然气",
        4.0,
        813,
        "上海天然气管网有限公司".into(),
        wiggle_line(ctx, west, east, &mut rng),
    ));
    for (t, town) in ctx.spec.town.iter().enumerate() {
        let seat = ctx.admin.cells[ctx.seat_cell(t)].centroid;
        routes.push((
            format!("{}次高压燃气支线", town.name),
            "天然气",
            1.6,
            406,
            "奉贤燃气有限公司".into(),
            wiggle_line(ctx, gate, seat, &mut rng),
        ));
    }
    // Product pipelines inside the chemical zones.
    for zone in ctx.spec.industrial_zone.iter().filter(|z| z.chemical) {
        let c = zone_centre(zone);
        for (k, medium) in ["乙烯", "丙烯", "氢气", "氯气"].iter().enumerate() {
            let a = ctx.frame.offset(
                c,
                rng.random_range(-2000.0..-800.0),
                (k as f64 - 1.5) * 500.0,
            );
            let b = ctx
                .frame
                .offset(c, rng.random_range(800.0..2000.0), (k as f64 - 1.5) * 450.0);
            routes.push((
                format!("{}{}输送管道", zone.name, medium),
                medium,
                2.5,
                219,
                namer.firm(&mut rng, "管道"),
                wiggle_line(ctx, a, b, &mut rng),
            ));
        }
    }
    routes
        .into_iter()
        .enumerate()
        .filter_map(|(i, (name, medium, pressure, diameter, operator, line))| {
            let geometry = clip_to_district(ctx, line)?;
            let code = format!("GD{:03}", i + 1);
            Some(Feature {
                id: code.clone(),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(name)),
                    ("medium", Value::from(medium)),
                    ("pressure_mpa", Value::from(pressure)),
                    ("diameter_mm", Value::from(diameter)),
                    ("operator", Value::from(operator)),
                    ("length_km", Value::from(length_km(ctx, &geometry))),
                ],
                geometry,
            })
        })
        .collect()
}

fn protected_targets(ctx: &Context, namer: &mut Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("protected-targets");
    let n = ctx.count("protected_targets");
    // (kind, name suffix, fewest people, most people), weight.
    type Kind<'a> = (&'a str, &'a str, u32, u32);
    let kinds: [(Kind, f64); 9] = [
        (("小学", "小学", 400, 2200), 0.22),
        (("中学", "中学", 600, 2600), 0.12),
        (("幼儿园", "幼儿园", 120, 480), 0.24),
        (("养老院", "敬老院", 60, 420), 0.10),
        (("医院", "医院", 200, 1800), 0.05),
        (("商场", "商业广场", 500, 6000), 0.10),
        (("水厂", "自来水厂", 30, 160), 0.02),
        (("公共交通枢纽", "公交枢纽站", 200, 2500), 0.05),
        (("居民密集区", "小区", 800, 5000), 0.10),
    ];
    let sampler = ctx.sampler(|c| ctx.admin.cells[c].population as f64);
    (0..n)
        .map(|i| {
            let (cell, p) = ctx.place(&sampler, &mut rng);
            let (kind, suffix, lo, hi) = *weighted(&kinds, &mut rng);
            let village = &ctx.admin.villages[ctx.admin.cells[cell].village];
            let stem: String = village.name.chars().take(2).collect();
            let code = format!("FH{:04}", i + 1);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    (
                        "name",
                        Value::from(format!(
                            "{}{stem}{suffix}",
                            ctx.town_of_cell(cell)
                                .name
                                .trim_end_matches(['镇', '区'])
                                .replace("街道", "")
                        )),
                    ),
                    ("kind", Value::from(kind)),
                    ("headcount", Value::from(rng.random_range(lo..=hi))),
                    ("town_code", ctx.town_code(cell)),
                    ("cell_code", ctx.cell_code(cell)),
                    ("address", ctx.address(namer, cell, &mut rng)),
                    ("phone", Value::from(Namer::phone(&mut rng, false))),
                ],
            }
        })
        .collect()
}

fn shelters(ctx: &Context, namer: &mut Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("shelters");
    let n = ctx.count("shelters");
    let kinds = [
        ("学校操场", 0.4),
        ("公园绿地", 0.25),
        ("体育场馆", 0.15),
        ("广场", 0.12),
        ("社区活动中心", 0.08),
    ];
    // GB 21734 classes: I long-term (≥30 days), II medium (10–30 days), III short-term.
    let classes = [
        (("I", 8000u32, 30000u32), 0.08),
        (("II", 2000, 9000), 0.27),
        (("III", 300, 2500), 0.65),
    ];
    let sampler = ctx.sampler(|c| ctx.admin.cells[c].population as f64 + 200.0);
    (0..n)
        .map(|i| {
            let (cell, p) = ctx.place(&sampler, &mut rng);
            let kind = *weighted(&kinds, &mut rng);
            let (class, lo, hi) = *weighted(&classes, &mut rng);
            let capacity = (rng.random_range(lo..=hi) / 50) * 50;
            let open = rng.random_bool(0.86);
            let occupancy = if open && rng.random_bool(0.3) {
                (capacity as f64 * rng.random_range(0.05..0.7)) as u32
            } else {
                0
            };
            let village = &ctx.admin.villages[ctx.admin.cells[cell].village];
            let code = format!("BN{:04}", i + 1);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    (
                        "name",
                        Value::from(format!("{}{}应急避难场所", village.name, kind)),
                    ),
                    ("kind", Value::from(kind)),
                    ("class", Value::from(class)),
                    ("capacity", Value::from(capacity)),
                    ("occupancy", Value::from(occupancy)),
                    ("status", Value::from(if open { "open" } else { "closed" })),
                    (
                        "area_m2",
                        Value::from(capacity as i64 * rng.random_range(2..4)),
                    ),
                    ("town_code", ctx.town_code(cell)),
                    ("cell_code", ctx.cell_code(cell)),
                    ("address", ctx.address(namer, cell, &mut rng)),
                    ("manager", Value::from(namer.person(&mut rng))),
                    ("phone", Value::from(Namer::phone(&mut rng, true))),
                ],
            }
        })
        .collect()
}

/// One piece of a team type's equipment: its name and the range its count is drawn from.
pub type Kit = (&'static str, u32, u32);

/// What each team type carries (INVENTED for the demo, see data/README.md): equipment names of
/// `plans.toml`'s `[[equipment]]`, each with the range its count is drawn from (a lower bound
/// of 0 means some teams of the type have none).
pub const TEAM_EQUIPMENT: [(&str, &[Kit]); 10] = [
    (
        "综合救援",
        &[
            ("液压破拆工具", 1, 4),
            ("生命探测仪", 1, 2),
            ("正压式空气呼吸器", 4, 12),
            ("发电机", 1, 3),
            ("移动照明灯组", 1, 3),
            ("冲锋舟", 0, 2),
            ("油锯", 2, 6),
        ],
    ),
    (
        "防汛抢险",
        &[
            ("抽水泵", 2, 10),
            ("冲锋舟", 1, 4),
            ("救生衣", 20, 60),
            ("发电机", 1, 3),
            ("移动照明灯组", 1, 4),
        ],
    ),
    (
        "危化救援",
        &[
            ("正压式空气呼吸器", 8, 20),
            ("重型防化服", 4, 12),
            ("气体检测仪", 2, 6),
            ("堵漏器材", 2, 5),
            ("洗消设备", 1, 2),
        ],
    ),
    (
        "医疗救护",
        &[("救护车", 1, 4), ("除颤仪", 1, 4), ("担架", 4, 12)],
    ),
    (
        "电力抢修",
        &[
            ("发电机", 2, 6),
            ("高空作业车", 1, 3),
            ("移动照明灯组", 2, 4),
        ],
    ),
    (
        "燃气抢修",
        &[
            ("气体检测仪", 2, 6),
            ("堵漏器材", 1, 3),
            ("正压式空气呼吸器", 2, 6),
        ],
    ),
    (
        "供水抢修",
        &[("抽水泵", 1, 4), ("挖掘机", 1, 2), ("管道抢修器材", 2, 6)],
    ),
    (
        "道路抢修",
        &[("挖掘机", 1, 3), ("移动照明灯组", 2, 4), ("油锯", 2, 4)],
    ),
    (
        "民兵应急",
        &[
            ("抽水泵", 1, 4),
            ("冲锋舟", 0, 2),
            ("救生衣", 20, 60),
            ("移动照明灯组", 1, 2),
            ("油锯", 1, 4),
        ],
    ),
    (
        "志愿者",
        &[("救生衣", 10, 40), ("担架", 2, 6), ("移动照明灯组", 0, 2)],
    ),
];

/// A team's equipment text (`抽水泵 6; 冲锋舟 2; …`, the format of a depot's `supplies`),
/// drawn from its type's list.
fn equipment(kind: &str, rng: &mut super::rng::Rng) -> String {
    let Some((_, items)) = TEAM_EQUIPMENT.iter().find(|(k, _)| *k == kind) else {
        return String::new();
    };
    items
        .iter()
        .filter_map(|(name, lo, hi)| {
            let n = rng.random_range(*lo..=*hi);
            (n > 0).then(|| format!("{name} {n}"))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn teams(ctx: &Context, namer: &mut Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("teams");
    // Its own stream: adding equipment shifts none of the teams' other numbers.
    let mut kit = ctx.rng("team-equipment");
    let n = ctx.count("teams");
    let kinds = [
        (("综合应急救援队", "综合救援", 20, 80), 0.2),
        (("防汛抢险队", "防汛抢险", 20, 60), 0.2),
        (("危化品救援队", "危化救援", 15, 40), 0.06),
        (("医疗救护队", "医疗救护", 10, 40), 0.08),
        (("电力抢修队", "电力抢修", 10, 30), 0.07),
        (("燃气抢修队", "燃气抢修", 8, 25), 0.06),
        (("供水抢修队", "供水抢修", 8, 25), 0.06),
        (("道路抢修队", "道路抢修", 10, 40), 0.07),
        (("民兵应急分队", "民兵应急", 20, 60), 0.15),
        (("志愿者救援队", "志愿者", 15, 100), 0.05),
    ];
    (0..n)
        .map(|i| {
            let t = i % ctx.spec.town.len();
            let town = &ctx.spec.town[t];
            let (name, kind, lo, hi) = *weighted(&kinds, &mut rng);
            let centre = if kind == "危化救援" {
                let z = &ctx.spec.industrial_zone[0];
                Coord {
                    x: z.center[0],
                    y: z.center[1],
                }
            } else {
                ctx.admin.cells[ctx.seat_cell(t)].centroid
            };
            let (cell, p) = ctx.place_near(centre, 2000.0, &mut rng);
            let code = format!("DW{:03}", i + 1);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(format!("{}{}", town.name, name))),
                    ("kind", Value::from(kind)),
                    ("members", Value::from(rng.random_range(lo..=hi))),
                    ("vehicles", Value::from(rng.random_range(1..12))),
                    ("equipment", Value::from(equipment(kind, &mut kit))),
                    ("leader", Value::from(namer.person(&mut rng))),
                    ("phone", Value::from(Namer::phone(&mut rng, true))),
                    ("town_code", ctx.town_code(cell)),
                ],
            }
        })
        .collect()
}

fn supply_depots(ctx: &Context, namer: &mut Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("supply-depots");
    let n = ctx.count("supply_depots");
    let kinds = [
        "综合应急物资库",
        "防汛物资仓库",
        "救灾物资储备点",
        "医疗物资储备库",
    ];
    (0..n)
        .map(|i| {
            let t = i % ctx.spec.town.len();
            let town = &ctx.spec.town[t];
            let kind = kinds[(i / ctx.spec.town.len()) % kinds.len()];
            let (cell, p) =
                ctx.place_near(ctx.admin.cells[ctx.seat_cell(t)].centroid, 3000.0, &mut rng);
            let supplies = format!(
                "沙袋 {}; 救生衣 {}; 帐篷 {}; 折叠床 {}; 发电机 {}; 抽水泵 {}; 应急照明 {}",
                rng.random_range(10..200) * 100,
                rng.random_range(5..60) * 10,
                rng.random_range(2..40) * 5,
                rng.random_range(5..100) * 10,
                rng.random_range(1..20),
                rng.random_range(1..30),
                rng.random_range(10..200),
            );
            let code = format!("WZ{:03}", i + 1);
            Feature {
                id: code.clone(),
                geometry: point(p),
                properties: vec![
                    ("code", Value::from(code)),
                    ("name", Value::from(format!("{}{}", town.name, kind))),
                    (
                        "level",
                        Value::from(if i < 3 { "district" } else { "town" }),
                    ),
                    ("supplies", Value::from(supplies)),
                    ("manager", Value::from(namer.person(&mut rng))),
                    ("phone", Value::from(Namer::phone(&mut rng, true))),
                    ("town_code", ctx.town_code(cell)),
                ],
            }
        })
        .collect()
}

fn medical_facilities(ctx: &Context, namer: &mut Namer) -> Vec<Feature> {
    let mut rng = ctx.rng("medical");
    let n = ctx.count("medical_facilities");
    let nanqiao = ctx
        .spec
        .town
        .iter()
        .position(|t| t.code.ends_with("101"))
        .unwrap_or(0);
    let major: [(&str, &str, &str, u32, bool); 6] = [
        ("奉贤区中心医院", "综合医院", "三级", 1200, true),
        ("奉贤区中医医院", "中医医院", "三级", 800, true),
        ("奉贤区妇幼保健院", "妇幼保健院", "二级", 300, true),
        ("奉贤区精神卫生中心", "专科医院", "二级", 600, false),
        ("奉城医院", "综合医院", "二级", 500, true),
        ("古华医院", "综合医院", "二级", 400, true),
    ];
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let (name, kind, grade, beds, er, cell, p) = if i < major.len() {
            let (name, kind, grade, beds, er) = major[i];
            let town = if name.starts_with("奉城") {
                ctx.spec
                    .town
                    .iter()
                    .position(|t| t.code.ends_with("102"))
                    .unwrap_or(0)
            } else {
                nanqiao
            };
            let (cell, p) = ctx.place_near(
                ctx.admin.cells[ctx.seat_cell(town)].centroid,
                2000.0,
                &mut rng,
            );
            (name.to_string(), kind, grade, beds, er, cell, p)
        } else if i < major.len() + ctx.spec.town.len() {
            let t = i - major.len();
            let (cell, p) =
                ctx.place_near(ctx.admin.cells[ctx.seat_cell(t)].centroid, 1200.0, &mut rng);
            (
                format!("{}社区卫生服务中心", ctx.spec.town[t].name),
                "社区卫生服务中心",
                "一级",
                rng.random_range(20..120),
                false,
                cell,
                p,
            )
        } else {
            let v = &ctx.admin.villages[(i * 7919) % ctx.admin.villages.len()];
            let (cell, p) = (
                v.anchor_cell,
                super::places::point_in_cell(ctx.admin, v.anchor_cell, &mut rng),
            );
            let suffix = if v.kind == "居委会" {
                "社区卫生服务站"
            } else {
                "卫生室"
            };
            (
                format!("{}{}", v.name, suffix),
                "卫生站室",
                "未定级",
                0,
                false,
                cell,
                p,
            )
        };
        let code = format!("YL{:03}", i + 1);
        out.push(Feature {
            id: code.clone(),
            geometry: point(p),
            properties: vec![
                ("code", Value::from(code)),
                ("name", Value::from(name)),
                ("kind", Value::from(kind)),
                ("grade", Value::from(grade)),
                ("beds", Value::from(beds)),
                ("emergency", Value::from(er)),
                ("phone", Value::from(Namer::phone(&mut rng, false))),
                ("town_code", ctx.town_code(cell)),
                ("address", ctx.address(namer, cell, &mut rng)),
            ],
        });
    }
    out
}

pub fn datasets(ctx: &Context, namer: &mut Namer) -> Vec<Dataset> {
    vec![
        Dataset {
            role: Role::HazardSource,
            features: hazard_sources(ctx, namer),
        },
        Dataset {
            role: Role::HazmatEnterprise,
            features: hazmat_enterprises(ctx, namer),
        },
        Dataset {
            role: Role::Pipeline,
            features: pipelines(ctx, namer),
        },
        Dataset {
            role: Role::ProtectedTarget,
            features: protected_targets(ctx, namer),
        },
        Dataset {
            role: Role::Shelter,
            features: shelters(ctx, namer),
        },
        Dataset {
            role: Role::Team,
            features: teams(ctx, namer),
        },
        Dataset {
            role: Role::SupplyDepot,
            features: supply_depots(ctx, namer),
        },
        Dataset {
            role: Role::MedicalFacility,
            features: medical_facilities(ctx, namer),
        },
    ]
}

#[cfg(test)]
mod equipment_tests {
    use super::*;

    #[test]
    fn every_equipment_name_the_demo_draws_is_in_the_plans_list() {
        let plans = crate::catalog::CodeTables::load(std::path::Path::new("data"))
            .expect("tables")
            .plans;
        for (kind, items) in TEAM_EQUIPMENT {
            assert!(
                plans.team_kinds.iter().any(|t| t.kind == kind),
                "{kind} is a team type"
            );
            for (name, lo, hi) in items {
                assert!(plans.equipment_item(name).is_some(), "{name} is listed");
                assert!(lo <= hi);
            }
        }
        let mut rng = super::super::rng::stream(1, "t");
        let text = equipment("防汛抢险", &mut rng);
        assert!(
            text.starts_with("抽水泵 ") && text.contains("; 冲锋舟 "),
            "{text}"
        );
        assert_eq!(equipment("没有这类", &mut rng), "");
    }
}

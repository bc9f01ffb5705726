//! The code tables under `data/` as the centre's staff rely on them: the four affairs, the
//! CJ/T 214 component and event classes, the handling units of the demo dataset and the
//! hazardous-chemicals table used for GB 18218-2018 grading.

use gridlink::catalog::{ClassKind, CodeTables, Level};
use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

/// Fengxian's towns, subdistricts and the tourist zone with the number of town-level handling
/// units each gets in the demo dataset: 23 everywhere except the 海湾旅游区, which has 20.
const TOWNS: [(&str, usize); 12] = [
    ("南桥镇", 23),
    ("奉城镇", 23),
    ("庄行镇", 23),
    ("金汇镇", 23),
    ("四团镇", 23),
    ("青村镇", 23),
    ("柘林镇", 23),
    ("海湾镇", 23),
    ("西渡街道", 23),
    ("奉浦街道", 23),
    ("金海街道", 23),
    ("海湾旅游区", 20),
];

/// Even the smallest town gets this many units, so town-level classes must be covered by them.
const SMALLEST_TOWN_UNITS: usize = 20;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoUnits {
    district_unit: Vec<DistrictUnit>,
    town_unit: Vec<TownUnit>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DistrictUnit {
    name: String,
    short: String,
    unit_type: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TownUnit {
    name: String,
    unit_type: String,
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data")
}

fn load_tables() -> CodeTables {
    CodeTables::load(&data_dir()).unwrap_or_else(|e| panic!("code tables do not load: {e}"))
}

fn load_demo_units() -> DemoUnits {
    let path = data_dir().join("demo_units.toml");
    let text = std::fs::read_to_string(&path).expect("read demo_units.toml");
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_centre_works_with_four_affairs_and_three_urgencies() {
    let tables = load_tables();
    let affairs: Vec<(&str, &str)> = tables
        .affairs
        .iter()
        .map(|a| (a.code.as_str(), a.name.as_str()))
        .collect();
    assert_eq!(
        affairs,
        [
            ("CG", "城市管理"),
            ("YJ", "应急处置"),
            ("ZA", "治安稳定"),
            ("MS", "民生服务")
        ]
    );
    let urgencies: Vec<&str> = tables.urgencies.iter().map(|u| u.code.as_str()).collect();
    assert_eq!(urgencies, ["normal", "urgent", "critical"]);
}

#[test]
fn an_inspector_can_file_any_of_the_151_component_classes() {
    let tables = load_tables();
    let mut per_major: BTreeMap<&str, usize> = BTreeMap::new();
    for class in &tables.classes {
        let major = tables.major(&class.major).expect("major exists");
        if major.kind == ClassKind::Component {
            *per_major.entry(major.code.as_str()).or_default() += 1;
        }
    }
    let majors: Vec<&str> = per_major.keys().copied().collect();
    assert_eq!(majors, ["C01", "C02", "C03", "C04", "C05", "C06", "C07"]);
    assert!(per_major.values().all(|&n| n > 0), "{per_major:?}");
    assert_eq!(per_major.values().sum::<usize>(), 151, "{per_major:?}");
    for major in tables.majors.iter().filter(|m| m.code.starts_with('C')) {
        assert_eq!(major.kind, ClassKind::Component, "{}", major.code);
        assert_eq!(major.affairs, "CG", "{}", major.code);
    }
}

#[test]
fn every_cjt214_event_major_offers_a_choice_of_minor_classes() {
    let tables = load_tables();
    for major in ["E01", "E02", "E03", "E04", "E05"] {
        let m = tables
            .major(major)
            .unwrap_or_else(|| panic!("{major} missing"));
        assert_eq!(m.kind, ClassKind::Event, "{major}");
        let minors = tables.classes.iter().filter(|c| c.major == major).count();
        assert!(minors >= 3, "{major} has only {minors} minor classes");
    }
    // 突发事件 are handled as emergencies, the other four as city management.
    assert_eq!(tables.major("E04").unwrap().affairs, "YJ");
    assert_eq!(tables.major("E05").unwrap().affairs, "CG");
}

#[test]
fn emergencies_must_be_handled_within_the_hour_when_critical() {
    let tables = load_tables();
    for class in &tables.classes {
        let affairs = &tables.major(&class.major).unwrap().affairs;
        if affairs == "YJ" {
            assert!(
                class.limits_h["critical"] <= 1,
                "{} {}: critical limit {} h",
                class.code,
                class.name,
                class.limits_h["critical"]
            );
        }
    }
}

#[test]
fn every_unit_type_has_something_to_do() {
    let tables = load_tables();
    let units = load_demo_units();
    let used: HashSet<&str> = tables
        .classes
        .iter()
        .map(|c| c.unit_type.as_str())
        .chain(units.district_unit.iter().map(|u| u.unit_type.as_str()))
        .chain(units.town_unit.iter().map(|u| u.unit_type.as_str()))
        .collect();
    for unit_type in &tables.unit_types {
        assert!(
            used.contains(unit_type.code.as_str()),
            "unit type {} ({}) is used by no class and no unit",
            unit_type.code,
            unit_type.name
        );
    }
}

#[test]
fn the_chemicals_table_grades_chlorine_like_gb18218() {
    let tables = load_tables();
    assert!(tables.chemicals.len() >= 25, "{}", tables.chemicals.len());
    let chlorine = tables.chemical("chlorine").expect("chlorine is listed");
    assert_eq!(chlorine.critical_quantity_t, 5.0);
    assert_eq!(chlorine.beta, 4.0);
    for id in [
        "ammonia",
        "lpg",
        "methanol",
        "benzene",
        "hydrogen_sulfide",
        "phosgene",
        "methyl_isocyanate",
    ] {
        assert!(tables.chemical(id).is_some(), "{id} missing");
    }
}

#[test]
fn the_demo_district_has_43_district_units_and_273_town_units() {
    let tables = load_tables();
    let units = load_demo_units();

    assert_eq!(units.district_unit.len(), 43);
    let names: HashSet<&str> = units
        .district_unit
        .iter()
        .map(|u| u.name.as_str())
        .collect();
    assert_eq!(names.len(), 43, "district unit names repeat");
    let shorts: HashSet<&str> = units
        .district_unit
        .iter()
        .map(|u| u.short.as_str())
        .collect();
    assert_eq!(shorts.len(), 43, "district unit short names repeat");

    let most = TOWNS.iter().map(|&(_, n)| n).max().unwrap();
    assert!(
        units.town_unit.len() >= most,
        "{} templates",
        units.town_unit.len()
    );
    assert_eq!(TOWNS.iter().map(|&(_, n)| n).sum::<usize>(), 11 * 23 + 20);
    assert_eq!(11 * 23 + 20, 273);

    let mut town_units = HashSet::new();
    for (town, count) in TOWNS {
        for template in &units.town_unit[..count] {
            assert!(template.name.contains("{town}"), "{}", template.name);
            assert!(
                town_units.insert(template.name.replace("{town}", town)),
                "{town}: {} twice",
                template.name
            );
        }
    }
    assert_eq!(town_units.len(), 273);

    for unit in units.district_unit.iter().map(|u| &u.unit_type) {
        assert!(
            tables.unit_type(unit).is_some(),
            "district unit type {unit}"
        );
    }
    for unit in units.town_unit.iter().map(|u| &u.unit_type) {
        assert!(tables.unit_type(unit).is_some(), "town unit type {unit}");
    }
}

#[test]
fn every_case_class_has_a_unit_to_send_it_to_in_every_town() {
    let tables = load_tables();
    let units = load_demo_units();
    let district: HashSet<&str> = units
        .district_unit
        .iter()
        .map(|u| u.unit_type.as_str())
        .collect();
    let town: HashSet<&str> = units.town_unit[..SMALLEST_TOWN_UNITS]
        .iter()
        .map(|u| u.unit_type.as_str())
        .collect();
    for class in &tables.classes {
        let (available, tier) = match class.level {
            Level::District => (&district, "district units"),
            Level::Town => (&town, "the first 20 town templates"),
        };
        assert!(
            available.contains(class.unit_type.as_str()),
            "{} {} ({}) has no {} unit among {tier}",
            class.code,
            class.name,
            class.level.as_str(),
            class.unit_type
        );
    }
}

#[test]
fn a_class_naming_an_unknown_unit_type_is_refused_with_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let broken = dir.path().join("case_classes.toml");
    let mut doc: toml::Table = std::fs::read_to_string(&broken).unwrap().parse().unwrap();
    let first_class = doc["class"].as_array_mut().unwrap()[0]
        .as_table_mut()
        .unwrap();
    first_class.insert("unit_type".into(), "no_such_unit".into());
    std::fs::write(&broken, toml::to_string(&doc).unwrap()).unwrap();

    let err = CodeTables::load(dir.path())
        .expect_err("a class with an unknown unit type must not load")
        .to_string();
    assert!(err.contains("case_classes.toml"), "{err}");
    assert!(err.contains("unit_type"), "{err}");
}

#[test]
fn what_the_public_sees_is_chosen_per_class() {
    use gridlink::catalog::Visibility;
    let tables = load_tables();
    let visibility = |code: &str| tables.class(code).expect(code).visibility;
    // Public order and disputes are never listed: every Z01 and Z02 class is private or staff.
    for class in tables
        .classes
        .iter()
        .filter(|c| c.major == "Z01" || c.major == "Z02")
    {
        assert_ne!(class.visibility, Visibility::Public, "{}", class.code);
    }
    // Things in the street anyone can see are listed; matters touching a person are not;
    // the centre's own monitoring objects are not offered at all.
    let expected = [
        ("C0101", Visibility::Public),  // 上水井盖
        ("E0102", Visibility::Public),  // 暴露垃圾
        ("E0405", Visibility::Public),  // 道路积水
        ("M0102", Visibility::Public),  // 停电
        ("Y0102", Visibility::Public),  // 火灾
        ("Z0203", Visibility::Private), // 家庭纠纷
        ("Z0201", Visibility::Private), // 邻里纠纷
        ("Z0101", Visibility::Private), // 治安隐患
        ("M0302", Visibility::Private), // 独居老人关爱
        ("M0202", Visibility::Private), // 房屋渗漏
        ("E0502", Visibility::Private), // 流浪乞讨
        ("E0509", Visibility::Private), // 噪声扰民
        ("Y0103", Visibility::Private), // 道路交通事故 (the injured)
        ("C0502", Visibility::Staff),   // 人防工事
        ("C0704", Visibility::Staff),   // 监控探头
        ("C0713", Visibility::Staff),   // 独居老人智能烟感
        ("Z0206", Visibility::Staff),   // 群体性事件苗头
    ];
    for (code, v) in expected {
        assert_eq!(visibility(code), v, "{code}");
    }
    let count = |v: Visibility| tables.classes.iter().filter(|c| c.visibility == v).count();
    assert_eq!(
        (
            count(Visibility::Public),
            count(Visibility::Private),
            count(Visibility::Staff)
        ),
        (202, 45, 13)
    );
}

#[test]
fn classes_with_a_hazard_to_life_say_which_number_to_call_first() {
    let tables = load_tables();
    let call = |code: &str| tables.class(code).expect(code).call.as_deref();
    assert_eq!(call("Y0102"), Some("119"), "火灾");
    assert_eq!(call("E0409"), Some("119"), "火情");
    assert_eq!(call("Y0101"), Some("119"), "危险化学品泄漏");
    assert_eq!(call("Y0107"), Some("119"), "燃气爆炸");
    assert_eq!(call("Y0109"), Some("119"), "人员落水");
    assert_eq!(call("Y0103"), Some("110"), "道路交通事故");
    assert_eq!(call("E0411"), Some("110"), "电力线路断落");
    assert_eq!(call("Y0302"), Some("120"), "食物中毒");
    assert_eq!(call("C0101"), None);
    assert_eq!(call("M0102"), None);
    // Only emergencies have one, and only classes citizens may report.
    for class in tables.classes.iter().filter(|c| c.call.is_some()) {
        let affairs = &tables.major(&class.major).unwrap().affairs;
        assert_eq!(affairs, "YJ", "{} {}", class.code, class.name);
        assert!(class.offered_to_public(), "{}", class.code);
    }
}

/// Copies the shipped tables into a temp dir with the first class edited by `edit`.
fn tables_with_first_class(edit: impl FnOnce(&mut toml::Table)) -> Result<CodeTables, String> {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let file = dir.path().join("case_classes.toml");
    let mut doc: toml::Table = std::fs::read_to_string(&file).unwrap().parse().unwrap();
    edit(
        doc["class"].as_array_mut().unwrap()[0]
            .as_table_mut()
            .unwrap(),
    );
    std::fs::write(&file, toml::to_string(&doc).unwrap()).unwrap();
    CodeTables::load(dir.path()).map_err(|e| e.to_string())
}

#[test]
fn a_class_must_state_its_visibility_and_a_real_emergency_number() {
    let err = tables_with_first_class(|c| {
        c.remove("visibility");
    })
    .expect_err("visibility is required");
    assert!(err.contains("visibility"), "{err}");
    let err = tables_with_first_class(|c| {
        c.insert("visibility".into(), "secret".into());
    })
    .expect_err("an unknown visibility");
    assert!(
        err.contains("visibility") || err.contains("secret"),
        "{err}"
    );
    let err = tables_with_first_class(|c| {
        c.insert("public".into(), true.into());
    })
    .expect_err("the old public flag is gone");
    assert!(err.contains("public"), "{err}");
    let err = tables_with_first_class(|c| {
        c.insert("call".into(), "999".into());
    })
    .expect_err("999 is not a Chinese emergency number");
    assert!(err.contains("call") && err.contains("999"), "{err}");
    let err = tables_with_first_class(|c| {
        c.insert("visibility".into(), "staff".into());
        c.insert("call".into(), "119".into());
    })
    .expect_err("staff-only classes are not shown to citizens");
    assert!(err.contains("call"), "{err}");
    assert!(
        tables_with_first_class(|c| {
            c.insert("call".into(), "120".into());
        })
        .is_ok()
    );
}

//! The special command headquarters (专项指挥部) and their response plans (专项应急预案):
//! `data/plans.toml`.
//!
//! A district keeps one headquarters per kind of emergency (flood and typhoon control,
//! hazardous chemicals, fire, public health, …). Each has a lead body and an office in one
//! member unit, member units with their duties, and four response levels, IV (一般) to I
//! (特别重大). A level says *when* it applies — machine-readable [`Trigger`]s: a feed alert of
//! a kind at or above a signal colour, a leak zone over a protected target, a case of a class,
//! or a duty officer's decision — and *what follows*: the standard tasks, each for a unit, the
//! town units of a type, a team type or a depot, with a deadline in minutes.
//!
//! The table is only data plus the matching rules, so incidents can propose a plan and level
//! without the plan ever activating itself: [`Plan::level_for_alert`], [`Plan::level_for_leak`]
//! and [`Plan::level_for_case`] answer "which level would this warrant", nothing more. Loading
//! checks the file hard (see `plan_checks`): unknown units, trigger kinds, alert kinds, case
//! classes, team types or supply items, and levels out of order are refused with the plan's
//! id and the field at fault.

use serde::{Deserialize, Serialize};

/// The whole file, as loaded and checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plans {
    /// True for a demonstration set (not a district's adopted plans); the API says so.
    pub demo: bool,
    /// What the set is and where its facts come from.
    pub note: String,
    pub team_kinds: Vec<TeamKind>,
    pub supplies: Vec<SupplyItem>,
    /// Equipment a team can carry (the teams layer's `equipment` text names it).
    pub equipment: Vec<EquipmentItem>,
    /// How long a dismissed proposal holds its trigger back (minutes): the same plan, station
    /// or leak, at the same or a lower level, proposes nothing in that window.
    pub dismissal_cooldown_min: i64,
    pub plans: Vec<Plan>,
}

/// A piece of equipment a team can carry and a search for teams can ask for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EquipmentItem {
    pub id: String,
    pub name: String,
    pub name_en: String,
    /// The counting unit, e.g. 艘 for boats.
    pub unit: String,
}

/// Without `dismissal_cooldown_min` in the file: two hours.
pub const DEFAULT_DISMISSAL_COOLDOWN_MIN: i64 = 120;

/// A type of emergency team a task can ask for. `kind` is the value the teams layer carries in
/// its `kind` field, so a task's team type can be matched to real teams.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamKind {
    pub id: String,
    pub kind: String,
    pub name_en: String,
}

/// A stock item a depot can hold and a task can ask to move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplyItem {
    pub id: String,
    pub name: String,
    pub name_en: String,
    /// The counting unit, e.g. 袋 (bags) for sandbags.
    pub unit: String,
}

/// The four classes of emergency of the national framework (突发事件分类).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    NaturalDisaster,
    Accident,
    PublicHealth,
    SocialSafety,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::NaturalDisaster => "natural_disaster",
            Category::Accident => "accident",
            Category::PublicHealth => "public_health",
            Category::SocialSafety => "social_safety",
        }
    }
}

/// One headquarters and its plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// ASCII id used in URLs and incidents, e.g. `flood`.
    pub id: String,
    /// The headquarters, e.g. 区防汛防台指挥部.
    pub name: String,
    pub name_en: String,
    /// The plan it runs, e.g. 奉贤区防汛防台专项应急预案.
    pub plan_name: String,
    pub category: Category,
    /// Who commands (a post, not a person), e.g. 区长任总指挥.
    pub commander: String,
    /// Unit code of the body the headquarters' office sits in (牵头单位); a member by right.
    pub office: String,
    /// Where the facts of this entry come from, and what is invented.
    pub basis: String,
    pub members: Vec<Member>,
    /// Town-level member unit types: every town's unit of this type takes part.
    #[serde(default)]
    pub town_members: Vec<TownMember>,
    #[serde(rename = "level")]
    pub levels: Vec<LevelDef>,
}

/// A district member unit (成员单位) and its duties in this headquarters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Unit code in the district-unit or town-unit layer.
    pub unit: String,
    pub duties: String,
}

/// Every town's unit of a type, and its duties.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownMember {
    pub unit_type: String,
    pub duties: String,
}

/// Response levels, lowest first; the order is what "raise" and "lower" follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ResponseLevel {
    IV,
    III,
    II,
    I,
}

impl ResponseLevel {
    pub const ALL: [ResponseLevel; 4] = [
        ResponseLevel::IV,
        ResponseLevel::III,
        ResponseLevel::II,
        ResponseLevel::I,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ResponseLevel::IV => "IV",
            ResponseLevel::III => "III",
            ResponseLevel::II => "II",
            ResponseLevel::I => "I",
        }
    }

    /// 一般 / 较大 / 重大 / 特别重大: the grade of the event each level answers.
    pub fn name_zh(self) -> &'static str {
        match self {
            ResponseLevel::IV => "一般",
            ResponseLevel::III => "较大",
            ResponseLevel::II => "重大",
            ResponseLevel::I => "特别重大",
        }
    }

    pub fn parse(s: &str) -> Option<ResponseLevel> {
        ResponseLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// Warning signal colours (预警信号), lowest first. The same four colours as the feeds'
/// alert levels; kept here because the code tables sit below the feeds and must not import
/// them (a test checks that the names agree).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signal {
    Blue,
    Yellow,
    Orange,
    Red,
}

impl Signal {
    pub const ALL: [Signal; 4] = [Signal::Blue, Signal::Yellow, Signal::Orange, Signal::Red];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Blue => "blue",
            Signal::Yellow => "yellow",
            Signal::Orange => "orange",
            Signal::Red => "red",
        }
    }

    pub fn parse(s: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// What a leak zone can lie over: the exposure groups of the leak-zone analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exposed {
    ProtectedTarget,
    Village,
    Shelter,
    HazardSource,
    GridCell,
}

/// Which zone of a leak a trigger looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneSel {
    Isolation,
    ProtectiveAction,
    Any,
}

/// When a level applies. A level applies when any one of its triggers does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A feed alert of one of these kinds (`thresholds.toml`) at or above `min_signal`.
    FeedAlert {
        alerts: Vec<String>,
        min_signal: Signal,
    },
    /// A leak zone that lies over at least one feature of `exposes` in `zone`, with at least
    /// `min_people` people in those features (0: any). `hazard_classes` limits it to chemicals
    /// of these UN classes (empty: any).
    LeakZone {
        exposes: Exposed,
        zone: ZoneSel,
        #[serde(default)]
        min_people: i64,
        #[serde(default)]
        hazard_classes: Vec<String>,
    },
    /// A case of one of these classes (`case_classes.toml`).
    Case { classes: Vec<String> },
    /// Only a duty officer's judgement, described for the record (no automatic proposal).
    Manual { when: String },
}

impl Trigger {
    pub fn kind(&self) -> &'static str {
        match self {
            Trigger::FeedAlert { .. } => "feed_alert",
            Trigger::LeakZone { .. } => "leak_zone",
            Trigger::Case { .. } => "case",
            Trigger::Manual { .. } => "manual",
        }
    }
}

/// What a standard task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Put units on duty and pass the warning down (通知、值守).
    Notify,
    /// Patrol or inspect places at risk (巡查).
    Patrol,
    /// Open shelters and receive people (开放避难场所).
    OpenShelters,
    /// Close or control roads (封闭道路、交通管制).
    CloseRoads,
    /// Move people out of danger (人员转移).
    Evacuate,
    /// Send a team (派遣队伍).
    SendTeam,
    /// Move supplies from a depot (调拨物资).
    MoveSupplies,
    /// Measure and watch (监测).
    Monitor,
    /// Repair or restore a service (抢修).
    Repair,
    /// Report to the district and city (信息报送).
    Report,
}

/// Who or what a task is for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskTarget {
    /// One member unit.
    Unit { unit: String },
    /// Every affected town's unit of this type (a town member of the plan).
    TownUnits { unit_type: String },
    /// `count` teams of a team type.
    Team { team: String, count: u32 },
    /// `quantity` of a supply item from the nearest depots holding it.
    Depot { item: String, quantity: u32 },
    /// One task per flood-prone point near the alerting stations, for its town's unit of this
    /// type.
    FloodPoints { unit_type: String },
    /// The `count` nearest shelters with room outside any hazard zone, each for its town's unit
    /// of this type.
    Shelters { count: u32, unit_type: String },
    /// One task per protected target in the zone, for its town's unit of this type.
    ProtectedTargets { unit_type: String },
}

impl TaskTarget {
    pub fn kind(&self) -> &'static str {
        match self {
            TaskTarget::Unit { .. } => "unit",
            TaskTarget::TownUnits { .. } => "town_units",
            TaskTarget::Team { .. } => "team",
            TaskTarget::Depot { .. } => "depot",
            TaskTarget::FloodPoints { .. } => "flood_points",
            TaskTarget::Shelters { .. } => "shelters",
            TaskTarget::ProtectedTargets { .. } => "protected_targets",
        }
    }

    /// The town-unit type the task falls to, for targets handled town by town.
    pub fn town_unit_type(&self) -> Option<&str> {
        match self {
            TaskTarget::TownUnits { unit_type }
            | TaskTarget::FloodPoints { unit_type }
            | TaskTarget::Shelters { unit_type, .. }
            | TaskTarget::ProtectedTargets { unit_type } => Some(unit_type),
            _ => None,
        }
    }
}

/// A standard task of a level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskTemplate {
    pub kind: TaskKind,
    pub title: String,
    pub target: TaskTarget,
    /// Minutes from activation.
    pub deadline_min: u32,
}

/// One response level of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelDef {
    pub level: ResponseLevel,
    pub triggers: Vec<Trigger>,
    pub tasks: Vec<TaskTemplate>,
}

/// What a leak-zone analysis found for one exposure group, as a trigger sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakExposure {
    pub exposes: Exposed,
    pub in_isolation: usize,
    pub in_protective: usize,
    /// Headcount or population of the features in either zone.
    pub people: i64,
}

impl Trigger {
    fn matches_alert(&self, kind: &str, signal: Signal) -> bool {
        matches!(self, Trigger::FeedAlert { alerts, min_signal }
            if signal >= *min_signal && alerts.iter().any(|a| a == kind))
    }

    fn matches_leak(&self, hazard_class: &str, found: &[LeakExposure]) -> bool {
        let Trigger::LeakZone {
            exposes,
            zone,
            min_people,
            hazard_classes,
        } = self
        else {
            return false;
        };
        if !hazard_classes.is_empty() && !hazard_classes.iter().any(|c| c == hazard_class) {
            return false;
        }
        found.iter().any(|e| {
            let count = match zone {
                ZoneSel::Isolation => e.in_isolation,
                ZoneSel::ProtectiveAction => e.in_protective,
                ZoneSel::Any => e.in_isolation.max(e.in_protective),
            };
            e.exposes == *exposes && count > 0 && e.people >= *min_people
        })
    }

    fn matches_case(&self, class: &str) -> bool {
        matches!(self, Trigger::Case { classes } if classes.iter().any(|c| c == class))
    }
}

impl Plan {
    pub fn level(&self, level: ResponseLevel) -> Option<&LevelDef> {
        self.levels.iter().find(|l| l.level == level)
    }

    /// True for the office's unit and every listed member.
    pub fn is_member(&self, unit: &str) -> bool {
        self.office == unit || self.members.iter().any(|m| m.unit == unit)
    }

    /// True when every town's unit of this type takes part.
    pub fn has_town_member(&self, unit_type: &str) -> bool {
        self.town_members.iter().any(|m| m.unit_type == unit_type)
    }

    /// The highest level of which any trigger holds.
    fn highest(&self, holds: impl Fn(&Trigger) -> bool) -> Option<ResponseLevel> {
        self.levels
            .iter()
            .filter(|l| l.triggers.iter().any(&holds))
            .map(|l| l.level)
            .max()
    }

    /// The level a feed alert of `kind` at `signal` warrants, if any.
    pub fn level_for_alert(&self, kind: &str, signal: Signal) -> Option<ResponseLevel> {
        self.highest(|t| t.matches_alert(kind, signal))
    }

    /// The level a leak zone of a chemical of UN class `hazard_class` warrants, given what the
    /// analysis found in it.
    pub fn level_for_leak(
        &self,
        hazard_class: &str,
        found: &[LeakExposure],
    ) -> Option<ResponseLevel> {
        self.highest(|t| t.matches_leak(hazard_class, found))
    }

    /// The level a case of `class` warrants, if any.
    pub fn level_for_case(&self, class: &str) -> Option<ResponseLevel> {
        self.highest(|t| t.matches_case(class))
    }
}

impl Plans {
    pub fn plan(&self, id: &str) -> Option<&Plan> {
        self.plans.iter().find(|p| p.id == id)
    }

    pub fn team_kind(&self, id: &str) -> Option<&TeamKind> {
        self.team_kinds.iter().find(|t| t.id == id)
    }

    pub fn supply(&self, id: &str) -> Option<&SupplyItem> {
        self.supplies.iter().find(|s| s.id == id)
    }

    /// Equipment by id or by name.
    pub fn equipment_item(&self, id_or_name: &str) -> Option<&EquipmentItem> {
        self.equipment
            .iter()
            .find(|e| e.id == id_or_name || e.name == id_or_name)
    }

    /// Every plan a feed alert warrants, with the level, in file order.
    pub fn for_alert(&self, kind: &str, signal: Signal) -> Vec<(&Plan, ResponseLevel)> {
        self.plans
            .iter()
            .filter_map(|p| p.level_for_alert(kind, signal).map(|l| (p, l)))
            .collect()
    }

    /// Every plan a leak zone warrants, with the level, in file order.
    pub fn for_leak(
        &self,
        hazard_class: &str,
        found: &[LeakExposure],
    ) -> Vec<(&Plan, ResponseLevel)> {
        self.plans
            .iter()
            .filter_map(|p| p.level_for_leak(hazard_class, found).map(|l| (p, l)))
            .collect()
    }
}

/// The file as written: plans are kept as raw tables first so a plan that does not parse can
/// be named by its id in the error, not only by its position.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPlansFile {
    pub demo: bool,
    pub note: String,
    pub team_kind: Vec<TeamKind>,
    pub supply: Vec<SupplyItem>,
    #[serde(default)]
    pub equipment: Vec<EquipmentItem>,
    pub dismissal_cooldown_min: Option<i64>,
    pub plan: Vec<toml::Table>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(levels: Vec<LevelDef>) -> Plan {
        Plan {
            id: "test".into(),
            name: "测试".into(),
            name_en: "Test".into(),
            plan_name: "测试预案".into(),
            category: Category::Accident,
            commander: "区长".into(),
            office: "U1".into(),
            basis: "test".into(),
            members: vec![Member {
                unit: "U2".into(),
                duties: "d".into(),
            }],
            town_members: vec![],
            levels,
        }
    }

    fn level(level: ResponseLevel, triggers: Vec<Trigger>) -> LevelDef {
        LevelDef {
            level,
            triggers,
            tasks: vec![],
        }
    }

    fn rain(min_signal: Signal) -> Trigger {
        Trigger::FeedAlert {
            alerts: vec!["rain_3h".into(), "rain_1h".into()],
            min_signal,
        }
    }

    #[test]
    fn the_highest_level_whose_trigger_holds_is_proposed() {
        let p = plan(vec![
            level(ResponseLevel::IV, vec![rain(Signal::Blue)]),
            level(ResponseLevel::III, vec![rain(Signal::Yellow)]),
            level(ResponseLevel::II, vec![rain(Signal::Orange)]),
            level(
                ResponseLevel::I,
                vec![Trigger::Manual {
                    when: "city takes over".into(),
                }],
            ),
        ]);
        assert_eq!(
            p.level_for_alert("rain_3h", Signal::Blue),
            Some(ResponseLevel::IV)
        );
        assert_eq!(
            p.level_for_alert("rain_1h", Signal::Orange),
            Some(ResponseLevel::II)
        );
        // Red meets every feed trigger, but level I is for a duty officer only.
        assert_eq!(
            p.level_for_alert("rain_1h", Signal::Red),
            Some(ResponseLevel::II)
        );
        assert_eq!(p.level_for_alert("wind_speed", Signal::Red), None);
        assert_eq!(p.level_for_case("Y0201"), None);
        assert!(p.is_member("U1") && p.is_member("U2") && !p.is_member("U3"));
    }

    #[test]
    fn a_leak_over_a_protected_target_matches_by_zone_class_and_people() {
        let trigger = Trigger::LeakZone {
            exposes: Exposed::ProtectedTarget,
            zone: ZoneSel::ProtectiveAction,
            min_people: 100,
            hazard_classes: vec!["2.3".into()],
        };
        let p = plan(vec![level(ResponseLevel::II, vec![trigger])]);
        let school = |in_isolation, in_protective, people| LeakExposure {
            exposes: Exposed::ProtectedTarget,
            in_isolation,
            in_protective,
            people,
        };
        assert_eq!(
            p.level_for_leak("2.3", &[school(0, 1, 800)]),
            Some(ResponseLevel::II)
        );
        // Only in the isolation zone, too few people, another class, another group: no.
        assert_eq!(p.level_for_leak("2.3", &[school(1, 0, 800)]), None);
        assert_eq!(p.level_for_leak("2.3", &[school(0, 1, 50)]), None);
        assert_eq!(p.level_for_leak("2.1", &[school(0, 1, 800)]), None);
        let village = LeakExposure {
            exposes: Exposed::Village,
            ..school(0, 3, 5000)
        };
        assert_eq!(p.level_for_leak("2.3", &[village]), None);
    }

    #[test]
    fn levels_and_signals_order_and_parse() {
        assert!(ResponseLevel::IV < ResponseLevel::I);
        assert!(Signal::Blue < Signal::Red);
        for l in ResponseLevel::ALL {
            assert_eq!(ResponseLevel::parse(l.as_str()), Some(l));
        }
        assert_eq!(ResponseLevel::parse("V"), None);
        assert_eq!(Signal::parse("orange"), Some(Signal::Orange));
    }
}

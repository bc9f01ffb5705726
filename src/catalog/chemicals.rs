//! The district's hazardous-chemicals property table (`data/chemicals.toml`).
//!
//! Each chemical carries its GB 18218-2018 grading values and, where known, the Emergency
//! Response Guidebook (ERG) distances the leak-zone analysis (`services::hazmat`) draws: the
//! initial isolation distance and the downwind protective action distance for small and large
//! spills, by day and by night. Every ERG block names its source and says whether that source
//! was checked (`verified`), because a duty officer must be able to tell a number read off the
//! guidebook from one that still has to be confirmed against it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chemical {
    /// ASCII id used by hazard-source records, e.g. `chlorine`.
    pub id: String,
    pub name: String,
    pub name_en: String,
    pub cas: String,
    /// UN number, four digits; empty where the substance has none.
    pub un: String,
    /// UN dangerous-goods class, e.g. `2.3`.
    pub hazard_class: String,
    /// GB 18218-2018 critical quantity Q in tonnes.
    pub critical_quantity_t: f64,
    /// GB 18218-2018 correction factor β for this substance or its hazard category.
    pub beta: f64,
    /// Where `critical_quantity_t` and `beta` come from.
    pub source: String,
    /// ERG initial isolation and protective action distances; `None` for chemicals the table
    /// has no ERG data for (the leak-zone analysis then refuses them rather than guess).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erg: Option<Erg>,
    /// What a handling unit needs at a leak, each property with its source; `None` (or a
    /// property left out) where no source was found — the table never guesses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responder: Option<super::responder::Responder>,
}

/// Where an ERG block's distances come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErgBasis {
    /// ERG Table 1 ("Initial Isolation and Protective Action Distances", the green pages):
    /// toxic-by-inhalation materials, with day and night protective action distances.
    Table1,
    /// The material is not in Table 1; the distances are the orange guide's "Public Safety"
    /// and "Evacuation" advice (isolate N m in all directions; for a large spill consider an
    /// initial downwind evacuation of M m), which has no day/night distinction and no
    /// downwind distance for a small spill.
    Guide,
}

impl ErgBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            ErgBasis::Table1 => "table1",
            ErgBasis::Guide => "guide",
        }
    }
}

/// The ERG distances of one spill size, with their source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpillDistances {
    /// Initial isolation distance: radius of the zone around the spill, all directions.
    pub isolation_m: f64,
    /// Downwind protective action distance by day; `None` where the source gives none (an
    /// orange guide's small spill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_m: Option<f64>,
    /// Downwind protective action distance by night.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub night_m: Option<f64>,
    /// Edition, table or guide and entry the numbers come from, and what was checked.
    pub source: String,
    /// True only when the numbers were compared with a copy of the named source; false marks
    /// values that must be confirmed before they are relied on (the API says so).
    pub verified: bool,
}

/// ERG data of one chemical. Validated when the table loads (see [`Erg::try_from`]): every
/// distance positive and finite, a source for each spill size, a guide number the ERG has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawErg")]
pub struct Erg {
    /// The orange guide, e.g. `124` or `116P` (P: may polymerize).
    pub guide: String,
    pub basis: ErgBasis,
    pub small: SpillDistances,
    pub large: SpillDistances,
}

/// Spill size as the ERG defines it: small is up to 208 litres (one drum, a small cylinder or
/// a small leak from a large package), large is more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Spill {
    Small,
    Large,
}

impl Spill {
    pub fn as_str(self) -> &'static str {
        match self {
            Spill::Small => "small",
            Spill::Large => "large",
        }
    }
}

/// Day is sunrise to sunset; night is when inversions keep the cloud concentrated, so the
/// ERG's night distances are usually the longer ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeOfDay {
    Day,
    Night,
}

impl TimeOfDay {
    pub fn as_str(self) -> &'static str {
        match self {
            TimeOfDay::Day => "day",
            TimeOfDay::Night => "night",
        }
    }
}

/// The distances that apply to one incident.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedDistances<'a> {
    pub isolation_m: f64,
    /// `None` when the source gives no downwind distance for this case.
    pub protective_m: Option<f64>,
    pub source: &'a str,
    pub verified: bool,
}

impl Erg {
    pub fn spill(&self, spill: Spill) -> &SpillDistances {
        match spill {
            Spill::Small => &self.small,
            Spill::Large => &self.large,
        }
    }

    /// The isolation and protective action distances for a spill size and time of day.
    pub fn distances(&self, spill: Spill, time: TimeOfDay) -> AppliedDistances<'_> {
        let d = self.spill(spill);
        AppliedDistances {
            isolation_m: d.isolation_m,
            protective_m: match time {
                TimeOfDay::Day => d.day_m,
                TimeOfDay::Night => d.night_m,
            },
            source: &d.source,
            verified: d.verified,
        }
    }

    /// True when every value of the block was checked against its source.
    pub fn verified(&self) -> bool {
        self.small.verified && self.large.verified
    }

    /// Orderings the ERG usually has but that are not errors: a large spill isolates and
    /// protects at least as far as a small one, and night distances are at least the day ones.
    /// A source may say otherwise (Table 1 has rows where they are equal, and a transcription
    /// error shows up here first), so these are reported at load, not refused.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.large.isolation_m < self.small.isolation_m {
            out.push(format!(
                "large-spill isolation {} m is shorter than the small-spill {} m",
                self.large.isolation_m, self.small.isolation_m
            ));
        }
        for (name, d) in [("small", &self.small), ("large", &self.large)] {
            if let (Some(day), Some(night)) = (d.day_m, d.night_m) {
                if night < day {
                    out.push(format!(
                        "{name} spill: night distance {night} m is shorter than the day {day} m"
                    ));
                }
            }
        }
        for (time, small, large) in [
            ("day", self.small.day_m, self.large.day_m),
            ("night", self.small.night_m, self.large.night_m),
        ] {
            if let (Some(s), Some(l)) = (small, large) {
                if l < s {
                    out.push(format!(
                        "{time}: large-spill distance {l} m is shorter than the small-spill {s} m"
                    ));
                }
            }
        }
        out
    }
}

/// Why a spill block's `verified` flag contradicts its source, if it does: a block marked
/// verified must name what it was checked against (`checked against …`) and must not still
/// say it was only recalled. A copied block that kept the wrong flag is caught here.
pub(crate) fn verified_claim_problem(d: &SpillDistances) -> Option<String> {
    let lower = d.source.to_lowercase();
    if !d.verified {
        return None;
    }
    if lower.contains("not checked") || lower.contains("recalled") {
        return Some(format!(
            "verified = true, but the source says the numbers were not checked: {:?}",
            d.source
        ));
    }
    if !lower.contains("checked against") {
        return Some(
            "verified = true needs the source to say what copy it was checked against (\"checked against …\")"
                .to_string(),
        );
    }
    None
}

/// The ERG block as written in the file, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawErg {
    guide: String,
    basis: ErgBasis,
    small: SpillDistances,
    large: SpillDistances,
}

/// Guide numbers of the ERG (2016 onwards): 111 to 174, optionally followed by `P`.
fn is_guide(guide: &str) -> bool {
    let digits = guide.strip_suffix('P').unwrap_or(guide);
    digits.len() == 3
        && digits
            .parse::<u16>()
            .is_ok_and(|n| (111..=174).contains(&n))
}

fn check_spill(name: &str, d: &SpillDistances, basis: ErgBasis) -> Result<(), String> {
    let positive = |field: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(format!(
                "{name}.{field}: {v} is not a positive number of metres"
            ))
        }
    };
    positive("isolation_m", d.isolation_m)?;
    for (field, value) in [("day_m", d.day_m), ("night_m", d.night_m)] {
        if let Some(v) = value {
            positive(field, v)?;
        }
    }
    if d.day_m.is_some() != d.night_m.is_some() {
        return Err(format!(
            "{name}: give both day_m and night_m or neither (a guide's distance applies day and night alike)"
        ));
    }
    if basis == ErgBasis::Table1 && d.day_m.is_none() {
        return Err(format!(
            "{name}: Table 1 gives day and night protective action distances; day_m and night_m are required"
        ));
    }
    if d.source.trim().is_empty() {
        return Err(format!("{name}.source: every value needs its source"));
    }
    Ok(())
}

impl TryFrom<RawErg> for Erg {
    type Error = String;

    fn try_from(raw: RawErg) -> Result<Erg, String> {
        if !is_guide(&raw.guide) {
            return Err(format!(
                "guide {:?} is not an ERG guide number (111 to 174, optionally with P)",
                raw.guide
            ));
        }
        check_spill("small", &raw.small, raw.basis)?;
        check_spill("large", &raw.large, raw.basis)?;
        Ok(Erg {
            guide: raw.guide,
            basis: raw.basis,
            small: raw.small,
            large: raw.large,
        })
    }
}

/// The whole file. Loading logs the ERG orderings that look wrong (see [`Erg::warnings`]) with
/// the chemical's id, so the operator can check them without the server refusing to start.
#[derive(Debug, Deserialize)]
#[serde(from = "RawChemicalsFile")]
pub(crate) struct ChemicalsFile {
    pub chemical: Vec<Chemical>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChemicalsFile {
    chemical: Vec<Chemical>,
}

impl From<RawChemicalsFile> for ChemicalsFile {
    fn from(raw: RawChemicalsFile) -> ChemicalsFile {
        for c in &raw.chemical {
            for warning in c.erg.iter().flat_map(Erg::warnings) {
                tracing::warn!(chemical = %c.id, "chemicals.toml: ERG distances: {warning}");
            }
        }
        ChemicalsFile {
            chemical: raw.chemical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Erg, String> {
        toml::from_str::<Erg>(text).map_err(|e| e.to_string())
    }

    const CHLORINE: &str = r#"
        guide = "124"
        basis = "table1"
        [small]
        isolation_m = 60.0
        day_m = 400.0
        night_m = 1600.0
        source = "test"
        verified = true
        [large]
        isolation_m = 600.0
        day_m = 3500.0
        night_m = 8000.0
        source = "test"
        verified = false
    "#;

    #[test]
    fn a_table1_block_loads_and_picks_distances() {
        let erg = parse(CHLORINE).expect("valid block");
        let d = erg.distances(Spill::Large, TimeOfDay::Night);
        assert_eq!(d.isolation_m, 600.0);
        assert_eq!(d.protective_m, Some(8000.0));
        assert!(!d.verified);
        assert!(erg.distances(Spill::Small, TimeOfDay::Day).verified);
        assert!(!erg.verified());
        assert!(erg.warnings().is_empty());
    }

    #[test]
    fn bad_distances_and_guides_are_refused() {
        let negative = CHLORINE.replace("isolation_m = 60.0", "isolation_m = -60.0");
        assert!(parse(&negative).unwrap_err().contains("small.isolation_m"));
        let nan = CHLORINE.replace("day_m = 3500.0", "day_m = nan");
        assert!(parse(&nan).unwrap_err().contains("large.day_m"));
        let guide = CHLORINE.replace("\"124\"", "\"99\"");
        assert!(parse(&guide).unwrap_err().contains("guide"));
        let no_night = CHLORINE.replace("night_m = 1600.0", "");
        assert!(parse(&no_night).unwrap_err().contains("small"));
        let no_source = CHLORINE.replacen("source = \"test\"", "source = \" \"", 1);
        assert!(parse(&no_source).unwrap_err().contains("small.source"));
    }

    #[test]
    fn a_verified_block_names_what_it_was_checked_against() {
        let erg = parse(CHLORINE).expect("valid block");
        let mut block = erg.small.clone();
        block.source = "ERG2020 Table 1, checked against the printed guidebook".into();
        assert_eq!(verified_claim_problem(&block), None);
        block.source = "ERG2020 Table 1".into();
        assert!(verified_claim_problem(&block).is_some_and(|p| p.contains("checked against")));
        block.source = "ERG2020 Table 1 (recalled, NOT checked against the table)".into();
        assert!(verified_claim_problem(&block).is_some_and(|p| p.contains("not checked")));
        block.verified = false;
        assert_eq!(verified_claim_problem(&block), None);
    }

    #[test]
    fn odd_orderings_warn_but_load() {
        let odd = CHLORINE.replace("night_m = 8000.0", "night_m = 3000.0");
        let erg = parse(&odd).expect("loads");
        let warnings = erg.warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("night"));
    }

    #[test]
    fn guide_blocks_may_lack_a_small_spill_downwind_distance() {
        let erg = parse(
            r#"
            guide = "128"
            basis = "guide"
            [small]
            isolation_m = 50.0
            source = "test"
            verified = false
            [large]
            isolation_m = 50.0
            day_m = 300.0
            night_m = 300.0
            source = "test"
            verified = false
        "#,
        )
        .expect("valid guide block");
        assert_eq!(
            erg.distances(Spill::Small, TimeOfDay::Night).protective_m,
            None
        );
        assert!(is_guide("116P") && !is_guide("1160") && !is_guide("110"));
    }
}

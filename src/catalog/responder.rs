//! The responder record of a hazardous chemical (`[chemical.responder]` in `chemicals.toml`):
//! the properties and advice a handling unit needs at a leak — physical state, vapour density
//! against air (does the cloud hug the ground?), flash point and explosive limits (is there a
//! fire risk, what does the gas detector's %LEL mean?), main hazards, protective equipment,
//! first aid, fire-fighting and how to take up a spill.
//!
//! Every property carries the source it was read from, because a responder must be able to
//! tell a card's advice from a guess; a property no source was found for is left out rather
//! than filled in. Checked when the table loads ([`Responder::check`]).

use serde::{Deserialize, Serialize};

/// A value and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sourced<T> {
    pub value: T,
    pub source: String,
}

/// The state the substance is handled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhysicalState {
    Gas,
    /// A gas stored as a liquid under pressure or cold: the liquid flashes to a cold, dense
    /// cloud when released.
    LiquefiedGas,
    Liquid,
    Solid,
}

/// Lower and upper explosive limits, volume per cent in air.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplosiveLimits {
    pub lower_pct: f64,
    pub upper_pct: f64,
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Responder {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub physical_state: Option<Sourced<PhysicalState>>,
    /// Vapour density relative to air (air = 1): above 1 the vapour sinks and collects in low
    /// places, below 1 it rises.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vapour_density: Option<Sourced<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flash_point_c: Option<Sourced<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explosive_limits: Option<ExplosiveLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hazards: Option<Sourced<String>>,
    /// Personal protective equipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ppe: Option<Sourced<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_aid: Option<Sourced<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fire_fighting: Option<Sourced<String>>,
    /// Taking up a spill: absorbent, neutraliser, what never to do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spill: Option<Sourced<String>>,
}

impl Responder {
    /// The names of the properties present, in display order.
    pub fn present(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let mut note = |name: &'static str, present: bool| {
            if present {
                out.push(name);
            }
        };
        note("physical_state", self.physical_state.is_some());
        note("vapour_density", self.vapour_density.is_some());
        note("flash_point_c", self.flash_point_c.is_some());
        note("explosive_limits", self.explosive_limits.is_some());
        note("hazards", self.hazards.is_some());
        note("ppe", self.ppe.is_some());
        note("first_aid", self.first_aid.is_some());
        note("fire_fighting", self.fire_fighting.is_some());
        note("spill", self.spill.is_some());
        out
    }

    /// Every present property has a source and a value in range; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        fn source(field: &str, s: &str) -> Result<(), String> {
            if s.trim().is_empty() {
                Err(format!("{field}.source: every value needs its source"))
            } else {
                Ok(())
            }
        }
        fn text(field: &str, t: &Option<Sourced<String>>) -> Result<(), String> {
            match t {
                Some(t) if t.value.trim().is_empty() => Err(format!(
                    "{field}.value: must not be empty (leave the property out instead)"
                )),
                Some(t) => source(field, &t.source),
                None => Ok(()),
            }
        }
        if let Some(s) = &self.physical_state {
            source("physical_state", &s.source)?;
        }
        if let Some(v) = &self.vapour_density {
            if !(v.value.is_finite() && v.value > 0.0 && v.value < 20.0) {
                return Err(format!(
                    "vapour_density.value: {} is not a density relative to air (0 to 20)",
                    v.value
                ));
            }
            source("vapour_density", &v.source)?;
        }
        if let Some(f) = &self.flash_point_c {
            if !(f.value.is_finite() && (-273.15..=1000.0).contains(&f.value)) {
                return Err(format!(
                    "flash_point_c.value: {} °C is not a plausible flash point",
                    f.value
                ));
            }
            source("flash_point_c", &f.source)?;
        }
        if let Some(l) = &self.explosive_limits {
            let in_range = |v: f64| v.is_finite() && v > 0.0 && v <= 100.0;
            if !(in_range(l.lower_pct) && in_range(l.upper_pct) && l.lower_pct < l.upper_pct) {
                return Err(format!(
                    "explosive_limits: {}–{} % must lie in 0–100 % with lower below upper",
                    l.lower_pct, l.upper_pct
                ));
            }
            source("explosive_limits", &l.source)?;
        }
        text("hazards", &self.hazards)?;
        text("ppe", &self.ppe)?;
        text("first_aid", &self.first_aid)?;
        text("fire_fighting", &self.fire_fighting)?;
        text("spill", &self.spill)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Responder, String> {
        let r: Responder = toml::from_str(text).map_err(|e| e.to_string())?;
        r.check().map(|()| r)
    }

    const GOOD: &str = r#"
        physical_state = { value = "liquefied_gas", source = "card" }
        vapour_density = { value = 2.45, source = "computed" }
        explosive_limits = { lower_pct = 15.0, upper_pct = 28.0, source = "card" }
        ppe = { value = "SCBA", source = "card" }
    "#;

    #[test]
    fn a_sourced_record_loads_and_lists_what_it_has() {
        let r = parse(GOOD).expect("valid");
        assert_eq!(
            r.present(),
            vec![
                "physical_state",
                "vapour_density",
                "explosive_limits",
                "ppe"
            ]
        );
        assert_eq!(r.vapour_density.map(|v| v.value), Some(2.45));
    }

    #[test]
    fn every_property_must_carry_its_source() {
        let missing = GOOD.replace("value = 2.45, source = \"computed\"", "value = 2.45");
        assert!(parse(&missing).unwrap_err().contains("source"));
        let blank = GOOD.replace("source = \"computed\"", "source = \" \"");
        assert!(parse(&blank).unwrap_err().contains("vapour_density.source"));
        let blank = GOOD.replace(
            "value = \"SCBA\", source = \"card\"",
            "value = \"SCBA\", source = \"\"",
        );
        assert!(parse(&blank).unwrap_err().contains("ppe.source"));
        let no_limits_source = GOOD.replace(
            "upper_pct = 28.0, source = \"card\"",
            "upper_pct = 28.0, source = \"\"",
        );
        assert!(
            parse(&no_limits_source)
                .unwrap_err()
                .contains("explosive_limits.source")
        );
    }

    #[test]
    fn values_out_of_range_are_refused() {
        let swapped = GOOD.replace(
            "lower_pct = 15.0, upper_pct = 28.0",
            "lower_pct = 28.0, upper_pct = 15.0",
        );
        assert!(parse(&swapped).unwrap_err().contains("explosive_limits"));
        let dense = GOOD.replace("value = 2.45", "value = -1.0");
        assert!(parse(&dense).unwrap_err().contains("vapour_density"));
        let state = GOOD.replace("\"liquefied_gas\"", "\"plasma\"");
        assert!(parse(&state).is_err());
        let unknown = format!("{GOOD}\nodour = {{ value = \"sharp\", source = \"x\" }}");
        assert!(parse(&unknown).unwrap_err().contains("odour"));
    }
}

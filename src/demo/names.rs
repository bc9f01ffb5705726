//! Plausible synthetic Chinese names from the name parts in the spec.

use super::rng::Rng;
use super::spec::NameParts;
use rand::Rng as _;
use rand::seq::IndexedRandom;
use std::collections::HashSet;

pub struct Namer<'a> {
    parts: &'a NameParts,
    used: HashSet<String>,
}

impl<'a> Namer<'a> {
    pub fn new(parts: &'a NameParts) -> Self {
        Namer {
            parts,
            used: HashSet::new(),
        }
    }

    fn pick<'p>(list: &'p [String], rng: &mut Rng) -> &'p str {
        list.choose(rng).map(String::as_str).unwrap_or("")
    }

    /// A person's name: surname plus one or two given characters.
    pub fn person(&self, rng: &mut Rng) -> String {
        let surname = Self::pick(&self.parts.surnames, rng);
        let given = Self::pick(&self.parts.given, rng);
        if given.chars().count() == 1 && rng.random_bool(0.45) {
            format!(
                "{surname}{given}{}",
                Self::pick(&self.parts.given, rng)
                    .chars()
                    .next()
                    .unwrap_or('明')
            )
        } else {
            format!("{surname}{given}")
        }
    }

    /// A two-character place name not used before, e.g. 吴塘, followed by `suffix`.
    pub fn unique_place(&mut self, rng: &mut Rng, suffix: &str) -> String {
        for _ in 0..10_000 {
            let a = Self::pick(&self.parts.place, rng);
            let b = Self::pick(&self.parts.place, rng);
            if a == b {
                continue;
            }
            let name = format!("{a}{b}{suffix}");
            if self.used.insert(name.clone()) {
                return name;
            }
        }
        // The name space is ~10,000 pairs; running out means the spec's list is too short.
        let name = format!("第{}{suffix}", self.used.len() + 1);
        self.used.insert(name.clone());
        name
    }

    /// A company name such as 恒泰化工有限公司, unique across the dataset.
    pub fn firm(&mut self, rng: &mut Rng, trade: &str) -> String {
        for _ in 0..1000 {
            let core = Self::pick(&self.parts.firm, rng);
            let place = Self::pick(&self.parts.place, rng);
            let name = if rng.random_bool(0.5) {
                format!("上海{core}{trade}有限公司")
            } else {
                format!("上海{place}{core}{trade}有限公司")
            };
            if self.used.insert(name.clone()) {
                return name;
            }
        }
        let name = format!("上海{trade}第{}有限公司", self.used.len());
        self.used.insert(name.clone());
        name
    }

    pub fn street(&self, rng: &mut Rng) -> String {
        Self::pick(&self.parts.streets, rng).to_string()
    }

    /// A mobile or landline number in Shanghai's formats.
    pub fn phone(rng: &mut Rng, mobile: bool) -> String {
        if mobile {
            let prefix = [
                "139", "138", "137", "136", "135", "158", "159", "186", "189", "177",
            ];
            format!(
                "{}{:08}",
                prefix[rng.random_range(0..prefix.len())],
                rng.random_range(0..100_000_000u32)
            )
        } else {
            format!(
                "021-{}{:07}",
                ["5", "6", "3"][rng.random_range(0..3)],
                rng.random_range(0..10_000_000u32)
            )
        }
    }
}

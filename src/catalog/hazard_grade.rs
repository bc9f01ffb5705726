//! GB 18218-2018 grading of a major hazard source (重大危险源分级).
//!
//! R = α · Σ βᵢ · qᵢ / Qᵢ, where qᵢ is the quantity present, Qᵢ the critical quantity, βᵢ the
//! substance's correction factor and α the factor for the number of people within 500 m outside
//! the plant. A unit is a major hazard source when Σ qᵢ/Qᵢ ≥ 1; its grade is 1 (R ≥ 100),
//! 2 (50 ≤ R < 100), 3 (10 ≤ R < 50) or 4 (R < 10).

/// α from GB 18218-2018 table 4: people exposed within 500 m outside the plant boundary.
pub fn alpha_for_exposed_people(people: u32) -> f64 {
    match people {
        100.. => 2.0,
        50..=99 => 1.5,
        30..=49 => 1.2,
        1..=29 => 1.0,
        0 => 0.5,
    }
}

/// One substance held on site.
#[derive(Debug, Clone, Copy)]
pub struct Holding {
    pub quantity_t: f64,
    pub critical_quantity_t: f64,
    pub beta: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grading {
    /// Σ qᵢ/Qᵢ; at least 1 for a major hazard source.
    pub ratio_sum: f64,
    pub r: f64,
    /// 1 (most severe) to 4; `None` when the site is not a major hazard source.
    pub grade: Option<u8>,
}

pub fn grade(holdings: &[Holding], exposed_people: u32) -> Grading {
    let ratio_sum: f64 = holdings
        .iter()
        .map(|h| h.quantity_t / h.critical_quantity_t)
        .sum();
    let weighted: f64 = holdings
        .iter()
        .map(|h| h.beta * h.quantity_t / h.critical_quantity_t)
        .sum();
    let r = alpha_for_exposed_people(exposed_people) * weighted;
    let grade = if ratio_sum < 1.0 {
        None
    } else if r >= 100.0 {
        Some(1)
    } else if r >= 50.0 {
        Some(2)
    } else if r >= 10.0 {
        Some(3)
    } else {
        Some(4)
    };
    Grading {
        ratio_sum,
        r,
        grade,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chlorine(q: f64) -> Holding {
        Holding {
            quantity_t: q,
            critical_quantity_t: 5.0,
            beta: 4.0,
        }
    }

    #[test]
    fn below_critical_quantity_is_not_a_major_hazard() {
        assert_eq!(grade(&[chlorine(4.0)], 500).grade, None);
    }

    #[test]
    fn grade_follows_r_thresholds() {
        // 25 t chlorine, 120 people: R = 2 · 4 · 5 = 40 → grade 3.
        let g = grade(&[chlorine(25.0)], 120);
        assert!((g.r - 40.0).abs() < 1e-9);
        assert_eq!(g.grade, Some(3));
        // 65 t: R = 2 · 4 · 13 = 104 → grade 1.
        assert_eq!(grade(&[chlorine(65.0)], 120).grade, Some(1));
        // 35 t with nobody around: R = 0.5 · 4 · 7 = 14 → grade 3; with 60 people 1.5·28 = 42.
        assert_eq!(grade(&[chlorine(35.0)], 0).grade, Some(3));
        assert_eq!(grade(&[chlorine(5.0)], 10).grade, Some(4));
    }

    #[test]
    fn mixed_holdings_add_up() {
        let lpg = Holding {
            quantity_t: 30.0,
            critical_quantity_t: 50.0,
            beta: 1.5,
        };
        // Σq/Q = 0.6 + 0.6 = 1.2 ≥ 1 although neither alone reaches its Q.
        let g = grade(&[lpg, chlorine(3.0)], 40);
        assert!((g.ratio_sum - 1.2).abs() < 1e-9);
        assert_eq!(g.grade, Some(4)); // R = 1.2 · (0.9 + 2.4) = 3.96
    }
}

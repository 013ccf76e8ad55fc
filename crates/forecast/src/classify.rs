//! Demand patterns by the Syntetos–Boylan scheme: how often a SKU sells (ADI, the average
//! number of periods per demand) against how much the quantity varies when it does (CV², the
//! squared coefficient of variation of the non-zero demands). The pattern tells a planner what
//! kind of SKU it is looking at, and decides which methods may compete for it.

/// ADI above this: demand skips periods often enough that a level forecast is misleading.
pub const ADI_CUTOFF: f64 = 1.32;
/// CV² above this: sizes vary enough that one size estimate is not trustworthy.
pub const CV2_CUTOFF: f64 = 0.49;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DemandClass {
    /// Sells most periods in similar quantities.
    Smooth,
    /// Sells most periods in very different quantities.
    Erratic,
    /// Skips periods; similar quantities when it sells.
    Intermittent,
    /// Skips periods and varies in quantity: the hardest.
    Lumpy,
}

impl DemandClass {
    pub fn name(self) -> &'static str {
        match self {
            DemandClass::Smooth => "smooth",
            DemandClass::Erratic => "erratic",
            DemandClass::Intermittent => "intermittent",
            DemandClass::Lumpy => "lumpy",
        }
    }
}

impl std::fmt::Display for DemandClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A SKU's demand pattern and the two figures that decide it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub class: DemandClass,
    /// Periods per demand: the history's length over the number of periods with demand.
    pub adi: f64,
    /// Squared coefficient of variation of the non-zero demands (0 with a single demand).
    pub cv2: f64,
    /// Periods with demand.
    pub demands: usize,
}

/// `None` for a history without demand: it has no pattern to speak of.
pub fn classify(history: &[f64]) -> Option<Profile> {
    let sizes: Vec<f64> = history.iter().copied().filter(|&value| value > 0.0).collect();
    if sizes.is_empty() {
        return None;
    }
    let count = sizes.len() as f64;
    let mean = sizes.iter().sum::<f64>() / count;
    let variance = sizes.iter().map(|size| (size - mean) * (size - mean)).sum::<f64>() / count;
    let adi = history.len() as f64 / count;
    let cv2 = variance / (mean * mean);
    let class = match (adi > ADI_CUTOFF, cv2 > CV2_CUTOFF) {
        (false, false) => DemandClass::Smooth,
        (false, true) => DemandClass::Erratic,
        (true, false) => DemandClass::Intermittent,
        (true, true) => DemandClass::Lumpy,
    };
    Some(Profile { class, adi, cv2, demands: sizes.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(history: &[f64]) -> DemandClass {
        classify(history).unwrap().class
    }

    #[test]
    fn the_four_patterns_fall_where_syntetos_and_boylan_put_them() {
        assert_eq!(class(&[10.0, 11.0, 9.0, 10.0, 12.0, 8.0]), DemandClass::Smooth);
        assert_eq!(class(&[1.0, 20.0, 2.0, 15.0, 1.0, 30.0]), DemandClass::Erratic);
        assert_eq!(class(&[0.0, 0.0, 5.0, 0.0, 0.0, 5.0, 0.0, 0.0, 6.0]), DemandClass::Intermittent);
        assert_eq!(class(&[0.0, 0.0, 1.0, 0.0, 0.0, 30.0, 0.0, 0.0, 2.0]), DemandClass::Lumpy);
    }

    #[test]
    fn adi_and_cv2_are_the_textbook_figures() {
        let profile = classify(&[0.0, 2.0, 0.0, 6.0]).unwrap();
        assert_eq!(profile.adi, 2.0);
        assert_eq!(profile.demands, 2);
        // Sizes 2 and 6: mean 4, population variance 4, CV² 4 / 16.
        assert_eq!(profile.cv2, 0.25);
        assert_eq!(profile.class, DemandClass::Intermittent);
    }

    #[test]
    fn a_history_on_the_cutoff_counts_as_regular() {
        // 25 demands in 33 periods: ADI exactly 1.32.
        let history: Vec<f64> = (0..33).map(|t| if t % 4 == 3 { 0.0 } else { 3.0 }).collect();
        let profile = classify(&history).unwrap();
        assert_eq!(profile.adi, ADI_CUTOFF);
        assert_eq!(profile.class, DemandClass::Smooth);
        assert!(classify(&[0.0, 0.0]).is_none());
        assert!(classify(&[]).is_none());
    }
}

//! Forecast accuracy: MASE, RMSSE and bias, per SKU and over a catalogue.
//!
//! Errors are scaled by the one-step naive error of the SKU's own history, so a slow mover and
//! a best seller can be averaged into one catalogue figure, and 1.0 means "no better in the
//! future than yesterday's sales were in the past". The scale is taken from the first
//! non-zero demand on: the empty months before a SKU was launched say nothing about it.

/// The in-sample one-step naive error of a history, the denominator of MASE and RMSSE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Mean absolute period-to-period change.
    pub absolute: f64,
    /// Mean squared period-to-period change.
    pub squared: f64,
}

impl Scale {
    /// `None` when the history never changes after its first demand (or has none): no error
    /// can be scaled by zero, and such SKUs are left out of catalogue averages.
    pub fn naive(history: &[f64]) -> Option<Scale> {
        let first = history.iter().position(|&value| value != 0.0)?;
        let live = &history[first..];
        if live.len() < 2 {
            return None;
        }
        let steps = (live.len() - 1) as f64;
        let (absolute, squared) = live.windows(2).fold((0.0, 0.0), |(absolute, squared), pair| {
            let change = pair[1] - pair[0];
            (absolute + change.abs(), squared + change * change)
        });
        let scale = Scale { absolute: absolute / steps, squared: squared / steps };
        (scale.absolute > 0.0).then_some(scale)
    }
}

/// Mean absolute scaled error; pairs beyond the shorter of the two slices are ignored.
pub fn mase(actual: &[f64], forecast: &[f64], scale: Scale) -> f64 {
    let (sum, count) = pairs(actual, forecast).fold((0.0, 0usize), |(sum, count), (a, f)| (sum + (a - f).abs(), count + 1));
    if count == 0 { 0.0 } else { sum / count as f64 / scale.absolute }
}

/// Root mean squared scaled error: the criterion the back-test ranks methods by, because it
/// rewards getting the mean demand right, which is what stock has to cover.
pub fn rmsse(actual: &[f64], forecast: &[f64], scale: Scale) -> f64 {
    let (sum, count) = pairs(actual, forecast).fold((0.0, 0usize), |(sum, count), (a, f)| (sum + (a - f) * (a - f), count + 1));
    if count == 0 { 0.0 } else { (sum / count as f64 / scale.squared).sqrt() }
}

/// Total forecast over total actual, minus one: positive means over-forecast. `None` when
/// nothing was sold.
pub fn bias(actual: &[f64], forecast: &[f64]) -> Option<f64> {
    let (sold, expected) = pairs(actual, forecast).fold((0.0, 0.0), |(sold, expected), (a, f)| (sold + a, expected + f));
    (sold > 0.0).then(|| expected / sold - 1.0)
}

fn pairs<'a>(actual: &'a [f64], forecast: &'a [f64]) -> impl Iterator<Item = (f64, f64)> + 'a {
    actual.iter().copied().zip(forecast.iter().copied())
}

/// One SKU's accuracy over a hold-out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Accuracy {
    pub mase: f64,
    pub rmsse: f64,
    /// `None` when nothing was sold in the hold-out.
    pub bias: Option<f64>,
}

impl Accuracy {
    /// Scores `forecast` against `actual` with the scale of `history`; `None` when the
    /// history has no scale (see [`Scale::naive`]).
    pub fn measure(history: &[f64], actual: &[f64], forecast: &[f64]) -> Option<Accuracy> {
        let scale = Scale::naive(history)?;
        Some(Accuracy {
            mase: mase(actual, forecast, scale),
            rmsse: rmsse(actual, forecast, scale),
            bias: bias(actual, forecast),
        })
    }
}

/// Catalogue-wide accuracy: MASE and RMSSE averaged over the SKUs that have a scale, bias
/// over their summed units (so a best seller weighs as much as it sells).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Scorecard {
    pub scored: usize,
    pub skipped: usize,
    mase_sum: f64,
    rmsse_sum: f64,
    sold: f64,
    expected: f64,
}

impl Scorecard {
    /// Adds one SKU's hold-out; SKUs without a scale only count as skipped.
    pub fn add(&mut self, history: &[f64], actual: &[f64], forecast: &[f64]) -> Option<Accuracy> {
        let Some(accuracy) = Accuracy::measure(history, actual, forecast) else {
            self.skipped += 1;
            return None;
        };
        self.scored += 1;
        self.mase_sum += accuracy.mase;
        self.rmsse_sum += accuracy.rmsse;
        for (a, f) in pairs(actual, forecast) {
            self.sold += a;
            self.expected += f;
        }
        Some(accuracy)
    }

    pub fn mase(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.mase_sum / self.scored as f64)
    }

    pub fn rmsse(&self) -> Option<f64> {
        (self.scored > 0).then(|| self.rmsse_sum / self.scored as f64)
    }

    pub fn bias(&self) -> Option<f64> {
        (self.sold > 0.0).then(|| self.expected / self.sold - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scale_starts_at_the_first_demand() {
        // Live from the 2: changes +2 and -2.
        let scale = Scale::naive(&[0.0, 0.0, 2.0, 4.0, 2.0]).unwrap();
        assert_eq!(scale, Scale { absolute: 2.0, squared: 4.0 });
        assert_eq!(Scale::naive(&[0.0, 0.0, 0.0]), None);
        assert_eq!(Scale::naive(&[0.0, 3.0]), None, "one live period has no change");
        assert_eq!(Scale::naive(&[0.0, 3.0, 3.0, 3.0]), None, "a flat history has none either");
    }

    #[test]
    fn mase_rmsse_and_bias_on_known_numbers() {
        let scale = Scale { absolute: 2.0, squared: 4.0 };
        let actual = [1.0, 3.0, 0.0, 4.0];
        let forecast = [2.0, 2.0, 2.0, 2.0];
        // Errors 1, 1, 2, 2: mean absolute 1.5, mean squared 2.5.
        assert_eq!(mase(&actual, &forecast, scale), 0.75);
        assert_eq!(rmsse(&actual, &forecast, scale), (2.5f64 / 4.0).sqrt());
        assert_eq!(bias(&actual, &forecast), Some(0.0));
        assert_eq!(bias(&[1.0, 1.0], &[3.0, 3.0]), Some(2.0));
        assert_eq!(bias(&[0.0, 0.0], &[3.0, 3.0]), None);
    }

    #[test]
    fn a_scorecard_averages_scored_skus_and_sums_units_for_bias() {
        let mut card = Scorecard::default();
        card.add(&[1.0, 3.0], &[2.0, 2.0], &[2.0, 2.0]).unwrap();
        card.add(&[1.0, 2.0], &[4.0, 4.0], &[2.0, 2.0]).unwrap();
        assert!(card.add(&[0.0, 0.0], &[5.0], &[0.0]).is_none());
        assert_eq!((card.scored, card.skipped), (2, 1));
        // MASE 0/2 and 2/1, RMSSE 0 and 2/1.
        assert_eq!(card.mase(), Some(1.0));
        assert_eq!(card.rmsse(), Some(1.0));
        assert_eq!(card.bias(), Some(8.0 / 12.0 - 1.0));
        assert_eq!(Scorecard::default().mase(), None);
    }
}

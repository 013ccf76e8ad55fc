//! How well suggestions match what people labelled: accuracy, and precision, recall and F1
//! of each label with their unweighted mean (macro-F1), so a rare label counts as much as a
//! common one.

/// One label's scores.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassScore {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// How many tickets truly had the label.
    pub support: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub accuracy: f64,
    pub macro_f1: f64,
    /// Each label found in the truth or the suggestions, by name.
    pub labels: Vec<ClassScore>,
}

/// Scores `predicted` against `truth`, pair by pair. A label never suggested has precision 0;
/// one never true has recall 0.
pub fn score(truth: &[&str], predicted: &[&str]) -> Scores {
    let mut labels: Vec<&str> = truth.iter().chain(predicted.iter()).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    let pairs = truth.len().min(predicted.len());
    let right = truth.iter().zip(predicted).filter(|(t, p)| t == p).count();
    let ratio = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let labels: Vec<ClassScore> = labels
        .into_iter()
        .map(|label| {
            let hits = truth.iter().zip(predicted).filter(|(t, p)| **t == label && **p == label).count();
            let said = predicted.iter().take(pairs).filter(|p| **p == label).count();
            let support = truth.iter().take(pairs).filter(|t| **t == label).count();
            let (precision, recall) = (ratio(hits, said), ratio(hits, support));
            let f1 = if precision + recall == 0.0 { 0.0 } else { 2.0 * precision * recall / (precision + recall) };
            ClassScore { label: label.to_owned(), precision, recall, f1, support }
        })
        .collect();
    let macro_f1 = if labels.is_empty() { 0.0 } else { labels.iter().map(|l| l.f1).sum::<f64>() / labels.len() as f64 };
    Scores { accuracy: ratio(right, pairs), macro_f1, labels }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macro_f1_weighs_each_label_the_same() {
        let truth = ["a", "a", "a", "b"];
        let predicted = ["a", "a", "a", "a"];
        let s = score(&truth, &predicted);
        assert_eq!(s.accuracy, 0.75);
        let a = &s.labels[0];
        assert_eq!((a.label.as_str(), a.precision, a.recall, a.support), ("a", 0.75, 1.0, 3));
        assert!((a.f1 - 6.0 / 7.0).abs() < 1e-12);
        assert_eq!((s.labels[1].f1, s.labels[1].support), (0.0, 1), "b was never suggested");
        assert!((s.macro_f1 - 3.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn perfect_and_empty() {
        let s = score(&["x", "y"], &["x", "y"]);
        assert_eq!((s.accuracy, s.macro_f1), (1.0, 1.0));
        let none = score(&[], &[]);
        assert_eq!((none.accuracy, none.macro_f1, none.labels.len()), (0.0, 0.0, 0));
    }
}

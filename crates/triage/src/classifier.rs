//! A multinomial naive Bayes over a ticket's words and word pairs. Each intent keeps how often
//! each feature came up in its tickets; a new ticket goes to the intent under which its
//! features are likeliest, weighed by how common the intent is. Features never seen in
//! training are left out; the rest are smoothed (add-one), so one rare word cannot decide alone.

use std::collections::HashMap;

use crate::urgency::{urgency, Urgency};
use crate::words::features;
use crate::{Labelled, TriageError};

/// What triage suggests for a ticket, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub intent: String,
    pub category: String,
    /// How sure, 0 to 1000: the chosen intent's share of the probability over all intents.
    pub confidence_permille: u16,
    /// The ticket's words that weighed most for the intent chosen over the runner-up.
    pub words: Vec<String>,
    pub urgency: Urgency,
    /// The words that raised the urgency, if any did.
    pub urgency_words: Vec<String>,
}

/// How many of the deciding words a suggestion names.
const WORDS_SHOWN: usize = 3;

/// Add-one smoothing: a feature an intent never saw counts as seen once.
const SMOOTHING: f64 = 1.0;

/// A trained classifier.
#[derive(Debug, Clone)]
pub struct Classifier {
    intents: Vec<String>,
    /// The category of each intent.
    categories: Vec<String>,
    log_prior: Vec<f64>,
    /// For each feature seen in training, its log-likelihood under each intent.
    log_likelihood: HashMap<String, Vec<f64>>,
}

impl Classifier {
    /// Learns from labelled tickets. Each intent belongs to one category; an intent labelled
    /// with two is refused, naming the second.
    pub fn train(labelled: &[Labelled]) -> Result<Classifier, TriageError> {
        if labelled.is_empty() {
            return Err(TriageError::NothingToLearn);
        }
        let mut intents: Vec<String> = Vec::new();
        let mut categories: Vec<String> = Vec::new();
        let mut tickets: Vec<f64> = Vec::new();
        let mut counts: HashMap<String, Vec<f64>> = HashMap::new();
        let mut totals: Vec<f64> = Vec::new();
        for (row, ticket) in labelled.iter().enumerate() {
            let class = match intents.iter().position(|i| *i == ticket.intent) {
                Some(class) => {
                    if categories[class] != ticket.category {
                        return Err(TriageError::Row {
                            line: row as u64 + 2,
                            field: "category",
                            message: format!("{} was labelled {} before, not {}", ticket.intent, categories[class], ticket.category),
                        });
                    }
                    class
                }
                None => {
                    intents.push(ticket.intent.clone());
                    categories.push(ticket.category.clone());
                    tickets.push(0.0);
                    totals.push(0.0);
                    for per_class in counts.values_mut() {
                        per_class.push(0.0);
                    }
                    intents.len() - 1
                }
            };
            tickets[class] += 1.0;
            for feature in features(&ticket.text) {
                let per_class = counts.entry(feature).or_insert_with(|| vec![0.0; intents.len()]);
                per_class[class] += 1.0;
                totals[class] += 1.0;
            }
        }
        let all = labelled.len() as f64;
        let vocabulary = counts.len() as f64;
        let log_prior = tickets.iter().map(|n| (n / all).ln()).collect();
        let log_likelihood = counts
            .into_iter()
            .map(|(feature, per_class)| {
                let logs = per_class.iter().zip(&totals).map(|(n, total)| ((n + SMOOTHING) / (total + SMOOTHING * vocabulary)).ln()).collect();
                (feature, logs)
            })
            .collect();
        Ok(Classifier { intents, categories, log_prior, log_likelihood })
    }

    /// The classifier Ordo ships: trained on its share of the labelled Bitext set.
    pub fn shipped() -> Classifier {
        // The training set is part of the crate and is read by its tests.
        crate::read_labelled(crate::TRAINING_SET).ok().and_then(|set| Classifier::train(&set).ok()).unwrap_or_else(Classifier::empty)
    }

    /// A classifier that knows nothing: every ticket is "other".
    fn empty() -> Classifier {
        Classifier { intents: vec!["other".into()], categories: vec!["OTHER".into()], log_prior: vec![0.0], log_likelihood: HashMap::new() }
    }

    /// The intents it knows, each with its category.
    pub fn intents(&self) -> impl Iterator<Item = (&str, &str)> {
        self.intents.iter().map(String::as_str).zip(self.categories.iter().map(String::as_str))
    }

    /// The intent, category and urgency of a ticket's text, with the words that decided them.
    pub fn classify(&self, text: &str) -> Suggestion {
        let seen: Vec<(String, &Vec<f64>)> = features(text).into_iter().filter_map(|f| self.log_likelihood.get(&f).map(|l| (f, l))).collect();
        let mut score = self.log_prior.clone();
        for (_, logs) in &seen {
            for (s, l) in score.iter_mut().zip(logs.iter()) {
                *s += l;
            }
        }
        let mut order: Vec<usize> = (0..score.len()).collect();
        order.sort_by(|a, b| score[*b].total_cmp(&score[*a]));
        let best = order[0];
        let runner_up = order.get(1).copied();
        let top = score[best];
        let share = 1.0 / score.iter().map(|s| (s - top).exp()).sum::<f64>();
        let mut weighed: Vec<(f64, &str)> = seen
            .iter()
            .filter(|(f, _)| !f.contains(' '))
            .map(|(f, logs)| (runner_up.map_or(logs[best], |r| logs[best] - logs[r]), f.as_str()))
            .filter(|(weight, _)| *weight > 0.0)
            .collect();
        weighed.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let mut words: Vec<String> = Vec::new();
        for (_, word) in weighed {
            if !words.iter().any(|w| w == word) && words.len() < WORDS_SHOWN {
                words.push(word.to_owned());
            }
        }
        let intent = self.intents[best].clone();
        let (urgency, urgency_words) = urgency(&intent, text);
        Suggestion {
            category: self.categories[best].clone(),
            intent,
            confidence_permille: (share * 1000.0).round().clamp(0.0, 1000.0) as u16,
            words,
            urgency,
            urgency_words,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket(text: &str, intent: &str, category: &str) -> Labelled {
        Labelled { text: text.into(), intent: intent.into(), category: category.into() }
    }

    fn small() -> Vec<Labelled> {
        vec![
            ticket("cancel my order please", "cancel_order", "ORDER"),
            ticket("I want to cancel the order", "cancel_order", "ORDER"),
            ticket("where is my parcel", "track_order", "ORDER"),
            ticket("track my parcel 123", "track_order", "ORDER"),
            ticket("I want my money back", "get_refund", "REFUND"),
            ticket("refund my money", "get_refund", "REFUND"),
        ]
    }

    #[test]
    fn it_learns_intents_and_says_which_words_decided() {
        let model = Classifier::train(&small()).unwrap();
        let s = model.classify("please cancel order 991");
        assert_eq!((s.intent.as_str(), s.category.as_str()), ("cancel_order", "ORDER"));
        assert!(s.words.contains(&"cancel".to_owned()), "{s:?}");
        assert!(s.confidence_permille > 500, "{s:?}");
        assert_eq!(model.classify("where is the parcel").intent, "track_order");
        assert_eq!(model.classify("MONEY back!").category, "REFUND");
    }

    #[test]
    fn words_it_never_saw_leave_the_most_common_intent() {
        let model = Classifier::train(&small()).unwrap();
        let s = model.classify("zzz qqq");
        assert!(s.words.is_empty());
        assert_eq!(s.confidence_permille, 333, "three intents, equally common: {s:?}");
    }

    #[test]
    fn an_intent_in_two_categories_or_nothing_to_learn_is_refused() {
        let mut set = small();
        set.push(ticket("cancel it", "cancel_order", "REFUND"));
        let refused = Classifier::train(&set).unwrap_err();
        assert!(matches!(refused, TriageError::Row { line: 8, field: "category", .. }), "{refused:?}");
        assert_eq!(Classifier::train(&[]).unwrap_err(), TriageError::NothingToLearn);
    }

    #[test]
    fn the_shipped_classifier_knows_the_27_intents_in_11_categories() {
        let model = Classifier::shipped();
        assert_eq!(model.intents().count(), 27);
        let mut categories: Vec<&str> = model.intents().map(|(_, c)| c).collect();
        categories.sort_unstable();
        categories.dedup();
        assert_eq!(categories.len(), 11);
    }
}

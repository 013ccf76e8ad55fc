//! Ticket triage: the intent a customer's words express, its category, how urgent the ticket
//! is, and the words that decided each, learned from labelled tickets. Pure: no I/O; the
//! caller reads the files.
//!
//! The classifier is a multinomial naive Bayes over the words of a ticket and their pairs
//! ([`Classifier`]). It trains in milliseconds on a few thousand tickets, classifies hundreds
//! of thousands a second, and every suggestion can say which words weighed most for the intent
//! it chose over the runner-up: what a person checking it needs. Urgency is not learned (the
//! labelled set has none): it follows the intent and words such as "urgent" or "charged twice"
//! ([`urgency`]).
//!
//! Ordo ships a classifier trained on four fifths of the labelled Bitext set (`data/train.csv`);
//! the other fifth (`data/holdout.csv`) is never trained or tuned on, and is what the scores in
//! the README are measured on.

mod classifier;
mod labelled;
mod metrics;
mod urgency;
mod words;

pub use classifier::{Classifier, Suggestion};
pub use labelled::{read_labelled, Labelled};
pub use metrics::{score, ClassScore, Scores};
pub use urgency::{urgency, Urgency};
pub use words::{features, tokens};

/// Why labelled tickets could not be read or learned from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriageError {
    #[error("the file has no column {0}")]
    MissingColumn(&'static str),
    #[error("line {line}: {field} {message}")]
    Row { line: u64, field: &'static str, message: String },
    #[error("{0}")]
    Unreadable(String),
    #[error("there are no labelled tickets to learn from")]
    NothingToLearn,
}

/// The labelled tickets Ordo's own classifier learns from: four fifths of the Bitext set.
pub const TRAINING_SET: &str = include_str!("../data/train.csv");

/// The fifth of the Bitext set held out from training and tuning, for scoring.
pub const HOLDOUT_SET: &str = include_str!("../data/holdout.csv");

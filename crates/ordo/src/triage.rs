//! `ordo tickets evaluate`: ticket triage scored on a labelled file, as a report people read
//! or as JSON.

use std::path::Path;
use std::time::Instant;

use ordo_triage::{read_labelled, score, Classifier, Labelled, Scores};
use serde::Serialize;

/// The largest labelled file read.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, Serialize)]
pub struct Evaluation {
    /// Tickets scored.
    pub tickets: usize,
    /// What the classifier learned from: `shipped` (Ordo's own training set) or the file given.
    pub trained_on: String,
    pub training_tickets: usize,
    pub intent: Scored,
    pub category: Scored,
    /// How fast the file was classified, one ticket after another on one thread.
    pub tickets_per_second: f64,
}

#[derive(Debug, Serialize)]
pub struct Scored {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub labels: Vec<Label>,
}

#[derive(Debug, Serialize)]
pub struct Label {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

impl From<Scores> for Scored {
    fn from(s: Scores) -> Scored {
        let labels = s.labels.into_iter().map(|l| Label { label: l.label, precision: l.precision, recall: l.recall, f1: l.f1, support: l.support }).collect();
        Scored { accuracy: s.accuracy, macro_f1: s.macro_f1, labels }
    }
}

fn labelled(path: &Path) -> Result<Vec<Labelled>, String> {
    let text = crate::files::read_text(path, MAX_FILE_BYTES)?;
    read_labelled(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Scores triage on every ticket of `csv`, trained on `train` when given, else the classifier
/// Ordo ships.
pub fn evaluate(csv: &Path, train: Option<&Path>) -> Result<Evaluation, String> {
    let tickets = labelled(csv)?;
    if tickets.is_empty() {
        return Err(format!("{}: no labelled tickets", csv.display()));
    }
    let (model, trained_on, training_tickets) = match train {
        Some(path) => {
            let set = labelled(path)?;
            let model = Classifier::train(&set).map_err(|e| format!("{}: {e}", path.display()))?;
            (model, path.display().to_string(), set.len())
        }
        None => {
            let set = read_labelled(ordo_triage::TRAINING_SET).map_err(|e| e.to_string())?;
            (Classifier::train(&set).map_err(|e| e.to_string())?, "shipped".to_owned(), set.len())
        }
    };
    let started = Instant::now();
    let suggestions: Vec<_> = tickets.iter().map(|t| model.classify(&t.text)).collect();
    let seconds = started.elapsed().as_secs_f64().max(1e-9);
    let truth = |f: fn(&Labelled) -> &str| tickets.iter().map(f).collect::<Vec<&str>>();
    let intents: Vec<&str> = suggestions.iter().map(|s| s.intent.as_str()).collect();
    let categories: Vec<&str> = suggestions.iter().map(|s| s.category.as_str()).collect();
    Ok(Evaluation {
        tickets: tickets.len(),
        trained_on,
        training_tickets,
        intent: score(&truth(|t| &t.intent), &intents).into(),
        category: score(&truth(|t| &t.category), &categories).into(),
        tickets_per_second: tickets.len() as f64 / seconds,
    })
}

/// The evaluation as people read it.
pub fn print(e: &Evaluation) {
    let source = if e.trained_on == "shipped" { "Ordo's own classifier".to_owned() } else { format!("a classifier trained on {}", e.trained_on) };
    say!("ticket triage on {} tickets, by {source} ({} labelled tickets)", e.tickets, e.training_tickets);
    say!("  {:<12} {:>9} {:>9}", "", "accuracy", "macro-F1");
    say!("  {:<12} {:>9.4} {:>9.4}", "by intent", e.intent.accuracy, e.intent.macro_f1);
    say!("  {:<12} {:>9.4} {:>9.4}", "by category", e.category.accuracy, e.category.macro_f1);
    for (title, scored) in [("intent", &e.intent), ("category", &e.category)] {
        say!("  by {title}:");
        for l in &scored.labels {
            say!("    {:<26} precision {:.3}  recall {:.3}  F1 {:.3}  ({} tickets)", l.label, l.precision, l.recall, l.f1, l.support);
        }
    }
    say!("  classified at {:.0} tickets/s on one thread", e.tickets_per_second);
}

//! Tickets classified per second by the shipped classifier, and how long it takes to train.
//! `cargo bench -p ordo-triage` prints the figures.

use std::time::Instant;

use ordo_triage::{read_labelled, Classifier, HOLDOUT_SET, TRAINING_SET};

fn main() {
    let started = Instant::now();
    let set = read_labelled(TRAINING_SET).unwrap_or_default();
    let Ok(model) = Classifier::train(&set) else {
        eprintln!("the training set does not train");
        return;
    };
    println!("trained on {} tickets in {:.1} ms", set.len(), started.elapsed().as_secs_f64() * 1000.0);
    let texts: Vec<String> = read_labelled(HOLDOUT_SET).unwrap_or_default().into_iter().map(|t| t.text).collect();
    let rounds = 50;
    let started = Instant::now();
    let mut urgent = 0usize;
    for _ in 0..rounds {
        for text in &texts {
            urgent += usize::from(model.classify(text).urgency == ordo_triage::Urgency::Urgent);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let tickets = rounds * texts.len();
    println!("classified {tickets} tickets in {seconds:.2} s: {:.0} tickets/s ({urgent} urgent)", tickets as f64 / seconds);
}

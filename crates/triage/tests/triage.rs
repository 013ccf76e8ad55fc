//! Triage measured on what it learned from, by cross-validation: the held-out fifth of the
//! labelled set is not read here (the README reports it, from `ordo tickets evaluate`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ordo_triage::{read_labelled, score, Classifier, Labelled, TRAINING_SET};
use proptest::prelude::*;

/// Five-fold cross-validation over the training set: each fifth classified by a model
/// trained on the other four; the intents and categories suggested, in the set's order.
fn cross_validated(set: &[Labelled]) -> (Vec<String>, Vec<String>) {
    let (mut intents, mut categories) = (vec![String::new(); set.len()], vec![String::new(); set.len()]);
    for fold in 0..5 {
        let train: Vec<Labelled> = set.iter().enumerate().filter(|(i, _)| i % 5 != fold).map(|(_, t)| t.clone()).collect();
        let model = Classifier::train(&train).unwrap();
        for (i, ticket) in set.iter().enumerate().filter(|(i, _)| i % 5 == fold) {
            let s = model.classify(&ticket.text);
            intents[i] = s.intent;
            categories[i] = s.category;
        }
    }
    (intents, categories)
}

#[test]
fn cross_validated_on_the_training_set_categories_score_a_macro_f1_of_at_least_0_90() {
    let set = read_labelled(TRAINING_SET).unwrap();
    assert_eq!(set.len(), 3612);
    let (intents, categories) = cross_validated(&set);
    let truth = |f: fn(&Labelled) -> &str| set.iter().map(f).collect::<Vec<&str>>();
    let by_intent = score(&truth(|t| &t.intent), &intents.iter().map(String::as_str).collect::<Vec<_>>());
    let by_category = score(&truth(|t| &t.category), &categories.iter().map(String::as_str).collect::<Vec<_>>());
    println!("cross-validated: intent accuracy {:.4} macro-F1 {:.4}; category accuracy {:.4} macro-F1 {:.4}", by_intent.accuracy, by_intent.macro_f1, by_category.accuracy, by_category.macro_f1);
    assert!(by_category.macro_f1 >= 0.90, "{by_category:?}");
    assert!(by_intent.macro_f1 >= 0.85, "{by_intent:?}");
}

fn shipped() -> &'static Classifier {
    static SHIPPED: std::sync::OnceLock<Classifier> = std::sync::OnceLock::new();
    SHIPPED.get_or_init(Classifier::shipped)
}

proptest! {
    #[test]
    fn any_text_is_read_or_refused_naming_why(text in ".{0,300}") {
        let _ = read_labelled(&format!("instruction,intent,category\n{text}"));
    }

    #[test]
    fn any_text_is_classified(text in ".{0,300}") {
        let s = shipped().classify(&text);
        prop_assert!(s.confidence_permille <= 1000);
        prop_assert!(s.words.len() <= 3);
    }
}

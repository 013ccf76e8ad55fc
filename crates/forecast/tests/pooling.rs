//! Properties of the pooled forecast on any history a SKU can have: sparse or busy, short or
//! long, flat or with a weekly pattern.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ordo_forecast::backtest::{Backtest, FALLBACK, choose};
use ordo_forecast::{Method, Reason};
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// Histories of up to 150 periods: each period sells with some chance, some amount, and a
/// weekly lift, so every demand class turns up.
fn history() -> impl Strategy<Value = Vec<f64>> {
    (0u32..=100, 1u32..=40, any::<bool>(), prop::collection::vec((0u32..100, 0u32..1000), 0..150)).prop_map(|(chance, size, weekly, draws)| {
        draws
            .iter()
            .enumerate()
            .map(|(t, &(roll, amount))| {
                if roll >= chance {
                    return 0.0;
                }
                let lift = if weekly && t % 7 >= 5 { 3.0 } else { 1.0 };
                (f64::from(amount % size + 1) * lift).round()
            })
            .collect()
    })
}

fn settings() -> impl Strategy<Value = (usize, Backtest)> {
    prop_oneof![Just((7, Backtest::daily())), Just((12, Backtest::monthly())), Just((52, Backtest::weekly()))]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn the_forecast_is_the_mean_of_at_most_three_suited_methods_ranked_by_back_test(
        history in history(), (season, backtest) in settings(), horizon in 1usize..40,
    ) {
        let choice = choose(&history, season, horizon, &backtest);
        prop_assert_eq!(choice.forecast.len(), horizon);
        prop_assert!(choice.forecast.iter().all(|f| f.is_finite() && *f >= 0.0), "{:?}", choice.forecast);
        prop_assert!((1..=backtest.pool).contains(&choice.pooled.len()));
        for t in 0..horizon {
            let mean = choice.pooled.iter().map(|f| f.forecast[t]).sum::<f64>() / choice.pooled.len() as f64;
            prop_assert!((choice.forecast[t] - mean).abs() <= 1e-9 * mean.abs().max(1.0));
        }
        match choice.reason {
            Reason::Untested => {
                prop_assert_eq!(choice.methods().collect::<Vec<_>>(), vec![FALLBACK]);
                prop_assert_eq!(choice.rmsse, None);
            }
            Reason::Pooled => {
                let class = choice.profile.unwrap().class;
                let scores: Vec<f64> = choice.methods().map(|m| choice.score(m).unwrap()).collect();
                prop_assert!(scores.windows(2).all(|pair| pair[0] <= pair[1]), "best first: {:?}", scores);
                for method in choice.methods() {
                    prop_assert!(method.suits(class) && !matches!(method, Method::Croston | Method::CrostonSba), "{:?}", method);
                }
                // No candidate left out of the pool did better in back-test than one in it,
                // and the pool is short only when fewer candidates could be scored.
                let worst_in = scores.last().copied().unwrap();
                let pooled: Vec<Method> = choice.methods().collect();
                let left_out: Vec<f64> = choice.scores.iter().filter(|s| !pooled.contains(&s.method)).filter_map(|s| s.rmsse).collect();
                prop_assert!(left_out.iter().all(|r| *r >= worst_in), "{:?}", choice.scores);
                prop_assert!(pooled.len() == backtest.pool || left_out.is_empty(), "{:?}", choice.scores);
                prop_assert!(choice.rmsse.is_some_and(f64::is_finite));
            }
        }
    }

    #[test]
    fn a_sku_that_never_sold_is_forecast_to_sell_nothing((season, backtest) in settings(), length in 0usize..150, horizon in 1usize..40) {
        let choice = choose(&vec![0.0; length], season, horizon, &backtest);
        prop_assert_eq!(choice.profile, None);
        prop_assert_eq!(choice.forecast, vec![0.0; horizon]);
    }
}

#[test]
fn most_generated_histories_are_long_enough_to_pool() {
    // The pool's properties are only checked on pooled cases: most cases must be.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut pooled, mut all) = (0, 0);
    for _ in 0..200 {
        let history = history().new_tree(&mut runner).unwrap().current();
        all += 1;
        pooled += usize::from(choose(&history, 12, 6, &Backtest::monthly()).reason == Reason::Pooled);
    }
    assert!(pooled * 3 > all, "{pooled} of {all} pooled");
}

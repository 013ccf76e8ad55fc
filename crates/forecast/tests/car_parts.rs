//! The forecasts on real intermittent demand: car parts, 2,674 monthly series (CC BY 4.0),
//! the last 12 months held out and scored as the data's README describes.
//!
//! The reference figures are a widely used Python library's on the same hold-out: its best
//! method, IMAPA, at RMSSE 0.562 and MASE 0.744, its Croston at 0.718 and 1.211. Matching its
//! Croston and IMAPA first shows the scoring is the same; Ordo's forecast (each SKU's pool of
//! its best methods in back-test) must then do at least as well as its best.

// Test helpers outside `#[test]` functions may unwrap too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ordo_forecast::{DemandHistory, Method, Scorecard, Settings, evaluate, forecast, tsf};

const HOLDOUT: usize = 12;

fn car_parts() -> Vec<Vec<f64>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/car-parts/car_parts_dataset_without_missing_values.tsf");
    let dataset = tsf::parse(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(dataset.frequency.as_deref(), Some("monthly"));
    dataset.series.iter().map(|named| named.complete().unwrap()).collect()
}

fn score(series: &[Vec<f64>], forecaster: impl Fn(&[f64]) -> Vec<f64>) -> Scorecard {
    let mut card = Scorecard::default();
    for values in series {
        let (train, test) = values.split_at(values.len() - HOLDOUT);
        card.add(train, test, &forecaster(train));
    }
    card
}

fn method(method: Method) -> impl Fn(&[f64]) -> Vec<f64> {
    move |train| method.fit(train, 12, HOLDOUT).unwrap().forecast
}

fn near(value: Option<f64>, expected: f64) -> bool {
    value.is_some_and(|value| (value - expected).abs() < 0.0015)
}

#[test]
fn the_scoring_reproduces_the_reference_croston_and_imapa() {
    let series = car_parts();
    assert_eq!(series.len(), 2674);
    assert!(series.iter().all(|values| values.len() == 51));

    let croston = score(&series, method(Method::Croston));
    assert!(near(croston.rmsse(), 0.718) && near(croston.mase(), 1.211), "{croston:?}");
    let imapa = score(&series, method(Method::Imapa));
    assert!(near(imapa.rmsse(), 0.562) && near(imapa.mase(), 0.744), "{imapa:?}");
    // Series without a single sale or change in their 39 fitted months have no scale.
    assert_eq!((imapa.scored, imapa.skipped), (2657, 17));
}

#[test]
fn the_per_sku_pool_beats_the_reference_best() {
    let series = car_parts();
    let settings = Settings::monthly(HOLDOUT);
    let choice = score(&series, |train| {
        forecast(&DemandHistory::new(train.to_vec()).unwrap(), &[], &settings).unwrap().forecast
    });
    let (rmsse, mase) = (choice.rmsse().unwrap(), choice.mase().unwrap());
    assert!(rmsse <= 0.562 && mase <= 0.744, "RMSSE {rmsse:.3}, MASE {mase:.3}");
    // The figures the README quotes, so a change that moves them is noticed.
    assert!(near(Some(rmsse), 0.5575) && near(Some(mase), 0.7214), "RMSSE {rmsse:.4}, MASE {mase:.4}");
    assert!(near(choice.bias(), 0.067), "bias {:?}", choice.bias());
}

#[test]
fn the_pools_lead_over_imapa_is_more_than_luck() {
    let e = evaluate(&car_parts(), &Settings::monthly(HOLDOUT));
    let against = e.against_best_reference.unwrap();
    assert_eq!(against.reference, "imapa");
    // 0.0046 of RMSSE, with a 95 % interval that stays below zero: the pool is better on 1,544
    // series and worse on 1,113.
    assert!(near(Some(against.difference), -0.0046) && against.high < 0.0, "{against:?}");
    assert_eq!((against.better, against.worse), (1544, 1113), "{against:?}");
}

//! Ordo's demand forecasts for replenishment, computed in process: no external service, no
//! I/O.
//!
//! Each SKU's history is cleaned (promotions taken out, stockouts imputed), classified by
//! its demand pattern, and forecast by the mean of the three methods that hold up best in a
//! back-test on that history; the result names the methods, their parameters and every
//! candidate's back-test error, so a buyer can see why a number is what it is. Accuracy functions score forecasts per SKU and over a
//! catalogue. Quantities are demand, not money, so they are floating point; [`whole_units`]
//! turns a forecast into units to order.

pub mod backtest;
pub mod classify;
pub mod demand;
pub mod evaluate;
pub mod methods;
pub mod metrics;
pub mod promotions;
pub mod series_csv;
pub mod sku;
pub mod tsf;

pub use backtest::{Backtest, Choice, Reason, Score};
pub use classify::{DemandClass, Profile, classify};
pub use demand::{DemandHistory, whole_units};
pub use evaluate::{Comparison, Evaluation, MethodScore, Verdict, evaluate};
pub use series_csv::Period;
pub use methods::{Fitted, Method};
pub use metrics::{Accuracy, Scale, Scorecard};
pub use promotions::{Prior, Uplift};
pub use sku::{Settings, SkuForecast, forecast};

/// A history or request the forecasts cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ForecastError {
    #[error("period {period}: negative quantity")]
    Negative { period: usize },
    #[error("period {period}: quantity is not a finite number")]
    NotFinite { period: usize },
    #[error("{what}: expected {expected} periods, found {found}")]
    LengthMismatch { what: &'static str, expected: usize, found: usize },
}

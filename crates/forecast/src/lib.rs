//! Ordo's demand forecasts for replenishment, computed in process: no external service, no
//! I/O.
//!
//! Each method names itself and its fitted parameters, so a buyer can see why a number is
//! what it is. Accuracy functions score forecasts per SKU and over a catalogue. Quantities are
//! demand, not money, so they are floating point.

pub mod classify;
pub mod methods;
pub mod metrics;
pub mod tsf;

pub use classify::{DemandClass, Profile, classify};
pub use methods::{Fitted, Method};
pub use metrics::{Accuracy, Scale, Scorecard};

//! The `ordo` program: parses the command line and configuration, opens the application, and
//! runs one command. Serving HTTP means composing the API and the dashboard adapters with the
//! cross-cutting layers (request ids, tracing, time-outs, body limits) in [`serve`].

pub mod anomalies;
pub mod backup;
pub mod bench;
pub mod checkpoints;
pub mod cli;
pub mod config;
pub mod files;
pub mod forecasting;
pub mod serve;
pub mod stand_ins;
pub mod triage;
pub mod workload;

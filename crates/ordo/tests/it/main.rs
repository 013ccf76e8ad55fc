//! Ordo end to end: a real server on 127.0.0.1, the real `ordo` binary, a real SQLite file
//! (and PostgreSQL when `ORDO_TEST_POSTGRES_URL` is set), and headless Chromium.

// Tests stop at the first surprise; the workspace denies this only for library code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod anomalies;
mod api;
mod audit;
mod backup;
mod bounds;
mod browser;
mod changes;
mod channel_health;
mod cli;
mod common;
mod confirmations;
mod connectors;
mod credentials;
mod exceptions;
mod faults;
mod fulfilment;
mod helpdesk;
mod import;
mod invariants;
mod kits;
mod kpis;
mod lists;
mod notifications;
mod orders;
mod permissions;
mod pollers;
mod procurement;
mod returns;
mod rules;
mod settlements;
mod sigkill;
mod stock_sync;
mod values;
mod workload;

//! The `/api/v1` routes, one module per area. Each handler declares the permission it needs
//! in its signature (`Authorized<need::…>`), parses, calls one use case and maps the result.

pub mod access;
pub mod audit;
pub mod changes;
mod choices;
pub mod channels;
pub mod exceptions;
pub mod fulfilment;
pub mod helpdesk;
pub mod inventory;
pub mod ledger;
pub mod reports;
pub mod rules;
pub mod master;
pub mod notifications;
pub mod orders;
pub mod procurement;
pub mod returns;

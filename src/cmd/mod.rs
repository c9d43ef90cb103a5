//! The commands: arguments and exit codes ([`cli`]), a run of the features ([`run`]), the timeout
//! measurement ([`timeouts`]) and `check --connect` ([`connect`], with its proposed target file,
//! [`propose`]). The top layer: it drives all the
//! others and nothing imports it.

pub mod cli;
pub mod compare;
pub mod connect;
pub mod doctor;
pub mod propose;
pub mod revoke;
pub mod run;
pub mod snapshots;
pub mod timeouts;

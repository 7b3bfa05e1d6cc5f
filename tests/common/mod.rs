//! Test harness: start the real `pointsman` and `pointsman-backend` binaries on loopback ports,
//! talk to them with plain std sockets, and stop every process a test started (Drop).
//!
//! One file per kind of thing the tests drive; everything is re-exported here, so a test (or a
//! bench) reaches it as `common::NAME`. Each test binary uses only part of the harness.
#![allow(dead_code)]

pub mod browser;
pub mod haproxy;

mod admin;
mod backend;
mod http;
mod load;
mod nginx;
mod pki;
mod pointsman;
mod ports;
mod process;
mod tmux;

// A test binary that uses nothing of a file would see its re-export as unused.
#[allow(unused_imports)]
pub use admin::*;
#[allow(unused_imports)]
pub use backend::*;
#[allow(unused_imports)]
pub use http::*;
#[allow(unused_imports)]
pub use load::*;
#[allow(unused_imports)]
pub use nginx::*;
#[allow(unused_imports)]
pub use pki::*;
#[allow(unused_imports)]
pub use pointsman::*;
#[allow(unused_imports)]
pub use ports::*;
#[allow(unused_imports)]
pub use process::*;
#[allow(unused_imports)]
pub use tmux::*;

//! Configuration: reads the documented subset of `haproxy.cfg` into a typed [`Config`].
//!
//! `model` holds the types, `parser` turns text into them. Errors carry file:line.

pub mod model;
pub mod parser;

pub use model::*;
pub use parser::{parse_files, parse_str, ConfigError};

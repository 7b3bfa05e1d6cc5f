//! Configuration: reads the documented subset of `haproxy.cfg` (see `docs/config.md`) into a
//! typed [`Config`].
//!
//! `model` holds the types. Reading them: `lexer` splits a line into words (quotes, escapes,
//! `${VAR}`), `values` reads times, numbers and addresses, `parser` walks files and sections,
//! `global`, `proxy` and `server` parse the keywords of their sections (`checks` the `http-check` rule lists),
//! and the keywords of their sections (`logs` the `log` lines, `rules` the `acl` and `use_backend` lines,
//! `stats_page` the stats page and Prometheus keywords), `ignored` lists the
//! keywords accepted with a warning, and `validate` checks what needs the whole config.
//! Errors carry file:line.

mod checks;
mod global;
mod ignored;
mod lexer;
mod logs;
pub mod model;
pub mod parser;
mod proxy;
mod rules;
mod server;
mod stats_page;
mod tcp_checks;
mod tls_options;
mod validate;
mod values;

pub use model::*;
pub use parser::{parse_files, parse_str, parse_str_with_env, ConfigError};
pub use server::{apply_options, Numbers, OptionError, HAPROXY_SERVER_KEYWORDS};
pub use values::{atoi, parse_time_in, strtol, TimeUnit};

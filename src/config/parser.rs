//! haproxy.cfg parser (placeholder until the parser lands).
use super::model::Config;
use std::fmt;

/// A config error: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ConfigError {}

pub fn parse_str(_file: &str, _text: &str) -> Result<Config, ConfigError> {
    unimplemented!()
}

pub fn parse_files(_paths: &[std::path::PathBuf]) -> Result<Config, ConfigError> {
    unimplemented!()
}

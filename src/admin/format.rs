//! placeholder: replaced by the formats implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatRequest;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoFormat {
    Plain,
}

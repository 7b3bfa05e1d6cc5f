//! The runtime model every shard holds a replica of, the one [`Mutation`] type, and the one pure
//! [`apply`] function.
//!
//! Pure: no I/O, no glommio, no clock (a mutation's time comes in as an argument). The same
//! sequence of mutations gives the same state on every shard; the coordinator numbers them.

mod apply;
mod model;
mod tls;

pub use apply::{apply, check_changes, Applied, ApplyError, MapEntryRef, Mutation};
pub use model::*;
pub use tls::*;

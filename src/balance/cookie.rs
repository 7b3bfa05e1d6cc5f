//! Cookie persistence: a request carrying a server's cookie value goes back to that server as
//! long as it takes persistent traffic (READY or DRAIN, alive, not being deleted, any weight),
//! which is how DRAIN lets existing sessions finish while new clients go elsewhere.

use crate::state::Backend;

/// Position of the server whose `cookie` is `value` and which still takes requests carrying
/// it, or `None` (no such server, or it is in MAINT, DOWN or being deleted: the request is then
/// balanced like a new one).
pub fn by_cookie(backend: &Backend, value: &str) -> Option<usize> {
    backend
        .servers
        .iter()
        .position(|s| s.cookie.as_deref() == Some(value) && s.takes_persistent_traffic())
}

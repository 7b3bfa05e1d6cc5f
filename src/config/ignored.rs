//! Keywords that pointsman accepts but ignores (with a warning), and keywords that belong to a
//! planned feature and are refused with a "not supported yet" error.
//!
//! The list is short on purpose: everything else outside the subset is an error, because a
//! silently ignored line is a line the operator believes is doing something.

/// Where an ignored keyword may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IgnoredIn {
    Global,
    /// global, frontend, backend and listen (not defaults), as in HAProxy.
    NamedSections,
}

/// An accepted-and-ignored keyword: its words, where it may appear and why it changes nothing.
pub(super) struct Ignored {
    pub key: &'static str,
    pub allowed: IgnoredIn,
    pub reason: &'static str,
}

pub(super) const IGNORED: &[Ignored] = &[
    Ignored {
        key: "daemon",
        allowed: IgnoredIn::Global,
        reason: "use -D on the command line (or -Ws under systemd) to run in the background",
    },
    Ignored {
        key: "user",
        allowed: IgnoredIn::Global,
        reason: "start pointsman as the user it should run as",
    },
    Ignored {
        key: "group",
        allowed: IgnoredIn::Global,
        reason: "start pointsman with the group it should run as",
    },
    Ignored {
        key: "chroot",
        allowed: IgnoredIn::Global,
        reason: "pointsman does not chroot itself",
    },
    Ignored {
        key: "description",
        allowed: IgnoredIn::NamedSections,
        reason: "it is only shown on HAProxy's stats page",
    },
    Ignored {
        key: "ca-base",
        allowed: IgnoredIn::Global,
        reason: "pointsman verifies no client certificates (no 'ca-file')",
    },
];

/// The ignored keyword with this key (`daemon`, `description`), if any.
pub(super) fn find_ignored(key: &str) -> Option<&'static Ignored> {
    IGNORED.iter().find(|entry| entry.key == key)
}

/// `stats …` keywords of HAProxy's stats page that pointsman's page does not have.
pub(super) const UNSUPPORTED_STATS_KEYWORDS: &[&str] = &[
    "scope",
    "show-desc",
    "show-legends",
    "show-node",
    "http-request",
];

pub(super) fn not_supported(keyword: &str) -> String {
    format!(
        "'{keyword}' is not supported: the stats page takes 'stats enable', 'uri', 'refresh', \
         'auth', 'realm', 'admin if TRUE|LOCALHOST', 'hide-version' and 'prometheus'"
    )
}

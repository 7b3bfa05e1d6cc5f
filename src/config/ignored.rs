//! Keywords that pointsman accepts but ignores (with a warning), and keywords that belong to a
//! planned feature and are refused with a "not supported yet" error.
//!
//! The list is short on purpose: everything else outside the subset is an error, because a
//! silently ignored line is a line the operator believes is doing something.

/// Where an ignored keyword may appear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IgnoredIn {
    Global,
    /// global, defaults, frontend, backend and listen.
    Everywhere,
    /// global, frontend, backend and listen (not defaults), as in HAProxy.
    NamedSections,
    /// defaults, frontend, backend and listen.
    Proxies,
}

/// An accepted-and-ignored keyword: its words, where it may appear and why it changes nothing.
pub(super) struct Ignored {
    pub key: &'static str,
    pub allowed: IgnoredIn,
    pub reason: &'static str,
}

pub(super) const IGNORED: &[Ignored] = &[
    Ignored {
        key: "log",
        allowed: IgnoredIn::Everywhere,
        reason: "pointsman logs to stderr",
    },
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
        reason: "pointsman does not speak TLS",
    },
    Ignored {
        key: "crt-base",
        allowed: IgnoredIn::Global,
        reason: "pointsman does not speak TLS",
    },
    Ignored {
        key: "option dontlognull",
        allowed: IgnoredIn::Proxies,
        reason: "it only changes logging",
    },
];

/// The ignored keyword with this key (`log`, `option dontlognull`), if any.
pub(super) fn find_ignored(key: &str) -> Option<&'static Ignored> {
    IGNORED.iter().find(|entry| entry.key == key)
}

/// `stats …` keywords of a proxy section that belong to the stats page, a planned feature.
pub(super) const STATS_PAGE_KEYWORDS: &[&str] = &[
    "enable",
    "uri",
    "refresh",
    "auth",
    "admin",
    "realm",
    "hide-version",
    "scope",
    "show-desc",
    "show-legends",
    "show-node",
    "http-request",
];

pub(super) fn not_supported_yet(keyword: &str) -> String {
    format!(
        "'{keyword}' is not supported yet: the stats page is a planned feature \
         (use the stats socket, e.g. 'show stat', meanwhile)"
    )
}

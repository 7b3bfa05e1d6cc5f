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
        key: "chroot",
        allowed: IgnoredIn::Global,
        reason: "pointsman does not chroot itself",
    },
    Ignored {
        key: "description",
        allowed: IgnoredIn::NamedSections,
        reason: "it is only shown on HAProxy's stats page",
    },
];

/// The ignored keyword with this key (`daemon`, `description`), if any.
pub(super) fn find_ignored(key: &str) -> Option<&'static Ignored> {
    IGNORED.iter().find(|entry| entry.key == key)
}

/// HAProxy 2.6's `tune.*` keywords that pointsman has no knob for (`tune.bufsize` is real and
/// parsed by `global`): accepted with a warning naming each, so a production config loads.
/// Checked against haproxy 2.6.12 (`tests/cli_check.rs` runs both on each);
/// `tune.fd.edge-triggered` is left out: HAProxy refuses it unless experimental directives
/// are exposed.
pub(super) const TUNE_WITHOUT_EFFECT: &[&str] = &[
    "tune.buffers.limit",
    "tune.buffers.reserve",
    "tune.comp.maxlevel",
    "tune.fail-alloc",
    "tune.h2.header-table-size",
    "tune.h2.initial-window-size",
    "tune.h2.max-concurrent-streams",
    "tune.h2.max-frame-size",
    "tune.http.cookielen",
    "tune.http.logurilen",
    "tune.http.maxhdr",
    "tune.idle-pool.shared",
    "tune.idletimer",
    "tune.listener.multi-queue",
    "tune.lua.forced-yield",
    "tune.lua.maxmem",
    "tune.lua.service-timeout",
    "tune.lua.session-timeout",
    "tune.lua.task-timeout",
    "tune.maxaccept",
    "tune.maxpollevents",
    "tune.maxrewrite",
    "tune.pattern.cache-size",
    "tune.peers.max-updates-at-once",
    "tune.pipesize",
    "tune.pool-high-fd-ratio",
    "tune.pool-low-fd-ratio",
    "tune.rcvbuf.client",
    "tune.rcvbuf.server",
    "tune.recv_enough",
    "tune.runqueue-depth",
    "tune.sched.low-latency",
    "tune.sndbuf.client",
    "tune.sndbuf.server",
    "tune.ssl.capture-buffer-size",
    "tune.ssl.capture-cipherlist-size",
    "tune.ssl.default-dh-param",
    "tune.ssl.force-private-cache",
    "tune.ssl.hard-maxrecord",
    "tune.ssl.keylog",
    "tune.ssl.lifetime",
    "tune.ssl.ssl-ctx-cache-size",
    "tune.vars.check-max-size",
    "tune.vars.global-max-size",
    "tune.vars.proc-max-size",
    "tune.vars.reqres-max-size",
    "tune.vars.sess-max-size",
    "tune.vars.txn-max-size",
];

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

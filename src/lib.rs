//! pointsman: a thread-per-core io_uring load balancer that reads `haproxy.cfg` and speaks
//! HAProxy's runtime API, so operators can switch live traffic between servers with zero errors.
//!
//! # Layout
//! - [`config`]: `haproxy.cfg` lexer and parser ─▶ typed, immutable [`config::Config`], every
//!   element carrying its file:line for error messages. Knows nothing of the runtime.
//! - [`state`]: the runtime model (backends, servers, admin/operational state, weights), the one
//!   [`state::Mutation`] type and the one pure [`state::apply`] function. No I/O, no glommio.
//! - [`balance`]: server selection (roundrobin, static-rr, leastconn, first, source, random),
//!   backups; reads only `state`.
//! - [`rules`]: HAProxy's request rules (`acl`, conditions, converters, maps, `use_backend`,
//!   `http-request`, `redirect`) compiled at load into typed plans the proxy evaluates per
//!   request (a rewrite copies the head once). Pure; the runtime maps live in `state`.
//! - [`stats`]: per-shard counters, gathered and summed for `show stat`.
//! - [`http`]: HTTP/1.1 head parsing (httparse), body framing, HAProxy's error pages. Pure.
//! - [`proxy`]: per-connection HTTP and TCP forwarding on one shard, idle connection pool.
//! - [`tls`]: TLS termination on `bind … ssl crt …` (rustls): certificates as HAProxy reads
//!   them, one server config per TLS bind shared by every shard, the handshake.
//! - [`admin`]: the runtime API: line framing, command parser ─▶ typed [`admin::command::Command`],
//!   replies and formats (`show stat` CSV, `show info`, `show servers state`).
//! - [`shard`]: glommio bootstrap, one executor per core, SO_REUSEPORT listeners, the channel mesh
//!   and the coordinator that sequences mutations and waits for every shard's acknowledgement.
//! - [`canary`]: `canary server B/S steps … every T`: a share of a backend's traffic moved to
//!   one server step by step, each step judged on the shards' own counters and histograms,
//!   rolled back by itself; run by a task on the coordinator's shard.
//! - [`health`]: active checks and passive reports on one owner shard per server; a result
//!   that changes a server reaches the coordinator through the `HealthSink` trait health owns.
//! - [`logs`]: access and state-change log lines in HAProxy's formats and their writer thread
//!   (the traffic's logs, as an operator reads them).
//! - [`diagnostics`]: the process's own messages (the `log` crate's backend on stderr), as
//!   opposed to [`logs`], the traffic's.
//! - [`reload`]: replacing a running process without losing a connection: listening sockets
//!   opened before the shards (fresh, `fd@N`, or handed over with SCM_RIGHTS), the `-x`
//!   hand-over of listeners and runtime state, HAProxy's server state file, master-worker.
//! - [`privileges`]: `user`/`group`: root given up once every socket is bound, before the
//!   shards start.
//! - [`sys`]: process facts and limits (rlimits, ids, host name, the Unix clock).
//! - [`cli`]: HAProxy's multi-letter flags (`-sf`, `-st`, `-vv`, `-Ws`) spelled for clap.
//! - [`loadtest`]: the load generator behind `pointsman load` and `pointsman demo`; it shares
//!   nothing with the proxy, so its error count is an independent witness.
//! - [`version`]: `-v`/`-vv` in HAProxy's shape (build facts from `build.rs`, io_uring probed).
//! - [`manuals`]: the man pages and shell completions, generated from clap and docs/config.md.
//! - [`demo`]: `pointsman demo`, the guide's zero-downtime switch out of the box.
//! - [`testbackend`]: the small HTTP origin behind `pointsman-backend` (tests, demo, benches).
//!
//! Boundaries: `proxy` and `admin` never import each other; they meet in `state` (mutations) and
//! `stats` (counters). `state`, `rules`, `http` and `config` are pure. No top-level module
//! imports one that imports it back. glommio runs the shards (`shard`), and on them the I/O of
//! `proxy`, `admin`, `health` and the log flush task (`logs`); the load tester's `events`
//! engine runs its own glommio executor.
//!
//! Within one folder, these files import each other, each pair for a reason:
//! - `admin`: `command` ↔ `format` (a command names the format it replies in; `show info`
//!   prints the build string `command` holds); `command` ↔ `testutil` (test code only).
//! - `config`: `proxy` ↔ `parser`, `rules`, `server`, `stats_page` (the section parser hands
//!   each keyword to its parser, which reads the section it belongs to and its lines).
//! - `loadtest`: `client` ↔ `outcome` (a read fails with an error class; a sample is made
//!   from a response); `report` ↔ `json` (the report types derive `Serialize` with the
//!   serializers `json` holds; `json` writes the report).
//! - `proxy`: `queue` ↔ `worker` (a worker owns its queues; picking a server reads the worker's
//!   shard state).
//! - `rules`: `fetch` ↔ `pattern` (a fetch says which match kinds apply to it; a pattern
//!   matches a fetched sample).

pub mod admin;
pub mod balance;
pub mod canary;
pub mod cli;
pub mod config;
pub mod demo;
pub mod diagnostics;
pub mod health;
pub mod http;
pub mod loadtest;
pub mod logs;
pub mod manuals;
pub mod privileges;
pub mod proxy;
pub mod reload;
pub mod rules;
pub mod shard;
pub mod state;
pub mod stats;
pub mod sys;
pub mod testbackend;
pub mod tls;
pub mod version;

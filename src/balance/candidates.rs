//! The servers one pick may choose among, as a small `Copy` value that algorithms can walk as
//! many times as they need without allocating.

use crate::state::{Backend, Server};
use std::ops::Range;

/// Which servers of the backend take new traffic right now. The choice of level (actives, or
/// backups when no active is usable) is [`Backend::eligible`]'s; this only remembers it so it
/// can be re-applied per server in O(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    /// At least one active server is usable: every usable active.
    Actives,
    /// No active is usable and `option allbackups`: every usable backup.
    AllBackups,
    /// No active is usable: only the first usable backup, at this position.
    OneBackup(usize),
}

/// The servers a pick chooses among: [`Backend::eligible`] minus the server to avoid.
#[derive(Debug, Clone, Copy)]
pub struct Candidates<'a> {
    servers: &'a [Server],
    level: Level,
    /// Server id left out (redispatch); only set when another candidate remains.
    skip: Option<u32>,
}

impl<'a> Candidates<'a> {
    /// The candidates of `backend` avoiding server id `avoid` when another one is usable, or
    /// `None` when no server takes new traffic.
    pub fn new(backend: &'a Backend, avoid: Option<u32>) -> Option<Candidates<'a>> {
        let (position, first) = backend.eligible().next()?;
        let level = if !first.backup {
            Level::Actives
        } else if backend.allbackups {
            Level::AllBackups
        } else {
            Level::OneBackup(position)
        };
        let mut candidates = Candidates {
            servers: &backend.servers,
            level,
            skip: None,
        };
        if let Some(id) = avoid {
            if candidates.iter().any(|(_, s)| s.id != id) {
                candidates.skip = Some(id);
            }
        }
        Some(candidates)
    }

    /// All servers of the backend, candidates or not, by position.
    pub fn servers(&self) -> &'a [Server] {
        self.servers
    }

    /// Whether the server at `position` is a candidate.
    pub fn admits(&self, position: usize) -> bool {
        self.servers
            .get(position)
            .is_some_and(|s| self.admits_server(position, s))
    }

    fn admits_server(&self, position: usize, server: &Server) -> bool {
        let at_level = match self.level {
            Level::Actives => !server.backup,
            Level::AllBackups => server.backup,
            Level::OneBackup(p) => position == p,
        };
        at_level && server.takes_new_traffic() && Some(server.id) != self.skip
    }

    /// The candidates with their positions, in position order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &'a Server)> + 'a {
        self.in_range(0..self.servers.len())
    }

    /// The candidates at positions in `range` (clamped to the server list), in order. Two
    /// ranges, `cursor..` then `..cursor`, give a round-robin order without the cost of a
    /// chained iterator.
    pub fn in_range(&self, range: Range<usize>) -> impl Iterator<Item = (usize, &'a Server)> + 'a {
        let this = *self;
        let end = range.end.min(self.servers.len());
        let start = range.start.min(end);
        self.servers[start..end]
            .iter()
            .enumerate()
            .map(move |(offset, server)| (start + offset, server))
            .filter(move |(position, server)| this.admits_server(*position, server))
    }

    /// Sum of `weight` over the candidates.
    pub fn total_weight(&self, weight: impl Fn(&Server) -> u64) -> u64 {
        self.iter().map(|(_, s)| weight(s)).sum()
    }

    /// The candidate where a walk of `ticket` units over the weights lands: the first whose
    /// cumulated weight exceeds `ticket`. `ticket` must be below [`Self::total_weight`].
    pub fn at_weight(&self, mut ticket: u64, weight: impl Fn(&Server) -> u64) -> Option<usize> {
        for (position, server) in self.iter() {
            let w = weight(server);
            if ticket < w {
                return Some(position);
            }
            ticket -= w;
        }
        None
    }
}

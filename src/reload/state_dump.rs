//! The runtime state one process hands to the next (`_getstate`), in pointsman's own text
//! format: richer than HAProxy's `show servers state`, because a reload must also bring back
//! servers added at runtime (their whole definition) and know which values the old process's
//! config had (so that a value the operator edited in the config wins over the runtime one).
//!
//! ```text
//! pointsman-state 1
//! frontend <name> enabled=1
//! config <backend> <server> <spec>            one per server line of the old config
//! server <backend> <server> <spec> <runtime>  one per server the old process routes to
//! ticket-keys <encrypting slot> <key> <key> <key>   the generated TLS ticket ring (base64)
//! canary <backend> <server> <plan> <progress>  one per running canary (it continues there)
//! end
//! ```
//! Values are `key=value` words, percent-encoded (`%20` for a space), so a line never breaks.

use crate::config::{CheckTuning, Observe, OnError, ServerOptions};
use crate::state::{AdminState, CheckStatus, OpState, ServerSpec, State};
use crate::tls::tickets::{self, TicketRing, RING};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

const MAGIC: &str = "pointsman-state 1";

/// What a server's runtime looked like in the old process.
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeServer {
    pub backend: String,
    pub name: String,
    /// Its definition: the config line's values, or what `add server` gave.
    pub spec: ServerSpec,
    /// Added at runtime with `add server`.
    pub dynamic: bool,
    /// `None` when the source does not know it (a HAProxy state file's address is not used).
    pub addr: Option<std::net::SocketAddr>,
    pub weight: u32,
    /// The weight its definition gave (HAProxy's `srv_iweight`).
    pub initial_weight: u32,
    pub admin: AdminState,
    pub op: OpState,
    pub health: u32,
    pub status: CheckStatus,
    /// `None` when unknown.
    pub check_enabled: Option<bool>,
    /// `del server` was under way.
    pub deleting: bool,
}

/// A canary running in the old process: its plan, where it stands, and the weights it
/// restores on abort, by server name (ids may differ in the next process).
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryRecord {
    pub backend: String,
    pub server: String,
    pub steps: Vec<u32>,
    pub every: Duration,
    pub max_errors_pp: f64,
    pub max_p99: f64,
    pub min_requests: u64,
    /// Index of the step it was holding.
    pub step: usize,
    /// Every active server's weight before the canary.
    pub before: Vec<(String, u32)>,
}

/// The whole hand-over: frontends, the old config's servers, the runtime servers, the
/// running canaries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateDump {
    pub frontends: Vec<(String, bool)>,
    /// The old config's server lines by (backend, server).
    pub configured: BTreeMap<(String, String), ServerSpec>,
    pub servers: Vec<RuntimeServer>,
    /// The TLS ticket key ring the process generated (the binds without `tls-ticket-keys`):
    /// the next process keeps opening its tickets.
    pub ticket_keys: Option<TicketRing>,
    /// Filled by the coordinator's side (the canary book is not part of `State`).
    pub canaries: Vec<CanaryRecord>,
}

impl StateDump {
    /// The dump of a running process: its state and the config it started from.
    pub fn capture(state: &State, config: &crate::config::Config) -> StateDump {
        let mut dump = StateDump::default();
        for f in &state.frontends {
            dump.frontends.push((f.name.clone(), f.enabled));
        }
        for proxy in &config.proxies {
            for server in proxy.backend.iter().flat_map(|b| &b.servers) {
                dump.configured.insert(
                    (proxy.name.clone(), server.name.clone()),
                    ServerSpec::from(server),
                );
            }
        }
        dump.ticket_keys = state.tls.generated.clone();
        for b in &state.backends {
            for s in &b.servers {
                dump.servers.push(RuntimeServer {
                    backend: b.name.clone(),
                    name: s.name.clone(),
                    spec: ServerSpec {
                        name: s.name.clone(),
                        addr: s.addr,
                        options: ServerOptions {
                            check: s.check.configured,
                            backup: s.backup,
                            weight: s.initial_weight,
                            disabled: false,
                            inter: s.check.inter,
                            rise: s.check.rise,
                            fall: s.check.fall,
                            maxconn: s.maxconn,
                            cookie: s.cookie.clone(),
                            tuning: s.tuning,
                            send_proxy: s.send_proxy,
                            ssl: Default::default(),
                        },
                    },
                    dynamic: s.dynamic,
                    addr: Some(s.addr),
                    weight: s.weight,
                    initial_weight: s.initial_weight,
                    admin: s.admin,
                    op: s.op,
                    health: s.check.health,
                    status: s.check.status,
                    check_enabled: Some(s.check.enabled),
                    deleting: s.deleting,
                });
            }
        }
        dump
    }

    /// The text sent over the hand-over socket.
    pub fn render(&self) -> String {
        let mut out = format!("{MAGIC}\n");
        for (name, enabled) in &self.frontends {
            let _ = writeln!(out, "frontend {} enabled={}", enc(name), *enabled as u8);
        }
        for ((backend, server), spec) in &self.configured {
            let _ = writeln!(
                out,
                "config {} {} {}",
                enc(backend),
                enc(server),
                spec_words(spec)
            );
        }
        for s in &self.servers {
            let _ = writeln!(
                out,
                "server {} {} {} dynamic={} weight={} iweight={} admin={} op={} health={} \
                 status={} check_enabled={} deleting={}",
                enc(&s.backend),
                enc(&s.name),
                spec_words(&s.spec),
                s.dynamic as u8,
                s.weight,
                s.initial_weight,
                admin_word(s.admin),
                op_word(s.op),
                s.health,
                s.status.code(),
                s.check_enabled.unwrap_or(true) as u8,
                s.deleting as u8,
            );
        }
        if let Some(ring) = &self.ticket_keys {
            let keys: Vec<String> = ring.slots.iter().map(|k| tickets::encode(k)).collect();
            let _ = writeln!(out, "ticket-keys {} {}", ring.encrypt, keys.join(" "));
        }
        for c in &self.canaries {
            let _ = writeln!(out, "{}", canary_line(c));
        }
        out.push_str("end\n");
        out
    }

    /// Reads a dump; the error names the line.
    pub fn parse(text: &str) -> Result<StateDump, String> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, MAGIC)) => {}
            other => {
                return Err(format!(
                    "not a pointsman state dump (first line {:?})",
                    other.map(|(_, l)| l).unwrap_or("")
                ))
            }
        }
        let mut dump = StateDump::default();
        for (index, line) in lines {
            let at = |m: String| format!("state dump line {}: {m}", index + 1);
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["end"] => return Ok(dump),
                ["frontend", name, rest @ ..] => {
                    let kv = KeyValues::parse(rest).map_err(at)?;
                    dump.frontends
                        .push((dec(name).map_err(at)?, kv.flag("enabled").map_err(at)?));
                }
                ["config", backend, server, rest @ ..] => {
                    let kv = KeyValues::parse(rest).map_err(at)?;
                    let spec = kv.spec(server).map_err(at)?;
                    dump.configured
                        .insert((dec(backend).map_err(at)?, spec.name.clone()), spec);
                }
                ["server", backend, server, rest @ ..] => {
                    let kv = KeyValues::parse(rest).map_err(at)?;
                    dump.servers.push(kv.runtime(backend, server).map_err(at)?);
                }
                ["ticket-keys", encrypt, keys @ ..] => {
                    dump.ticket_keys = Some(ticket_ring(encrypt, keys).map_err(at)?);
                }
                ["canary", backend, server, rest @ ..] => {
                    let kv = KeyValues::parse(rest).map_err(at)?;
                    dump.canaries.push(kv.canary(backend, server).map_err(at)?);
                }
                _ => return Err(at(format!("unexpected line {line:?}"))),
            }
        }
        Err("state dump ends without its 'end' line (cut short?)".into())
    }
}

/// A `ticket-keys` line's ring: an encrypting slot below [`RING`] and [`RING`] keys of one
/// size HAProxy accepts.
fn ticket_ring(encrypt: &str, keys: &[&str]) -> Result<TicketRing, String> {
    let bad = || "ticket-keys: expected a slot and 3 base64 keys of 48 or 80 bytes".to_string();
    let encrypt: usize = encrypt.parse().ok().filter(|e| *e < RING).ok_or_else(bad)?;
    let keys = (keys.iter())
        .map(|k| tickets::decode(k).filter(|k| tickets::is_key_size(k)))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    let slots: [Vec<u8>; RING] = keys.try_into().map_err(|_| bad())?;
    if slots.iter().any(|k| k.len() != slots[0].len()) {
        return Err(bad());
    }
    Ok(TicketRing { slots, encrypt })
}

fn spec_words(spec: &ServerSpec) -> String {
    let o = &spec.options;
    let t = &o.tuning;
    let millis = |d: Option<Duration>| d.map_or("-".to_string(), |d| d.as_millis().to_string());
    format!(
        "addr={} check={} backup={} sweight={} disabled={} inter_ms={} rise={} fall={} maxconn={} cookie={} \
         fastinter_ms={} downinter_ms={} slowstart_ms={} observe={} error_limit={} on_error={}",
        spec.addr,
        o.check as u8,
        o.backup as u8,
        o.weight,
        o.disabled as u8,
        o.inter.as_millis(),
        o.rise,
        o.fall,
        o.maxconn.map_or("-".to_string(), |m| m.to_string()),
        o.cookie.as_deref().map_or("-".to_string(), enc),
        millis(t.fastinter),
        millis(t.downinter),
        millis(t.slowstart),
        match t.observe {
            None => "-",
            Some(Observe::Layer4) => "layer4",
            Some(Observe::Layer7) => "layer7",
        },
        t.error_limit,
        on_error_word(t.on_error),
    )
}

fn canary_line(c: &CanaryRecord) -> String {
    let join = |v: Vec<String>| {
        if v.is_empty() {
            "-".into()
        } else {
            v.join(",")
        }
    };
    format!(
        "canary {} {} steps={} every_ms={} max_errors_pp={} max_p99={} min_requests={} step={} before={}",
        enc(&c.backend),
        enc(&c.server),
        join(c.steps.iter().map(u32::to_string).collect()),
        c.every.as_millis(),
        c.max_errors_pp,
        c.max_p99,
        c.min_requests,
        c.step,
        join(
            c.before
                .iter()
                .map(|(name, w)| format!("{}:{w}", enc(name).replace(',', "%2C").replace(':', "%3A")))
                .collect()
        ),
    )
}

fn on_error_word(o: OnError) -> &'static str {
    match o {
        OnError::Fastinter => "fastinter",
        OnError::FailCheck => "fail-check",
        OnError::SuddenDeath => "sudden-death",
        OnError::MarkDown => "mark-down",
    }
}

fn tuning(kv: &KeyValues) -> Result<CheckTuning, String> {
    let millis = |key: &str| -> Result<Option<Duration>, String> {
        kv.optional(key)?
            .map(|v| {
                v.parse()
                    .map(Duration::from_millis)
                    .map_err(|_| format!("'{key}={v}' is not a number"))
            })
            .transpose()
    };
    let observe = match kv.optional("observe")? {
        None => None,
        Some("layer4") => Some(Observe::Layer4),
        Some("layer7") => Some(Observe::Layer7),
        Some(v) => return Err(format!("unknown observe '{v}'")),
    };
    let on_error = kv.get("on_error")?;
    let on_error = [
        OnError::Fastinter,
        OnError::FailCheck,
        OnError::SuddenDeath,
        OnError::MarkDown,
    ]
    .into_iter()
    .find(|o| on_error_word(*o) == on_error)
    .ok_or_else(|| format!("unknown on_error '{on_error}'"))?;
    Ok(CheckTuning {
        fastinter: millis("fastinter_ms")?,
        downinter: millis("downinter_ms")?,
        slowstart: millis("slowstart_ms")?,
        observe,
        error_limit: kv.number("error_limit")?,
        on_error,
    })
}

pub(super) fn admin_word(a: AdminState) -> &'static str {
    match a {
        AdminState::Ready => "ready",
        AdminState::Drain => "drain",
        AdminState::Maint => "maint",
    }
}

fn op_word(o: OpState) -> &'static str {
    match o {
        OpState::Up => "up",
        OpState::Stopping => "stopping",
        OpState::Down => "down",
    }
}

fn check_status(code: &str) -> Option<CheckStatus> {
    use CheckStatus::*;
    [Init, L4Ok, L4Con, L4Tout, L7Ok, L7Sts, L7Rsp, L7Tout]
        .into_iter()
        .find(|s| s.code() == code)
}

/// The `key=value` words of one line.
struct KeyValues<'a>(Vec<(&'a str, &'a str)>);

impl<'a> KeyValues<'a> {
    fn parse(words: &[&'a str]) -> Result<KeyValues<'a>, String> {
        words
            .iter()
            .map(|w| {
                w.split_once('=')
                    .ok_or_else(|| format!("expected key=value, found {w:?}"))
            })
            .collect::<Result<_, _>>()
            .map(KeyValues)
    }

    fn get(&self, key: &str) -> Result<&'a str, String> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .ok_or_else(|| format!("'{key}' is missing"))
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<T, String> {
        let v = self.get(key)?;
        v.parse()
            .map_err(|_| format!("'{key}={v}' is not a number"))
    }

    fn flag(&self, key: &str) -> Result<bool, String> {
        match self.get(key)? {
            "0" => Ok(false),
            "1" => Ok(true),
            v => Err(format!("'{key}={v}' is not 0 or 1")),
        }
    }

    fn optional(&self, key: &str) -> Result<Option<&'a str>, String> {
        Ok(Some(self.get(key)?).filter(|v| *v != "-"))
    }

    fn spec(&self, name: &str) -> Result<ServerSpec, String> {
        let addr = self.get("addr")?;
        Ok(ServerSpec {
            name: dec(name)?,
            addr: addr
                .parse()
                .map_err(|_| format!("'addr={addr}' is not an address"))?,
            options: ServerOptions {
                check: self.flag("check")?,
                backup: self.flag("backup")?,
                weight: self.number("sweight")?,
                disabled: self.flag("disabled")?,
                inter: Duration::from_millis(self.number("inter_ms")?),
                rise: self.number("rise")?,
                fall: self.number("fall")?,
                maxconn: self
                    .optional("maxconn")?
                    .map(|m| {
                        m.parse()
                            .map_err(|_| format!("'maxconn={m}' is not a number"))
                    })
                    .transpose()?,
                cookie: self.optional("cookie")?.map(dec).transpose()?,
                tuning: tuning(self)?,
                // Not in the dump's text yet: a runtime server's send-proxy is not carried.
                send_proxy: None,
                // Runtime servers take no TLS keywords (`add server` refuses them).
                ssl: Default::default(),
            },
        })
    }

    fn canary(&self, backend: &str, name: &str) -> Result<CanaryRecord, String> {
        let steps = self
            .get("steps")?
            .split(',')
            .map(|p| {
                p.parse()
                    .map_err(|_| format!("'steps' has a bad share {p:?}"))
            })
            .collect::<Result<_, String>>()?;
        let before = match self.get("before")? {
            "-" => Vec::new(),
            list => list
                .split(',')
                .map(|pair| {
                    let (name, weight) = pair
                        .rsplit_once(':')
                        .ok_or_else(|| format!("'before' expects name:weight, found {pair:?}"))?;
                    let weight = weight
                        .parse()
                        .map_err(|_| format!("'before' has a bad weight in {pair:?}"))?;
                    Ok((dec(name)?, weight))
                })
                .collect::<Result<_, String>>()?,
        };
        Ok(CanaryRecord {
            backend: dec(backend)?,
            server: dec(name)?,
            steps,
            every: Duration::from_millis(self.number("every_ms")?),
            max_errors_pp: self.number("max_errors_pp")?,
            max_p99: self.number("max_p99")?,
            min_requests: self.number("min_requests")?,
            step: self.number("step")?,
            before,
        })
    }

    fn runtime(&self, backend: &str, name: &str) -> Result<RuntimeServer, String> {
        let spec = self.spec(name)?;
        let admin = match self.get("admin")? {
            "ready" => AdminState::Ready,
            "drain" => AdminState::Drain,
            "maint" => AdminState::Maint,
            v => return Err(format!("unknown admin state '{v}'")),
        };
        let op = match self.get("op")? {
            "up" => OpState::Up,
            "stopping" => OpState::Stopping,
            "down" => OpState::Down,
            v => return Err(format!("unknown operational state '{v}'")),
        };
        let status = self.get("status")?;
        Ok(RuntimeServer {
            backend: dec(backend)?,
            name: spec.name.clone(),
            addr: Some(spec.addr),
            dynamic: self.flag("dynamic")?,
            weight: self.number("weight")?,
            initial_weight: self.number("iweight")?,
            admin,
            op,
            health: self.number("health")?,
            status: check_status(status)
                .ok_or_else(|| format!("unknown check status '{status}'"))?,
            check_enabled: Some(self.flag("check_enabled")?),
            deleting: self.flag("deleting")?,
            spec,
        })
    }
}

/// Percent-encodes what would break a line into words.
fn enc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '%' | ' ' | '=' | '\n' | '\r' | '\t' => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "%{b:02X}");
                }
            }
            c => out.push(c),
        }
    }
    out
}

fn dec(text: &str) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad escape in {text:?}"))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8 once decoded"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{apply, Mutation, ServerRef};

    const CONFIG: &str = "frontend f\n mode http\n bind 127.0.0.1:1\n default_backend b\n\
        backend b\n mode http\n cookie SRV insert\n server s1 127.0.0.1:81 check cookie \"a b\"\n server s2 127.0.0.1:82 weight 5 backup\n";

    #[test]
    fn a_dump_reads_back_equal() {
        let config = crate::config::parse_str("t.cfg", CONFIG).unwrap();
        let mut state = State::from_config(&config, 100);
        let s1 = ServerRef {
            backend: 0,
            server: 1,
        };
        let muts = [
            Mutation::SetAdminState {
                server: s1,
                state: AdminState::Maint,
            },
            Mutation::SetWeight {
                server: ServerRef {
                    backend: 0,
                    server: 2,
                },
                weight: 7,
            },
            Mutation::AddServer {
                backend: 0,
                spec: ServerSpec {
                    name: "dyn 1".into(),
                    ..ServerSpec::from(&config.proxies[1].backend.as_ref().unwrap().servers[0])
                },
            },
            Mutation::SetFrontendEnabled {
                frontend: 0,
                enabled: false,
            },
        ];
        for m in &muts {
            apply(&mut state, m, 200).unwrap();
        }
        state.tls.generated = Some(TicketRing::generate().unwrap());
        let dump = StateDump::capture(&state, &config);
        let text = dump.render();
        assert!(text.contains("server b dyn%201 "), "{text}");
        assert_eq!(StateDump::parse(&text).unwrap(), dump);
        assert_eq!(dump.servers.len(), 3);
        assert_eq!(dump.configured.len(), 2);
        assert_eq!(dump.frontends, vec![("f".to_string(), false)]);
    }

    #[test]
    fn a_running_canary_reads_back_equal_with_odd_server_names() {
        let mut dump = StateDump::default();
        dump.canaries.push(CanaryRecord {
            backend: "b k".into(),
            server: "v2".into(),
            steps: vec![1, 5, 25, 100],
            every: Duration::from_millis(1500),
            max_errors_pp: 0.5,
            max_p99: 2.5,
            min_requests: 20,
            step: 2,
            before: vec![("a,b:c".into(), 7), ("50%".into(), 0)],
        });
        let text = dump.render();
        assert!(
            text.contains("canary b%20k v2 steps=1,5,25,100 every_ms=1500 "),
            "{text}"
        );
        assert_eq!(StateDump::parse(&text).unwrap(), dump);
    }

    #[test]
    fn cut_or_foreign_dumps_are_refused() {
        assert!(StateDump::parse("1\n# be_id")
            .unwrap_err()
            .contains("not a pointsman state dump"));
        assert!(
            StateDump::parse("pointsman-state 1\nfrontend f enabled=1\n")
                .unwrap_err()
                .contains("cut short")
        );
        assert!(
            StateDump::parse("pointsman-state 1\nfrontend f enabled=2\nend\n")
                .unwrap_err()
                .contains("line 2")
        );
        let short_key = tickets::encode(&[1; 32]);
        let keys = format!("ticket-keys 1 {short_key} {short_key} {short_key}");
        assert!(
            StateDump::parse(&format!("pointsman-state 1\n{keys}\nend\n"))
                .unwrap_err()
                .contains("ticket-keys")
        );
    }
}

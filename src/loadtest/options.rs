//! Command-line options of `pointsman load` ([`LoadOptions`], flattened into the CLI by main.rs)
//! and their validation into a [`Plan`]: the one place where flags become typed values.

use std::path::PathBuf;
use std::time::Duration;

use super::client::{ReadRules, Response};
use super::outcome::ErrorClass;
use super::url::Target;

/// Options of the load generator. `--every` and `--rate` choose the mode (default: `--rate 100`).
#[derive(clap::Args, Debug, Clone)]
pub struct LoadOptions {
    /// Target URL (plain HTTP only), e.g. http://127.0.0.1:8080/
    #[arg(value_name = "URL", default_value = "http://127.0.0.1:8080/")]
    pub url: String,

    /// One request at a time at this interval, printing a line per request (e.g. 2s, 200ms).
    #[arg(long, value_parser = parse_duration, conflicts_with = "rate")]
    pub every: Option<Duration>,

    /// Open loop: this many requests per second, whatever the latency (default 100).
    #[arg(long)]
    pub rate: Option<f64>,

    /// Connections that share the --rate schedule (each carries one request at a time).
    #[arg(long, short = 'c', default_value_t = 8, conflicts_with = "every")]
    pub connections: usize,

    /// Engine of --rate runs: `events` (one glommio thread, a task per connection) or
    /// `threads` (a blocking thread per connection, the original). --every always uses threads.
    #[arg(long, value_enum, default_value_t = Engine::Events)]
    pub engine: Engine,

    /// How long to send requests for (e.g. 30s, 1m); default 10s unless --requests is given.
    #[arg(long, short = 'd', value_parser = parse_duration)]
    pub duration: Option<Duration>,

    /// Send exactly this many requests (at most --duration's worth when both are given).
    #[arg(long, short = 'n')]
    pub requests: Option<u64>,

    /// HTTP method.
    #[arg(long, short = 'X', default_value = "GET")]
    pub method: String,

    /// Extra request header "Name: value" (repeatable).
    #[arg(long = "header", short = 'H', value_name = "NAME: VALUE")]
    pub headers: Vec<String>,

    /// Request body (sent with Content-Length).
    #[arg(long)]
    pub body: Option<String>,

    /// Reuse connections (true) or send `Connection: close` and connect per request (false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub keep_alive: bool,

    /// Per-request timeout, from connect to the last body byte.
    #[arg(long, value_parser = parse_duration, default_value = "5s")]
    pub timeout: Duration,

    /// Response header naming the server that answered; default: the body, trimmed, 40 chars.
    #[arg(long, value_name = "HEADER")]
    pub server_header: Option<String>,

    /// Send a runtime API command at a time into the run (repeatable):
    /// --at 5s 'disable server bk_app/nginx2'
    #[arg(long = "at", num_args = 2, value_names = ["TIME", "COMMAND"])]
    pub at: Vec<String>,

    /// Admin socket (unix) that receives the --at commands.
    #[arg(long, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// Write the full report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Write an SVG plot (latency over time per server, switches, errors) to this file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Write every request as a CSV line (its intended, sent and done times in µs from the
    /// start, status, error, server) to this file, to place slow requests against the switches.
    #[arg(long, value_name = "FILE.csv")]
    pub samples: Option<PathBuf>,
}

/// Which sender carries a `--rate` schedule (same schedule, same samples, same report).
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// One glommio executor, a task per connection with a non-blocking socket (`events`).
    Events,
    /// A blocking thread per connection (`sender`).
    Threads,
}

/// The run's shape once the options are checked.
#[derive(Debug, Clone)]
pub struct Plan {
    pub target: Target,
    pub mode: Mode,
    /// Time between two intended sends (across all connections).
    pub interval: Duration,
    pub connections: usize,
    /// `Threads` for `--every` whatever was asked: one connection and a printed line per request.
    pub engine: Engine,
    /// Length of the send schedule: `requests × interval`.
    pub duration: Duration,
    /// Requests to send; request i is due at `i × interval` from the start.
    pub requests: u64,
    pub request_bytes: Vec<u8>,
    pub keep_alive: bool,
    pub timeout: Duration,
    pub server_header: Option<String>,
    pub switches: Vec<ScheduledCommand>,
    pub socket: Option<PathBuf>,
    pub head_request: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// One request at a time, one printed line per request.
    Every,
    /// Open loop at a constant arrival rate.
    Rate,
}

/// One `--at TIME COMMAND`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledCommand {
    pub at: Duration,
    pub command: String,
}

impl Plan {
    /// How both engines read this run's responses.
    pub fn read_rules(&self) -> ReadRules<'_> {
        ReadRules {
            server_header: self.server_header.as_deref(),
            head_request: self.head_request,
        }
    }

    /// Whether a connection stays for the next request after `result`: keep-alive is on and
    /// the exchange ended with a response that allows reuse (a failure drops the connection).
    pub fn keeps_connection(&self, result: &Result<Response, ErrorClass>) -> bool {
        self.keep_alive && result.as_ref().is_ok_and(|r| r.reusable)
    }
}

impl Mode {
    pub fn describe(self, plan: &Plan) -> String {
        match self {
            Mode::Every => format!("every {}", format_duration(plan.interval)),
            Mode::Rate => format!(
                "rate {:.0}/s over {} connection{}",
                1.0 / plan.interval.as_secs_f64(),
                plan.connections,
                if plan.connections == 1 { "" } else { "s" }
            ),
        }
    }
}

impl LoadOptions {
    /// Checks the options and computes the plan; the error says which flag is wrong.
    pub fn plan(&self) -> Result<Plan, String> {
        let target = Target::parse(&self.url)?;
        let (mode, interval, connections) = self.schedule()?;
        let requests = self.request_count(interval)?;
        let switches = self.switches()?;
        if !switches.is_empty() && self.socket.is_none() {
            return Err("--at needs --socket PATH (the admin socket to send commands to)".into());
        }
        let duration = interval.mul_f64(requests as f64);
        if let Some(late) = switches.iter().find(|s| s.at >= duration) {
            return Err(format!(
                "--at {}: after the end of the run ({})",
                format_duration(late.at),
                format_duration(duration)
            ));
        }
        Ok(Plan {
            request_bytes: self.request_bytes(&target)?,
            head_request: self.method.eq_ignore_ascii_case("HEAD"),
            target,
            mode,
            interval,
            connections,
            engine: match mode {
                Mode::Every => Engine::Threads,
                Mode::Rate => self.engine,
            },
            duration,
            requests,
            keep_alive: self.keep_alive,
            timeout: self.timeout,
            server_header: self.server_header.clone(),
            switches,
            socket: self.socket.clone(),
        })
    }

    /// How many requests the schedule holds: `--requests`, or what fits in `--duration`
    /// (default 10 s), or the smaller of the two when both are given.
    fn request_count(&self, interval: Duration) -> Result<u64, String> {
        // From the rate, not the interval: the interval is whole nanoseconds (1/12375 s is
        // 80808 ns), so 8 s / interval is 99000.1 and would plan one request too many. The
        // product is rounded to a thousandth of a request before `ceil` for the same reason.
        let per_second = 1.0 / interval.as_secs_f64();
        let per_second = self
            .rate
            .filter(|_| self.every.is_none())
            .unwrap_or(per_second);
        let fits = |d: Duration| ((d.as_secs_f64() * per_second * 1e3).round() / 1e3).ceil() as u64;
        let count = match (self.requests, self.duration) {
            (Some(n), None) => n,
            (None, Some(d)) => fits(d),
            (Some(n), Some(d)) => n.min(fits(d)),
            (None, None) => fits(Duration::from_secs(10)),
        };
        if count == 0 {
            return Err("nothing to send: --duration and --requests must be more than 0".into());
        }
        Ok(count)
    }

    fn schedule(&self) -> Result<(Mode, Duration, usize), String> {
        if let Some(every) = self.every {
            if every.is_zero() {
                return Err("--every must be more than 0".into());
            }
            return Ok((Mode::Every, every, 1));
        }
        let rate = self.rate.unwrap_or(100.0);
        if !(rate.is_finite() && rate > 0.0 && rate <= 10_000_000.0) {
            return Err(format!("--rate {rate}: must be between 0 and 10000000"));
        }
        if self.connections == 0 || self.connections > 10_000 {
            return Err("--connections must be between 1 and 10000".into());
        }
        Ok((
            Mode::Rate,
            Duration::from_secs_f64(1.0 / rate),
            self.connections,
        ))
    }

    fn switches(&self) -> Result<Vec<ScheduledCommand>, String> {
        let mut switches = Vec::new();
        for pair in self.at.chunks(2) {
            let [time, command] = pair else {
                return Err("--at takes two values: TIME COMMAND".into());
            };
            let at = parse_duration(time).map_err(|err| format!("--at {time}: {err}"))?;
            if command.contains('\n') || command.trim().is_empty() {
                return Err(format!(
                    "--at {time}: the command must be one non-empty line"
                ));
            }
            switches.push(ScheduledCommand {
                at,
                command: command.trim().to_string(),
            });
        }
        switches.sort_by_key(|s| s.at);
        Ok(switches)
    }

    /// The request is the same every time, so it is serialised once.
    fn request_bytes(&self, target: &Target) -> Result<Vec<u8>, String> {
        let method = self.method.to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("--method {}: not an HTTP method", self.method));
        }
        // A `-H 'Host: …'` replaces the URL's host (routing by host through one address).
        let host_given = self.headers.iter().any(|h| {
            h.split_once(':')
                .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("host"))
        });
        let mut head = format!("{method} {} HTTP/1.1\r\n", target.path);
        if !host_given {
            head.push_str(&format!("Host: {}\r\n", target.host_header));
        }
        head.push_str("User-Agent: pointsman-load\r\n");
        for header in &self.headers {
            let (name, value) = header
                .split_once(':')
                .ok_or_else(|| format!("--header {header:?}: expected \"Name: value\""))?;
            if name.trim().is_empty() || header.contains('\r') || header.contains('\n') {
                return Err(format!("--header {header:?}: invalid header"));
            }
            head.push_str(&format!("{}: {}\r\n", name.trim(), value.trim()));
        }
        if !self.keep_alive {
            head.push_str("Connection: close\r\n");
        }
        let body = self.body.as_deref().unwrap_or("");
        if self.body.is_some() || matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        Ok(bytes)
    }
}

/// Parses `2s`, `500ms`, `1.5s`, `2m`, `250us`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a duration like 2s, 500ms, 1m"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1e3,
        "us" | "µs" => value / 1e6,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use h, m, s, ms, us)"
            ))
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?}: out of range"))
}

/// Short human form of a duration: `2s`, `200ms`, `1.5s`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) && d.as_nanos().is_multiple_of(1_000_000) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_in_every_unit() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("2 fortnights").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn rate_times_duration_is_the_request_count() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            load: LoadOptions,
        }
        let plan = |args: &[&str]| {
            let cli = Cli::try_parse_from(std::iter::once("load").chain(args.iter().copied()));
            cli.unwrap().load.plan().unwrap()
        };
        assert_eq!(plan(&["--rate", "300", "-d", "2s"]).requests, 600);
        assert_eq!(plan(&["--rate", "12375", "-d", "8s"]).requests, 99_000);
        assert_eq!(plan(&["--rate", "3", "-d", "1.1s"]).requests, 4);
        assert_eq!(plan(&["--rate", "100", "-d", "1s", "-n", "7"]).requests, 7);
    }

    /// `-H 'Host: …'` replaces the URL's Host (two Host fields would be a 400).
    #[test]
    fn a_host_header_replaces_the_urls_host() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            load: LoadOptions,
        }
        let head = |args: &[&str]| {
            let cli = Cli::try_parse_from(
                ["load", "http://127.0.0.1:8080/p"]
                    .into_iter()
                    .chain(args.iter().copied()),
            );
            let plan = cli.unwrap().load.plan().unwrap();
            String::from_utf8(plan.request_bytes).unwrap()
        };
        let plain = head(&[]);
        assert!(
            plain.starts_with("GET /p HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"),
            "{plain}"
        );
        let routed = head(&["-H", "host: app.example.com", "-H", "X-A: 1"]);
        assert_eq!(routed.matches("ost: ").count(), 1, "{routed}");
        assert!(
            routed.contains("\r\nhost: app.example.com\r\nX-A: 1\r\n"),
            "{routed}"
        );
    }

    #[test]
    fn durations_format_back() {
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(200)), "200ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.500s");
    }
}

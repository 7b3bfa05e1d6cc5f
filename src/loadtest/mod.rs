//! The load generator behind `pointsman load` and `pointsman demo`: the independent witness of
//! the zero-failed-requests promise. It shares no code with the proxy.
//!
//! # Layout
//! - [`options`]: [`LoadOptions`] (clap args, flattened by main.rs) ─▶ a checked [`options::Plan`].
//! - [`url`]: the `http://host:port/path` target, resolved once.
//! - [`client`]: HTTP/1.1 response reading shared by both engines (httparse heads,
//!   Content-Length / chunked / close-delimited bodies) and the blocking connection.
//! - [`sender`]: the open-loop schedule over N connections, a blocking thread each (the
//!   `--engine threads` of `--rate`); `--every` is its one-connection case.
//! - [`events`]: the same schedule on one glommio executor, a task per connection (the default
//!   engine of `--rate`).
//! - [`outcome`]: one request's [`Sample`] and its [`ErrorClass`].
//! - [`identify`]: which server answered (a header or the body text).
//! - [`switches`]: `--at` runtime API commands over the admin unix socket, on the timeline,
//!   with their replies, round trips and whether the proxy refused them.
//! - [`analysis`]: samples ─▶ percentiles, per-second timeline, windows around switches, and the
//!   schedule check that marks a run invalid when the requested rate was not sustained.
//! - [`report`]: the [`Report`] and its terminal table; [`json`] and [`svg`] write it to files,
//!   [`csv`] its raw samples.
//! - [`output`], [`progress`]: live lines (stdout) and the progress line (stderr, tty only).

pub mod analysis;
pub mod client;
pub mod csv;
pub mod events;
pub mod identify;
pub mod json;
pub mod options;
pub mod outcome;
pub mod output;
pub mod progress;
pub mod report;
pub mod sender;
pub mod svg;
pub mod switches;
pub mod url;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use options::LoadOptions;
pub use outcome::{ErrorClass, Sample};
pub use report::Report;

use identify::ServerNames;
use options::{Engine, Mode, Plan};
use output::Output;
use sender::Live;
use switches::SwitchEvent;

/// Gives the sender threads time to start before the first request is due (the event engine's
/// executor is already up by then); 5 ms left the first requests 10 ms late on a busy machine.
const START_LEAD: Duration = Duration::from_millis(20);

/// Runs a load test, printing live lines (`--every` requests, `--at` switches) to stdout.
/// Writes `--json` / `--plot` / `--samples` files when asked. The caller prints the report and exits 1 when
/// [`Report::failed`] (a request failed, a switch command was refused or unanswered, or the
/// schedule was not kept), saying why with [`Report::verdict`].
pub fn run(opts: &LoadOptions) -> Result<Report, String> {
    run_with_output(opts, Box::new(std::io::stdout()))
}

/// [`run`] with the live lines sent to `sink` (tests capture them).
pub fn run_with_output(opts: &LoadOptions, sink: Box<dyn Write + Send>) -> Result<Report, String> {
    let plan = opts.plan()?;
    check_socket(&plan)?;
    // Open output files first: a typo in a path must fail before any load is sent.
    let json_file = create(opts.json.as_deref())?;
    let plot_file = create(opts.plot.as_deref())?;
    let samples_file = create(opts.samples.as_deref())?;
    let output = Output::new(sink);
    if plan.mode == Mode::Every {
        output.line(&format!(
            "{} {} — {}, {} requests",
            opts.method.to_ascii_uppercase(),
            opts.url,
            plan.mode.describe(&plan),
            plan.requests
        ));
    }
    let report = execute(&plan, &opts.url, &output)?;
    if let Some((file, path)) = json_file {
        write_file(file, path, &json::to_json(&report))?;
    }
    if let Some((file, path)) = plot_file {
        write_file(file, path, &svg::to_svg(&report))?;
    }
    if let Some((file, path)) = samples_file {
        write_file(file, path, &csv::samples_csv(&report))?;
    }
    Ok(report)
}

/// Sends the schedule with the switch and progress threads alongside, then analyses.
fn execute(plan: &Plan, url: &str, output: &Output) -> Result<Report, String> {
    let names = Arc::new(ServerNames::default());
    let live = Arc::new(Live::default());
    let engine = match plan.engine {
        Engine::Events => Some(events::prepare(plan, names.clone(), live.clone())?),
        Engine::Threads => None,
    };
    // `sent_all` ends the progress line; `abort` (the sender failed) also ends the switches,
    // which otherwise all go out at their time even when the last response came earlier.
    let (sent_all, abort) = (AtomicBool::new(false), AtomicBool::new(false));
    let start = Instant::now() + START_LEAD;
    let (sent, switch_events) = std::thread::scope(|scope| {
        let switcher = plan.socket.as_deref().map(|socket| {
            let (abort, commands) = (&abort, &plan.switches);
            scope.spawn(move || switches::run_schedule(socket, commands, start, abort, output))
        });
        if plan.mode == Mode::Rate {
            let (sent_all, live) = (&sent_all, &live);
            scope.spawn(move || progress::show_until(sent_all, live, start, plan.requests));
        }
        let sent = match engine {
            Some(ready) => ready.send_all(start),
            None => Ok(sender::send_all(plan, start, &names, &live, output)),
        };
        sent_all.store(true, Ordering::Relaxed);
        abort.store(sent.is_err(), Ordering::Relaxed);
        let events: Vec<SwitchEvent> = switcher
            .map(|thread| thread.join().unwrap_or_default())
            .unwrap_or_default();
        (sent, events)
    });
    Ok(build_report(
        plan,
        url,
        sent?,
        switch_events,
        names.snapshot(),
    ))
}

fn build_report(
    plan: &Plan,
    url: &str,
    sent: sender::Sent,
    switches: Vec<SwitchEvent>,
    server_names: Vec<String>,
) -> Report {
    let samples = sent.samples;
    let last_done = samples.iter().map(|s| s.done_ns).max().unwrap_or(0);
    let elapsed = Duration::from_nanos(last_done)
        .max(switches.iter().map(|s| s.replied).max().unwrap_or_default());
    Report {
        url: url.to_string(),
        mode: plan.mode.describe(plan),
        planned: plan.requests,
        elapsed,
        whole: analysis::summarize(&samples, &server_names),
        windows: analysis::windows(&samples, &switches, &server_names),
        timeline: analysis::timeline(&samples, &switches, &server_names),
        schedule: analysis::check_schedule(&samples, sent.unsent, plan.interval, plan.connections),
        switches,
        samples,
        server_names,
    }
}

/// With `--at`, the admin socket must exist before the run, not fail mid-way.
fn check_socket(plan: &Plan) -> Result<(), String> {
    match &plan.socket {
        Some(socket) if !plan.switches.is_empty() && !socket.exists() => Err(format!(
            "--socket {}: no such socket (the --at commands could not be sent)",
            socket.display()
        )),
        _ => Ok(()),
    }
}

fn create(path: Option<&Path>) -> Result<Option<(File, &Path)>, String> {
    path.map(|path| {
        File::create(path)
            .map(|file| (file, path))
            .map_err(|e| format!("{}: {e}", path.display()))
    })
    .transpose()
}

fn write_file(mut file: File, path: &Path, text: &str) -> Result<(), String> {
    file.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

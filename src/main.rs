//! The `pointsman` command line: run the proxy (HAProxy's flags), check a config, talk to the
//! admin socket (`ctl`), generate load (`load`), and run the zero-downtime demo (`demo`).

use clap::{Parser, Subcommand};
use log::LevelFilter;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "pointsman",
    about = "A thread-per-core load balancer that reads haproxy.cfg",
    disable_version_flag = true
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    /// Configuration file or directory (repeatable; a directory loads its *.cfg in name order).
    #[arg(short = 'f', value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Check the configuration and exit: 0 when valid, 1 with file:line errors.
    #[arg(short = 'c')]
    check: bool,
    /// Number of shards (overrides `nbthread`; default: one per available core).
    #[arg(long)]
    shards: Option<usize>,
    /// Quiet: errors only.
    #[arg(short = 'q')]
    quiet: bool,
    /// Verbose: informational messages too (HAProxy's -V).
    #[arg(short = 'V')]
    verbose: bool,
    /// Debug log (HAProxy's -d; pointsman always runs in the foreground).
    #[arg(short = 'd')]
    debug: bool,
    /// Print the version and exit (HAProxy's -v).
    #[arg(short = 'v')]
    version: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

// Parsed once at start: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Send runtime API commands to an admin socket (interactive without a command).
    Ctl {
        /// The admin socket (unix path, or host:port for an ipv4@ socket).
        #[arg(short = 's', long = "socket")]
        socket: String,
        /// The command, e.g. `disable server bk_app/nginx2`.
        command: Vec<String>,
    },
    /// Generate HTTP load and report latency histograms and every error (exit 1 if any failed).
    Load {
        #[command(flatten)]
        options: pointsman::loadtest::LoadOptions,
    },
    /// The hatop guide's zero-downtime switch: backends, pointsman, a GET every 2 s, nginx2 put
    /// into maintenance and back through the admin socket.
    Demo {
        #[command(flatten)]
        options: pointsman::demo::DemoOptions,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    pointsman::logging::init(log_level(&cli));
    if cli.version {
        println!("pointsman version {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let result = match cli.command {
        Some(Command::Ctl { socket, command }) => pointsman::admin::client::run(&socket, &command),
        Some(Command::Load { options }) => run_load(&options),
        Some(Command::Demo { options }) => match pointsman::demo::run(&options) {
            Ok(true) => Ok(()),
            Ok(false) => Err("some requests failed".into()),
            Err(e) => Err(e),
        },
        None => run_proxy(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("[ALERT] ({}) : {message}", std::process::id());
            ExitCode::FAILURE
        }
    }
}

fn log_level(cli: &Cli) -> LevelFilter {
    if cli.quiet {
        LevelFilter::Error
    } else if cli.debug {
        LevelFilter::Debug
    } else if cli.verbose {
        LevelFilter::Info
    } else {
        LevelFilter::Warn
    }
}

/// `pointsman load …`: exit 1 when any request failed or the run was invalid.
fn run_load(options: &pointsman::loadtest::LoadOptions) -> Result<(), String> {
    let report = pointsman::loadtest::run(options)?;
    report.print();
    if report.failed() {
        return Err("the load test saw failures (see the report above)".into());
    }
    Ok(())
}

/// `pointsman -f FILE [-c]`.
fn run_proxy(cli: &Cli) -> Result<(), String> {
    if cli.files.is_empty() {
        return Err("no configuration file given: use -f FILE (see --help)".into());
    }
    let config = pointsman::config::parse_files(&cli.files).map_err(|e| e.to_string())?;
    for warning in &config.warnings {
        log::warn!("{warning}");
    }
    if cli.check {
        println!("Configuration file is valid");
        return Ok(());
    }
    let shards = cli
        .shards
        .or(config.global.nbthread)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    pointsman::shard::run(config, pointsman::shard::RunOptions { shards })
}

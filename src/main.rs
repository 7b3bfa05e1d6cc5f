//! The `pointsman` command line: run the proxy (HAProxy's flags), check a config, talk to the
//! admin socket (`ctl`), generate load (`load`), and run the zero-downtime demo (`demo`).

use clap::{Parser, Subcommand};
use log::LevelFilter;
use pointsman::reload::process;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "pointsman",
    about = "A thread-per-core load balancer that reads haproxy.cfg",
    disable_version_flag = true,
    after_help = "HAProxy's multi-letter flags are accepted as HAProxy spells them: -sf, -st, \
                  -vv and -Ws (rewritten to --sf, --st, --vv and --Ws before parsing)."
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
    /// Foreground with the debug log (HAProxy's -d; wins over -D).
    #[arg(short = 'd')]
    debug: bool,
    /// Daemon: detach from the terminal once serving (HAProxy's -D).
    #[arg(short = 'D')]
    daemon: bool,
    /// Write the pid to this file (the master's pid with -W).
    #[arg(short = 'p', value_name = "PIDFILE")]
    pidfile: Option<PathBuf>,
    /// Print the version and exit (HAProxy's -v).
    #[arg(short = 'v')]
    version: bool,
    /// Print the version and build details and exit (HAProxy's -vv).
    #[arg(long = "vv")]
    build_details: bool,
    /// Soft-stop these processes (SIGUSR1) once this one serves (HAProxy's -sf PID...).
    #[arg(long = "sf", value_name = "PID", num_args = 0..)]
    soft_stop: Vec<i32>,
    /// Stop these processes at once (SIGINT) once this one serves (HAProxy's -st PID...).
    #[arg(long = "st", value_name = "PID", num_args = 0..)]
    hard_stop: Vec<i32>,
    /// Take the listening sockets and the runtime state from the process serving this stats
    /// socket (`expose-fd listeners`) instead of binding them (HAProxy's -x).
    #[arg(short = 'x', value_name = "SOCKET")]
    take_over: Option<PathBuf>,
    /// Master-worker mode: a master keeps the listeners; SIGUSR2 reloads (HAProxy's -W).
    #[arg(short = 'W')]
    master_worker: bool,
    /// Master-worker mode with systemd notifications (READY=1 via $NOTIFY_SOCKET; -Ws).
    #[arg(long = "Ws")]
    master_worker_systemd: bool,
    /// Rewrite the server state files (`server-state-file`, `load-server-state-from-file
    /// local`) after every runtime change, in `show servers state` format.
    #[arg(long)]
    save_server_state: bool,
    /// Internal: a worker started by the master talks to it on this descriptor.
    #[arg(long, hide = true, value_name = "FD")]
    master_fd: Option<i32>,
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
    /// Write the man pages (pointsman.1, pointsman.cfg.5) and the bash and zsh completions
    /// under DIR (scripts/build-deb.sh packages them).
    #[command(hide = true)]
    GenerateManuals { dir: PathBuf },
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(pointsman::cli::haproxy_args(std::env::args_os()));
    pointsman::diagnostics::init(log_level(&cli));
    if cli.version || cli.build_details {
        print_version(cli.build_details);
        return ExitCode::SUCCESS;
    }
    let result = match cli.command {
        Some(Command::Ctl { socket, command }) => pointsman::admin::client::run(&socket, &command),
        Some(Command::Load { options }) => run_load(&options),
        Some(Command::Demo { options }) => match pointsman::demo::run(&options) {
            Ok(true) => Ok(()),
            Ok(false) => Err("the demo saw failures (see the report above)".into()),
            Err(e) => Err(e),
        },
        Some(Command::GenerateManuals { dir }) => generate_manuals(&dir),
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

/// `-v`, and with `-vv` how this binary was built and what it can do here.
fn print_version(details: bool) {
    match details {
        true => print!("{}", pointsman::version::build_details()),
        false => println!("{}", pointsman::version::version_line()),
    }
}

fn generate_manuals(dir: &std::path::Path) -> Result<(), String> {
    use clap::CommandFactory;
    let written = pointsman::manuals::write_all(Cli::command(), dir)
        .map_err(|e| format!("cannot write the manuals under {}: {e}", dir.display()))?;
    for path in written {
        println!("{}", path.display());
    }
    Ok(())
}

/// `pointsman load …`: exit 1 when any request or switch command failed or the run was
/// invalid, with the reasons on the last line.
fn run_load(options: &pointsman::loadtest::LoadOptions) -> Result<(), String> {
    let report = pointsman::loadtest::run(options)?;
    report.print();
    if report.failed() {
        return Err(report.verdict());
    }
    Ok(())
}

/// `pointsman -f FILE [-c]`: check, run one process, or run a master (`-W`, `-Ws`).
fn run_proxy(cli: &Cli) -> Result<(), String> {
    if cli.files.is_empty() {
        return Err("no configuration file given: use -f FILE (see --help)".into());
    }
    let config = pointsman::config::parse_files(&cli.files).map_err(|e| e.to_string())?;
    for warning in &config.warnings {
        log::warn!("{warning}");
    }
    // Certificates are read at the check too: `-c` fails on one that cannot be used.
    let tls = pointsman::tls::Contexts::load(&config)?;
    if cli.check {
        // `-c -q` (the unit's ExecStartPre) says nothing unless there is an error, as HAProxy.
        if !cli.quiet {
            println!("Configuration file is valid");
        }
        return Ok(());
    }
    if (cli.master_worker || cli.master_worker_systemd) && cli.master_fd.is_none() {
        return pointsman::reload::master::run(master_options(cli, &config));
    }
    let shards = shard_count(cli.shards, &config);
    let daemon = match cli.daemon && !cli.debug && cli.master_fd.is_none() {
        true => Some(process::daemonize()?),
        false => None,
    };
    let mut start = pointsman::reload::start::prepare(
        &config,
        shards,
        pointsman::reload::start::Source {
            master_fd: cli.master_fd,
            take_over: cli.take_over.clone(),
            join_taken_ports: !cli.soft_stop.is_empty() || !cli.hard_stop.is_empty(),
        },
    )?;
    tls.seed(&mut start.state)?;
    if let Some(path) = cli.pidfile.as_ref().or(config.global.pidfile.as_ref()) {
        if cli.master_fd.is_none() {
            process::write_pidfile(path)?;
        }
    }
    let (soft, hard) = (cli.soft_stop.clone(), cli.hard_stop.clone());
    let master_ready = start.master_ready;
    let on_ready = Box::new(move || {
        process::signal_old_processes(&soft, &hard);
        if let Some(tell) = master_ready {
            tell();
        }
        if let Some(daemon) = daemon {
            daemon.ready();
        }
    });
    pointsman::shard::run(
        config,
        pointsman::shard::RunOptions {
            shards,
            state: start.state,
            listeners: start.listeners,
            master_channel: start.master_channel,
            save_state: cli.save_server_state,
            tls,
            on_ready,
            canaries: start.canaries,
        },
    )
}

fn shard_count(flag: Option<usize>, config: &pointsman::config::Config) -> usize {
    flag.or(config.global.nbthread)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// What the master needs to start (and restart) workers like this one.
fn master_options(
    cli: &Cli,
    config: &pointsman::config::Config,
) -> pointsman::reload::master::Options {
    let mut worker_args = Vec::new();
    for file in &cli.files {
        worker_args.push("-f".into());
        worker_args.push(file.clone().into_os_string());
    }
    if let Some(n) = cli.shards {
        worker_args.push("--shards".into());
        worker_args.push(n.to_string().into());
    }
    for (on, flag) in [
        (cli.quiet, "-q"),
        (cli.verbose, "-V"),
        (cli.debug, "-d"),
        (cli.save_server_state, "--save-server-state"),
    ] {
        if on {
            worker_args.push(flag.into());
        }
    }
    pointsman::reload::master::Options {
        files: cli.files.clone(),
        shards: cli.shards,
        worker_args,
        systemd: cli.master_worker_systemd,
        daemon: cli.daemon && !cli.debug,
        pidfile: cli.pidfile.clone().or(config.global.pidfile.clone()),
    }
}

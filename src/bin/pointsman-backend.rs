//! `pointsman-backend`: the test HTTP/1.1 origin server (see `pointsman::testbackend`) as a
//! command. Prints `listening on ADDR` once per bound address; exits 0 on SIGTERM/SIGINT.

use clap::Parser;
use pointsman::testbackend::{self, Options};
use std::io::Write;

#[derive(Parser, Debug)]
#[command(
    name = "pointsman-backend",
    about = "Test HTTP/1.1 backend for pointsman"
)]
struct Cli {
    #[command(flatten)]
    options: Options,
}

fn main() {
    let cli = Cli::parse();
    testbackend::exit_on_termination_signals();
    match testbackend::start(cli.options) {
        Ok(addrs) => {
            for addr in addrs {
                println!("listening on {addr}");
            }
            let _ = std::io::stdout().flush();
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("pointsman-backend: {e}");
            std::process::exit(2);
        }
    }
}

//! The runtime API on arbitrary bytes: the session framing (lines, `;`, `\;`, prompt mode, long
//! lines) cuts them into commands, each is planned against a real state at the level the first
//! byte picks, and the mutations a plan yields are applied. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pointsman::admin::command::plan;
use pointsman::admin::session::{Session, Step};
use pointsman::admin::Action;
use pointsman::config::Level;
use pointsman::state::{apply, State};
use std::sync::OnceLock;

const CONFIG: &str = "\
global
    stats socket /tmp/fuzz.sock level admin
defaults
    mode http
    timeout connect 1s
    timeout client 1s
    timeout server 1s
frontend app
    bind 127.0.0.1:8080
    default_backend bk_app
backend bk_app
    balance roundrobin
    cookie SRV insert indirect
    server nginx1 127.0.0.1:8081 check backup cookie c1
    server nginx2 127.0.0.1:8082 check weight 3 cookie c2 maxconn 10
";

fuzz_target!(|data: &[u8]| {
    let Some((&first, bytes)) = data.split_first() else {
        return;
    };
    let mut level = match first % 3 {
        0 => Level::User,
        1 => Level::Operator,
        _ => Level::Admin,
    };
    // Parsed once: the config parser has its own target, and this one should spend its time
    // on the admin path.
    static INITIAL: OnceLock<State> = OnceLock::new();
    let mut state = INITIAL
        .get_or_init(|| {
            let config =
                pointsman::config::parse_str("fuzz.cfg", CONFIG).expect("the fuzz config parses");
            State::from_config(&config, 0)
        })
        .clone();
    let mut session = Session::new();
    // Two reads, split where the second byte says, as a socket might deliver them.
    let split = bytes
        .first()
        .map_or(0, |&b| usize::from(b) % (bytes.len() + 1));
    for (n, piece) in [&bytes[..split], &bytes[split..]].into_iter().enumerate() {
        session.receive(piece);
        if n == 1 {
            session.receive_eof();
        }
        loop {
            let line = match session.next_step() {
                Step::Run(line) => line,
                Step::Wait | Step::Close => break,
            };
            let reply = match plan(&line, &state, level) {
                Action::Reply(text) => text,
                Action::Mutate { mutations, reply } => {
                    for mutation in &mutations {
                        let _ = apply(&mut state, mutation, 1);
                    }
                    reply
                }
                Action::SetLevel(new) => {
                    level = new;
                    String::new()
                }
                Action::TogglePrompt => {
                    session.toggle_prompt();
                    String::new()
                }
                _ => String::new(),
            };
            let _ = session.frame(&reply);
            if session.closes_after_command() {
                return;
            }
        }
    }
});

//! The haproxy.cfg parser on arbitrary text: it must return a config or a file:line error,
//! never panic, and a config it accepts must build the runtime state.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match pointsman::config::parse_str("fuzz.cfg", &text) {
        Ok(config) => {
            let _ = pointsman::state::State::from_config(&config, 0);
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.starts_with("fuzz.cfg"),
                "error without a location: {message}"
            );
        }
    }
});

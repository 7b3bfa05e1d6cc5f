//! Where live lines go (stdout by default, a buffer in tests), and the wall-clock stamp
//! `12:48:12.742` that starts each of them, in local time like the guide's terminal.

use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// A line-oriented sink shared by the request and switch threads; one line is never torn.
pub struct Output {
    sink: Mutex<Box<dyn Write + Send>>,
}

impl Output {
    pub fn new(sink: Box<dyn Write + Send>) -> Output {
        Output {
            sink: Mutex::new(sink),
        }
    }

    pub fn line(&self, text: &str) {
        let mut sink = self.sink.lock().unwrap_or_else(|p| p.into_inner());
        // A closed stdout (piped into `head`) must not stop the run.
        let _ = writeln!(sink, "{text}");
        let _ = sink.flush();
    }

    /// Local time of day with milliseconds.
    pub fn wall_clock(&self) -> String {
        format_wall_clock(SystemTime::now())
    }
}

/// `HH:MM:SS.mmm` in the local time zone (UTC if the zone cannot be read).
pub fn format_wall_clock(when: SystemTime) -> String {
    let since_epoch = when.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs() as libc::time_t;
    let millis = since_epoch.subsec_millis();
    // SAFETY: localtime_r only writes into the tm we own; tm is plain data, zero is valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let local = unsafe { !libc::localtime_r(&seconds, &mut tm).is_null() };
    if local {
        format!(
            "{:02}:{:02}:{:02}.{millis:03}",
            tm.tm_hour, tm.tm_min, tm.tm_sec
        )
    } else {
        let day_seconds = since_epoch.as_secs() % 86_400;
        format!(
            "{:02}:{:02}:{:02}.{millis:03}",
            day_seconds / 3600,
            day_seconds / 60 % 60,
            day_seconds % 60
        )
    }
}

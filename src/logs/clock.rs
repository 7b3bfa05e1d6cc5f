//! Wall-clock texts for log lines, in local time as HAProxy prints them, computed once per
//! second per shard (`localtime_r` is not free; a log line must be).

use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The texts of one second.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    second: i64,
    /// `06/Feb/2009:12:14:14` (the access log's `%tr` without milliseconds).
    access: String,
    /// `Feb  6 12:14:14` (the RFC 3164 syslog header).
    syslog: String,
}

/// A moment as seconds and milliseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub second: i64,
    pub millis: u16,
}

impl Stamp {
    pub fn now() -> Stamp {
        Stamp::from(SystemTime::now())
    }
}

impl From<SystemTime> for Stamp {
    fn from(t: SystemTime) -> Stamp {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        Stamp {
            second: d.as_secs() as i64,
            millis: d.subsec_millis() as u16,
        }
    }
}

impl Clock {
    fn at(&mut self, second: i64) {
        if self.second == second && !self.access.is_empty() {
            return;
        }
        let tm = local_time(second);
        let month = MONTHS
            .get(tm.tm_mon.clamp(0, 11) as usize)
            .copied()
            .unwrap_or("Jan");
        self.second = second;
        self.access = format!(
            "{:02}/{month}/{:04}:{:02}:{:02}:{:02}",
            tm.tm_mday,
            tm.tm_year + 1900,
            tm.tm_hour,
            tm.tm_min,
            tm.tm_sec
        );
        self.syslog = format!(
            "{month} {:>2} {:02}:{:02}:{:02}",
            tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec
        );
    }

    /// `06/Feb/2009:12:14:14.655`.
    pub fn access_date(&mut self, stamp: Stamp, out: &mut Vec<u8>) {
        self.at(stamp.second);
        out.extend_from_slice(self.access.as_bytes());
        out.push(b'.');
        push_padded(out, stamp.millis as u64, 3);
    }

    /// `Feb  6 12:14:14`.
    pub fn syslog_date(&mut self, stamp: Stamp, out: &mut Vec<u8>) {
        self.at(stamp.second);
        out.extend_from_slice(self.syslog.as_bytes());
    }
}

fn local_time(second: i64) -> libc::tm {
    // SAFETY: `tm` is plain data, fully written by localtime_r on success; on failure it stays
    // zeroed, which still formats (as 00/Jan/1900).
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let t = second as libc::time_t;
        libc::localtime_r(&t, &mut tm);
        tm
    }
}

/// Writes `n` with at least `width` digits.
pub fn push_padded(out: &mut Vec<u8>, n: u64, width: usize) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    let mut rest = n;
    loop {
        digits[len] = b'0' + (rest % 10) as u8;
        len += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for _ in len..width {
        out.push(b'0');
    }
    out.extend(digits[..len].iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_haproxy() {
        let mut clock = Clock::default();
        let stamp = Stamp {
            second: 1_233_922_454, // 2009-02-06 12:14:14 UTC
            millis: 55,
        };
        let mut out = Vec::new();
        clock.access_date(stamp, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.len(), "06/Feb/2009:12:14:14.055".len(), "{text}");
        assert!(
            text.ends_with(".055") && text.contains("/Feb/2009:"),
            "{text}"
        );
        let mut out = Vec::new();
        clock.syslog_date(stamp, &mut out);
        assert_eq!(out.len(), "Feb  6 12:14:14".len());
        let mut out = Vec::new();
        push_padded(&mut out, 7, 3);
        push_padded(&mut out, 12345, 2);
        assert_eq!(out, b"00712345");
    }
}

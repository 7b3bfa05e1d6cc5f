//! The verdict on what a check read: a status line against the expected status.

use crate::state::CheckStatus;

/// `HTTP/1.x NNN …`: 2xx and 3xx pass (HAProxy's default), or exactly `expect status N`.
/// Also returns the code read, for `check_code`.
pub(super) fn judge_status_line(
    response: &[u8],
    expect: Option<u16>,
) -> (CheckStatus, Option<u16>) {
    let line = response.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut words = line.split(|&b| b == b' ');
    let version_ok = words.next().is_some_and(|v| v.starts_with(b"HTTP/1."));
    let status = words
        .next()
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.trim().parse::<u16>().ok());
    let verdict = match (version_ok, status, expect) {
        (true, Some(code), Some(wanted)) if code == wanted => CheckStatus::L7Ok,
        (true, Some(code), None) if (200..400).contains(&code) => CheckStatus::L7Ok,
        (true, Some(_), _) => CheckStatus::L7Sts,
        _ => return (CheckStatus::L7Rsp, None),
    };
    (verdict, status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_line_judgement() {
        assert_eq!(
            judge_status_line(b"HTTP/1.1 200 OK\r\n", None).0,
            CheckStatus::L7Ok
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.0 302 Found\r\n", None).0,
            CheckStatus::L7Ok
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 503 Unavailable\r\n", None).0,
            CheckStatus::L7Sts
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 204 No Content\r\n", Some(200)).0,
            CheckStatus::L7Sts
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 204 No Content\r\n", Some(204)).0,
            CheckStatus::L7Ok
        );
        assert_eq!(
            judge_status_line(b"garbage", None),
            (CheckStatus::L7Rsp, None)
        );
        assert_eq!(
            judge_status_line(b"HTTP/1.1 503 Service Unavailable\r\n", None),
            (CheckStatus::L7Sts, Some(503))
        );
    }
}

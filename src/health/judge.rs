//! The verdict on what an HTTP check read: the response head parsed ([`parse_head`]), then
//! each `http-check expect` rule against it ([`judge`]), failing in HAProxy 2.6's words
//! (`Layer7 wrong status` with the reason phrase, `HTTP content check did not match` …).

use crate::config::{CheckExpect, HttpMatch};
use crate::state::CheckStatus;

/// The most headers a check response may have (more is an invalid response).
const MAX_HEADERS: usize = 64;

/// An HTTP check's response as far as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Response {
    pub code: u16,
    /// The reason phrase (`Service Unavailable`): HAProxy's `info` for a wrong status.
    pub reason: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

/// A parsed head and where its body starts.
#[derive(Debug)]
pub(super) struct Head {
    pub response: Response,
    pub head_len: usize,
    pub content_length: Option<usize>,
}

/// The head of `bytes`: `Ok(None)` while incomplete, `Err` when it is not HTTP/1.x.
pub(super) fn parse_head(bytes: &[u8]) -> Result<Option<Head>, ()> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_len = match parsed.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let headers: Vec<(String, Vec<u8>)> = parsed
        .headers
        .iter()
        .map(|h| (h.name.to_string(), h.value.to_vec()))
        .collect();
    let content_length = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| std::str::from_utf8(v).ok()?.trim().parse().ok());
    Ok(Some(Head {
        response: Response {
            code: parsed.code.ok_or(())?,
            reason: parsed.reason.unwrap_or_default().to_string(),
            headers,
            body: Vec::new(),
        },
        head_len,
        content_length,
    }))
}

/// Whether the rule looks at the body (the check then reads it, up to its limit).
pub(super) fn needs_body(expect: &CheckExpect) -> bool {
    matches!(expect.matcher, HttpMatch::String(_) | HttpMatch::RString(_))
}

/// One expect rule against the response: `Ok` when it passes, else the status and the
/// `info` HAProxy reports (its comment appended as ` comment: …`).
pub(super) fn judge(
    expect: &CheckExpect,
    response: &Response,
) -> Result<(), (CheckStatus, String)> {
    let matched = matches(&expect.matcher, response);
    if matched != expect.inverse {
        return Ok(());
    }
    let (status, mut info) = match &expect.matcher {
        HttpMatch::String(_) | HttpMatch::RString(_) if expect.inverse => (
            CheckStatus::L7Rsp,
            "HTTP check matched unwanted content".to_string(),
        ),
        HttpMatch::String(_) | HttpMatch::RString(_) => (
            CheckStatus::L7Rsp,
            "HTTP content check did not match".to_string(),
        ),
        _ => (CheckStatus::L7Sts, response.reason.clone()),
    };
    if let Some(comment) = &expect.comment {
        info.push_str(" comment: ");
        info.push_str(comment);
    }
    Err((status, info))
}

fn matches(matcher: &HttpMatch, response: &Response) -> bool {
    match matcher {
        HttpMatch::Status(ranges) => ranges
            .iter()
            .any(|(low, high)| (*low..=*high).contains(&response.code)),
        HttpMatch::RStatus(re) => re.0.is_match(response.code.to_string().as_bytes()),
        HttpMatch::String(text) => contains(&response.body, text.as_bytes()),
        HttpMatch::RString(re) => re.0.is_match(&response.body),
        HttpMatch::Header { name, value, full } => {
            response.headers.iter().any(|(header, content)| {
                name.matches(header.as_bytes(), true)
                    && value.as_ref().is_none_or(|value| {
                        if *full {
                            value.matches(content, false)
                        } else {
                            content
                                .split(|&b| b == b',')
                                .any(|part| value.matches(part.trim_ascii(), false))
                        }
                    })
            })
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CheckRegex, HeaderPattern};

    fn response(code: u16, reason: &str, body: &str) -> Response {
        Response {
            code,
            reason: reason.into(),
            headers: vec![("X-Ready".into(), b"yes, later".to_vec())],
            body: body.as_bytes().to_vec(),
        }
    }

    fn expect(matcher: HttpMatch, inverse: bool) -> CheckExpect {
        CheckExpect {
            inverse,
            matcher,
            comment: None,
        }
    }

    #[test]
    fn status_and_inverse() {
        let ok = response(200, "OK", "");
        let gone = response(404, "Not Found", "");
        let default = expect(HttpMatch::Status(vec![(200, 399)]), false);
        assert_eq!(judge(&default, &ok), Ok(()));
        assert_eq!(
            judge(&default, &gone),
            Err((CheckStatus::L7Sts, "Not Found".into()))
        );
        let not_404 = expect(HttpMatch::Status(vec![(404, 404)]), true);
        assert_eq!(judge(&not_404, &ok), Ok(()));
        assert!(judge(&not_404, &gone).is_err());
        let re = CheckRegex(regex::bytes::Regex::new("^2").unwrap());
        assert_eq!(judge(&expect(HttpMatch::RStatus(re), false), &ok), Ok(()));
    }

    #[test]
    fn body_and_headers() {
        let r = response(200, "OK", "hello world");
        assert_eq!(
            judge(&expect(HttpMatch::String("world".into()), false), &r),
            Ok(())
        );
        let mut miss = expect(HttpMatch::String("nope".into()), false);
        miss.comment = Some("body".into());
        assert_eq!(
            judge(&miss, &r),
            Err((
                CheckStatus::L7Rsp,
                "HTTP content check did not match comment: body".into()
            ))
        );
        let header = |value: Option<&str>, full| HttpMatch::Header {
            name: HeaderPattern::Str("x-ready".into()),
            value: value.map(|v| HeaderPattern::Str(v.into())),
            full,
        };
        assert_eq!(judge(&expect(header(None, false), false), &r), Ok(()));
        assert_eq!(
            judge(&expect(header(Some("later"), false), false), &r),
            Ok(())
        );
        assert!(judge(&expect(header(Some("later"), true), false), &r).is_err());
        assert_eq!(
            judge(&expect(header(Some("yes, later"), true), false), &r),
            Ok(())
        );
    }

    #[test]
    fn heads() {
        let head = parse_head(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap()
            .unwrap();
        assert_eq!(head.response.code, 503);
        assert_eq!(head.response.reason, "Service Unavailable");
        assert_eq!(head.content_length, Some(3));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\n").unwrap().is_none());
        assert!(parse_head(b"garbage\r\n\r\n").is_err());
    }
}

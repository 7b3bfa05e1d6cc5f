//! HAProxy 2.6's built-in error responses (`http_err_msgs` in its `src/http.c`), as complete
//! static responses ready to write to a client.
//!
//! Bodies, reasons and lengths are HAProxy's, byte for byte, and so are the heads, which come in
//! two forms because HAProxy 2.6 sends its pages down two paths:
//! - 400 and 408 answer a request head that was invalid or did not arrive in time. HAProxy's
//!   H1 mux writes those itself, before any HTX message exists, with capitalised names in this
//!   order: `Content-length`, `Cache-Control: no-cache`, `Connection: close`,
//!   `Content-Type: text/html` (checked byte for byte against a real HAProxy 2.6.12). pointsman
//!   sends them in the same places only: request-head errors and timeouts.
//! - Every other status goes through HAProxy's HTX layer, which lowercases names:
//!   `content-length`, `cache-control: no-cache`, `content-type: text/html`, then
//!   `connection: close`, which we always send because the proxy closes the connection after
//!   an error it generates.
//!
//! HAProxy has no 505 page; ours follows the HTX pattern.

/// A page as HAProxy's H1 mux writes it (400 and 408).
macro_rules! mux_page {
    ($status_line:literal, $body_len:literal, $body:literal) => {
        concat!(
            "HTTP/1.1 ",
            $status_line,
            "\r\nContent-length: ",
            $body_len,
            "\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n",
            $body
        )
        .as_bytes()
    };
}

/// A page as HAProxy's HTX layer writes it (every other status).
macro_rules! page {
    ($status_line:literal, $body_len:literal, $body:literal) => {
        concat!(
            "HTTP/1.1 ",
            $status_line,
            "\r\ncontent-length: ",
            $body_len,
            "\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n",
            $body
        )
        .as_bytes()
    };
}

pub const BAD_REQUEST: &[u8] = mux_page!(
    "400 Bad request",
    90,
    "<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"
);

pub const FORBIDDEN: &[u8] = page!(
    "403 Forbidden",
    93,
    "<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"
);

pub const METHOD_NOT_ALLOWED: &[u8] = page!(
    "405 Method Not Allowed",
    146,
    "<html><body><h1>405 Method Not Allowed</h1>\nA request was made of a resource using a request method not supported by that resource\n</body></html>\n"
);

pub const REQUEST_TIMEOUT: &[u8] = mux_page!(
    "408 Request Time-out",
    110,
    "<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n"
);

pub const INTERNAL_SERVER_ERROR: &[u8] = page!(
    "500 Internal Server Error",
    97,
    "<html><body><h1>500 Internal Server Error</h1>\nAn internal server error occurred.\n</body></html>\n"
);

/// HAProxy's text, stray leading dot included.
pub const NOT_IMPLEMENTED: &[u8] = page!(
    "501 Not Implemented",
    136,
    "<html><body><h1>501 Not Implemented</h1>\n.The server does not support the functionality required to fulfill the request.\n</body></html>\n"
);

pub const BAD_GATEWAY: &[u8] = page!(
    "502 Bad Gateway",
    107,
    "<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n"
);

pub const SERVICE_UNAVAILABLE: &[u8] = page!(
    "503 Service Unavailable",
    107,
    "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"
);

pub const GATEWAY_TIMEOUT: &[u8] = page!(
    "504 Gateway Time-out",
    92,
    "<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n"
);

/// Not in HAProxy (it answers 400 to unknown versions); same pattern as its pages.
pub const HTTP_VERSION_NOT_SUPPORTED: &[u8] = page!(
    "505 HTTP Version Not Supported",
    102,
    "<html><body><h1>505 HTTP Version Not Supported</h1>\nThe HTTP version is not supported.\n</body></html>\n"
);

/// The interim response to `Expect: 100-continue`, for when the proxy answers it itself.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The error response for `status`; like HAProxy, a status without a page gets the 500 page.
pub fn page(status: u16) -> &'static [u8] {
    match status {
        400 => BAD_REQUEST,
        403 => FORBIDDEN,
        405 => METHOD_NOT_ALLOWED,
        408 => REQUEST_TIMEOUT,
        501 => NOT_IMPLEMENTED,
        502 => BAD_GATEWAY,
        503 => SERVICE_UNAVAILABLE,
        504 => GATEWAY_TIMEOUT,
        505 => HTTP_VERSION_NOT_SUPPORTED,
        _ => INTERNAL_SERVER_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_response, Framing, Limits};

    const STATUSES: [u16; 10] = [400, 403, 405, 408, 500, 501, 502, 503, 504, 505];

    #[test]
    fn every_page_parses_and_its_length_matches_its_body() {
        for status in STATUSES {
            let page = page(status);
            let response = parse_response(page, false, &Limits::default())
                .expect("valid")
                .expect("complete");
            assert_eq!(response.status(), status);
            let body = &page[response.head_len()..];
            assert_eq!(
                response.framing(),
                Framing::ContentLength(body.len() as u64)
            );
            assert!(!response.server_keep_alive(), "{status} must close");
            let title = format!("<html><body><h1>{status} ");
            assert!(body.starts_with(title.as_bytes()), "{status}");
            assert_eq!(
                response.header(page, "cache-control"),
                Some(&b"no-cache"[..])
            );
            assert_eq!(
                response.header(page, "content-type"),
                Some(&b"text/html"[..])
            );
        }
    }

    #[test]
    fn the_503_page_is_haproxys() {
        let expected = "HTTP/1.1 503 Service Unavailable\r\n\
            content-length: 107\r\n\
            cache-control: no-cache\r\n\
            content-type: text/html\r\n\
            connection: close\r\n\
            \r\n\
            <html><body><h1>503 Service Unavailable</h1>\n\
            No server is available to handle this request.\n\
            </body></html>\n";
        assert_eq!(SERVICE_UNAVAILABLE, expected.as_bytes());
    }

    /// Both as a real HAProxy 2.6.12 sent them (an invalid head; a connection that sent
    /// nothing until `timeout http-request`).
    #[test]
    fn the_400_and_408_pages_are_haproxys_h1_mux_ones() {
        let bad_request = "HTTP/1.1 400 Bad request\r\n\
            Content-length: 90\r\n\
            Cache-Control: no-cache\r\n\
            Connection: close\r\n\
            Content-Type: text/html\r\n\
            \r\n\
            <html><body><h1>400 Bad request</h1>\n\
            Your browser sent an invalid request.\n\
            </body></html>\n";
        assert_eq!(BAD_REQUEST, bad_request.as_bytes());
        let timeout = "HTTP/1.1 408 Request Time-out\r\n\
            Content-length: 110\r\n\
            Cache-Control: no-cache\r\n\
            Connection: close\r\n\
            Content-Type: text/html\r\n\
            \r\n\
            <html><body><h1>408 Request Time-out</h1>\n\
            Your browser didn't send a complete request in time.\n\
            </body></html>\n";
        assert_eq!(REQUEST_TIMEOUT, timeout.as_bytes());
    }

    #[test]
    fn unknown_statuses_get_the_500_page() {
        assert_eq!(page(418), INTERNAL_SERVER_ERROR);
    }
}

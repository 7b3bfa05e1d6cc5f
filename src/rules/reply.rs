//! Replies the proxy writes itself for a rule (`deny`, `return`, `redirect`), rendered at load
//! into bytes, in HAProxy 2.6's words and header order (each checked byte for byte against a
//! real haproxy 2.6.12). Only the `connection` field is added per request ([`ConnectionField`]):
//! HAProxy's H1 mux keeps the client connection open after such a reply.

/// The `connection` field a reply carries, decided per request: HAProxy writes `close` when
/// it will close, `keep-alive` to an HTTP/1.0 client that asked for it, nothing otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionField {
    KeepAlive { http10: bool },
    Close,
}

impl ConnectionField {
    fn write(self, out: &mut Vec<u8>) {
        match self {
            ConnectionField::KeepAlive { http10: false } => {}
            ConnectionField::KeepAlive { http10: true } => {
                out.extend_from_slice(b"connection: keep-alive\r\n")
            }
            ConnectionField::Close => out.extend_from_slice(b"connection: close\r\n"),
        }
    }
}

/// A complete reply but for its `connection` field: the status line and fields (each ending
/// in CRLF), then the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    status: u16,
    head: Vec<u8>,
    body: Vec<u8>,
    /// An `errorfile` written as HTTP/1.0, where closing is the default: HAProxy's H1 mux
    /// writes `connection: keep-alive` when it keeps the connection, nothing when it closes.
    http10: bool,
    /// The body's end is known (`content-length`, or a status without a body); else the
    /// connection must close after it.
    sized: bool,
    /// An `errorfile` that says `connection: close`: the connection closes after it.
    closes: bool,
}

/// A proxy's `errorfile` replies, by the status whose page each replaces.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorFiles(Vec<(u16, Reply)>);

impl ErrorFiles {
    /// The reply for `status` (a later `errorfile` for the same status replaces it).
    pub fn set(&mut self, status: u16, reply: Reply) {
        self.0.retain(|(s, _)| *s != status);
        self.0.push((status, reply));
    }

    pub fn get(&self, status: u16) -> Option<&Reply> {
        self.0.iter().find(|(s, _)| *s == status).map(|(_, r)| r)
    }

    /// `reply` itself, or the errorfile that replaces a page of its status.
    pub fn replace(&self, reply: &mut Reply) {
        if let Some(file) = self.get(reply.status) {
            *reply = file.clone();
        }
    }
}

/// The statuses `errorfile` takes (HAProxy 2.6's `http_err_codes`).
pub const ERRORFILE_STATUSES: &[u16] = &[
    200, 400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504,
];

impl Reply {
    /// HAProxy's error page for `deny_status` (only the statuses it has a page for).
    pub fn deny_page(status: u16) -> Result<Reply, String> {
        let Some((_, reason, message)) = DENY_PAGES.iter().find(|(s, _, _)| *s == status) else {
            return Err(format!(
                "status code '{status}' not handled by default with 'default-errorfiles' argument."
            ));
        };
        let body = format!("<html><body><h1>{status} {reason}</h1>\n{message}\n</body></html>\n");
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\ncache-control: no-cache\r\n\
             content-type: text/html\r\n",
            body.len()
        );
        Ok(Reply {
            status,
            head: head.into_bytes(),
            body: body.into_bytes(),
            http10: false,
            sized: true,
            closes: false,
        })
    }

    /// An `errorfile`: a whole HTTP response in a file (`text`, read from `path`), sent as
    /// HAProxy 2.6 sends it: the status line as written, field names lowercased, the file's
    /// `connection` field dropped (the proxy writes its own), the body as is.
    pub fn errorfile(path: &str, text: &[u8]) -> Result<Reply, String> {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut response = httparse::Response::new(&mut fields);
        let head_len = match response.parse(text) {
            Ok(httparse::Status::Complete(len)) => len,
            _ => {
                return Err(format!(
                    "'{path}': unable to parse headers (error offset: 0)"
                ))
            }
        };
        let status = response.code.unwrap_or_default();
        let http10 = response.version == Some(0);
        let mut head = format!(
            "HTTP/1.{} {status} {}\r\n",
            response.version.unwrap_or(1),
            response.reason.unwrap_or_default()
        )
        .into_bytes();
        let mut sized = false;
        let mut closes = false;
        let body = &text[head_len..];
        for field in response.headers.iter() {
            if field.name.eq_ignore_ascii_case("connection") {
                closes |= has_token(field.value, b"close");
                continue;
            }
            if field.name.eq_ignore_ascii_case("transfer-encoding") {
                return Err(format!(
                    "'{path}': a chunked error file is not supported: give it a content-length"
                ));
            }
            if field.name.eq_ignore_ascii_case("content-length") {
                check_announced_length(path, field.value, body.len())?;
                sized = true;
            }
            head.extend_from_slice(field.name.to_ascii_lowercase().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(field.value);
            head.extend_from_slice(b"\r\n");
        }
        Ok(Reply {
            status,
            head,
            body: body.to_vec(),
            http10,
            sized: sized || matches!(status, 204 | 304),
            closes,
        })
    }

    /// Whether the client connection may stay open after this reply: its body has a known end
    /// and, for an errorfile, the file does not ask to close.
    pub fn keeps_connection(&self) -> bool {
        self.sized && !self.closes
    }

    /// `return status N [content-type T] [string S] [hdr N V]…`: the `hdr` fields first
    /// (names lowercased), then `content-length` (not for 204), then `content-type` (only
    /// with a body), as HAProxy orders them.
    pub fn returned(
        status: u16,
        content_type: Option<&str>,
        body: &[u8],
        fields: &[(String, String)],
    ) -> Reply {
        let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
        for (name, value) in fields {
            head.push_str(&format!("{}: {value}\r\n", name.to_ascii_lowercase()));
        }
        if status != 204 {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        if let (Some(t), false) = (content_type, body.is_empty()) {
            head.push_str(&format!("content-type: {t}\r\n"));
        }
        Reply {
            status,
            head: head.into_bytes(),
            body: body.to_vec(),
            http10: false,
            sized: true,
            closes: false,
        }
    }

    pub fn status(&self) -> u16 {
        self.status
    }

    /// Appends the reply to `out`; a reply to HEAD has no body.
    pub fn write(&self, out: &mut Vec<u8>, connection: ConnectionField, head_only: bool) {
        out.extend_from_slice(&self.head);
        let keeps = self.keeps_connection() && connection != ConnectionField::Close;
        // An HTTP/1.0 reply closes by default: HAProxy says so only when it keeps it open.
        let connection = match (self.http10, keeps) {
            (true, true) => Some(ConnectionField::KeepAlive { http10: true }),
            (true, false) => None,
            (false, false) => Some(ConnectionField::Close),
            (false, true) => Some(connection),
        };
        if let Some(connection) = connection {
            connection.write(out);
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
    }
}

/// Whether a comma-separated field value holds `token` (any case).
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// An errorfile's `content-length` must be its body's, as HAProxy checks at load (a reply
/// that lies about its length would desynchronise the client).
fn check_announced_length(path: &str, value: &[u8], body: usize) -> Result<(), String> {
    let announced: Option<usize> = std::str::from_utf8(value)
        .ok()
        .and_then(|v| v.trim().parse().ok());
    match announced {
        Some(length) if length == body => Ok(()),
        Some(length) => Err(format!(
            "'{path}': payload size does not match the announced content-length ({body} != {length})."
        )),
        None => Err(format!("'{path}': unable to parse headers (error offset: 0)")),
    }
}

/// The status line and fields of a redirect to `location`: 301 and 308 may be cached, the
/// others carry `cache-control: no-cache` (HAProxy's `http_apply_redirect_rule`).
pub fn write_redirect(out: &mut Vec<u8>, code: u16, location: &[u8], connection: ConnectionField) {
    out.extend_from_slice(format!("HTTP/1.1 {code} {}\r\n", redirect_reason(code)).as_bytes());
    out.extend_from_slice(b"content-length: 0\r\nlocation: ");
    out.extend_from_slice(location);
    out.extend_from_slice(b"\r\n");
    if !matches!(code, 301 | 308) {
        out.extend_from_slice(b"cache-control: no-cache\r\n");
    }
    connection.write(out);
    out.extend_from_slice(b"\r\n");
}

/// A redirect's reason phrase: 302 is "Found" there, unlike `return status 302`.
fn redirect_reason(code: u16) -> &'static str {
    match code {
        302 => "Found",
        code => reason(code),
    }
}

/// The pages `deny_status` takes in HAProxy 2.6 (`http_err_msgs`): status, the reason its
/// page shows, message.
const DENY_PAGES: &[(u16, &str, &str)] = &[
    (200, "OK", "Service ready."),
    (400, "Bad request", "Your browser sent an invalid request."),
    (
        401,
        "Unauthorized",
        "You need a valid user and password to access this content.",
    ),
    (
        403,
        "Forbidden",
        "Request forbidden by administrative rules.",
    ),
    (404, "Not Found", "The resource could not be found."),
    (
        405,
        "Method Not Allowed",
        "A request was made of a resource using a request method not supported by that resource",
    ),
    (
        407,
        "Unauthorized",
        "You need a valid user and password to access this content.",
    ),
    (
        408,
        "Request Time-out",
        "Your browser didn't send a complete request in time.",
    ),
    (
        410,
        "Gone",
        "The resource is no longer available and will not be available again.",
    ),
    (
        413,
        "Payload Too Large",
        "The request entity exceeds the maximum allowed.",
    ),
    (
        421,
        "Misdirected Request",
        "Request sent to a non-authoritative server.",
    ),
    (
        422,
        "Unprocessable Content",
        "The server cannot process the contained instructions.",
    ),
    (425, "Too Early", "Your browser sent early data."),
    (
        429,
        "Too Many Requests",
        "You have sent too many requests in a given amount of time.",
    ),
    (
        500,
        "Internal Server Error",
        "An internal server error occurred.",
    ),
    (
        501,
        "Not Implemented",
        ".The server does not support the functionality required to fulfill the request.",
    ),
    (
        502,
        "Bad Gateway",
        "The server returned an invalid or incomplete response.",
    ),
    (
        503,
        "Service Unavailable",
        "No server is available to handle this request.",
    ),
    (
        504,
        "Gateway Time-out",
        "The server didn't respond in time.",
    ),
];

/// HAProxy 2.6's reason phrases (`http_get_reason`), read from a real haproxy 2.6.12's
/// `return status N` replies; a status not listed takes its class's phrase.
pub fn reason(status: u16) -> &'static str {
    let named = match status {
        200 => Some("OK"),
        201 => Some("Created"),
        202 => Some("Accepted"),
        203 => Some("Non-Authoritative Information"),
        204 => Some("No Content"),
        205 => Some("Reset Content"),
        206 => Some("Partial Content"),
        207 => Some("Multi-Status"),
        210 => Some("Content Different"),
        226 => Some("IM Used"),
        300 => Some("Multiple Choices"),
        301 => Some("Moved Permanently"),
        302 => Some("Moved Temporarily"),
        303 => Some("See Other"),
        304 => Some("Not Modified"),
        305 => Some("Use Proxy"),
        307 => Some("Temporary Redirect"),
        308 => Some("Permanent Redirect"),
        310 => Some("Too many Redirects"),
        400 => Some("Bad Request"),
        401 => Some("Unauthorized"),
        402 => Some("Payment Required"),
        403 => Some("Forbidden"),
        404 => Some("Not Found"),
        405 => Some("Method Not Allowed"),
        406 => Some("Not Acceptable"),
        407 => Some("Proxy Authentication Required"),
        408 => Some("Request Time-out"),
        409 => Some("Conflict"),
        410 => Some("Gone"),
        411 => Some("Length Required"),
        412 => Some("Precondition Failed"),
        413 => Some("Request Entity Too Large"),
        414 => Some("Request-URI Too Long"),
        415 => Some("Unsupported Media Type"),
        416 => Some("Requested range unsatisfiable"),
        417 => Some("Expectation failed"),
        418 => Some("I'm a teapot"),
        421 => Some("Misdirected Request"),
        422 => Some("Unprocessable Content"),
        423 => Some("Locked"),
        424 => Some("Method failure"),
        425 => Some("Too Early"),
        426 => Some("Upgrade Required"),
        428 => Some("Precondition Required"),
        429 => Some("Too Many Requests"),
        431 => Some("Request Header Fields Too Large"),
        449 => Some("Retry With"),
        450 => Some("Blocked by Windows Parental Controls"),
        451 => Some("Unavailable For Legal Reasons"),
        456 => Some("Unrecoverable Error"),
        499 => Some("client has closed connection"),
        500 => Some("Internal Server Error"),
        501 => Some("Not Implemented"),
        502 => Some("Bad Gateway or Proxy Error"),
        503 => Some("Service Unavailable"),
        504 => Some("Gateway Time-out"),
        505 => Some("HTTP Version not supported"),
        506 => Some("Variant also negotiate"),
        507 => Some("Insufficient storage"),
        508 => Some("Loop detected"),
        509 => Some("Bandwidth Limit Exceeded"),
        510 => Some("Not extended"),
        511 => Some("Network authentication required"),
        520 => Some("Web server is returning an unknown error"),
        _ => None,
    };
    named.unwrap_or(match status {
        200..=299 => "Success",
        300..=399 => "Redirection",
        400..=499 => "Client Error",
        _ => "Server Error",
    })
}

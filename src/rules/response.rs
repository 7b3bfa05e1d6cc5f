//! `http-response` rules of a proxy (`set-header`, `add-header`, `del-header`,
//! `replace-header`, `replace-value`, `set-status`, `deny`) and its `http-after-response`
//! rules (the same without `deny`), parsed at load into typed actions and evaluated on the
//! server's response head before it is forwarded.
//!
//! Rules read the response (`status`, `res.hdr`, `res.hdr_cnt`) and the request it answers
//! through [`OnResponse`]. The first rule that edits copies the response into an
//! [`EditedResponse`]; a response no rule edits is never copied.

use super::acl::AclTable;
use super::action::parse_deny;
use super::condition::Condition;
use super::convert::ConvertContext;
use super::fetch::{ProxyFacts, RequestView, TlsFacts};
use super::map::{MapUse, Maps};
use super::reply::{ErrorFiles, Reply};
use super::rewrite::Rewrite;
use super::sample::SampleExpr;
use std::net::SocketAddr;

/// A response head as rules read it. The proxy implements it over its parsed response.
pub trait ResponseView {
    fn status(&self) -> u16;
    /// The end-to-end header fields in order, as (name, value).
    fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])>;
}

/// A response being rewritten: its status line and end-to-end fields, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditedResponse {
    pub status: u16,
    pub reason: Vec<u8>,
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
}

impl EditedResponse {
    pub fn of<H: ResponseView>(response: &H, reason: &[u8]) -> EditedResponse {
        EditedResponse {
            status: response.status(),
            reason: reason.to_vec(),
            fields: response
                .fields()
                .map(|(n, v)| (n.to_vec(), v.to_vec()))
                .collect(),
        }
    }
}

impl ResponseView for EditedResponse {
    fn status(&self) -> u16 {
        self.status
    }
    fn fields(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.fields.iter().map(|(n, v)| (&n[..], &v[..]))
    }
}

/// A request and the response that answers it, as one view for fetches: `status` and `res.*`
/// read the response; of the request, only what outlives its head (`src`, `dst`, the maps).
/// Fetches of its method, target and fields have no value, as in HAProxy, where an ACL on
/// them "will never match" in a response rule (`hdr()` in an ACL is the request's).
pub struct OnResponse<'a, R, H> {
    pub request: &'a R,
    pub response: &'a H,
}

impl<R: RequestView, H: ResponseView> RequestView for OnResponse<'_, R, H> {
    fn method(&self) -> &[u8] {
        b""
    }
    fn target(&self) -> &[u8] {
        b""
    }
    fn version(&self) -> &'static [u8] {
        b""
    }
    fn headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        std::iter::empty()
    }
    fn has_request_head(&self) -> bool {
        false
    }
    fn src(&self) -> SocketAddr {
        self.request.src()
    }
    fn dst(&self) -> Option<SocketAddr> {
        self.request.dst()
    }
    fn maps(&self) -> &Maps {
        self.request.maps()
    }
    fn status(&self) -> Option<u16> {
        Some(self.response.status())
    }
    fn response_headers(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.response.fields()
    }
    fn tls(&self) -> Option<TlsFacts<'_>> {
        self.request.tls()
    }
    fn proxy(&self) -> Option<&dyn ProxyFacts> {
        self.request.proxy()
    }
}

/// What one `http-response` rule does.
#[derive(Debug, Clone)]
pub enum ResponseAction {
    /// A header rewrite (`set-header`, `add-header`, `del-header`, `replace-header`,
    /// `replace-value`).
    Edit(Rewrite),
    /// `set-status N [reason R]`: without a reason, HAProxy's standard one for N.
    SetStatus { status: u16, reason: String },
    /// `deny [deny_status N]`: the response is dropped and this reply sent instead.
    Deny(Reply),
}

#[derive(Debug, Clone)]
pub struct ResponseRule {
    pub action: ResponseAction,
    pub condition: Option<Condition>,
}

/// A proxy's `http-response` rules, then its `http-after-response` rules (no `deny` among
/// those), each in order.
#[derive(Debug, Clone, Default)]
pub struct ResponseRules {
    pub rules: Vec<ResponseRule>,
    pub after: Vec<ResponseRule>,
}

impl ResponseRules {
    /// `deny` replies become the proxy's `errorfile` for their status, where it has one.
    pub fn use_error_files(&mut self, files: &ErrorFiles) {
        for rule in &mut self.rules {
            if let ResponseAction::Deny(reply) = &mut rule.action {
                files.replace(reply);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.after.is_empty()
    }

    /// Runs the rules on `response` to `request`: edits go into `edited` (created by the first
    /// one that applies; later rules read it); a `deny` whose condition holds stops the rules
    /// and is returned. `reason` is the received reason phrase, copied with the response.
    pub fn apply<'a, R: RequestView, H: ResponseView>(
        &'a self,
        acls: &AclTable,
        (request, response, reason): (&R, &H, &[u8]),
        edited: &mut Option<EditedResponse>,
        scratch: &mut Vec<u8>,
    ) -> Option<&'a Reply> {
        for rule in self.rules.iter().chain(&self.after) {
            let holds = rule.condition.as_ref().is_none_or(|c| match edited {
                Some(response) => c.holds(acls, &OnResponse { request, response }),
                None => c.holds(acls, &OnResponse { request, response }),
            });
            if !holds {
                continue;
            }
            let copy = edited.get_or_insert_with(|| EditedResponse::of(response, reason));
            match &rule.action {
                ResponseAction::Deny(reply) => return Some(reply),
                ResponseAction::SetStatus { status, reason } => {
                    copy.status = *status;
                    copy.reason.clear();
                    copy.reason.extend_from_slice(reason.as_bytes());
                }
                ResponseAction::Edit(rewrite) => {
                    rewrite.compute(
                        &OnResponse {
                            request,
                            response: &*copy,
                        },
                        scratch,
                    );
                    rewrite.edit_fields(&mut copy.fields, scratch);
                }
            }
        }
        None
    }

    /// The fetches and converters of the rules' values.
    pub fn samples_mut(&mut self) -> impl Iterator<Item = &mut SampleExpr> {
        self.rules.iter_mut().chain(&mut self.after).flat_map(|r| {
            match &mut r.action {
                ResponseAction::Edit(rewrite) => Some(rewrite.samples_mut()),
                _ => None,
            }
            .into_iter()
            .flatten()
        })
    }

    /// The maps the rules' values read.
    pub fn map_uses_mut(&mut self) -> impl Iterator<Item = &mut MapUse> {
        self.samples_mut().flat_map(SampleExpr::map_uses_mut)
    }

    pub fn map_uses(&self) -> impl Iterator<Item = &MapUse> {
        self.rules.iter().chain(&self.after).flat_map(|r| {
            match &r.action {
                ResponseAction::Edit(rewrite) => Some(rewrite.map_uses()),
                _ => None,
            }
            .into_iter()
            .flatten()
        })
    }

    /// Points each map converter at its map in the runtime's `maps` (by file path).
    pub fn bind_maps(&mut self, maps: &Maps) {
        for map_use in self.map_uses_mut() {
            map_use.index = maps.by_path(&map_use.file.path).unwrap_or(usize::MAX);
        }
    }
}

const SUPPORTED: &str = "'set-header', 'add-header', 'del-header', 'replace-header', \
    'replace-value', 'set-status' and 'deny'";

const SUPPORTED_AFTER: &str = "'set-header', 'add-header', 'del-header', 'replace-header', \
    'replace-value' and 'set-status'";

/// Parses the words after `keyword` (`http-response` or `http-after-response`): action,
/// arguments, then an optional condition.
pub fn parse_response_rule(
    keyword: &str,
    words: &[String],
    acls: &mut AclTable,
    read_file: &dyn Fn(&str) -> Result<String, String>,
) -> Result<(ResponseRule, Vec<String>), String> {
    let after = keyword == "http-after-response";
    let supported = if after { SUPPORTED_AFTER } else { SUPPORTED };
    let Some((name, rest)) = words.split_first() else {
        return Err(format!("'{keyword}' expects an action ({supported})."));
    };
    let at = rest
        .iter()
        .position(|w| w == "if" || w == "unless")
        .unwrap_or(rest.len());
    let (args, condition) = rest.split_at(at);
    let action = match name.as_str() {
        // 502 unless told, as HAProxy answers a denied response.
        "deny" if !after => ResponseAction::Deny(parse_deny("http-response", 502, args)?),
        "set-status" => parse_set_status(args)?,
        other => {
            let context = ConvertContext {
                read_file,
                user: String::new(),
            };
            match Rewrite::parse(other, args, &context) {
                Some(rewrite) if rewrite.as_ref().is_ok_and(Rewrite::is_header_edit) => {
                    ResponseAction::Edit(rewrite?)
                }
                Some(Err(e)) => return Err(e.replacen("http-request", keyword, 1)),
                _ => {
                    return Err(format!(
                        "'{keyword} {other}' is not supported (supported: {supported})."
                    ))
                }
            }
        }
    };
    let mut warnings = Vec::new();
    let condition = if condition.is_empty() {
        None
    } else {
        let (c, found) = Condition::parse(condition, acls, read_file).map_err(|e| {
            format!("error detected while parsing an '{keyword} {name}' condition : {e}.")
        })?;
        warnings.extend(found);
        Some(c)
    };
    Ok((ResponseRule { action, condition }, warnings))
}

/// `set-status N [reason R]`.
fn parse_set_status(args: &[String]) -> Result<ResponseAction, String> {
    let (status, reason) = match args {
        [status] => (status, None),
        [status, key, reason] if key == "reason" => (status, Some(reason.clone())),
        _ => {
            return Err(
                "expects 1 argument: <status>; or 3 arguments: <status> reason <fmt>.".into(),
            )
        }
    };
    let status = match status.parse::<u16>() {
        Ok(s) if (100..=999).contains(&s) => s,
        _ => return Err("expects an integer status code between 100 and 999.".into()),
    };
    // Without a reason, HAProxy's standard phrase for the code (`http_get_reason`).
    let reason = reason.unwrap_or_else(|| super::reply::reason(status).to_string());
    Ok(ResponseAction::SetStatus { status, reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fetch::tests::Plain;

    fn rules(lines: &[&str]) -> (ResponseRules, AclTable) {
        let mut acls = AclTable::default();
        let mut rules = ResponseRules::default();
        for line in lines {
            let words: Vec<String> = line.split_whitespace().map(String::from).collect();
            let (rule, _) = parse_response_rule("http-response", &words, &mut acls, &|p| {
                Err(format!("no {p}"))
            })
            .unwrap();
            rules.rules.push(rule);
        }
        (rules, acls)
    }

    fn response(status: u16, fields: &[(&str, &str)]) -> EditedResponse {
        EditedResponse {
            status,
            reason: b"R".to_vec(),
            fields: fields
                .iter()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
        }
    }

    fn run(lines: &[&str], received: &EditedResponse) -> (Option<EditedResponse>, Option<u16>) {
        let (rules, acls) = rules(lines);
        let request = Plain::get("/p", &[("Host", "h")]);
        let mut edited = None;
        let denied = rules.apply(
            &acls,
            (&request, received, b"R"),
            &mut edited,
            &mut Vec::new(),
        );
        (edited, denied.map(Reply::status))
    }

    #[test]
    fn no_rule_that_applies_leaves_the_response_uncopied() {
        let received = response(200, &[("A", "1")]);
        let (edited, denied) = run(&["set-header X y if { status 404 }"], &received);
        assert_eq!((edited, denied), (None, None));
    }

    #[test]
    fn edits_read_the_response_and_the_request() {
        let received = response(404, &[("A", "1"), ("A", "2, 3")]);
        let (edited, _) = run(
            &[
                "set-header X %[status]-%[res.hdr(a)]-%[res.hdr_cnt(a)]-%[src] if { status 404 }",
                "add-header Y y if { hdr(host) h }",
                "set-status 200 if { res.hdr(a) 3 }",
                "set-status 201 reason Made if { status 500 }",
                "del-header A if { res.hdr_cnt(a) eq 3 }",
            ],
            &received,
        );
        let edited = edited.unwrap();
        assert_eq!((edited.status, &edited.reason[..]), (200, &b"OK"[..]));
        assert_eq!(
            edited.fields,
            [(b"X".to_vec(), b"404-3-3-127.0.0.1".to_vec())]
        );
    }

    #[test]
    fn deny_answers_502_unless_told() {
        let received = response(200, &[]);
        assert_eq!(run(&["deny"], &received).1, Some(502));
        assert_eq!(run(&["deny deny_status 403"], &received).1, Some(403));
        assert_eq!(run(&["deny if { status 404 }"], &received).1, None);
    }

    #[test]
    fn request_only_actions_are_refused() {
        let words: Vec<String> = ["set-path", "/x"].map(String::from).to_vec();
        let err = parse_response_rule("http-response", &words, &mut AclTable::default(), &|_| {
            Err(String::new())
        })
        .unwrap_err();
        assert!(
            err.contains("'http-response set-path' is not supported"),
            "{err}"
        );
    }
}

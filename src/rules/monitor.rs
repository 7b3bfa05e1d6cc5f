//! `monitor-uri` and `monitor fail`: the health page an upstream balancer polls. A request
//! whose target is exactly the monitor URI is answered by the proxy itself, before any
//! `http-request` rule (as HAProxy does in `http_wait_for_request`): HAProxy's 200 page
//! ("Service ready."), or its 503 page when a `monitor fail` condition holds. Both replies are
//! rendered at load; the connection stays open as after a `deny` (checked against haproxy
//! 2.6.12).

use super::acl::AclTable;
use super::condition::Condition;
use super::fetch::RequestView;
use super::reply::Reply;

/// A frontend's monitor URI and its failure conditions.
#[derive(Debug, Clone)]
pub struct Monitor {
    /// None until `monitor-uri` is read (`monitor fail` may come first, as in HAProxy).
    uri: Option<Vec<u8>>,
    /// `monitor fail if|unless COND`, several OR'ed.
    fail: Vec<Condition>,
    ready: Reply,
    failed: Reply,
}

impl Default for Monitor {
    fn default() -> Self {
        let page = |status| Reply::deny_page(status).expect("HAProxy has a page for 200 and 503");
        Monitor {
            uri: None,
            fail: Vec::new(),
            ready: page(200),
            failed: page(503),
        }
    }
}

impl Monitor {
    /// `monitor-uri URI` (a later line replaces an earlier one, as in HAProxy).
    pub fn set_uri(&mut self, args: &[String]) -> Result<(), String> {
        match args {
            [] => Err("'monitor-uri' expects an URI.".to_string()),
            [uri] => {
                self.uri = Some(uri.as_bytes().to_vec());
                Ok(())
            }
            [_, extra, ..] => Err(format!(
                "'monitor-uri' cannot handle unexpected argument '{extra}'."
            )),
        }
    }

    /// The words after `monitor`: `fail if|unless COND`; its warnings.
    pub fn parse_fail(
        args: &[String],
        acls: &mut AclTable,
        read_file: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<(Condition, Vec<String>), String> {
        match args.split_first() {
            Some((fail, condition)) if fail == "fail" => {
                if !condition
                    .first()
                    .is_some_and(|w| w == "if" || w == "unless")
                {
                    return Err(
                        "'monitor fail' requires either 'if' or 'unless' followed by a condition."
                            .to_string(),
                    );
                }
                Condition::parse(condition, acls, read_file).map_err(|e| {
                    format!("error detected while parsing a 'monitor fail' condition : {e}.")
                })
            }
            _ => Err("'monitor' only supports 'fail'.".to_string()),
        }
    }

    pub fn add_fail(&mut self, condition: Condition) {
        self.fail.push(condition);
    }

    /// The reply for `request`, when it asks for the monitor URI.
    pub fn answer<R: RequestView>(&self, acls: &AclTable, request: &R) -> Option<&Reply> {
        if Some(request.target()) != self.uri.as_deref() {
            return None;
        }
        let failing = self.fail.iter().any(|c| c.holds(acls, request));
        Some(if failing { &self.failed } else { &self.ready })
    }
}

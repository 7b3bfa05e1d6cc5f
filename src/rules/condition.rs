//! `if` / `unless` conditions: ACL names and anonymous `{ … }` ACLs, each possibly negated
//! with `!`, AND'ed when side by side, OR'ed across `||` (or `or`). Names resolve when the
//! condition is parsed, as in HAProxy: an ACL must be declared before the rule that uses it.

use super::acl::{AclTable, Expr};
use super::fetch::RequestView;

/// One ACL of a condition, possibly negated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Term {
    negated: bool,
    acl: usize,
}

/// A parsed condition: OR of AND groups, then inverted for `unless`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    unless: bool,
    any_of: Vec<Vec<Term>>,
}

impl Condition {
    /// Parses `if|unless WORDS…`; anonymous ACLs go into `acls`. Returns the condition and
    /// the warnings of its anonymous expressions.
    pub fn parse(
        words: &[String],
        acls: &mut AclTable,
        read_file: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<(Condition, Vec<String>), String> {
        let unless = match words.first().map(String::as_str) {
            Some("if") => false,
            Some("unless") => true,
            _ => return Err("a condition starts with 'if' or 'unless'".to_string()),
        };
        let mut parser = Parser {
            acls,
            read_file,
            warnings: Vec::new(),
        };
        let any_of = parser.groups(&words[1..])?;
        Ok((Condition { unless, any_of }, parser.warnings))
    }

    /// Whether the condition holds for `request`. An empty condition matches nothing, as in
    /// HAProxy 2.6 (checked side by side): `use_backend B if` never takes a request, `use_backend
    /// B unless` takes every one.
    pub fn holds<R: RequestView>(&self, acls: &AclTable, request: &R) -> bool {
        let matched = self.any_of.iter().any(|group| {
            group
                .iter()
                .all(|term| acls.holds(term.acl, request) != term.negated)
        });
        matched != self.unless
    }
}

struct Parser<'a> {
    acls: &'a mut AclTable,
    read_file: &'a dyn Fn(&str) -> Result<String, String>,
    warnings: Vec<String>,
}

impl Parser<'_> {
    fn groups(&mut self, words: &[String]) -> Result<Vec<Vec<Term>>, String> {
        let mut groups = Vec::new();
        let mut group = Vec::new();
        let mut negated = false;
        let mut rest = words;
        while let Some((word, after)) = rest.split_first() {
            rest = after;
            match word.as_str() {
                "||" | "or" => {
                    if group.is_empty() || negated {
                        return Err(format!("missing ACL before '{word}' in condition"));
                    }
                    groups.push(std::mem::take(&mut group));
                }
                "!" => negated = !negated,
                "{" => {
                    let close = rest.iter().position(|w| w == "}").ok_or_else(|| {
                        "missing closing '}' for anonymous ACL in condition".to_string()
                    })?;
                    let acl = self.anonymous(&rest[..close])?;
                    rest = &rest[close + 1..];
                    group.push(Term { negated, acl });
                    negated = false;
                }
                "}" => return Err("'}' without an opening '{' in condition".to_string()),
                name => {
                    let (extra_negation, name) = match name.strip_prefix('!') {
                        Some(name) => (true, name),
                        None => (false, name),
                    };
                    let acl = self
                        .acls
                        .resolve(name)
                        .ok_or_else(|| format!("no such ACL : '{name}'"))?;
                    group.push(Term {
                        negated: negated != extra_negation,
                        acl,
                    });
                    negated = false;
                }
            }
        }
        if negated || (group.is_empty() && !groups.is_empty()) {
            return Err("missing ACL at the end of condition".to_string());
        }
        if !group.is_empty() {
            groups.push(group);
        }
        Ok(groups)
    }

    fn anonymous(&mut self, words: &[String]) -> Result<usize, String> {
        let (expr, warning) = Expr::parse(words, self.read_file)?;
        self.warnings.extend(warning);
        Ok(self.acls.anonymous(expr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::fetch::tests::Plain;

    fn words(text: &str) -> Vec<String> {
        text.split(' ').map(str::to_string).collect()
    }

    fn table() -> AclTable {
        let mut t = AclTable::default();
        let no_file = |_: &str| Err(String::new());
        for (name, text) in [("api", "path_beg /api"), ("shop", "hdr(host) -i shop")] {
            t.declare(name, Expr::parse(&words(text), &no_file).unwrap().0);
        }
        t
    }

    fn holds(cond: &str, request: &Plain) -> bool {
        let mut t = table();
        let (c, _) = Condition::parse(&words(cond), &mut t, &|_| Err(String::new())).unwrap();
        c.holds(&t, request)
    }

    #[test]
    fn and_or_not_unless_and_anonymous_acls() {
        let shop_api = Plain::get("/api/x", &[("Host", "SHOP")]);
        let web = Plain::get("/", &[("Host", "www")]);
        assert!(holds("if api shop", &shop_api));
        assert!(!holds("if api shop", &web));
        assert!(holds("if api || { path / }", &web));
        assert!(holds("if !api", &web) && holds("if ! api", &web));
        assert!(holds("unless api", &web) && !holds("unless api", &shop_api));
        assert!(holds(
            "if api or shop !TRUE or FALSE or { path_end / }",
            &web
        ));
        assert!(!holds("if", &web) && holds("unless", &web));
    }

    #[test]
    fn errors_name_what_is_missing() {
        let mut t = table();
        let parse = |t: &mut AclTable, c: &str| {
            Condition::parse(&words(c), t, &|_| Err(String::new())).map(|_| ())
        };
        assert_eq!(
            parse(&mut t, "if is_x").unwrap_err(),
            "no such ACL : 'is_x'"
        );
        assert!(parse(&mut t, "if api ||").is_err());
        assert!(parse(&mut t, "if || api").is_err());
        assert!(parse(&mut t, "if { path /").is_err());
        assert!(parse(&mut t, "if api !").is_err());
        assert!(parse(&mut t, "when api").is_err());
    }
}

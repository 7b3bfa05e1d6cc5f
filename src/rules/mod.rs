//! Request rules of HAProxy 2.6's language, compiled at load into typed plans: ACLs, `if` /
//! `unless` conditions, and the switching rules (`use_backend`). Pure: no I/O (pattern files
//! are read by the caller), no glommio. Config parses into these types; the proxy evaluates them
//! per request through [`RequestView`], with no allocation and no string parsing.
//!
//! - `fetch`: what a rule reads from a request (`path`, `hdr(host)`, `src` …).
//! - `pattern`: how a value is matched (`-m str|beg|end|sub|dir|dom|reg|len|int|ip|found`,
//!   `-i`), the patterns built once for their method.
//! - `acl`: ACL expressions, the named ACLs of a section, the predefined ACLs.
//! - `condition`: `if|unless` over ACLs, `!`, `||`, implicit AND, anonymous `{ … }`.

mod acl;
mod condition;
mod fetch;
mod pattern;

pub use acl::{check_acl_name, AclTable, Expr};
pub use condition::Condition;
pub use fetch::{RequestView, Sample, TlsFacts};

/// `use_backend NAME [if|unless COND]`: the first rule whose condition holds picks the
/// backend; none does, `default_backend`.
#[derive(Debug, Clone)]
pub struct UseBackend<B> {
    /// The backend's name in config; its index once the runtime resolved it.
    pub backend: B,
    pub condition: Option<Condition>,
}

/// A frontend's ACLs and switching rules, in order.
#[derive(Debug, Clone)]
pub struct Switching<B> {
    pub acls: AclTable,
    pub rules: Vec<UseBackend<B>>,
}

/// No rule (whatever `B` is: a derived `Default` would ask `B: Default`).
impl<B> Default for Switching<B> {
    fn default() -> Self {
        Switching {
            acls: AclTable::default(),
            rules: Vec::new(),
        }
    }
}

impl<B: Copy> Switching<B> {
    /// The backend of the first rule whose condition holds.
    pub fn choose<R: RequestView>(&self, request: &R) -> Option<B> {
        self.rules
            .iter()
            .find(|r| {
                r.condition
                    .as_ref()
                    .is_none_or(|c| c.holds(&self.acls, request))
            })
            .map(|r| r.backend)
    }
}

impl<B> Switching<B> {
    /// The same rules with each backend mapped (config names to runtime indices); the first
    /// name `resolve` refuses is the error.
    pub fn resolve<C, E>(
        &self,
        mut resolve: impl FnMut(&B) -> Result<C, E>,
    ) -> Result<Switching<C>, E> {
        let rules = self
            .rules
            .iter()
            .map(|r| {
                Ok(UseBackend {
                    backend: resolve(&r.backend)?,
                    condition: r.condition.clone(),
                })
            })
            .collect::<Result<_, E>>()?;
        Ok(Switching {
            acls: self.acls.clone(),
            rules,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

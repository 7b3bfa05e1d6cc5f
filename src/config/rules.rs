//! The rule keywords of proxy sections: `acl` (frontend, listen, backend), `use_backend`,
//! `http-request`, `http-response`, `http-after-response` and `redirect` (frontend, listen), read into [`crate::rules`]' typed plans
//! at load. An ACL must be
//! declared before the rule that names it, as in HAProxy; pattern files (`-f FILE`) are read
//! here, relative to the working directory as HAProxy reads them. Backend names are checked
//! against the whole config in `validate`.

use super::parser::Line;
use super::proxy::{Located, ProxyKind, ProxySection};
use super::stats_page;
use super::ConfigError;
use crate::rules::{
    check_acl_name, parse_redirect_rule, parse_request_rule, parse_response_rule, Condition,
    ConvertContext, Expr, LogFormat, Monitor, ProxyRef, SampleExpr, Target, UseBackend,
};

/// Whether `key` is a rule keyword this module reads.
pub(super) fn is_rule_keyword(key: &str) -> bool {
    matches!(
        key,
        "acl"
            | "use_backend"
            | "http-request"
            | "http-response"
            | "http-after-response"
            | "redirect"
            | "monitor-uri"
            | "monitor"
    )
}

/// Parses one rule line into the section's rules.
pub(super) fn parse_rule_line(
    section: &mut ProxySection,
    line: &Line,
    key: &str,
    args: &[String],
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let use_service = key == "http-request" && args.first().is_some_and(|a| a == "use-service");
    let allowed = match key {
        "acl" => section.kind != ProxyKind::Defaults,
        _ if use_service => section.kind != ProxyKind::Backend,
        _ => section.kind.has_frontend() && section.kind != ProxyKind::Defaults,
    };
    if !allowed {
        let sections = if key == "acl" {
            "frontend, listen, backend"
        } else {
            "frontend, listen"
        };
        // HAProxy takes request rules in backends too: pointsman does not yet.
        let not_yet = if matches!(
            key,
            "http-request"
                | "http-response"
                | "http-after-response"
                | "redirect"
                | "monitor-uri"
                | "monitor"
        ) {
            " yet"
        } else {
            ""
        };
        return Err(line.error(format!(
            "'{key}' is not allowed in {}{not_yet} (allowed in: {sections})",
            section.describe()
        )));
    }
    let found = match key {
        "acl" => parse_acl(section, args),
        "http-request" if use_service => {
            stats_page::parse_http_request(section, line, args).map(|()| Vec::new())
        }
        "http-request" => parse_http_request(section, args),
        "http-response" | "http-after-response" => parse_http_response(section, key, args),
        "redirect" => parse_redirect(section, args),
        "monitor-uri" => monitor_of(section).set_uri(args).map(|()| Vec::new()),
        "monitor" => parse_monitor_fail(section, args),
        _ => parse_use_backend(section, line, args),
    };
    let found = found.map_err(|message| line.error(message))?;
    warnings.extend(found.into_iter().map(|w| line.warning(w)));
    name_map_users(section, line);
    name_proxy_refs(section, line, key);
    Ok(())
}

/// Records where the line's `nbsrv`, `srv_is_up` and `be_conn` name a backend or server, in
/// HAProxy's words for the place, so the whole-config check can point at the line.
fn name_proxy_refs(section: &mut ProxySection, line: &Line, key: &str) {
    let mark = |r: &mut ProxyRef, place: String| {
        if r.at.is_none() {
            r.at = Some((line.location.file.clone(), line.location.line, place));
        }
    };
    let in_acls = section.switching.acls.samples_mut();
    for r in in_acls.filter_map(|s| s.fetch.proxy_ref_mut()) {
        let place = format!("ACL keyword '{}'", r.keyword);
        mark(r, place);
    }
    for r in section_samples(section).filter_map(|s| s.fetch.proxy_ref_mut()) {
        let place = format!("sample fetch keyword '{}' in {key} expression", r.keyword);
        mark(r, place);
    }
}

/// Every sample expression of a section's rules: its ACLs', then its rule values'
/// (`use_backend %[…]`, header values, redirect targets).
pub(super) fn section_samples(section: &mut ProxySection) -> impl Iterator<Item = &mut SampleExpr> {
    let ProxySection {
        switching,
        http_rules,
        response_rules,
        ..
    } = section;
    let samples = switching.samples_mut().chain(http_rules.samples_mut());
    samples.chain(response_rules.samples_mut())
}

/// Records where the line's map converters and ACL expressions are, as `show map` and
/// `show acl` name them.
fn name_map_users(section: &mut ProxySection, line: &Line) {
    let user = format!("file '{}' line {}", line.location.file, line.location.line);
    section.switching.acls.name_sources(&user);
    let uses = section.switching.map_uses_mut();
    let uses = uses.chain(section.http_rules.map_uses_mut());
    for map_use in uses.chain(section.response_rules.map_uses_mut()) {
        if map_use.user.is_empty() {
            map_use.user = user.clone();
        }
    }
}

/// `acl NAME FETCH [FLAGS] [PATTERN…]`; returns its warning, if any.
fn parse_acl(section: &mut ProxySection, args: &[String]) -> Result<Vec<String>, String> {
    const USAGE: &str = "acl <name> <fetch> [flags] [pattern ...]";
    let Some((name, expression)) = args.split_first() else {
        return Err(format!(
            "'acl' needs a name and an expression: expected '{USAGE}'"
        ));
    };
    check_acl_name(name)?;
    if expression.is_empty() {
        return Err(format!(
            "missing ACL expression for ACL '{name}': expected '{USAGE}'"
        ));
    }
    let (expr, warning) = Expr::parse(expression, &read_pattern_file)?;
    section.switching.acls.declare(name, expr);
    Ok(warning.into_iter().collect())
}

/// `use_backend NAME [if|unless CONDITION]`.
fn parse_use_backend(
    section: &mut ProxySection,
    line: &Line,
    args: &[String],
) -> Result<Vec<String>, String> {
    const USAGE: &str = "use_backend <backend> [{if | unless} <condition>]";
    let Some((backend, condition)) = args.split_first() else {
        return Err(format!(
            "'use_backend' needs a backend name: expected '{USAGE}'"
        ));
    };
    let target = if LogFormat::is_computed(backend) {
        let context = ConvertContext {
            read_file: &read_pattern_file,
            user: String::new(),
        };
        Target::Dynamic(LogFormat::parse(backend, &context)?)
    } else {
        Target::Static(Located {
            value: backend.clone(),
            location: line.location.clone(),
        })
    };
    let (condition, warnings) = if condition.is_empty() {
        (None, Vec::new())
    } else {
        let (c, w) = Condition::parse(condition, &mut section.switching.acls, &read_pattern_file)
            .map_err(|e| format!("error detected while parsing switching rule : {e}."))?;
        (Some(c), w)
    };
    section.switching.rules.push(UseBackend {
        backend: target,
        condition,
    });
    Ok(warnings)
}

/// `http-request ACTION [ARGS] [if|unless CONDITION]`.
/// HAProxy's warnings for a rule written after rules it runs before.
fn parse_http_request(section: &mut ProxySection, args: &[String]) -> Result<Vec<String>, String> {
    let (rule, mut warnings) = parse_request_rule(
        args,
        &mut section.switching.acls,
        &read_pattern_file,
        &|path| std::fs::read(path),
    )?;
    let earlier = [
        ("redirect", !section.http_rules.redirects.is_empty()),
        ("use_backend", !section.switching.rules.is_empty()),
    ]
    .into_iter()
    .find(|(_, present)| *present);
    if let Some((earlier, _)) = earlier {
        warnings.push(format!(
            "a 'http-request' rule placed after a '{earlier}' rule will still be processed before."
        ));
    }
    section.http_rules.request.push(rule);
    Ok(warnings)
}

/// `http-response|http-after-response ACTION [ARGS] [if|unless CONDITION]`.
fn parse_http_response(
    section: &mut ProxySection,
    key: &str,
    args: &[String],
) -> Result<Vec<String>, String> {
    let (rule, warnings) =
        parse_response_rule(key, args, &mut section.switching.acls, &read_pattern_file)?;
    let rules = &mut section.response_rules;
    match key {
        "http-response" => rules.rules.push(rule),
        _ => rules.after.push(rule),
    }
    Ok(warnings)
}

/// `redirect location|prefix|scheme X [OPTIONS] [if|unless CONDITION]`.
fn parse_redirect(section: &mut ProxySection, args: &[String]) -> Result<Vec<String>, String> {
    let (rule, warnings) =
        parse_redirect_rule(args, &mut section.switching.acls, &read_pattern_file)
            .map_err(|e| format!("error detected while parsing redirect rule : {e}"))?;
    section.http_rules.redirects.push(rule);
    let mut warnings = warnings;
    if !section.switching.rules.is_empty() {
        warnings.push(
            "a 'redirect' rule placed after a 'use_backend' rule will still be processed before."
                .to_string(),
        );
    }
    Ok(warnings)
}

/// The section's monitor, created by its first `monitor-uri` or `monitor fail` line.
fn monitor_of(section: &mut ProxySection) -> &mut Monitor {
    section
        .http_rules
        .monitor
        .get_or_insert_with(Monitor::default)
}

/// `monitor fail if|unless CONDITION`.
fn parse_monitor_fail(section: &mut ProxySection, args: &[String]) -> Result<Vec<String>, String> {
    let (condition, warnings) =
        Monitor::parse_fail(args, &mut section.switching.acls, &read_pattern_file)?;
    monitor_of(section).add_fail(condition);
    Ok(warnings)
}

fn read_pattern_file(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("failed to open pattern file <{path}>: {e}"))
}

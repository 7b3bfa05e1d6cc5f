//! Reads `haproxy.cfg` text into a [`Config`]: loads files, walks lines, opens sections and
//! hands each line to the parser of its section.
//!
//! Section parsers: `global` ([`super::global`]), `defaults`/`frontend`/`backend`/`listen`
//! ([`super::proxy`], servers in [`super::server`]); checks that need the whole config (a
//! `default_backend` naming a backend, modes, binds) run at the end ([`super::validate`]).
//! Parsing stops at the first error, which names file, line and section.

use super::lexer::{split_words, EnvLookup};
use super::model::{Config, Global, Location};
use super::proxy::{ProxyKind, ProxySection};
use super::{global, proxy, validate};
use std::fmt;
use std::path::{Path, PathBuf};

/// A config error: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The error `message` at `location`.
pub(super) fn error_at(location: &Location, message: impl Into<String>) -> ConfigError {
    ConfigError {
        file: location.file.clone(),
        line: location.line,
        message: message.into(),
    }
}

/// One line that holds at least one word.
pub(super) struct Line {
    pub location: Location,
    pub words: Vec<String>,
}

impl Line {
    pub fn error(&self, message: impl Into<String>) -> ConfigError {
        error_at(&self.location, message)
    }

    /// A warning for `Config.warnings`, prefixed with file:line like errors.
    pub fn warning(&self, message: impl fmt::Display) -> String {
        format!("{}: {message}", self.location)
    }
}

/// Parses `text` as a whole config; `file` is the name errors and warnings show.
/// `${VAR}` reads the process environment.
pub fn parse_str(file: &str, text: &str) -> Result<Config, ConfigError> {
    parse_str_with_env(file, text, &|name| std::env::var(name).ok())
}

/// Like [`parse_str`], with `env` answering `${VAR}` lookups instead of the process environment.
pub fn parse_str_with_env(
    file: &str,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let mut parser = Parser::new(env);
    parser.parse_text(file, text)?;
    parser.finish()
}

/// Reads several files in order as one config, like HAProxy's `-f a -f b`. A directory
/// stands for its `*.cfg` files in name order. `defaults` carry over from one file to the
/// next; every file starts outside any section.
pub fn parse_files(paths: &[PathBuf]) -> Result<Config, ConfigError> {
    if paths.is_empty() {
        return Err(ConfigError {
            file: "<none>".into(),
            line: 0,
            message: "no configuration file given".into(),
        });
    }
    let env = |name: &str| std::env::var(name).ok();
    let mut parser = Parser::new(&env);
    for file in expand_directories(paths)? {
        let name = file.display().to_string();
        let text = std::fs::read_to_string(&file)
            .map_err(|e| file_error(&name, format!("cannot read: {e}")))?;
        parser.parse_text(&name, &text)?;
    }
    parser.finish()
}

fn file_error(file: &str, message: String) -> ConfigError {
    ConfigError {
        file: file.to_string(),
        line: 0,
        message,
    }
}

fn expand_directories(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ConfigError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(cfg_files_in(path)?);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// The `*.cfg` files of a directory (not its subdirectories), sorted by name as HAProxy does.
fn cfg_files_in(dir: &Path) -> Result<Vec<PathBuf>, ConfigError> {
    let name = dir.display().to_string();
    let entries = std::fs::read_dir(dir)
        .map_err(|e| file_error(&name, format!("cannot read directory: {e}")))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| file_error(&name, format!("cannot read directory: {e}")))?
            .path();
        if path.is_file() && path.extension().is_some_and(|ext| ext == "cfg") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Where the lines being read go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// Start of a file: only a section header is valid.
    Outside,
    Global,
    Defaults,
    /// The last proxy in `Parser::proxies`.
    Proxy,
}

/// HAProxy section headers pointsman does not read.
const UNSUPPORTED_SECTIONS: &[&str] = &[
    "resolvers",
    "peers",
    "userlist",
    "mailers",
    "program",
    "http-errors",
    "ring",
    "cache",
    "fcgi-app",
    "log-forward",
    "crt-store",
    "traces",
];

struct Parser<'e> {
    env: EnvLookup<'e>,
    global: Global,
    warnings: Vec<String>,
    /// The last `defaults` section: the starting values of every proxy opened after it.
    defaults: ProxySection,
    proxies: Vec<ProxySection>,
    section: Section,
    /// HAProxy numbers proxies from 2 (1 is its internal proxy).
    next_proxy_id: u32,
}

impl<'e> Parser<'e> {
    fn new(env: EnvLookup<'e>) -> Self {
        Parser {
            env,
            global: Global::default(),
            warnings: Vec::new(),
            defaults: ProxySection::builtin_defaults(),
            proxies: Vec::new(),
            section: Section::Outside,
            next_proxy_id: 2,
        }
    }

    fn parse_text(&mut self, file: &str, text: &str) -> Result<(), ConfigError> {
        self.section = Section::Outside;
        for (index, raw) in text.lines().enumerate() {
            let location = Location {
                file: file.to_string(),
                line: index + 1,
            };
            let words =
                split_words(raw, self.env).map_err(|message| error_at(&location, message))?;
            if !words.is_empty() {
                self.parse_line(&Line { location, words })?;
            }
        }
        Ok(())
    }

    fn parse_line(&mut self, line: &Line) -> Result<(), ConfigError> {
        match line.words[0].as_str() {
            "global" => self.open_global(line),
            "defaults" => self.open_defaults(line),
            "frontend" => self.open_proxy(line, ProxyKind::Frontend),
            "backend" => self.open_proxy(line, ProxyKind::Backend),
            "listen" => self.open_proxy(line, ProxyKind::Listen),
            other if UNSUPPORTED_SECTIONS.contains(&other) => {
                Err(line.error(format!("'{other}' sections are not supported")))
            }
            _ => self.parse_section_line(line),
        }
    }

    fn parse_section_line(&mut self, line: &Line) -> Result<(), ConfigError> {
        match self.section {
            Section::Outside => Err(line.error(format!(
                "'{}' found before any section: a config starts with 'global', 'defaults', \
                 'frontend <name>', 'backend <name>' or 'listen <name>'",
                line.words[0]
            ))),
            Section::Global => global::parse_line(&mut self.global, line, &mut self.warnings),
            Section::Defaults => proxy::parse_line(&mut self.defaults, line, &mut self.warnings),
            Section::Proxy => {
                let current = self
                    .proxies
                    .last_mut()
                    .expect("Section::Proxy implies an open proxy");
                proxy::parse_line(current, line, &mut self.warnings)
            }
        }
    }

    /// Several `global` sections are merged, as in HAProxy.
    fn open_global(&mut self, line: &Line) -> Result<(), ConfigError> {
        if let Some(extra) = line.words.get(1) {
            return Err(line.error(format!("'global' takes no argument, found '{extra}'")));
        }
        self.section = Section::Global;
        Ok(())
    }

    /// A new `defaults` section starts again from the built-in values: nothing of an earlier
    /// `defaults` survives into the proxies that follow it. A name is accepted (HAProxy 2.4+)
    /// but `from` inheritance is not.
    fn open_defaults(&mut self, line: &Line) -> Result<(), ConfigError> {
        if let Some(extra) = line.words.get(2) {
            let message = if extra == "from" {
                "'defaults <name> from <other>' is not supported: write the values out in this section".to_string()
            } else {
                format!("'defaults' takes at most a name, found '{extra}'")
            };
            return Err(line.error(message));
        }
        self.defaults = ProxySection::builtin_defaults();
        self.defaults.location = line.location.clone();
        self.section = Section::Defaults;
        Ok(())
    }

    fn open_proxy(&mut self, line: &Line, kind: ProxyKind) -> Result<(), ConfigError> {
        let keyword = kind.keyword();
        let Some(name) = line.words.get(1) else {
            return Err(line.error(format!(
                "'{keyword}' needs a name: expected '{keyword} <name>'"
            )));
        };
        if let Some(extra) = line.words.get(2) {
            return Err(line.error(proxy_header_extra(keyword, name, extra)));
        }
        proxy::check_name(name, keyword).map_err(|message| line.error(message))?;
        self.check_unique_proxy_name(line, kind, name)?;
        let section = ProxySection::open(
            kind,
            name,
            self.next_proxy_id,
            line.location.clone(),
            &self.defaults,
        );
        self.next_proxy_id += 1;
        self.proxies.push(section);
        self.section = Section::Proxy;
        Ok(())
    }

    /// HAProxy refuses two proxies of the same name that share a side: two frontends, two
    /// backends, or a listen and anything. A frontend and a backend may share a name.
    fn check_unique_proxy_name(
        &self,
        line: &Line,
        kind: ProxyKind,
        name: &str,
    ) -> Result<(), ConfigError> {
        let clash = self
            .proxies
            .iter()
            .find(|other| other.name == name && other.kind.shares_a_side_with(kind));
        match clash {
            Some(other) => Err(line.error(format!(
                "{} '{name}' has the same name as {} '{name}' declared at {}",
                kind.keyword(),
                other.kind.keyword(),
                other.location
            ))),
            None => Ok(()),
        }
    }

    fn finish(self) -> Result<Config, ConfigError> {
        validate::build_config(self.global, self.proxies, self.warnings)
    }
}

fn proxy_header_extra(keyword: &str, name: &str, extra: &str) -> String {
    if extra == "from" {
        format!(
            "'{keyword} {name} from <defaults>' is not supported: named defaults are not inherited"
        )
    } else if keyword == "listen" {
        format!("'listen {name} {extra}': the old address-on-the-header form is not supported; write 'bind {extra}' on its own line")
    } else {
        format!("'{keyword} {name}' takes no other argument, found '{extra}'")
    }
}

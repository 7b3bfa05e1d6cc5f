//! HAProxy's server state file: `server-state-file`, `server-state-base`,
//! `load-server-state-from-file global|local|none`, `server-state-file-name`, and the text
//! `show servers state` prints (format version 1), which a file saved from HAProxy 2.6 has.
//!
//! Reading keeps what HAProxy's format can say without harm (see [`super::restore`] for the
//! rules); writing is `show servers state` itself, to a temporary file renamed over the
//! old one, so a reader never sees half a file.

use crate::config::{Config, LoadServerState};
use crate::state::{CheckStatus, OpState};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One line of a state file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileServer {
    pub backend: String,
    pub server: String,
    pub op_state: u32,
    /// `SRV_ADMF_*` bits: 0x01 forced maintenance, 0x04 config `disabled`, 0x08 drain.
    pub admin_flags: u32,
    pub uweight: u32,
    pub iweight: u32,
    pub check_status: CheckStatus,
    pub check_health: u32,
    /// `CHK_ST_*` bits: 0x02 configured, 0x04 enabled.
    pub check_state: u32,
}

impl FileServer {
    pub fn forced_maint(&self) -> bool {
        self.admin_flags & 0x01 != 0
    }

    pub fn forced_drain(&self) -> bool {
        self.admin_flags & 0x08 != 0
    }

    pub fn check_configured(&self) -> bool {
        self.check_state & 0x02 != 0
    }

    pub fn check_enabled(&self) -> bool {
        self.check_state & 0x04 != 0
    }

    /// `srv_op_state`: 0 stopped, 1 starting, 2 running, 3 stopping.
    pub fn op(&self) -> OpState {
        match self.op_state {
            0 => OpState::Down,
            3 => OpState::Stopping,
            _ => OpState::Up,
        }
    }
}

/// Reads the text of a state file. Lines that do not parse are skipped with a warning, as
/// HAProxy does; a file of another version is refused.
pub fn parse(text: &str, origin: &str) -> Result<(Vec<FileServer>, Vec<String>), String> {
    let mut lines = text.lines().enumerate();
    match lines.next().map(|(_, l)| l.trim()) {
        Some("1") => {}
        Some(other) => {
            return Err(format!(
            "{origin}: unsupported server state file version '{other}' (pointsman reads version 1)"
        ))
        }
        None => return Ok((Vec::new(), Vec::new())),
    }
    let mut servers = Vec::new();
    let mut warnings = Vec::new();
    for (index, line) in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match parse_line(line) {
            Ok(s) => servers.push(s),
            Err(m) => warnings.push(format!("{origin}:{}: {m}; line ignored", index + 1)),
        }
    }
    Ok((servers, warnings))
}

fn parse_line(line: &str) -> Result<FileServer, String> {
    let f: Vec<&str> = line.split_whitespace().collect();
    if f.len() < 19 {
        return Err(format!(
            "{} fields where version 1 has at least 19",
            f.len()
        ));
    }
    let num = |i: usize, what: &str| -> Result<u32, String> {
        f[i].parse()
            .map_err(|_| format!("{what} '{}' is not a number", f[i]))
    };
    Ok(FileServer {
        backend: f[1].to_string(),
        server: f[3].to_string(),
        op_state: num(5, "srv_op_state")?,
        admin_flags: num(6, "srv_admin_state")?,
        uweight: num(7, "srv_uweight")?,
        iweight: num(8, "srv_iweight")?,
        check_status: check_status(num(10, "srv_check_status")?),
        check_health: num(12, "srv_check_health")?,
        check_state: num(13, "srv_check_state")?,
    })
}

/// HAProxy's `HCHK_STATUS_*` numbers (the inverse of what `show servers state` prints).
fn check_status(n: u32) -> CheckStatus {
    match n {
        6 => CheckStatus::L4Ok,
        7 => CheckStatus::L4Tout,
        8 => CheckStatus::L4Con,
        9 => CheckStatus::L6Ok,
        10 => CheckStatus::L6Tout,
        11 => CheckStatus::L6Rsp,
        12 => CheckStatus::L7Tout,
        13 => CheckStatus::L7Rsp,
        15 => CheckStatus::L7Ok,
        17 => CheckStatus::L7Sts,
        _ => CheckStatus::Init,
    }
}

/// A state file name as HAProxy resolves it: absolute, or relative to `server-state-base`,
/// or to the current directory.
fn resolve(config: &Config, name: &Path) -> PathBuf {
    match &config.global.server_state_base {
        Some(base) if name.is_relative() => base.join(name),
        _ => name.to_path_buf(),
    }
}

/// The file each backend's state is read from (and written to), by backend name.
pub fn files_by_backend(config: &Config) -> BTreeMap<String, PathBuf> {
    let mut files = BTreeMap::new();
    for proxy in &config.proxies {
        let Some(side) = &proxy.backend else { continue };
        let path = match side.load_state {
            LoadServerState::None => continue,
            LoadServerState::Global => match &config.global.server_state_file {
                Some(file) => resolve(config, file),
                None => continue,
            },
            LoadServerState::Local => {
                let name = side.state_file_name.as_deref().unwrap_or(&proxy.name);
                resolve(config, Path::new(name))
            }
        };
        files.insert(proxy.name.clone(), path);
    }
    files
}

/// Reads the state of every backend that asks for it: the entries of its backends, and
/// warnings (a missing file is a warning, as in HAProxy).
pub fn load(config: &Config) -> (Vec<FileServer>, Vec<String>) {
    let files = files_by_backend(config);
    let mut by_path: BTreeMap<&PathBuf, Vec<&String>> = BTreeMap::new();
    for (backend, path) in &files {
        by_path.entry(path).or_default().push(backend);
    }
    let mut servers = Vec::new();
    let mut warnings = Vec::new();
    for (path, backends) in by_path {
        let origin = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                warnings.push(format!("cannot read server state file {origin}: {e}"));
                continue;
            }
        };
        match parse(&text, &origin) {
            Ok((entries, w)) => {
                warnings.extend(w);
                servers.extend(
                    entries
                        .into_iter()
                        .filter(|e| backends.contains(&&e.backend)),
                );
            }
            Err(e) => warnings.push(e),
        }
    }
    (servers, warnings)
}

/// Writes `text` to `path` through a temporary file in the same directory and a rename, so
/// the file is always whole.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp.{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HAPROXY_26: &str = "1
# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port
3 bk_app 1 nginx1 127.0.0.1 2 0 1 1 39 6 3 4 6 0 0 0 - 28081 - 0 0 - - 0
3 bk_app 2 nginx2 127.0.0.1 0 1 1 1 0 6 3 0 14 0 0 0 - 28082 - 0 0 - - 0
";

    #[test]
    fn a_haproxy_2_6_file_parses() {
        let (servers, warnings) = parse(HAPROXY_26, "f").unwrap();
        assert!(warnings.is_empty());
        assert_eq!(servers.len(), 2);
        let n2 = &servers[1];
        assert_eq!(
            (n2.backend.as_str(), n2.server.as_str()),
            ("bk_app", "nginx2")
        );
        assert!(n2.forced_maint() && n2.check_configured() && n2.check_enabled());
        assert_eq!(servers[0].check_status, CheckStatus::L4Ok);
        assert_eq!(servers[0].op(), OpState::Up);
    }

    #[test]
    fn bad_lines_are_skipped_and_other_versions_refused() {
        let (servers, warnings) = parse("1\n3 bk 1 s 127.0.0.1 x\n", "f").unwrap();
        assert!(servers.is_empty());
        assert_eq!(
            warnings,
            ["f:2: 6 fields where version 1 has at least 19; line ignored"]
        );
        assert!(parse("2\n", "f").unwrap_err().contains("version '2'"));
        assert_eq!(parse("", "f").unwrap().0, vec![]);
    }

    #[test]
    fn file_names_follow_haproxy() {
        let config = crate::config::parse_str(
            "t.cfg",
            "global\n server-state-base /var/state\n server-state-file all\n\
             defaults\n mode http\n load-server-state-from-file global\n\
             backend a\n server s 127.0.0.1:1\n\
             backend b\n load-server-state-from-file local\n server s 127.0.0.1:1\n\
             backend c\n load-server-state-from-file local\n server-state-file-name /abs/c.state\n server s 127.0.0.1:1\n\
             backend d\n load-server-state-from-file none\n server s 127.0.0.1:1\n",
        )
        .unwrap();
        let files = files_by_backend(&config);
        assert_eq!(files["a"], PathBuf::from("/var/state/all"));
        assert_eq!(files["b"], PathBuf::from("/var/state/b"));
        assert_eq!(files["c"], PathBuf::from("/abs/c.state"));
        assert!(!files.contains_key("d"));
    }
}

//! `pointsman -v` and `-vv`, in the shape of HAProxy's: the version, then with `-vv` the
//! system it runs on, how it was built (target, profile, compiler: facts `build.rs` records),
//! its features, default settings, the TLS library, and whether io_uring (its only polling
//! system) works on this kernel, tested now as HAProxy tests its pollers.

use std::fmt::Write;

/// The first line of `-v` and `-vv`.
pub fn version_line() -> String {
    format!("pointsman version {}", env!("CARGO_PKG_VERSION"))
}

/// What `-vv` prints.
pub fn build_details() -> String {
    let mut text = version_line() + "\n";
    let _ = writeln!(text, "Running on: {}", running_on());
    text += &build_options();
    let _ = writeln!(text, "\nFeature list : {}", FEATURES.join(" "));
    text += &default_settings();
    let _ = writeln!(text, "\n{}", tls_library());
    text += &polling_systems();
    text
}

/// Compiled in or not, as HAProxy's `+NAME`/`-NAME` list.
const FEATURES: &[&str] = &[
    "+HTTP1",
    "-HTTP2",
    "+TCP",
    "+SSL",
    "+RUNTIME_API",
    "+MASTER_WORKER",
    "+SYSTEMD_NOTIFY",
    "+FD_PASSING",
    "+SERVER_STATE_FILE",
    "+PROMEX",
    "+PRIVILEGE_DROP",
    "+CPU_AFFINITY",
    "+IO_URING",
    "-EPOLL",
    "-LUA",
    "-CHROOT",
];

fn build_options() -> String {
    format!(
        "Build options :\n  TARGET  = {}\n  PROFILE = {} (opt-level {}, debuginfo {}, lto {}, \
         codegen-units {}, panic {})\n  RUSTC   = {}\n",
        env!("POINTSMAN_BUILD_TARGET"),
        env!("POINTSMAN_BUILD_PROFILE"),
        env!("POINTSMAN_BUILD_OPT_LEVEL"),
        env!("POINTSMAN_BUILD_DEBUG"),
        env!("POINTSMAN_BUILD_LTO"),
        env!("POINTSMAN_BUILD_CODEGEN_UNITS"),
        env!("POINTSMAN_BUILD_PANIC"),
        env!("POINTSMAN_BUILD_RUSTC"),
    )
}

fn default_settings() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "\nDefault settings :\n  bufsize = 16384, maxconn = {} (from RLIMIT_NOFILE {})\n\n\
         Built with multi-threading support (one shard per core, default={cores}).\n",
        crate::sys::default_maxconn(),
        crate::sys::nofile_limit()
    )
}

fn tls_library() -> String {
    format!(
        "Built with TLS library : rustls {} (crypto provider: ring {})\n\
         TLS library supports : TLSv1.2 TLSv1.3 (SNI, ALPN, session tickets)",
        env!("POINTSMAN_BUILD_RUSTLS"),
        env!("POINTSMAN_BUILD_RING"),
    )
}

fn polling_systems() -> String {
    let memlock = memlock_limit();
    format!(
        "\nAvailable polling systems :\n    io_uring : glommio {}, test result {}\n\
         Locked memory limit (RLIMIT_MEMLOCK) : {memlock}\n",
        env!("POINTSMAN_BUILD_GLOMMIO"),
        match io_uring_probe() {
            Ok(()) => "OK".to_string(),
            Err(e) => format!("FAILED ({e})"),
        }
    )
}

/// `uname`: system, release, version and machine, as HAProxy's "Running on" line.
fn running_on() -> String {
    // SAFETY: uname fills a zeroed struct of plain arrays.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut name) } != 0 {
        return "unknown".into();
    }
    let field = |chars: &[libc::c_char]| {
        let bytes: Vec<u8> = chars
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    format!(
        "{} {} {} {}",
        field(&name.sysname),
        field(&name.release),
        field(&name.version),
        field(&name.machine)
    )
}

/// Sets up (and closes) a small ring: what fails here (a kernel without io_uring,
/// `kernel.io_uring_disabled`, a seccomp profile that blocks it) stops every shard.
fn io_uring_probe() -> std::io::Result<()> {
    // struct io_uring_params is 120 bytes of plain integers; zeroed means "no flags".
    let mut params = [0u8; 120];
    // SAFETY: io_uring_setup reads and writes `params`, valid for its 120 bytes.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 2u32, params.as_mut_ptr()) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: closing the descriptor the kernel just gave us.
    unsafe { libc::close(fd as libc::c_int) };
    Ok(())
}

fn memlock_limit() -> String {
    // SAFETY: getrlimit with a valid struct.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 {
        return "unknown".into();
    }
    match limit.rlim_cur {
        libc::RLIM_INFINITY => "unlimited".into(),
        bytes => format!("{} KiB", bytes / 1024),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_name_the_build_and_the_poller() {
        let text = build_details();
        assert!(text.starts_with("pointsman version "), "{text}");
        for part in [
            "Running on: Linux ",
            "TARGET  = ",
            "Feature list : +HTTP1",
            "rustls 0.",
            "io_uring : glommio 0.9",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        assert!(!text.contains("= ?"), "a build fact is missing: {text}");
    }
}

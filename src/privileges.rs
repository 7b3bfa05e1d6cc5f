//! Dropping root once the sockets are bound: the `user`/`uid` and `group`/`gid` keywords of
//! `global`, applied as HAProxy applies them.
//!
//! A serving process (a single process, or a worker of the master) binds every listener and
//! its unix admin sockets as the user that started it (root, to bind ports below 1024), then
//! calls [`drop_to`] before any shard thread or io_uring ring exists. glibc's `setgroups`,
//! `setgid` and `setuid` change the credentials of every thread of the process (it signals
//! each one), so a helper thread started earlier (the log writer) changes too. The master of
//! `-W`/`-Ws` keeps its user, as HAProxy's does: it binds the new addresses of a reloaded
//! config and starts each new worker, which drops in turn.

/// The identity a serving process takes: `None` keeps the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Identity {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

impl Identity {
    /// The identity `global` asks for.
    pub fn of(global: &crate::config::Global) -> Identity {
        Identity {
            uid: global.uid,
            gid: global.gid,
        }
    }
}

/// Takes `identity`: supplementary groups cleared and the group first (both need root, which
/// the user change gives up), then the user. A failure is an error: a process that was told to
/// run as `pointsman` must not serve as root.
pub fn drop_to(identity: Identity) -> Result<(), String> {
    if identity == Identity::default() {
        return Ok(());
    }
    if let Some(gid) = identity.gid {
        clear_supplementary_groups()?;
        // SAFETY: setgid with a plain number; glibc applies it to every thread.
        if unsafe { libc::setgid(gid) } != 0 {
            return Err(last_error(format_args!("cannot set gid {gid}")));
        }
    }
    if let Some(uid) = identity.uid {
        if identity.gid.is_none() {
            clear_supplementary_groups()?;
        }
        // SAFETY: setuid with a plain number; glibc applies it to every thread.
        if unsafe { libc::setuid(uid) } != 0 {
            return Err(last_error(format_args!("cannot set uid {uid}")));
        }
    }
    log::info!(
        "running as uid {} gid {}",
        current_uid(),
        // SAFETY: getgid cannot fail.
        unsafe { libc::getgid() }
    );
    Ok(())
}

/// Root's supplementary groups must not follow it into the unprivileged process. Only root
/// may change them; a process that is not root keeps its own (and its setgid/setuid to
/// another id fails just after, with the reason).
fn clear_supplementary_groups() -> Result<(), String> {
    if current_uid() != 0 {
        return Ok(());
    }
    // SAFETY: an empty list; glibc applies it to every thread.
    if unsafe { libc::setgroups(0, std::ptr::null()) } != 0 {
        return Err(last_error(format_args!(
            "cannot clear the supplementary groups"
        )));
    }
    Ok(())
}

fn current_uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

fn last_error(what: std::fmt::Arguments) -> String {
    format!(
        "{what}: {} (start pointsman as root to run it as another user)",
        std::io::Error::last_os_error()
    )
}

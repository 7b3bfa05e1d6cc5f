//! Process-level facts and limits: file descriptors, locked memory (io_uring buffers need it),
//! host name, user and group ids, the wall clock in Unix seconds; shutting down the process's
//! sockets to one address (`shutdown sessions`).

use std::net::SocketAddr;

/// Raises RLIMIT_NOFILE and RLIMIT_MEMLOCK to their hard limits (HAProxy does the former;
/// glommio's io_uring buffers need the latter).
pub fn raise_limits() {
    for resource in [libc::RLIMIT_NOFILE, libc::RLIMIT_MEMLOCK] {
        // SAFETY: getrlimit/setrlimit with a valid struct.
        unsafe {
            let mut limit: libc::rlimit = std::mem::zeroed();
            if libc::getrlimit(resource, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
                limit.rlim_cur = limit.rlim_max;
                libc::setrlimit(resource, &limit);
            }
        }
    }
}

/// Seconds since the Unix epoch (the clock of `lastchg`, `Uptime_sec` and state files).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Current RLIMIT_NOFILE (`Ulimit-n`).
pub fn nofile_limit() -> u64 {
    // SAFETY: getrlimit with a valid struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur
        } else {
            1024
        }
    }
}

/// HAProxy's rule without `maxconn`: each connection may need two descriptors (client and
/// server), keep a few for listeners and logs.
pub fn default_maxconn() -> u64 {
    (nofile_limit().saturating_sub(32) / 2).clamp(100, 1_000_000)
}

/// The host name (`node` in `show info`).
pub fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let ok = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) } == 0;
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(0);
    match std::str::from_utf8(&buffer[..end]) {
        Ok(name) if ok && !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}

/// The uid of a user name, or of a number written as one (`user 0`).
pub fn user_id(name: &str) -> Option<u32> {
    if let Ok(uid) = name.parse() {
        return Some(uid);
    }
    let name = std::ffi::CString::new(name).ok()?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: getpwnam_r writes into `entry` and `buffer`, both valid for their sizes.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        );
        (rc == 0 && !found.is_null()).then_some(entry.pw_uid)
    }
}

/// The gid of a group name, or of a number written as one.
pub fn group_id(name: &str) -> Option<u32> {
    if let Ok(gid) = name.parse() {
        return Some(gid);
    }
    let name = std::ffi::CString::new(name).ok()?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: getgrnam_r writes into `entry` and `buffer`, both valid for their sizes.
    unsafe {
        let mut entry: libc::group = std::mem::zeroed();
        let mut found: *mut libc::group = std::ptr::null_mut();
        let rc = libc::getgrnam_r(
            name.as_ptr(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        );
        (rc == 0 && !found.is_null()).then_some(entry.gr_gid)
    }
}

/// Shuts down (`SHUT_RDWR`) every socket of this process whose peer is `peer`; returns how
/// many. A request blocked reading such a socket wakes up at once with EOF. Used by
/// `shutdown sessions server`: it finds the in-flight connections of every shard from the
/// process's descriptor table, so the request path keeps no registry of them.
pub fn shutdown_sockets_connected_to(peer: SocketAddr) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let mut count = 0;
    for entry in entries.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if peer_address(fd) == Some(peer) {
            // SAFETY: shutdown on a descriptor number; on a descriptor closed meanwhile it
            // fails with EBADF/ENOTSOCK and does nothing.
            if unsafe { libc::shutdown(fd, libc::SHUT_RDWR) } == 0 {
                count += 1;
            }
        }
    }
    count
}

/// The peer of a connected IPv4/IPv6 socket, `None` for anything else.
fn peer_address(fd: i32) -> Option<SocketAddr> {
    // SAFETY: getpeername writes at most `len` bytes into the zeroed storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    let ok = unsafe {
        libc::getpeername(
            fd,
            (&mut storage as *mut libc::sockaddr_storage).cast(),
            &mut len,
        )
    } == 0;
    if !ok {
        return None;
    }
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says it is a sockaddr_in.
            let a: libc::sockaddr_in =
                unsafe { std::ptr::read((&storage as *const libc::sockaddr_storage).cast()) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::new(ip.into(), u16::from_be(a.sin_port)))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says it is a sockaddr_in6.
            let a: libc::sockaddr_in6 =
                unsafe { std::ptr::read((&storage as *const libc::sockaddr_storage).cast()) };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::new(ip.into(), u16::from_be(a.sin6_port)))
        }
        _ => None,
    }
}

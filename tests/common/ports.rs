//! Loopback ports: [`free_port`] hands out ports no other test gets, [`Forwarder`] relays one
//! port to another and can close it the way a firewall rule does.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A loopback port nobody listens on right now, never one handed out before in this process,
/// and (where the kernel's ephemeral range allows) not an ephemeral one: see
/// [`ports_below_ephemeral`].
pub fn free_port() -> u16 {
    let Some((first, count)) = ports_below_ephemeral() else {
        return TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
    };
    // Test processes may run side by side: each starts at its own place in the range.
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let start = std::process::id() as usize * 7919 % count;
    loop {
        let i = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(i < count, "free_port: every test port was handed out");
        let port = (first + (start + i) % count) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// The ports `free_port` hands out: from 10000 up to the start of the kernel's ephemeral range
/// (`ip_local_port_range`, 32768 by default). A port from `bind(":0")` is an ephemeral one, and
/// between the moment it is released and the moment the test's listener binds it, an outgoing
/// connection (a client of this test or another) can take it as its local port, or a client
/// dialling it can connect to itself; both were seen. `None` if the range starts too low.
fn ports_below_ephemeral() -> Option<(usize, usize)> {
    const FIRST: usize = 10_000;
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let ephemeral_start: usize = range.split_whitespace().next()?.parse().ok()?;
    let count = ephemeral_start.checked_sub(FIRST)?;
    (count >= 1_000).then_some((FIRST, count))
}

/// A TCP port forward on 127.0.0.1 (what the restart guide does with iptables): connections to
/// its port are relayed to `to`. [`Forwarder::close_port`] removes "the rule": new connections
/// are refused while established ones carry on, as conntrack keeps them.
pub struct Forwarder {
    pub port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
    relayed: std::sync::Arc<std::sync::Mutex<Vec<TcpStream>>>,
}

impl Forwarder {
    pub fn start(to: SocketAddr) -> Forwarder {
        use std::sync::{atomic::AtomicBool, Arc, Mutex};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let relayed: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let accept = {
            let (stop, relayed) = (stop.clone(), relayed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok((client, _)) = listener.accept() else {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    };
                    let _ = client.set_nonblocking(false);
                    let Ok(server) = TcpStream::connect(to) else {
                        continue;
                    };
                    let _ = (client.set_nodelay(true), server.set_nodelay(true));
                    let mut kept = relayed.lock().unwrap();
                    kept.push(client.try_clone().unwrap());
                    kept.push(server.try_clone().unwrap());
                    relay(client.try_clone().unwrap(), server.try_clone().unwrap());
                    relay(server, client);
                }
                // Dropping the listener closes the port.
            })
        };
        Forwarder {
            port,
            stop,
            accept: Some(accept),
            relayed,
        }
    }

    /// Stops accepting (the port refuses connections); relayed connections carry on.
    pub fn close_port(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.accept.take() {
            let _ = thread.join();
        }
    }
}

/// Copies `from` to `to` on a thread until EOF, then passes the half-close on.
fn relay(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.close_port();
        for stream in self.relayed.lock().unwrap().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

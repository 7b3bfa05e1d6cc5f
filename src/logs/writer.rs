//! The log writer: one plain thread per process that owns the log destinations (stdout,
//! stderr, UDP and unix datagram sockets) and writes the batches the shards hand it. A shard
//! never waits for it: batches go through a bounded channel, and a full channel drops the
//! batch (counted) rather than slow a request down.

use crate::config::{LogDestination, LogTarget};
use std::io::Write;
use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Batches waiting for the writer; beyond that, shards drop what they would add.
const QUEUE: usize = 1024;

/// Lines for one target, each ending in `\n`.
#[derive(Debug)]
pub struct Batch {
    pub target: usize,
    pub lines: Vec<u8>,
}

/// The target number of the end marker.
const END: usize = usize::MAX;

impl Batch {
    fn end() -> Batch {
        Batch {
            target: END,
            lines: Vec::new(),
        }
    }
}

/// The running writer: hand its sender to the shards, then [`LogWriter::finish`] after them.
pub struct LogWriter {
    sender: SyncSender<Batch>,
    thread: JoinHandle<()>,
}

impl LogWriter {
    /// Opens every destination and starts the thread.
    pub fn start(targets: &[LogTarget]) -> Result<LogWriter, String> {
        let outputs = targets
            .iter()
            .map(Output::open)
            .collect::<Result<Vec<_>, _>>()?;
        let (sender, receiver) = sync_channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_all(outputs, receiver))
            .map_err(|e| format!("cannot start the log writer thread: {e}"))?;
        Ok(LogWriter { sender, thread })
    }

    pub fn sender(&self) -> SyncSender<Batch> {
        self.sender.clone()
    }

    /// Waits for the batches already sent to be written (call it once every shard has made
    /// its last flush). Shards may outlive this call holding senders (their executors are not
    /// torn down), so the end is a marker in the queue, not a disconnected channel.
    pub fn finish(self) {
        if self.sender.send(Batch::end()).is_ok() {
            let _ = self.thread.join();
        }
    }
}

enum Output {
    Stdout,
    Stderr,
    Udp(UdpSocket),
    Unix(std::path::PathBuf, Option<UnixDatagram>),
}

impl Output {
    fn open(target: &LogTarget) -> Result<Output, String> {
        Ok(match &target.destination {
            LogDestination::Stdout => Output::Stdout,
            LogDestination::Stderr => Output::Stderr,
            LogDestination::Udp(addr) => {
                let local = if addr.is_ipv4() {
                    "0.0.0.0:0"
                } else {
                    "[::]:0"
                };
                let socket = UdpSocket::bind(local)
                    .and_then(|s| s.connect(addr).map(|()| s))
                    .map_err(|e| {
                        format!(
                            "{}: cannot open the log socket to {addr}: {e}",
                            target.location
                        )
                    })?;
                Output::Udp(socket)
            }
            // Connected on first use: a syslog daemon may start after us.
            LogDestination::Unix(path) => Output::Unix(path.clone(), None),
        })
    }

    fn write(&mut self, lines: &[u8]) {
        match self {
            Output::Stdout => {
                let _ = std::io::stdout().lock().write_all(lines);
            }
            Output::Stderr => {
                let _ = std::io::stderr().lock().write_all(lines);
            }
            Output::Udp(socket) => {
                for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    let _ = socket.send(line);
                }
            }
            Output::Unix(path, socket) => {
                if socket.is_none() {
                    *socket = UnixDatagram::unbound()
                        .and_then(|s| s.connect(&*path).map(|()| s))
                        .ok();
                }
                let Some(s) = socket else { return };
                for line in lines.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                    if s.send(line).is_err() {
                        // The daemon restarted: reconnect with the next batch.
                        *socket = None;
                        return;
                    }
                }
            }
        }
    }
}

fn write_all(mut outputs: Vec<Output>, batches: Receiver<Batch>) {
    while let Ok(batch) = batches.recv() {
        if batch.target == END {
            break;
        }
        if let Some(output) = outputs.get_mut(batch.target) {
            output.write(&batch.lines);
        }
    }
}

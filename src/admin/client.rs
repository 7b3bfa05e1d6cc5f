//! `pointsman ctl`: a runtime API client so nobody needs socat. With a command it runs it one-shot
//! (like `echo CMD | socat stdio SOCKET`); without one it opens an interactive session in prompt
//! mode with line editing and history.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// Replies must start within this time (hatop uses 1 s; we are more patient).
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A connected admin socket, split into its reading and writing halves.
struct Connection {
    reader: Box<dyn Read>,
    writer: Box<dyn Write>,
}

impl Connection {
    /// A unix socket path, or `ipv4@HOST:PORT` for a TCP admin socket.
    fn open(socket: &str) -> Result<Connection, String> {
        let failed = |e: std::io::Error| format!("cannot connect to {socket}: {e}");
        match socket.strip_prefix("ipv4@") {
            Some(addr) => {
                let stream = std::net::TcpStream::connect(addr).map_err(failed)?;
                stream
                    .set_read_timeout(Some(REPLY_TIMEOUT))
                    .map_err(failed)?;
                let writer = stream.try_clone().map_err(failed)?;
                Ok(Connection {
                    reader: Box::new(stream),
                    writer: Box::new(writer),
                })
            }
            None => {
                let stream = UnixStream::connect(socket).map_err(failed)?;
                stream
                    .set_read_timeout(Some(REPLY_TIMEOUT))
                    .map_err(failed)?;
                let writer = stream.try_clone().map_err(failed)?;
                Ok(Connection {
                    reader: Box::new(stream),
                    writer: Box::new(writer),
                })
            }
        }
    }

    fn send(&mut self, line: &str) -> Result<(), String> {
        self.writer
            .write_all(format!("{line}\n").as_bytes())
            .map_err(|e| format!("sending: {e}"))
    }
}

/// Runs `pointsman ctl -s SOCKET [COMMAND…]`.
pub fn run(socket: &str, command: &[String]) -> Result<(), String> {
    if command.is_empty() {
        interactive(socket)
    } else {
        let reply = one_shot(socket, &command.join(" "))?;
        print!("{reply}");
        Ok(())
    }
}

/// Sends one command line and returns everything the server wrote before closing.
pub fn one_shot(socket: &str, line: &str) -> Result<String, String> {
    let mut connection = Connection::open(socket)?;
    connection.send(line)?;
    let mut reply = Vec::new();
    connection
        .reader
        .read_to_end(&mut reply)
        .map_err(|e| format!("reading the reply: {e}"))?;
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// Reads until the prompt `"\n> "` (or the server closed); returns the reply without it.
fn read_until_prompt(reader: &mut dyn Read) -> Result<(String, bool), String> {
    let mut reply = Vec::new();
    let mut byte = [0u8; 4096];
    loop {
        if reply.ends_with(b"> ") && (reply.len() == 2 || reply.ends_with(b"\n> ")) {
            reply.truncate(reply.len() - 2);
            return Ok((String::from_utf8_lossy(&reply).into_owned(), true));
        }
        match reader.read(&mut byte) {
            Ok(0) => return Ok((String::from_utf8_lossy(&reply).into_owned(), false)),
            Ok(n) => reply.extend_from_slice(&byte[..n]),
            Err(e) => return Err(format!("reading the reply: {e}")),
        }
    }
}

fn interactive(socket: &str) -> Result<(), String> {
    let mut connection = Connection::open(socket)?;
    connection.send("prompt")?;
    read_until_prompt(&mut connection.reader)?;
    // Our own session: do not let the server's idle timeout end it while a human thinks.
    connection.send("set timeout cli 86400")?;
    read_until_prompt(&mut connection.reader)?;
    let mut editor = rustyline::DefaultEditor::new().map_err(|e| e.to_string())?;
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".pointsman_history"));
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    while let Ok(line) = editor.readline("> ") {
        let _ = editor.add_history_entry(line.as_str());
        if line.trim() == "quit" {
            break;
        }
        connection.send(&line)?;
        let (reply, open) = read_until_prompt(&mut connection.reader)?;
        print!("{reply}");
        if !open {
            println!("(connection closed by the server)");
            break;
        }
    }
    if let Some(path) = &history {
        let _ = editor.save_history(path);
    }
    Ok(())
}

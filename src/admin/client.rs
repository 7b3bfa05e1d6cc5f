//! `pointsman ctl`: a runtime API client so nobody needs socat. With a command it runs it one-shot
//! (like `echo CMD | socat stdio SOCKET`); without one it opens an interactive session in prompt
//! mode with line editing and history. `ctl … canary server …` follows the canary it started
//! and prints each change of its `show canary` row; exit 0 when promoted, 1 otherwise.

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
    /// A unix socket path, or `ipv4@HOST:PORT` for a TCP admin socket. Either becomes a
    /// `socket2::Socket`, so the timeout and the split are written once for both.
    fn open(socket: &str) -> Result<Connection, String> {
        let failed = |e: std::io::Error| format!("cannot connect to {socket}: {e}");
        let stream: socket2::Socket = match socket.strip_prefix("ipv4@") {
            Some(addr) => std::net::TcpStream::connect(addr).map_err(failed)?.into(),
            None => UnixStream::connect(socket).map_err(failed)?.into(),
        };
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .map_err(failed)?;
        let writer = stream.try_clone().map_err(failed)?;
        Ok(Connection {
            reader: Box::new(stream),
            writer: Box::new(writer),
        })
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
    } else if command.first().is_some_and(|w| w == "canary") {
        follow_canary(socket, &command.join(" "))
    } else {
        let reply = one_shot(socket, &command.join(" "))?;
        print!("{reply}");
        Ok(())
    }
}

/// How often `ctl … canary …` looks at `show canary` while it follows one.
const CANARY_POLL: Duration = Duration::from_millis(100);

/// `pointsman ctl -s S canary server B/S …`: starts the canary, then prints a line each time
/// its step or verdict changes, until it ends: Ok when promoted; an error (exit 1) when it
/// was refused, rolled back, aborted or ended otherwise.
fn follow_canary(socket: &str, line: &str) -> Result<(), String> {
    let reply = one_shot(socket, line)?;
    print!("{reply}");
    let name = reply
        .strip_prefix("Canary started on ")
        .and_then(|rest| rest.split(':').next())
        .ok_or_else(|| "the canary did not start".to_string())?
        .to_string();
    let mut last = String::new();
    loop {
        let rows = one_shot(socket, &format!("show canary {name}"))?;
        let Some(row) = rows.lines().rev().find(|l| l.starts_with(&name)) else {
            return Err(format!("show canary does not list {name}"));
        };
        if row != last {
            println!("{row}");
            last = row.to_string();
        }
        match row.split_whitespace().nth(1) {
            Some("running") => std::thread::sleep(CANARY_POLL),
            Some("promoted") => return Ok(()),
            other => return Err(format!("canary {name}: {}", other.unwrap_or("?"))),
        }
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

/// The prompt that ends each reply in prompt mode (the output's own `"\n"`, then `"> "`).
const PROMPT: &[u8] = b"\n> ";

/// Reads the replies to `count` commands, each ended by the prompt, or until the server
/// closed. Returns them as one-shot mode would print them (each prompt turned back into the
/// `"\n"` terminator) and whether the connection is still open.
fn read_replies(reader: &mut dyn Read, count: usize) -> Result<(String, bool), String> {
    let mut replies = Vec::new();
    let mut chunk = [0u8; 4096];
    let text = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes).replace(std::str::from_utf8(PROMPT).unwrap_or("\n> "), "\n")
    };
    loop {
        let prompts = replies
            .windows(PROMPT.len())
            .filter(|w| *w == PROMPT)
            .count();
        if prompts >= count && replies.ends_with(PROMPT) {
            return Ok((text(&replies), true));
        }
        match reader.read(&mut chunk) {
            Ok(0) => return Ok((text(&replies), false)),
            Ok(n) => replies.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("reading the reply: {e}")),
        }
    }
}

/// How many commands the server runs for one line: they are separated by unescaped `;`.
fn commands_in(line: &str) -> usize {
    let mut count = 1;
    let mut bytes = line.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => {
                bytes.next();
            }
            b';' => count += 1,
            _ => {}
        }
    }
    count
}

fn interactive(socket: &str) -> Result<(), String> {
    let mut connection = Connection::open(socket)?;
    connection.send("prompt")?;
    read_replies(&mut connection.reader, 1)?;
    // Our own session: do not let the server's idle timeout end it while a human thinks.
    connection.send("set timeout cli 86400")?;
    read_replies(&mut connection.reader, 1)?;
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
        let (reply, open) = read_replies(&mut connection.reader, commands_in(&line))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_reply_per_command_of_the_line() {
        assert_eq!(commands_in("show version"), 1);
        assert_eq!(commands_in("show version;show cli level"), 2);
        assert_eq!(commands_in("show version\\;x"), 1);
        assert_eq!(commands_in("a;;b"), 3);
        let mut two: &[u8] = b"pointsman-0.1.0\n\n> admin\n\n> ";
        assert_eq!(
            read_replies(&mut two, 2).unwrap(),
            ("pointsman-0.1.0\n\nadmin\n\n".to_string(), true)
        );
        let mut no_blank_line: &[u8] = b"Server deleted.\n> ";
        assert_eq!(
            read_replies(&mut no_blank_line, 1).unwrap(),
            ("Server deleted.\n".to_string(), true)
        );
        let mut closed: &[u8] = b"\n";
        assert_eq!(
            read_replies(&mut closed, 1).unwrap(),
            ("\n".to_string(), false)
        );
    }
}

//! `--samples FILE.csv`: every request of the run, one line each, for placing slow requests
//! against the `--at` switches (the JSON's windows and timeline are a second wide; a switch
//! every 100 ms needs the raw times).

use std::fmt::Write as _;

use super::report::Report;

/// The header and one line per request: times in µs from the start of the run.
pub fn samples_csv(report: &Report) -> String {
    let mut out = String::from("seq,intended_us,sent_us,done_us,status,error,server\n");
    for s in &report.samples {
        let status = s.status.map(|c| c.to_string()).unwrap_or_default();
        let error = s.error.map(|e| e.key()).unwrap_or_default();
        let server = s
            .server
            .and_then(|i| report.server_names.get(usize::from(i)))
            .map(|name| quoted(name))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{},{},{},{},{status},{error},{server}",
            s.seq,
            s.intended_ns / 1000,
            s.sent_ns / 1000,
            s.done_ns / 1000,
        );
    }
    out
}

/// A CSV field in double quotes, inner quotes doubled (server names are free text).
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_double_inner_quotes() {
        assert_eq!(quoted("a,\"b\""), "\"a,\"\"b\"\"\"");
    }
}

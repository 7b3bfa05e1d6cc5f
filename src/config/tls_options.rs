//! The TLS options a `bind` line and global `ssl-default-bind-options` share: protocol
//! versions (`ssl-min-ver`, `ssl-max-ver`, `no-tlsv1x`, `force-tlsv1x`), `no-tls-tickets` and
//! `prefer-client-ciphers`,
//! plus the value checks of `ciphers`, `ciphersuites` and `curves` (kept as written: the
//! `tls` module maps the names to rustls's).

use super::model::{TlsOptions, TlsVersion};

/// The versions `ssl-min-ver` / `ssl-max-ver` take, in HAProxy's spelling.
const VERSION_NAMES: [(&str, TlsVersion); 5] = [
    ("SSLv3", TlsVersion::Ssl3),
    ("TLSv1.0", TlsVersion::Tls10),
    ("TLSv1.1", TlsVersion::Tls11),
    ("TLSv1.2", TlsVersion::Tls12),
    ("TLSv1.3", TlsVersion::Tls13),
];

fn version(keyword: &str, value: &str) -> Result<TlsVersion, String> {
    VERSION_NAMES
        .iter()
        .find(|(name, _)| *name == value)
        .map(|(_, version)| *version)
        .ok_or_else(|| {
            format!("'{keyword}' : unknown value '{value}', expected SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3")
        })
}

/// Applies one TLS option word (and its value, taken from `value` when it has one) to
/// `options`. `Ok(false)`: not a TLS option.
pub fn apply_tls_option(
    options: &mut TlsOptions,
    word: &str,
    value: &mut dyn FnMut() -> Result<String, String>,
) -> Result<bool, String> {
    match word {
        "ssl-min-ver" => options.min_version = Some(version(word, &value()?)?),
        "ssl-max-ver" => options.max_version = Some(version(word, &value()?)?),
        // rustls never speaks a version below TLS 1.2: there is nothing to turn off.
        "no-sslv3" | "no-tlsv10" | "no-tlsv11" => {}
        "no-tlsv12" => options.min_version = Some(TlsVersion::Tls13),
        "no-tlsv13" => options.max_version = Some(TlsVersion::Tls12),
        "force-tlsv12" => force(options, TlsVersion::Tls12),
        "force-tlsv13" => force(options, TlsVersion::Tls13),
        "no-tls-tickets" => options.no_tls_tickets = true,
        "prefer-client-ciphers" => options.prefer_client_ciphers = true,
        "ciphers" => options.ciphers = Some(value()?),
        "ciphersuites" => options.ciphersuites = Some(value()?),
        "curves" => options.curves = Some(value()?),
        _ => return Ok(false),
    }
    Ok(true)
}

fn force(options: &mut TlsOptions, version: TlsVersion) {
    options.min_version = Some(version);
    options.max_version = Some(version);
}

/// `ssl-default-bind-options OPTION…`: each a TLS option (`ssl-min-ver` takes its value from
/// the next word).
pub fn parse_default_bind_options(options: &mut TlsOptions, args: &[String]) -> Result<(), String> {
    parse_default_options("ssl-default-bind-options", options, args)
}

/// `ssl-default-server-options OPTION…`: the same options, for TLS to servers.
pub fn parse_default_server_options(
    options: &mut TlsOptions,
    args: &[String],
) -> Result<(), String> {
    parse_default_options("ssl-default-server-options", options, args)
}

fn parse_default_options(
    keyword: &str,
    options: &mut TlsOptions,
    args: &[String],
) -> Result<(), String> {
    if args.is_empty() {
        return Err(format!("'{keyword}' needs at least one option"));
    }
    let mut words = args.iter();
    while let Some(word) = words.next() {
        let mut value = || {
            words
                .next()
                .cloned()
                .ok_or_else(|| format!("'{keyword}' : missing value for '{word}'"))
        };
        let known = !matches!(word.as_str(), "ciphers" | "ciphersuites" | "curves")
            && apply_tls_option(options, word, &mut value)?;
        if !known {
            return Err(format!(
                "'{keyword}' : unknown or unsupported option '{word}'"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(words: &[&str]) -> Result<TlsOptions, String> {
        let mut options = TlsOptions::default();
        let args: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        parse_default_bind_options(&mut options, &args).map(|_| options)
    }

    #[test]
    fn versions_and_tickets_read_as_haproxy_writes_them() {
        let options = parse(&["ssl-min-ver", "TLSv1.2", "no-tls-tickets"]).unwrap();
        assert_eq!(options.min_version, Some(TlsVersion::Tls12));
        assert!(options.no_tls_tickets);
        let options = parse(&["no-sslv3", "no-tlsv10", "no-tlsv11", "no-tlsv13"]).unwrap();
        assert_eq!(options.max_version, Some(TlsVersion::Tls12));
        let options = parse(&["force-tlsv13"]).unwrap();
        assert_eq!(options.min_version, Some(TlsVersion::Tls13));
        assert_eq!(options.max_version, Some(TlsVersion::Tls13));
    }

    #[test]
    fn unknown_versions_and_options_are_errors() {
        assert!(parse(&["ssl-min-ver", "TLSv1.4"])
            .unwrap_err()
            .contains("'TLSv1.4'"));
        assert!(parse(&["ssl-min-ver"])
            .unwrap_err()
            .contains("missing value"));
        assert!(parse(&["allow-0rtt"]).unwrap_err().contains("'allow-0rtt'"));
    }
}

//! A bind's TLS options mapped onto what rustls (ring provider) has: the protocol versions of
//! `ssl-min-ver` / `ssl-max-ver`, the suites of `ciphersuites` (TLS 1.3) and `ciphers`
//! (TLS 1.2, OpenSSL's names), the groups of `curves`. What rustls cannot honour is said once,
//! in a warning naming the option, or is an error when nothing usable is left.

use super::names::cipher_name;
use crate::config::{TlsOptions, TlsVersion};
use rustls::crypto::{ring, CryptoProvider, SupportedKxGroup};
use rustls::{NamedGroup, SupportedCipherSuite, SupportedProtocolVersion};

/// What a bind offers, and what it was asked for that it cannot offer.
pub struct Choices {
    pub provider: CryptoProvider,
    pub versions: Vec<&'static SupportedProtocolVersion>,
    pub warnings: Vec<String>,
}

/// The versions, suites and groups `options` ask for.
pub fn choose(options: &TlsOptions) -> Result<Choices, String> {
    let mut warnings = Vec::new();
    // ring, not aws-lc-rs: no cmake/C build. rustls deprecates ring's provider for lacking
    // the post-quantum X25519MLKEM768 group; clients that offer it also offer X25519.
    #[allow(deprecated)]
    let mut provider = ring::default_provider();
    let versions = versions(options, &mut warnings)?;
    let (tls13, tls12): (Vec<_>, Vec<_>) = (provider.cipher_suites.iter().copied())
        .partition(|suite| matches!(suite, SupportedCipherSuite::Tls13(_)));
    let tls13 = match &options.ciphersuites {
        Some(list) => pick_suites("ciphersuites", list, &tls13, &mut warnings)?,
        None => tls13,
    };
    let tls12 = match &options.ciphers {
        Some(list) => pick_tls12_suites(list, &tls12, &mut warnings),
        None => tls12,
    };
    provider.cipher_suites = tls13.into_iter().chain(tls12).collect();
    if let Some(list) = &options.curves {
        provider.kx_groups = pick_groups(list, &provider.kx_groups, &mut warnings)?;
    }
    Ok(Choices {
        provider,
        versions,
        warnings,
    })
}

fn versions(
    options: &TlsOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<&'static SupportedProtocolVersion>, String> {
    let min = options.min_version.unwrap_or(TlsVersion::Tls12);
    let max = options.max_version.unwrap_or(TlsVersion::Tls13);
    if max < TlsVersion::Tls12 {
        return Err(
            "'ssl-max-ver' below TLSv1.2 cannot be served: rustls speaks TLSv1.2 and TLSv1.3 only"
                .into(),
        );
    }
    if min < TlsVersion::Tls12 {
        warnings.push(
            "'ssl-min-ver' below TLSv1.2: rustls speaks TLSv1.2 and TLSv1.3 only, clients \
             limited to older versions are refused"
                .into(),
        );
    }
    let versions: Vec<_> = [
        (TlsVersion::Tls12, &rustls::version::TLS12),
        (TlsVersion::Tls13, &rustls::version::TLS13),
    ]
    .into_iter()
    .filter(|(version, _)| (min..=max).contains(version))
    .map(|(_, supported)| supported)
    .collect();
    if versions.is_empty() {
        return Err("'ssl-min-ver' is above 'ssl-max-ver': no version is left".into());
    }
    Ok(versions)
}

/// The suites of `available` named in `list` (`:`-separated), in `list`'s order.
fn pick_suites(
    option: &str,
    list: &str,
    available: &[SupportedCipherSuite],
    warnings: &mut Vec<String>,
) -> Result<Vec<SupportedCipherSuite>, String> {
    let (picked, unknown) = by_name(list.split(':'), available);
    if !unknown.is_empty() {
        warnings.push(format!(
            "'{option}': rustls has no {}: {} not offered",
            unknown.join(", "),
            if unknown.len() == 1 {
                "it is"
            } else {
                "they are"
            }
        ));
    }
    if picked.is_empty() {
        return Err(format!(
            "'{option} {list}': none of these is a suite rustls has ({})",
            names(available)
        ));
    }
    Ok(picked)
}

/// `ciphers`: OpenSSL's cipher-string keywords (`HIGH`, `ECDHE+AESGCM`, `!aNULL`) are not
/// interpreted; the suite names in it that rustls has are offered in the list's order, and a
/// list naming none of them leaves rustls's TLS 1.2 suites (all ECDHE with an AEAD).
fn pick_tls12_suites(
    list: &str,
    available: &[SupportedCipherSuite],
    warnings: &mut Vec<String>,
) -> Vec<SupportedCipherSuite> {
    let tokens = list.split([':', ',', ' ']).filter(|t| !t.is_empty());
    let (picked, unknown) = by_name(tokens, available);
    if picked.is_empty() {
        warnings.push(format!(
            "'ciphers {list}': no suite rustls has is named, OpenSSL keywords are not \
             interpreted: TLSv1.2 offers {}",
            names(available)
        ));
        return available.to_vec();
    }
    if !unknown.is_empty() {
        warnings.push(format!(
            "'ciphers': not honoured (rustls has no such suite, or an OpenSSL keyword): {}",
            unknown.join(", ")
        ));
    }
    picked
}

/// The suites of `available` named among `tokens`, and the tokens that name none.
fn by_name<'a>(
    tokens: impl Iterator<Item = &'a str>,
    available: &[SupportedCipherSuite],
) -> (Vec<SupportedCipherSuite>, Vec<&'a str>) {
    let mut picked: Vec<SupportedCipherSuite> = Vec::new();
    let mut unknown = Vec::new();
    for token in tokens {
        match available.iter().find(|s| cipher_name(s.suite()) == token) {
            Some(suite) if !picked.iter().any(|p| p.suite() == suite.suite()) => {
                picked.push(*suite)
            }
            Some(_) => {}
            None => unknown.push(token),
        }
    }
    (picked, unknown)
}

fn names(suites: &[SupportedCipherSuite]) -> String {
    let names: Vec<_> = suites.iter().map(|s| cipher_name(s.suite())).collect();
    names.join(":")
}

/// OpenSSL's names (and aliases) of the groups rustls's ring provider has.
fn group_of(name: &str) -> Option<NamedGroup> {
    match name {
        "X25519" | "x25519" => Some(NamedGroup::X25519),
        "P-256" | "prime256v1" | "secp256r1" => Some(NamedGroup::secp256r1),
        "P-384" | "secp384r1" => Some(NamedGroup::secp384r1),
        _ => None,
    }
}

fn pick_groups(
    list: &str,
    available: &[&'static dyn SupportedKxGroup],
    warnings: &mut Vec<String>,
) -> Result<Vec<&'static dyn SupportedKxGroup>, String> {
    let mut picked: Vec<&'static dyn SupportedKxGroup> = Vec::new();
    let mut unknown = Vec::new();
    for name in list.split(':') {
        let group = group_of(name).and_then(|g| available.iter().find(|a| a.name() == g));
        match group {
            Some(group) if !picked.iter().any(|p| p.name() == group.name()) => picked.push(*group),
            Some(_) => {}
            None => unknown.push(name),
        }
    }
    if picked.is_empty() {
        return Err(format!(
            "'curves {list}': none of these is a group rustls has (X25519, P-256, P-384)"
        ));
    }
    if !unknown.is_empty() {
        warnings.push(format!(
            "'curves': rustls has no {}: not offered",
            unknown.join(", ")
        ));
    }
    Ok(picked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(edit: impl FnOnce(&mut TlsOptions)) -> TlsOptions {
        let mut options = TlsOptions::default();
        edit(&mut options);
        options
    }

    fn suite_names(choices: &Choices) -> String {
        names(&choices.provider.cipher_suites)
    }

    #[test]
    fn tls13_names_pick_those_suites_in_order_and_keep_tls12() {
        let choices = choose(&options(|o| {
            o.ciphersuites = Some("TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256".into())
        }))
        .unwrap();
        assert!(suite_names(&choices).starts_with("TLS_CHACHA20_POLY1305_SHA256:ECDHE-"));
        assert_eq!(choices.warnings.len(), 1);
        assert!(choices.warnings[0].contains("TLS_AES_128_CCM_SHA256"));
    }

    #[test]
    fn a_mozilla_cipher_list_keeps_the_names_rustls_has() {
        let list =
            "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256";
        let choices = choose(&options(|o| o.ciphers = Some(list.into()))).unwrap();
        assert!(suite_names(&choices)
            .ends_with(":ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"));
        assert!(choices.warnings[0].contains("DHE-RSA-AES128-GCM-SHA256"));
        let keywords = choose(&options(|o| o.ciphers = Some("HIGH:!aNULL".into()))).unwrap();
        assert!(keywords.warnings[0].contains("not interpreted"));
    }

    #[test]
    fn versions_outside_tls12_and_tls13_are_refused_or_warned() {
        let only13 = choose(&options(|o| o.min_version = Some(TlsVersion::Tls13))).unwrap();
        assert_eq!(only13.versions, vec![&rustls::version::TLS13]);
        let old = choose(&options(|o| o.min_version = Some(TlsVersion::Tls10))).unwrap();
        assert_eq!(old.versions.len(), 2);
        assert_eq!(old.warnings.len(), 1);
        assert!(choose(&options(|o| o.max_version = Some(TlsVersion::Tls11))).is_err());
        let crossed = options(|o| {
            o.min_version = Some(TlsVersion::Tls13);
            o.max_version = Some(TlsVersion::Tls12);
        });
        assert!(choose(&crossed).is_err());
    }

    #[test]
    fn curves_map_openssl_names_and_refuse_an_empty_choice() {
        let choices = choose(&options(|o| o.curves = Some("prime256v1:P-521".into()))).unwrap();
        let groups: Vec<_> = choices
            .provider
            .kx_groups
            .iter()
            .map(|g| g.name())
            .collect();
        assert_eq!(groups, vec![NamedGroup::secp256r1]);
        assert!(choices.warnings[0].contains("P-521"));
        assert!(choose(&options(|o| o.curves = Some("X448".into()))).is_err());
    }
}

//! The few parts of an X.509 certificate pointsman reads itself: the subject's name (its
//! common names for SNI selection, its DN in HAProxy's `/C=…/CN=…` form for `ssl_c_s_dn`)
//! and the DNS names of the subjectAltName extension.
//!
//! A small DER walker instead of an X.509 crate: rustls and webpki verify certificates but do
//! not expose the subject, and these three reads need only tag-length-value stepping.

/// One DER element: its tag and its contents.
#[derive(Debug, Clone, Copy)]
struct Element<'a> {
    tag: u8,
    contents: &'a [u8],
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
/// `[0] EXPLICIT Version` in a TBSCertificate.
const VERSION: u8 = 0xa0;
/// `[3] EXPLICIT Extensions` in a TBSCertificate.
const EXTENSIONS: u8 = 0xa3;
/// `dNSName [2] IMPLICIT IA5String` in a GeneralName.
const DNS_NAME: u8 = 0x82;
/// 2.5.29.17, subjectAltName.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
/// 2.5.4.3, commonName.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// Reads DER elements one after the other.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(rest: &'a [u8]) -> Reader<'a> {
        Reader { rest }
    }

    fn next(&mut self) -> Option<Element<'a>> {
        let (&tag, rest) = self.rest.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (length, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            // Long form: the low bits say how many length bytes follow (at most 4 here).
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let length = rest[..count]
                .iter()
                .fold(0usize, |n, &b| (n << 8) | usize::from(b));
            (length, &rest[count..])
        };
        if rest.len() < length {
            return None;
        }
        self.rest = &rest[length..];
        Some(Element {
            tag,
            contents: &rest[..length],
        })
    }

    /// The next element if it has `tag`, else nothing is consumed.
    fn next_if(&mut self, tag: u8) -> Option<Element<'a>> {
        let saved = self.rest;
        match self.next() {
            Some(element) if element.tag == tag => Some(element),
            _ => {
                self.rest = saved;
                None
            }
        }
    }
}

/// The fields of a certificate's TBSCertificate that are read here.
struct Tbs<'a> {
    subject: &'a [u8],
    extensions: Option<&'a [u8]>,
}

fn tbs(der: &[u8]) -> Option<Tbs<'_>> {
    let certificate = Reader::new(der).next().filter(|e| e.tag == SEQUENCE)?;
    let tbs = Reader::new(certificate.contents)
        .next()
        .filter(|e| e.tag == SEQUENCE)?;
    let mut fields = Reader::new(tbs.contents);
    fields.next_if(VERSION);
    // serialNumber, signature, issuer, validity, then the subject.
    for _ in 0..4 {
        fields.next()?;
    }
    let subject = fields.next().filter(|e| e.tag == SEQUENCE)?.contents;
    let mut extensions = None;
    while let Some(field) = fields.next() {
        if field.tag == EXTENSIONS {
            extensions = Reader::new(field.contents)
                .next()
                .filter(|e| e.tag == SEQUENCE)
                .map(|e| e.contents);
        }
    }
    Some(Tbs {
        subject,
        extensions,
    })
}

/// Each attribute of a Name (a sequence of RDN sets), in order: its OID bytes and value.
fn attributes(name: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut found = Vec::new();
    let mut rdns = Reader::new(name);
    while let Some(rdn) = rdns.next() {
        if rdn.tag != SET {
            break;
        }
        let mut pairs = Reader::new(rdn.contents);
        while let Some(pair) = pairs.next() {
            let mut parts = Reader::new(pair.contents);
            if let (Some(oid), Some(value)) = (parts.next_if(OID), parts.next()) {
                found.push((oid.contents, value.contents));
            }
        }
    }
    found
}

/// The names a server certificate is for, as HAProxy indexes them for SNI: every DNS name
/// of its subjectAltName, then every common name of its subject; lowercase, once each.
pub fn server_names(der: &[u8]) -> Vec<String> {
    let Some(tbs) = tbs(der) else {
        return Vec::new();
    };
    let mut names: Vec<String> = Vec::new();
    let mut add = |bytes: &[u8]| {
        if let Ok(text) = std::str::from_utf8(bytes) {
            let name = text.to_ascii_lowercase();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
        }
    };
    for dns in tbs.extensions.map(alt_dns_names).unwrap_or_default() {
        add(dns);
    }
    for (oid, value) in attributes(tbs.subject) {
        if oid == COMMON_NAME {
            add(value);
        }
    }
    names
}

/// The `dNSName` entries of the subjectAltName extension among `extensions`.
fn alt_dns_names(extensions: &[u8]) -> Vec<&[u8]> {
    let mut names = Vec::new();
    let mut each = Reader::new(extensions);
    while let Some(extension) = each.next() {
        let mut parts = Reader::new(extension.contents);
        let Some(oid) = parts.next_if(OID) else {
            continue;
        };
        parts.next_if(BOOLEAN);
        let Some(value) = parts.next_if(OCTET_STRING) else {
            continue;
        };
        if oid.contents != SUBJECT_ALT_NAME {
            continue;
        }
        if let Some(general_names) = Reader::new(value.contents).next_if(SEQUENCE) {
            let mut entries = Reader::new(general_names.contents);
            while let Some(entry) = entries.next() {
                if entry.tag == DNS_NAME {
                    names.push(entry.contents);
                }
            }
        }
    }
    names
}

/// The subject's attributes in certificate order: OpenSSL's short name where it has one
/// (`CN`, `O`), else the dotted OID, and the value.
pub fn subject(der: &[u8]) -> Option<Vec<(String, String)>> {
    let tbs = tbs(der)?;
    let named = attributes(tbs.subject).into_iter().map(|(oid, value)| {
        let name = short_name(oid).map_or_else(|| dotted(oid), str::to_string);
        (name, String::from_utf8_lossy(value).into_owned())
    });
    Some(named.collect())
}

/// The subject's DN as HAProxy's `ssl_c_s_dn` gives it (OpenSSL's one-line form):
/// `/C=FR/O=Example/CN=client`.
pub fn subject_dn(der: &[u8]) -> Option<String> {
    let attributes = subject(der)?;
    Some(
        attributes
            .iter()
            .map(|(name, value)| format!("/{name}={value}"))
            .collect(),
    )
}

/// OpenSSL's short names of the usual DN attributes.
fn short_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "street",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x0c] => "title",
        [0x55, 0x04, 0x2a] => "GN",
        [0x55, 0x04, 0x04] => "SN",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        _ => return None,
    })
}

/// An OID's dotted form (`2.5.4.97`).
fn dotted(oid: &[u8]) -> String {
    let mut arcs = Vec::new();
    let mut value: u64 = 0;
    for &byte in oid {
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            arcs.push(value);
            value = 0;
        }
    }
    let Some((&first, rest)) = arcs.split_first() else {
        return String::new();
    };
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    std::iter::once(a)
        .chain(std::iter::once(b))
        .chain(rest.iter().copied())
        .map(|arc| arc.to_string())
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_oid_reads_in_dotted_form() {
        assert_eq!(dotted(&[0x55, 0x04, 0x61]), "2.5.4.97");
        assert_eq!(
            dotted(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            "1.2.840.113549"
        );
    }

    #[test]
    fn truncated_or_overlong_elements_end_the_walk() {
        assert!(Reader::new(&[0x30, 0x05, 0x01]).next().is_none());
        assert!(Reader::new(&[0x30, 0x85, 1, 1, 1, 1, 1]).next().is_none());
        assert!(server_names(&[0x30, 0x00]).is_empty());
        assert!(subject_dn(b"garbage").is_none());
    }
}

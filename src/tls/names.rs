//! A client's TLS session as the `ssl_fc*` and `ssl_c_*` fetches read it, in OpenSSL's names (HAProxy's):
//! `TLSv1.3`, `TLS_AES_256_GCM_SHA384`, `ECDHE-ECDSA-AES128-GCM-SHA256`.

use crate::rules::TlsFacts;
use rustls::{CipherSuite, ProtocolVersion, ServerConnection};

/// The facts of a handshaken connection.
pub fn facts(connection: &ServerConnection) -> TlsFacts<'_> {
    TlsFacts {
        sni: connection.server_name(),
        protocol: connection.protocol_version().map_or("", protocol_name),
        cipher: (connection.negotiated_cipher_suite()).map_or("", |s| cipher_name(s.suite())),
        alpn: connection.alpn_protocol(),
        client_cert: (connection.peer_certificates())
            .and_then(|chain| chain.first())
            .map(|leaf| leaf.as_ref()),
    }
}

pub fn protocol_name(version: ProtocolVersion) -> &'static str {
    match version {
        ProtocolVersion::TLSv1_3 => "TLSv1.3",
        ProtocolVersion::TLSv1_2 => "TLSv1.2",
        _ => "",
    }
}

/// OpenSSL's name of each suite the ring provider offers.
pub fn cipher_name(suite: CipherSuite) -> &'static str {
    match suite {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        CipherSuite::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => {
            "ECDHE-ECDSA-CHACHA20-POLY1305"
        }
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => "",
    }
}

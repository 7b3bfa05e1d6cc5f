//! The PROXY protocol header parser on arbitrary bytes: never panic, a header's length is
//! within the input and its limits, every prefix of a complete header is `Incomplete`, and a
//! header re-encoded from the addresses it carried parses back to them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pointsman::proxy::proxy_protocol::{
    encode_v1, encode_v2, parse, Parsed, V1_MAX_LEN, V2_MAX_LEN,
};

fuzz_target!(|data: &[u8]| {
    let Ok(Parsed::Header { len, addresses }) = parse(data) else {
        return;
    };
    assert!(len <= data.len() && len <= V1_MAX_LEN.max(V2_MAX_LEN));
    for cut in 0..len {
        assert_eq!(parse(&data[..cut]), Ok(Parsed::Incomplete), "prefix {cut} of {len}");
    }
    if let Some((source, destination)) = addresses {
        for encode in [encode_v1, encode_v2] {
            let mut out = Vec::new();
            encode(source, destination, &mut out);
            let again = parse(&out);
            assert_eq!(
                again,
                Ok(Parsed::Header {
                    len: out.len(),
                    addresses: Some((source, destination)),
                })
            );
        }
    }
});

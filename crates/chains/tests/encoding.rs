//! Text decoders used at the API boundary.
// Tests may panic on unexpected values: that is how they fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tandem_chains::{ErrorKind, encoding};

#[test]
fn hex_with_and_without_prefix() {
    assert_eq!(
        encoding::decode_hex("data", "0xdeadBEEF").unwrap(),
        [0xde, 0xad, 0xbe, 0xef]
    );
    assert_eq!(
        encoding::decode_hex("data", "0XDEAD").unwrap(),
        [0xde, 0xad]
    );
    assert_eq!(encoding::decode_hex("data", "beef").unwrap(), [0xbe, 0xef]);
    assert_eq!(
        encoding::decode_hex("data", "0x").unwrap(),
        Vec::<u8>::new()
    );
    assert_eq!(encoding::encode_hex(&[0xde, 0xad]), "0xdead");
}

#[test]
fn bad_hex() {
    for bad in ["0xabc", "0xzz", "0x0x00", " 00"] {
        let error = encoding::decode_hex("message", bad).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidHex, "{bad}");
        assert_eq!(error.field, "message");
    }
}

#[test]
fn base64_round_trip_and_errors() {
    let bytes = [0u8, 1, 2, 250, 255];
    let text = encoding::encode_base64(&bytes);
    assert_eq!(text, "AAEC+v8=");
    assert_eq!(
        encoding::decode_base64("transaction", &text).unwrap(),
        bytes
    );
    for bad in ["AAEC+v8", "AAEC-v8=", "%%%%"] {
        let error = encoding::decode_base64("transaction", bad).unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidBase64, "{bad}");
        assert_eq!(error.to_string().split(':').next(), Some("transaction"));
    }
}

//! Revocation-list decoding: any bytes are refused or (never, without the signing key) accepted
//! as a list; nothing panics.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use licet_verifier::RevocationList;

fuzz_target!(|data: &[u8]| {
    let key = common::key();
    assert!(RevocationList::verify(data, &key, None).is_err());
});

//! COSE_Key parsing: any bytes give a key whose id and algorithm are its own, or an error;
//! nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use licet_verifier::PublicKey;

fuzz_target!(|data: &[u8]| {
    if let Ok(k) = PublicKey::from_cose_key(data) {
        // A key read from a COSE_Key is the key its SPKI says.
        let again = PublicKey::from_spki_der(&k.to_spki_der()).expect("round trip");
        assert_eq!(again.kid(), k.kid());
        assert_eq!(again.algorithm(), k.algorithm());
    }
});

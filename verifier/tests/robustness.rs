//! No input makes the verifier panic: every truncation of the golden tokens, thousands of
//! random byte changes, and random bytes, through decoding, verification, the text and armored
//! forms and the revocation-list parser. Each must come back as `Ok` or an `Error`.

use std::path::Path;

use licet_verifier::text::{self, LABEL_LICENSE, LABEL_REVOCATION_LIST};
use licet_verifier::{Context, PublicKey, RevocationList, UnverifiedToken};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn exercise(bytes: &[u8], keys: &[PublicKey]) {
    let ents = ["pro"];
    let ctx = Context::new(1_800_000_000, "acme-pro")
        .fingerprint("fp")
        .domain("example.com")
        .entitlements(&ents);
    if let Ok(t) = UnverifiedToken::decode(bytes) {
        let _ = t
            .unverified_claims()
            .map(|c| (c.entitlements.iter().count(), c.metadata.iter().count()));
        let _ = t.verify(keys, &ctx);
    }
    if let Ok(list) = RevocationList::verify(bytes, keys, Some(1)) {
        let _ = list.contains_token(&[0; 16]);
    }
    let mut buf = [0u8; 8192];
    if let Ok(s) = core::str::from_utf8(bytes) {
        let _ = text::decode_text(s, &mut buf[..bytes.len() / 2]);
        let _ = text::decode_armor(s, LABEL_LICENSE, &mut buf[..bytes.len() / 3]);
        let _ = text::decode_armor(s, LABEL_REVOCATION_LIST, &mut buf);
    }
}

#[test]
fn no_input_panics() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/vectors");
    let (raw, _, _) = licet_verifier::doc_example();
    let keys = [PublicKey::ed25519(&raw).expect("key")];
    let mut inputs = Vec::new();
    for sub in ["tokens", "revocations"] {
        for e in std::fs::read_dir(dir.join(sub)).expect("vectors") {
            inputs.push(std::fs::read(e.expect("entry").path()).expect("read"));
        }
    }
    assert!(inputs.len() > 50);
    let mut rng = Rng(0x1ce7_1ce7_1ce7_1ce7);
    let mut runs = 0usize;
    for input in &inputs {
        for cut in 0..input.len().min(400) {
            exercise(&input[..cut], &keys);
            runs += 1;
        }
        for _ in 0..300 {
            let mut m = input.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(m.len());
                m[i] = rng.next() as u8;
            }
            if rng.below(4) == 0 {
                let i = rng.below(m.len());
                m.insert(i, rng.next() as u8);
            }
            exercise(&m, &keys);
            runs += 1;
        }
    }
    for _ in 0..5_000 {
        let len = rng.below(300);
        let mut m: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if !m.is_empty() && rng.below(2) == 0 {
            m[0] = 0xd2; // tagged like a COSE_Sign1, to get past the first check
        }
        exercise(&m, &keys);
        runs += 1;
    }
    assert!(runs > 20_000);
}

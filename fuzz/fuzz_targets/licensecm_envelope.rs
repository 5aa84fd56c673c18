//! LicenseCM's encrypted envelope: any JSON either is no envelope, a refused one, or one whose
//! HMAC, time window and AES-GCM all hold under the secret, which no input here knows; nothing
//! panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use licet_server::compat::licensecm::envelope::Envelope;

const SECRET: &str = "sk_live_fuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzzfuzz";

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Some(Ok(env)) = Envelope::parse(&v) {
        let _ = env.open(SECRET, 1_800_000_000_000, 300_000);
    }
});

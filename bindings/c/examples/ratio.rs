//! The cost of the C ABI: `licet_verify` of the typical Ed25519 token through the exported
//! functions (what a C or C++ application calls: the token's bytes copied into a handle, the
//! claims' strings kept for `%s`) against the native verifier on the same token, key and
//! context, in alternating rounds (`licet_benches::interleaved`).
//!
//! `cargo run -p licet-ffi --release --example ratio`; with `abi N` or `native N` it runs one
//! path N times, for counting instructions under callgrind (repeatable where wall-clock time on
//! a shared machine is not): `valgrind --tool=callgrind target/release/examples/ratio abi 200`,
//! and `native`, each also with 0 to subtract the set-up (BENCHMARKS.md).

// The example calls the C ABI, which is raw pointers.
#![allow(unsafe_code)]

use std::ptr;

use licet::{
    licet_context, licet_context_add_entitlement, licet_context_free, licet_context_new,
    licet_context_set_domain, licet_context_set_fingerprint, licet_keyset,
    licet_keyset_add_spki_der, licet_keyset_free, licet_keyset_new, licet_license_free,
    licet_status, licet_verify,
};
use licet_benches::{Ed25519Fixture, FINGERPRINT, NOW, REQUIRED, interleaved};

fn main() {
    let f = Ed25519Fixture::new();
    let ctx = f.context();
    let der = f.keys[0].to_spki_der();
    let mut keys: *mut licet_keyset = ptr::null_mut();
    let mut c: *mut licet_context = ptr::null_mut();
    // SAFETY: every pointer is a live local or a handle made just before; lengths are the
    // slices' own.
    unsafe {
        assert_eq!(
            licet_keyset_new(&mut keys, ptr::null_mut()),
            licet_status::Ok
        );
        licet_keyset_add_spki_der(keys, der.as_ptr(), der.len(), ptr::null_mut());
        licet_context_new(NOW, c"acme-pro".as_ptr(), 8, &mut c, ptr::null_mut());
        licet_context_set_fingerprint(
            c,
            FINGERPRINT.as_ptr().cast(),
            FINGERPRINT.len(),
            ptr::null_mut(),
        );
        licet_context_set_domain(c, c"example.com".as_ptr(), 11, ptr::null_mut());
        for e in REQUIRED {
            licet_context_add_entitlement(c, e.as_ptr().cast(), e.len(), ptr::null_mut());
        }
    }
    let token = f.token.clone();
    let mut through_abi = || {
        let mut license = ptr::null_mut();
        // SAFETY: as above; the license is freed at once.
        unsafe {
            let st = licet_verify(
                std::hint::black_box(token.as_ptr()),
                token.len(),
                keys,
                c,
                &mut license,
                ptr::null_mut(),
            );
            licet_license_free(license);
            st == licet_status::Ok
        }
    };
    assert!(
        through_abi(),
        "the typical token verifies through the C ABI"
    );
    let mut args = std::env::args().skip(1);
    if let Some(mode) = args.next() {
        let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
        let ok = (0..n)
            .filter(|_| match mode.as_str() {
                "abi" => through_abi(),
                _ => f.licet_verify(&ctx),
            })
            .count();
        assert_eq!(ok, n);
        println!("{mode}: {n} verified");
        return;
    }
    let r = interleaved(301, 100, &mut through_abi, &mut || f.licet_verify(&ctx));
    println!("| A vs B | median A/B | IQR | A median | B median |");
    println!("|---|---|---|---|---|");
    println!(
        "| licet_verify (C ABI) vs native verify | {:.3}× | {:.3}–{:.3} | {:.2} µs | {:.2} µs |",
        r.ratio[1],
        r.ratio[0],
        r.ratio[2],
        r.a * 1e6,
        r.b * 1e6
    );
    // SAFETY: the handles were made above and are freed once.
    unsafe {
        licet_context_free(c);
        licet_keyset_free(keys);
    }
}

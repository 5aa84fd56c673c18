//! The default Ed25519 verify path allocates nothing: decoding, signature, claims, revocation
//! list and every context check, counted by a global allocator that records each allocation.
#![allow(unsafe_code)] // a counting GlobalAlloc must implement an unsafe trait

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use licet_verifier::{Context, PublicKey, RevocationList, UnverifiedToken};

struct Counting;

thread_local! {
    // Per thread, so that the test harness's own threads do not disturb the count.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[test]
fn ed25519_verify_allocates_nothing() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../test-vectors/vectors");
    let token = std::fs::read(dir.join("tokens/valid-ed25519.cbor")).expect("vector");
    let list = std::fs::read(dir.join("revocations/revoked-tokens.cbor")).expect("vector");
    let revoked = std::fs::read(dir.join("tokens/revoked-token-id.cbor")).expect("vector");
    let (key, _, now) = licet_verifier::doc_example();
    let ents = ["pro", "sso"];

    let before = allocations();
    let keys = [PublicKey::ed25519(&key).expect("key")];
    let ctx = Context::new(now, "acme-pro")
        .fingerprint(FINGERPRINT)
        .domain("example.com")
        .entitlements(&ents);
    let license = UnverifiedToken::decode(&token).and_then(|t| t.verify(&keys[..], &ctx));
    let ok = license.is_ok();
    let entitlements = license
        .map(|l| l.claims().entitlements.iter().count())
        .unwrap_or(0);

    let rl = RevocationList::verify(&list, &keys[..], Some(1)).expect("list");
    let ctx = ctx.revocations(&rl);
    let refused = UnverifiedToken::decode(&revoked)
        .and_then(|t| t.verify(&keys[..], &ctx))
        .err();
    let after = allocations();

    assert!(ok, "the vector verifies");
    assert_eq!(entitlements, 3);
    assert_eq!(refused.map(|e| e.code()), Some("revoked"));
    assert_eq!(after - before, 0, "the verify path allocated");
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the guard: if counting were broken, the test above would pass vacuously.
    let before = allocations();
    let v = std::hint::black_box(vec![1u8; 64]);
    assert!(allocations() > before);
    drop(v);
}

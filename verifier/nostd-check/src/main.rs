//! A `#![no_std]` `#![no_main]` program that verifies a licet token with the verifier's default
//! features: Ed25519, no std, no allocator. It exits 0 if the token verifies, 1 if not.
#![no_std]
#![no_main]

#[cfg(feature = "link-std")]
extern crate std;

#[cfg(any(feature = "alloc", feature = "alloc-without-allocator"))]
extern crate alloc;

use core::panic::PanicInfo;

use licet_verifier::{Context, PublicKey, UnverifiedToken};

/// The `valid-ed25519` test vector and its key, compiled in.
const TOKEN: &[u8] = include_bytes!("../../../test-vectors/vectors/tokens/valid-ed25519.cbor");
const NOW: i64 = 1_800_000_000;
const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[panic_handler]
fn panic(_: &PanicInfo) -> ! {
    exit(101)
}

#[cfg(feature = "alloc")]
mod bump {
    //! A fixed-arena allocator: enough to prove `alloc` needs no std.
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicUsize, Ordering};

    const ARENA: usize = 64 * 1024;
    struct Bump {
        arena: UnsafeCell<[u8; ARENA]>,
        next: AtomicUsize,
    }
    unsafe impl Sync for Bump {}
    unsafe impl GlobalAlloc for Bump {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let start = (self.next.load(Ordering::Relaxed) + l.align() - 1) & !(l.align() - 1);
            if start + l.size() > ARENA {
                return core::ptr::null_mut();
            }
            self.next.store(start + l.size(), Ordering::Relaxed);
            unsafe { (self.arena.get() as *mut u8).add(start) }
        }
        unsafe fn dealloc(&self, _: *mut u8, _: Layout) {}
    }
    #[global_allocator]
    static A: Bump = Bump { arena: UnsafeCell::new([0; ARENA]), next: AtomicUsize::new(0) };
}

fn check() -> bool {
    #[cfg(feature = "alloc-without-allocator")]
    let _ = alloc::vec![0u8; 1];
    let Ok(token) = UnverifiedToken::decode(TOKEN) else { return false };
    let Ok(header) = token.header().algorithm() else { return false };
    let _ = header;
    let key = [PublicKey::ed25519(&KEY)];
    let Ok(key) = &key[0] else { return false };
    let ctx = Context::new(NOW, "acme-pro").fingerprint(FINGERPRINT).domain("example.com");
    token.verify(key, &ctx).is_ok()
}

include!("key.rs");

#[unsafe(no_mangle)]
pub extern "C" fn licet_main() -> ! {
    exit(if check() { 0 } else { 1 })
}

// The kernel enters `_start` with the stack 16-byte aligned and no return address; a Rust
// function expects to be called (misaligned by 8). Align and call.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
core::arch::global_asm!(".globl _start", "_start:", "xor rbp, rbp", "and rsp, -16", "call licet_main");

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
#[unsafe(no_mangle)]
pub extern "C" fn _start() -> ! {
    licet_main()
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn exit(code: i32) -> ! {
    // SAFETY: the exit_group system call takes one integer and does not return.
    unsafe { core::arch::asm!("syscall", in("rax") 231, in("rdi") code, options(noreturn)) }
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn exit(_code: i32) -> ! {
    loop {}
}

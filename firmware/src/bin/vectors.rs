//! Every Ed25519 golden case on the target: prints a line per mismatch and then
//! `N passed, M failed`, and exits 0 only when nothing failed.
#![no_std]
#![no_main]

use licet_firmware::{OFFLINE_CASES, SKIPPED_RSA, TOKEN_CASES, offline_outcome, token_outcome};
use semihosting::{println, process};

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    let (mut passed, mut failed) = (0u32, 0u32);
    for c in TOKEN_CASES {
        let got = token_outcome(c);
        if got == c.expected {
            passed += 1;
        } else {
            failed += 1;
            println!("FAIL {}: expected {}, got {}", c.name, c.expected, got);
        }
    }
    for c in OFFLINE_CASES {
        let got = offline_outcome(c);
        if got == c.expected() {
            passed += 1;
        } else {
            failed += 1;
            println!("FAIL {}: expected {}, got {}", c.name(), c.expected(), got);
        }
    }
    println!(
        "{} ({} RSA cases are not for this target)",
        env!("LICET_MACHINE"),
        SKIPPED_RSA
    );
    println!("{} passed, {} failed", passed, failed);
    process::exit(if failed == 0 { 0 } else { 1 })
}

//! The timer's scale under QEMU's `-icount shift=0`: a loop of exactly 2,000,000 instructions
//! (1,000,000 rounds of a decrement and a taken branch), timed as the minimal image times a
//! verify. scripts/firmware.sh turns the minimal image's count into instructions with it.
#![no_std]
#![no_main]

use licet_firmware::timer;
use semihosting::io::Write as _;

#[cfg_attr(target_arch = "arm", cortex_m_rt::entry)]
#[cfg_attr(target_arch = "riscv32", riscv_rt::entry)]
fn main() -> ! {
    timer::start();
    let start = timer::now();
    let mut n: u32 = 1_000_000;
    // SAFETY: a register countdown; no memory is touched.
    unsafe {
        #[cfg(target_arch = "arm")]
        core::arch::asm!("2:", "subs {0}, #1", "bne 2b", inout(reg) n);
        #[cfg(target_arch = "riscv32")]
        core::arch::asm!("2:", "addi {0}, {0}, -1", "bnez {0}, 2b", inout(reg) n);
    }
    let ticks = timer::elapsed(start, timer::now());
    if let Ok(mut out) = semihosting::io::stdout() {
        let _ = out.write_all(b"2000000 instructions: ");
        licet_firmware::write_number(&mut out, u64::from(ticks));
        let _ = out.write_all(timer::UNIT);
        let _ = out.write_all(b"\n");
    }
    semihosting::process::exit(if n == 0 { 0 } else { 1 })
}

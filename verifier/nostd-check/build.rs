// A freestanding binary: no C runtime start files, `_start` is ours. The C library is linked
// (dynamically) only for `memcpy` and friends, which `core` expects the platform to provide.
fn main() {
    println!("cargo:rustc-link-arg-bins=-nostartfiles");
    println!("cargo:rustc-link-arg-bins=-lc");
}

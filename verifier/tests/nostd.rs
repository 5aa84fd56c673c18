//! The verifier builds and runs without std, and by default without an allocator.
//!
//! Builds `verifier/nostd-check` (a `#![no_std]` `#![no_main]` program outside the workspace,
//! so that feature unification cannot hide anything) four ways: the default features with no
//! global allocator and `alloc` with one must build; the two negative controls, which link std
//! or use `alloc` without an allocator, must fail — proving the check can fail at all. On
//! x86-64 Linux the freestanding binary is also run: it verifies a golden token and exits 0.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn build(features: &[&str]) -> (Output, PathBuf) {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("nostd-check/Cargo.toml");
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("nostd-check");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    // The outer `cargo test` may set flags for the host workspace; keep the nested build clean.
    cmd.env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS");
    let out = cmd.output().expect("cargo runs");
    (out, target.join("release/licet-nostd-check"))
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn run_binary(bin: &Path) {
    if cfg!(all(target_arch = "x86_64", target_os = "linux")) {
        let status = Command::new(bin).status().expect("binary runs");
        assert_eq!(
            status.code(),
            Some(0),
            "the no_std program did not verify its token"
        );
    }
}

#[test]
fn nostd_builds_and_their_negative_controls() {
    // Sequential: the four builds share one target directory.
    let (out, bin) = build(&[]);
    assert!(
        out.status.success(),
        "default features need std or an allocator:\n{}",
        stderr(&out)
    );
    run_binary(&bin);

    let (out, bin) = build(&["alloc"]);
    assert!(
        out.status.success(),
        "the alloc feature needs std:\n{}",
        stderr(&out)
    );
    run_binary(&bin);

    let (out, _) = build(&["link-std"]);
    assert!(!out.status.success(), "linking std was not detected");
    assert!(
        stderr(&out).contains("panic_impl"),
        "unexpected failure:\n{}",
        stderr(&out)
    );

    let (out, _) = build(&["alloc-without-allocator"]);
    assert!(
        !out.status.success(),
        "an allocation without an allocator was not detected"
    );
    assert!(
        stderr(&out).contains("global memory allocator"),
        "unexpected failure:\n{}",
        stderr(&out)
    );
}

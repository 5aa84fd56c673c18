//! The `licet` binary end to end, as a vendor uses it: real files, real keys, real exit codes.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const FP: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn licet(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_licet"))
        .current_dir(dir)
        .args(args)
        .env_remove("LICET_ISSUER")
        .output()
        .expect("licet runs")
}

/// Runs `licet` with whitespace-separated arguments (none of which contain spaces).
fn run(dir: &Path, args: &str) -> Output {
    licet(dir, &args.split_whitespace().collect::<Vec<_>>())
}

fn licet_stdin(dir: &Path, args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_licet"))
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("licet runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    child.wait_with_output().expect("wait")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn keygen(dir: &Path, alg: &str, out_dir: &str) {
    let o = licet(dir, &["keygen", "--alg", alg, "--out", out_dir]);
    assert!(o.status.success(), "{}", err(&o));
}

fn issue_typical(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "issue",
        "--key",
        "keys/private-key.pem",
        "--product",
        "acme-pro",
        "--hwid",
        FP,
        "--domain",
        "example.com",
        "--entitlement",
        "pro",
        "--entitlement",
        "export",
        "--entitlement",
        "sso",
        "--days",
        "365",
    ];
    args.extend_from_slice(extra);
    let o = licet(dir, &args);
    assert!(o.status.success(), "{}", err(&o));
    out(&o).trim().to_owned()
}

#[test]
fn quickstart_keygen_issue_verify() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    keygen(d, "ed25519", "keys");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("keys/private-key.pem"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "private key must be 0600");
    }
    // Refuses to overwrite, exit 2, one line naming the file.
    let o = licet(d, &["keygen", "--out", "keys"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("private-key.pem") && err(&o).lines().count() == 1,
        "{}",
        err(&o)
    );

    let token = issue_typical(d, &[]);
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--pubkey",
            "keys/public-key.pem",
            "--product",
            "acme-pro",
            "--hwid",
            FP,
        ];
        args.extend_from_slice(extra);
        args.push(&token);
        licet(d, &args)
    };
    let o = verify(&["--domain", "example.com", "--entitlement", "sso"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(out(&o).starts_with("valid: license "), "{}", out(&o));

    let o = verify(&["--domain", "example.org"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        out(&o).starts_with("invalid: domain_mismatch"),
        "{}",
        out(&o)
    );

    let o = verify(&[
        "--domain",
        "example.com",
        "--entitlement",
        "enterprise",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(v["valid"], false);
    assert_eq!(v["code"], "missing_entitlement");

    let o = verify(&["--domain", "example.com", "--now", "2100-01-01"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("expired"));
    // The refusal names the token's expiry, in words and as data.
    let exp = {
        let o = licet(d, &["inspect", "--json", &token]);
        let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
        v["claims"]["exp"].as_i64().expect("exp")
    };
    let when = chrono::DateTime::from_timestamp(exp, 0)
        .expect("time")
        .to_rfc3339();
    assert!(
        out(&o).contains(&format!("it expired {when}")),
        "{}",
        out(&o)
    );
    let o = verify(&["--domain", "example.com", "--now", "2100-01-01", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(
        (v["code"].as_str(), v["expires_at"].as_i64()),
        (Some("expired"), Some(exp))
    );

    // From standard input, and the armored file form.
    let o = licet_stdin(
        d,
        &[
            "verify",
            "--pubkey",
            "keys/public-key.pem",
            "--hwid",
            FP,
            "--domain",
            "example.com",
            "-",
        ],
        token.as_bytes(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let armored = issue_typical(d, &["--armor", "--license-id", "LIC-ARMOR"]);
    assert!(armored.starts_with("-----BEGIN LICET LICENSE-----"));
    std::fs::write(d.join("license.lic"), &armored).expect("write");
    let o = licet(
        d,
        &[
            "verify",
            "--pubkey",
            "keys/public-key.pem",
            "--hwid",
            FP,
            "--domain",
            "example.com",
            "--json",
            "license.lic",
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(v["claims"]["license_id"], "LIC-ARMOR");

    // Another vendor's key: unknown_key.
    keygen(d, "ed25519", "other");
    let o = licet(d, &["verify", "--pubkey", "other/public-key.pem", &token]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("unknown_key"));
}

#[test]
fn typical_token_is_at_most_200_bytes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    keygen(d, "ed25519", "keys");
    let token = issue_typical(d, &[]);
    let o = licet(d, &["inspect", "--json", &token]);
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    let size = v["size"].as_u64().expect("size");
    assert!(size <= 200, "typical token is {size} bytes");
    assert_eq!(
        token.len() as u64,
        (size * 4).div_ceil(3),
        "base64url without padding"
    );
}

#[test]
fn inspect_marks_unverified_and_shows_claims() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    keygen(d, "ed25519", "keys");
    let token = issue_typical(
        d,
        &[
            "--license-id",
            "LIC-7",
            "--kind",
            "subscription",
            "--seats",
            "3",
            "--meta",
            "plan=team",
        ],
    );
    let o = licet(d, &["inspect", &token]);
    assert!(o.status.success());
    let s = out(&o);
    assert!(s.starts_with("UNVERIFIED"), "{s}");
    assert!(
        s.contains("\"license_id\": \"LIC-7\"")
            && s.contains("\"subscription\"")
            && s.contains("\"plan\": \"team\""),
        "{s}"
    );
    // The raw fingerprint never appears, only its hash.
    assert!(!s.contains(FP));
    let o = licet(d, &["inspect", "not-a-file-and-not-a-token!"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn rsa_keys_issue_and_verify() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    for alg in ["rsa-pss-2048", "rsa-pkcs1-2048"] {
        keygen(d, alg, alg);
        let key = format!("{alg}/private-key.pem");
        let o = licet(
            d,
            &["issue", "--key", &key, "--product", "p", "--days", "1"],
        );
        assert!(o.status.success(), "{}", err(&o));
        let token = out(&o).trim().to_owned();
        let o = licet(
            d,
            &[
                "verify",
                "--pubkey",
                &format!("{alg}/public-key.pem"),
                "--product",
                "p",
                "--json",
                &token,
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", out(&o));
        let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
        assert_eq!(
            v["alg"],
            if alg.starts_with("rsa-pss") {
                "PS256"
            } else {
                "RS256"
            }
        );
    }
}

#[test]
fn revocation_list_grows_and_revokes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    keygen(d, "ed25519", "keys");
    let token = issue_typical(d, &["--license-id", "LIC-R"]);
    let o = licet(d, &["inspect", "--json", &token]);
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    let token_id = v["claims"]["token_id"].as_str().expect("id").to_owned();

    let o = run(
        d,
        "revoke --key keys/private-key.pem --list revoked.lst --add LIC-OTHER",
    );
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("sequence 1"), "{}", out(&o));
    let verify = || {
        licet(
            d,
            &[
                "verify",
                "--pubkey",
                "keys/public-key.pem",
                "--hwid",
                FP,
                "--domain",
                "example.com",
                "--revocations",
                "revoked.lst",
                &token,
            ],
        )
    };
    assert_eq!(verify().status.code(), Some(0));

    let o = licet(
        d,
        &[
            "revoke",
            "--key",
            "keys/private-key.pem",
            "--list",
            "revoked.lst",
            "--add",
            &token_id,
        ],
    );
    assert!(
        out(&o).contains("sequence 2") && out(&o).contains("1 token ids, 1 license ids"),
        "{}",
        out(&o)
    );
    let o = verify();
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("revoked"));

    // A list signed by another key is refused and not extended.
    keygen(d, "ed25519", "other");
    let before = std::fs::read(d.join("revoked.lst")).expect("list");
    let o = run(
        d,
        "revoke --key other/private-key.pem --list revoked.lst --add x",
    );
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read(d.join("revoked.lst")).expect("list"),
        before,
        "nothing half-written"
    );
}

#[test]
fn batch_and_claims_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    keygen(d, "ed25519", "keys");
    std::fs::write(
        d.join("licenses.csv"),
        "license_id,hwid,domains,entitlements,days,kind\n\
         LIC-1,machine-1,example.com,pro;sso,30,trial\n\
         LIC-2,,*.example.org,pro,365,subscription\n",
    )
    .expect("csv");
    let o = run(
        d,
        "issue --key keys/private-key.pem --product acme --batch licenses.csv --out out",
    );
    assert!(o.status.success(), "{}", err(&o));
    let o = run(
        d,
        "verify --pubkey keys/public-key.pem --product acme --hwid machine-1 --domain example.com --entitlement sso out/LIC-1.lic",
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));
    let o = run(
        d,
        "verify --pubkey keys/public-key.pem --product acme --domain a.b.example.org out/LIC-2.lic",
    );
    assert_eq!(o.status.code(), Some(0), "{}", out(&o));

    // A bad row names its line and nothing is written.
    std::fs::write(
        d.join("bad.csv"),
        "license_id,domains\nLIC-3,example.com\nLIC-4,exa_mple.com\n",
    )
    .expect("csv");
    let o = run(
        d,
        "issue --key keys/private-key.pem --product acme --batch bad.csv --out bad",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("bad.csv:3"), "{}", err(&o));
    assert!(!d.join("bad/LIC-3.lic").exists());

    std::fs::write(
        d.join("claims.json"),
        r#"{"product": "acme", "license_id": "LIC-J", "entitlements": ["pro"], "expires": "2099-01-01", "metadata": {"tier": 2}}"#,
    )
    .expect("json");
    let o = run(
        d,
        "issue --key keys/private-key.pem --claims claims.json --entitlement sso",
    );
    assert!(o.status.success(), "{}", err(&o));
    let o = licet(
        d,
        &[
            "verify",
            "--pubkey",
            "keys/public-key.pem",
            "--product",
            "acme",
            "--entitlement",
            "pro",
            "--entitlement",
            "sso",
            "--json",
            out(&o).trim(),
        ],
    );
    let v: serde_json::Value = serde_json::from_str(&out(&o)).expect("json");
    assert_eq!(v["claims"]["license_id"], "LIC-J");
    assert_eq!(v["claims"]["metadata"]["tier"], 2);

    std::fs::write(d.join("typo.json"), r#"{"prodcut": "acme"}"#).expect("json");
    let o = run(d, "issue --key keys/private-key.pem --claims typo.json");
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("typo.json"), "{}", err(&o));
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    keygen(d, "ed25519", "keys");
    let o = run(
        d,
        "issue --key keys/private-key.pem --product p --expires soon",
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("--expires") && err(&o).lines().count() == 1,
        "{}",
        err(&o)
    );
    let o = licet(d, &["issue", "--key", "missing.pem", "--product", "p"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("missing.pem"), "{}", err(&o));
    let o = licet(
        d,
        &["issue", "--key", "keys/public-key.pem", "--product", "p"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("keys/public-key.pem"), "{}", err(&o));
    let o = run(
        d,
        "verify --pubkey keys/private-key.pem --product p AAAAAAAAAAAAAAAAAAAAAA",
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "a private key file yields its public half; the token is malformed"
    );
}

#[test]
fn hwid_parts_bind_a_token_to_this_machine_with_tolerance() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path();
    keygen(d, "ed25519", "keys");
    let o = run(d, "hwid --product acme-pro --components --json");
    assert!(o.status.success(), "{}", err(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let parts: Vec<String> = v["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| p.as_str().expect("hex").to_owned())
        .collect();
    assert!(!parts.is_empty() && parts.iter().all(|p| p.len() == 16));
    assert_eq!(v["components"].as_array().map(Vec::len), Some(parts.len()));
    let other = run(d, "hwid --product another-product --json");
    let other: serde_json::Value = serde_json::from_slice(&other.stdout).expect("json");
    assert_ne!(other["fingerprint"], v["fingerprint"], "per-product salt");
    // Bound to this machine: it verifies here.
    let k = v["threshold"].as_u64().expect("k");
    let spec = format!("{k}:{}", parts.join(","));
    let o = licet(
        d,
        &[
            "issue",
            "--key",
            "keys/private-key.pem",
            "--product",
            "acme-pro",
            "--hwid-parts",
            &spec,
            "--days",
            "30",
            "--out",
            "here.lic",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let o = run(
        d,
        "verify --pubkey keys/public-key.pem --product acme-pro --this-machine here.lic",
    );
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    // Bound to a machine that shares fewer than k parts with this one: refused.
    let foreign: Vec<String> = (0..parts.len())
        .map(|i| format!("{:016x}", i + 1))
        .collect();
    let mut mixed = foreign.clone();
    mixed[0] = parts[0].clone();
    let spec = format!("{}:{}", k.max(2), mixed.join(","));
    let o = licet(
        d,
        &[
            "issue",
            "--key",
            "keys/private-key.pem",
            "--product",
            "acme-pro",
            "--hwid-parts",
            &spec,
            "--days",
            "30",
            "--out",
            "there.lic",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let o = run(
        d,
        "verify --pubkey keys/public-key.pem --product acme-pro --this-machine there.lic",
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("hwid_mismatch"), "{}", out(&o));
    // Without the machine's parts the token is refused as unbound-checked.
    let o = run(
        d,
        "verify --pubkey keys/public-key.pem --product acme-pro here.lic",
    );
    assert!(out(&o).contains("hwid_required"), "{}", out(&o));
    // Bad specifications are usage errors.
    for bad in [
        "0:0102030405060708",
        "3:0102030405060708",
        "2:01020304",
        "x",
    ] {
        let o = licet(
            d,
            &[
                "issue",
                "--key",
                "keys/private-key.pem",
                "--product",
                "acme-pro",
                "--hwid-parts",
                bad,
                "--out",
                "bad.lic",
            ],
        );
        assert_eq!(o.status.code(), Some(2), "{bad}: {}", err(&o));
        assert!(err(&o).contains("--hwid-parts"), "{}", err(&o));
    }
}

/// The offline quickstart as written: a token bound to this machine's fingerprint (`licet hwid`)
/// verifies with `--this-machine`, and `issue --out` says what it wrote.
#[test]
fn a_token_bound_to_this_machine_verifies_with_this_machine() {
    let tmp = tempfile::tempdir().expect("tmp");
    let d = tmp.path();
    keygen(d, "ed25519", "keys");
    let o = licet(d, &["hwid", "--product", "acme-pro"]);
    assert!(o.status.success(), "{}", err(&o));
    let fp = out(&o).trim().to_owned();
    let o = licet(
        d,
        &[
            "issue",
            "--key",
            "keys/private-key.pem",
            "--product",
            "acme-pro",
            "--hwid",
            &fp,
            "--days",
            "30",
            "--armor",
            "--out",
            "license.lic",
        ],
    );
    assert!(o.status.success(), "{}", err(&o));
    let said = out(&o);
    assert!(
        said.starts_with("wrote license.lic: license ")
            && said.contains("for acme-pro, bound to a machine, expires "),
        "{said}"
    );
    let verify = |extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--pubkey",
            "keys/public-key.pem",
            "--product",
            "acme-pro",
        ];
        args.extend_from_slice(extra);
        args.push("license.lic");
        licet(d, &args)
    };
    let o = verify(&["--this-machine"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    // Without the machine, the refusal says a fingerprint is needed.
    let o = verify(&[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(out(&o).contains("hwid_required"), "{}", out(&o));
}

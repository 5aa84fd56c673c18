//! Picks the memory map for the target, and compiles the golden vectors' Ed25519 cases into
//! the firmware: every case of `expected.json` whose keys are all Ed25519 and every case of
//! `offline.json`, with the outcome the files expect. A new case is picked up by the next build.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let target = std::env::var("TARGET").expect("TARGET");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let machine = if target.starts_with("thumbv7em") {
        "mps2-an386"
    } else if target.starts_with("thumbv6m") {
        "microbit"
    } else if target.starts_with("riscv32") {
        "sifive_e"
    } else {
        panic!("no machine for the target {target}: thumbv7em, thumbv6m or riscv32");
    };
    let memory = manifest.join("memory").join(format!("{machine}.x"));
    std::fs::copy(&memory, out.join("memory.x")).expect("memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={}", memory.display());
    println!("cargo:rustc-env=LICET_MACHINE={machine}");

    let vectors = manifest.join("../test-vectors/vectors");
    for f in ["expected.json", "offline.json"] {
        println!("cargo:rerun-if-changed={}", vectors.join(f).display());
    }
    std::fs::write(out.join("cases.rs"), cases(&vectors)).expect("cases.rs");
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("vectors")).expect("json")
}

fn file(vectors: &Path, rel: &Value) -> String {
    let p = vectors.join(rel.as_str().expect("a file name"));
    println!("cargo:rerun-if-changed={}", p.display());
    format!("include_bytes!({:?})", p.display().to_string())
}

fn opt_str(v: &Value) -> String {
    match v.as_str() {
        Some(s) => format!("Some({s:?})"),
        None => "None".into(),
    }
}

fn bytes(hex: &str) -> String {
    let b: Vec<String> = (0..hex.len())
        .step_by(2)
        .map(|i| format!("0x{}", &hex[i..i + 2]))
        .collect();
    format!("[{}]", b.join(", "))
}

fn key_list(table: &Value, names: &Value) -> Option<String> {
    let mut keys = Vec::new();
    for n in names.as_array().expect("keys") {
        let k = &table[n.as_str().expect("key name")];
        if k["alg"] != "EdDSA" {
            return None;
        }
        keys.push(bytes(k["raw"]["x"].as_str().expect("raw key")));
    }
    Some(format!("&[{}]", keys.join(", ")))
}

fn cases(vectors: &Path) -> String {
    let expected = read(&vectors.join("expected.json"));
    let offline = read(&vectors.join("offline.json"));
    let table = &expected["keys"];
    let mut s = String::from("pub static TOKEN_CASES: &[TokenCase] = &[\n");
    let mut skipped = 0;
    for c in expected["cases"].as_array().expect("cases") {
        let Some(keys) = key_list(table, &c["keys"]) else {
            skipped += 1;
            continue;
        };
        let x = &c["context"];
        let parts: Vec<String> = x["hwid_parts"]
            .as_array()
            .map(|a| a.iter().map(|p| bytes(p.as_str().expect("part"))).collect())
            .unwrap_or_default();
        let ents: Vec<String> = x["entitlements"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| format!("{:?}", e.as_str().expect("entitlement")))
                    .collect()
            })
            .unwrap_or_default();
        let claims = match c.get("claims") {
            Some(cl) if cl.is_object() => {
                let ents: Vec<String> = cl["entitlements"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|e| format!("{:?}", e.as_str().expect("e")))
                            .collect()
                    })
                    .unwrap_or_default();
                format!(
                    "Some(Expected {{ license_id: {:?}, product: {:?}, issued_at: {}, expires_at: {}, token_id: {}, entitlements: &[{}] }})",
                    cl["license_id"].as_str().expect("id"),
                    cl["product"].as_str().expect("product"),
                    cl["issued_at"],
                    cl["expires_at"]
                        .as_i64()
                        .map_or("None".into(), |e| format!("Some({e})")),
                    bytes(cl["token_id"].as_str().expect("cti")),
                    ents.join(", ")
                )
            }
            _ => "None".into(),
        };
        let _ = writeln!(
            s,
            "    TokenCase {{ name: {:?}, token: {}, keys: {keys}, now: {}, product: {}, fingerprint: {}, \
             hwid_parts: &[{}], device_key: {}, require_device_binding: {}, domain: {}, \
             entitlements: &[{}], leeway: {}, revocations: {}, last_seen_sequence: {}, \
             require_fresh: {}, expected: {:?}, claims: {claims} }},",
            c["name"].as_str().expect("name"),
            file(vectors, &c["token"]),
            x["now"],
            opt_str(&x["product"]),
            opt_str(&x["fingerprint"]),
            parts.join(", "),
            x["device_key"]
                .as_str()
                .map_or("None".into(), |k| format!("Some({})", bytes(k))),
            x["require_device_binding"].as_bool().unwrap_or(false),
            opt_str(&x["domain"]),
            ents.join(", "),
            x["leeway"].as_u64().unwrap_or(0),
            if x["revocations"].is_string() {
                format!("Some({})", file(vectors, &x["revocations"]))
            } else {
                "None".into()
            },
            x["last_seen_sequence"]
                .as_u64()
                .map_or("None".into(), |n| format!("Some({n})")),
            x["require_fresh"].as_bool().unwrap_or(false),
            c["expected"].as_str().expect("expected"),
        );
    }
    s.push_str("];\n\npub static OFFLINE_CASES: &[OfflineCase] = &[\n");
    let devices = &offline["device_keys"];
    for c in offline["cases"].as_array().expect("cases") {
        let x = &c["context"];
        let name = c["name"].as_str().expect("name");
        let data = file(vectors, &c["file"]);
        let want = c["expected"].as_str().expect("expected");
        let case = match c["kind"].as_str().expect("kind") {
            "request" => format!(
                "OfflineCase::Request {{ name: {name:?}, data: {data}, now: {}, window: {}, expected: {want:?} }}",
                x["now"], x["window"]
            ),
            "response" => format!(
                "OfflineCase::Response {{ name: {name:?}, data: {data}, keys: {}, pending: {}, now: {}, product: {:?}, fingerprint: {:?}, expected: {want:?} }}",
                key_list(table, &x["keys"]).expect("an Ed25519 response key"),
                file(vectors, &x["pending_request"]),
                x["now"],
                x["product"].as_str().expect("product"),
                x["fingerprint"].as_str().expect("fingerprint"),
            ),
            "receipt" => format!(
                "OfflineCase::Receipt {{ name: {name:?}, data: {data}, holder: {:?}, device_key: {}, expected: {want:?} }}",
                x["holder"].as_str().expect("holder"),
                x["holder_device_key"]
                    .as_str()
                    .map_or("None".into(), |d| format!(
                        "Some({})",
                        bytes(devices[d].as_str().expect("device key"))
                    )),
            ),
            other => panic!("an offline case of unknown kind {other}"),
        };
        let _ = writeln!(s, "    {case},");
    }
    s.push_str("];\n");
    let _ = writeln!(
        s,
        "/// Token cases of expected.json left out because they need RSA.\npub const SKIPPED_RSA: usize = {skipped};"
    );
    s
}

//! `licet-server migrate --from-data DIR --to-database-url URL` (issue #14): a sled data
//! directory with licenses, machines, audit entries, a revocation, a rotated key, a download
//! and LicenseCM objects, moved by the release binary into a new PostgreSQL database, and a
//! server on that database that answers for all of it as the sled one did.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

mod common;
// The harness's in-process store; these tests run the binary, whose flags choose its store.
use common::backends::sled as backend;
use common::binary::{Server, agent, call, download, fresh_database, master_key, setup, upload};

fn migrate(from: &Path, url: &str, key: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_licet-server"))
        .arg("migrate")
        .arg("--from-data")
        .arg(from)
        .args(["--to-database-url", url])
        .arg("--master-key-file")
        .arg(key)
        .env("LICET_LOG", "warn")
        .output()
        .expect("run licet-server migrate")
}

fn get(base: &str, path: &str, auth: Option<&str>) -> Value {
    let (s, v) = call(&agent(), "GET", &format!("{base}{path}"), auth, None);
    assert_eq!(s, 200, "GET {path}: {v}");
    v
}

#[test]
fn a_sled_store_moves_to_postgresql_with_everything_it_holds() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("sled");
    let http = agent();

    // A server on sled, with something of everything.
    let before = Server::start(&data, &["--licensecm-registration", "true"]);
    let admin = before.bootstrap_key.clone().expect("admin key");
    let (product, license) = setup(&http, &before.base, &admin, 3);
    let key = license["key"].as_str().expect("key").to_owned();
    let license_id = license["id"].as_str().expect("id").to_owned();
    let mut tokens = Vec::new();
    for fp in ["m-1", "m-2"] {
        let (s, v) = call(
            &http,
            "POST",
            &format!("{}/v1/client/activate", before.base),
            None,
            Some(json!({ "key": key, "fingerprint": fp })),
        );
        assert_eq!(s, 201, "{v}");
        tokens.push((fp, v));
    }
    let (s, revoked) = call(
        &http,
        "POST",
        &format!("{}/v1/licenses", before.base),
        Some(&admin),
        Some(json!({ "product_id": product["id"] })),
    );
    assert_eq!(s, 201, "{revoked}");
    let (s, _) = call(
        &http,
        "POST",
        &format!(
            "{}/v1/licenses/{}/revoke",
            before.base,
            revoked["id"].as_str().expect("id")
        ),
        Some(&admin),
        None,
    );
    assert_eq!(s, 200);
    let (s, rotated) = call(
        &http,
        "POST",
        &format!("{}/v1/keys/rotate", before.base),
        Some(&admin),
        None,
    );
    assert_eq!(s, 200, "{rotated}");
    let content = b"the archive's bytes".repeat(1000);
    upload(
        &http,
        &before.base,
        &admin,
        product["id"].as_str().expect("id"),
        ("app", "app.zip"),
        &content,
    );
    // LicenseCM: a user, their product (with its sealed secret) and license.
    let (s, user) = call(
        &http,
        "POST",
        &format!("{}/api/auth/register", before.base),
        None,
        Some(json!({ "email": "vendor@example.com", "password": "secret123" })),
    );
    assert_eq!(s, 201, "{user}");
    let jwt = user["data"]["token"].as_str().expect("token").to_owned();
    let (s, lcm_product) = call(
        &http,
        "POST",
        &format!("{}/api/products", before.base),
        Some(&jwt),
        Some(json!({ "name": "Tool" })),
    );
    assert_eq!(s, 201, "{lcm_product}");
    let (s, lcm_license) = call(
        &http,
        "POST",
        &format!("{}/api/licenses", before.base),
        Some(&jwt),
        Some(
            json!({ "product_id": lcm_product["data"]["id"], "type": "subscription", "max_uses": 1 }),
        ),
    );
    assert_eq!(s, 201, "{lcm_license}");

    let licenses = get(&before.base, "/v1/licenses", Some(&admin));
    let machines = get(
        &before.base,
        &format!("/v1/licenses/{license_id}/machines"),
        Some(&admin),
    );
    let audit = get(&before.base, "/v1/audit?limit=1000", Some(&admin));
    let keys = get(&before.base, "/v1/keys", None);
    let revocations = get(&before.base, "/v1/revocations", None);
    let lcm_products = get(&before.base, "/api/products", Some(&jwt));
    before.stop();

    // The move.
    let url = fresh_database();
    let master = master_key(dir.path(), "master.key");
    let out = migrate(&data, &url, &master);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("licenses: 3") && said.contains("machines: 2"),
        "{said}"
    );
    // Into a database that holds a store already: refused, and nothing changes.
    let again = migrate(&data, &url, &master);
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already holds a licet store"),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // A server on PostgreSQL, with another (empty) data directory: the same everything.
    let after = Server::start(
        &dir.path().join("pg"),
        &[
            "--database-url",
            &url,
            "--master-key-file",
            master.to_str().expect("path"),
        ],
    );
    assert!(after.bootstrap_key.is_none(), "the API keys came along");
    let same = |path: &str, auth: Option<&str>, want: &Value, field: &str| {
        let got = get(&after.base, path, auth);
        assert_eq!(got[field], want[field], "{path}");
    };
    same("/v1/licenses", Some(&admin), &licenses, "items");
    same(
        &format!("/v1/licenses/{license_id}/machines"),
        Some(&admin),
        &machines,
        "items",
    );
    same("/v1/keys", None, &keys, "keys");
    let moved_audit = get(&after.base, "/v1/audit?limit=1000", Some(&admin));
    let actions = |v: &Value| -> Vec<Value> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|e| json!([e["action"], e["subject"], e["at"]]))
            .collect()
    };
    assert_eq!(
        actions(&moved_audit),
        actions(&audit),
        "the audit log, in order"
    );
    let moved_list = get(&after.base, "/v1/revocations", None);
    assert_eq!(moved_list["sequence"], revocations["sequence"]);
    assert_eq!(moved_list["revoked_licenses"], json!(1));

    // Tokens the sled server issued verify with the moved key set; the seats are still taken.
    let set = common::token_keys(&keys);
    for (fp, answer) in &tokens {
        let token = URL_SAFE_NO_PAD
            .decode(answer["token"].as_str().expect("token"))
            .expect("b64");
        let ctx =
            licet_verifier::Context::new(answer["server_time"].as_i64().expect("time"), "acme-pro")
                .fingerprint(fp);
        licet_verifier::verify(&token, &set[..], &ctx).expect("an old token verifies");
    }
    let (s, v) = call(
        &http,
        "POST",
        &format!("{}/v1/client/activate", after.base),
        None,
        Some(json!({ "key": key, "fingerprint": "m-3" })),
    );
    assert_eq!(s, 201, "{v}");
    let (s, v) = call(
        &http,
        "POST",
        &format!("{}/v1/client/activate", after.base),
        None,
        Some(json!({ "key": key, "fingerprint": "m-4" })),
    );
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (409, Some("too_many_machines")),
        "two seats were taken before the move: {v}"
    );
    // New numbers do not collide with moved ones.
    let (s, fresh) = call(
        &http,
        "POST",
        &format!("{}/v1/licenses", after.base),
        Some(&admin),
        Some(json!({ "product_id": product["id"] })),
    );
    assert_eq!(s, 201, "{fresh}");
    assert!(
        fresh["numeric_id"].as_u64() > licenses["items"][0]["numeric_id"].as_u64(),
        "{fresh}"
    );

    // LicenseCM: the user logs in with the same password and finds their product, whose
    // sealed secret still opens (the same secret is shown).
    let (s, login) = call(
        &http,
        "POST",
        &format!("{}/api/auth/login", after.base),
        None,
        Some(json!({ "email": "vendor@example.com", "password": "secret123" })),
    );
    assert_eq!(s, 200, "{login}");
    let jwt2 = login["data"]["token"].as_str().expect("token");
    let moved_products = get(&after.base, "/api/products", Some(jwt2));
    assert_eq!(moved_products["data"], lcm_products["data"]);
    let old_jwt = get(&after.base, "/api/products", Some(&jwt));
    assert_eq!(
        old_jwt["data"], lcm_products["data"],
        "a session JWT of before still works"
    );

    // The download file is in the database: served with nothing of the sled directory.
    let (s, grant) = call(
        &http,
        "POST",
        &format!("{}/api/v1/licenses/public/download", after.base),
        None,
        Some(
            json!({ "license": fresh["key"], "domain": "shop.example.com", "packages": "Acme Pro", "resource_name": "app" }),
        ),
    );
    assert_eq!(s, 200, "{grant}");
    std::fs::remove_dir_all(data.join("downloads")).expect("remove the sled files");
    let body = download(&http, grant["download_url"].as_str().expect("url"));
    assert!(body == content);
    after.stop();
}

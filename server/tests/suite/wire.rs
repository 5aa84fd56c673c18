//! The server's side of the wire files in `test-vectors/wire/` (the client's side is
//! `verifier/src/online.rs`, `mod wire`): the request the online client sends is accepted as
//! it is, and the answers have the shape the client reads. `LICET_WRITE_GOLDEN=1` rewrites the
//! answer files from this server instead of checking them.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Map, Value, json};

fn wire_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../test-vectors/wire")
        .join(name)
}

fn read(name: &str) -> Value {
    let text = std::fs::read_to_string(wire_file(name)).expect("a wire file");
    serde_json::from_str(&text).expect("JSON")
}

/// A JSON value's shape: its members and their types, recursively; an array's, its first
/// element's.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), shape(v)))
                .collect::<Map<_, _>>(),
        ),
        Value::Array(a) => json!([a.first().map(shape)]),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("boolean"),
        Value::Null => json!("null"),
    }
}

/// Checks `answer` against the wire file `name`, or (with `LICET_WRITE_GOLDEN`) writes it.
fn golden(name: &str, answer: &Value) {
    if std::env::var_os("LICET_WRITE_GOLDEN").is_some() {
        let text = serde_json::to_string_pretty(answer).expect("json") + "\n";
        std::fs::write(wire_file(name), text).expect("write");
        return;
    }
    assert_eq!(
        shape(answer),
        shape(&read(name)),
        "the answer's shape is {name}'s: {answer}"
    );
}

#[tokio::test]
async fn the_server_takes_the_clients_request_and_answers_in_the_shape_it_reads() {
    let app = TestApp::new().await;
    let request = read("client-request.json");
    let body = request["body"].clone();
    assert!(body.is_object(), "client-request.json has its body");
    let key = request["inputs"]["key"].as_str().expect("key");
    let (product, _) = app
        .product(
            "golden",
            json!({ "floating": true, "max_machines": 5, "heartbeat_interval": 600, "heartbeat_ttl": 1800 }),
        )
        .await;
    let l = app.license(&product, json!({ "key": key })).await;
    assert_eq!(l["key"], json!(key));

    let (s, answer, headers) = app
        .call("POST", "/v1/client/activate", None, Some(body.clone()))
        .await;
    assert_eq!(
        s,
        StatusCode::CREATED,
        "the client's request as it is: {answer}"
    );
    assert!(headers.contains_key("licet-signature"));
    assert_eq!(answer["nonce"], body["nonce"]);
    golden("activate-answer.json", &answer);
    let (s, renewed, _) = app
        .call("POST", "/v1/client/heartbeat", None, Some(body.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{renewed}");
    assert_eq!(
        shape(&renewed),
        shape(&answer),
        "a heartbeat answers as an activation"
    );

    let mut unknown = body.clone();
    unknown["key"] = json!("GOLDEN-NONE");
    let (s, refusal, headers) = app
        .call("POST", "/v1/client/activate", None, Some(unknown))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{refusal}");
    assert!(
        headers.contains_key("licet-signature"),
        "refusals are signed too"
    );
    golden("refusal-answer.json", &refusal);

    let (s, v, _) = app
        .call("POST", "/v1/client/deactivate", None, Some(body))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["deactivated"], json!(true));
}

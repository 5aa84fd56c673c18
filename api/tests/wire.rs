//! The golden files of `test-vectors/wire/` (which the online client and the server check
//! against each other) are exactly what these types read and write: nothing in them is
//! dropped or added by a round trip, and an unknown request field is refused.

use licet_api::client::{MachineRequest, RefusalAnswer, TokenAnswer};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn golden(name: &str) -> Value {
    let path = format!("{}/../test-vectors/wire/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(&path)).expect("json")
}

fn round_trip<T: Serialize + DeserializeOwned>(v: &Value) -> Value {
    let typed: T = serde_json::from_value(v.clone()).expect("reads");
    serde_json::to_value(&typed).expect("writes")
}

#[test]
fn the_golden_files_round_trip() {
    let request = golden("client-request.json")["body"].clone();
    assert_eq!(round_trip::<MachineRequest>(&request), request);
    let answer = golden("activate-answer.json");
    assert_eq!(round_trip::<TokenAnswer>(&answer), answer);
    let refusal = golden("refusal-answer.json");
    assert_eq!(round_trip::<RefusalAnswer>(&refusal), refusal);
}

#[test]
fn a_request_with_an_unknown_field_is_refused() {
    let mut request = golden("client-request.json")["body"].clone();
    request["fingerprints"] = Value::from("typo");
    assert!(serde_json::from_value::<MachineRequest>(request).is_err());
}

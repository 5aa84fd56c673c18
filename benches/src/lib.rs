//! Shared fixtures for licet's benchmarks: the typical claim set as a licet token and as a JWT.

use licet_issuer::{SigningKey, TokenBuilder};

/// The time the fixtures are valid at.
pub const NOW: i64 = 1_800_000_000;
/// The typical machine fingerprint (64 hex digits).
pub const FINGERPRINT: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

/// The typical claim set: what `licet issue --product acme-pro --hwid <64 hex> --domain
/// example.com --entitlement pro --entitlement export --entitlement sso --days 365` produces.
pub fn typical(license_id: &str) -> TokenBuilder {
    TokenBuilder::new("acme-pro", license_id, NOW - 86_400)
        .issuer("licet")
        .expires_at(NOW + 365 * 86_400)
        .token_id([0x5a; 16])
        .hwid(FINGERPRINT)
        .domain("example.com")
        .entitlement("pro")
        .entitlement("export")
        .entitlement("sso")
}

/// The same claims as JWT claims (JSON), with the hardware binding and token id in hex.
pub fn typical_jwt_claims() -> serde_json::Value {
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    serde_json::json!({
        "iss": "licet",
        "iat": NOW - 86_400,
        "exp": NOW + 365 * 86_400,
        "jti": hex(&[0x5a; 16]),
        "product": "acme-pro",
        "license_id": "K7Q2M9XA",
        "hwid": hex(&licet_verifier::binding::hwid_binding("acme-pro", FINGERPRINT)),
        "domains": ["example.com"],
        "entitlements": ["export", "pro", "sso"],
    })
}

/// A JWT (EdDSA) of the typical claims signed with the Ed25519 key `key`.
pub fn typical_jwt(key: &SigningKey) -> String {
    let pem = key.to_pkcs8_pem().expect("pem");
    let enc = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).expect("jwt key");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA),
        &typical_jwt_claims(),
        &enc,
    )
    .expect("jwt")
}

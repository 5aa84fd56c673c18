//! LicenseCM's encrypted request envelope, as the SDKs build it:
//! `{"encrypted": true, "iv", "data", "tag", "signature", "product_id", "timestamp"}` with hex
//! fields, AES-256-GCM (no AAD, 16-byte tag) keyed by the first 32 bytes of the product's
//! `secret_key`, and `signature` = hex HMAC-SHA256 keyed by the whole secret over
//! `iv:data:tag:timestamp` (milliseconds).
//!
//! Most SDKs send a 16-byte IV that GCM uses whole; one sends 16 bytes but encrypts with the
//! first 12; one sends 12. So the IV is tried whole and, if the tag fails and it is longer than
//! 12 bytes, again as its first 12. The HMAC is checked (in constant time) before anything is
//! decrypted, then the timestamp window, then that the envelope was not seen before.

use aes_gcm::aead::consts::U16;
use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::aes::Aes256;
use aes_gcm::{Aes256Gcm, AesGcm};
use hmac::Mac;
use serde_json::{Value, json};

use super::Fail;
use crate::ids::{hex, unhex};

/// AES-256-GCM with a 16-byte nonce (the SDKs' usual IV).
type Aes256Gcm16 = AesGcm<Aes256, U16>;

/// An envelope as received: the hex strings exactly as sent (the HMAC covers them).
#[derive(Debug, Clone)]
pub struct Envelope {
    iv: String,
    data: String,
    tag: String,
    signature: String,
    /// The product whose secret keys it.
    pub product_id: String,
    /// The timestamp as sent, and its value in milliseconds.
    timestamp: (String, i64),
}

/// Why an envelope was refused, for the security log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Missing or malformed fields.
    Malformed,
    /// The HMAC does not match (tampered, or another secret).
    BadSignature,
    /// The timestamp is outside the window.
    Stale,
    /// The tag does not match under any IV reading.
    Undecryptable,
}

impl Refused {
    /// The refusal as an answer.
    pub fn fail(self) -> Fail {
        let m = match self {
            Refused::Malformed => "Invalid encrypted request",
            Refused::BadSignature => "Invalid request signature",
            Refused::Stale => "Request timestamp outside the allowed window",
            Refused::Undecryptable => "Request could not be decrypted",
        };
        Fail::new(axum::http::StatusCode::FORBIDDEN, "SECURITY_VIOLATION", m)
    }
}

impl Envelope {
    /// The envelope in a request body, if the body is one (`"encrypted": true`).
    pub fn parse(v: &Value) -> Option<Result<Envelope, Refused>> {
        if v.get("encrypted") != Some(&Value::Bool(true)) {
            return None;
        }
        let text = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let timestamp = match v.get("timestamp") {
            Some(Value::Number(n)) => n.as_i64().map(|t| (n.to_string(), t)),
            Some(Value::String(s)) => s.trim().parse::<i64>().ok().map(|t| (s.clone(), t)),
            _ => None,
        };
        let product_id = text("product_id").or_else(|| text("productId"));
        Some(
            match (
                text("iv"),
                text("data"),
                text("tag"),
                text("signature"),
                product_id,
                timestamp,
            ) {
                (Some(iv), Some(data), Some(tag), Some(signature), Some(product_id), Some(ts))
                    if iv.len() <= 64 && tag.len() == 32 && signature.len() == 64 =>
                {
                    Ok(Envelope {
                        iv,
                        data,
                        tag,
                        signature,
                        product_id,
                        timestamp: ts,
                    })
                }
                _ => Err(Refused::Malformed),
            },
        )
    }

    /// The HMAC (hex, lower-case), the envelope's identity for the replay guard.
    pub fn mac(&self) -> String {
        self.signature.to_ascii_lowercase()
    }

    /// The timestamp, milliseconds.
    pub fn timestamp_ms(&self) -> i64 {
        self.timestamp.1
    }

    /// Checks the HMAC and the timestamp window, then decrypts; the plaintext as JSON.
    pub fn open(&self, secret: &str, now_ms: i64, window_ms: i64) -> Result<Value, Refused> {
        let message = format!(
            "{}:{}:{}:{}",
            self.iv, self.data, self.tag, self.timestamp.0
        );
        let given = unhex(&self.signature).ok_or(Refused::Malformed)?;
        let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
            .map_err(|_| Refused::Malformed)?;
        mac.update(message.as_bytes());
        mac.verify_slice(&given)
            .map_err(|_| Refused::BadSignature)?;
        if (now_ms - self.timestamp.1).abs() > window_ms {
            return Err(Refused::Stale);
        }
        let iv = unhex(&self.iv).ok_or(Refused::Malformed)?;
        let data = unhex(&self.data).ok_or(Refused::Malformed)?;
        let tag = unhex(&self.tag).ok_or(Refused::Malformed)?;
        let key = aes_key(secret).ok_or(Refused::Undecryptable)?;
        let plain = decrypt(&key, &iv, &data, &tag)
            .or_else(|| (iv.len() > 12).then(|| decrypt(&key, &iv[..12], &data, &tag))?)
            .ok_or(Refused::Undecryptable)?;
        serde_json::from_slice(&plain).map_err(|_| Refused::Malformed)
    }
}

/// The AES key: the first 32 bytes of the secret (UTF-8).
fn aes_key(secret: &str) -> Option<[u8; 32]> {
    secret.as_bytes().get(..32)?.try_into().ok()
}

fn decrypt(key: &[u8; 32], iv: &[u8], data: &[u8], tag: &[u8]) -> Option<Vec<u8>> {
    let mut buf = data.to_vec();
    let tag: [u8; 16] = tag.try_into().ok()?;
    match iv.len() {
        12 => {
            let c = Aes256Gcm::new(key.into());
            let nonce: [u8; 12] = iv.try_into().ok()?;
            c.decrypt_inout_detached(&nonce.into(), b"", buf.as_mut_slice().into(), &tag.into())
                .ok()?;
        }
        16 => {
            let c = Aes256Gcm16::new(key.into());
            let nonce: [u8; 16] = iv.try_into().ok()?;
            c.decrypt_inout_detached(&nonce.into(), b"", buf.as_mut_slice().into(), &tag.into())
                .ok()?;
        }
        _ => return None,
    }
    Some(buf)
}

/// Encrypts an answer for a client that sent an encrypted request: a 12-byte IV, the same
/// key, the whole answer object inside, and the same HMAC over `iv:data:tag:timestamp`.
pub fn seal(secret: &str, answer: &Value, now_ms: i64) -> Option<Value> {
    let key = aes_key(secret)?;
    let iv = crate::ids::random_bytes::<12>();
    let mut buf = serde_json::to_vec(answer).ok()?;
    let tag = Aes256Gcm::new((&key).into())
        .encrypt_inout_detached(&iv.into(), b"", buf.as_mut_slice().into())
        .ok()?;
    let (iv, data, tag) = (hex(&iv), hex(&buf), hex(&tag));
    let signature = crate::events::sign(
        secret.as_bytes(),
        format!("{iv}:{data}:{tag}:{now_ms}").as_bytes(),
    );
    Some(json!({
        "encrypted": true,
        "iv": iv,
        "data": data,
        "tag": tag,
        "timestamp": now_ms,
        "signature": signature,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "sk_live_0123456789abcdefghijklmnopqrstuvwxyz0123";

    /// Builds an envelope as an SDK would, with an IV of `iv_len` bytes of which the cipher
    /// uses `used`.
    fn sdk_envelope(payload: &Value, iv_len: usize, used: usize, ts: i64) -> Value {
        let key = aes_key(SECRET).expect("key");
        let iv: Vec<u8> = (0..iv_len as u8).collect();
        let mut buf = serde_json::to_vec(payload).expect("json");
        let tag = match used {
            12 => Aes256Gcm::new((&key).into()).encrypt_inout_detached(
                <&[u8; 12]>::try_from(&iv[..12]).expect("12").into(),
                b"",
                buf.as_mut_slice().into(),
            ),
            _ => Aes256Gcm16::new((&key).into()).encrypt_inout_detached(
                <&[u8; 16]>::try_from(&iv[..16]).expect("16").into(),
                b"",
                buf.as_mut_slice().into(),
            ),
        }
        .expect("encrypt");
        let (iv, data, tag) = (hex(&iv), hex(&buf), hex(&tag));
        let signature = crate::events::sign(
            SECRET.as_bytes(),
            format!("{iv}:{data}:{tag}:{ts}").as_bytes(),
        );
        json!({ "encrypted": true, "iv": iv, "data": data, "tag": tag, "signature": signature, "product_id": "prd_x", "timestamp": ts })
    }

    #[test]
    fn every_sdk_iv_style_opens() {
        let payload = json!({ "license_key": "K", "hwid": "H" });
        for (len, used) in [(16, 16), (16, 12), (12, 12)] {
            let v = sdk_envelope(&payload, len, used, 1_000);
            let e = Envelope::parse(&v).expect("envelope").expect("well formed");
            assert_eq!(
                e.open(SECRET, 1_000, 300_000),
                Ok(payload.clone()),
                "{len}/{used}"
            );
        }
    }

    #[test]
    fn tampering_staleness_and_wrong_secrets_are_refused() {
        let payload = json!({ "license_key": "K" });
        let v = sdk_envelope(&payload, 16, 16, 1_000);
        let e = Envelope::parse(&v).expect("envelope").expect("ok");
        assert_eq!(e.open(SECRET, 400_000, 300_000), Err(Refused::Stale));
        let other = "sk_live_ZZZZ456789abcdefghijklmnopqrstuvwxyz0123";
        assert_eq!(e.open(other, 1_000, 300_000), Err(Refused::BadSignature));
        let mut t = v.clone();
        t["data"] = json!(format!("00{}", &v["data"].as_str().expect("d")[2..]));
        let e = Envelope::parse(&t).expect("envelope").expect("ok");
        assert_eq!(e.open(SECRET, 1_000, 300_000), Err(Refused::BadSignature));
        assert!(Envelope::parse(&json!({ "license_key": "K" })).is_none());
        assert!(matches!(
            Envelope::parse(&json!({ "encrypted": true })),
            Some(Err(Refused::Malformed))
        ));
    }

    #[test]
    fn sealed_answers_open_with_the_same_secret() {
        let answer = json!({ "success": true, "data": { "valid": true } });
        let sealed = seal(SECRET, &answer, 5_000).expect("sealed");
        let mut as_request = sealed.clone();
        as_request["product_id"] = json!("prd_x");
        let e = Envelope::parse(&as_request).expect("envelope").expect("ok");
        assert_eq!(e.open(SECRET, 5_000, 1_000), Ok(answer));
        assert_eq!(sealed["iv"].as_str().map(str::len), Some(24));
    }
}

//! Python values at the edge: times, byte inputs, hex.

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyString};

use crate::error::invalid;

/// Unix seconds from `None` (the system clock), an `int`, or a `datetime` (naive ones are local
/// time, as `datetime.timestamp` reads them).
pub(crate) fn seconds(now: Option<&Bound<'_, PyAny>>) -> PyResult<i64> {
    let Some(v) = now else {
        return Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)));
    };
    if let Ok(i) = v.extract::<i64>() {
        return Ok(i);
    }
    if v.hasattr("timestamp")? {
        let f: f64 = v.call_method0("timestamp")?.extract()?;
        if f.is_finite() {
            // Whole seconds, rounded down, as the claims are.
            return Ok(f.floor() as i64);
        }
    }
    Err(invalid(
        "a time is unix seconds (int), a datetime, or None for now",
    ))
}

/// The bytes of a `bytes`, `bytearray` or `str` (its UTF-8) argument.
pub(crate) fn bytes_of(v: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<u8>> {
    if let Ok(b) = v.cast::<PyBytes>() {
        return Ok(b.as_bytes().to_vec());
    }
    if let Ok(s) = v.cast::<PyString>() {
        return Ok(s.to_cow()?.as_bytes().to_vec());
    }
    if let Ok(b) = v.cast::<PyByteArray>() {
        return Ok(b.to_vec());
    }
    Err(invalid(format!("{what} must be bytes or str")))
}

/// Exactly `N` bytes.
pub(crate) fn fixed<const N: usize>(v: &[u8], what: &str) -> PyResult<[u8; N]> {
    v.try_into()
        .map_err(|_| invalid(format!("{what} must be {N} bytes, not {}", v.len())))
}

//! The Python package `licet`: its extension module `licet._licet`. The Python half
//! (`python/licet`) re-exports it and defines the exceptions; this half converts Python values
//! at the edge and calls licet-verifier and licet-client, with the GIL released while they
//! verify tokens and revocation lists or wait on the network.

use pyo3::prelude::*;

mod client;
mod error;
mod keys;
mod license;
mod offline;
mod revocations;
mod value;

#[pymodule]
fn _licet(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<keys::Keys>()?;
    m.add_class::<license::License>()?;
    m.add_function(wrap_pyfunction!(license::verify, m)?)?;
    m.add_function(wrap_pyfunction!(license::inspect, m)?)?;
    m.add_class::<revocations::RevocationList>()?;
    m.add_class::<offline::OfflineRequest>()?;
    m.add_class::<offline::Receipt>()?;
    m.add_function(wrap_pyfunction!(offline::verify_offline_response, m)?)?;
    m.add_function(wrap_pyfunction!(offline::verify_possession, m)?)?;
    m.add_class::<client::Client>()?;
    m.add_class::<client::Status>()?;
    m.add_function(wrap_pyfunction!(client::machine_fingerprint, m)?)?;
    Ok(())
}

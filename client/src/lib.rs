//! The application's side of licet-server's online service, for desktop and server programs:
//! activation with a device key, check-ins, deactivation, floating seats and borrowing, the
//! air-gapped request and install, this machine's fingerprint, and the license state kept on
//! disk (sealed to the machine, with a clock guard), so that an application starts offline from
//! its stored token and keeps working through an outage for the offline grace.
//!
//! Every token is checked by [`licet_verifier`] against keys the application pins, and every
//! answer the client acts on is a signed one ([`answer`]). The requests and answers are the
//! server's wire types ([`licet_api`]).
//!
//! ```no_run
//! use licet_client::online::{Client, ClientError, Config};
//! use licet_verifier::PublicKey;
//!
//! /// At start-up: the stored license, or an activation with the key the user typed.
//! fn start(vendor_key: PublicKey, typed_key: &str) -> Result<bool, ClientError> {
//!     let config = Config::new("https://licenses.example.com", "acme-desk", vec![vendor_key]);
//!     let client = Client::new(config)?;
//!     if client.ensure()?.is_licensed() {
//!         return Ok(true);
//!     }
//!     Ok(client.activate(typed_key)?.is_licensed())
//! }
//! ```

mod airgap;
pub mod answer;
pub mod device;
pub mod fingerprint;
pub mod online;
pub mod state;

//! A desktop-style application: the first run activates online with a license key; later runs
//! start offline from the stored token, check in when the token asks, and keep working through
//! the offline grace when the server is down. It prints its status the way an application's
//! "About" box would.
//!
//!     cargo run -p licet-client --example desktop -- \
//!         --server http://127.0.0.1:47293 --product acme-desk --pubkey public-key.pem \
//!         [--key XXXX-XXXX-XXXX-XXXX] [--state-dir DIR]

use licet_client::online::{Client, Config, Status};
use licet_verifier::PublicKey;

fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args();
    args.find(|a| a == name)?;
    args.next()
}

fn main() {
    let (Some(server), Some(product), Some(pubkey)) =
        (arg("--server"), arg("--product"), arg("--pubkey"))
    else {
        eprintln!(
            "usage: desktop --server URL --product CODE --pubkey FILE [--key KEY] [--state-dir DIR]"
        );
        std::process::exit(2);
    };
    let pem = std::fs::read_to_string(&pubkey).unwrap_or_else(|e| {
        eprintln!("{pubkey}: {e}");
        std::process::exit(2);
    });
    // A key that cannot be read is said so, not dropped: every token would then be refused
    // for want of a key, with nothing to say why.
    let keys: Vec<PublicKey> = match PublicKey::from_spki_pem(&pem) {
        Ok(k) => vec![k],
        Err(e) => {
            eprintln!("{pubkey}: not a public key PEM ({})", e.code());
            std::process::exit(2);
        }
    };
    let mut config = Config::new(&server, &product, keys);
    config.state_dir = arg("--state-dir").map(Into::into);
    let client = match Client::new(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let mut status = client.ensure().unwrap_or_else(|e| {
        eprintln!("{e}");
        client.status()
    });
    if status == Status::NeedsActivation {
        let Some(key) = arg("--key") else {
            println!("not activated: run once with --key");
            std::process::exit(1);
        };
        println!("first run: activating online");
        status = client.activate(&key).unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1);
        });
    } else {
        println!("starting from the stored license (offline)");
    }
    match &status {
        Status::Valid { until, .. } => println!("licensed until {until}"),
        Status::Grace { until } => println!("licensed offline until {until} (server unreachable)"),
        other => {
            println!("not licensed: {other:?}");
            std::process::exit(1);
        }
    }
}

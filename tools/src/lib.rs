//! The `licet` command-line tool (library part, so the commands can be tested in-process).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod io;
mod json;
mod time;

use cmd::{
    inspect::InspectArgs, issue::IssueArgs, keygen::KeygenArgs, revoke::RevokeArgs,
    verify::VerifyArgs,
};

/// Issue and check licet license tokens: keys, tokens, revocation lists.
///
/// Exit codes: 0 success (for `verify`: the token is valid), 1 the token was checked and is
/// invalid, 2 usage or I/O error.
#[derive(Debug, Parser)]
#[command(name = "licet", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a signing key pair (private key written 0600, public key beside it).
    Keygen(KeygenArgs),
    /// Issue (sign) a license token, or many from a CSV file.
    Issue(Box<IssueArgs>),
    /// Verify a token offline against a public key and the expected context.
    Verify(VerifyArgs),
    /// Decode a token without verifying it and show its header and claims (UNVERIFIED).
    Inspect(InspectArgs),
    /// Create or extend a signed revocation list.
    Revoke(RevokeArgs),
    /// Print this machine's fingerprint for a product (its id, and with --components the
    /// hashed parts a token can bind with a k-of-n rule).
    Hwid(cmd::hwid::HwidArgs),
    /// Activate this machine with a license key (stores the token for offline use).
    Activate(cmd::client::ActivateArgs),
    /// This machine's license status (offline; --online to check in when due).
    Status(cmd::client::StatusArgs),
    /// Deactivate this machine (frees its seat on the server).
    Deactivate(cmd::client::DeactivateArgs),
    /// Air-gapped activation: write a request, install the response, write a receipt.
    #[command(subcommand)]
    Offline(cmd::offline::Offline),
    /// Borrow a floating seat until a date (a token that needs no check-ins).
    Borrow(cmd::offline::BorrowArgs),
    /// Return a borrowed seat early (online).
    Return(cmd::client::DeactivateArgs),
    /// Manage a licet-server: products, policies, licenses, machines, API keys.
    Server(Box<cmd::server::ServerArgs>),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Keygen(a) => cmd::keygen::run(a),
        Command::Issue(a) => cmd::issue::run(*a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Revoke(a) => cmd::revoke::run(a),
        Command::Hwid(a) => cmd::hwid::run(a),
        Command::Activate(a) => cmd::client::activate(a),
        Command::Status(a) => cmd::client::status(a),
        Command::Deactivate(a) => cmd::client::deactivate(a),
        Command::Offline(o) => cmd::offline::run(o),
        Command::Borrow(a) => cmd::offline::borrow(a),
        Command::Return(a) => cmd::client::deactivate(a),
        Command::Server(a) => cmd::server::run(*a),
    }
}

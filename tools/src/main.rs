//! `licet`: the command-line tool for license issuers.
//!
//! Exit codes: 0 success (for `verify`: valid), 1 checked and invalid, 2 usage or I/O error.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = licet_tools::Cli::parse();
    match licet_tools::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // One line: the context chain names the file or argument and what is wrong.
            eprintln!("licet: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

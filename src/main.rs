//! The `callaudit` binary: parse the command line, run, exit with the outcome's code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    callaudit::run(callaudit::cli::Cli::parse())
}

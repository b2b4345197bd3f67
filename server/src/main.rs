//! The `server` binary: parses the command line and runs the chosen command.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = server::cli::Cli::parse();
    server::cli::run(cli).await
}

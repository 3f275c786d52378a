//! The `img23d` command.

use std::process::ExitCode;

use clap::Parser;
use img23d::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Some(Command::Mesh(args)) => img23d::mesh_cmd::run(args),
        _ => Ok(()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e.exit_code();
            // Messages carry their causes and paths already.
            eprintln!("error: {e}");
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}

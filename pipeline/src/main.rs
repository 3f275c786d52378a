//! The `img23d` command.

use clap::Parser;
use img23d::cli::Cli;

fn main() {
    let _cli = Cli::parse();
}

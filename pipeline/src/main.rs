//! The `img23d` command: parses the command line, runs the main job or a subcommand,
//! prints one line per stage, and turns errors into one line on stderr and an exit code.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use img23d::cli::{Cli, Command};
use img23d::config::RunConfig;
use img23d::run::{Progress, StageEvent, prepare_models, prepare_output_dir, run_image_with};

/// Prints each stage as `<file>: <stage> <ms> ms  <detail>` on stdout.
struct Printer;

impl Progress for Printer {
    fn stage(&mut self, e: &StageEvent<'_>) {
        let name = e
            .input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{name}: {:<14} {:>7.1} ms  {}",
            e.name,
            e.seconds * 1e3,
            e.detail
        );
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let code = match &cli.command {
        Some(Command::Models(args)) => exit_code(img23d::models_cmd::run(args)),
        Some(Command::Mesh(args)) => exit_code(img23d::mesh_cmd::run(args)),
        Some(Command::Depth(args)) => exit_code(img23d::depth_cmd::run(args)),
        Some(Command::Text(args)) => exit_code(img23d::text_cmd::run(args)),
        None => match RunConfig::from_args(&cli.run) {
            Ok(config) => run_main_job(&config),
            Err(e) => {
                eprintln!("error: {e}");
                e.exit_code()
            }
        },
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// Prints a subcommand's error (messages carry their causes and paths) and maps it to the
/// process exit code.
fn exit_code(result: img23d::Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// Runs every picture; a failing picture does not stop the others. Returns the exit code:
/// 0 when all succeeded, else the first failure's.
fn run_main_job(config: &RunConfig) -> i32 {
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(config.threads)
        .build_global()
    {
        eprintln!("error: cannot start {} worker threads: {e}", config.threads);
        return 1;
    }
    if let Err(e) = prepare_output_dir(&config.output_dir) {
        eprintln!("error: {e}");
        return e.exit_code();
    }
    // The neural models, once for all pictures (a forced model that is missing fails here).
    let neural = match prepare_models(config) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    let mut printer = Printer;
    let mut silent = img23d::run::Silent;
    let progress: &mut dyn Progress = if config.quiet {
        &mut silent
    } else {
        &mut printer
    };
    let mut code = 0;
    let mut any_done = false;
    for input in &config.images {
        let start = std::time::Instant::now();
        match run_image_with(config, input, progress, &neural) {
            Ok(outcome) => {
                any_done = true;
                if !config.quiet {
                    let files: Vec<String> = outcome
                        .files
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    println!(
                        "{}: done in {:.2} s: {}",
                        input.display(),
                        start.elapsed().as_secs_f64(),
                        files.join(", ")
                    );
                }
            }
            Err(e) => {
                eprintln!("error: {e}");
                if code == 0 {
                    code = e.exit_code();
                }
            }
        }
    }
    if any_done && !config.quiet {
        println!("note: {}", neural.notice());
    }
    code
}

/// Logs through `tracing` to stderr, filtered by `IMG23D_LOG` (or `RUST_LOG`), e.g.
/// `IMG23D_LOG=debug`; warnings only by default.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("IMG23D_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .try_init();
}

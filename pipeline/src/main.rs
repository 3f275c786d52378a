//! The `img23d` command: parses the command line, maps it onto the command's validated
//! configuration, runs the main job or a subcommand, and turns errors into one line on
//! stderr and an exit code.

use std::process::ExitCode;

use img23d::cli::Command;
use img23d::run::{RunConfig, prepare_models, run_image_with};
use img23d::stage::printer;
use img23d::{Error, depth_cmd, doctor_cmd, mesh_cmd, models_cmd, text_cmd};

fn main() -> ExitCode {
    let cli = img23d::cli::parse();
    init_tracing();
    let result = match &cli.command {
        Some(Command::Models(args)) => args
            .to_config()
            .and_then(|c| models_cmd::run(&c))
            .map(|()| 0),
        Some(Command::Mesh(args)) => args.to_config().and_then(|c| mesh_cmd::run(&c)).map(|()| 0),
        Some(Command::Depth(args)) => args.to_config().and_then(|c| {
            start_workers(c.runtime.intra_threads)?;
            depth_cmd::run(&c).map(|()| 0)
        }),
        Some(Command::Doctor(args)) => args.to_config().and_then(|c| doctor_cmd::run(&c)),
        Some(Command::Text(args)) => args.to_config().and_then(|c| {
            start_workers(c.image.threads)?;
            text_cmd::run(&c).map(|()| 0)
        }),
        None => cli.run.to_config().map(|c| run_main_job(&c)),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            e.exit_code()
        }
    };
    device_note();
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// One line when `--device auto` ran a model on the CPU, saying why (never a silent CPU
/// run on a GPU machine). Nothing when no model ran or every one ran on CUDA.
fn device_note() {
    if let Some(reason) = img23d_models::runtime::auto_fallback() {
        eprintln!("note: --device auto: models ran on the CPU: {reason}");
    }
}

/// Starts the worker threads of the heavy stages (0: one per core).
fn start_workers(threads: usize) -> img23d::Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| Error::InvalidArgument {
            name: "--threads",
            expected: "a number of worker threads the system can start".into(),
            got: format!("{threads} ({e})"),
        })
}

/// Runs every picture; a failing picture does not stop the others. Returns the exit code:
/// 0 when all succeeded, else the first failure's.
fn run_main_job(config: &RunConfig) -> i32 {
    let prepared = start_workers(config.threads)
        .and_then(|()| img23d::output::prepare_output_dir(&config.output_dir))
        // The neural models, once for all pictures (a forced model that is missing fails here).
        .and_then(|()| prepare_models(config));
    let neural = match prepared {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return e.exit_code();
        }
    };
    let mut progress = printer(config.quiet);
    let mut code = 0;
    let mut any_done = false;
    for input in &config.images {
        let start = std::time::Instant::now();
        match run_image_with(config, input, progress.as_mut(), &neural) {
            Ok(outcome) => {
                any_done = true;
                if !config.quiet {
                    let files: Vec<String> = outcome
                        .files
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect();
                    img23d::stage::say(&format!(
                        "{}: done in {:.2} s: {}",
                        input.display(),
                        start.elapsed().as_secs_f64(),
                        files.join(", ")
                    ));
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
        img23d::stage::say(&format!("note: {}", neural.notice()));
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

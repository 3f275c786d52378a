//! The one stage timer of every command. Each stage runs in a `tracing` span, its wall
//! time is recorded in milliseconds for the report ([`StageTime`]), and a [`Progress`]
//! hears of it (the binary prints one line per stage with [`LinePrinter`]).

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use crate::Result;
use crate::report::{StageTime, Timings};

/// One finished stage of one input.
#[derive(Debug, Clone)]
pub struct StageEvent<'a> {
    /// The input (picture, photo or volume).
    pub input: &'a Path,
    /// Stage name.
    pub name: &'static str,
    /// Wall time in milliseconds.
    pub ms: f64,
    /// What it found or made, in a few words.
    pub detail: String,
}

/// Receives the progress of a run (the binary prints it; tests may collect it).
pub trait Progress {
    /// A stage finished.
    fn stage(&mut self, event: &StageEvent<'_>);
}

/// A [`Progress`] that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn stage(&mut self, _event: &StageEvent<'_>) {}
}

/// Prints each stage as `<file>: <stage> <ms> ms  <detail>` on stdout (a closed stdout is
/// not worth failing for).
#[derive(Debug, Clone, Copy, Default)]
pub struct LinePrinter;

impl Progress for LinePrinter {
    fn stage(&mut self, e: &StageEvent<'_>) {
        let name = e
            .input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let _ = writeln!(
            std::io::stdout().lock(),
            "{name}: {:<14} {:>7.1} ms  {}",
            e.name,
            e.ms,
            e.detail
        );
    }
}

/// Writes a line on stdout (a closed stdout is not worth failing for).
pub fn say(line: &str) {
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// [`LinePrinter`], or [`Silent`] when `quiet`.
pub fn printer(quiet: bool) -> Box<dyn Progress> {
    if quiet {
        Box::new(Silent)
    } else {
        Box::new(LinePrinter)
    }
}

/// Times the stages of one input, from its creation to [`Stages::finish`].
pub struct Stages<'a> {
    progress: &'a mut dyn Progress,
    input: &'a Path,
    times: Vec<StageTime>,
    start: Instant,
}

impl<'a> Stages<'a> {
    /// Starts the clock for `input`.
    pub fn new(input: &'a Path, progress: &'a mut dyn Progress) -> Self {
        Self {
            progress,
            input,
            times: Vec::new(),
            start: Instant::now(),
        }
    }

    /// Runs `work` as the stage `name` inside a tracing span, records its time and tells
    /// the progress, with `detail` describing the result.
    pub fn run<T>(
        &mut self,
        name: &'static str,
        work: impl FnOnce() -> Result<T>,
        detail: impl FnOnce(&T) -> String,
    ) -> Result<T> {
        let span = tracing::info_span!("stage", name);
        let start = Instant::now();
        let value = span.in_scope(work)?;
        crate::fault::check(name, self.input)?;
        let ms = start.elapsed().as_secs_f64() * 1e3;
        self.times.push(StageTime { name, ms });
        self.progress.stage(&StageEvent {
            input: self.input,
            name,
            ms,
            detail: detail(&value),
        });
        Ok(value)
    }

    /// The stages so far, in order.
    pub fn times(&self) -> &[StageTime] {
        &self.times
    }

    /// The input's time so far, milliseconds.
    pub fn elapsed_ms(&self) -> f64 {
        self.start.elapsed().as_secs_f64() * 1e3
    }

    /// Each stage's time and the total since [`Stages::new`], for the report.
    pub fn finish(self) -> Timings {
        Timings {
            total_ms: self.elapsed_ms(),
            stages: self.times,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Names(Vec<&'static str>);

    impl Progress for Names {
        fn stage(&mut self, e: &StageEvent<'_>) {
            self.0.push(e.name);
        }
    }

    #[test]
    fn stages_are_recorded_in_order_and_errors_stop_them() {
        let mut names = Names(Vec::new());
        let mut stages = Stages::new(Path::new("a.png"), &mut names);
        assert_eq!(stages.run("one", || Ok(1), |v| v.to_string()).unwrap(), 1);
        stages.run("two", || Ok(()), |_| String::new()).unwrap();
        let failed = stages.run(
            "three",
            || -> Result<()> {
                Err(crate::Error::InvalidArgument {
                    name: "x",
                    expected: "y".into(),
                    got: "z".into(),
                })
            },
            |_| String::new(),
        );
        assert!(failed.is_err());
        let timings = stages.finish();
        let recorded: Vec<&str> = timings.stages.iter().map(|s| s.name).collect();
        assert_eq!(recorded, ["one", "two"]);
        assert!(
            timings
                .stages
                .iter()
                .all(|s| s.ms >= 0.0 && s.ms <= timings.total_ms)
        );
        let sum: f64 = timings.stages.iter().map(|s| s.ms).sum();
        assert!(sum <= timings.total_ms, "{sum} > {}", timings.total_ms);
        assert_eq!(names.0, ["one", "two"]);
    }
}

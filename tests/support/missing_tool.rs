//! Test helper: what a test does when a program it needs (node, Chromium, Blender,
//! setpriv) is missing. It fails, saying what to install, so a run that skipped a check
//! never reads as a full pass; with `IMG23D_SKIP_MISSING_TOOLS=1` it writes a `SKIPPED`
//! line straight to the terminal (past the test harness's output capture, so the line
//! shows in `cargo test`'s output even for a passing test) and the test returns early.
//!
//! Included by `tests/support/gltf_validator.rs` (and through it by `img23d-meshing`'s
//! unit tests and the root `tests/` binary). It uses only `std`.
#![allow(dead_code, reason = "each including crate uses a different subset")]

use std::io::Write;

/// The opt-out: set to `1` to skip, visibly, the tests whose programs are missing.
pub const SKIP_MISSING_TOOLS: &str = "IMG23D_SKIP_MISSING_TOOLS";

/// `check` cannot run because `needs` is missing: panics with how to get it, unless
/// [`SKIP_MISSING_TOOLS`] is `1`, where it prints `SKIPPED` on the terminal and returns
/// (the caller then skips the check).
pub fn tool_missing(check: &str, needs: &str) {
    if std::env::var_os(SKIP_MISSING_TOOLS).is_some_and(|v| v == "1") {
        // Straight to the process's stderr: `eprintln!` would be captured and hidden.
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIPPED {check}: needs {needs} ({SKIP_MISSING_TOOLS}=1)"
        );
        return;
    }
    panic!(
        "{check} cannot run: it needs {needs}, not found here. Install it (README lists \
         what the tests need; .ci/run installs it), or set {SKIP_MISSING_TOOLS}=1 to skip \
         such checks with a SKIPPED line"
    );
}

//! Failure injection for the tests of what a failed input leaves behind: in debug builds
//! (the tests' binary), `IMG23D_FAULT=<point>` makes the named point fail as if its disk
//! had failed. Points: every stage name (checked after the stage's work, so its files are
//! already written, e.g. `export`, `preview`, `fidelity`, `write npy`, `write`), `export glb`,
//! `export ply`, `export obj` (after that format's files) and `report` (after the report is
//! written). Release builds never read the variable; it is not a command-line option.

use std::path::Path;

use crate::{Error, Result};

/// Fails with an I/O error on `path` when `IMG23D_FAULT` names `point` (debug builds).
pub(crate) fn check(point: &str, path: &Path) -> Result<()> {
    if cfg!(debug_assertions) && std::env::var_os("IMG23D_FAULT").is_some_and(|v| v == point) {
        return Err(Error::io(
            std::io::Error::other(format!("failure injected at {point} (IMG23D_FAULT)")),
            path,
        ));
    }
    Ok(())
}

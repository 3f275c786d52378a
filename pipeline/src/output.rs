//! Output files, the same way for every command: the folder is checked before any work
//! ([`prepare_output_dir`]), outputs are named after the input's file stem
//! ([`output_stem`], [`distinct_stems`]), and the files one input wrote are removed again
//! when it fails ([`removing_on_failure`]): a failed input leaves nothing behind. The mesh
//! file formats ([`Format`]) live here too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A mesh file format: the main job writes any of them (`--format`), `img23d mesh` the
/// one its output's extension names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Binary glTF 2.0: normals, UVs, an embedded base-color texture and a PBR material
    /// (vertex colors as COLOR_0 with `--texture-size 0`).
    Glb,
    /// Binary little-endian PLY with normals and 8-bit vertex colors.
    Ply,
    /// Wavefront OBJ with UVs, an MTL and the texture PNG beside it (per-vertex colors
    /// with `--texture-size 0`).
    Obj,
}

impl Format {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Glb => "glb",
            Self::Ply => "ply",
            Self::Obj => "obj",
        }
    }
}

impl Format {
    /// The format `path`'s extension names (any case), if any.
    pub fn of_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        [Self::Glb, Self::Ply, Self::Obj]
            .into_iter()
            .find(|f| f.extension() == ext)
    }
}

/// Creates the output folder if needed and checks that a file can be written in it.
pub fn prepare_output_dir(dir: &Path) -> Result<()> {
    let folder_error = |source: std::io::Error| Error::OutputFolder {
        source,
        path: dir.to_path_buf(),
    };
    std::fs::create_dir_all(dir).map_err(folder_error)?;
    if !dir.is_dir() {
        return Err(folder_error(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a folder",
        )));
    }
    let probe = dir.join(format!(".img23d-write-test.{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(folder_error)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The file stem outputs of `input` are named after (`chair` for `photos/chair.png`).
pub fn output_stem(input: &Path) -> Result<String> {
    input
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::InvalidArgument {
            name: "IMAGE",
            expected: "a file path".into(),
            got: input.display().to_string(),
        })
}

/// Checks that no two inputs would write the same `<stem>.*` files.
pub fn distinct_stems(inputs: &[PathBuf]) -> Result<()> {
    let mut stems: BTreeMap<String, &Path> = BTreeMap::new();
    for input in inputs {
        let stem = output_stem(input)?;
        if let Some(first) = stems.insert(stem.clone(), input) {
            return Err(Error::OutputCollision {
                stem,
                first: first.to_path_buf(),
                second: input.clone(),
            });
        }
    }
    Ok(())
}

/// Runs `work`, which records every file it writes in the list it is given; when it
/// fails, those files are removed again.
pub fn removing_on_failure<T>(work: impl FnOnce(&mut Vec<PathBuf>) -> Result<T>) -> Result<T> {
    let mut written = Vec::new();
    let result = work(&mut written);
    if result.is_err() {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_and_collisions() {
        assert_eq!(output_stem(Path::new("x/chair.png")).unwrap(), "chair");
        assert!(output_stem(Path::new("")).is_err());
        let err = distinct_stems(&["a/chair.png".into(), "b/chair.jpg".into()]).unwrap_err();
        assert!(matches!(err, Error::OutputCollision { .. }), "{err}");
        distinct_stems(&["a/chair.png".into(), "a/vase.png".into()]).unwrap();
    }

    #[test]
    fn formats_from_extensions() {
        assert_eq!(Format::of_path(Path::new("a/t.GLB")), Some(Format::Glb));
        assert_eq!(Format::of_path(Path::new("t.obj")), Some(Format::Obj));
        assert_eq!(Format::of_path(Path::new("t.fbx")), None);
        assert_eq!(Format::of_path(Path::new("t")), None);
    }

    #[test]
    fn a_failure_removes_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("half.glb");
        let result: Result<()> = removing_on_failure(|written| {
            std::fs::write(&path, b"x").unwrap();
            written.push(path.clone());
            Err(Error::io(std::io::Error::other("late failure"), &path))
        });
        assert!(result.is_err() && !path.exists());
        let kept = removing_on_failure(|written| {
            std::fs::write(&path, b"x").unwrap();
            written.push(path.clone());
            Ok(())
        });
        assert!(kept.is_ok() && path.exists());
    }
}

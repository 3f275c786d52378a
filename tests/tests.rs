//! End-to-end tests of the `img23d` command and library, one module per area.

// `img23d models`: list, fetch (local hub server), verify, path.
mod models_cmd;

// `img23d depth`: every output read back, both Depth Pro layouts, EXIF focal, odd sizes,
// bad input.
mod depth_cmd;

// `img23d mesh`: analytic volumes round-trip through GLB/PLY/OBJ readers; bad .npy files.
mod mesh_cmd;

/// Shared helpers: running the binary, reading its outputs back.
mod util;

/// The Khronos glTF validator harness (owned by the export area).
#[path = "support/gltf_validator.rs"]
mod gltf_validator;

/// The main job on every example picture: valid GLB/PLY/OBJ, closed and 2-manifold,
/// upright, at the requested height, with the report.
mod main_job;

/// Bad input: one-line errors naming the file, non-zero exit, no panic, nothing left.
mod bad_input;

/// The command line itself: help, version, argument validation.
mod cli;

// Real viewers: three.js GLTFLoader in headless Chromium, Blender's glTF importer.
mod real_viewers;

/// `img23d doctor` and `--device auto`'s CPU line (issue 17).
mod doctor;

/// What a failed, killed or starved run leaves behind: the previous outputs byte for byte,
/// only readable files, a report that describes them (issue 12).
mod reliability;

/// The main job through TripoSR and the segmentation model (tiny models with the real
/// contracts): valid GLB, the input view facing +Z, forced models that are missing.
mod triposr_cmd;

/// `img23d text` on the tiny Optimum-layout SD folder: picture with PNG metadata, a valid
/// GLB, the report's text section, candidates, prompt files, the missing model.
mod text_cmd;

/// Fuzzing on stable Rust: seeded mutation loops over every parser of outside input
/// (pictures, .npy, EXIF, ONNX, the lock file, the hub's metadata), with a recording
/// allocator that catches huge allocations.
mod fuzz;

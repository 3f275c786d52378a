//! Bad input: each case gives exactly one line on stderr that names the file and the
//! problem, a non-zero exit that is not a panic, and leaves no file in the output folder.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::util::*;

/// Runs the main job on `input` into `out` and checks the failure; returns the line.
fn fails_cleanly(input: &Path, out: &Path, names: &str, says: &str) -> String {
    let output = run(&[input.as_os_str(), OsStr::new("-o"), out.as_os_str()]);
    check_fails_cleanly(&output, out, names, says)
}

/// Checks a failed run's `output`: one line naming `names` and saying `says`, a non-zero
/// exit that is not a panic, nothing in `out`; returns the line.
fn check_fails_cleanly(
    output: &std::process::Output,
    out: &Path,
    names: &str,
    says: &str,
) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let code = output.status.code();
    assert!(
        matches!(code, Some(c) if c != 0 && c != 101),
        "exit status {code:?} (101 would be a panic); stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got:\n{stderr}");
    let line = lines[0];
    assert!(line.starts_with("error: "), "{line}");
    assert!(line.contains(names), "does not name {names}: {line}");
    assert!(
        line.to_lowercase().contains(&says.to_lowercase()),
        "does not say `{says}`: {line}"
    );
    assert!(
        files_in(out).is_empty(),
        "left behind in {}: {:?}",
        out.display(),
        files_in(out)
    );
    line.to_string()
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }
}

#[test]
fn missing_file() {
    let c = Case::new();
    let input = c.dir.path().join("no-such-picture.png");
    fails_cleanly(&input, &c.out(), "no-such-picture.png", "no such file");
}

#[test]
fn file_that_is_not_an_image() {
    let c = Case::new();
    let input = c.file("notes.png", b"shopping list: eggs, milk\n");
    fails_cleanly(&input, &c.out(), "notes.png", "not a supported image");
}

#[test]
fn zero_byte_file() {
    let c = Case::new();
    let input = c.file("empty.jpg", b"");
    fails_cleanly(&input, &c.out(), "empty.jpg", "empty file");
}

#[test]
fn truncated_png() {
    let c = Case::new();
    let full = std::fs::read(example("chair.png")).unwrap();
    let input = c.file("cut.png", &full[..full.len() / 3]);
    fails_cleanly(&input, &c.out(), "cut.png", "cannot decode PNG");
}

#[test]
fn flat_color_picture_has_no_foreground() {
    let c = Case::new();
    let input = c.dir.path().join("flat.png");
    image::RgbImage::from_pixel(200, 150, image::Rgb([90, 140, 200]))
        .save(&input)
        .unwrap();
    fails_cleanly(&input, &c.out(), "flat.png", "no foreground");
}

#[test]
fn fully_transparent_picture_has_no_foreground() {
    let c = Case::new();
    let input = c.dir.path().join("clear.png");
    image::RgbaImage::from_pixel(64, 64, image::Rgba([255, 0, 0, 0]))
        .save(&input)
        .unwrap();
    fails_cleanly(&input, &c.out(), "clear.png", "no foreground");
}

/// A PNG whose header claims 40000x40000 pixels (IHDR with a valid CRC, then a tiny
/// IDAT and IEND): refused from the header, at once, without decoding.
#[test]
fn huge_header_is_refused_before_decoding() {
    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut crc = 0xffff_ffffu32;
        for &b in kind.iter().chain(data) {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    0xedb8_8320 ^ (crc >> 1)
                } else {
                    crc >> 1
                };
            }
        }
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&(!crc).to_be_bytes());
        out
    }
    let mut ihdr = 40000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&40000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    // zlib stream of a few zero bytes: far too little data, never read.
    png.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]));
    png.extend(chunk(b"IEND", &[]));
    let c = Case::new();
    let input = c.file("huge.png", &png);
    let start = std::time::Instant::now();
    let line = fails_cleanly(&input, &c.out(), "huge.png", "image too large");
    assert!(line.contains("40000x40000"), "{line}");
    // Not a timing assertion on speed, a sanity bound: decoding 6.4 GB would not end.
    assert!(start.elapsed().as_secs() < 60);
}

#[test]
fn output_folder_that_is_a_file() {
    let c = Case::new();
    let blocker = c.file("taken", b"a file where the folder should be");
    let input = example("chair.png");
    let output = run(&[input.as_os_str(), OsStr::new("-o"), blocker.as_os_str()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("output folder") && stderr.contains("taken"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&blocker).unwrap(),
        b"a file where the folder should be"
    );

    // A folder below a file cannot be created either.
    let below = blocker.join("sub");
    let output = run(&[input.as_os_str(), OsStr::new("-o"), below.as_os_str()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("output folder") && stderr.contains("taken/sub"),
        "{stderr}"
    );
}

#[test]
fn read_only_output_folder() {
    use std::os::unix::fs::PermissionsExt;
    let c = Case::new();
    let out = c.out();
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o555)).unwrap();
    // The superuser writes anywhere (how CI runs): then the command runs without the
    // capabilities that override file permissions, as every other user runs.
    let privileged = std::fs::write(out.join("probe"), b"").is_ok();
    if privileged {
        std::fs::remove_file(out.join("probe")).unwrap();
    }
    let line = if privileged {
        let Some(output) = run_unprivileged(&[
            example("chair.png").as_os_str(),
            OsStr::new("-o"),
            out.as_os_str(),
        ]) else {
            return;
        };
        check_fails_cleanly(&output, &out, "out", "output folder")
    } else {
        fails_cleanly(&example("chair.png"), &out, "out", "output folder")
    };
    assert!(line.contains("ermission denied"), "{line}");
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Runs `img23d` with `args` as the superuser stripped of the capabilities that bypass
/// file permissions (`setpriv`, util-linux, drops them from the bounding set, so the
/// command holds none of them after `exec`). `None` when `setpriv` is missing and
/// `IMG23D_SKIP_MISSING_TOOLS=1` says to skip.
fn run_unprivileged(args: &[&OsStr]) -> Option<std::process::Output> {
    let setpriv_runs = std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !setpriv_runs {
        tool_missing(
            "read_only_output_folder as the superuser",
            "`setpriv` on PATH (util-linux)",
        );
        return None;
    }
    let bin = img23d();
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args([
        "--bounding-set=-dac_override,-dac_read_search,-fowner",
        "--",
    ])
    .arg(bin.get_program())
    .args(args);
    for (k, v) in bin.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    Some(cmd.output().expect("setpriv runs img23d"))
}

#[test]
fn one_bad_picture_does_not_stop_the_others() {
    let c = Case::new();
    let bad = c.file("bad.png", b"nope");
    let good = example("chair.png");
    let out = c.out();
    let output = run(&[
        bad.as_os_str(),
        good.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
        OsStr::new("--resolution"),
        OsStr::new("48"),
        OsStr::new("--quiet"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("bad.png"), "{stderr}");
    assert_eq!(
        files_in(&out),
        ["chair.glb", "chair.preview.png", "chair.report.json"]
    );
    assert_eq!(glbs_in(&out).len(), 1);
    assert_eq!(validate_glbs_in(&out), validated(1));
}

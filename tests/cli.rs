//! The command line: `--help` documents every option of the main job and of every
//! subcommand (the list comes from clap's own `Command`), bad values are refused with exit
//! status 2 before any work, and nothing is written then.

use std::ffi::OsStr;

use crate::util::*;

#[test]
fn help_documents_every_option() {
    let help = run_ok(&[OsStr::new("--help")]);
    for option in [
        "<IMAGE>",
        "--output <DIR>",
        "--format <FORMATS>",
        "--resolution <N>",
        "--height <METERS>",
        "--foreground-ratio <RATIO>",
        "--no-remove-bg",
        "--threads <N>",
        "--quiet",
        "--texture-size <TEXELS>",
        "--metallic <0..1>",
        "--roughness <0..1>",
        "--no-preview",
        "--keep-vertex-colors",
        "[default: 1024]",
        "[default: 256]",
        "[default: 0.85]",
        "[default: glb]",
        "mesh",
        "models",
        "depth",
        "doctor",
        "text",
    ] {
        assert!(help.contains(option), "--help lacks {option}:\n{help}");
    }
    let mut command = img23d::cli::command();
    command.build();
    let checked = help_documents_every_argument_of(&command, &mut Vec::new());
    // The main job and mesh, models (list, fetch, verify, path), depth, doctor, text.
    assert_eq!(checked, 10);
}

/// Runs `img23d PATH... --help` for `command` and each of its subcommands, and checks
/// that it shows every argument clap knows for it: the flag with its value name (or the
/// positional's name), each default, each possible value, and every subcommand's name.
/// Returns how many `--help` pages it checked.
fn help_documents_every_argument_of<'a>(
    command: &'a clap::Command,
    path: &mut Vec<&'a str>,
) -> usize {
    let mut args: Vec<&OsStr> = path.iter().map(OsStr::new).collect();
    args.push(OsStr::new("--help"));
    // Line wrapping may break a long line anywhere between words.
    let help = run_ok(&args)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let page = format!("img23d {} --help", path.join(" "));
    let mut checked = 0;
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        let value = arg
            .get_value_names()
            .and_then(|v| v.first())
            .map(|v| v.to_string())
            .unwrap_or_else(|| arg.get_id().as_str().to_uppercase());
        let shown = match arg.get_long() {
            Some(long) if arg.get_action().takes_values() => format!("--{long} <{value}>"),
            Some(long) => format!("--{long}"),
            // A positional: <NAME> when required, [NAME] when not.
            None if arg.is_required_set() => format!("<{value}>"),
            None => format!("[{value}]"),
        };
        assert!(help.contains(&shown), "{page} lacks {shown}:\n{help}");
        if arg.get_action().takes_values() && !arg.is_hide_default_value_set() {
            for default in arg.get_default_values() {
                let default = format!("[default: {}]", default.to_string_lossy());
                assert!(help.contains(&default), "{page}: {shown} lacks {default}");
            }
        }
        if arg.get_action().takes_values() && !arg.is_hide_possible_values_set() {
            for possible in arg
                .get_possible_values()
                .iter()
                .filter(|p| !p.is_hide_set())
            {
                let name = possible.get_name();
                assert!(
                    help.contains(&format!("{name}:"))
                        || help.contains(&format!(" {name},"))
                        || help.contains(&format!(" {name}]")),
                    "{page}: {shown} lacks its value {name}:\n{help}"
                );
            }
        }
    }
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        assert!(
            help.contains(sub.get_name()),
            "{page} lacks {}",
            sub.get_name()
        );
        path.push(sub.get_name());
        checked += help_documents_every_argument_of(sub, path);
        path.pop();
    }
    checked + 1
}

#[test]
fn version() {
    let v = run_ok(&[OsStr::new("--version")]);
    assert_eq!(v.trim(), format!("img23d {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_values_exit_with_status_2_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let chair = example("chair.png");
    for (flag, value, says) in [
        ("--resolution", "3", "--resolution"),
        ("--resolution", "5000", "--resolution"),
        ("--height", "0", "--height"),
        ("--foreground-ratio", "1.2", "--foreground-ratio"),
        ("--format", "fbx", "fbx"),
        ("--texture-size", "8", "--texture-size"),
        ("--texture-size", "9000", "--texture-size"),
        ("--metallic", "1.5", "--metallic"),
        ("--roughness", "1.01", "--roughness"),
    ] {
        let output = run(&[
            chair.as_os_str(),
            OsStr::new("-o"),
            out.as_os_str(),
            OsStr::new(flag),
            OsStr::new(value),
        ]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}: {stderr}");
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
        assert!(
            !out.exists(),
            "{flag} {value}: the output folder was created"
        );
    }
}

#[test]
fn inputs_that_would_overwrite_each_other_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("chair.jpg");
    std::fs::copy(example("apple.jpg"), &other).unwrap();
    let out = dir.path().join("out");
    let chair = example("chair.png");
    let output = run(&[
        chair.as_os_str(),
        other.as_os_str(),
        OsStr::new("-o"),
        out.as_os_str(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("chair.*"), "{stderr}");
    assert!(!out.exists());
}

#[test]
fn images_and_output_are_required() {
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(2));
    let output = run(&[OsStr::new("picture.png")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--output"));
}

/// README's test command is the one `.ci/run` runs.
#[test]
fn readme_test_command_is_what_ci_runs() {
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let prefix = "readme_test_command='";
    let line = ci
        .lines()
        .find(|l| l.starts_with(prefix))
        .expect(".ci/run sets readme_test_command");
    let command = line[prefix.len()..].trim_end_matches('\'');
    assert!(command.contains("cargo test"), "{command}");
    assert!(ci.contains("bash -c \"$readme_test_command\""), "{ci}");
    assert!(
        readme.lines().any(|l| l == command),
        "README.md lacks the test command of .ci/run: {command}"
    );
    assert!(readme.contains("cargo run --release -- examples/chair.png -o out/"));
}

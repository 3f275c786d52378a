//! Creating a session: the ONNX Runtime session builder (optimisation level, threads, the
//! placement logger), the device choice (explicit GPU or CPU, or `Auto` with its CPU
//! fallback), and the contract check that turns it into a [`LoadedSession`].

use std::path::Path;

use ort::session::Session;
use ort::session::builder::SessionBuilder;

use super::contract::{Contract, infos};
use super::loaded::LoadedSession;
use super::placement::{self, LogSink, Placement};
use super::providers::{ExecutionProvider, register_gpu};
use crate::error::{Error, Result};
use crate::runtime::{self, Device, RuntimeOptions};

/// Creates a session for `path` on `opts.device` and checks it against `contract`.
///
/// Initialises the runtime if needed ([`runtime::init`]). Errors: the file is missing
/// ([`Error::ModelMissing`]) or not a valid model ([`Error::ModelCorrupt`]); its signature
/// differs from the contract ([`Error::SignatureMismatch`]); an explicitly requested GPU
/// cannot start ([`Error::EpUnavailable`]).
pub fn load_session(
    path: &Path,
    contract: &Contract,
    opts: &RuntimeOptions,
) -> Result<LoadedSession> {
    let (s, _) = load_session_any(path, &[contract], opts)?;
    Ok(s)
}

/// Like [`load_session`], for models with several accepted layouts: returns the session
/// and the index of the first contract it matches. Fails with every contract's problems.
pub fn load_session_any(
    path: &Path,
    contracts: &[&Contract],
    opts: &RuntimeOptions,
) -> Result<(LoadedSession, usize)> {
    let Some(first) = contracts.first() else {
        return Err(Error::SignatureMismatch {
            contract: "(none)".to_string(),
            version: 0,
            problems: "no contract given".to_string(),
            path: path.to_path_buf(),
        });
    };
    let _span =
        tracing::info_span!("load_session", model = first.name, path = %path.display()).entered();
    if !path.is_file() {
        return Err(Error::ModelMissing {
            model: first.name.to_string(),
            hint: "check the path, or install it with `img23d models fetch`".to_string(),
            path: path.to_path_buf(),
        });
    }
    let rt = runtime::init(opts)?;
    let created = create(rt, path, opts)?;
    let inputs = infos(created.session.inputs());
    let outputs = infos(created.session.outputs());
    let mut all_problems = Vec::new();
    for (k, c) in contracts.iter().enumerate() {
        match c.check(&inputs, &outputs) {
            Ok(binding) => {
                let placement = created
                    .log
                    .map(|l| Placement::parse(&l.lock().unwrap_or_else(|p| p.into_inner())));
                tracing::info!(
                    "{} loaded on {}{}",
                    c.name,
                    created.ep,
                    created
                        .fallback
                        .as_deref()
                        .map(|r| format!(" (CUDA not used: {r})"))
                        .unwrap_or_default()
                );
                return Ok((
                    LoadedSession {
                        session: created.session,
                        contract: **c,
                        path: path.to_path_buf(),
                        ep: created.ep,
                        fallback: created.fallback,
                        binding,
                        placement,
                    },
                    k,
                ));
            }
            Err(p) => {
                if contracts.len() > 1 {
                    all_problems.push(format!(
                        "[layout {} v{}] {}",
                        c.name,
                        c.version,
                        p.join("; ")
                    ));
                } else {
                    all_problems.extend(p);
                }
            }
        }
    }
    Err(Error::SignatureMismatch {
        contract: first.name.to_string(),
        version: first.version,
        problems: all_problems.join("; "),
        path: path.to_path_buf(),
    })
}

struct Created {
    session: Session,
    ep: ExecutionProvider,
    fallback: Option<String>,
    log: Option<LogSink>,
}

fn builder(
    rt: &runtime::Runtime,
    opts: &RuntimeOptions,
) -> std::result::Result<(SessionBuilder, Option<LogSink>), String> {
    let s = |e: ort::Error<SessionBuilder>| e.to_string();
    let mut b = Session::builder(rt.environment())
        .map_err(|e| e.to_string())?
        .with_optimization_level(opts.opt_level.to_ort())
        .map_err(s)?;
    if opts.intra_threads > 0 {
        b = b.with_intra_threads(opts.intra_threads).map_err(s)?;
    }
    if opts.inter_threads > 0 {
        b = b
            .with_parallel_execution(true)
            .map_err(s)?
            .with_inter_threads(opts.inter_threads)
            .map_err(s)?;
    }
    let mut log = None;
    if opts.record_placement {
        let (logger, lines) = placement::recorder();
        b = b
            .with_logger(logger)
            .map_err(s)?
            .with_log_level(ort::logging::LogLevel::Verbose)
            .map_err(s)?
            .with_log_verbosity(1)
            .map_err(s)?;
        log = Some(lines);
    }
    Ok((b, log))
}

fn commit(mut b: SessionBuilder, path: &Path) -> Result<Session> {
    b.commit_from_file(path).map_err(|e| {
        use ort::error::ErrorCode as C;
        let reason = e.message().trim_end().to_string();
        match e.code() {
            C::InvalidProtobuf | C::InvalidGraph | C::NoModel | C::NoSuchFile => {
                Error::ModelCorrupt {
                    reason,
                    path: path.to_path_buf(),
                }
            }
            _ if reason.contains("Protobuf parsing failed") || reason.contains("Load model") => {
                Error::ModelCorrupt {
                    reason,
                    path: path.to_path_buf(),
                }
            }
            _ => Error::SessionCreate {
                reason,
                path: path.to_path_buf(),
            },
        }
    })
}

fn create(rt: &runtime::Runtime, path: &Path, opts: &RuntimeOptions) -> Result<Created> {
    let session_err = |reason: String| Error::SessionCreate {
        reason,
        path: path.to_path_buf(),
    };
    match opts.device {
        Device::Cpu => {
            let (b, log) = builder(rt, opts).map_err(session_err)?;
            Ok(Created {
                session: commit(b, path)?,
                ep: ExecutionProvider::Cpu,
                fallback: None,
                log,
            })
        }
        Device::Cuda(n) | Device::TensorRt(n) => {
            let ep = if matches!(opts.device, Device::Cuda(_)) {
                ExecutionProvider::Cuda { device: n }
            } else {
                ExecutionProvider::TensorRt { device: n }
            };
            let (b, log) = builder(rt, opts).map_err(session_err)?;
            let b = register_gpu(rt, b, ep).map_err(|reason| Error::EpUnavailable {
                ep: format!("{ep} (--device {})", opts.device),
                reason,
            })?;
            let session = commit(b, path).map_err(|e| match e {
                Error::SessionCreate { reason, .. } => Error::EpUnavailable {
                    ep: format!("{ep} (--device {})", opts.device),
                    reason: format!("session creation failed: {reason}"),
                },
                other => other,
            })?;
            Ok(Created {
                session,
                ep,
                fallback: None,
                log,
            })
        }
        Device::Auto => {
            let cuda = ExecutionProvider::Cuda { device: 0 };
            let (b, log) = builder(rt, opts).map_err(session_err)?;
            let reason = match register_gpu(rt, b, cuda) {
                Ok(b) => match commit(b, path) {
                    Ok(session) => {
                        return Ok(Created {
                            session,
                            ep: cuda,
                            fallback: None,
                            log,
                        });
                    }
                    Err(e @ Error::ModelCorrupt { .. }) => return Err(e),
                    Err(e) => e.to_string(),
                },
                Err(r) => r,
            };
            tracing::debug!("CUDA not used: {reason}");
            runtime::note_auto_fallback(&reason);
            let (b, log) = builder(rt, opts).map_err(session_err)?;
            Ok(Created {
                session: commit(b, path)?,
                ep: ExecutionProvider::Cpu,
                fallback: Some(reason),
                log,
            })
        }
    }
}

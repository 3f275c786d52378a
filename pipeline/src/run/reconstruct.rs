//! The `reconstruction` stage: TripoSR (from the full-resolution picture and its mask,
//! through its own preprocessing) or the weight-free inflation (from the square). Both
//! give a field in glTF's frame, so everything after them is shared.

use std::path::Path;

use img23d_meshing::Field;

use crate::inflate::{InflateOptions, InflatedField};
use crate::neural::{BackgroundMethod, NeuralModels, TriposrOutput, masked_picture};
use crate::stage::Stages;
use crate::{Error, Result};

use super::RunConfig;
use super::picture::Framed;

/// The field a reconstruction made, in glTF's frame.
pub(super) enum Reconstructed {
    /// The built-in silhouette inflation.
    Inflate(InflatedField),
    /// TripoSR's triplane field and what it read.
    Triposr(Box<TriposrOutput>),
}

impl Reconstructed {
    /// The field, whichever made it.
    pub fn field(&self) -> &dyn Field {
        match self {
            Self::Inflate(f) => f,
            Self::Triposr(t) => &t.field,
        }
    }

    /// Where the colors come from, for the stage lines.
    pub fn color_source(&self) -> &'static str {
        match self {
            Self::Inflate(_) => "the picture (front) and its mirror (back)",
            Self::Triposr(_) => "TripoSR's color field",
        }
    }
}

/// `reconstruction`: runs the run's reconstruction on the framed picture.
pub(super) fn reconstruct(
    stages: &mut Stages,
    config: &RunConfig,
    neural: &NeuralModels,
    framed: &mut Framed,
    input: &Path,
) -> Result<Reconstructed> {
    let source = framed.triposr_source.take();
    let (foreground, cutout) = (&framed.foreground, &framed.cutout);
    let whole_picture = framed.background == BackgroundMethod::None;
    stages.run(
        "reconstruction",
        || match (&neural.triposr, &source) {
            (Some(triposr), Some(source)) => {
                let picture = masked_picture(source, foreground);
                let out =
                    triposr.reconstruct(&picture, config.foreground_ratio, whole_picture, input)?;
                Ok(Reconstructed::Triposr(Box::new(out)))
            }
            _ => InflatedField::new(cutout, &InflateOptions::default())
                .map(Reconstructed::Inflate)
                .ok_or_else(|| Error::NoForeground {
                    reason: "the object is too small to reconstruct".to_string(),
                    path: input.to_path_buf(),
                }),
        },
        |r| match r {
            Reconstructed::Inflate(f) => format!(
                "built-in silhouette inflation (weight-free), {}x{} height map",
                f.stats().size,
                f.stats().size
            ),
            Reconstructed::Triposr(t) => format!(
                "TripoSR, {}x{} input, {}, triplane NeRF ({})",
                t.input.size,
                t.input.size,
                neural
                    .triposr
                    .as_ref()
                    .map(|m| {
                        let [enc, dec] = m.files();
                        format!(
                            "encoder on {}, decoder on {}",
                            enc.execution_provider, dec.execution_provider
                        )
                    })
                    .unwrap_or_default(),
                t.field.inner().path()
            ),
        },
    )
}

//! The known models: where each one's files come from, their checksums when they can be
//! pinned, the licence, the contract(s) its wrapper checks, and per-model preprocessing
//! facts.
//!
//! Checksums: a SHA-256 is pinned here only when it was read from the hosting hub's own
//! file metadata (Hugging Face lists each LFS/Xet file's SHA-256 on its file page and in
//! its API). Otherwise the fetch takes size and SHA-256 from the hub's API at fetch time
//! and records them in the lock file beside the models, so later runs verify against
//! them (see [`crate::store`]). No URL or checksum here is made up; repository names and
//! file paths are those of each hub repository's own file listing (the entry's
//! `homepage`: <https://huggingface.co/fernandotonon/QtMeshEditor-triposr-onnx> for
//! TripoSR, <https://huggingface.co/onnx-community/DepthPro-ONNX> for Depth Pro,
//! <https://huggingface.co/onnx-community/BiRefNet_lite> for segmentation), and entries
//! marked *unverified layout* have not been opened (no weights can be downloaded on the
//! development machines).
//!
//! Models without a public ONNX export (Zero123++) are listed with the export recipe the
//! project documents, and no files.

use std::fmt;
use std::str::FromStr;

use crate::contracts;
use crate::error::{Error, Result};
use crate::runtime::Precision;
use crate::session::Contract;

/// The models img23d knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ModelId {
    /// TripoSR image → triplane encoder.
    TriposrEncoder,
    /// TripoSR triplane decoder (NeRF MLP).
    TriposrDecoder,
    /// Apple Depth Pro, metric depth and focal length.
    DepthPro,
    /// Background segmentation (BiRefNet lite, rembg style).
    Segmentation,
    /// Zero123++ v1.2 multi-view diffusion (export recipe only).
    Zero123pp,
    /// SD-Turbo text-to-image (export recipe only).
    SdTurbo,
    /// SDXL-Turbo text-to-image (export recipe only).
    SdxlTurbo,
}

impl ModelId {
    /// Every model, in listing order.
    pub const ALL: [ModelId; 7] = [
        Self::TriposrEncoder,
        Self::TriposrDecoder,
        Self::DepthPro,
        Self::Segmentation,
        Self::Zero123pp,
        Self::SdTurbo,
        Self::SdxlTurbo,
    ];

    /// The name used on the command line and as the folder name.
    pub fn name(self) -> &'static str {
        match self {
            Self::TriposrEncoder => "triposr-encoder",
            Self::TriposrDecoder => "triposr-decoder",
            Self::DepthPro => "depth-pro",
            Self::Segmentation => "birefnet-lite",
            Self::Zero123pp => "zero123pp",
            Self::SdTurbo => "sd-turbo",
            Self::SdxlTurbo => "sdxl-turbo",
        }
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ModelId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| Error::UnknownModel {
                name: s.to_string(),
                known: Self::ALL.map(ModelId::name).join(", "),
            })
    }
}

/// One file of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelFile {
    /// File name inside the model's folder (`<models>/<model>/<local>`). ONNX external
    /// data files must keep the name the graph refers to.
    pub local: &'static str,
    /// Path inside the source repository.
    pub remote: &'static str,
    /// SHA-256 pinned from the hub's file metadata, when known ahead.
    pub sha256: Option<&'static str>,
    /// Size in bytes pinned from the hub's file metadata, when known ahead.
    pub size: Option<u64>,
}

/// The files of one precision of a model. The first file is the one sessions load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// Weight precision of these files.
    pub precision: Precision,
    /// The files; the first is the ONNX graph.
    pub files: &'static [ModelFile],
}

/// Where a model's files come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Hugging Face model repository at a revision (branch or commit).
    HuggingFace {
        /// `owner/name`.
        repo: &'static str,
        /// Branch name or full commit hash.
        revision: &'static str,
    },
    /// No public ONNX export: the user exports it with this recipe.
    ExportRecipe {
        /// What to run, and where the contract is documented.
        recipe: &'static str,
    },
}

/// Image preprocessing of a model: input size and per-channel normalisation
/// `(x / 255 - mean) / std`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageNorm {
    /// Square input side in pixels.
    pub size: u32,
    /// Per-channel mean (RGB).
    pub mean: [f32; 3],
    /// Per-channel standard deviation (RGB).
    pub std: [f32; 3],
}

/// ImageNet mean (torchvision), used by u2net/BiRefNet.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet standard deviation (torchvision).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// A known model.
#[derive(Debug, Clone, Copy)]
pub struct ModelEntry {
    /// Which model.
    pub id: ModelId,
    /// One line for `img23d models list`.
    pub description: &'static str,
    /// Licence of the weights (SPDX id or the licence's name).
    pub licence: &'static str,
    /// Where a user can read about and get the model.
    pub homepage: &'static str,
    /// Where the files come from.
    pub source: Source,
    /// The files per precision (empty for export-only models).
    pub variants: &'static [Variant],
    /// The contracts its wrapper accepts (layouts), first preferred.
    pub contracts: &'static [&'static Contract],
    /// Image preprocessing, for image models whose size/normalisation vary by file.
    pub preprocess: Option<ImageNorm>,
    /// Caveats worth showing.
    pub notes: &'static str,
}

impl ModelEntry {
    /// The registry name.
    pub fn name(&self) -> &'static str {
        self.id.name()
    }

    /// The rows a listing shows for this model: each precision it comes in, or one `None`
    /// for a model without files (export only).
    pub fn precisions(&self) -> Vec<Option<Precision>> {
        if self.variants.is_empty() {
            vec![None]
        } else {
            self.variants.iter().map(|v| Some(v.precision)).collect()
        }
    }

    /// The variant for `precision`, else the first one (a model may have only fp32).
    pub fn variant(&self, precision: Precision) -> Option<&'static Variant> {
        self.variants
            .iter()
            .find(|v| v.precision == precision)
            .or_else(|| self.variants.first())
    }

    /// The export recipe, for models without downloadable files.
    pub fn recipe(&self) -> Option<&'static str> {
        match self.source {
            Source::ExportRecipe { recipe } => Some(recipe),
            Source::HuggingFace { .. } => None,
        }
    }

    /// "name vN, name vN" of the accepted contracts.
    pub fn contract_versions(&self) -> String {
        self.contracts
            .iter()
            .map(|c| format!("{} v{}", c.name, c.version))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const TRIPOSR_REPO: Source = Source::HuggingFace {
    repo: "fernandotonon/QtMeshEditor-triposr-onnx",
    revision: "main",
};

static BUILTIN: [ModelEntry; 7] = [
    ModelEntry {
        id: ModelId::TriposrEncoder,
        description: "TripoSR image encoder: 512x512 picture -> triplane [1,3,40,64,64]",
        licence: "MIT",
        homepage: "https://huggingface.co/fernandotonon/QtMeshEditor-triposr-onnx",
        source: TRIPOSR_REPO,
        variants: &[Variant {
            precision: Precision::Fp32,
            files: &[ModelFile {
                local: "triposr_encoder.onnx",
                remote: "triposr_encoder.onnx",
                sha256: None,
                size: None,
            }],
        }],
        contracts: &[&contracts::TRIPOSR_ENCODER],
        preprocess: Some(ImageNorm {
            size: 512,
            mean: [0.0; 3],
            std: [1.0; 3],
        }),
        notes: "fp32, ~1.7 GB; ImageNet normalisation is inside the graph; unverified layout",
    },
    ModelEntry {
        id: ModelId::TriposrDecoder,
        description: "TripoSR NeRF decoder: triplane + points -> density, color",
        licence: "MIT",
        homepage: "https://huggingface.co/fernandotonon/QtMeshEditor-triposr-onnx",
        source: TRIPOSR_REPO,
        variants: &[Variant {
            precision: Precision::Fp32,
            files: &[ModelFile {
                local: "triposr_decoder.onnx",
                remote: "triposr_decoder.onnx",
                sha256: None,
                size: None,
            }],
        }],
        contracts: &[
            &contracts::TRIPOSR_DECODER_FIELD,
            &contracts::TRIPOSR_DECODER_MLP,
        ],
        preprocess: None,
        notes: "~180 KB; field layout (GridSample inside) or MLP-only; unverified layout",
    },
    ModelEntry {
        id: ModelId::DepthPro,
        description: "Apple Depth Pro: metric depth + focal length at 1536x1536",
        licence: "apple-ascl",
        homepage: "https://huggingface.co/onnx-community/DepthPro-ONNX",
        source: Source::HuggingFace {
            repo: "onnx-community/DepthPro-ONNX",
            // "Upload ONNX weights w/ focal length output node".
            revision: "0fb46fadde862e9b7e4e735eed1e99ea69780920",
        },
        variants: &[
            Variant {
                precision: Precision::Fp32,
                files: &[
                    ModelFile {
                        local: "model.onnx",
                        remote: "onnx/model.onnx",
                        sha256: None,
                        size: None,
                    },
                    ModelFile {
                        local: "model.onnx_data",
                        remote: "onnx/model.onnx_data",
                        sha256: None,
                        size: None,
                    },
                ],
            },
            Variant {
                precision: Precision::Fp16,
                files: &[ModelFile {
                    local: "model_fp16.onnx",
                    remote: "onnx/model_fp16.onnx",
                    sha256: None,
                    size: None,
                }],
            },
        ],
        contracts: &[
            &contracts::DEPTH_PRO_METRIC,
            &contracts::DEPTH_PRO_CANONICAL,
        ],
        preprocess: Some(ImageNorm {
            size: 1536,
            mean: [0.5; 3],
            std: [0.5; 3],
        }),
        notes: "fp32 3.8 GB (external data), fp16 1.9 GB; outputs taken as metric depth \
                (to verify on a known case); licence tag apple-ascl, Apple's HF card says apple-amlr",
    },
    ModelEntry {
        id: ModelId::Segmentation,
        description: "BiRefNet lite background segmentation (rembg style), 1024x1024",
        licence: "MIT",
        homepage: "https://huggingface.co/onnx-community/BiRefNet_lite",
        source: Source::HuggingFace {
            repo: "onnx-community/BiRefNet_lite",
            revision: "main",
        },
        variants: &[
            Variant {
                precision: Precision::Fp32,
                files: &[ModelFile {
                    local: "model.onnx",
                    remote: "onnx/model.onnx",
                    sha256: None,
                    size: None,
                }],
            },
            Variant {
                precision: Precision::Fp16,
                files: &[ModelFile {
                    local: "model_fp16.onnx",
                    remote: "onnx/model_fp16.onnx",
                    // The hub's file page (commit f82954f): "SHA256: d39b897c…", 115 MB.
                    sha256: Some(
                        "d39b897ceb16ae654c1731f3dba0cf9b368d9cae74b5a57459b455cc8bfec402",
                    ),
                    size: None,
                }],
            },
        ],
        contracts: &[&contracts::SEGMENTATION],
        preprocess: Some(ImageNorm {
            size: 1024,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        }),
        notes: "fp16 115 MB; mask is the first output (sigmoid applied by the wrapper if needed)",
    },
    ModelEntry {
        id: ModelId::Zero123pp,
        description: "Zero123++ v1.2: one picture -> 6 views (no public ONNX export)",
        licence: "CC-BY-NC-4.0",
        homepage: "https://huggingface.co/sudo-ai/zero123plus-v1.2",
        source: Source::ExportRecipe {
            recipe: "export the UNet (with reference attention unrolled: a read pass and a \
                     write pass), the VAE encoder/decoder and the CLIP vision encoder of \
                     sudo-ai/zero123plus-v1.2 with torch.onnx.export (opset 17; the pipeline is \
                     https://github.com/SUDO-AI-3D/zero123plus, diffusers-support/pipeline.py), then put the files in \
                     <models>/zero123pp/; the contract is defined with its wrapper",
        },
        variants: &[],
        contracts: &[],
        preprocess: Some(ImageNorm {
            size: 320,
            mean: [0.5; 3],
            std: [0.5; 3],
        }),
        notes: "weights are non-commercial (CC-BY-NC 4.0)",
    },
    ModelEntry {
        id: ModelId::SdTurbo,
        description: "SD-Turbo text-to-image, 512x512, 1-4 steps (export recipe)",
        licence: "Stability AI Community License",
        homepage: "https://huggingface.co/stabilityai/sd-turbo",
        source: Source::ExportRecipe {
            recipe: "`python tools/export_text_to_image.py sd-turbo <models>/sd-turbo/` \
                     (runs `optimum-cli export onnx --model stabilityai/sd-turbo --task \
                     text-to-image`; Optimum layout: text_encoder/, unet/, vae_decoder/, \
                     tokenizer/, scheduler/; the I/O names are those of \
                     https://github.com/huggingface/optimum, \
                     optimum/exporters/onnx/model_configs.py)",
        },
        variants: &[],
        contracts: &[],
        preprocess: None,
        notes: "community exports exist (standard diffusers-ONNX layout) but are not pinned",
    },
    ModelEntry {
        id: ModelId::SdxlTurbo,
        description: "SDXL-Turbo text-to-image, 512x512, 1-4 steps, two text encoders (export recipe)",
        licence: "Stability AI Non-Commercial Research Community License",
        homepage: "https://huggingface.co/stabilityai/sdxl-turbo",
        source: Source::ExportRecipe {
            recipe: "`python tools/export_text_to_image.py sdxl-turbo <models>/sdxl-turbo/` \
                     (runs `optimum-cli export onnx --model stabilityai/sdxl-turbo --task \
                     text-to-image`; Optimum layout with text_encoder_2/ and tokenizer_2/)",
        },
        variants: &[],
        contracts: &[],
        preprocess: None,
        notes: "fp32 UNet about 10 GB; the official ONNX files on the model's main branch are not pinned",
    },
];

/// The set of known models.
#[derive(Debug, Clone)]
pub struct Registry {
    entries: Vec<ModelEntry>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Registry {
    /// The models img23d ships with.
    pub fn builtin() -> Self {
        Self {
            entries: BUILTIN.to_vec(),
        }
    }

    /// A registry of the given entries (tests, custom builds).
    pub fn with_entries(entries: Vec<ModelEntry>) -> Self {
        Self { entries }
    }

    /// All entries, in listing order.
    pub fn entries(&self) -> &[ModelEntry] {
        &self.entries
    }

    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Result<&ModelEntry> {
        self.entries
            .iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| Error::UnknownModel {
                name: name.to_string(),
                known: self
                    .entries
                    .iter()
                    .map(ModelEntry::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The entry for `id`.
    pub fn entry(&self, id: ModelId) -> Result<&ModelEntry> {
        self.get(id.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_known_ones() {
        for id in ModelId::ALL {
            assert_eq!(id.name().parse::<ModelId>().unwrap(), id);
            assert_eq!(Registry::builtin().entry(id).unwrap().id, id);
        }
        let e = Registry::builtin().get("triposr").unwrap_err();
        assert!(
            e.to_string().contains(
                "unknown model 'triposr'; known models: triposr-encoder, triposr-decoder"
            ),
            "{e}"
        );
    }

    #[test]
    fn entries_are_consistent() {
        for e in Registry::builtin().entries() {
            match e.source {
                Source::HuggingFace { repo, revision } => {
                    assert!(repo.contains('/') && !revision.is_empty());
                    assert!(
                        !e.variants.is_empty() && !e.contracts.is_empty(),
                        "{}",
                        e.name()
                    );
                    for v in e.variants {
                        assert!(v.files[0].local.ends_with(".onnx"));
                        for f in v.files {
                            assert!(!f.local.contains('/') && !f.local.contains(".."));
                            if let Some(s) = f.sha256 {
                                assert!(s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
                            }
                        }
                    }
                }
                Source::ExportRecipe { recipe } => {
                    assert!(e.variants.is_empty() && !recipe.is_empty());
                }
            }
        }
        let reg = Registry::builtin();
        let dp = reg.entry(ModelId::DepthPro).unwrap();
        assert_eq!(
            dp.variant(Precision::Fp16).unwrap().files[0].local,
            "model_fp16.onnx"
        );
        let enc = reg.entry(ModelId::TriposrEncoder).unwrap();
        assert_eq!(
            enc.variant(Precision::Fp16).unwrap().precision,
            Precision::Fp32
        );
    }
}

//! The ONNX contracts of a Stable Diffusion folder in the Optimum layout
//! (`optimum/exporters/onnx/model_configs.py`: `CLIPTextOnnxConfig`,
//! `CLIPTextWithProjectionOnnxConfig`, `UNetOnnxConfig`, `VaeDecoderOnnxConfig`).
//!
//! Optimum leaves every batch and spatial size dynamic and exports the timestep as a
//! scalar; diffusers' older `convert_stable_diffusion_checkpoint_to_onnx.py` exported it
//! with one (batch) dimension, so both ranks are accepted, and its element type (float32
//! or int64) is read from the file. Text encoders take int32 or int64 token ids. Float
//! tensors are float32: fp16 exports (the Olive/ORT-CUDA repos) are refused by the
//! contract check.
//!
//! Text encoders may have further outputs (`pooler_output`, `hidden_states.N` when
//! exported with `output_hidden_states`, which SDXL needs: its embeddings are the
//! penultimate hidden states).

use crate::session::{Contract, DType, Dim, TensorSpec};

use Dim::{Fixed, Free};

const F32: &[DType] = &[DType::F32];
const IDS: &[DType] = &[DType::I32, DType::I64];
const TIMESTEP: &[DType] = &[DType::F32, DType::I64];

const INPUT_IDS: TensorSpec = TensorSpec::new(&["input_ids"], IDS, &[Free, Free]);
const LAST_HIDDEN: TensorSpec = TensorSpec::new(&["last_hidden_state"], F32, &[Free, Free, Free]);

/// `text_encoder` (CLIP text model): `input_ids [B,77]` → `last_hidden_state [B,77,D]`.
pub const TEXT_ENCODER: Contract = Contract {
    name: "Stable Diffusion text encoder",
    version: 1,
    inputs: &[INPUT_IDS],
    outputs: &[LAST_HIDDEN],
    extra_outputs: true,
};

/// SDXL's `text_encoder_2` (CLIP text model with projection): `input_ids [B,77]` →
/// `text_embeds [B,P]` (the pooled, projected embedding) and `last_hidden_state`.
pub const TEXT_ENCODER_2: Contract = Contract {
    name: "SDXL text encoder 2",
    version: 1,
    inputs: &[INPUT_IDS],
    outputs: &[
        TensorSpec::new(&["text_embeds"], F32, &[Free, Free]),
        LAST_HIDDEN,
    ],
    extra_outputs: true,
};

const SAMPLE: TensorSpec = TensorSpec::new(&["sample"], F32, &[Free, Fixed(4), Free, Free]);
const T_SCALAR: TensorSpec = TensorSpec::new(&["timestep"], TIMESTEP, &[]);
const T_VECTOR: TensorSpec = TensorSpec::new(&["timestep"], TIMESTEP, &[Free]);
const HIDDEN: TensorSpec = TensorSpec::new(&["encoder_hidden_states"], F32, &[Free, Free, Free]);
const TEXT_EMBEDS: TensorSpec = TensorSpec::new(&["text_embeds"], F32, &[Free, Free]);
const TIME_IDS: TensorSpec = TensorSpec::new(&["time_ids"], F32, &[Free, Fixed(6)]);
const TIMESTEP_COND: TensorSpec = TensorSpec::new(&["timestep_cond"], F32, &[Free, Free]);
const OUT_SAMPLE: &[TensorSpec] = &[TensorSpec::new(
    &["out_sample"],
    F32,
    &[Free, Fixed(4), Free, Free],
)];

/// The UNet of SD 1.x/2.x: `sample [B,4,h,w]`, scalar `timestep`,
/// `encoder_hidden_states [B,77,D]` → `out_sample [B,4,h,w]`.
pub const UNET: Contract = Contract {
    name: "Stable Diffusion UNet",
    version: 1,
    inputs: &[SAMPLE, T_SCALAR, HIDDEN],
    outputs: OUT_SAMPLE,
    extra_outputs: false,
};

/// [`UNET`] with a `[B]` timestep (diffusers' own older ONNX exports).
pub const UNET_BATCH_TIMESTEP: Contract = Contract {
    name: "Stable Diffusion UNet (batched timestep)",
    version: 1,
    inputs: &[SAMPLE, T_VECTOR, HIDDEN],
    outputs: OUT_SAMPLE,
    extra_outputs: false,
};

/// The SDXL UNet: [`UNET`] plus `text_embeds [B,P]` and `time_ids [B,6]`.
pub const UNET_SDXL: Contract = Contract {
    name: "SDXL UNet",
    version: 1,
    inputs: &[SAMPLE, T_SCALAR, HIDDEN, TEXT_EMBEDS, TIME_IDS],
    outputs: OUT_SAMPLE,
    extra_outputs: false,
};

/// [`UNET_SDXL`] with a `[B]` timestep.
pub const UNET_SDXL_BATCH_TIMESTEP: Contract = Contract {
    name: "SDXL UNet (batched timestep)",
    version: 1,
    inputs: &[SAMPLE, T_VECTOR, HIDDEN, TEXT_EMBEDS, TIME_IDS],
    outputs: OUT_SAMPLE,
    extra_outputs: false,
};

/// A latent-consistency-distilled UNet: [`UNET`] plus the guidance embedding
/// `timestep_cond [B,C]`.
pub const UNET_LCM: Contract = Contract {
    name: "LCM UNet",
    version: 1,
    inputs: &[SAMPLE, T_SCALAR, HIDDEN, TIMESTEP_COND],
    outputs: OUT_SAMPLE,
    extra_outputs: false,
};

/// `vae_decoder`: `latent_sample [B,4,h,w]` (latents divided by the scaling factor) →
/// `sample [B,3,8h,8w]` in `[-1, 1]`.
pub const VAE_DECODER: Contract = Contract {
    name: "Stable Diffusion VAE decoder",
    version: 1,
    inputs: &[TensorSpec::new(
        &["latent_sample"],
        F32,
        &[Free, Fixed(4), Free, Free],
    )],
    outputs: &[TensorSpec::new(
        &["sample"],
        F32,
        &[Free, Fixed(3), Free, Free],
    )],
    extra_outputs: false,
};

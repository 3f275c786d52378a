#!/usr/bin/env python3
"""Generate the tiny diffusion test folders in models/tests/data/diffusion/ and their
reference outputs.

Each folder has the Optimum ONNX layout with the exact input/output names, ranks and
element types of the real exports (models/src/diffusion/contracts.rs), tiny widths
(text width 8, latent 4 channels) and cheap fixed operators:

* tiny_sd/    SD 2.x-like: one text encoder (int32 ids), a UNet with diffusers' own
              `[B]` float timestep, SD-Turbo's scheduler_config.json (Euler, trailing),
              VAE scaling factor 0.18215, pad token "!".
* tiny_sdxl/  SDXL-like: two text encoders with `hidden_states.N` outputs and
              `text_embeds`, a UNet with a scalar int64 timestep, `text_embeds` and
              `time_ids`, SDXL-Turbo's scheduler (Euler ancestral, trailing), VAE 0.13025,
              force_zeros_for_empty_prompt.
* kat_*.onnx  known-answer UNets for the schedulers (see `kat_unet`).
* bad_*.onnx  files that break one contract rule each.

The tokenizer folders hold a cut-down CLIP vocabulary: the 512 byte symbols, the first
300 merges of CLIP's BPE file (from the `open-clip-torch` wheel) and the two special
tokens. reference.json records, from `transformers`' CLIPTokenizer on that vocabulary,
the token ids of the prompts of tools/clip_tokenizer_reference.py, and, from diffusers'
own `OnnxStableDiffusionPipeline` run on tiny_sd (latents from
`torch.Generator("cpu").manual_seed(seed)`), the pictures of a few requests.

    pip install onnx onnxruntime==1.31.1 torch diffusers transformers
    pip install --no-deps open-clip-torch
    python tools/gen_diffusion_models.py
"""
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "models", "tests", "data", "diffusion")
OPSET = 17
RNG = np.random.default_rng(1313)
MERGES = 300
D1, D2, POOLED = 8, 4, 5

sys.path.insert(0, HERE)
from clip_tokenizer_reference import PROMPTS, clip_vocabulary, write_folder  # noqa: E402


def init(name, arr):
    return numpy_helper.from_array(np.asarray(arr), name)


def f32(a):
    return np.asarray(a, dtype=np.float32)


def save(path, nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, os.path.basename(path), inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="img23d tools/gen_diffusion_models.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    onnx.save(model, path)


def vi(name, shape, dtype=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, dtype, shape)


# ---- tokenizer ----

def tiny_vocabulary():
    return clip_vocabulary(MERGES)


# ---- networks ----

def text_encoder(path, vocab_size, width, ids_type, hidden_states, projection):
    """Gather + position table + tanh layers. Outputs: last_hidden_state, then
    pooler_output (or text_embeds with projection), then hidden_states.0..2 if asked."""
    emb = f32(RNG.normal(0, 0.5, (vocab_size, width)))
    pos = f32(RNG.normal(0, 0.1, (77, width)))
    inits = [init("emb", emb), init("pos", pos), init("half", f32(0.5))]
    nodes = []
    ids = "input_ids"
    if ids_type != TensorProto.INT64:
        nodes.append(helper.make_node("Cast", [ids], ["ids64"], to=TensorProto.INT64))
        ids = "ids64"
    nodes += [
        helper.make_node("Gather", ["emb", ids], ["e"], axis=0),
        helper.make_node("Add", ["e", "pos"], ["h0"]),
        helper.make_node("Tanh", ["h0"], ["h1"]),
        helper.make_node("Mul", ["h1", "half"], ["h1h"]),
        helper.make_node("Tanh", ["h1h"], ["last_hidden_state"]),
        helper.make_node("ReduceMean", ["last_hidden_state"], ["mean"], axes=[1], keepdims=0),
    ]
    outputs = [vi("last_hidden_state", ["batch", "sequence", width])]
    if projection:
        inits.append(init("proj", f32(RNG.normal(0, 1, (width, POOLED)))))
        nodes.append(helper.make_node("MatMul", ["mean", "proj"], ["text_embeds"]))
        outputs.insert(0, vi("text_embeds", ["batch", POOLED]))
    else:
        nodes.append(helper.make_node("Identity", ["mean"], ["pooler_output"]))
        outputs.append(vi("pooler_output", ["batch", width]))
    if hidden_states:
        for i, src in enumerate(["h0", "h1", "last_hidden_state"]):
            nodes.append(helper.make_node("Identity", [src], [f"hidden_states.{i}"]))
            outputs.append(vi(f"hidden_states.{i}", ["batch", "sequence", width]))
    save(path, nodes, [vi("input_ids", ["batch", "sequence"], ids_type)], outputs, inits)


def unet(path, width, timestep_type, timestep_shape, sdxl, out_name="out_sample"):
    """out = 0.3·sample + 0.5·tanh(mean(ehs)·W) (+ 0.2·tanh(text_embeds·W2)
    + 1e-4·sum(time_ids)) + 2e-4·t, broadcast over the latent plane (a `[B]` timestep per
    batch item)."""
    inits = [
        init("w", f32(RNG.normal(0, 1, (width, 4)))),
        init("a", f32(0.3)), init("b", f32(0.5)), init("c", f32(2e-4)),
        init("axes23", np.array([2, 3], np.int64)), init("t4", np.array([-1, 1, 1, 1], np.int64)),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["encoder_hidden_states"], ["m"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["m", "w"], ["mw"]),
        helper.make_node("Tanh", ["mw"], ["tw"]),
        helper.make_node("Mul", ["tw", "b"], ["cond"]),
    ]
    cond = "cond"
    if sdxl:
        inits += [init("w2", f32(RNG.normal(0, 1, (POOLED, 4)))), init("d", f32(0.2)), init("e", f32(1e-4)),
                  init("axes1", np.array([1], np.int64))]
        nodes += [
            helper.make_node("MatMul", ["text_embeds", "w2"], ["pw"]),
            helper.make_node("Tanh", ["pw"], ["tp"]),
            helper.make_node("Mul", ["tp", "d"], ["pc"]),
            helper.make_node("ReduceSum", ["time_ids", "axes1"], ["ts"], keepdims=1),
            helper.make_node("Mul", ["ts", "e"], ["tsc"]),
            helper.make_node("Add", ["cond", "pc"], ["c2"]),
            helper.make_node("Add", ["c2", "tsc"], ["c3"]),
        ]
        cond = "c3"
    t = "timestep"
    if timestep_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [t], ["tf"], to=TensorProto.FLOAT))
        t = "tf"
    nodes += [
        helper.make_node("Unsqueeze", [cond, "axes23"], ["cond4"]),
        helper.make_node("Mul", ["sample", "a"], ["sa"]),
        helper.make_node("Add", ["sa", "cond4"], ["s1"]),
        helper.make_node("Reshape", [t, "t4"], ["tr"]),
        helper.make_node("Mul", ["tr", "c"], ["tc"]),
        helper.make_node("Add", ["s1", "tc"], [out_name]),
    ]
    inputs = [vi("sample", ["batch", 4, "height", "width"]), vi("timestep", timestep_shape, timestep_type),
              vi("encoder_hidden_states", ["batch", "sequence", width])]
    if sdxl:
        inputs += [vi("text_embeds", ["batch", POOLED]), vi("time_ids", ["batch", 6])]
    save(path, nodes, inputs, [vi(out_name, ["batch", 4, "height", "width"])], inits)


def vae_decoder(path):
    """1x1 conv 4->3, tanh, nearest ×8."""
    inits = [init("w", f32(RNG.normal(0, 0.01, (3, 4, 1, 1)))), init("bias", f32(RNG.normal(0, 0.1, (3,)))),
             init("scales", f32([1, 1, 8, 8]))]
    nodes = [
        helper.make_node("Conv", ["latent_sample", "w", "bias"], ["c"]),
        helper.make_node("Tanh", ["c"], ["t"]),
        helper.make_node("Resize", ["t", "", "scales"], ["sample"], mode="nearest"),
    ]
    save(path, nodes, [vi("latent_sample", ["batch", 4, "h", "w"])], [vi("sample", ["batch", 3, "H", "W"])], inits)


SD_TURBO_SCHEDULER = {
    "_class_name": "EulerDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "interpolation_type": "linear", "num_train_timesteps": 1000,
    "prediction_type": "epsilon", "steps_offset": 1, "timestep_spacing": "trailing",
    "trained_betas": None, "use_karras_sigmas": False,
}
SDXL_TURBO_SCHEDULER = {
    "_class_name": "EulerAncestralDiscreteScheduler", "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "beta_start": 0.00085, "num_train_timesteps": 1000, "prediction_type": "epsilon",
    "steps_offset": 1, "timestep_spacing": "trailing", "trained_betas": None,
}


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def tiny_sd(folder, vocab, merges):
    write_folder(os.path.join(folder, "tokenizer"), vocab, merges, "!")
    text_encoder(os.path.join(folder, "text_encoder", "model.onnx"), len(vocab), D1, TensorProto.INT32, False, False)
    unet(os.path.join(folder, "unet", "model.onnx"), D1, TensorProto.FLOAT, ["batch"], False)
    vae_decoder(os.path.join(folder, "vae_decoder", "model.onnx"))
    write_json(os.path.join(folder, "vae_decoder", "config.json"), {"scaling_factor": 0.18215})
    write_json(os.path.join(folder, "scheduler", "scheduler_config.json"), SD_TURBO_SCHEDULER)
    write_json(os.path.join(folder, "model_index.json"), {"_class_name": "OnnxStableDiffusionPipeline"})


def tiny_sdxl(folder, vocab, merges):
    write_folder(os.path.join(folder, "tokenizer"), vocab, merges, "<|endoftext|>")
    write_folder(os.path.join(folder, "tokenizer_2"), vocab, merges, "!")
    text_encoder(os.path.join(folder, "text_encoder", "model.onnx"), len(vocab), D1, TensorProto.INT32, True, False)
    text_encoder(os.path.join(folder, "text_encoder_2", "model.onnx"), len(vocab), D2, TensorProto.INT64, True, True)
    unet(os.path.join(folder, "unet", "model.onnx"), D1 + D2, TensorProto.INT64, [], True)
    vae_decoder(os.path.join(folder, "vae_decoder", "model.onnx"))
    write_json(os.path.join(folder, "vae_decoder", "config.json"), {"scaling_factor": 0.13025})
    write_json(os.path.join(folder, "scheduler", "scheduler_config.json"), SDXL_TURBO_SCHEDULER)
    write_json(os.path.join(folder, "model_index.json"),
               {"_class_name": "ORTStableDiffusionXLPipeline", "force_zeros_for_empty_prompt": True})


# ---- known-answer UNets ----

def kat_unet(path, space, prediction, table, target, valid):
    """A UNet that knows the answer (the step counts are chosen so the last step goes to
    ᾱ = 1, i.e. σ = 0: DDIM with trailing spacing must have T // N reach below 0): for a sampler in `space` ("sigma": Euler family, the
    input is x/√(σ²+1); "alpha": DDIM/LCM, the input is x) at a timestep whose table entry
    is σ (or ᾱ), it returns the prediction whose x̂₀ is `target`, so a correct sampler ends
    exactly on `target`. At a timestep not in `valid` it adds 10 to its answer, so a wrong
    spacing cannot land. Inputs: sample [1,4,h,w], timestep (float scalar)."""
    h, w = target.shape[2:]
    inits = [init("table", f32(table)), init("valid_off", f32(np.where(valid, 0.0, 10.0))),
             init("target", f32(target)), init("one", f32(1.0))]
    nodes = [
        helper.make_node("Cast", ["timestep"], ["ti"], to=TensorProto.INT64),
        helper.make_node("Gather", ["table", "ti"], ["k"], axis=0),
        helper.make_node("Gather", ["valid_off", "ti"], ["off"], axis=0),
    ]
    if space == "sigma":
        # x = sample·√(σ²+1)
        nodes += [
            helper.make_node("Mul", ["k", "k"], ["k2"]),
            helper.make_node("Add", ["k2", "one"], ["k2p1"]),
            helper.make_node("Sqrt", ["k2p1"], ["sk"]),
            helper.make_node("Mul", ["sample", "sk"], ["x"]),
        ]
        if prediction == "epsilon":      # x0 = x − σ ε
            nodes += [helper.make_node("Sub", ["x", "target"], ["d"]), helper.make_node("Div", ["d", "k"], ["ans"])]
        elif prediction == "v_prediction":  # x0 = −σ/√(σ²+1) v + x/(σ²+1)
            nodes += [
                helper.make_node("Div", ["x", "k2p1"], ["xs"]),
                helper.make_node("Sub", ["xs", "target"], ["d"]),
                helper.make_node("Mul", ["d", "sk"], ["d2"]),
                helper.make_node("Div", ["d2", "k"], ["ans"]),
            ]
        else:
            nodes.append(helper.make_node("Identity", ["target"], ["ans"]))
    else:
        # ᾱ = k, x = sample
        nodes += [
            helper.make_node("Sqrt", ["k"], ["sa"]),
            helper.make_node("Sub", ["one", "k"], ["b"]),
            helper.make_node("Sqrt", ["b"], ["sb"]),
        ]
        if prediction == "epsilon":      # x0 = (x − √β ε)/√ᾱ
            nodes += [
                helper.make_node("Mul", ["target", "sa"], ["ts"]),
                helper.make_node("Sub", ["sample", "ts"], ["d"]),
                helper.make_node("Div", ["d", "sb"], ["ans"]),
            ]
        elif prediction == "v_prediction":  # x0 = √ᾱ x − √β v
            nodes += [
                helper.make_node("Mul", ["sample", "sa"], ["xs"]),
                helper.make_node("Sub", ["xs", "target"], ["d"]),
                helper.make_node("Div", ["d", "sb"], ["ans"]),
            ]
        else:
            nodes.append(helper.make_node("Identity", ["target"], ["ans"]))
    nodes.append(helper.make_node("Add", ["ans", "off"], ["out_sample"]))
    save(path, nodes, [vi("sample", [1, 4, h, w]), vi("timestep", [])], [vi("out_sample", [1, 4, h, w])], inits)


KAT_CASES = [
    # name, scheduler config, steps
    ("euler_eps_trailing", dict(SD_TURBO_SCHEDULER), [1, 4]),
    ("euler_v_leading", dict(SD_TURBO_SCHEDULER, prediction_type="v_prediction", timestep_spacing="leading"), [1, 5]),
    ("euler_sample_leading", dict(SD_TURBO_SCHEDULER, prediction_type="sample", timestep_spacing="leading"), [1, 3]),
    ("euler_a_eps_trailing", dict(SDXL_TURBO_SCHEDULER), [1, 4]),
    ("euler_a_v_trailing", dict(SDXL_TURBO_SCHEDULER, prediction_type="v_prediction", beta_schedule="linear"), [1, 28]),
    ("ddim_eps_leading", {"_class_name": "DDIMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
                          "beta_schedule": "scaled_linear", "clip_sample": False, "set_alpha_to_one": True,
                          "steps_offset": 1}, [1, 10]),
    ("ddim_v_trailing", {"_class_name": "DDIMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
                         "beta_schedule": "scaled_linear", "clip_sample": False, "set_alpha_to_one": True,
                         "prediction_type": "v_prediction", "timestep_spacing": "trailing"}, [1, 4]),
    ("ddim_sample_linspace", {"_class_name": "DDIMScheduler", "clip_sample": False, "prediction_type": "sample",
                              "timestep_spacing": "linspace"}, [1, 7]),
    ("lcm_eps", {"_class_name": "LCMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
                 "beta_schedule": "scaled_linear", "original_inference_steps": 50}, [1, 4]),
    ("lcm_v", {"_class_name": "LCMScheduler", "prediction_type": "v_prediction",
               "original_inference_steps": 50}, [1, 4]),
]


def kat_models(out):
    import torch  # noqa: F401
    from diffusers import DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, LCMScheduler
    classes = {c.__name__: c for c in [DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler, LCMScheduler]}
    target = f32(RNG.normal(0, 0.8, (1, 4, 3, 2)))
    cases = []
    for name, cfg, steps in KAT_CASES:
        cls = classes[cfg["_class_name"]]
        s = cls(**{k: v for k, v in cfg.items() if k != "_class_name"})
        ac = s.alphas_cumprod.numpy().astype(np.float64)
        space = "sigma" if "Euler" in cfg["_class_name"] else "alpha"
        table = np.sqrt((1 - ac) / ac) if space == "sigma" else ac
        table = f32(table)
        for n in steps:
            s.set_timesteps(n)
            valid = np.zeros(1000, bool)
            valid[s.timesteps.long().numpy()] = True
            file = f"kat_{name}_{n}.onnx"
            kat_unet(os.path.join(out, file), space, cfg.get("prediction_type", "epsilon"), table, target, valid)
            cases.append({"file": file, "config": cfg, "steps": n, "timesteps": [float(t) for t in s.timesteps]})
    return {"target": target.flatten().tolist(), "shape": list(target.shape), "cases": cases}


# ---- contract breakers ----

def bad_models(out, vocab_size):
    unet(os.path.join(out, "bad_unet_output_name.onnx"), D1, TensorProto.FLOAT, [], False, out_name="noise_pred")
    text_encoder(os.path.join(out, "bad_text_encoder_float_ids.onnx"), vocab_size, D1, TensorProto.FLOAT, False, False)


# ---- references ----

def tokenizer_reference(vocab, merges):
    from transformers import CLIPTokenizer
    tok = CLIPTokenizer(vocab=vocab, merges=merges, pad_token="!")
    return [{"prompt": p, "ids": tok(p, padding="max_length", max_length=77, truncation=True)["input_ids"]}
            for p in PROMPTS]


REQUESTS = [
    {"prompt": "a red wooden chair", "negative": "", "steps": 1, "guidance": 0.0, "seed": 42, "width": 64, "height": 48},
    {"prompt": "a blue teapot, studio light", "negative": "", "steps": 3, "guidance": 0.0, "seed": 7, "width": 32, "height": 32},
    {"prompt": "a blue teapot, studio light", "negative": "blurry", "steps": 2, "guidance": 7.5, "seed": 7, "width": 32, "height": 40},
]


def pipeline_reference(folder):
    import torch
    from diffusers import EulerDiscreteScheduler, OnnxRuntimeModel, OnnxStableDiffusionPipeline
    from transformers import CLIPTokenizer
    tok = CLIPTokenizer.from_pretrained(os.path.join(folder, "tokenizer"))
    tok.pad_token = "!"
    class Euler(EulerDiscreteScheduler):
        # the ONNX pipeline multiplies numpy latents by this; diffusers returns a tensor
        @property
        def init_noise_sigma(self):
            return float(super().init_noise_sigma)

    def model(sub):
        return OnnxRuntimeModel(model=OnnxRuntimeModel.load_model(os.path.join(folder, sub, "model.onnx")))

    pipe = OnnxStableDiffusionPipeline(
        vae_encoder=None,
        vae_decoder=model("vae_decoder"),
        text_encoder=model("text_encoder"),
        tokenizer=tok,
        unet=model("unet"),
        scheduler=Euler.from_pretrained(os.path.join(folder, "scheduler")),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    out = []
    for r in REQUESTS:
        g = torch.Generator("cpu").manual_seed(r["seed"])
        latents = torch.randn((1, 4, r["height"] // 8, r["width"] // 8), generator=g).numpy()
        img = pipe(r["prompt"], height=r["height"], width=r["width"], num_inference_steps=r["steps"],
                   guidance_scale=r["guidance"], negative_prompt=r["negative"] or None,
                   latents=latents, output_type="np").images[0]
        pixels = (img * 255).round().astype(np.uint8)
        out.append(dict(r, rgb_sha256=hashlib.sha256(pixels.tobytes()).hexdigest(),
                        rgb_head=pixels.reshape(-1)[:24].tolist()))
    return out


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    vocab, merges = tiny_vocabulary()
    tiny_sd(os.path.join(OUT, "tiny_sd"), vocab, merges)
    tiny_sdxl(os.path.join(OUT, "tiny_sdxl"), vocab, merges)
    bad_models(OUT, len(vocab))
    ref = {
        "tokenizer": tokenizer_reference(vocab, merges),
        "kat": kat_models(OUT),
        "tiny_sd": pipeline_reference(os.path.join(OUT, "tiny_sd")),
    }
    write_json(os.path.join(OUT, "reference.json"), ref)


if __name__ == "__main__":
    main()

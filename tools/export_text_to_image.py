#!/usr/bin/env python3
"""Export a Stable Diffusion family model to the ONNX folder img23d reads (the Optimum
layout: text_encoder/, [text_encoder_2/, tokenizer_2/,] unet/, vae_decoder/,
vae_encoder/, tokenizer/, scheduler/, model_index.json), in float32, for
`img23d text --model FOLDER` or the models folder (`<models>/sd-turbo/`,
`<models>/sdxl-turbo/`).

    pip install "optimum-onnx" diffusers transformers torch
    python tools/export_text_to_image.py sd-turbo   ~/.local/share/img23d/models/sd-turbo
    python tools/export_text_to_image.py sdxl-turbo ~/.local/share/img23d/models/sdxl-turbo
    python tools/export_text_to_image.py stabilityai/stable-diffusion-2-1-base DIR

The model's licence applies to the exported files (SD-Turbo: Stability AI community
licence; SDXL-Turbo: non-commercial research community licence). The script runs
`optimum-cli export onnx --task text-to-image`, then checks that every file img23d loads
is there. Downloading the weights needs the Hugging Face hub (and, for gated models, a
token).
"""
import argparse
import os
import subprocess
import sys

MODELS = {"sd-turbo": "stabilityai/sd-turbo", "sdxl-turbo": "stabilityai/sdxl-turbo"}
NEEDED = [
    "scheduler/scheduler_config.json",
    "tokenizer/vocab.json",
    "tokenizer/merges.txt",
    "text_encoder/model.onnx",
    "unet/model.onnx",
    "vae_decoder/model.onnx",
]
SDXL_NEEDED = ["tokenizer_2/vocab.json", "tokenizer_2/merges.txt", "text_encoder_2/model.onnx"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="sd-turbo, sdxl-turbo or a Hugging Face model id")
    ap.add_argument("out", help="output folder")
    ap.add_argument("--revision", help="the model repository's revision (branch or commit)")
    args = ap.parse_args()
    model = MODELS.get(args.model, args.model)
    cmd = ["optimum-cli", "export", "onnx", "--model", model, "--task", "text-to-image", "--dtype", "fp32"]
    if args.revision:
        cmd += ["--revision", args.revision]
    cmd.append(args.out)
    print(" ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    needed = NEEDED + (SDXL_NEEDED if os.path.isdir(os.path.join(args.out, "text_encoder_2")) else [])
    missing = [p for p in needed if not os.path.exists(os.path.join(args.out, p))]
    if missing:
        sys.exit(f"the export lacks {', '.join(missing)} in {args.out}")
    print(f"exported {model} to {args.out}")


if __name__ == "__main__":
    main()

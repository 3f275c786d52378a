#!/usr/bin/env python3
"""CLIP tokenizer parity numbers for img23d's models/src/diffusion/tokenizer.rs.

The real CLIP BPE vocabulary (49408 tokens) is rebuilt from the BPE file that the
`open-clip-torch` wheel ships (`open_clip/bpe_simple_vocab_16e6.txt.gz`), the way the
Hugging Face CLIP tokenizer files were made from it: the 256 byte symbols, the same with
`</w>`, one token per merge (the first 48894 merges), then `<|startoftext|>` and
`<|endoftext|>`. `transformers`' `CLIPTokenizer` tokenizes a fixed list of prompts with
it (pad token `!`, as SD 2.x / the turbo models / SDXL's second tokenizer have it), and
the ids go to models/tests/data/clip_tokenizer_reference.json. The vocabulary itself is
not committed: `--write-vocab DIR` writes vocab.json + merges.txt + special_tokens_map.json
there, and

    IMG23D_CLIP_VOCAB_DIR=DIR cargo test -p img23d-models --test diffusion -- --ignored clip

compares the Rust tokenizer against the committed ids.

    pip install transformers tokenizers && pip install --no-deps open-clip-torch
    python tools/clip_tokenizer_reference.py [--write-vocab DIR]

(numbers in the repository: transformers 5.25.0, open-clip-torch 3.3.0)
"""
import argparse
import gzip
import importlib.util
import json
import os

from transformers import CLIPTokenizer

PROMPTS = [
    "a red wooden chair",
    "A Red   Wooden\tChair\n",
    "an astronaut riding a horse, 4k, highly detailed!!!",
    "it's the cat's toy; they're here, we've won, I'm sure, you'll see, he'd go",
    "price: $12.50 (approx.) -- 100% off?!",
    "3d render of 1024x768 px, v2.1",
    "café crème brûlée, naïve façade, Ångström",
    "Cafe\u0301 with a decomposed accent (NFC)",
    "emoji 🚀🔥 rocket 👩‍🚀",
    "東京タワー の 夜景, 北京烤鸭",
    "ÄÖÜ ß straße ΣΊΣΥΦΟΣ",
    "tabs\tand\u00a0no-break\u2003spaces",
    "<|endoftext|> inside a prompt",
    "",
    " ".join(["a very long prompt"] * 30),
]


def bpe_file():
    spec = importlib.util.find_spec("open_clip")
    return os.path.join(spec.submodule_search_locations[0], "bpe_simple_vocab_16e6.txt.gz")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clip_vocabulary(merge_count=49152 - 256 - 2):
    """The CLIP vocabulary with its first `merge_count` merges (all of them by default)."""
    lines = gzip.open(bpe_file()).read().decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1 : merge_count + 1]]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(vocab)}, merges


def write_folder(folder, vocab, merges, pad):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False)
    with open(os.path.join(folder, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        f.writelines(f"{a} {b}\n" for a, b in merges)
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump({"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "pad_token": pad, "unk_token": "<|endoftext|>"}, f)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"model_max_length": 77, "pad_token": pad, "do_lower_case": True}, f)


def tokenize(vocab, merges, pad, prompts):
    tok = CLIPTokenizer(vocab=vocab, merges=merges, pad_token=pad)
    out = []
    for p in prompts:
        ids = tok(p, padding="max_length", max_length=77, truncation=True)["input_ids"]
        out.append({"prompt": p, "ids": ids})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--write-vocab", metavar="DIR")
    args = ap.parse_args()
    vocab, merges = clip_vocabulary()
    assert len(vocab) == 49408, len(vocab)
    if args.write_vocab:
        write_folder(args.write_vocab, vocab, merges, "!")
    out = {"vocab_size": len(vocab), "pad_token": "!", "cases": tokenize(vocab, merges, "!", PROMPTS)}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models", "tests", "data", "clip_tokenizer_reference.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes tests/data/images/: one small picture per format and codec variant img23d reads
(PNG, baseline and progressive JPEG, lossy and lossless WebP, BMP, TIFF), each 64x48 RGB
with a gradient and a pattern so that every part of the file carries image data. The
decoding-hardening tests (pipeline/src/image.rs) cut each file short and corrupt its scan,
and expect a clear error. Usage: python3 tools/make_image_fixtures.py   (needs Pillow)
"""
import os

from PIL import Image

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "images")


def picture():
    img = Image.new("RGB", (64, 48))
    px = img.load()
    for y in range(48):
        for x in range(64):
            px[x, y] = ((x * 4) % 256, (y * 5) % 256, ((x ^ y) * 7) % 256)
    return img


def main():
    os.makedirs(OUT, exist_ok=True)
    img = picture()
    saves = {
        "plain.png": dict(format="PNG"),
        "baseline.jpg": dict(format="JPEG", quality=90),
        "progressive.jpg": dict(format="JPEG", quality=90, progressive=True),
        "lossy.webp": dict(format="WEBP", quality=80),
        "lossless.webp": dict(format="WEBP", lossless=True),
        "plain.bmp": dict(format="BMP"),
        "plain.tiff": dict(format="TIFF"),
    }
    for name, kw in saves.items():
        path = os.path.join(OUT, name)
        img.save(path, **kw)
        print(f"{name}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()

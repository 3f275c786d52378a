#!/usr/bin/env python3
"""Draws the example pictures in examples/ (committed; rerun only to change them).

    python3 -m pip install pillow==13.0.0 numpy
    python3 examples/make_examples.py

Every picture is drawn here from simple shapes with numpy and Pillow, supersampled 4x and
box-filtered down so edges are antialiased. Nothing is downloaded. Each one exercises a
different input path of `img23d`:

| file | format | what it exercises |
|---|---|---|
| chair.png | PNG, 8-bit RGBA | transparent background (alpha is the object); holes between slats |
| vase.png | PNG, 8-bit RGB | no alpha: background keying on a gently shaded plain background |
| apple.jpg | JPEG | keying with JPEG noise and a vignetted white background; thin stem |
| bottle.jpg | JPEG + EXIF | pixels stored sideways with EXIF orientation 6: must come out upright |
| duck.webp | WebP (lossy) | keying on a saturated colored background |
| robot16.png | PNG, 16-bit RGBA | 16-bit channels with transparency |
"""

import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
SS = 4  # supersampling factor


def canvas(w, h):
    """A supersampled 'L' canvas and its drawer, in final-pixel coordinates."""
    img = Image.new("L", (w * SS, h * SS), 0)
    return img, ImageDraw.Draw(img)


def poly(draw, points, fill=255):
    draw.polygon([(x * SS, y * SS) for x, y in points], fill=fill)


def ellipse(draw, box, fill=255):
    x0, y0, x1, y1 = box
    draw.ellipse([x0 * SS, y0 * SS, x1 * SS, y1 * SS], fill=fill)


def rect(draw, box, fill=255, radius=0):
    x0, y0, x1, y1 = box
    draw.rounded_rectangle([x0 * SS, y0 * SS, x1 * SS, y1 * SS], radius=radius * SS, fill=fill)


def mask_of(img):
    return np.asarray(img, dtype=np.float64) / 255.0


def coords(w, h):
    """Supersampled pixel-centre coordinates in final-pixel units."""
    ys, xs = np.mgrid[0 : h * SS, 0 : w * SS]
    return (xs + 0.5) / SS, (ys + 0.5) / SS


def down(rgba):
    """Box-filters a supersampled premultiplied RGBA float image to final size."""
    h, w, c = rgba.shape
    return rgba.reshape(h // SS, SS, w // SS, SS, c).mean(axis=(1, 3))


class Layers:
    """Paints parts back to front onto a supersampled premultiplied RGBA buffer."""

    def __init__(self, w, h):
        self.w, self.h = w, h
        self.buf = np.zeros((h * SS, w * SS, 4))
        self.x, self.y = coords(w, h)

    def paint(self, mask, rgb):
        a = mask[..., None]
        rgb = np.broadcast_to(np.clip(rgb, 0, 1), mask.shape + (3,))
        col = np.concatenate([rgb, np.ones_like(mask)[..., None]], axis=-1)
        self.buf = col * a + self.buf * (1 - a)

    def result(self):
        """Straight-alpha RGBA in [0, 1] at final size."""
        p = down(self.buf)
        a = p[..., 3:4]
        rgb = np.where(a > 1e-6, p[..., :3] / np.maximum(a, 1e-6), 0)
        return np.concatenate([rgb, a], axis=-1)


def over(rgba, background):
    a = rgba[..., 3:4]
    return rgba[..., :3] * a + background * (1 - a)


def to8(x):
    return (np.clip(x, 0, 1) * 255 + 0.5).astype(np.uint8)


def shade_cylinder(x, cx, half_width):
    """Brightness of a vertical cylinder lit from the front-left."""
    u = np.clip((x - cx) / np.maximum(half_width, 1e-6), -1, 1)
    nz = np.sqrt(1 - u * u)
    return 0.35 + 0.55 * np.clip(0.8 * nz - 0.45 * u, 0, 1) + 0.1 * nz


# ---------------------------------------------------------------------------- chair


def chair():
    w = h = 512
    L = Layers(w, h)
    x, y = L.x, L.y
    wood = np.array([0.55, 0.33, 0.16])
    grain = 0.9 + 0.1 * np.sin(y * 0.9 + 3 * np.sin(x * 0.05))[..., None]

    def part(draw_fn, rgb_fn):
        img, d = canvas(w, h)
        draw_fn(d)
        L.paint(mask_of(img), rgb_fn())

    def post(x0, x1):
        return lambda: wood * grain * shade_cylinder(x, 0.5 * (x0 + x1), 0.5 * (x1 - x0))[..., None]

    # Back legs (below the seat), then the backrest posts, rails and slats.
    part(lambda d: (rect(d, (162, 300, 182, 445)), rect(d, (330, 300, 350, 445))),
         lambda: wood * 0.7 * grain)
    for x0, x1 in ((155, 180), (332, 357)):
        part(lambda d, x0=x0, x1=x1: rect(d, (x0, 78, x1, 305), radius=6), post(x0, x1))
    part(lambda d: rect(d, (146, 62, 366, 112), radius=20),
         lambda: wood * grain * (1.05 - 0.25 * ((y - 62) / 50))[..., None])
    part(lambda d: rect(d, (176, 178, 336, 196)), lambda: wood * 0.85 * grain)
    for sx in (205, 246, 287):
        part(lambda d, sx=sx: rect(d, (sx, 110, sx + 20, 180)), post(sx, sx + 20))
    # Seat: cushion top (seen from slightly above), then its front face.
    part(lambda d: poly(d, [(150, 292), (362, 292), (394, 346), (118, 346)]),
         lambda: np.array([0.72, 0.12, 0.10]) * (0.8 + 0.35 * ((y - 292) / 54))[..., None])
    part(lambda d: rect(d, (118, 344, 394, 368), radius=4), lambda: wood * 0.62 * grain)
    # Front legs and the stretcher between them.
    for x0, x1 in ((124, 152), (360, 388)):
        part(lambda d, x0=x0, x1=x1: poly(d, [(x0, 366), (x1, 366), (x1 - 3, 478), (x0 + 3, 478)]),
             post(x0, x1))
    part(lambda d: rect(d, (150, 420, 362, 432)), lambda: wood * 0.75 * grain)
    img = L.result()
    Image.fromarray(to8(img), "RGBA").save(HERE / "chair.png", optimize=True)


# ---------------------------------------------------------------------------- vase


def vase():
    w, h = 480, 600
    L = Layers(w, h)
    x, y = L.x, L.y
    t = np.clip((y - 90) / 450, 0, 1)
    radius = 42 + 118 * np.sin(np.pi * np.clip(t, 0, 1) ** 0.85) ** 1.4
    radius = np.where(t < 0.04, 58, radius)  # the lip
    inside = (np.abs(x - 240) < radius) & (y > 90) & (y < 540)
    glaze = np.array([0.12, 0.30, 0.65])
    band = ((t > 0.47) & (t < 0.53))[..., None]
    color = np.where(band, np.array([0.92, 0.90, 0.82]), glaze)
    color = color * shade_cylinder(x, 240, radius)[..., None]
    L.paint(inside.astype(np.float64), color)
    img = L.result()
    ys = (np.arange(h)[:, None, None] / h)
    background = np.array([0.86, 0.90, 0.88]) * (1 - ys) + np.array([0.76, 0.82, 0.79]) * ys
    Image.fromarray(to8(over(img, background)), "RGB").save(HERE / "vase.png", optimize=True)


# ---------------------------------------------------------------------------- apple


def apple_rgb(w, h, cx, cy, r):
    L = Layers(w, h)
    x, y = L.x, L.y
    u, v = (x - cx) / r, (y - cy) / r
    # A sphere with a dimple at the top and a slightly narrower bottom.
    dimple = 0.18 * np.exp(-((u / 0.22) ** 2)) * np.clip(-v * 4, 0, 1)
    body = (u ** 2) * (1 + 0.15 * np.clip(v, 0, 1)) + (v - dimple) ** 2 < 1
    nz = np.sqrt(np.clip(1 - u * u - v * v, 0, 1))
    light = 0.3 + 0.7 * np.clip(0.6 * nz - 0.4 * u - 0.5 * v, 0, 1)
    streak = 0.5 + 0.5 * np.sin(14 * np.arcsin(np.clip(u, -1, 1)) + 2 * v)
    blush = np.clip(0.6 - v, 0, 1)
    base = np.stack([0.70 + 0.15 * blush + 0 * u, 0.16 + 0.2 * streak * (1 - blush), 0.07 + 0 * u], -1)
    color = base * light[..., None]
    spec = np.exp(-(((u + 0.35) / 0.13) ** 2 + ((v + 0.4) / 0.09) ** 2))[..., None]
    color = color * (1 - spec) + spec
    L.paint(body.astype(np.float64), color)
    img, d = canvas(w, h)
    poly(d, [(cx - 3, cy - r * 0.78), (cx + 4, cy - r * 0.78), (cx + 16, cy - r * 1.22), (cx + 9, cy - r * 1.24)])
    L.paint(mask_of(img), np.array([0.36, 0.22, 0.10]))
    img, d = canvas(w, h)
    ellipse(d, (cx + 8, cy - r * 1.18, cx + 68, cy - r * 0.98))
    L.paint(mask_of(img), np.array([0.25, 0.55, 0.18]) * (0.8 + 0.2 * np.sin(x * 0.3))[..., None])
    return L.result()


def apple():
    w, h = 640, 480
    img = apple_rgb(w, h, 320, 262, 160)
    ys, xs = np.mgrid[0:h, 0:w]
    rr = ((xs - w / 2) / (w / 2)) ** 2 + ((ys - h / 2) / (h / 2)) ** 2
    background = np.array([0.96, 0.95, 0.93]) * (1 - 0.07 * rr)[..., None]
    Image.fromarray(to8(over(img, background)), "RGB").save(HERE / "apple.jpg", quality=92)


# ---------------------------------------------------------------------------- bottle


def bottle():
    w, h = 300, 640
    L = Layers(w, h)
    x, y = L.x, L.y
    cx = 150
    # Profile: cap, neck, shoulder, body.
    half = np.select(
        [y < 60, y < 70, y < 180, y < 260, y < 600],
        [0, 24, 22, 22 + (88 - 22) * np.sin(np.pi / 2 * (y - 180) / 80), 88],
        default=0,
    )
    half = np.where(y >= 600, 88 - (y - 600) * 0.4, half)  # a slightly narrower foot
    glass = (np.abs(x - cx) < half) & (y >= 60) & (y < 620)
    color = np.array([0.15, 0.45, 0.22]) * shade_cylinder(x, cx, half)[..., None]
    label = ((y > 330) & (y < 470))[..., None]
    band = ((y > 380) & (y < 410))[..., None]
    label_col = np.where(band, np.array([0.75, 0.12, 0.12]), np.array([0.93, 0.89, 0.78]))
    label_col = label_col * shade_cylinder(x, cx, half)[..., None]
    color = np.where(label, label_col, color)
    L.paint(glass.astype(np.float64), color)
    img, d = canvas(w, h)
    rect(d, (cx - 27, 32, cx + 27, 64), radius=5)
    L.paint(mask_of(img), np.array([0.80, 0.70, 0.20]) * shade_cylinder(x, cx, 27)[..., None])
    img = L.result()
    xs = np.arange(w)[None, :, None] / w
    background = np.array([0.93, 0.93, 0.92]) * (1 - 0.05 * xs)
    upright = Image.fromarray(to8(over(img, background)), "RGB")
    # Store the pixels sideways (rotated 90 degrees counter-clockwise) and say in EXIF that
    # a viewer must rotate them 90 degrees clockwise (orientation 6) to show them upright.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(HERE / "bottle.jpg", quality=92, exif=exif.tobytes())


# ---------------------------------------------------------------------------- duck


def duck():
    w = h = 512
    L = Layers(w, h)
    x, y = L.x, L.y
    yellow = np.array([0.98, 0.82, 0.12])

    def sphere_light(cx, cy, r):
        u, v = (x - cx) / r, (y - cy) / r
        nz = np.sqrt(np.clip(1 - u * u - v * v, 0, 1))
        return (0.45 + 0.55 * np.clip(0.7 * nz - 0.4 * u - 0.4 * v, 0, 1))[..., None]

    img, d = canvas(w, h)
    ellipse(d, (96, 236, 430, 436))
    poly(d, [(400, 300), (456, 250), (440, 330)])  # tail
    L.paint(mask_of(img), yellow * sphere_light(263, 336, 170))
    img, d = canvas(w, h)
    ellipse(d, (110, 96, 270, 256))
    L.paint(mask_of(img), yellow * sphere_light(190, 176, 80))
    img, d = canvas(w, h)
    poly(d, [(118, 170), (56, 186), (64, 204), (122, 200)])
    L.paint(mask_of(img), np.array([0.95, 0.45, 0.08]))
    img, d = canvas(w, h)
    ellipse(d, (160, 142, 182, 164))
    L.paint(mask_of(img), np.array([0.05, 0.05, 0.05]))
    img = L.result()
    background = np.array([0.35, 0.55, 0.85])
    Image.fromarray(to8(over(img, background)), "RGB").save(HERE / "duck.webp", quality=90)


# ---------------------------------------------------------------------------- robot (16-bit)


def write_png16(path, rgba):
    """Writes a 16-bit RGBA PNG (Pillow cannot): every row filtered with 'up'."""
    h, w, _ = rgba.shape
    data = np.frombuffer((np.clip(rgba, 0, 1) * 65535 + 0.5).astype(">u2").tobytes(), np.uint8)
    rows = data.reshape(h, w * 8)
    prev = np.vstack([np.zeros((1, w * 8), np.uint8), rows[:-1]])
    up = rows - prev  # uint8 arithmetic wraps modulo 256, as PNG's filter does
    raw = b"".join(b"\x02" + up[row].tobytes() for row in range(h))

    def chunk(kind, payload):
        return (struct.pack(">I", len(payload)) + kind + payload
                + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9))
    png += chunk(b"IEND", b"")
    path.write_bytes(png)


def robot():
    w, h = 400, 560
    L = Layers(w, h)
    x, y = L.x, L.y
    metal = np.array([0.62, 0.66, 0.72])

    def boxy(box, radius, tint=metal):
        img, d = canvas(w, h)
        rect(d, box, radius=radius)
        x0, y0, x1, y1 = box
        L.paint(mask_of(img), tint * shade_cylinder(x, 0.5 * (x0 + x1), 0.5 * (x1 - x0))[..., None]
                * (1.05 - 0.2 * (y - y0) / (y1 - y0))[..., None])

    boxy((196, 22, 204, 70), 2)  # antenna
    img, d = canvas(w, h)
    ellipse(d, (188, 12, 212, 36))
    L.paint(mask_of(img), np.array([0.9, 0.15, 0.1]))
    boxy((130, 60, 270, 170), 18)  # head
    for ex in (165, 235):
        img, d = canvas(w, h)
        ellipse(d, (ex - 14, 100, ex + 14, 128))
        L.paint(mask_of(img), np.array([0.2, 0.8, 1.0]))
    boxy((182, 168, 218, 186), 3)  # neck
    boxy((62, 196, 108, 380), 16)  # arms
    boxy((292, 196, 338, 380), 16)
    boxy((110, 184, 290, 380), 12, np.array([0.30, 0.42, 0.62]))  # body
    boxy((136, 376, 186, 540), 10)  # legs
    boxy((214, 376, 264, 540), 10)
    write_png16(HERE / "robot16.png", L.result())


if __name__ == "__main__":
    chair()
    vase()
    apple()
    bottle()
    duck()
    robot()
    for p in sorted(HERE.iterdir()):
        if p.suffix in {".png", ".jpg", ".webp"}:
            print(f"{p.name}: {p.stat().st_size} bytes")

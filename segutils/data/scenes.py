"""The built-in dataset's pictures: procedural street scenes, drawn in milliseconds.

:mod:`segutils.data.synthetic` writes them to disk as a dataset; this module only draws.

Every scene is a small 3-D street seen through a pinhole camera: a road that narrows towards a
vanishing point, sidewalks, rows of buildings with windows, trees, parked and moving cars and
pedestrians, all projected with perspective (far objects are small) and painted back to front,
so near objects hide far ones. The class mask is drawn exactly (no anti-aliasing); the image is
painted from the same shapes and then textured, shaded, recoloured, blurred and noised.

The colours of the classes overlap on purpose: grey asphalt, grey concrete and grey cars; green
cars and trees; dark clothes, dark windows and shadows; overcast skies and pale facades. Per-image
lighting and colour casts shift everything further. A classifier that looks at one pixel's colour
cannot do well here; one that looks at shapes, texture and layout (sky above the roofs, road
between the kerbs) can. That is the lesson the dataset exists to teach.

Image ``i`` of a dataset is drawn from its own generator seeded by ``(seed, i)``, so it does not
depend on how many images are made or in which order, and the same seed gives byte-identical
files. Pixel values come from basic arithmetic only (no exp, sin or pow, whose last bits vary
between CPUs and math libraries), so other machines with the same NumPy and Pillow releases
draw the same pixels.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from segutils.data.classes import ClassInfo

#: Bump whenever a change alters the pixels: ensure_dataset then regenerates old copies.
GENERATOR_VERSION = 1
#: Colours follow the Cityscapes palette for the same classes.
CLASSES = ClassInfo(
    names=("sky", "building", "road", "sidewalk", "vegetation", "car", "person"),
    colors=((70, 130, 180), (70, 70, 70), (128, 64, 128), (244, 35, 232), (107, 142, 35),
            (0, 0, 142), (220, 20, 60)),
)
SKY, BUILDING, ROAD, SIDEWALK, VEGETATION, CAR, PERSON = range(7)
SPLITS = ("train", "val", "test")
STEM = "street_{:05d}"

_NEAR = 0.4  # metres: nothing is projected closer to the camera than this
_FAR = 400.0

# Palettes (RGB, 0..255). Several are shared between classes on purpose.
_GREYS = [(95, 95, 98), (125, 125, 128), (150, 150, 150), (175, 174, 170), (200, 200, 198)]
_FACADES = _GREYS + [(205, 190, 160), (160, 85, 60), (225, 222, 215), (70, 72, 78),
                     (95, 130, 165), (185, 150, 110)]
_ASPHALT = [(70, 70, 74), (90, 90, 92), (110, 108, 108), (135, 135, 135), (160, 158, 152)]
_PAVING = [(150, 150, 150), (175, 170, 160), (165, 110, 95), (130, 135, 140), (195, 190, 180)]
_LEAVES = [(60, 110, 45), (40, 75, 35), (90, 130, 60), (115, 140, 70), (170, 130, 50),
           (75, 95, 60)]
_CARS = _GREYS + [(230, 230, 228), (30, 30, 34), (35, 45, 95), (160, 35, 35), (45, 85, 50),
                  (60, 100, 170), (210, 180, 60), (205, 195, 170)]
_CLOTHES = [(30, 30, 35), (55, 55, 60), (50, 65, 105), (120, 120, 125), (220, 220, 215),
            (150, 40, 40), (60, 95, 55), (175, 155, 115), (90, 60, 45)]
_SKIN = [(235, 195, 165), (200, 150, 115), (150, 100, 70), (95, 65, 45)]
_SKIES = {  # (top colour, horizon colour)
    "clear": ((60, 110, 190), (170, 200, 230)),
    "overcast": ((150, 152, 158), (205, 205, 205)),
    "haze": ((175, 185, 195), (225, 222, 215)),
    "sunset": ((70, 80, 140), (235, 160, 90)),
}
# Multiplicative texture per class (columns = class IDs): a local cue that colour lacks.
_TEXTURE = np.array([
    [0.004, 0.06, 0.11, 0.06, 0.14, 0.02, 0.03],  # grain: one pixel
    [0.015, 0.07, 0.05, 0.04, 0.15, 0.01, 0.02],  # blotches: a few pixels
    [0.0, 0.0, 0.0, 0.0, 0.3, 0.0, 0.0],  # leaves: two pixels
], np.float32)


class _Camera:
    """Pinhole camera at height ``h`` looking along +Z; X to the right, Y up, in metres."""

    def __init__(self, f, cx, cy, h):
        self.f, self.cx, self.cy, self.h = f, cx, cy, h

    def project(self, X, Y, Z):
        X, Y, Z = np.broadcast_arrays(*(np.asarray(v, np.float64) for v in (X, Y, Z)))
        Z = np.maximum(Z, _NEAR)
        return self.cx + self.f * X / Z, self.cy + self.f * (self.h - Y) / Z

    def points(self, X, Y, Z):
        x, y = self.project(X, Y, Z)
        return list(zip(x.tolist(), y.tolist(), strict=True))

    def ground(self, x0, x1, z0, z1):
        """The rectangle x0..x1 (across), z0..z1 (along the street) on the ground plane."""
        return self.points([x0, x1, x1, x0], [0] * 4, [z0, z0, z1, z1])

    def scale(self, Z):
        """Pixels per metre at depth Z."""
        return self.f / max(Z, _NEAR)


class _Painter:
    """Draws every shape on the mask, the image and the light layer at once."""

    def __init__(self, sky: np.ndarray):
        h, w = sky.shape[:2]
        self.image = Image.fromarray(sky)
        self.mask = Image.new("L", (w, h), SKY)
        self.light = Image.new("L", (w, h), 255)
        self.im, self.ma = ImageDraw.Draw(self.image), ImageDraw.Draw(self.mask)
        self.li = ImageDraw.Draw(self.light)

    def shape(self, pts, cls, color, light=None, ellipse=False):
        """A labelled shape: a polygon, or an ellipse when ``pts`` is a box (x0, y0, x1, y1)."""
        draw = "ellipse" if ellipse else "polygon"
        if ellipse:
            x0, y0, x1, y1 = pts
            if x1 - x0 < 0.5 or y1 - y0 < 0.5:
                return
            pts = [(x0, y0), (x1, y1)]
        getattr(self.ma, draw)(pts, fill=cls)
        getattr(self.im, draw)(pts, fill=_rgb(color))
        if light is not None:
            getattr(self.li, draw)(pts, fill=int(light))

    def detail(self, pts, color, ellipse=False):
        """Texture only (windows, lane markings): changes the image, never the mask."""
        if ellipse:
            self.im.ellipse([tuple(pts[:2]), tuple(pts[2:])], fill=_rgb(color))
        else:
            self.im.polygon(pts, fill=_rgb(color))

    def shadow(self, pts, value, ellipse=False):
        (self.li.ellipse if ellipse else self.li.polygon)(pts, fill=int(value))

    def light_at(self, x, y):
        w, h = self.light.size
        return self.light.getpixel((int(min(max(x, 0), w - 1)), int(min(max(y, 0), h - 1))))


def _rgb(color):
    return tuple(int(min(max(round(c), 0), 255)) for c in color)


def _pick(rng, palette, jitter=12.0):
    """A palette colour, jittered so that no class has a fixed colour."""
    base = np.asarray(palette[rng.integers(len(palette))], np.float64)
    return base + rng.normal(0.0, jitter, 3)


def _smooth_noise(rng, shape, cell):
    """Zero-mean noise with blobs about ``cell`` pixels wide (bilinear upsampling: arithmetic
    only, so the values are the same on every CPU)."""
    h, w = shape
    gh, gw = h // cell + 2, w // cell + 2
    grid = rng.standard_normal((gh, gw)).astype(np.float32)
    ys = np.arange(h, dtype=np.float32) / cell
    xs = np.arange(w, dtype=np.float32) / cell
    y0, x0 = ys.astype(np.int64), xs.astype(np.int64)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _sky(rng, h, w, horizon):
    kind = list(_SKIES)[rng.choice(4, p=[0.45, 0.3, 0.1, 0.15])]
    top, bottom = (np.asarray(c, np.float32) + rng.normal(0, 10, 3) for c in _SKIES[kind])
    t = np.clip(np.arange(h, dtype=np.float32) / max(horizon, 1.0), 0, 1)[:, None, None]
    sky = top * (1 - t) + bottom * t + np.zeros((1, w, 1), np.float32)
    clouds = _smooth_noise(rng, (h, w), max(4, w // 8)) - rng.uniform(0.2, 1.2)
    cover = np.clip(clouds, 0, 1)[..., None] * rng.uniform(0.3, 0.8)
    sky = sky * (1 - cover) + np.float32(225.0) * cover
    return np.clip(sky, 0, 255).astype(np.uint8)


def _box(p, cam, x0, x1, y0, y1, z0, z1, colors, cls, light):
    """Paint the faces of an axis-aligned box that face the camera (side, top, front)."""
    side, top, front = colors
    if x0 > 0 or x1 < 0:
        xs = x0 if x0 > 0 else x1
        p.shape(cam.points([xs] * 4, [y0, y0, y1, y1], [z0, z1, z1, z0]), cls, side, light)
    if y1 < cam.h:
        p.shape(cam.points([x0, x1, x1, x0], [y1] * 4, [z0, z0, z1, z1]), cls, top, light)
    p.shape(cam.points([x0, x1, x1, x0], [y0, y0, y1, y1], [z0] * 4), cls, front, light)


def _facade(p, cam, rng, X, z0, z1, height, sky_rgb, lit, end_wall):
    """One building on the facade plane X, from depth z0 to z1: wall, shop front, windows."""
    color = _pick(rng, _FACADES, 10) * lit
    sign = -1.0 if X < 0 else 1.0
    if end_wall:  # the street-facing end of a taller building shows above its neighbour
        p.shape(cam.points([X, X + sign * 12, X + sign * 12, X], [0, 0, height, height],
                           [z0] * 4), BUILDING, color * 0.8, 255)
    p.shape(cam.points([X] * 4, [0, 0, height, height], [z0, z1, z1, z0]), BUILDING, color, 255)
    glass = sky_rgb * rng.uniform(0.6, 0.9) if rng.random() < 0.35 else _pick(rng, _GREYS[:2]) * 0.4
    ground, floor = 0.0, rng.uniform(2.8, 3.4)
    if rng.random() < 0.5:  # shop front: a darker band with big windows
        ground = 3.5
        p.detail(cam.points([X] * 4, [0.3, 0.3, 2.8, 2.8],
                            [z0 + 0.5, z1 - 0.5, z1 - 0.5, z0 + 0.5]),
                 _pick(rng, _GREYS[:2] + [(40, 40, 45)], 8))
    line = _rgb(color * rng.uniform(0.75, 0.9))
    for y in np.arange(floor, height - 0.3, floor):  # a ledge at every floor
        p.im.line(cam.points([X, X], [y, y], [z0 + 0.2, z1 - 0.2]), fill=line, width=1)
    step = rng.uniform(1.8, 3.0)
    width, tall = step * rng.uniform(0.4, 0.65), rng.uniform(1.2, 1.9)
    zs = np.arange(z0 + 0.6, z1 - width - 0.4, step)
    ys = np.arange(max(ground, 1.0) + 0.6, height - tall - 0.5, floor)
    if zs.size == 0 or ys.size == 0 or cam.scale(z0) * width < 1.5:
        return
    zz, yy = np.meshgrid(zs, ys)
    zz, yy = zz.ravel(), yy.ravel()
    x, y = cam.project(X, np.stack([yy, yy, yy + tall, yy + tall]),
                       np.stack([zz, zz + width, zz + width, zz]))
    for k in np.flatnonzero(np.abs(x[1] - x[0]) >= 1.2):
        shade = rng.uniform(0.7, 1.15) if rng.random() < 0.8 else rng.uniform(1.3, 1.8)
        p.detail(list(zip(x[:, k].tolist(), y[:, k].tolist(), strict=True)), glass * shade)


def _tree(p, cam, rng, X, Z, sun):
    light = p.light_at(*cam.project(X, 0, Z))
    trunk = rng.uniform(1.8, 3.5)
    r = rng.uniform(1.2, 2.8)
    p.shadow(_ellipse_box(cam, X + sun * 1.5, 0, Z + 1, 0.4 * r, 0.25 * r), 110, True)
    bark = _pick(rng, [(80, 65, 50), (60, 55, 50), (100, 90, 75)], 8)
    p.shape(cam.points([X - 0.2, X + 0.2, X + 0.15, X - 0.15], [0, 0, trunk + r, trunk + r],
                       [Z] * 4), VEGETATION, bark, light)
    leaves = _pick(rng, _LEAVES, 12)
    for _ in range(rng.integers(3, 8)):
        cx, cy = X + rng.uniform(-0.8, 0.8) * r, trunk + r * rng.uniform(0.6, 1.5)
        rr = r * rng.uniform(0.45, 0.85)
        p.shape(_ellipse_box(cam, cx, cy, Z, rr, rr * rng.uniform(0.8, 1.1)), VEGETATION,
                leaves * rng.uniform(0.8, 1.15), light, ellipse=True)


def _ellipse_box(cam, X, Y, Z, rx, ry):
    x, y = cam.project(X, Y, Z)
    s = cam.scale(Z)
    return (float(x - rx * s), float(y - ry * s), float(x + rx * s), float(y + ry * s))


def _hedge(p, cam, rng, X, z0, z1):
    """A low hedge in front of the facade plane X."""
    inner = X + (0.9 if X < 0 else -0.9)
    color = _pick(rng, _LEAVES, 10) * 0.9
    xs = sorted((X, inner))
    _box(p, cam, xs[0], xs[1], 0, rng.uniform(0.7, 1.3), z0, z1,
         (color, color * 1.1, color * 0.9), VEGETATION, 255)


def _car(p, cam, rng, X, Z, sun):
    """A car whose back (or front) faces the camera; lateral centre X, nearest face at depth Z."""
    length, half = rng.uniform(3.8, 4.8), rng.uniform(0.8, 0.95)
    light = p.light_at(*cam.project(X, 0, Z + length / 2))  # before its own shadow is drawn
    x0, x1 = X - half + sun * 0.3, X + half + sun * 0.8
    p.shadow(cam.ground(x0, x1, Z - 0.2, Z + length), 70)
    paint = _pick(rng, _CARS, 10)
    glass = _pick(rng, [(30, 35, 40), (60, 70, 80), (110, 120, 130)], 8)
    tyre = (25, 25, 25)
    for wx in (X - half + 0.1, X + half - 0.45):
        p.shape(cam.points([wx, wx + 0.35, wx + 0.35, wx], [0, 0, 0.5, 0.5], [Z + 0.6] * 4),
                CAR, tyre, light)
    _box(p, cam, X - half, X + half, 0.25, 0.95, Z, Z + length,
         (paint * 0.8, paint * 1.08, paint * 0.95), CAR, light)
    if X - half > 0 or X + half < 0:  # wheels on the visible side
        xs = X - half if X - half > 0 else X + half
        for wz in (Z + 0.8, Z + length - 0.8):
            p.shape(_ellipse_box(cam, xs, 0.33, wz, 0.33 * 0.3, 0.33), CAR, tyre, light, True)
    roof = rng.uniform(1.35, 1.6)
    _box(p, cam, X - half + 0.12, X + half - 0.12, 0.95, roof, Z + 0.9, Z + length - 1.0,
         (glass, paint * 1.1, glass), CAR, light)
    if rng.random() < 0.5:  # tail lights
        for lx in (X - half + 0.05, X + half - 0.3):
            p.detail(cam.points([lx, lx + 0.25, lx + 0.25, lx], [0.7, 0.7, 0.85, 0.85], [Z] * 4),
                     (180, 30, 30))


def _person(p, cam, rng, X, Z):
    """A pedestrian facing the camera: legs, torso, arms, head; ~1.5-1.95 m tall."""
    x, y = cam.project(X, 0, Z)
    hpx = cam.scale(Z) * rng.uniform(1.5, 1.95)
    if hpx < 4:
        return
    light = p.light_at(x, y)
    p.shadow((x - 0.2 * hpx, y - 0.04 * hpx, x + 0.35 * hpx, y + 0.04 * hpx), 90, True)

    def pts(*uv):
        return [(x + u * hpx, y - v * hpx) for u, v in uv]

    # Trousers are mostly dark (as in real streets: the same darks as shadows, tyres and
    # windows); tops take any colour.
    pants, shirt = _pick(rng, _CLOTHES[:4], 10), _pick(rng, _CLOTHES, 10)
    skin = _pick(rng, _SKIN, 8)
    stride = rng.uniform(-0.06, 0.06)
    for side in (-1, 1):
        foot = side * (0.07 + stride)
        p.shape(pts((foot - 0.055, 0), (foot + 0.055, 0), (side * 0.075 + 0.065, 0.5),
                    (side * 0.075 - 0.065, 0.5)), PERSON, pants, light)
        hand = side * 0.21 + rng.uniform(-0.04, 0.04)
        p.shape(pts((side * 0.13, 0.8), (side * 0.2, 0.79), (hand + side * 0.035, 0.45),
                    (hand - side * 0.035, 0.45)), PERSON, shirt * 0.9, light)
    p.shape(pts((-0.15, 0.47), (0.15, 0.47), (0.15, 0.81), (-0.15, 0.81)), PERSON, shirt, light)
    p.shape((x - 0.075 * hpx, y - 0.98 * hpx, x + 0.075 * hpx, y - 0.79 * hpx), PERSON, skin,
            light, ellipse=True)
    p.detail([x - 0.076 * hpx, y - 0.985 * hpx, x + 0.076 * hpx, y - 0.92 * hpx],
             _pick(rng, _CLOTHES[:3] + [(120, 80, 40)], 8), ellipse=True)


def _ground(p, cam, rng, st):
    """Grass beyond the facades (seen through gaps), paved sidewalks, the road and its paint."""
    p.shape(cam.ground(-400, 400, _NEAR, _FAR), VEGETATION, _pick(rng, _LEAVES, 10) * 0.9, 255)
    paving = _pick(rng, _PAVING, 10)
    joint = _rgb(paving * rng.uniform(0.7, 0.85))
    for x0, x1 in ((st.xl, -st.road_l), (st.road_r, st.xr)):
        p.shape(cam.ground(x0, x1, _NEAR, _FAR), SIDEWALK, paving, 255)
        for z in np.arange(rng.uniform(0.5, 1.5), 60, rng.uniform(1.0, 2.0)):  # paving joints
            if cam.scale(z) < 2.5:
                break
            p.im.line(cam.points([x0, x1], [0, 0], [z, z]), fill=joint, width=1)
        for x in np.linspace(x0, x1, 4)[1:-1]:
            p.im.line(cam.points([x, x], [0, 0], [1, 60]), fill=joint, width=1)
        kerb = x1 - 0.25 if x1 < 0 else x0  # a lighter kerb stone along the road
        p.detail(cam.ground(kerb, kerb + 0.25, _NEAR, 80), paving * 1.15)
    asphalt = _pick(rng, _ASPHALT, 8)
    p.shape(cam.ground(-st.road_l, st.road_r, _NEAR, _FAR), ROAD, asphalt, 255)
    for _ in range(rng.integers(0, 4)):  # repaired patches
        x0, z0, dz = rng.uniform(-st.road_l, st.road_r - 1), rng.uniform(2, 40), rng.uniform(2, 8)
        p.detail(cam.points([x0, x0 + rng.uniform(1, 3), x0 + 2, x0], [0] * 4,
                            [z0, z0, z0 + dz, z0 + 4]), asphalt * rng.uniform(0.7, 0.9))
    paint = _pick(rng, [(225, 225, 220), (220, 190, 80)], 8)
    for x in (-st.road_l + 0.3, st.road_r - 0.45):
        p.detail(cam.ground(x, x + 0.15, 1, _FAR), paint)
    dash = rng.uniform(1.5, 4.0)
    for z in np.arange(rng.uniform(0, 6), 120, dash * rng.uniform(2, 3)):
        p.detail(cam.ground(-0.07, 0.07, z, z + dash), paint)
    if rng.random() < 0.3:  # zebra crossing
        z0 = rng.uniform(5, 20)
        for x in np.arange(-st.road_l + 0.5, st.road_r - 0.5, 1.0):
            p.detail(cam.ground(x, x + 0.5, z0, z0 + 3), (220, 220, 215))


def _end_wall(p, cam, st, z, height, color):
    p.shape(cam.points([st.xl - 40, st.xr + 40, st.xr + 40, st.xl - 40], [0, 0, height, height],
                       [z] * 4), BUILDING, color, 255)
    for y in np.arange(3.0, height - 0.3, 3.0):
        p.im.line(cam.points([st.xl - 40, st.xr + 40], [y, y], [z, z]), fill=_rgb(color * 0.8))


def _buildings(p, cam, rng, st, objects):
    """A row of buildings on each side with gaps (trees, sky), street trees and hedges."""
    tall = rng.uniform(8, 35)
    if rng.random() < 0.6:  # the street ends at a building across it
        z_end, color = rng.uniform(40, 90), _pick(rng, _FACADES, 10)
        height = tall * rng.uniform(0.5, 1.2)
        objects.append((_FAR + z_end, lambda a=(z_end, height, color): _end_wall(p, cam, st, *a)))
    for X, side in ((st.xl, -1.0), (st.xr, 1.0)):
        blocks, z = [], rng.uniform(-4, 6)
        while z < 110:
            length = rng.uniform(8, 30)
            if rng.random() < 0.2:  # a gap: trees behind the facade line
                for tz in np.arange(z + 2, z + length, rng.uniform(4, 8)):
                    tx = X + side * rng.uniform(1, 8)
                    objects.append((_FAR + tz, lambda a=(tx, tz, st.sun): _tree(p, cam, rng, *a)))
            else:
                blocks.append((max(z, _NEAR), z + length, tall * rng.uniform(0.4, 1.3)))
            z += length
        lit = rng.uniform(0.55, 0.8) if side == st.sun else 1.0
        for k in range(len(blocks) - 1, -1, -1):
            z0, z1, height = blocks[k]
            end = k > 0 and blocks[k - 1][2] < height  # taller than its nearer neighbour
            objects.append((_FAR + z0, lambda a=(X, z0, z1, height, st.sky_rgb, lit, end):
                            _facade(p, cam, rng, *a)))
            if side == st.sun and z0 > 0:  # the building's shadow falls across the street
                reach = -side * height * rng.uniform(0.2, 0.8)
                p.shadow(cam.points([X, X + reach, X + reach, X], [0] * 4,
                                    [z0, z0 + 3, z1 + 3, z1]), rng.integers(120, 170))
        for z in np.arange(rng.uniform(3, 12), 80, rng.uniform(8, 16)):
            if rng.random() < 0.5:
                tx = X - side * rng.uniform(0.7, 1.2)
                objects.append((z, lambda a=(tx, z, st.sun): _tree(p, cam, rng, *a)))
        if rng.random() < 0.3:
            z0 = rng.uniform(2, 30)
            z1 = z0 + rng.uniform(5, 20)
            objects.append((z0 + 0.5, lambda a=(X, z0, z1): _hedge(p, cam, rng, *a)))


def _traffic(p, cam, rng, st, objects):
    """Cars in the lanes and parked at the kerbs; pedestrians, mostly on the sidewalks."""
    for _ in range(rng.integers(1, 7)):
        if rng.random() < 0.5:
            X = rng.choice([-st.road_l + 1.1, st.road_r - 1.1])
        else:
            X = rng.uniform(-st.road_l + 1.2, st.road_r - 1.2)
        Z = 3.0 + 25 * rng.random() ** 1.5
        objects.append((Z, lambda a=(X, Z, st.sun): _car(p, cam, rng, *a)))
    for _ in range(rng.integers(2, 10)):
        x0, x1 = ((st.xl + 0.3, -st.road_l - 0.3), (st.road_r + 0.3, st.xr - 0.3))[rng.integers(2)]
        if rng.random() < 0.15:
            x0, x1 = -st.road_l, st.road_r
        X, Z = rng.uniform(x0, x1), 1.8 + 9 * rng.random() ** 1.5
        objects.append((Z, lambda a=(X, Z): _person(p, cam, rng, *a)))


def render_scene(seed_or_rng, size=(128, 128)):
    """Draw one street scene.

    Parameters
    ----------
    seed_or_rng:
        An int, a tuple of ints such as ``(seed, index)``, or a ``numpy.random.Generator``.
    size:
        (height, width) in pixels.

    Returns
    -------
    ``(image, mask)``: uint8 arrays of shape (H, W, 3) and (H, W); mask values are the class IDs
    of :data:`CLASSES`.
    """
    rng = seed_or_rng if isinstance(seed_or_rng, np.random.Generator) else \
        np.random.default_rng(seed_or_rng)
    h, w = (int(v) for v in size)
    horizon = h * rng.uniform(0.4, 0.55)
    cam = _Camera(w * rng.uniform(0.45, 0.65), w * rng.uniform(0.3, 0.7), horizon,
                  rng.uniform(1.3, 2.0))
    sky = _sky(rng, h, w, horizon)
    p = _Painter(sky)
    # The camera drives close to one kerb, so the near sidewalk and its pedestrians are in view.
    road_l, road_r = rng.uniform(1.6, 3.0), rng.uniform(3.5, 7.0)
    if rng.random() < 0.5:
        road_l, road_r = road_r, road_l
    st = SimpleNamespace(road_l=road_l, road_r=road_r, xl=-road_l - rng.uniform(1.8, 4.5),
                         xr=road_r + rng.uniform(1.8, 4.5), sun=rng.choice([-1.0, 1.0]),
                         sky_rgb=sky[max(int(horizon) - 2, 0), w // 2].astype(np.float64))
    _ground(p, cam, rng, st)
    objects = []  # (depth, draw): painted far to near, so near things hide far ones
    _buildings(p, cam, rng, st, objects)
    _traffic(p, cam, rng, st, objects)
    for _, draw in sorted(objects, key=lambda o: -o[0]):
        draw()
    return _finish(rng, p)


def _finish(rng, p):
    """Texture, light, colour cast, tone curve, blur and sensor noise."""
    mask = np.asarray(p.mask)
    img = np.asarray(p.image).astype(np.float32)
    h, w = mask.shape
    noise = (rng.standard_normal((h, w)).astype(np.float32),
             _smooth_noise(rng, (h, w), max(2, w // 24)), _smooth_noise(rng, (h, w), 2))
    tex = 1 + sum(amp[mask] * field for amp, field in zip(_TEXTURE, noise, strict=True))
    light = np.asarray(p.light).astype(np.float32) / 255
    gain = rng.uniform(0.65, 1.2) * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    img = img * (tex * light)[..., None] * gain
    x = np.clip(img / 255, 0, 1)
    x = x + rng.uniform(-0.35, 0.35) * x * (1 - x)  # a gamma-like tone curve, arithmetic only
    img = np.clip(x * 255 + rng.normal(0, rng.uniform(2, 6), (h, w, 3)), 0, 255)
    image = Image.fromarray((img + 0.5).astype(np.uint8))
    radius = rng.uniform(0.0, 0.6)
    if radius > 0.35:
        image = image.filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(image), mask.copy()

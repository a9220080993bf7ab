"""Tests of segutils.augment: imgaug on NumPy 2, the course augmenters, presets and errors.

Alignment is checked on a pattern whose class boundaries are sharp colour edges in the image:
after any transform, a pixel deep inside a class region must still show that class's colour
(geometric transforms), and every class boundary of the mask must still lie on an image edge
(any transform). Expected values come from the pattern itself, not from the code under test.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage

from segutils import augment
from segutils.augment import compat
from segutils.augment.core import AugmentationError, JointAugmenter

iaa = compat.load()

IDS = (0, 3, 7, 200)  # deliberately not 0..n-1
COLOURS = {0: (230, 40, 40), 3: (40, 200, 60), 7: (50, 70, 230), 200: (240, 240, 60),
           255: (128, 128, 128)}
FILL = (0, 0, 0)  # imgaug's cval for the image: what added pixels look like


def pattern(size=(96, 112), regions=45, seed=0):
    """Random Voronoi regions of random classes (one region ignored), in flat class colours.

    Irregular boundaries at every angle: any misalignment of image and mask shows.
    """
    rng = np.random.default_rng(seed)
    points = rng.uniform(0, 1, (regions, 2)) * size
    yy, xx = np.mgrid[: size[0], : size[1]]
    nearest = np.argmin((yy[..., None] - points[:, 0]) ** 2 + (xx[..., None] - points[:, 1]) ** 2,
                        axis=-1)
    labels = rng.choice(IDS, regions)
    labels[0] = 255
    mask = labels[nearest].astype(np.uint8)
    lut = np.zeros((256, 3), np.uint8)
    for k, c in COLOURS.items():
        lut[k] = c
    return lut[mask], mask


def interior(mask, radius=2):
    """Pixels whose (2r+1)^2 neighbourhood holds one value (away from every boundary)."""
    size = 2 * radius + 1
    same = ndimage.maximum_filter(mask, size) == ndimage.minimum_filter(mask, size)
    same[:radius], same[-radius:], same[:, :radius], same[:, -radius:] = False, False, False, False
    return same


def colour_misses(image, mask, tol=12) -> float:
    """Share of interior pixels whose colour is not their class colour (or, for 255, the fill).

    Class colours differ by at least 100 in some channel, so ``tol`` only absorbs the rounding
    of bilinear interpolation.
    """
    inner = interior(mask)
    image = image.astype(np.int64)
    lut = np.zeros((256, 3), np.int64)
    for k, c in COLOURS.items():
        lut[k] = c
    good = np.abs(image - lut[mask]).max(-1) <= tol
    good |= (mask == 255) & (np.abs(image - FILL).max(-1) <= tol)
    return float((~good & inner).sum() / max(inner.sum(), 1))


def boundary_on_edges(image, mask, threshold=20.0) -> float:
    """Share of the mask's class boundaries that lie on a strong image edge (+-1 pixel).

    Edges are central differences of the 3x3-smoothed image (max over channels), so a blurred
    or noisy image still has its edges where the classes meet.
    """
    img = ndimage.uniform_filter(image.astype(np.float64), size=(3, 3, 1))
    grad = np.zeros(mask.shape)
    grad[:, 1:-1] = np.abs(img[:, 2:] - img[:, :-2]).max(-1)
    grad[1:-1, :] = np.maximum(grad[1:-1, :], np.abs(img[2:] - img[:-2]).max(-1))
    edges = ndimage.binary_dilation(grad > threshold)
    labelled = mask != 255
    boundary = np.zeros(mask.shape, bool)
    boundary[:, 1:] |= (mask[:, 1:] != mask[:, :-1]) & labelled[:, 1:] & labelled[:, :-1]
    boundary[1:, :] |= (mask[1:, :] != mask[:-1, :]) & labelled[1:, :] & labelled[:-1, :]
    boundary[:3], boundary[-3:], boundary[:, :3], boundary[:, -3:] = False, False, False, False
    if not boundary.any():
        return 1.0
    return float((boundary & edges).sum() / boundary.sum())


IMAGE, MASK = pattern()
NAMES = list(augment.transforms())
GEOMETRIC = [n for n, t in augment.transforms().items() if t.geometric]
PHOTOMETRIC = [n for n, t in augment.transforms().items() if not t.geometric]


def test_the_checks_have_teeth():
    """The alignment measures accept the pattern and reject small misalignments."""
    assert colour_misses(IMAGE, MASK) == 0.0 and boundary_on_edges(IMAGE, MASK) == 1.0
    shifted = np.roll(MASK, 3, axis=1)  # a mask 3 pixels off
    assert colour_misses(IMAGE, shifted) > 0.005  # the tests below allow 0.002
    assert boundary_on_edges(IMAGE, shifted) < 0.9  # the tests below require 0.97
    assert boundary_on_edges(IMAGE[:, ::-1], MASK) < 0.6  # the image flipped, the mask not


@pytest.mark.parametrize("name", NAMES + list(augment.PRESETS))
def test_every_augmenter_keeps_shape_labels_and_alignment(name):
    spec = name if name in augment.PRESETS else {name: 1.0}
    before = set(np.unique(MASK).tolist())
    moved = False
    for seed in range(4):
        image, mask = augment.augment_pair(IMAGE, MASK, spec, seed=seed)
        assert image.shape == IMAGE.shape and image.dtype == np.uint8
        assert mask.shape == MASK.shape and mask.dtype == np.uint8
        assert set(np.unique(mask).tolist()) <= before | {255}, name
        if name in PHOTOMETRIC:
            np.testing.assert_array_equal(mask, MASK)  # photometric: the mask stays put
        else:
            assert boundary_on_edges(image, mask) > 0.97, (name, seed)
        if name in GEOMETRIC:
            assert colour_misses(image, mask) < 0.002, (name, seed)
        moved |= not np.array_equal(image, IMAGE)
    assert moved, f"{name} never changed the image"


@pytest.mark.parametrize("name", [n for n, t in augment.transforms().items() if t.adds_pixels])
def test_added_pixels_are_ignored_not_background(name):
    """Where the warp uncovered pixels (black in the image), the mask holds 255, not class 0."""
    hits = 0
    for seed in range(6):
        image, mask = augment.augment_pair(IMAGE, MASK, {name: 1.0}, seed=seed)
        black = np.all(image == FILL, axis=-1)
        filled = interior(black.astype(np.uint8), radius=1) & black
        assert (mask[filled] == 255).all(), name
        hits += int(filled.sum())
    assert hits > 0, f"{name} never added pixels in 6 draws"


def test_rotation_by_45_degrees_fills_the_corners_with_255():
    full = np.full((64, 64), 3, np.uint8)
    image = np.full((64, 64, 3), 200, np.uint8)
    out_image, out_mask = augment.augment_pair(image, full, iaa.Affine(rotate=45))
    assert out_mask[0, 0] == out_mask[-1, -1] == 255 and out_mask[32, 32] == 3
    assert (out_image[0, 0] == 0).all()
    assert set(np.unique(out_mask).tolist()) == {3, 255}


def test_light_preset_adds_no_pixels_and_flip_is_exact():
    for seed in range(5):
        _, mask = augment.augment_pair(IMAGE, MASK, "light", seed=seed)
        assert (mask == 255).sum() <= (MASK == 255).sum() * 1.6  # only the ignored block
    image, mask = augment.augment_pair(IMAGE, MASK, iaa.Fliplr(1.0))
    np.testing.assert_array_equal(image, IMAGE[:, ::-1])
    np.testing.assert_array_equal(mask, MASK[:, ::-1])


def test_compose_makes_one_warp_of_the_affine_family():
    """scale + rotate + shift + shear at probability 1 are a single imgaug Affine, whose ranges
    are the strengths times the limits of the table (45 degrees, 40%, 20%, 30 degrees)."""
    aug = augment.compose({"rotate": 0.5, "flip": 1.0, "scale": 0.25, "shear": 1.0})
    kinds = [type(a).__name__ for a in aug]
    assert kinds == ["Fliplr", "Affine"]
    by_hand = iaa.Sequential([iaa.Fliplr(0.5), iaa.Affine(scale=(0.9, 1.1), rotate=(-22.5, 22.5),
                                                          shear=(-30, 30), order=1, cval=0,
                                                          mode="constant")])
    for seed in (0, 1):
        ours = augment.augment_pair(IMAGE, MASK, aug.deepcopy(), seed=seed)
        theirs = augment.augment_pair(IMAGE, MASK, by_hand.deepcopy(), seed=seed)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b)


def test_probabilities_wrap_an_augmenter_in_sometimes():
    aug = augment.compose({"blur": (1.0, 0.25), "rotate": (0.5, 0.5), "shift": 1.0})
    kinds = [type(a).__name__ for a in aug]
    assert kinds == ["Sometimes", "Affine", "Sometimes"]  # rotate, shift, blur: geometric first
    assert aug[0].p.p.value == 0.5 and aug[2].p.p.value == 0.25
    assert augment.steps({"noise": 0.0, "hue": (0.3, 0.0), "flip": 1}) == {"flip": (1.0, 1.0)}
    changed = [not np.array_equal(augment.augment_pair(IMAGE, MASK, {"noise": (1.0, 0.25)},
                                                       seed=k)[0], IMAGE) for k in range(40)]
    assert 4 <= sum(changed) <= 18  # about a quarter of 40 draws (binomial, p < 0.002 outside)
    with pytest.raises(AugmentationError, match="blur: probability must lie in"):
        augment.compose({"blur": (0.5, 1.5)})
    with pytest.raises(AugmentationError, match="Unknown augmenter 'twirl'"):
        augment.steps({"twirl": 0.5})


def test_presets_are_their_table_and_say_what_they_apply():
    """preset(name) is compose(PRESET_STEPS[name]); its words come from the same table."""
    for name in augment.PRESETS:
        built = augment.preset(name)
        again = augment.compose(augment.PRESET_STEPS[name])
        assert [type(a).__name__ for a in built] == [type(a).__name__ for a in again]
        ours = augment.augment_pair(IMAGE, MASK, built, seed=3)
        theirs = augment.augment_pair(IMAGE, MASK, again, seed=3)
        assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))
    assert augment.preset_about("light") == ("flip half of the images, crop up to 10% a side, "
                                             "brightness +-20, contrast +-20%")
    heavy = augment.preset_about("heavy")
    assert "rotate +-29 degrees" in heavy and "shear +-12 degrees" in heavy
    assert "perspective (corners up to 9%) on 50% of the images" in heavy
    assert "blur (sigma up to 1.5) on 30% of the images" in heavy
    # medium and heavy warp (they add pixels at the border), light never does
    added = {name: sum(int((augment.augment_pair(np.full((48, 48, 3), 90, np.uint8),
                                                  np.zeros((48, 48), np.uint8), name,
                                                  seed=k)[1] == 255).any()) for k in range(8))
             for name in augment.PRESETS}
    assert added["light"] == 0 and added["medium"] >= 6 and added["heavy"] >= 6


def test_same_seed_same_result_and_floats_round_trip():
    a = augment.augment_pair(IMAGE, MASK, "heavy", seed=7)
    b = augment.augment_pair(IMAGE, MASK, "heavy", seed=7)
    c = augment.augment_pair(IMAGE, MASK, "heavy", seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    f_image, f_mask = augment.augment_pair(IMAGE / 255.0, MASK, "heavy", seed=7)
    assert f_image.dtype == np.float32 and 0 <= f_image.min() and f_image.max() <= 1
    np.testing.assert_array_equal(f_mask, a[1])
    np.testing.assert_allclose(f_image * 255, a[0], atol=0.51)


def test_joint_augmenter_batch_and_threads():
    runner = JointAugmenter("medium", seed=0, keep_size=True)
    images, masks = np.stack([IMAGE] * 4), np.stack([MASK] * 4)
    out_images, out_masks = runner.batch(images, masks, seed=5)
    assert out_images.shape == images.shape and out_masks.shape == masks.shape
    assert len({m.tobytes() for m in out_masks}) > 1  # each pair gets its own draw
    again = runner.batch(images, masks, seed=5)
    np.testing.assert_array_equal(again[1], out_masks)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda s: runner.batch(images, masks, seed=s)[1], [5, 6, 5, 6]))
    np.testing.assert_array_equal(results[0], out_masks)
    np.testing.assert_array_equal(results[0], results[2])
    np.testing.assert_array_equal(results[1], results[3])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(NAMES),
    strength=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32),
    labels=st.lists(st.integers(0, 255), min_size=1, max_size=5, unique=True),
    shape=st.tuples(st.integers(8, 40), st.integers(8, 40)),
)
def test_labels_never_invented(name, strength, seed, labels, shape):
    rng = np.random.default_rng(seed)
    mask = rng.choice(np.array(labels, np.uint8), shape)
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    out_image, out_mask = augment.augment_pair(image, mask, {name: strength}, seed=seed)
    assert out_image.shape == image.shape and out_mask.shape == mask.shape
    assert set(np.unique(out_mask).tolist()) <= set(labels) | {255}


# --- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bad, words", [
    (lambda: iaa.pillike.Affine(rotate=10), "iaa.Affine"),
    (lambda: iaa.pillike.Autocontrast(), "NumPy 2"),
    (lambda: iaa.RandAugment(), "inside"),
    (lambda: iaa.Sequential([iaa.Fliplr(), iaa.imgcorruptlike.ElasticTransform()]),
     "ElasticTransformation"),
])
def test_unsupported_augmenters_are_refused_before_running(bad, words):
    with pytest.raises(AugmentationError, match=words):
        augment.augment_pair(IMAGE, MASK, bad())


def test_other_errors_name_the_problem():
    with pytest.raises(AugmentationError, match="Unknown preset|Unknown augmenter"):
        augment.augment_pair(IMAGE, MASK, "strong")
    with pytest.raises(AugmentationError, match="strength"):
        augment.augmenter("rotate", 2.0)
    with pytest.raises(AugmentationError, match="imgaug augmenter"):
        augment.check_augmenter(lambda image: image)
    with pytest.raises(ValueError, match="mask"):
        augment.augment_pair(IMAGE, MASK[:10], "light")

    def explode(images, random_state, parents, hooks):
        raise RuntimeError("boom")

    with pytest.raises(AugmentationError, match="'exploder' failed inside imgaug.*boom") as info:
        augment.augment_pair(IMAGE, MASK, iaa.Lambda(func_images=explode, name="exploder"))
    assert isinstance(info.value.__cause__, RuntimeError)
    runner = JointAugmenter(iaa.Resize(0.5), keep_size=True)
    with pytest.raises(AugmentationError, match="changed the size.*keep_size=True"):
        runner(IMAGE, MASK)


# --- imgaug on NumPy 2 ----------------------------------------------------------------------

#: NumPy 1 names that NumPy 2 removed (and ``bool``/``long``, which it brought back).
NUMPY1_NAMES = ["sctypes", "complex", "bool8", "float_", "complex_", "int0", "uint0",
                "object0", "string_", "unicode_", "NaN", "Inf", "cast", "bool", "long"]

PROBE = f"""
import warnings, numpy as np
warnings.simplefilter("ignore")
names = {NUMPY1_NAMES!r}
def state():
    return [hasattr(np, n) for n in names], sorted(k for k, v in vars(np).items()
                                                  if type(v).__name__ != "module")
before = state()
try:
    import imgaug
except AttributeError as err:
    print("plain import fails:", "sctypes" in str(err))
import segutils.augment
import imgaug.augmenters as iaa  # a plain import works once segutils.augment is imported
img = np.zeros((32, 32, 3), np.uint8)
iaa.BlendAlphaFrequencyNoise(foreground=iaa.Multiply(0.5))(image=img)  # uses np.complex
iaa.ElasticTransformation(alpha=10, sigma=3)(image=img)
print(before == state(), before[0])
try:
    np.sctypes
except AttributeError as err:
    print("removed" in str(err))
"""


@pytest.mark.slow
def test_numpy_is_unchanged_for_other_code():
    """In a fresh interpreter: NumPy answers every old name as before imgaug was loaded."""
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "plain import fails: True", out
    assert out[1].startswith("True "), out
    assert out[2] == "True", out
    import numpy as np

    assert not hasattr(np, "sctypes") and not hasattr(np, "bool8")


def test_imgaug_alone_sees_the_old_names():
    import imgaug

    assert imgaug.imgaug.np is compat.NUMPY_FOR_IMGAUG
    assert imgaug.parameters.np.complex is complex
    assert np.float64 in imgaug.imgaug.np.sctypes["float"]
    assert imgaug.imgaug.NP_FLOAT_TYPES >= {np.float16, np.float32, np.float64}
    assert compat.NUMPY_FOR_IMGAUG.ndarray is np.ndarray  # everything else is NumPy's own


def test_elastic_transformation_root_cause_and_fix():
    """NumPy 2 (NEP 50) makes imgaug's shift maps float64; OpenCV takes float32 maps only."""
    import cv2

    assert (np.ones(2, np.float32) * np.int32(10)).dtype == np.float64  # float32 in NumPy 1
    grid = np.zeros((4, 4), np.float64)
    with pytest.raises(cv2.error):
        cv2.convertMaps(grid, grid, cv2.CV_16SC2)
    cv2.convertMaps(grid.astype(np.float32), grid.astype(np.float32), cv2.CV_16SC2)
    image, mask = augment.augment_pair(IMAGE, MASK, iaa.ElasticTransformation(alpha=10, sigma=3),
                                       seed=0)
    assert colour_misses(image, mask) < 0.002


# --- inside the tf.data pipeline --------------------------------------------------------------

@pytest.fixture(scope="module")
def pattern_root(tmp_path_factory):
    from PIL import Image

    root = tmp_path_factory.mktemp("patterns")
    for folder in ("images", "masks"):
        (root / "train" / folder).mkdir(parents=True)
    for k in range(6):
        image, mask = pattern((64, 72), regions=30, seed=k)
        Image.fromarray(image).save(root / "train/images" / f"p{k}.png")
        Image.fromarray(mask).save(root / "train/masks" / f"p{k}.png")
    return root


PATHS = [("light", "imgaug"), ("medium", "imgaug"), ("heavy", "imgaug"), ("light", "graph")]


@pytest.mark.parametrize("spec, backend", PATHS)
def test_pipeline_paths_keep_labels_alignment_and_static_shapes(pattern_root, spec, backend):
    from segutils.data.pipeline import make_dataset

    ds = make_dataset(pattern_root, "train", batch_size=4, augment=spec,
                      augment_backend=backend, seed=0)
    image_spec, mask_spec = ds.element_spec
    assert image_spec.shape.as_list() == [None, 64, 72, 3] and image_spec.dtype.name == "float32"
    assert mask_spec.shape.as_list() == [None, 64, 72] and mask_spec.dtype.name == "int32"
    epochs = [list(ds.as_numpy_iterator()) for _ in range(2)]
    again = list(make_dataset(pattern_root, "train", batch_size=4, augment=spec,
                              augment_backend=backend, seed=0).as_numpy_iterator())
    for images, masks in epochs[0]:
        assert 0.0 <= images.min() and images.max() <= 1.0
        assert set(np.unique(masks).tolist()) <= set(IDS) | {255}  # nearest neighbour only
        for image, mask in zip(images, masks, strict=True):
            pixels = np.round(image * 255).astype(np.uint8)
            assert boundary_on_edges(pixels, mask.astype(np.uint8)) > 0.97, (spec, backend)
    same = [np.array_equal(a[1], b[1]) for a, b in zip(epochs[0], again, strict=True)]
    assert all(same), "the same seed must give the same augmentation"
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(*epochs, strict=True))


def test_graph_path_and_imgaug_path_errors(pattern_root):
    from segutils.data.pipeline import make_dataset

    with pytest.raises(AugmentationError, match="augment_backend='imgaug'"):
        make_dataset(pattern_root, "train", augment="heavy", augment_backend="graph")
    with pytest.raises(AugmentationError, match="Unknown augment_backend"):
        make_dataset(pattern_root, "train", augment="light", augment_backend="gpu")
    with pytest.raises(AugmentationError, match="Unknown augmentation"):
        make_dataset(pattern_root, "train", augment="lite")
    ds = make_dataset(pattern_root, "train", batch_size=2, augment=iaa.Resize(0.5))
    import tensorflow as tf

    with pytest.raises(tf.errors.OpError, match="keep_size=True"):
        next(iter(ds))


def test_pipeline_takes_course_augmenters_and_resizes_first(pattern_root):
    from segutils.data.pipeline import make_dataset, take_batch

    ds = make_dataset(pattern_root, "train", image_size=(40, 48), batch_size=3,
                      drop_remainder=True, augment={"rotate": 1.0, "noise": 0.5}, seed=1)
    assert ds.element_spec[1].shape.as_list() == [3, 40, 48]
    _, masks = take_batch(ds)
    assert set(np.unique(masks).tolist()) <= set(IDS) | {255} and (masks == 255).any()

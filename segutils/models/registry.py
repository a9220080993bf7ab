"""Build any of the course's models by name, sized for the run's profile.

>>> from segutils.models import registry
>>> registry.available()[:7]
('per_pixel', 'unet_mini', 'unet', 'vgg_unet', 'fcn32', 'fcn16', 'fcn8')
>>> model = registry.build("unet", 7, profile="quick")   # doctest: +SKIP

Notebooks, the training recipe and the command line all go through :func:`build`, so a model
name means the same network everywhere. Builders are looked up lazily ("module:function"):
importing the registry imports no model code, and a missing optional module only matters when
its model is asked for.

How the profile sizes the models (``P = segutils.config.profile(...)``):

==============  ======================================  =========================================
model           ``quick`` and ``cpu``                   ``gpu``
==============  ======================================  =========================================
per_pixel       (nothing to size)                       (nothing to size)
unet_mini       ``base_filters=P.base_filters``         ``base_filters=P.base_filters``
unet            ``base_filters=P.base_filters``         ``base_filters=P.base_filters``
vgg_unet        ``encoder_width=P.base_filters / 64``   ``weights="imagenet"`` (full VGG16)
fcn32/16/8      ``encoder_width=P.base_filters / 64``,  ``weights="imagenet"`` (the paper's
                ``fc_width=16 * P.base_filters``        model: VGG16, fc6/fc7 of 4096)
segnet_mini     ``filters=2 * P.base_filters``          ``filters=64`` (SegNet-Basic)
segnet          ``encoder_width=P.base_filters / 64``   ``encoder_weights="imagenet"``
resnet50_*,     (their own width, random weights)       ``encoder_weights="imagenet"``
mobilenet_*
==============  ======================================  =========================================

The ``resnet50_*`` and ``mobilenet_*`` models (U-Net, FCN-8s, PSPNet and DeepLabV3+ heads on
``keras.applications`` encoders, :mod:`segutils.models.encoders`) have no slimmer version:
``keras.applications`` builds them at one width, the one ImageNet weights exist for.

With ``base_filters`` 8 (quick) or 16 (cpu) the VGG-based models keep VGG16's layout at 1/8 or
1/4 of its width, which trains on two CPU cores; on a GPU they are the published networks,
started from ImageNet as FCN and most U-Net variants are. Without a profile, ``build`` uses each
builder's own defaults (the paper-size models, random weights). Options given to ``build``
always win over the profile's.
"""

from __future__ import annotations

import importlib
import inspect

from segutils.errors import ConfigError

__all__ = ["COURSE_MODELS", "available", "build", "builder", "profile_options",
           "weights_option"]

#: Model name -> "module:function". Order is the course's order, simplest first.
BUILDERS: dict[str, str] = {
    "per_pixel": "segutils.models.baseline:per_pixel_classifier",
    "unet_mini": "segutils.models.unet:unet_mini",
    "unet": "segutils.models.unet:unet",
    "vgg_unet": "segutils.models.unet:vgg_unet",
    "fcn32": "segutils.models.fcn:fcn32",
    "fcn16": "segutils.models.fcn:fcn16",
    "fcn8": "segutils.models.fcn:fcn8",
    "segnet_mini": "segutils.models.segnet:segnet_mini",
    "segnet": "segutils.models.segnet:segnet",
    "resnet50_unet": "segutils.models.pretrained:resnet50_unet",
    "mobilenet_unet": "segutils.models.pretrained:mobilenet_unet",
    "resnet50_fcn8": "segutils.models.pretrained:resnet50_fcn8",
    "mobilenet_fcn8": "segutils.models.pretrained:mobilenet_fcn8",
    "resnet50_pspnet": "segutils.models.pyramid:resnet50_pspnet",
    "mobilenet_pspnet": "segutils.models.pyramid:mobilenet_pspnet",
    "resnet50_deeplabv3plus": "segutils.models.pyramid:resnet50_deeplabv3plus",
    "mobilenet_deeplabv3plus": "segutils.models.pyramid:mobilenet_deeplabv3plus",
}
#: The models of notebooks 05 and 06, built from scratch at the profile's widths.
COURSE_MODELS = ("per_pixel", "unet_mini", "unet", "vgg_unet", "fcn32", "fcn16", "fcn8")


def available() -> tuple[str, ...]:
    """The names :func:`build` knows, in course order."""
    return tuple(BUILDERS)


def _check_name(name: str) -> str:
    if name not in BUILDERS:
        raise ConfigError(
            f"Unknown model {name!r}. Available models: {', '.join(BUILDERS)}. "
            "Check the spelling (names are lower case, e.g. 'unet' or 'fcn8')."
        )
    return name


def builder(name: str):
    """The function that builds model ``name`` (imported on first use)."""
    module_name, function_name = BUILDERS[_check_name(name)].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ConfigError(
            f"Model {name!r} needs module {module_name}, which could not be imported ({err}). "
            "Update segutils (pip install -U segutils, or git pull in the course checkout)."
        ) from err
    return getattr(module, function_name)


def profile_options(name: str, profile) -> dict:
    """The builder options that profile ``profile`` (a Profile or its name) implies for ``name``.

    Empty for ``profile=None`` and for the per-pixel baseline. See the module's table.
    """
    _check_name(name)
    if profile is None or name == "per_pixel":
        return {}
    from segutils import config

    p = config.profile(profile)
    if name in ("unet_mini", "unet"):
        return {"base_filters": p.base_filters}
    if name == "segnet_mini":
        return {"filters": 64 if p.name == "gpu" else 2 * p.base_filters}
    if p.name == "gpu":
        return {weights_option(name): "imagenet"}
    if weights_option(name) == "encoder_weights" and name != "segnet":
        return {}  # keras.applications' encoders come at one width: their own
    options = {"encoder_width": p.base_filters / 64}
    if name.startswith("fcn"):
        options["fc_width"] = 16 * p.base_filters
    return options


def weights_option(name: str) -> str | None:
    """The option through which model ``name`` starts from pretrained weights: ``"weights"``
    (VGG16's, for ``vgg_unet`` and the FCNs), ``"encoder_weights"`` (SegNet and the
    ``keras.applications`` encoders), or ``None`` for models that always start from scratch."""
    parameters = inspect.signature(builder(name)).parameters
    return next((option for option in ("weights", "encoder_weights") if option in parameters),
                None)


def build(name: str, n_classes: int, *, profile=None, input_shape=(None, None, 3), **options):
    """Build model ``name`` for ``n_classes`` classes.

    Parameters
    ----------
    name:
        One of :func:`available`: ``per_pixel``, ``unet_mini``, ``unet``, ``vgg_unet``,
        ``fcn32``, ``fcn16``, ``fcn8``, ``segnet_mini``, ``segnet``, and the pretrained-encoder
        models ``resnet50_unet``, ``mobilenet_unet``, ``resnet50_fcn8``, ``mobilenet_fcn8``,
        ``resnet50_pspnet``, ``mobilenet_pspnet``, ``resnet50_deeplabv3plus``,
        ``mobilenet_deeplabv3plus``.
    n_classes:
        Number of classes (output channels).
    profile:
        ``None`` (the builder's defaults), a :class:`segutils.config.Profile` or a profile name
        (``"quick"``, ``"cpu"``, ``"gpu"``): sizes the model as the module's table says.
    input_shape:
        (height, width, channels); ``None`` sizes accept any image size (every model pads
        inside and crops back, so the logits always have the input's height and width).
    **options:
        Passed to the builder, overriding the profile's choice (e.g. ``depth=3`` for ``unet``,
        ``weights=None`` to skip the ImageNet download on a GPU).

    Returns
    -------
    An uncompiled Keras model from float32 images in [0, 1] to logits (B, H, W, n_classes).
    Unknown names and options raise :class:`segutils.errors.ConfigError` listing what exists.
    """
    fn = builder(name)
    kwargs = {**profile_options(name, profile), **options}
    accepted = inspect.signature(fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    unknown = sorted(k for k in kwargs if k not in accepted and not takes_any)
    if unknown:
        known = [k for k in accepted if k not in ("n_classes", "input_shape")]
        raise ConfigError(
            f"Model {name!r} has no option {', '.join(map(repr, unknown))}. "
            f"Its options are: {', '.join(known) or '(none)'}."
        )
    return fn(n_classes, input_shape=input_shape, **kwargs)

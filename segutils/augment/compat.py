"""Load imgaug 0.4.0 on NumPy 2 without changing NumPy for any other code.

imgaug's last release (2020) uses two names that NumPy 2 removed:

* ``np.sctypes`` (at import, in ``imgaug/imgaug.py``, to build its tables of int, uint and float
  types), and
* ``np.complex`` (the old alias of the built-in ``complex``, at run time in
  ``imgaug/parameters.py``: the ``Power`` parameter and frequency noise).

``np.bool`` is used too, but NumPy 2 brought that name back (as ``np.bool_``), so it works.

Setting ``numpy.sctypes`` and ``numpy.complex`` globally would make imgaug import, but every
other library in the process would then see a NumPy that has them: code that asks
``hasattr(np, "complex")`` to tell NumPy 1 from NumPy 2 would take the wrong branch. So the names
are given to imgaug alone. Each imgaug module is executed with its own ``__builtins__`` whose
``__import__`` answers ``import numpy`` with :data:`NUMPY_FOR_IMGAUG`: a module object that
holds NumPy's attributes plus the two old names (:data:`RESTORED_NAMES`) and forwards every
other lookup to NumPy. The ``numpy`` module itself is never modified, not even for the duration
of the import.

Importing this module (``segutils.augment`` does) installs the import hook, so from then on a
plain ``import imgaug.augmenters as iaa`` works too. The hook acts on imgaug's modules only.

A second NumPy 2 change breaks ``iaa.ElasticTransformation``. NumPy 2 promotes
``float32 array * numpy scalar`` by the scalar's dtype (NEP 50): with ``alpha=10`` (an int32
sample) or a float64 sample, imgaug's float32 shift maps become float64, and
``cv2.convertMaps`` accepts only float32 maps (older OpenCV releases carry the same check). Under
NumPy 1 the product stayed float32. The hook therefore wraps
``ElasticTransformation._map_coordinates`` in imgaug's class so that the maps are cast back to
float32, which is exactly what NumPy 1 computed. FACTS.md blamed OpenCV 5 for this failure; the
cause is NumPy 2's promotion rule, and ``tests/test_augment.py`` shows both halves.

What is patched, precisely:

1. ``sys.meta_path`` gets one finder, first in line, that answers only for ``imgaug`` and
   ``imgaug.*``; it loads those modules from the usual files with the loader below.
2. Each imgaug module's globals get ``__builtins__`` = the real builtins with ``__import__``
   wrapped: ``import numpy`` (and ``import numpy.x``) inside imgaug returns
   :data:`NUMPY_FOR_IMGAUG`; every other import is untouched.
3. :data:`NUMPY_FOR_IMGAUG` adds ``sctypes`` (:data:`SCTYPES`) and ``complex`` (the built-in)
   to NumPy's names. ``numpy`` itself gets nothing: ``hasattr(np, "sctypes")``,
   ``hasattr(np, "complex")``, ``hasattr(np, "bool8")`` ... answer as before, everywhere else.
4. ``imgaug.augmenters.geometric.ElasticTransformation._map_coordinates`` casts its shift maps
   to float32 before calling imgaug's own code.
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types

import numpy

#: Every NumPy type of each kind, as NumPy 1's ``np.sctypes`` listed them.
SCTYPES = {
    "int": [numpy.int8, numpy.int16, numpy.int32, numpy.int64],
    "uint": [numpy.uint8, numpy.uint16, numpy.uint32, numpy.uint64],
    "float": [numpy.float16, numpy.float32, numpy.float64]
    + ([numpy.longdouble] if numpy.dtype(numpy.longdouble).itemsize > 8 else []),
    "complex": [numpy.complex64, numpy.complex128]
    + ([numpy.clongdouble] if numpy.dtype(numpy.clongdouble).itemsize > 16 else []),
    "others": [bool, object, bytes, str, numpy.void],
}
#: The names imgaug sees in its own ``np`` and NumPy 2 no longer has (NumPy 1's values).
RESTORED_NAMES = {"sctypes": SCTYPES, "complex": complex}


class _NumpyForImgaug(types.ModuleType):
    """NumPy as imgaug expects it: NumPy's own attributes plus :data:`RESTORED_NAMES`.

    NumPy's names are copied in once (so lookups are as fast as on ``numpy``); anything NumPy
    adds later (its lazily loaded submodules) is forwarded.
    """

    def __getattr__(self, name):
        return getattr(numpy, name)


def _numpy_for_imgaug() -> types.ModuleType:
    module = _NumpyForImgaug("numpy", numpy.__doc__)
    module.__dict__.update({k: v for k, v in vars(numpy).items() if not k.startswith("__")})
    module.__dict__.update(RESTORED_NAMES)
    return module


#: The module every imgaug module gets when it runs ``import numpy as np``.
NUMPY_FOR_IMGAUG = _numpy_for_imgaug()


def _import_for_imgaug(name, globals=None, locals=None, fromlist=(), level=0):
    module = builtins.__import__(name, globals, locals, fromlist, level)
    if level == 0 and (name == "numpy" or name.startswith("numpy.")) and module is numpy:
        return NUMPY_FOR_IMGAUG
    return module


#: The builtins of imgaug's modules: the real ones with the ``__import__`` above.
_IMGAUG_BUILTINS = {**vars(builtins), "__import__": _import_for_imgaug}


def _fix_elastic(geometric) -> None:
    """Cast ElasticTransformation's shift maps to float32, as NumPy 1 left them."""
    cls = geometric.ElasticTransformation
    if getattr(cls, "_segutils_float32_maps", False):
        return
    original = cls.__dict__["_map_coordinates"].__func__

    def _map_coordinates(klass, image, dx, dy, order=1, cval=0, mode="constant"):
        dx = numpy.asarray(dx, numpy.float32)
        dy = numpy.asarray(dy, numpy.float32)
        return original(klass, image, dx, dy, order=order, cval=cval, mode=mode)

    cls._map_coordinates = classmethod(_map_coordinates)
    cls._segutils_float32_maps = True


class _Loader(importlib.machinery.SourceFileLoader):
    """Runs an imgaug module with :data:`_IMGAUG_BUILTINS` (imgaug is pure Python)."""

    def exec_module(self, module):
        module.__dict__["__builtins__"] = _IMGAUG_BUILTINS
        super().exec_module(module)
        if module.__name__ == "imgaug.augmenters.geometric":
            _fix_elastic(module)


class _Finder(importlib.abc.MetaPathFinder):
    """Finds ``imgaug`` and its submodules as usual, then swaps in :class:`_Loader`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "imgaug" and not fullname.startswith("imgaug."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return spec
        spec.loader = _Loader(spec.loader.name, spec.loader.path)
        return spec


_FINDER = _Finder()
_LOCK = threading.RLock()


def install() -> None:
    """Let ``import imgaug`` work from now on (done when this module is imported).

    The finder acts on ``imgaug`` and its submodules only. imgaug modules that were imported
    before (an attempt that failed half-way) get the proxy as their ``np``.
    """
    with _LOCK:
        if _FINDER not in sys.meta_path:
            sys.meta_path.insert(0, _FINDER)
        for name, module in list(sys.modules.items()):
            if (name == "imgaug" or name.startswith("imgaug.")) and module is not None:
                if getattr(module, "np", None) is numpy:
                    module.np = NUMPY_FOR_IMGAUG
                if name == "imgaug.augmenters.geometric":
                    _fix_elastic(module)


_LOADED: dict[str, object] = {}


def load() -> types.ModuleType:
    """``imgaug.augmenters`` (usually imported as ``iaa``), importable on NumPy 2."""
    if "iaa" not in _LOADED:
        if importlib.util.find_spec("imgaug") is None:
            raise ImportError("imgaug is not installed. Fix: pip install imgaug (the course "
                              "uses 0.4.0)")
        install()
        import imgaug.augmenters as iaa
        from imgaug.augmentables.segmaps import SegmentationMapsOnImage

        _LOADED.update(iaa=iaa, segmaps=SegmentationMapsOnImage)
    return _LOADED["iaa"]


def segmentation_maps_class():
    """imgaug's ``SegmentationMapsOnImage``."""
    load()
    return _LOADED["segmaps"]


install()

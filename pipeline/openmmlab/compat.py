"""Workarounds that keep the unmaintained OpenMMLab stack usable here.

The OCR models come from MMOCR 1.0.1, which sits on mmdet 3.1.0, mmcv-lite
2.0.1 and mmengine 0.10.7.  None of these is maintained any more, and each
breaks in a known way against the current torch / setuptools / numpy.  This
module is the single place in the project that patches third-party code; every
other module must call :func:`apply_openmmlab_workarounds` before it imports
``mmocr``, ``mmdet`` or ``mmcv.ops``.

Public API
----------
``apply_openmmlab_workarounds()``
    Install all workarounds.  Idempotent, thread-safe, and a single flag check
    after the first call.
``compiled_mmcv_ops_available()``
    Whether the real compiled ``mmcv._ext`` extension can be used.
``trusted_checkpoints(*paths)``
    Context manager: opt in to full unpickling of these local checkpoint files
    when mmengine loads them (see workaround 3).
``MissingCompiledOpError``
    Raised (a RuntimeError) when a model calls an mmcv op that needs the
    compiled extension.

Version pins the workarounds do NOT cover (they belong in requirements):

* ``numpy<2``: imgaug 0.4.0 reads ``np.sctypes`` at import time (removed in
  numpy 2.0), so ``import mmocr.datasets`` cannot work on numpy 2.
* Import-time version asserts: mmdet 3.1.0 needs mmcv >=2.0.0rc4,<2.1.0 and
  mmengine >=0.7.1,<1.0.0; mmocr 1.0.1 needs mmdet >=3.0.0rc5,<3.2.0.  So:
  ``mmcv-lite>=2.0.0,<2.1`` (or full ``mmcv``), ``mmengine>=0.7.1,<1.0``,
  ``mmdet>=3.1,<3.2``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.metadata
import importlib.util
import os
import os.path as osp
import pickle
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "MissingCompiledOpError",
    "apply_openmmlab_workarounds",
    "compiled_mmcv_ops_available",
    "trusted_checkpoints",
]

_APPLY_LOCK = threading.Lock()
_applied = False

# Result of probing for the real compiled extension: None = not probed yet,
# otherwise (available, reason_if_not).
_ext_probe: tuple[bool, str] | None = None


class MissingCompiledOpError(RuntimeError):
    """A model used an mmcv op that needs the compiled ``mmcv._ext``."""


def apply_openmmlab_workarounds() -> None:
    """Install every workaround below.  Safe to call any number of times."""
    global _applied
    if _applied:
        return
    with _APPLY_LOCK:
        if _applied:
            return
        _install_mmcv_ext_standin()
        _replace_pkg_resources_helpers()
        _patch_checkpoint_loading()
        _restore_imgaug_numpy_aliases()
        _add_mmocr_function_registry()
        _quiet_inferencer_about_built_in_weights()
        _batch_sizes_from_configs()
        _applied = True


def compiled_mmcv_ops_available() -> bool:
    """Return True if mmcv's compiled extension ``mmcv._ext`` really loads.

    The stand-in installed by :func:`apply_openmmlab_workarounds` does not
    count, so the answer is the same before and after the workarounds.
    """
    return _probe_real_mmcv_ext()[0]


# ---------------------------------------------------------------------------
# 1. mmcv-lite has no compiled ops, but mmdet/mmocr import mmcv.ops eagerly.
#
# Upstream problem: mmcv-lite 2.0.1 is mmcv without the C++/CUDA extension
# ``mmcv._ext``.  Every module in ``mmcv.ops`` runs, at import time,
# ``mmcv.utils.ext_loader.load_ext('_ext', [names...])``, which does
# ``importlib.import_module('mmcv._ext')`` and then
# ``assert hasattr(ext, name)`` for each op function it lists (about 150
# names such as 'nms', 'roi_align_forward', 'modulated_deform_conv_forward').
# mmdet 3.1.0 imports ``mmcv.ops`` from ``mmdet.structures.mask`` and mmocr
# 1.0.1 from its models, so ``mmocr.utils.register_all_modules()`` and
# ``mmocr.apis.MMOCRInferencer`` die with
# ``ModuleNotFoundError: No module named 'mmcv._ext'`` even for models that
# never call a compiled op (DBNet-R18 + FPNC + DBHead, CRNN, ...).
#
# Workaround: before anything imports ``mmcv.ops``, put a stand-in module in
# ``sys.modules['mmcv._ext']``.  Any op name looked up on it returns a stub
# that raises MissingCompiledOpError naming the op, so the imports (and the
# hasattr asserts) succeed while any real use of a compiled op fails loudly
# instead of computing garbage (only the build-info queries get_compiler_version and
# get_compiling_cuda_version answer "n/a", as mmcv.utils.collect_env expects).
# Its ``__spec__`` has ``loader=None``, so ``pkgutil.find_loader('mmcv._ext')`` -- used by
# ``mmengine.utils.dl_utils.mmcv_full_available()`` and
# ``mmcv.utils.ext_loader.check_ops_exist()`` -- still says the ops are
# absent and mmengine keeps its non-mmcv-full code paths.
# Safe because: nothing is installed when the real extension loads, and the
# stand-in never returns an op result, so it cannot silently change results.
# ---------------------------------------------------------------------------

_STANDIN_ORIGIN = "stand-in installed by pipeline.openmmlab.compat (no compiled ops)"


def _probe_real_mmcv_ext() -> tuple[bool, str]:
    global _ext_probe
    if _ext_probe is not None:
        return _ext_probe
    current = sys.modules.get("mmcv._ext")
    if isinstance(current, _MissingMmcvExt):
        # Only installed after a failed probe; keep that answer.
        _ext_probe = (False, current._reason)
        return _ext_probe
    try:
        spec = importlib.util.find_spec("mmcv._ext")
    except ImportError:  # mmcv itself is not installed
        spec = None
    if spec is None:
        _ext_probe = (
            False,
            "the installed mmcv (mmcv-lite?) ships without the compiled extension mmcv._ext",
        )
        return _ext_probe
    try:
        importlib.import_module("mmcv._ext")
    except ImportError as err:  # e.g. built against another torch (ABI)
        _ext_probe = (False, f"mmcv._ext exists but failed to load: {err}")
    else:
        _ext_probe = (True, "")
    return _ext_probe


def _missing_op_message(op: str, reason: str) -> str:
    return (
        f"mmcv op '{op}' needs mmcv's compiled extension, which is not "
        f"available: {reason}. Install full mmcv with compiled ops instead "
        "of mmcv-lite (pip uninstall mmcv-lite && pip install mmcv==2.0.1, "
        "which builds the C++/CUDA ops from source against the installed "
        "torch), or use a model config that does not need this op (e.g. "
        "DBNet-R18 instead of DBNet/DBNet++ with DCNv2 deformable conv)."
    )


def _not_available() -> str:
    return "n/a"


class _MissingMmcvExt(types.ModuleType):
    """``mmcv._ext`` stand-in: every op attribute is a stub that raises."""

    def __init__(self, reason: str) -> None:
        super().__init__("mmcv._ext", "Stand-in for mmcv._ext: " + reason)
        self._reason = reason
        self.__spec__ = importlib.machinery.ModuleSpec(
            "mmcv._ext", loader=None, origin=_STANDIN_ORIGIN
        )
        # The two build-info queries are not ops: mmcv.utils.collect_env() calls them and,
        # without _ext, reported "n/a"; keep that working.
        self.get_compiler_version = _not_available
        self.get_compiling_cuda_version = _not_available

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # Only called for names not set on the module.  Dunder lookups
        # (__path__, __file__, ...) must stay AttributeErrors, otherwise
        # the import system and pickling would misbehave.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        message = _missing_op_message(name, self._reason)

        def missing_op(*args: Any, **kwargs: Any) -> Any:
            raise MissingCompiledOpError(message)

        missing_op.__name__ = missing_op.__qualname__ = name
        missing_op.__doc__ = message
        setattr(self, name, missing_op)
        return missing_op


def _install_mmcv_ext_standin() -> None:
    available, reason = _probe_real_mmcv_ext()
    if available or "mmcv._ext" in sys.modules:
        return
    try:
        mmcv = importlib.import_module("mmcv")
    except ImportError:
        return  # no mmcv at all: nothing to fix
    standin = _MissingMmcvExt(reason)
    sys.modules["mmcv._ext"] = standin
    mmcv._ext = standin  # what a real submodule import would also set


# ---------------------------------------------------------------------------
# 2. mmengine's package helpers need pkg_resources (gone in setuptools >= 82).
#
# Upstream problem: mmengine 0.10.7 ``mmengine.utils.package_utils``
# implements ``is_installed``, ``get_installed_path`` and ``package2module``
# with ``pkg_resources``.  setuptools 80.9-81.x warn on that import
# ("slated for removal ... pin to Setuptools<81") and setuptools 82.0
# removed ``pkg_resources``, so ``Config.fromfile`` on any config
# with a cross-package base (``_base_ = 'mmdet::...'``, used e.g. by MMOCR's
# textdet/maskrcnn configs), ``mmengine.hub.get_config``/``get_model`` and
# ``install_package`` raise ``ModuleNotFoundError: No module named
# 'pkg_resources'``.  (Even where it still exists, ``is_installed`` reloads
# pkg_resources on every call, which rescans sys.path and is slow.)
#
# Loading MMOCR's own DBNet/CRNN configs and MMOCRInferencer do not hit it.
#
# Workaround: swap in equivalents built on ``importlib.metadata`` and
# ``importlib.util.find_spec`` (stdlib), everywhere mmengine bound the old
# functions by name.  Safe because the replacements keep the signatures and
# answers (installed-distribution check with a find_spec fallback; path of the
# importable package).  A ``setuptools<82`` pin also makes the originals work,
# but setuptools is a build tool that other installs upgrade freely.
# ---------------------------------------------------------------------------


def _is_installed(package: str) -> bool:
    """``mmengine.utils.is_installed`` without pkg_resources."""
    try:
        importlib.metadata.distribution(package)
        return True
    except importlib.metadata.PackageNotFoundError:
        spec = importlib.util.find_spec(package)
        return spec is not None and spec.origin is not None


def _package2module(package: str) -> str:
    """``mmengine.utils.package_utils.package2module`` w/o pkg_resources."""
    dist = importlib.metadata.distribution(package)
    top_level = dist.read_text("top_level.txt")
    if top_level and top_level.strip():
        return top_level.split()[0]
    raise ValueError(f"can not infer the module name of {package}")


def _get_installed_path(package: str) -> str:
    """``mmengine.utils.get_installed_path`` without pkg_resources.

    Returns the directory of the importable package (for 'mmcv-lite' that is
    the 'mmcv' package), like the original did for regular installs; it is
    also right for editable installs.
    """
    module = package
    spec = importlib.util.find_spec(package) if package.isidentifier() else None
    if spec is None:
        # Distribution name differs from the module name (mmcv-full, ...).
        # Raises PackageNotFoundError (a ModuleNotFoundError) if unknown.
        module = _package2module(package)
        spec = importlib.util.find_spec(module)
    if spec is None:
        raise importlib.metadata.PackageNotFoundError(package)
    if spec.origin is None or not spec.has_location:
        raise RuntimeError(
            f"{package} is a namespace package, which is invalid for `get_install_path`"
        )
    return osp.dirname(spec.origin)


def _replace_pkg_resources_helpers() -> None:
    try:
        package_utils = importlib.import_module("mmengine.utils.package_utils")
    except ImportError:
        return
    replacements = {
        "is_installed": _is_installed,
        "get_installed_path": _get_installed_path,
        "package2module": _package2module,
    }
    originals = {name: getattr(package_utils, name, None) for name in replacements}
    # Modules that did ``from mmengine.utils import ...`` hold their own
    # reference.  Modules not imported yet will import the patched names.
    holders = (
        "mmengine.utils.package_utils",
        "mmengine.utils",
        "mmengine.config.config",
        "mmengine.hub.hub",
    )
    for holder_name in holders:
        holder = sys.modules.get(holder_name)
        if holder is None:
            continue
        for name, new in replacements.items():
            if originals[name] is not None and getattr(holder, name, None) is originals[name]:
                setattr(holder, name, new)


# ---------------------------------------------------------------------------
# 3. torch >= 2.6 loads checkpoints with weights_only=True by default.
#
# Upstream problem: mmengine 0.10.7 loads every checkpoint with a bare
# ``torch.load(filename, map_location=...)`` (mmengine.runner.checkpoint:
# load_from_local / load_from_http / ...).  Since torch 2.6 that means
# ``weights_only=True``, and checkpoints written by mmengine's Runner hold
# more than tensors: ``meta`` carries numpy scalars/arrays (pickled through
# numpy's ``scalar`` / ``_reconstruct`` / ``dtype``), and full runner
# checkpoints carry ``message_hub`` with ``mmengine.logging.HistoryBuffer``
# objects whose pickle calls ``builtins.getattr``.
# ``mmengine.runner.load_checkpoint`` (and through it
# ``Runner.load_checkpoint`` / ``resume`` and MMOCRInferencer's weight loading)
# then fails with ``_pickle.UnpicklingError: Weights only load failed``.
#
# Workaround, in two narrow steps; ``torch.load`` itself is not touched, so
# no other code in the process is affected:
# a) Every load through mmengine's ``CheckpointLoader`` stays ``weights_only``
#    but with numpy's array/scalar/dtype reconstructors allow-listed for the
#    duration of that load (torch's documented remedy: they rebuild plain
#    numpy data and cannot run code).  This covers published checkpoints
#    (meta + state_dict) with numpy metadata.
# b) Anything else needs full unpickling, which can run arbitrary code (a
#    HistoryBuffer cannot be allow-listed without allowing ``getattr``).  Like
#    ``trust_checkpoint`` elsewhere in this project that is opt-in: only local
#    files named in ``with trusted_checkpoints(path): ...`` are retried with
#    ``weights_only=False``; otherwise the load is refused with a message that
#    says how to opt in.  RISK of opting in: a malicious file runs code, as on
#    torch < 2.6, which mmengine was written for.  Remote/model-zoo downloads
#    never get full unpickling.
# ---------------------------------------------------------------------------

_CHECKPOINT_LOCK = threading.RLock()
_trusted_paths: dict[str, int] = {}  # real path -> nesting count


@contextlib.contextmanager
def trusted_checkpoints(*paths: str | os.PathLike[str]) -> Iterator[None]:
    """Let mmengine fully unpickle these local checkpoint files (opt-in).

    Only needed for checkpoints that hold Python objects besides tensors and
    numpy data, e.g. full mmengine runner checkpoints with ``message_hub``.
    Unpickling can run arbitrary code: use it only for files you trust.

    >>> with trusted_checkpoints('work_dirs/dbnet/epoch_10.pth'):
    ...     mmengine.runner.load_checkpoint(model, 'work_dirs/dbnet/epoch_10.pth')
    """
    keys = [_checkpoint_key(path) for path in paths]
    with _CHECKPOINT_LOCK:
        for key in keys:
            _trusted_paths[key] = _trusted_paths.get(key, 0) + 1
    try:
        yield
    finally:
        with _CHECKPOINT_LOCK:
            for key in keys:
                _trusted_paths[key] -= 1
                if not _trusted_paths[key]:
                    del _trusted_paths[key]


def _checkpoint_key(path: str | os.PathLike[str]) -> str:
    return osp.realpath(osp.expanduser(os.fspath(path)))


def _numpy_safe_globals() -> list[Any]:
    import numpy as np

    try:  # numpy >= 2, and numpy 1.26 which ships a numpy._core alias
        multiarray = importlib.import_module("numpy._core.multiarray")
    except ImportError:
        multiarray = importlib.import_module("numpy.core.multiarray")
    allowed: list[Any] = [np.ndarray, np.dtype]
    # Pickles name these by the module path of the numpy that wrote them.
    for prefix in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed.append((multiarray._reconstruct, f"{prefix}._reconstruct"))
        allowed.append((multiarray.scalar, f"{prefix}.scalar"))
    # numpy >= 1.25 rebuilds np.dtype(...) as per-type classes
    # (numpy.dtypes.Float64DType, ...), which torch checks on BUILD.
    allowed.extend({type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGUSV"})
    return allowed


def _patch_checkpoint_loading() -> None:
    try:
        import torch
        from mmengine.runner import checkpoint as mm_checkpoint
    except ImportError:
        return
    serialization = torch.serialization
    if not hasattr(serialization, "safe_globals"):
        return  # torch < 2.5: weights_only is not the default, nothing to do
    loader_cls = mm_checkpoint.CheckpointLoader
    if getattr(loader_cls.load_checkpoint, "_recognizer_compat", False):
        return
    original_load = loader_cls.load_checkpoint.__func__
    safe = _numpy_safe_globals()

    def load_checkpoint(cls, filename, map_location=None, logger="current"):
        with _CHECKPOINT_LOCK:
            # Add only what is not allow-listed yet: leaving the context
            # removes exactly what it added, nothing the caller added.
            already = set(serialization.get_safe_globals())
            extra = [item for item in safe if item not in already]
            with serialization.safe_globals(extra):
                return original_load(cls, filename, map_location, logger)

    load_checkpoint._recognizer_compat = True  # type: ignore[attr-defined]
    load_checkpoint.__doc__ = original_load.__doc__
    loader_cls.load_checkpoint = classmethod(load_checkpoint)

    def load_from_local(filename, map_location):
        # Same name as mmengine's loader: CheckpointLoader logs it.
        filename = osp.expanduser(filename)
        if not osp.isfile(filename):
            raise FileNotFoundError(f"{filename} can not be found.")
        try:
            return torch.load(filename, map_location=map_location, weights_only=True)
        except pickle.UnpicklingError as error:
            if _checkpoint_key(filename) not in _trusted_paths:
                raise pickle.UnpicklingError(
                    _refused_message(filename, error, serialization)
                ) from None
        return torch.load(filename, map_location=map_location, weights_only=False)

    loader_cls.register_scheme("", load_from_local, force=True)


def _refused_message(filename: str, error: Exception, serialization: Any) -> str:
    try:
        rejected = serialization.get_unsafe_globals_in_checkpoint(filename)
    except Exception:  # not a zip checkpoint: legacy format or not one at all
        rejected = []
    if not rejected:
        text = str(error)
        # torch's message starts with generic advice; the cause follows this marker.
        marker = "WeightsUnpickler error:"
        if marker in text:
            text = text.split(marker, 1)[1]
        detail = text.strip().splitlines()[0].strip() if text.strip() else type(error).__name__
        return (
            f"{filename}: cannot be loaded as plain tensors/numpy data ({detail}). The file "
            "may be corrupt or truncated, or (if you trust it) need full unpickling: see "
            "pipeline.openmmlab.trusted_checkpoints."
        )
    return (
        f"{filename}: this checkpoint holds pickled Python objects besides tensors and numpy "
        f"data ({', '.join(rejected)}), e.g. a full mmengine runner checkpoint with "
        "message_hub or optimizer state. Unpickling them can run arbitrary code, so it was "
        "refused (torch weights_only load). If you trust where the file comes from, load it "
        "inside `with pipeline.openmmlab.trusted_checkpoints(path):`."
    )


# ---------------------------------------------------------------------------
# 4. imgaug uses numpy aliases removed in numpy 1.24.
#
# Upstream problem: imgaug 0.4.0 (last release, 2020; imported by
# mmocr.datasets.transforms.ImgAugWrapper) uses ``np.bool`` in
# ``imgaug.augmenters.meta`` (SomeOf / OneOf) and ``imgaug.augmentables.polys``
# (Polygon.extract_from_image), and ``np.complex`` in ``imgaug.parameters``
# (Power, FrequencyNoise).  numpy 1.24 removed those aliases, so e.g.
# ``ImgAugWrapper(args=[['Clouds']])`` or ``iaa.OneOf(...)`` raise
# ``AttributeError: module 'numpy' has no attribute 'bool'``.  MMOCR's own
# pipelines (Fliplr, Affine, Resize, ...) do not hit these lines.  (imgaug's
# import-time ``np.sctypes`` still exists in numpy 1.26, removed in 2.0: that is
# why numpy<2 must stay pinned.)
#
# Workaround: give only those three imgaug modules a ``np`` that is numpy plus
# the old aliases ``bool`` and ``complex`` (which were exactly the builtins).
# Safe because numpy itself is untouched and the aliases mean what they
# meant when imgaug was written.
# ---------------------------------------------------------------------------

_IMGAUG_MODULES_USING_REMOVED_ALIASES = (
    "imgaug.augmenters.meta",
    "imgaug.augmentables.polys",
    "imgaug.parameters",
)


class _NumpyWithRemovedAliases(types.ModuleType):
    """numpy's namespace plus aliases removed in numpy 1.24."""

    def __init__(self, numpy_module: types.ModuleType, aliases: dict[str, type]) -> None:
        super().__init__(numpy_module.__name__, numpy_module.__doc__)
        self.__dict__.update(vars(numpy_module))
        self.__dict__.update(aliases)
        self._numpy = numpy_module

    def __getattr__(self, name: str) -> Any:
        # numpy's lazily resolved attributes (numpy.testing, ...).
        return getattr(self._numpy, name)


def _restore_imgaug_numpy_aliases() -> None:
    import numpy as np

    # Removed in numpy 1.24 (numpy 2 brought back np.bool, as np.bool_).
    # (Checked in vars(): hasattr(np, 'bool') itself warns on numpy 1.2x.)
    missing = {
        name: alias
        for name, alias in (("bool", bool), ("complex", complex))
        if name not in vars(np)
    }
    if not missing or importlib.util.find_spec("imgaug") is None:
        return
    proxy = None
    for module_name in _IMGAUG_MODULES_USING_REMOVED_ALIASES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if getattr(module, "np", None) is np:
            proxy = proxy or _NumpyWithRemovedAliases(np, missing)
            module.np = proxy


# ---------------------------------------------------------------------------
# 5. mmocr has no "function" registry, so every inferencer logs a false alarm.
#
# Upstream problem: mmengine's BaseInferencer._init_collate looks the collate function up
# with ``FUNCTIONS.switch_scope_and_registry("mmocr")``. mmocr 1.0.1's registry.py defines
# no child of mmengine's FUNCTIONS registry, so mmengine logs "Failed to search registry
# with scope "mmocr" in the "function" registry tree ... This may cause unexpected failure"
# on every MMOCRInferencer / TextDetInferencer, then falls back to its own registry, which
# is the right one (the collate function is mmengine's pseudo_collate).
#
# Workaround: register an empty "function" registry with scope "mmocr" as a child of
# mmengine's, so the search finds it; lookups fall through to the parent, so the function
# found is the same one as before, without the warning.
# ---------------------------------------------------------------------------


def _add_mmocr_function_registry() -> None:
    if importlib.util.find_spec("mmocr") is None:
        return
    from mmengine.registry import FUNCTIONS, Registry

    if "mmocr" not in FUNCTIONS.children:
        Registry("function", parent=FUNCTIONS, scope="mmocr")


# ---------------------------------------------------------------------------
# 6. MMOCR's inferencer warns that a model without a checkpoint file is "randomly
#    initialized", also for models that load their weights when they are built.
#
# Upstream: mmengine's ``BaseInferencer._load_weights_to_model`` warns whenever no
# ``weights`` were given.  The CLIP4STR recognizer loads its weights at build time (its
# ``checkpoint`` setting) and the PP-OCR detector's weights are inside its ONNX graph, so
# ``MMOCRInferencer(rec=our_config)`` printed a false warning for each.  Such a model sets
# ``weights_built_in = True``; for it, and only for it, the warning is not given.
# ---------------------------------------------------------------------------


def _quiet_inferencer_about_built_in_weights() -> None:
    try:
        from mmengine.infer.infer import BaseInferencer
    except ImportError:
        return
    original = BaseInferencer._load_weights_to_model
    if getattr(original, "_recognizer_compat", False):
        return

    def _load_weights_to_model(self, model, checkpoint, cfg):
        if checkpoint is None and getattr(model, "weights_built_in", False):
            return
        original(self, model, checkpoint, cfg)

    _load_weights_to_model._recognizer_compat = True  # type: ignore[attr-defined]
    BaseInferencer._load_weights_to_model = _load_weights_to_model


# ---------------------------------------------------------------------------
# 7. MMOCR's inferencers read one crop per forward pass unless told otherwise.
#
# Upstream: ``MMOCRInferencer.__call__`` and the single-task inferencers default to
# ``batch_size=1`` and no config setting changes that; CLIP4STR-B then takes about 39 s
# per photo on 2 CPU cores instead of 8.8 s at 32.  A recognizer config may set
# ``inference_batch_size`` (ours do: 32); a call that gives no batch size reads that many
# crops per pass.  A batch size given in the call always wins.
# ---------------------------------------------------------------------------


def _batch_sizes_from_configs() -> None:
    try:
        from mmocr.apis.inferencers import MMOCRInferencer, TextRecInferencer
    except ImportError:
        return
    if getattr(MMOCRInferencer.__call__, "_recognizer_compat", False):
        return
    call_all = MMOCRInferencer.__call__
    call_rec = TextRecInferencer.__call__

    def configured(inferencer) -> int | None:
        cfg = getattr(inferencer, "cfg", None)
        return cfg.get("inference_batch_size") if cfg is not None else None

    def mmocr_call(self, inputs, *args, **kwargs):
        recognizer = getattr(self, "textrec_inferencer", None)
        told = args or "batch_size" in kwargs or kwargs.get("rec_batch_size") is not None
        if recognizer is not None and not told and configured(recognizer):
            kwargs["rec_batch_size"] = configured(recognizer)
        return call_all(self, inputs, *args, **kwargs)

    def rec_call(self, inputs, *args, **kwargs):
        if len(args) < 2 and "batch_size" not in kwargs and configured(self):
            kwargs["batch_size"] = configured(self)
        return call_rec(self, inputs, *args, **kwargs)

    for patched, original in ((mmocr_call, call_all), (rec_call, call_rec)):
        patched._recognizer_compat = True  # type: ignore[attr-defined]
        patched.__doc__ = original.__doc__
    MMOCRInferencer.__call__ = mmocr_call
    TextRecInferencer.__call__ = rec_call

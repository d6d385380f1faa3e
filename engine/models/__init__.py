"""The counting networks: one architecture per file and a small registry.

Every model maps a normalised (B, 3, H, W) image batch to a (B, C, H / stride, W / stride) density batch
(scaled by the checkpoint's ``density_scale``), one channel per object class (``classes``, default 1; the
total count is the sum over channels), and declares its output ``stride`` as a class attribute.
H and W must be multiples of ``input_multiple`` (a model's pooling depth); callers pad to it.

    from engine.models import get_model, list_models
    model = get_model("fcrn_a", width=32)
"""

from __future__ import annotations

import importlib
from typing import Callable

_REGISTRY: dict[str, Callable] = {}
_DESCRIPTIONS: dict[str, str] = {}

# Modules that define architectures; imported on first use so ``import engine.models`` stays cheap.
_ARCHITECTURE_MODULES = ["fcrn", "unet", "unet_vgg", "csrnet", "cmtl"]


def register(name: str, description: str = ""):
    """Class decorator: make an architecture available as ``get_model(name, **config)``."""

    def decorate(cls):
        _REGISTRY[name] = cls
        _DESCRIPTIONS[name] = description or (cls.__doc__ or "").strip().splitlines()[0]
        return cls

    return decorate


def _load_all() -> None:
    for module in _ARCHITECTURE_MODULES:
        try:
            importlib.import_module(f"engine.models.{module}")
        except ModuleNotFoundError as exc:
            if exc.name != f"engine.models.{module}":
                raise


def check_classes(classes: int) -> int:
    """The number of output channels (object classes) a model is built with, checked."""
    if isinstance(classes, bool) or not isinstance(classes, int) or not 1 <= classes <= 64:
        raise ValueError(f"a model predicts 1 to 64 object classes, not {classes!r}")
    return classes


def list_models() -> dict[str, str]:
    """Architecture name -> one-line description."""
    _load_all()
    return dict(sorted(_DESCRIPTIONS.items()))


def get_model(name: str, **config):
    """A new, untrained model of architecture ``name`` built with ``config``."""
    _load_all()
    if name not in _REGISTRY:
        raise KeyError(f"unknown model {name!r}; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**config)


def pretrained_capable() -> list[str]:
    """Names of the architectures that can start from pretrained weights (they have ``load_pretrained``)."""
    _load_all()
    return sorted(name for name, cls in _REGISTRY.items() if hasattr(cls, "load_pretrained"))

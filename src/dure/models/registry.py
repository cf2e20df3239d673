"""Which class a saved model's card names: ``kind`` -> class, filled by ``@register``.

A new model joins by subclassing ``contract.Model``, giving itself a ``kind`` and
decorating the class with ``@register``; ``load_model`` then reads it back from any
folder, and the contract test runs it through fit, score, save and load.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import TypeVar

from dure.errors import ModelFileError
from dure.models.contract import Model, read_card

_KINDS: dict[str, type[Model]] = {}
T = TypeVar("T", bound=type[Model])


def register(cls: T) -> T:
    """Class decorator: make ``cls`` loadable by the ``kind`` on its cards."""
    if not cls.kind:
        raise TypeError(f"{cls.__name__} needs a kind to be registered")
    known = _KINDS.get(cls.kind)
    if known is not None and known.__qualname__ != cls.__qualname__:
        raise TypeError(f"kind {cls.kind!r} is taken by {known.__name__}")
    _KINDS[cls.kind] = cls
    return cls


def _import_all_models() -> None:
    """Import every module under ``dure.models`` so that each registered class is known."""
    import dure.models as package

    for info in pkgutil.walk_packages(package.__path__, "dure.models."):
        importlib.import_module(info.name)


def registered() -> dict[str, type[Model]]:
    """Every registered model class by kind."""
    _import_all_models()
    return dict(sorted(_KINDS.items()))


def model_class(kind: str) -> type[Model]:
    """The class registered for ``kind``; ModelFileError naming the known kinds else."""
    classes = registered()
    if kind not in classes:
        raise ModelFileError(f"no model of kind {kind!r}; known: {', '.join(classes)}")
    return classes[kind]


def load_model(folder: Path) -> Model:
    """Whatever model ``folder`` holds, read back by the class its card names."""
    card = read_card(Path(folder))
    kind = card.get("kind") or _LEGACY.get(str(card.get("model") or card.get("format")), "")
    return model_class(str(kind)).load(Path(folder))


# Cards written before the contract named the model under other keys.
_LEGACY = {"patchcore": "patchcore", "defect-types": "defect-types", "dure-inspector": "inspector"}

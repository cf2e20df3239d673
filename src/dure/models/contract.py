"""The model contract: every detector, classifier and estimator in Dure has one shape.

    model = Kind(**params)        __init__ only stores its parameters, as given
    model.fit(data) -> model      learns; everything learned ends with "_" (scikit-learn's rule)
    model.score(data)             higher means more abnormal (image models: scores and maps)
    model.predict(data)           the decision: 0/1 by ``threshold_`` (set from normal data),
                                  a label, or an estimated value
    model.save(folder)            arrays as .npy files, text files, and card.json; no pickle
    Kind.load(folder)             the same model back, every file checked against the card
    load_model(folder)            (registry) the class named by the card's ``kind``

A model tells ``Model`` what it learned through ``_state()`` (arrays, JSON values, text)
and takes it back in ``_restore()``; ``Model`` turns that into files, digests and a card
with the fields every card has: kind, format_version, params, data, threshold, arrays,
texts, dure_version. Services handle "a model" through this contract without knowing
which one it is; Ray workers, the line-side runtime and shared packages rely on it.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from dure import __version__
from dure.errors import ModelFileError, NotFittedError
from dure.models.threshold import Threshold

M = TypeVar("M", bound="Model")
CARD_FILE = "card.json"
CARD_FIELDS = (
    "kind",
    "format_version",
    "params",
    "data",
    "threshold",
    "arrays",
    "texts",
    "blobs",
    "children",
    "state",
    "dure_version",
)
_FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,119}$")


@dataclass
class State:
    """What a fitted model learned, in saveable form.

    ``arrays`` become ``<name>.npy``, ``texts`` and ``blobs`` files of that name, ``values``
    JSON on the card, and ``children`` (fitted sub-models) folders of that name.
    """

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    children: dict[str, Model] = field(default_factory=dict)


def array_digest(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes (so a reshaped or retyped file differs)."""
    a = np.ascontiguousarray(array)
    h = hashlib.sha256(f"{a.dtype.str}|{a.shape}|".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def text_digest(text: str) -> str:
    """SHA-256 of a text file's UTF-8 bytes."""
    return bytes_digest(text.encode())


def bytes_digest(data: bytes) -> str:
    """SHA-256 of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


class Model:
    """Base of every model: parameters, fitted check, save/load with a card.

    Subclasses set ``kind`` (the card's name for them), implement ``fit``, ``score``,
    ``predict``, ``_state`` and ``_restore``, and register with ``registry.register``.
    ``exchanged`` names the arrays federated rounds may read and replace.
    """

    kind: ClassVar[str] = ""
    format_version: ClassVar[int] = 1
    exchanged: ClassVar[tuple[str, ...]] = ()

    # ---- parameters -------------------------------------------------------------------
    @classmethod
    def param_names(cls) -> list[str]:
        """The constructor's parameter names, in order."""
        signature = inspect.signature(cls.__init__)
        return [p for p in signature.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters as stored (``fit`` never changes them)."""
        return {name: getattr(self, name) for name in self.param_names()}

    @classmethod
    def _params_from_card(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Card parameters back to constructor arguments (JSON lists become tuples where the
        default is a tuple); unknown names are refused, missing ones take their default."""
        signature = inspect.signature(cls.__init__)
        unknown = sorted(set(params) - set(signature.parameters))
        if unknown:
            raise ModelFileError(f"{cls.kind} has no parameter {unknown[0]!r}")
        out = {}
        for name, value in params.items():
            default = signature.parameters[name].default
            out[name] = tuple(value) if isinstance(default, tuple) and value is not None else value
        return out

    # ---- fitted state -----------------------------------------------------------------
    def is_fitted(self) -> bool:
        """True once ``fit`` (or ``load``) has set learned attributes."""
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def check_is_fitted(self) -> None:
        """Raise NotFittedError before ``fit``."""
        if not self.is_fitted():
            raise NotFittedError(f"the {self.kind} model is not fitted: call fit first")

    def fit(self: M, *args: Any, **kwargs: Any) -> M:
        """Learn from data; returns the model."""
        raise NotImplementedError

    def score(self, *args: Any, **kwargs: Any) -> Any:
        """How abnormal each sample is (higher is worse)."""
        raise NotImplementedError

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        """The model's decision for each sample."""
        raise NotImplementedError

    def _state(self) -> State:
        raise NotImplementedError

    def _restore(self, state: State) -> None:
        raise NotImplementedError

    # ---- arrays that travel in federated rounds ------------------------------------------
    def get_arrays(self) -> dict[str, np.ndarray]:
        """Copies of the arrays a federated round exchanges (``exchanged``)."""
        self.check_is_fitted()
        arrays = self._state().arrays
        return {name: arrays[name].copy() for name in self.exchanged}

    def set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        """Replace exchanged arrays with others of the same shape (e.g. aggregated ones)."""
        self.check_is_fitted()
        state = self._state()
        for name, value in arrays.items():
            if name not in self.exchanged:
                raise ValueError(f"{name!r} is not an array {self.kind} exchanges")
            if np.shape(value) != state.arrays[name].shape:
                raise ValueError(
                    f"{name!r} has shape {np.shape(value)}, the model {state.arrays[name].shape}"
                )
            state.arrays[name] = np.asarray(value, dtype=state.arrays[name].dtype)
        self._restore(state)

    # ---- the card, saving and loading ----------------------------------------------------
    def model_card(self, state: State | None = None) -> dict[str, Any]:
        """The card: what the model is, what it learned from, its threshold, its files.

        Children are named by kind and by the digest of their own card, which names the
        digest of each of their files in turn.
        """
        self.check_is_fitted()
        state = state or self._state()
        threshold = getattr(self, "threshold_", None)
        return {
            "kind": self.kind,
            "format_version": self.format_version,
            "params": jsonable(self.get_params()),
            "data": jsonable(getattr(self, "data_", {})),
            "threshold": threshold.as_dict() if isinstance(threshold, Threshold) else None,
            "arrays": {name: array_digest(a) for name, a in sorted(state.arrays.items())},
            "texts": {name: text_digest(t) for name, t in sorted(state.texts.items())},
            "blobs": {name: bytes_digest(b) for name, b in sorted(state.blobs.items())},
            "children": {
                name: {"kind": child.kind, "card_sha256": bytes_digest(_card_bytes(child))}
                for name, child in sorted(state.children.items())
            },
            "state": jsonable(state.values),
            "dure_version": __version__,
        }

    def save(self, folder: Path, extra: dict[str, Any] | None = None) -> Path:
        """Write every array (``<name>.npy``), text file and ``card.json`` into ``folder``.

        ``extra`` adds fields to the card (metrics, provenance) without replacing any of
        the contract's own.
        """
        self.check_is_fitted()
        state = self._state()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in state.arrays.items():
            np.save(folder / f"{_file_name(name)}.npy", np.ascontiguousarray(array))
        for name, text in state.texts.items():
            (folder / _file_name(name)).write_bytes(text.encode("utf-8"))
        for name, data in state.blobs.items():
            (folder / _file_name(name)).write_bytes(data)
        for name, child in state.children.items():
            child.save(folder / _file_name(name))
        card = self.model_card(state)
        for key, value in (extra or {}).items():
            if key in card or key == "state":
                raise ValueError(f"the card field {key!r} is the model's own")
            card[key] = jsonable(value)
        (folder / CARD_FILE).write_bytes(json.dumps(card, indent=2).encode())
        return folder

    @classmethod
    def load(cls: type[M], folder: Path) -> M:
        """The model saved in ``folder``; ModelFileError if any file differs from the card."""
        folder = Path(folder)
        card = cls.upgrade_card(read_card(folder), folder)
        if card.get("kind") != cls.kind:
            raise ModelFileError(f"{folder} holds a {card.get('kind')!r} model, not {cls.kind!r}")
        if int(card.get("format_version", 0)) > cls.format_version:
            raise ModelFileError(
                f"{folder} was saved in {cls.kind} format {card['format_version']}; this "
                f"Dure reads up to {cls.format_version}: update Dure"
            )
        model = cls(**cls._params_from_card(dict(card.get("params") or {})))
        arrays = {
            name: _load_array(folder / f"{_file_name(name)}.npy", expected)
            for name, expected in (card.get("arrays") or {}).items()
        }
        texts = {
            name: _load_bytes(folder / _file_name(name), expected).decode("utf-8")
            for name, expected in (card.get("texts") or {}).items()
        }
        blobs = {
            name: _load_bytes(folder / _file_name(name), expected)
            for name, expected in (card.get("blobs") or {}).items()
        }
        children = {
            name: _load_child(folder / _file_name(name), doc)
            for name, doc in (card.get("children") or {}).items()
        }
        model._restore(State(arrays, dict(card.get("state") or {}), texts, blobs, children))
        model.data_ = dict(card.get("data") or {})
        if card.get("threshold") and not isinstance(
            getattr(type(model), "threshold_", None), property
        ):
            model.threshold_ = Threshold(**card["threshold"])
        return model

    @classmethod
    def upgrade_card(cls, card: dict[str, Any], folder: Path) -> dict[str, Any]:
        """Hook: turn a card of an older format into the current one (default: as is)."""
        return card


def read_card(folder: Path) -> dict[str, Any]:
    """The card of a saved model folder; ModelFileError when there is none."""
    path = Path(folder) / CARD_FILE
    if not path.is_file():
        raise ModelFileError(f"{folder} is not a saved model (no {CARD_FILE})")
    try:
        card = json.loads(path.read_text())
    except ValueError as exc:
        raise ModelFileError(f"{path} is not JSON ({exc})") from None
    if not isinstance(card, dict):
        raise ModelFileError(f"{path} is not a model card")
    return card


def _file_name(name: str) -> str:
    if not _FILE_NAME.match(name) or ".." in name:
        raise ModelFileError(f"{name!r} cannot be a file of a saved model")
    return name


def _load_array(path: Path, expected: str) -> np.ndarray:
    if not path.is_file():
        raise ModelFileError(f"{path} is missing")
    array = np.load(path, allow_pickle=False)
    if array_digest(array) != expected:
        raise ModelFileError(f"{path} does not match its card (changed or damaged)")
    return array


def _load_bytes(path: Path, expected: str) -> bytes:
    if not path.is_file():
        raise ModelFileError(f"{path} is missing")
    data = path.read_bytes()
    if bytes_digest(data) != expected:
        raise ModelFileError(f"{path} does not match its card (changed or damaged)")
    return data


def _load_child(folder: Path, doc: dict[str, Any]) -> Model:
    from dure.models.registry import model_class

    _load_bytes(folder / CARD_FILE, str(doc.get("card_sha256")))
    return model_class(str(doc.get("kind"))).load(folder)


def _card_bytes(model: Model) -> bytes:
    """The bytes ``save`` writes as the model's card.json."""
    return json.dumps(model.model_card(), indent=2).encode()


def jsonable(value: Any) -> Any:
    """Plain JSON values (tuples become lists, numpy scalars and arrays become numbers):
    what a value is after a trip through a card."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value

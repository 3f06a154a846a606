"""Tensors and training examples, convertible from and to lists, numpy arrays and torch tensors.

numpy and torch are imported only when a conversion needs them, so ``import tinkex`` stays light.
"""

from __future__ import annotations

import importlib
import struct
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, cast

from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    field_validator,
)

from .._generated import models
from ._lazy import LazyListModel
from ._model_input import ModelInput

if TYPE_CHECKING:
    import numpy as np
    import torch

__all__ = ["Datum", "TensorData", "TensorDtype", "require"]

TensorDtype = Literal["int64", "float32"]
"""The element types a tensor travels in: integers as int64, floats as float32."""

# The dtype a plain list gets, by loss-input key (as the official SDK does).
KEY_DTYPES: dict[str, TensorDtype] = {
    "target_tokens": "int64",
    "weights": "float32",
    "advantages": "float32",
    "logprobs": "float32",
    "clip_low_threshold": "float32",
    "clip_high_threshold": "float32",
    "sequence_ratio_mask": "float32",
    "mask": "float32",
}

_EXTRAS = {"numpy": "torch", "torch": "torch", "transformers": "tokenizer"}
_set = object.__setattr__
# struct's codes for the public dtypes, as they go on the wire (little-endian int64, float32).
_STRUCT = {"int64": "q", "float32": "f"}


def require(module: str) -> Any:
    """Import an optional dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = _EXTRAS.get(module, module)
        raise ImportError(
            f"this feature needs `{module}`; install it with: pip install 'tinkex[{extra}]'"
        ) from None


def _flat(values: Any) -> list[Any]:
    if values and isinstance(values[0], list | tuple):
        return [x for row in values for x in _flat(list(row))]
    return list(values)


def _shape(values: Any) -> list[int]:
    shape = [len(values)]
    while values and isinstance(values[0], list | tuple):
        values = values[0]
        shape.append(len(values))
    return shape


class TensorData(LazyListModel, models.TensorData):
    """A tensor as flat row-major data plus shape (optionally a 2-D CSR sparse tensor).

    A tensor made from a flat list of plain numbers keeps them packed as they go on the wire; one
    made from an array (``from_numpy``, or decoded from a protobuf result) keeps that array, so
    ``to_numpy()`` and the protobuf encoder use it without going through ``data``. A decoded
    result's ``data`` list is made when it is first read. Replacing ``data`` drops what was kept
    (change values through a new tensor, not in place).

    Example::

        t = TensorData.from_numpy(np.arange(6).reshape(2, 3))
        assert t.shape == [2, 3] and t.tolist() == [[0, 1, 2], [3, 4, 5]]
    """

    _lazy_field = "data"
    # Closed, as in the official SDK: the generated wire model keeps response enums open, but a
    # tensor is also an input, and a dtype the wire cannot carry must fail here, not on a server.
    dtype: TensorDtype

    @classmethod
    def from_array(
        cls, array: np.ndarray[Any, Any], dtype: TensorDtype, shape: Sequence[int]
    ) -> TensorData:
        """A dense tensor over a flat numeric array (kept, not copied; cast to ``dtype`` where
        it is used). Its ``data`` list is made from the array when first read."""
        return cls._dense(None, dtype, list(shape), array)

    @classmethod
    def _dense(
        cls, data: list[Any] | None, dtype: TensorDtype, shape: list[int], flat: Any
    ) -> TensorData:
        # tests/clients/test_tensor_fast_path.py checks it against model_construct.
        fields = {
            "dtype": dtype,
            "shape": shape,
            "sparse_crow_indices": None,
            "sparse_col_indices": None,
        }
        return cls._build(fields, {"data", "dtype", "shape"}, flat, data)

    def _unpack(self, kept: Any) -> list[Any]:
        if isinstance(kept, bytes):
            code = _STRUCT[self.dtype]
            return list(struct.unpack(f"<{len(kept) // struct.calcsize(code)}{code}", kept))
        return cast(list[Any], kept.tolist())

    def cached_array(self) -> Any:
        """The flat array behind ``data``, when this tensor was made from one (``from_numpy``,
        a decoded result) or from plain numbers, and is dense; else ``None``."""
        flat = self._kept_values()
        if flat is None or self.sparse_crow_indices is not None:
            return None
        if isinstance(flat, bytes):
            numpy = sys.modules.get("numpy") or require("numpy")  # no import lookup per tensor
            flat = numpy.frombuffer(flat, dtype="<i8" if self.dtype == "int64" else "<f4")
            private = cast(dict[str, Any], self.__pydantic_private__)
            private["_kept"] = flat
        return flat

    @classmethod
    def from_list(cls, values: Sequence[Any], dtype: TensorDtype) -> TensorData:
        """A tensor of ``dtype`` from (nested) lists of numbers, the shape read from the nesting.

        Example::

            assert TensorData.from_list([[1, 2], [3, 4]], "int64").shape == [2, 2]
        """
        if dtype not in ("int64", "float32"):
            raise ValueError(f"dtype must be 'int64' or 'float32', got {dtype!r}")
        rows = values if isinstance(values, list) else list(values)
        if rows and not isinstance(rows[0], list | tuple):
            # A flat list of plain numbers, the common case: packed once, here, as the wire
            # takes it (struct refuses what is not a number, and floats in an int64 tensor).
            try:
                packed = struct.pack(f"<{len(rows)}{_STRUCT[dtype]}", *rows)
            except (struct.error, OverflowError, TypeError):
                pass  # strings, ints too large...: converted or refused below
            else:
                if dtype == "int64":
                    # Only integers pack as int64, and they unpack exactly: ``data`` is made
                    # from these bytes when first read (plain ints, whatever int-like objects
                    # came in). No list until then: a batch of them cost the garbage
                    # collector more time per step than packing them did.
                    return cls._dense(None, dtype, [len(rows)], packed)
                if type(sum(rows)) is float:  # a numpy scalar anywhere makes a numpy sum
                    # the new list shares the caller's number objects (floats as given, not
                    # rounded to float32 as the packed bytes are)
                    return cls._dense(list(rows), dtype, [len(rows)], packed)
        cast_to = _whole if dtype == "int64" else float
        try:
            data = [cast_to(x) for x in _flat(rows)]
        except (TypeError, ValueError, OverflowError) as err:  # int(inf) overflows
            raise ValueError(f"a {dtype} tensor holds numbers only: {err}") from None
        # Every value was just made an int or a float: validating them again would only cost.
        return cls.model_construct(data=data, dtype=dtype, shape=_shape(rows))

    @classmethod
    def from_numpy(cls, array: np.ndarray[Any, Any]) -> TensorData:
        """A copy of ``array``: integers (and booleans) as int64, floats as float32.

        Args:
            array: Any shape; its shape is kept.

        Raises:
            TypeError: The array holds neither integers nor floats.

        Example::

            weights = TensorData.from_numpy(np.ones(16, dtype=np.float32))
        """
        numpy = require("numpy")
        kind = array.dtype.kind
        if kind in "iub":
            dtype: TensorDtype = "int64"
            flat = numpy.array(array, dtype="<i8").ravel()  # a copy: the caller's may change
        elif kind == "f":
            dtype = "float32"
            flat = numpy.array(array, dtype="<f4").ravel()
        else:
            raise TypeError(f"TensorData holds integers or floats, not numpy dtype {array.dtype}")
        return cls.from_array(flat, dtype, array.shape)

    @classmethod
    def from_torch(cls, tensor: torch.Tensor) -> TensorData:
        """A copy of ``tensor`` (detached, on the CPU, dense; bfloat16 and float16 as float32).

        Args:
            tensor: Any shape; its shape is kept.
        """
        torch_ = require("torch")
        if tensor.is_sparse or tensor.layout != torch_.strided:
            tensor = tensor.to_dense()
        tensor = tensor.detach().cpu()
        if tensor.dtype in (torch_.bfloat16, torch_.float16):
            tensor = tensor.to(torch_.float32)
        return cls.from_numpy(tensor.numpy())

    @classmethod
    def from_torch_sparse(cls, tensor: torch.Tensor, pad_value: float = 0) -> TensorData:
        """A 2-D tensor stored as CSR when that is smaller: entries equal to ``pad_value`` are
        left out (``to_numpy(pad_value)`` puts them back)."""
        torch_ = require("torch")
        dense = tensor.to_dense() if tensor.layout != torch_.strided else tensor
        if dense.dim() != 2:
            raise ValueError(f"from_torch_sparse needs a 2-D tensor, got {dense.dim()}-D")
        full = cls.from_torch(dense)
        rows, cols = full.shape or [0, 0]
        keep = [i for i, v in enumerate(full.data) if v != pad_value]
        if (rows + 1) + 2 * len(keep) >= rows * cols:
            return full  # CSR would not be smaller
        crow = [0] * (rows + 1)
        for i in keep:
            crow[i // cols + 1] += 1
        for r in range(rows):
            crow[r + 1] += crow[r]
        return cls(
            data=[full.data[i] for i in keep],
            dtype=full.dtype,
            shape=[rows, cols],
            sparse_crow_indices=crow,
            sparse_col_indices=[i % cols for i in keep],
        )

    def _dense_flat(self, pad_value: float) -> list[Any]:
        if self.sparse_crow_indices is None or self.sparse_col_indices is None:
            return list(self.data)
        if not self.shape or len(self.shape) != 2:
            raise ValueError("a sparse TensorData must have a 2-D shape")
        rows, cols = self.shape
        dense: list[Any] = [pad_value] * (rows * cols)
        crow, col = self.sparse_crow_indices, self.sparse_col_indices
        for r in range(rows):
            for i in range(crow[r], crow[r + 1]):
                dense[r * cols + col[i]] = self.data[i]
        return dense

    def tolist(self, pad_value: float = 0) -> Any:
        """Nested lists in ``shape``; sparse entries not stored are ``pad_value``."""
        flat = self._dense_flat(pad_value)
        shape = self.shape or [len(flat)]
        for size in reversed(shape[1:]):
            flat = [flat[i : i + size] for i in range(0, len(flat), size)]
        return flat

    def to_numpy(self, pad_value: float = 0) -> np.ndarray[Any, Any]:
        """The data as a numpy array of its shape (a copy you may write to).

        Args:
            pad_value: The value of the entries a sparse tensor leaves out.

        Example::

            logprobs = out.loss_fn_outputs[0]["logprobs"].to_numpy()
        """
        numpy = require("numpy")
        cached = self.cached_array()
        if cached is not None:
            target = numpy.int64 if self.dtype == "int64" else numpy.float32
            copy: np.ndarray[Any, Any] = numpy.array(cached, dtype=target)  # callers may write
            return copy.reshape(self.shape) if self.shape else copy
        dtype = numpy.int64 if self.dtype == "int64" else numpy.float32
        flat: np.ndarray[Any, Any] = numpy.asarray(self._dense_flat(pad_value), dtype=dtype)
        return flat.reshape(self.shape) if self.shape else flat

    def to_torch(self, pad_value: float = 0) -> torch.Tensor:
        """The data as a torch tensor of its shape (through ``to_numpy``).

        Args:
            pad_value: The value of the entries a sparse tensor leaves out.
        """
        torch_ = require("torch")
        result: torch.Tensor = torch_.from_numpy(self.to_numpy(pad_value))
        return result


def coerce_tensor(key: str, value: Any) -> Any:
    """A loss input as TensorData: lists by key dtype, numpy arrays and torch tensors as they are."""
    if isinstance(value, TensorData):
        return value
    if isinstance(value, models.TensorData):
        return TensorData.model_validate(value.model_dump())
    module = type(value).__module__.split(".")[0]
    if module == "numpy":
        return TensorData.from_numpy(value)
    if module == "torch":
        return TensorData.from_torch(value)
    if isinstance(value, list | tuple):
        dtype = KEY_DTYPES.get(key)
        if dtype is None:
            raise ValueError(
                f"loss input {key!r}: a plain list needs a known key to pick its dtype "
                f"({', '.join(sorted(KEY_DTYPES))}); pass TensorData, a numpy array or a tensor"
            )
        return TensorData.from_list(value, dtype)
    return value


def _whole(value: Any) -> int:
    """An int64 tensor's value as an int: 2.0 is 2, but 2.5 (or NaN, inf) is refused, never
    truncated (a float target token is a mistake, not a token id)."""
    if not isinstance(value, int) and not float(value).is_integer():
        raise ValueError(f"{value!r} is not a whole number")
    return int(value)


_NO_SPANS = {"_model_input_spans": None, "_loss_fn_input_spans": None}


def _check_tiling(what: str, spans: list[Any], length: int) -> None:
    total = sum(int(getattr(span, "length", 0)) for span in spans)
    if total != length:
        raise ValueError(f"{what} spans cover {total} tokens; they must cover exactly {length}")


class Datum(models.Datum):
    """One training example: its input and the per-token tensors the loss function needs.

    ``loss_fn_inputs`` values may be TensorData, lists (dtype by key), numpy arrays or tensors.
    """

    model_input: ModelInput
    loss_fn_inputs: dict[str, TensorData] = Field(default_factory=dict)  # type: ignore[assignment]
    # Provenance spans travel only in the protobuf encoding; the JSON encoding leaves them out.
    _model_input_spans: list[Any] | None = PrivateAttr(default=None)
    _loss_fn_input_spans: list[Any] | None = PrivateAttr(default=None)

    if not TYPE_CHECKING:  # type checkers keep pydantic's signature

        def __init__(self, /, **data: Any) -> None:
            # The usual call, Datum(model_input=ModelInput, loss_fn_inputs={key: list...}),
            # builds what validation would build (tests/clients/test_tensor_fast_path.py
            # compares them) without pydantic's per-call machinery: a training batch makes
            # a datum per example. Anything else, and any error, goes through validation.
            model_input = data.get("model_input")
            inputs = data.get("loss_fn_inputs")
            if (
                len(data) == 2
                and type(self) is Datum
                and type(model_input) is ModelInput
                and type(inputs) is dict
            ):
                try:
                    tensors = {k: coerce_tensor(k, v) for k, v in inputs.items()}
                except Exception:  # validation raises it again, as its own error
                    tensors = None
                if tensors is not None and all(
                    type(k) is str and type(t) is TensorData for k, t in tensors.items()
                ):
                    _set(self, "__dict__", {"model_input": model_input, "loss_fn_inputs": tensors})
                    _set(self, "__pydantic_fields_set__", {"model_input", "loss_fn_inputs"})
                    _set(self, "__pydantic_extra__", None)
                    _set(self, "__pydantic_private__", dict(_NO_SPANS))
                    return
            super().__init__(**data)

        # Validation from data (model_validate, a Datum inside a request) stays pydantic's own:
        # without this mark pydantic would route it through the __init__ above.
        __init__.__pydantic_base_init__ = True

    @property
    def model_input_spans(self) -> list[Any] | None:
        """Where each model input token came from (set by ``with_provenance``), or ``None``."""
        # Read from the dict: pydantic's attribute lookup of a private field costs ~30 times
        # more, and the protobuf writer asks once per datum.
        return (self.__pydantic_private__ or {}).get("_model_input_spans")

    @property
    def loss_fn_input_spans(self) -> list[Any] | None:
        """Where each loss input came from (set by ``with_provenance``), or ``None``."""
        return (self.__pydantic_private__ or {}).get("_loss_fn_input_spans")

    def with_provenance(self, model_input: list[Any], loss_fn_inputs: list[Any]) -> Datum:
        """A copy that says where each token came from: spans that tile the model input and
        the loss inputs exactly (prompt or sampled tokens, by sequence id)."""
        _check_tiling("model_input", model_input, self.model_input.length)
        targets = self.loss_fn_inputs.get("target_tokens")
        length = len(targets.data) if targets is not None else self.model_input.length
        _check_tiling("loss_fn_inputs", loss_fn_inputs, length)
        copy = self.model_copy()
        private = copy.__pydantic_private__  # the copy's own (model_copy copies the dict)
        assert private is not None
        private.update(
            _model_input_spans=list(model_input), _loss_fn_input_spans=list(loss_fn_inputs)
        )
        return copy

    @field_validator("model_input", mode="before")
    @classmethod
    def _input(cls, value: Any) -> Any:
        if isinstance(value, BaseModel) and not isinstance(value, ModelInput):
            return value.model_dump()
        return value

    @field_validator("loss_fn_inputs", mode="before")
    @classmethod
    def _inputs(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: coerce_tensor(k, v) for k, v in value.items()}
        return value

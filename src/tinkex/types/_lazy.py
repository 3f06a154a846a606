"""Models whose one list field may be kept packed, the list made when first read.

A training batch builds a token list and a target list per datum; kept as the packed bytes the
wire takes, they are no work for the garbage collector, which traversed every such list at each
collection (half its time per 64 x 2,048-token step).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

from pydantic import (
    BaseModel,
    ConfigDict,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    model_serializer,
)

__all__ = ["LazyListModel"]

_set = object.__setattr__
_MISSING = object()


class LazyListModel(BaseModel):
    """A mixin (no fields): the values of the field ``_lazy_field`` may be kept in another
    form (packed bytes, an array), the list made from them by ``_unpack`` when first read.

    Replacing the field drops what was kept; reading it, dumping, comparing, iterating,
    copying and pickling see the same list whether it was made yet or not; so does a generated
    (wire) model holding one, which writes it with this serializer (polymorphic serialization).
    """

    model_config = ConfigDict(defer_build=True)  # nothing to build at import: no fields
    _lazy_field: ClassVar[str]
    # The kept values, and the list made from them: valid while the field is that list, or
    # while the field is not made yet (``_kept_of`` None, the field absent from ``__dict__``).
    _kept: Any = PrivateAttr(default=None)
    _kept_of: Any = PrivateAttr(default=None)

    @classmethod
    def _build(
        cls, fields: dict[str, Any], fields_set: set[str], kept: Any, made: list[Any] | None
    ) -> Self:
        # What model_construct does, without its per-field default resolution (a training
        # batch makes a few of these per datum). ``fields`` lacks the lazy field: ``made`` is
        # its list, already made from ``kept``, or None to make it when first read.
        model = cls.__new__(cls)
        _set(model, "__dict__", fields if made is None else {cls._lazy_field: made, **fields})
        _set(model, "__pydantic_fields_set__", fields_set)
        _set(model, "__pydantic_extra__", None)
        _set(model, "__pydantic_private__", {"_kept": kept, "_kept_of": made})
        return model

    def _unpack(self, kept: Any) -> list[Any]:
        raise NotImplementedError

    def _materialize(self) -> list[Any]:
        """The field's list, made from the kept values first if it has not been yet."""
        fields = self.__dict__
        name = self._lazy_field
        values = fields.get(name, _MISSING)
        if values is not _MISSING:
            return cast(list[Any], values)
        private = cast(dict[str, Any], self.__pydantic_private__)
        values = self._unpack(private["_kept"])
        # The field first, as it is in a model that never kept it (repr and iteration order).
        _set(self, "__dict__", {name: values, **fields})
        private["_kept_of"] = values
        return values

    def _kept_values(self) -> Any:
        """What is kept, while the field is still made from it (else ``None``)."""
        private = self.__pydantic_private__ or {}  # read directly: this is on the hot path
        kept = private.get("_kept")
        if kept is None:
            return None
        values = self.__dict__.get(self._lazy_field, _MISSING)
        if values is not _MISSING and private.get("_kept_of") is not values:
            return None  # the field was replaced
        return kept

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            if name == self._lazy_field:  # only reached while the list is not made yet
                return self._materialize()
            return super().__getattr__(name)

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> Any:
        self._materialize()
        return handler(self)

    def __repr_args__(self) -> Any:
        self._materialize()
        return super().__repr_args__()

    def __iter__(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        self._materialize()
        return super().__iter__()

    def __eq__(self, other: object) -> bool:
        # Equal whether or not either keeps the values its list was (or will be) made from.
        if isinstance(other, LazyListModel) and type(other) is type(self):
            self._materialize()
            other._materialize()
            return self.__dict__ == other.__dict__
        return super().__eq__(other)

    __hash__ = None  # type: ignore[assignment]  # mutable, as pydantic models are

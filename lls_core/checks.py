"""Argument checks with one message style: ``<name>=<value> <problem>; expected <what is valid>``.

Every public function of the package checks its arguments before any work with
these helpers, so that a bad value is refused with a message naming the value
and what would be valid. Unknown names (architectures, optimizers, surfaces,
chapters) raise :class:`UnknownNameError`, which is both a ``KeyError`` (a
lookup failed) and a ``ValueError`` (a bad argument), so either ``except`` works;
its message always reads ``unknown <what> '<value>'; valid: <names>``, built by
:func:`name`. Each registry has one check that every module calls
(:func:`lls_core.models.check_arch`, :func:`lls_core.train.check_optimizer`,
:func:`lls_core.data.check_dataset`, :func:`lls_core.book.check_profile`,
:func:`lls_core.landscape.need_sets`). :func:`context` prefixes where a check
failed (``Profile 'x': ...``) without changing the error's type.

Example::

    >>> integer("n_train", 4000, min=1)
    4000
    >>> real("gamma", 1e-3, min=0, min_open=True)
    0.001
    >>> choice("kernel", "rbf", ("rbf", "linear"))
    'rbf'
    >>> try:
    ...     name("arch", "vgg", {"fcp": 1, "lenet": 2}, what="architecture")
    ... except UnknownNameError as err:
    ...     print(err)
    unknown architecture 'vgg'; valid: fcp, lenet
"""

from __future__ import annotations

import contextlib
import math
import numbers
from typing import Any, Iterable, Iterator, Mapping, Sequence, TypeVar

__all__ = ["UnknownNameError", "context", "integer", "real", "choice", "name", "tensor", "same_device", "labels", "sequence",
           "images", "vector", "matrix", "optional_integer", "optional_real"]

T = TypeVar("T")


class UnknownNameError(KeyError, ValueError):
    """A name that is not registered (both a ``KeyError`` and a ``ValueError``)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def _range(min: float | None, max: float | None, min_open: bool = False) -> str:
    lo = "(" if min_open else "["
    if min is not None and max is not None:
        return f" in {lo}{min:g}, {max:g}]"
    if min is not None:
        return f" {'>' if min_open else '>='} {min:g}"
    if max is not None:
        return f" <= {max:g}"
    return ""


def integer(argname: str, value: Any, *, min: int | None = None, max: int | None = None) -> int:
    """``value`` as an ``int`` (bools and non-integral numbers refused), within ``[min, max]``."""
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok:
        raise ValueError(f"{argname}={value!r} is not an integer; expected an integer{_range(min, max)}")
    v = int(value)
    if (min is not None and v < min) or (max is not None and v > max):
        raise ValueError(f"{argname}={v!r} is out of range; expected an integer{_range(min, max)}")
    return v


def real(argname: str, value: Any, *, min: float | None = None, max: float | None = None,
         min_open: bool = False, finite: bool = True) -> float:
    """``value`` as a finite ``float`` (ints accepted, bools refused), within the range.

    ``min_open``: the lower bound itself is excluded (``gamma > 0``).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{argname}={value!r} is not a number; expected a real number{_range(min, max, min_open)}")
    v = float(value)
    if math.isnan(v) or (finite and math.isinf(v)):
        raise ValueError(f"{argname}={v!r} is not finite; expected a real number{_range(min, max, min_open)}")
    if (min is not None and (v <= min if min_open else v < min)) or (max is not None and v > max):
        raise ValueError(f"{argname}={v!r} is out of range; expected a real number{_range(min, max, min_open)}")
    return v


def choice(argname: str, value: Any, choices: Iterable[T]) -> T:
    """``value`` if it is one of ``choices`` (``ValueError`` listing them otherwise)."""
    options = tuple(choices)
    if value not in options:
        raise ValueError(f"{argname}={value!r} is not allowed; expected one of {', '.join(map(repr, options))}")
    return value


def name(argname: str, value: Any, registry: Mapping[str, Any] | Sequence[str], *, what: str | None = None,
         error: type[UnknownNameError] | None = None) -> str:
    """``value`` if it names an entry of ``registry``; :class:`UnknownNameError` listing the valid names.

    The message reads ``unknown <what> '<value>'; valid: <name>, <name>, ...`` (``what``
    defaults to ``argname``; a value longer than 60 characters is shortened). ``error``:
    a subclass of :class:`UnknownNameError` to raise instead (e.g. one that is also the
    caller's own error type).
    """
    keys = list(registry)
    if not isinstance(value, str) or value not in keys:
        text = value if isinstance(value, str) else str(value)
        shown = repr(value) if len(text) <= 60 else repr(f"{text[:60]}...")
        valid = ", ".join(map(str, keys)) or "(none)"
        raise (error or UnknownNameError)(f"unknown {what or argname} {shown}; valid: {valid}")
    return value


@contextlib.contextmanager
def context(where: str) -> Iterator[None]:
    """Prefix ``where`` and a colon to the message of a check failing inside the block.

    The error keeps its type: a plain ``ValueError`` and an :class:`UnknownNameError`
    (or a subclass, whose constructor takes the message alone) are raised again with
    the prefixed message; any other exception, including other ``ValueError``
    subclasses, passes through unchanged.

    >>> try:
    ...     with context("Profile 'tiny'"):
    ...         integer("n_inits", 0, min=1)
    ... except ValueError as err:
    ...     print(err)
    Profile 'tiny': n_inits=0 is out of range; expected an integer >= 1
    """
    try:
        yield
    except UnknownNameError as err:
        raise type(err)(f"{where}: {err}") from None
    except ValueError as err:
        if type(err) is not ValueError:
            raise
        raise ValueError(f"{where}: {err}") from None


def sequence(argname: str, value: Any, *, min_len: int = 0, max_len: int | None = None) -> list[Any]:
    """``value`` as a list (a list or tuple, never a string), with ``min_len <= len <= max_len``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{argname}={value!r} is not a list; expected a list{_len_text(min_len, max_len)}")
    if len(value) < min_len or (max_len is not None and len(value) > max_len):
        raise ValueError(f"{argname}={value!r} has {len(value)} items; expected a list{_len_text(min_len, max_len)}")
    return list(value)


def _len_text(min_len: int, max_len: int | None) -> str:
    if max_len is None:
        return f" of at least {min_len} items" if min_len else ""
    return f" of {min_len} to {max_len} items"


def tensor(argname: str, value: Any, *, ndim: int | None = None, shape: Sequence[int | None] | None = None,
           dtype: Any = None, floating: bool = False, finite: bool = False, device: Any = None,
           min_rows: int = 0) -> Any:
    """``value`` if it is a ``torch.Tensor`` meeting every given condition.

    ``shape``: expected sizes, ``None`` for any; ``dtype``: one dtype or a tuple;
    ``floating``: a floating dtype; ``finite``: no NaN/inf; ``device``: the device it
    must live on; ``min_rows``: at least this many entries along dimension 0.
    """
    import torch

    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{argname} is a {type(value).__name__}; expected a torch.Tensor")
    if value.device.type == "meta":
        raise ValueError(f"{argname} is on the meta device (no data); expected a tensor with values")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{argname} has shape {tuple(value.shape)}; expected {ndim} dimensions")
    if shape is not None:
        if len(shape) != value.ndim or any(s is not None and s != v for s, v in zip(shape, value.shape)):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
            raise ValueError(f"{argname} has shape {tuple(value.shape)}; expected {want}")
    if dtype is not None:
        dts = dtype if isinstance(dtype, tuple) else (dtype,)
        if value.dtype not in dts:
            raise ValueError(f"{argname} has dtype {value.dtype}; expected {' or '.join(map(str, dts))}")
    if floating and not value.is_floating_point():
        raise ValueError(f"{argname} has dtype {value.dtype}; expected a floating-point tensor")
    if device is not None and value.device != torch.device(device):
        raise ValueError(f"{argname} is on {value.device}; expected {torch.device(device)}")
    if value.ndim and value.shape[0] < min_rows:
        raise ValueError(f"{argname} has {value.shape[0]} rows; expected at least {min_rows}")
    if finite and value.is_floating_point() and value.numel() and not bool(torch.isfinite(value).all()):
        bad = (~torch.isfinite(value)).nonzero()
        first = tuple(int(i) for i in bad[0])
        raise ValueError(f"{argname} contains NaN or infinite values ({bad.shape[0]} non-finite entries, first "
                         f"{argname}[{', '.join(map(str, first))}] = {float(value[first])}); expected finite values")
    return value


def vector(argname: str, value: Any, *, size: int | None = None) -> Any:
    """A non-empty, finite, floating-point ``torch.Tensor`` of shape ``(d,)`` (``(size,)`` when given).

    >>> import torch
    >>> try:
    ...     vector("w1", torch.tensor([0.0, float("nan")]))
    ... except ValueError as err:
    ...     print(err)
    w1 contains NaN or infinite values (1 non-finite entries, first w1[1] = nan); expected finite values
    """
    want = f"({'d' if size is None else size},)"
    tensor(argname, value)
    if value.ndim != 1 or value.numel() == 0 or (size is not None and value.shape[0] != size):
        raise ValueError(f"{argname} has shape {tuple(value.shape)}; expected a non-empty vector {want}")
    return tensor(argname, value, floating=True, finite=True)


def matrix(argname: str, value: Any, *, min_rows: int = 1, cols: int | None = None, shape: str = "(K, d)") -> Any:
    """A finite, floating-point ``torch.Tensor`` of shape ``(K, d)``, ``K >= min_rows``, ``d >= 1``
    (``d == cols`` when given); ``shape`` names the dimensions in messages (e.g. ``"(M, d)"``)."""
    tensor(argname, value)
    if value.ndim != 2 or value.shape[1] == 0 or (cols is not None and value.shape[1] != cols):
        raise ValueError(f"{argname} has shape {tuple(value.shape)}; expected a matrix {shape}"
                         + (f" with {cols} columns" if cols is not None else " with at least one column"))
    if value.shape[0] < min_rows:
        raise ValueError(f"{argname} has {value.shape[0]} rows; expected a matrix {shape} with at least {min_rows}")
    return tensor(argname, value, floating=True, finite=True)


def optional_integer(argname: str, value: Any, *, min: int | None = None, max: int | None = None) -> int | None:
    """``None``, or ``value`` as in :func:`integer`."""
    return None if value is None else integer(argname, value, min=min, max=max)


def optional_real(argname: str, value: Any, *, min: float | None = None, max: float | None = None,
                  min_open: bool = False) -> float | None:
    """``None``, or ``value`` as in :func:`real`."""
    return None if value is None else real(argname, value, min=min, max=max, min_open=min_open)


def same_device(**tensors: Any) -> None:
    """Refuse tensors that live on different devices, naming each one's device."""
    devs = {k: v.device for k, v in tensors.items() if v is not None}
    if len(set(devs.values())) > 1:
        listing = ", ".join(f"{k} on {d}" for k, d in devs.items())
        raise ValueError(f"tensors are on different devices ({listing}); expected one device")


def labels(argname: str, y: Any, n_classes: int) -> Any:
    """Integer class labels ``y`` of shape ``(N,)`` with every value in ``[0, n_classes)``."""
    import torch

    tensor(argname, y, ndim=1)
    if y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(f"{argname} has dtype {y.dtype}; expected integer class labels")
    if y.numel():
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= n_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{argname} holds the label {bad}; expected labels in [0, {n_classes - 1}]")
    return y


def images(x: Any, y: Any, *, n_classes: int | None = 10, what: str = "data", min_images: int = 1) -> None:
    """Images ``x`` ``(N, ...)`` (floating, finite) and labels ``y`` ``(N,)`` that belong together.

    Refuses an empty set, a non-floating ``x``, NaN images, labels outside
    ``[0, n_classes)`` (``n_classes=None``: labels unused, only the length is checked)
    and tensors on different devices, each with a message naming ``what``.
    """
    tensor(f"{what} images", x, floating=True, finite=True, min_rows=min_images)
    tensor(f"{what} labels", y, ndim=1)
    if x.ndim < 2:
        raise ValueError(f"{what} images have shape {tuple(x.shape)}; expected (N, ...) with one row per image")
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"{what} has {x.shape[0]} images but {y.shape[0]} labels; expected one label per image")
    same_device(**{f"{what}_images": x, f"{what}_labels": y})
    if n_classes is not None:
        labels(f"{what} labels", y, n_classes)

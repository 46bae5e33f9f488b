"""Files of the package: the data it ships (read-only) and the one folder it writes under.

**Shipped data.** Everything the package reads at run time ships inside it as
package data, under ``lls_core/datafiles/``, and is read only through
:func:`files` / :func:`read_csv` (``importlib.resources``), so a wheel installed
anywhere finds it without the source checkout:

- ``published/``: the papers' printed tables (survey Table 4, Yu & Morozov Table 1 and S1, ...);
- ``survey/``: the survey's tables and the data of its figures (:mod:`lls_core.survey`);
- ``settings/``: the sourced settings of the Yu & Morozov study and of its path finder;
- ``reference/``: reference measurements that are not published values;
- ``authors/``: numbers derived from the authors' published weights (:mod:`lls_core.authors`);
- ``mnist/``: the official MNIST test set, CC BY-SA 3.0 (:mod:`lls_core.data`).

Every CSV begins with ``#`` lines (``# source:`` names where its numbers come from).

**The one writable root.** What the package writes goes under :func:`root`:
``$LLS_ROOT`` when set, else the source checkout this package sits in (the folder
above it, when that holds ``pyproject.toml``), else the current directory. Under it
(a variable in brackets moves that one folder alone):

- ``artifacts/``: the run store, :func:`lls_core.store.default_root` (``$LLS_ARTIFACTS``),
  with the path pairs as its namespace ``pairs/`` (:class:`lls_core.store.PairStore`);
- ``_build/figures/``: figures, :func:`lls_core.plotting.figure_dir` (``$LLS_FIGURE_DIR``);
- ``data/results/``: archived results of long runs, :func:`lls_core.results.archive_root`;
- ``.lls-data/mnist/``: the downloaded full MNIST, :func:`lls_core.data.default_data_dir` (``$LLS_MNIST_DIR``);
- ``.lls-data/authors/``: the authors' weight files, :func:`lls_core.authors.default_dir` (``$LLS_AUTHORS_DIR``).

Example::

    from lls_core import resources
    resources.read_csv(resources.files("published", "yu_morozov_table1.csv")).shape   # (4, 7)
    resources.root() / "artifacts"
"""

from __future__ import annotations

import importlib.resources
import os
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["files", "read_csv", "checkout", "source_file", "root"]

_PACKAGE = "lls_core"
_DATA = "datafiles"


def files(*parts: str) -> Traversable:
    """The shipped data file or folder ``datafiles/<parts...>`` (it need not exist; see :func:`read_csv`).

    >>> files("mnist", "ATTRIBUTION.md").is_file()
    True
    """
    for p in parts:
        if not p or "/" in p or "\\" in p or p in {".", ".."}:
            raise ValueError(f"packaged data path part {p!r} must be one plain file or folder name")
    t = importlib.resources.files(_PACKAGE).joinpath(_DATA)
    for p in parts:
        t = t.joinpath(p)
    return t


def read_csv(source: "Traversable | str | os.PathLike[str]", **kwargs: Any) -> "pd.DataFrame":
    """Read a CSV (shipped: ``files(...)``, or any path) with its ``#`` lines skipped.

    Keyword arguments go to :func:`pandas.read_csv` (``comment="#"`` unless given).
    Raises :class:`FileNotFoundError` naming the file when it does not exist.
    """
    import pandas as pd

    src: Traversable = Path(source) if isinstance(source, (str, os.PathLike)) else source
    if not src.is_file():
        raise FileNotFoundError(f"data file {src} does not exist (a shipped file missing means an incomplete installation)")
    kwargs.setdefault("comment", "#")
    with src.open("r", encoding="utf-8") as f:
        return pd.read_csv(f, **kwargs)


def checkout() -> Path | None:
    """The source checkout this package sits in (the folder above it holding ``pyproject.toml``), or ``None``."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() and (here / _PACKAGE / _DATA).is_dir() else None


def source_file(*parts: str) -> Path:
    """The file ``lls_core/datafiles/<parts...>`` in the source checkout, for maintainer commands that regenerate it.

    Raises :class:`RuntimeError` outside a checkout (an installed package's data is
    read-only): pass an explicit output path there.
    """
    files(*parts)  # same checks of the parts
    co = checkout()
    if co is None:
        raise RuntimeError(f"datafiles/{'/'.join(parts)} can only be regenerated in a source checkout of lls-core; "
                           "this is an installed package: pass an output path")
    return co.joinpath(_PACKAGE, _DATA, *parts)


def root() -> Path:
    """The one folder everything written goes under: ``$LLS_ROOT``, else :func:`checkout`, else the current directory."""
    env = os.environ.get("LLS_ROOT")
    if env:
        return Path(env).expanduser().resolve()
    return checkout() or Path.cwd().resolve()

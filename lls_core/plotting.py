"""One plotting style for the whole book, and one colour per optimizer.

Every chapter calls :func:`use_style` once (in its imports cell) and takes colours
from :func:`color` so that, e.g., Adam is the same colour in every figure of the
book. Figures a chapter promises are written with :func:`save_figure`, which puts
a PNG into the chapter's figure folder (``$LLS_FIGURE_DIR``, set by
``lls-book run``) and returns its path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import matplotlib

__all__ = [
    "OPTIMIZER_COLORS",
    "SET_COLORS",
    "color",
    "use_style",
    "save_figure",
    "figure_dir",
]

# Fixed colours, chosen from colour-blind-safe palettes (Okabe-Ito + tab20 extras).
# Keys are the canonical display names used by lls_core.optimizers and the study.
OPTIMIZER_COLORS: dict[str, str] = {
    "BGD": "#000000",
    "SGD": "#E69F00",
    "Momentum": "#56B4E9",
    "Nesterov": "#009E73",
    "AdaGrad": "#F0E442",
    "RMSProp": "#0072B2",
    "Adam": "#D55E00",
    "AdaDelta": "#CC79A7",
    "Adamax": "#8C564B",
    "Nadam": "#7F7F7F",
    "AMSGrad": "#BCBD22",
    "NAG": "#17BECF",
    "SPSA": "#9467BD",
    "SVRG": "#AEC7E8",
    "SARAH": "#FF9896",
    "L-BFGS-GSS": "#1F3A93",
    "L-BFGS": "#C0392B",
    "FourierPathFinder": "#1F3A93",
    "Bezier": "#E67E22",
    "Linear": "#7F7F7F",
}

# The four weight sets of the Yu & Morozov study (and torch's L-BFGS as a third optimizer).
SET_COLORS: dict[str, str] = {
    "BFGS-train": "#1F3A93",
    "BFGS-test": "#6C8EBF",
    "SGD-train": "#D55E00",
    "SGD-test": "#F5A36C",
    "LBFGS-train": "#C0392B",
    "LBFGS-test": "#E8918A",
}

_ALIASES = {name.lower(): name for name in (*OPTIMIZER_COLORS, *SET_COLORS)}


def color(name: str) -> str:
    """Return the book's fixed colour (hex string) for an optimizer or weight set.

    Lookup is case-insensitive. An unknown name raises ``KeyError`` listing the
    known ones, so a typo never silently produces a default colour.
    """
    key = _ALIASES.get(name.lower())
    if key is None:
        known = ", ".join(sorted(_ALIASES.values()))
        raise KeyError(f"no book colour for {name!r}; known names: {known}")
    return OPTIMIZER_COLORS.get(key) or SET_COLORS[key]


def use_style(context: str = "notebook") -> None:
    """Apply the book's seaborn theme (white grid, readable fonts, 150 dpi PNGs)."""
    import seaborn as sns

    sns.set_theme(context=context, style="whitegrid", palette="colorblind", font_scale=0.95)
    matplotlib.rcParams.update(
        {
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "figure.figsize": (7.0, 4.5),
            "axes.titlesize": "medium",
            "axes.labelsize": "medium",
            "legend.fontsize": "small",
            "legend.frameon": False,
            "image.cmap": "viridis",
        }
    )


def figure_dir() -> Path:
    """The folder figures are written to: ``$LLS_FIGURE_DIR`` or ``_build/figures``."""
    return Path(os.environ.get("LLS_FIGURE_DIR", "_build/figures"))


def save_figure(fig: "matplotlib.figure.Figure", name: str) -> Path:
    """Write ``fig`` as ``<figure_dir>/<name>.png`` atomically and return the path.

    ``name`` is a plain file stem (letters, digits, ``-`` and ``_``); the chapter's
    front matter lists the names it promises, and the test suite checks they exist.
    """
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"figure name {name!r} must be letters, digits, '-' or '_' only")
    out = figure_dir()
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.png"
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".png")
    os.close(fd)
    try:
        fig.savefig(tmp, format="png")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path

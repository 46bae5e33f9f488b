"""One plotting style for the whole book, and one colour per optimizer.

Every chapter calls :func:`use_style` once (in its imports cell) and takes colours
from :func:`color` so that, e.g., Adam is the same colour in every figure of the
book. Figures a chapter promises are written with :func:`save_figure`, which puts
a PNG into the chapter's figure folder (``$LLS_FIGURE_DIR``, set by
``lls-book run``) and returns its path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import matplotlib

from . import checks, resources

__all__ = [
    "OPTIMIZER_COLORS",
    "SET_COLORS",
    "color",
    "network_name",
    "use_style",
    "save_figure",
    "figure_dir",
    "plot_contour",
    "plot_surface",
    "plot_surface_grid",
    "plotly_surfaces",
    "plotly_html",
    "show_figure",
    "colorbar_ticks",
    "tidy_log_axis",
    "set_linestyle",
    "barrier_histograms",
    "distance_histograms",
    "kpca_panels",
    "trio_histograms",
    "path_vs_line",
    "spread_strips",
    "sharpness_strips",
    "toy_paths",
    "lambda_sweep",
    "network_path",
    "network_lambda_sweep",
    "table4_paths",
    "sgd_paths",
    "loss_profiles",
    "success_heatmaps",
    "contour_panels",
    "printed_saddle",
    "noise_snapshots",
    "toy_straight_path",
    "line_search_trials",
    "surface_paths",
    "loss_curves",
    "evaluation_gap",
    "mode_curves",
    "raw_aligned_bars",
    "kpca_grid",
    "barrier_shift_scatter",
    "barrier_shift_histograms",
    "alignment_summary",
    "slice_map_grid",
    "run_strips",
    "batch_panels",
    "normalization_slices",
    "trajectory_plane",
    "trajectory_embeddings",
    "segment_losses",
    "hessian_spectrum",
    "share_y_limits",
    "plural",
    "batch_colors",
    "label",
    "LABELS",
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

# Reader-facing names where a registry name is ambiguous: torch's L-BFGS (strong-Wolfe line
# search) must never be mistaken for L-BFGS-GSS, the Yu & Morozov optimizer.
LABELS: dict[str, str] = {"L-BFGS": "L-BFGS (torch)"}

_ALIASES = {name.lower(): name for name in (*OPTIMIZER_COLORS, *SET_COLORS)}
_ALIASES.update({shown.lower(): name for name, shown in LABELS.items()})


def label(name: str) -> str:
    """The name a figure legend or table shows for optimizer ``name``: ``"L-BFGS"`` -> ``"L-BFGS (torch)"``.

    Names without a clearer label (``"L-BFGS-GSS"``, ``"SGD"``) come back unchanged, and
    :func:`color` accepts both forms.
    """
    return LABELS.get(name, name)


def color(name: str) -> str:
    """Return the book's fixed colour (hex string) for an optimizer or weight set.

    Lookup is case-insensitive. An unknown name raises
    :class:`~lls_core.checks.UnknownNameError` (a ``KeyError`` and a ``ValueError``)
    listing the valid ones, so a typo never silently produces a default colour.
    """
    key = _ALIASES.get(name.lower()) if isinstance(name, str) else None
    if key is None:
        raise checks.UnknownNameError(f"unknown colour name {name!r}; valid: {', '.join(sorted(set(_ALIASES.values())))}")
    return OPTIMIZER_COLORS.get(key) or SET_COLORS[key]


def use_style(context: str = "notebook") -> None:
    """Apply the book's seaborn theme (white grid, readable fonts, 150 dpi PNGs) and table style.

    Inside IPython, DataFrames and Stylers are then shown in the book's one table
    style (:func:`lls_core.tables.use_table_style`).
    """
    import seaborn as sns

    from .tables import use_table_style

    use_table_style()

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
    """The folder figures are written to: ``$LLS_FIGURE_DIR``, else ``<root>/_build/figures`` (:func:`lls_core.resources.root`)."""
    env = os.environ.get("LLS_FIGURE_DIR")
    return Path(env) if env else resources.root() / "_build" / "figures"


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
    from .io import atomic_write

    return atomic_write(path, lambda f: fig.savefig(f, format="png"))


# ---------------------------------------------------------------------------
# Surfaces: contours with optimizer paths, 3-D surfaces, interactive views
# ---------------------------------------------------------------------------

_CRITICAL_STYLE = {
    "minima": {"marker": "o", "label": "minimum", "facecolor": "white", "edgecolor": "black"},
    "saddles": {"marker": "X", "label": "saddle", "facecolor": "#F0E442", "edgecolor": "black"},
    "maxima": {"marker": "^", "label": "maximum", "facecolor": "#D55E00", "edgecolor": "black"},
}


def colorbar_ticks(lo: float, hi: float, n: int = 5):
    """At most ``n`` + 1 round tick values inside ``[lo, hi]`` (none beyond the bar's ends).

    matplotlib's locator may return a tick past the top of a colour bar, which is then
    drawn on the bar's end and overprints its neighbour (``9.0`` over ``7.5``).
    """
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    vals = MaxNLocator(nbins=n).tick_values(lo, hi)
    eps = 1e-9 * max(abs(hi - lo), 1e-300)
    return np.array([v for v in vals if lo - eps <= v <= hi + eps])


def _surface_grid(surface, n, domain, clip):
    import numpy as np

    X, Y, Z = surface.grid(n=n, domain=domain)
    if clip is not None:
        lo, hi = clip
        Z = np.clip(Z, -np.inf if lo is None else lo, np.inf if hi is None else hi)
    return X, Y, Z


def _path_items(paths):
    """Normalise ``paths`` to a list of (label or None, (T, 2) float array)."""
    import numpy as np

    if paths is None:
        return []
    items = paths.items() if hasattr(paths, "items") else ((None, p) for p in paths)
    out = []
    for label, p in items:
        arr = np.asarray(p.detach().cpu() if hasattr(p, "detach") else p, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValueError(f"path {label!r} must have shape (T, 2); got {arr.shape}")
        out.append((label, arr))
    return out


def _path_color(label, i):
    import matplotlib.pyplot as plt

    if label is not None and label.lower() in _ALIASES:
        return color(label)
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    return cycle[i % len(cycle)]


def plot_contour(
    surface,
    ax=None,
    *,
    levels=30,
    n: int = 201,
    domain=None,
    clip=None,
    filled: bool = True,
    cmap: str | None = None,
    paths=None,
    path_kw: dict | None = None,
    mark_critical: bool | tuple[str, ...] = True,
    colorbar: bool = True,
    colorbar_kw: dict | None = None,
    legend: bool = True,
    title: str | None = None,
):
    """Contour plot of a :class:`lls_core.surfaces.Surface`, optionally with paths on it.

    Args:
        surface: any surface (``surface.grid`` is used on an ``n x n`` grid).
        ax: matplotlib axes to draw into (a new figure when ``None``).
        levels: number of levels (spaced evenly between the plotted min and max)
            or an explicit increasing sequence of heights.
        domain: ``((xmin, xmax), (ymin, ymax))``; default the surface's own.
        clip: ``(low, high)`` heights to clip to before drawing (either may be
            ``None``), for surfaces whose range would swamp the levels.
        paths: optimizer or interpolation paths, each an array of shape ``(T, 2)``:
            a mapping ``label -> path`` (labels that are book names such as
            ``"Adam"`` get the book's colour) or a plain sequence of paths. Each is
            drawn as a line with its start (circle) and end (star) marked.
        path_kw: extra keyword arguments for the path lines (``linewidth``...).
        mark_critical: mark the surface's listed minima / saddles / maxima;
            ``True`` for all, or a tuple such as ``("minima",)``.
        colorbar, legend, title: as named; ``colorbar_kw`` overrides the colorbar's
            keyword arguments (e.g. ``{"spacing": "uniform"}`` for log-spaced levels).

    Returns the axes. Axes are labelled ``x`` and ``y``; heights are dimensionless.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots()
    X, Y, Z = _surface_grid(surface, n, domain, clip)
    finite = Z[np.isfinite(Z)]
    if isinstance(levels, (int, np.integer)) and not isinstance(levels, bool):
        if levels < 2:
            raise ValueError(f"levels must be >= 2 or a sequence of heights; got {levels}")
        lo, hi = float(finite.min()), float(finite.max())
        lv = np.linspace(lo, hi if hi > lo else lo + 1.0, int(levels) + 1)
    else:
        lv = np.asarray(levels, dtype=float)
    # arrows on the colour bar only where heights really lie beyond the levels
    below = bool(finite.size and finite.min() < lv[0])
    above = bool(finite.size and finite.max() > lv[-1])
    extend = {(False, False): "neither", (True, False): "min", (False, True): "max", (True, True): "both"}[(below, above)]
    if filled:
        cs = ax.contourf(X, Y, Z, levels=lv, cmap=cmap, extend=extend)
        ax.contour(X, Y, Z, levels=lv, colors="k", linewidths=0.3, alpha=0.35)
    else:
        cs = ax.contour(X, Y, Z, levels=lv, cmap=cmap, linewidths=0.9)
    if colorbar:
        cb_kw = {"shrink": 0.85, "label": r"$z = f(x, y)$", "ticks": colorbar_ticks(lv[0], lv[-1])}
        cb_kw.update(colorbar_kw or {})
        ax.figure.colorbar(cs, ax=ax, **cb_kw)
    (x0, x1), (y0, y1) = (X[0, 0], X[0, -1]), (Y[0, 0], Y[-1, 0])
    kinds = ("minima", "saddles", "maxima") if mark_critical is True else tuple(mark_critical or ())
    for kind in kinds:
        if kind not in _CRITICAL_STYLE:
            raise ValueError(f"mark_critical entries must be minima, saddles or maxima; got {kind!r}")
        pts = [q for q in getattr(surface, kind) if x0 <= q[0] <= x1 and y0 <= q[1] <= y1]
        if pts:
            st = _CRITICAL_STYLE[kind]
            ax.scatter(*zip(*pts), s=36, marker=st["marker"], c=st["facecolor"], edgecolors=st["edgecolor"],
                       linewidths=0.8, label=st["label"], zorder=5)
    kw = {"linewidth": 1.4, "alpha": 0.95}
    kw.update(path_kw or {})
    for i, (label, arr) in enumerate(_path_items(paths)):
        c = _path_color(label, i)
        ax.plot(arr[:, 0], arr[:, 1], color=c, label=label, zorder=6, **kw)
        ax.plot(*arr[0], "o", color=c, markersize=5, markerfacecolor="white", zorder=7)
        ax.plot(*arr[-1], "*", color=c, markersize=9, zorder=7)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(r"$x$")
    ax.set_ylabel(r"$y$")
    ax.grid(False)
    if title is not None:
        ax.set_title(title)
    if legend and ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize="x-small", framealpha=0.8, frameon=True)
    return ax


def plot_surface(
    surface,
    ax=None,
    *,
    n: int = 101,
    domain=None,
    clip=None,
    cmap: str | None = None,
    elev: float = 30.0,
    azim: float = -60.0,
    paths=None,
    title: str | None = None,
):
    """3-D surface plot of a :class:`lls_core.surfaces.Surface` (matplotlib ``mplot3d``).

    ``ax`` must be a 3-D axes (``fig.add_subplot(projection="3d")``) or ``None``
    for a new figure. ``clip`` clips heights as in :func:`plot_contour`; ``paths``
    (as in :func:`plot_contour`) are drawn on the surface. Returns the axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        ax = plt.figure().add_subplot(projection="3d")
    if getattr(ax, "name", "") != "3d":
        raise ValueError("plot_surface needs a 3-D axes: fig.add_subplot(projection='3d')")
    X, Y, Z = _surface_grid(surface, n, domain, clip)
    count = min(int(n), 80)
    ax.plot_surface(X, Y, Z, cmap=cmap or matplotlib.rcParams["image.cmap"], rcount=count, ccount=count,
                    linewidth=0, antialiased=True, alpha=0.95)
    for i, (label, arr) in enumerate(_path_items(paths)):
        import torch

        z = surface(torch.as_tensor(arr, dtype=torch.float64)).detach().numpy()
        if clip is not None:
            z = np.clip(z, -np.inf if clip[0] is None else clip[0], np.inf if clip[1] is None else clip[1])
        ax.plot(arr[:, 0], arr[:, 1], z, color=_path_color(label, i), label=label, linewidth=1.5, zorder=10)
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlabel(r"$x$")
    ax.set_ylabel(r"$y$")
    ax.set_zlabel(r"$z$")
    if title is not None:
        ax.set_title(title)
    return ax


def plot_surface_grid(
    surfaces,
    *,
    n: int = 101,
    titles=None,
    clip=None,
    levels=30,
    paths=None,
    mark_critical=True,
    panel_size: tuple[float, float] = (3.4, 3.0),
    elev: float = 30.0,
    azim: float = -60.0,
):
    """A row of 3-D surfaces above a row of their contours (as in the survey's Figures 2, 7, 10).

    ``surfaces`` is a sequence of surfaces; ``titles``, ``clip`` and ``paths`` are
    either one value for every panel or a ``list`` with one entry per surface
    (so give shared paths as a mapping, and a shared clip as a tuple). Returns the figure; its axes are
    ``fig.axes[:k]`` (3-D) and the contour axes after them (colorbars follow).
    """
    import matplotlib.pyplot as plt

    surfaces = list(surfaces)
    k = len(surfaces)
    if k == 0:
        raise ValueError("plot_surface_grid needs at least one surface")

    def per(v, i):
        if isinstance(v, list):
            if len(v) != k:
                raise ValueError(f"per-surface lists need {k} entries; got {len(v)}")
            return v[i]
        return v

    fig = plt.figure(figsize=(panel_size[0] * k, panel_size[1] * 2))
    top = [fig.add_subplot(2, k, i + 1, projection="3d") for i in range(k)]
    bottom = [fig.add_subplot(2, k, k + i + 1) for i in range(k)]
    for i, s in enumerate(surfaces):
        t = per(titles, i) if titles is not None else s.title
        plot_surface(s, top[i], n=n, clip=per(clip, i), title=t, elev=elev, azim=azim, paths=per(paths, i))
        plot_contour(s, bottom[i], n=n, clip=per(clip, i), levels=levels, paths=per(paths, i),
                     mark_critical=mark_critical, legend=False)
    fig.tight_layout()
    return fig


def plotly_surfaces(surfaces, *, n: int = 81, clip=None, titles=None, height: int = 560):
    """An interactive (rotatable) 3-D plotly figure of one or more surfaces.

    With several surfaces a drop-down menu switches between them. Listed minima
    are shown as markers. Returns a ``plotly.graph_objects.Figure``; embed it
    with :func:`plotly_html` (plotly.js inline, so the book works offline).
    """
    import numpy as np
    import plotly.graph_objects as go
    import torch

    surfaces = list(surfaces) if isinstance(surfaces, (list, tuple)) else [surfaces]
    fig = go.Figure()
    groups = []
    for i, s in enumerate(surfaces):
        X, Y, Z = _surface_grid(s, n, None, clip[i] if isinstance(clip, list) else clip)
        visible = i == 0
        first = len(fig.data)
        fig.add_trace(go.Surface(x=X[0], y=Y[:, 0], z=Z, colorscale="Viridis", showscale=True,
                                 colorbar={"title": {"text": "z"}, "len": 0.6, "thickness": 14, "x": 0.98},
                                 name=s.name, visible=visible,
                                 hovertemplate="x=%{x:.3f}<br>y=%{y:.3f}<br>z=%{z:.4f}<extra></extra>"))
        if s.minima:
            pts = np.array(s.minima)
            z = s(torch.as_tensor(pts, dtype=torch.float64)).detach().numpy()
            fig.add_trace(go.Scatter3d(x=pts[:, 0], y=pts[:, 1], z=z, mode="markers", name="minima",
                                       marker={"size": 4, "color": "white", "line": {"color": "black", "width": 1}},
                                       visible=visible, showlegend=False))
        groups.append((first, len(fig.data)))
    names = [t for t in titles] if titles is not None else [s.title for s in surfaces]
    buttons = []
    for i, (a, b) in enumerate(groups):
        vis = [a <= j < b for j in range(len(fig.data))]
        buttons.append({"label": names[i], "method": "update",
                        "args": [{"visible": vis}, {"title.text": names[i]}]})
    layout = {
        "title": {"text": names[0], "x": 0.5, "xanchor": "center"},
        "height": height,
        "margin": {"l": 10, "r": 10, "t": 50, "b": 10},  # room for the tick labels
        "scene": {"xaxis_title": "x", "yaxis_title": "y", "zaxis_title": "z"},
    }
    if len(surfaces) > 1:
        layout["updatemenus"] = [{"buttons": buttons, "direction": "down", "x": 0.0, "xanchor": "left",
                                  "y": 1.12, "yanchor": "top", "showactive": True}]
    fig.update_layout(**layout)
    return fig


def plotly_html(fig, *, include_plotlyjs: bool = True, div_id: str | None = None) -> str:
    """HTML for a plotly figure with plotly.js embedded inline (never a CDN: the book works offline).

    Embed plotly.js once per page: pass ``include_plotlyjs=False`` for further
    figures on the same page. Display in a notebook with ``IPython.display.HTML``.
    """
    return fig.to_html(include_plotlyjs=bool(include_plotlyjs), full_html=False, div_id=div_id)


def show_figure(fig: "matplotlib.figure.Figure", name: str) -> Path:
    """Save ``fig`` with :func:`save_figure`, close it, and display the saved PNG.

    The displayed image is the written file, so the notebook shows exactly the
    promised figure under any matplotlib backend (also a non-interactive one such
    as ``agg``), and closing it prevents a second copy under the inline backend.
    Returns the path of the PNG.
    """
    import matplotlib.pyplot as plt

    path = save_figure(fig, name)
    plt.close(fig)
    try:  # IPython comes with the ``book`` extra; without it the figure is only written
        from IPython.display import Image, display
    except ImportError:  # pragma: no cover
        return path
    display(Image(filename=str(path)))
    return path


# ---------------------------------------------------------------------------
# Small fixes that several figures need
# ---------------------------------------------------------------------------


def plural(n: int, word: str, plural_form: str | None = None) -> str:
    """``"1 hidden layer"``, ``"2 hidden layers"``: never ``"layer(s)"``."""
    return f"{n} {word if n == 1 else (plural_form or word + 's')}"


def tidy_log_axis(ax, axis: str = "x", max_labels: int = 6) -> None:
    """Label only the decades of a log axis, at most ``max_labels`` of them, and no minor ticks.

    On a log axis spanning less than a decade matplotlib labels minor ticks too, and
    their labels (``4×10⁻¹``, ``6×10⁻¹``...) overprint each other and the major ones.
    Here the minor labels are removed; within one decade a few plain ticks are placed by
    :class:`~matplotlib.ticker.MaxNLocator`, within two by 1-2-5 subdivisions, and wider
    spans label at most ``max_labels`` decades.
    """
    import numpy as np
    from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter, ScalarFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    lo, hi = (ax.get_xlim() if axis == "x" else ax.get_ylim())
    target.set_minor_formatter(NullFormatter())
    span = np.log10(hi / lo) if lo > 0 and hi > 0 else np.inf
    if span < 2:
        # under a decade LogLocator falls back to dense linear ticks: ask for a few plain ones
        locator = MaxNLocator(nbins=max(max_labels - 2, 2)) if span < 1 else LogLocator(base=10, subs=(1.0, 2.0, 5.0))
        target.set_major_locator(locator)
        fmt = ScalarFormatter()
        fmt.set_scientific(False)
        target.set_major_formatter(fmt)
    else:
        target.set_major_locator(LogLocator(base=10, numticks=max_labels))


_SET_LINESTYLES: dict[str, Literal["-", "--"]] = {"train": "-", "test": "--"}


def set_linestyle(name: str) -> Literal["-", "--"]:
    """Solid for a training set (``BFGS-train``), dashed for a test set (``SGD-test``), else solid."""
    return _SET_LINESTYLES.get(name.rsplit("-", 1)[-1].lower(), "-")


def barrier_histograms(frame, archs, landscape: str, sets, *, bins: int = 12, panel: tuple[float, float] = (5.6, 4.0)):
    """Step histograms of path heights per weight set, one panel per architecture.

    ``frame`` has columns ``arch``, ``landscape``, ``set`` and ``height`` (one row per
    path). Every set keeps its book colour; training sets are solid and test sets dashed,
    and each set is drawn a little thinner than the one before, so that identical
    histograms stay visible instead of hiding each other. Heights spanning more than a
    factor of 10 get a log axis with only its decades labelled (:func:`tidy_log_axis`).
    Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    archs = list(archs)
    fig, axes = plt.subplots(1, len(archs), figsize=(panel[0] * len(archs), panel[1]), squeeze=False, layout="constrained")
    for ax, arch in zip(axes[0], archs):
        sub = frame[(frame["arch"] == arch) & (frame["landscape"] == landscape)]
        order = [s for s in sets if s in set(sub["set"])]
        heights = sub["height"].to_numpy(dtype=float)
        heights = heights[np.isfinite(heights)]
        log = _spans_decade(heights)
        if heights.size:
            lo, hi = heights.min(), heights.max()
            if hi <= lo:
                lo, hi = lo - 0.5 * abs(lo or 1), hi + 0.5 * abs(hi or 1)
            edges = np.geomspace(lo, hi, bins + 1) if log else np.linspace(lo, hi, bins + 1)
        handles = []
        for i, name in enumerate(order):
            h = sub.loc[sub["set"] == name, "height"].to_numpy(dtype=float)
            h = h[np.isfinite(h)]
            c, ls, lw = color(name), set_linestyle(name), max(2.6 - 0.35 * i, 0.9)
            ax.hist(h, bins=edges, histtype="step", color=c, linestyle=ls, linewidth=lw, zorder=3 + i)
            ax.plot(h, np.zeros_like(h), "|", color=c, markersize=9, alpha=0.8, clip_on=False, zorder=10)
            handles.append(Line2D([], [], color=c, linestyle=ls, linewidth=lw, label=f"{name} ({h.size})"))
        if log:
            ax.set_xscale("log")
            tidy_log_axis(ax, "x")
        unit = "MSE" if arch == "autoencoder" else "cross-entropy, nats"
        ax.set_xlabel(f"path height on the {landscape} loss ({unit})")
        ax.set_ylabel("pairs")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts
        ax.set_title(network_name(arch))
        if handles:
            ax.legend(handles=handles, title="set (pairs)", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def share_y_limits(axes, *, log: bool | None = None) -> None:
    """Give panels one y range (and one scale) so that their curves compare by eye.

    ``log=None`` chooses a log scale when the positive data of all panels span more than
    two decades. Panels that must stay apart (different quantities) should not be passed.
    """
    import numpy as np

    axes = [ax for ax in np.ravel(axes)]
    ys = [line.get_ydata() for ax in axes for line in ax.get_lines()]
    vals = np.concatenate([np.asarray(y, dtype=float).ravel() for y in ys]) if ys else np.array([])
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return
    pos = vals[vals > 0]
    if log is None:
        log = bool(pos.size == vals.size and pos.size and pos.max() > 100 * pos.min())
    for ax in axes:
        ax.set_yscale("log" if log else "linear")
    if log:
        lo, hi = pos.min() / 1.5, pos.max() * 1.5
    else:
        pad = 0.05 * (vals.max() - vals.min() or 1.0)
        lo, hi = vals.min() - pad, vals.max() + pad
    for ax in axes:
        ax.set_ylim(lo, hi)


def batch_colors(sizes) -> dict:
    """One colour per batch size (or any ordered setting), never an optimizer's colour.

    Colours run along the colour-blind-safe sequential map ``cividis`` in the order of
    the sorted sizes, so the smallest batch is darkest in every figure that uses the same
    sizes. Returns ``{size: hex colour}``.
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    keys = sorted(set(sizes))
    if not keys:
        return {}
    cmap = colormaps["cividis"]
    pos = [0.5] if len(keys) == 1 else [0.05 + 0.8 * i / (len(keys) - 1) for i in range(len(keys))]
    return {k: to_hex(cmap(p)) for k, p in zip(keys, pos)}


def _panel_title(key) -> str:
    """``"fcp"`` for a key ``"fcp"``, ``"fcp, aligned"`` for a key ``("fcp", "aligned")``."""
    return ", ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def _panel_grid(n: int, columns: int | None, panel: tuple[float, float], **kw):
    """``n`` panels in rows of ``columns`` (default: one row); returns the figure and the first ``n`` axes."""
    import matplotlib.pyplot as plt

    cols = n if columns is None else max(1, min(int(columns), n))
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(panel[0] * cols, panel[1] * rows), squeeze=False,
                             layout="constrained", **kw)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def distance_histograms(dists, *, bins: int = 12, columns: int | None = None,
                        panel: tuple[float, float] = (5.2, 3.6)):
    """Histograms of distances from a common origin, one panel per architecture (Yu & Morozov Figs. 5, S3).

    ``dists``: ``{arch: landscape.Distances}``, or ``{(arch, variant): landscape.Distances}``
    (titled "arch, variant"); panels fill rows of ``columns`` (default: one row). Each panel
    shows the two sets of its ``between`` pair in their book colours on shared bin edges, and
    a dotted line at the distance between the two centroids. Returns the figure.
    """
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    if not dists:
        raise ValueError("distance_histograms needs at least one architecture's distances; got none")
    keys = list(dists)
    fig, axes = _panel_grid(len(keys), columns, panel)
    for ax, a in zip(axes, keys):
        d = dists[a]
        pair = tuple(d.between)
        edges = np.histogram_bin_edges(np.concatenate([np.asarray(d.distance[s], dtype=float) for s in pair]),
                                       bins=bins)
        for s in pair:
            ax.hist(d.distance[s], bins=edges, histtype="stepfilled", color=color(s), alpha=0.3)
            ax.hist(d.distance[s], bins=edges, histtype="step", color=color(s), linewidth=1.6, label=s)
        ax.axvline(d.centroid_gap, color="0.3", ls=":", lw=1.5, label="centroid gap")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of solutions
        ax.set(xlabel="distance from the common origin (weight units)", ylabel="solutions", title=_panel_title(a))
        ax.legend(fontsize="x-small")
    return fig


def _kpca_scatter(ax, kp, pair, title: str) -> None:
    """Scores on the first two kernel principal components, one book colour per set of ``pair``."""
    for lab, s in enumerate(pair):
        m = kp.labels == lab
        ax.scatter(kp.scores[m, 0], kp.scores[m, 1], color=color(s), label=s, s=22)
    ax.set(xlabel="PC1", ylabel="PC2", title=title)
    ax.legend(fontsize="x-small")


def kpca_panels(sep, pair, kernels, archs=None, *, panel: tuple[float, float] = (4.8, 3.9)):
    """Scatter of the first two kernel principal components: rows are kernels, columns architectures.

    ``sep`` is a :class:`lls_core.topography.KPCASeparation`; ``pair`` the two set names
    projected together; ``archs`` defaults to every architecture in ``sep``. Each panel's
    title gives the PC1 separation (ROC AUC). Returns the figure.
    """
    import matplotlib.pyplot as plt

    pair = (pair[0], pair[1])
    kernels = list(kernels)
    archs = list(dict.fromkeys(a for a, _, _ in sep.projections)) if archs is None else list(archs)
    if not kernels or not archs:
        raise ValueError(f"kpca_panels needs kernels and architectures; got kernels={kernels}, archs={archs}")
    fig, axes = plt.subplots(len(kernels), len(archs), figsize=(panel[0] * len(archs), panel[1] * len(kernels)),
                             squeeze=False, layout="constrained")
    for r, k in enumerate(kernels):
        for c, a in enumerate(archs):
            row = sep.row(a, pair, k)  # KeyError naming what exists
            _kpca_scatter(axes[r, c], sep.projections[(a, pair, k)], pair,
                          f"{a}, {k} kernel: AUC(PC1) = {float(row['AUC (PC1)']):.2f}")
    return fig


def kpca_grid(projections, aucs, pair, *, columns: int | None = None, panel: tuple[float, float] = (4.25, 3.9)):
    """Kernel PCA scatters of the two sets ``pair``, one panel per key of ``projections``.

    ``projections``: ``{key: landscape.KPCA}`` (a key is a title or a tuple such as
    ``(arch, kernel, "aligned")``, shown joined by commas); ``aucs``: ``{key: PC1 separation
    (ROC AUC)}`` for the same keys, in each title. Panels fill rows of ``columns``. Returns the figure.
    """
    keys = list(projections)
    if not keys or set(keys) != set(aucs):
        raise ValueError(f"kpca_grid needs the same, non-empty keys for projections and aucs; got {keys} and "
                         f"{list(aucs)}")
    pair = (pair[0], pair[1])
    fig, axes = _panel_grid(len(keys), columns, panel)
    for ax, key in zip(axes, keys):
        _kpca_scatter(ax, projections[key], pair, f"{_panel_title(key)}: AUC = {float(aucs[key]):.2f}")
    return fig


def trio_histograms(distance, eigenvalue, *, title: str = "", bins: int = 12,
                    panel: tuple[float, float] = (5.0, 3.6)):
    """Two panels of step histograms for a few weight sets: distance (left) and λₘₐₓ (right).

    ``distance`` and ``eigenvalue``: ``{set name: (K,) array}`` with the same set names
    (e.g. from :func:`lls_core.topography.trio_distances` and the sharpness results). The
    eigenvalues get a log axis when all are positive. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    names = list(distance)
    if not names or set(names) != set(eigenvalue):
        raise ValueError(f"distance and eigenvalue need the same, non-empty set names; got {names} and "
                         f"{list(eigenvalue)}")
    d_all = np.concatenate([np.asarray(distance[s], dtype=float) for s in names])
    e_all = np.concatenate([np.asarray(eigenvalue[s], dtype=float) for s in names])
    positive = bool((e_all > 0).all())
    d_edges = np.histogram_bin_edges(d_all, bins=bins)
    e_edges = np.geomspace(e_all.min(), e_all.max(), bins + 1) if positive and e_all.max() > e_all.min() \
        else np.histogram_bin_edges(e_all, bins=bins)
    fig, axes = plt.subplots(1, 2, figsize=(2 * panel[0], panel[1]), layout="constrained")
    for i, s in enumerate(names):
        c, ls, lw = color(s), set_linestyle(s), max(2.4 - 0.4 * i, 0.9)
        axes[0].hist(distance[s], bins=d_edges, histtype="step", color=c, linestyle=ls, linewidth=lw, label=s)
        axes[1].hist(eigenvalue[s], bins=e_edges, histtype="step", color=c, linestyle=ls, linewidth=lw, label=s)
    if positive:
        axes[1].set_xscale("log")
        tidy_log_axis(axes[1], "x")
    axes[0].set(xlabel="distance from the common origin (weight units)", ylabel="solutions", title=title)
    axes[1].set(xlabel="largest Hessian eigenvalue λₘₐₓ", ylabel="solutions", title=title)
    for ax in axes:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].legend(fontsize="x-small")
    return fig


def path_vs_line(frame, sets, *, size: tuple[float, float] = (5.5, 4.5)):
    """Scatter of found path heights against straight-line heights, one colour per weight set.

    ``frame`` has columns ``set``, ``height`` and ``linear_height`` (one row per pair, both
    heights in loss units); sets are drawn in the order of ``sets`` (names missing from the
    frame are skipped), training sets as circles and test sets as triangles, with the
    diagonal dashed: points below it are pairs the path search improved. Returns the figure.

    >>> import pandas as pd
    >>> fig = path_vs_line(pd.DataFrame({"set": ["SGD-train"], "height": [0.5], "linear_height": [0.8]}),
    ...                    ["SGD-train"])
    """
    import matplotlib.pyplot as plt

    missing = {"set", "height", "linear_height"} - set(frame.columns)
    if missing:
        raise ValueError(f"path_vs_line needs columns set, height, linear_height; missing {sorted(missing)}")
    if not len(frame):
        raise ValueError("path_vs_line needs at least one pair; got an empty frame")
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    for s in sets:
        sub = frame[frame["set"] == s]
        if len(sub):
            ax.scatter(sub["linear_height"], sub["height"], s=18, color=color(s), label=s,
                       marker="o" if s.endswith("train") else "^")
    both = frame[["height", "linear_height"]].to_numpy(dtype=float)
    lo, hi = float(both.min()), float(both.max())
    ax.plot([lo, hi], [lo, hi], color="0.5", lw=1, ls="--")
    ax.set(xlabel="straight-line height (loss)", ylabel="found path height (loss)")
    ax.legend(fontsize="x-small")
    return fig


def _set_strip(ax, sub, x: str, sets, *, xlabel: str, title: str, scale: Literal["linear", "auto"]) -> None:
    """One strip plot of column ``x`` of ``sub`` per weight set (rows in the order of ``sets``)."""
    import seaborn as sns

    order = [s for s in sets if s in set(sub["set"])]
    sns.stripplot(sub, x=x, y="set", order=order, hue="set", palette={s: color(s) for s in order}, ax=ax,
                  legend=False)
    if scale == "auto":
        ax.set_xscale("log" if (sub[x] > 0).all() else "symlog")
    ax.set(xlabel=xlabel, ylabel="", title=title)
    if ax.get_xscale() == "log":
        tidy_log_axis(ax, "x")
    elif ax.get_xscale() == "linear":  # a narrow range gets long labels (0.0325): few enough not to overprint
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))


def spread_strips(spread, sets, *, panel: tuple[float, float] = (5.2, 3.6)):
    """Standard deviation of each solution's weights, one strip per weight set and one panel per architecture.

    ``spread``: ``{arch: {set name: (K,) array}}``, the per-vector standard deviations in
    weight units (:func:`lls_core.topography.vector_spread` of each architecture's sets);
    rows follow the order of ``sets``. The per-vector version of Yu & Morozov's Table S1.
    Returns the figure.

    >>> import numpy as np
    >>> fig = spread_strips({"fcp": {"SGD-train": np.array([0.1, 0.2])}}, ["SGD-train"])
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    if not spread:
        raise ValueError("spread_strips needs at least one architecture's spreads; got none")
    archs = list(spread)
    fig, axes = plt.subplots(1, len(archs), figsize=(panel[0] * len(archs), panel[1]), squeeze=False,
                             layout="constrained")
    for ax, a in zip(axes[0], archs):
        sub = pd.concat([pd.DataFrame({"set": s, "sd": np.asarray(v, dtype=float)}) for s, v in spread[a].items()],
                        ignore_index=True)
        _set_strip(ax, sub, "sd", sets, xlabel="s.d. of one solution's weights (weight units)", title=network_name(a),
                   scale="linear")
    return fig


def sharpness_strips(frame, sets, archs=None, *, panel: tuple[float, float] = (5.0, 3.6)):
    """Largest Hessian eigenvalue (left) and Hessian trace (right) at every solution, one row per architecture.

    ``frame`` has columns ``arch``, ``set``, ``top_eigenvalue`` and ``trace`` (one row per
    solution, as :func:`lls_core.topography.sharpness_frame` gives with an ``arch`` column
    added); ``archs`` defaults to the frame's architectures in order of appearance. Each
    panel has one strip per weight set (in the order of ``sets``) and a log axis when all
    its values are positive (else symmetric-log); panels of one row share their set axis.
    Returns the figure.

    >>> import pandas as pd
    >>> fig = sharpness_strips(pd.DataFrame({"arch": ["fcp"] * 2, "set": ["SGD-train"] * 2,
    ...                                      "top_eigenvalue": [1.0, 2.0], "trace": [10.0, 30.0]}), ["SGD-train"])
    """
    import matplotlib.pyplot as plt

    missing = {"arch", "set", "top_eigenvalue", "trace"} - set(frame.columns)
    if missing:
        raise ValueError(f"sharpness_strips needs columns arch, set, top_eigenvalue, trace; missing {sorted(missing)}")
    archs = list(dict.fromkeys(frame["arch"])) if archs is None else list(archs)
    if not archs:
        raise ValueError("sharpness_strips needs at least one architecture; got none")
    fig, axes = plt.subplots(len(archs), 2, figsize=(2 * panel[0], panel[1] * len(archs)), squeeze=False,
                             sharey="row", layout="constrained")
    for r, a in enumerate(archs):
        sub = frame[frame["arch"] == a]
        if not len(sub):
            raise ValueError(f"sharpness_strips: no solutions of architecture {a!r}; the frame has "
                             f"{sorted(set(frame['arch']))}")
        for ax, col, lab in ((axes[r, 0], "top_eigenvalue", "largest Hessian eigenvalue"),
                             (axes[r, 1], "trace", "Hessian trace (Hutchinson)")):
            _set_strip(ax, sub, col, sets, xlabel=f"{lab} (loss per weight unit²)", title=network_name(a), scale="auto")
    return fig


# ---------------------------------------------------------------------------
# The visualization chapter (lls_core.visualize / lls_core.vizstudy results)
# ---------------------------------------------------------------------------


def slice_map_grid(slices, maps, *, panel: tuple[float, float] = (3.7, 6.6)):
    """Filter-normalized 2-D slices (top row) and Li et al.'s convexity maps (bottom row), one column per network.

    ``slices``: ``{label: visualize.Slice2D}``, drawn as log₁₀ of the training loss on one
    colour scale; ``maps``: ``{label: visualize.CurvatureMap}`` with the same labels, drawn as
    ``|λmin/λmax|`` on ``[0, 1]``. Both axes are in filter-normalized units. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from . import visualize as vz

    labels = list(slices)
    if not labels or set(labels) != set(maps):
        raise ValueError(f"slice_map_grid needs the same, non-empty labels for slices and maps; got {labels} and "
                         f"{list(maps)}")
    zs = [np.log10(np.maximum(slices[k].loss, 1e-12)) for k in labels]  # as visualize.plot_slice draws them
    zmin, zmax = min(float(np.nanmin(z)) for z in zs), max(float(np.nanmax(z)) for z in zs)
    fig, axes = plt.subplots(2, len(labels), figsize=(panel[0] * len(labels), panel[1]), layout="constrained",
                             squeeze=False)
    for j, k in enumerate(labels):
        cs = vz.plot_slice(axes[0, j], slices[k], title=k, vmin=zmin, vmax=zmax)
        im = vz.plot_map(axes[1, j], maps[k])
        axes[1, j].set_xlabel(r"$\alpha$ (filter-normalized)")
    for r in range(2):
        axes[r, 0].set_ylabel(r"$\beta$ (filter-normalized)")
    fig.colorbar(cs, ax=axes[0, :], shrink=0.85, label="log₁₀ training loss", ticks=colorbar_ticks(zmin, zmax))
    fig.colorbar(im, ax=axes[1, :], shrink=0.85, label=r"$|\lambda_{min}/\lambda_{max}|$")
    return fig


def run_strips(panels, *, panel: tuple[float, float] = (3.5, 3.4), wrap: int = 12):
    """One dot per run and a bar at the median, per level of a study; one panel per ``(table, column, ylabel)``.

    Each ``table`` has a ``label`` column (the level, e.g. ``"4 hidden layers"``; levels keep
    their order of appearance, labels wrapped at ``wrap`` characters) and the plotted
    ``column``. Returns the figure.
    """
    import textwrap

    import matplotlib.pyplot as plt
    import numpy as np

    panels = list(panels)
    if not panels:
        raise ValueError("run_strips needs at least one (table, column, ylabel) panel; got none")
    fig, axes = plt.subplots(1, len(panels), figsize=(panel[0] * len(panels), panel[1]), layout="constrained",
                             squeeze=False)
    for ax, (table, col, ylabel) in zip(axes[0], panels):
        if col not in table.columns or "label" not in table.columns:
            raise ValueError(f"run_strips: a table needs columns 'label' and {col!r}; it has {list(table.columns)}")
        labels = list(dict.fromkeys(table["label"]))
        for i, lab in enumerate(labels):
            vals = table.loc[table["label"] == lab, col].to_numpy(dtype=float)
            ax.scatter(np.full(len(vals), i) + np.linspace(-0.12, 0.12, len(vals)), vals, color="0.3", s=18)
            ax.hlines(np.median(vals), i - 0.25, i + 0.25, color="black")
        ax.set_xticks(range(len(labels)), [textwrap.fill(str(lab), wrap) for lab in labels])
        ax.set(ylabel=ylabel, xlim=(-0.6, len(labels) - 0.4))
    return fig


def batch_panels(table, colors, columns, *, full_batch: int | None = None,
                 panel: tuple[float, float] = (4.33, 3.6)):
    """One panel per ``(column, ylabel)`` of ``columns`` against the batch size (log axis): a dot per run, in the
    colour of its batch size, and a grey line through the medians.

    ``table`` has a ``batch`` column; ``colors``: ``{batch size: colour}`` (:func:`batch_colors`), whose keys
    are the batch sizes shown and ticked; ``full_batch`` is marked "(full)" in the legend. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    columns, sizes = list(columns), list(colors)
    if not columns or not sizes:
        raise ValueError(f"batch_panels needs columns and batch sizes; got columns={columns}, sizes={sizes}")
    fig, axes = plt.subplots(1, len(columns), figsize=(panel[0] * len(columns), panel[1]), layout="constrained",
                             squeeze=False)
    for ax, (col, label) in zip(axes[0], columns):
        med = table.groupby("batch")[col].median()
        ax.plot(med.index, med.values, color="0.5", linewidth=1, zorder=1)
        for b in sizes:
            vals = table.loc[table["batch"] == b, col]
            ax.scatter(np.full(len(vals), b), vals, color=colors[b], s=24, zorder=2,
                       label=f"batch {b}" + (" (full)" if b == full_batch else ""))
        ax.set(xscale="log", xlabel="batch size (images per step)", ylabel=label)
        ax.set_xticks(sizes, [str(b) for b in sizes])  # the batch sizes themselves, no overprinted log labels
        ax.minorticks_off()
    axes[0, 0].legend(loc="best")
    return fig


def normalization_slices(norm, colors, *, panel: tuple[float, float] = (4.33, 3.6)):
    """1-D slices under each direction normalization of a :class:`lls_core.vizstudy.NormalizationStudy`.

    One panel per normalization (its ``trends`` keys), one line per batch size of ``colors``
    (``{batch size: colour}``): the median over that batch size's runs of ``norm.curves[(normalization,
    (batch, seed))]``; the training loss on a shared log axis. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    names = list(norm.trends)
    if not names:
        raise ValueError("normalization_slices: the study has no normalizations")
    fig, axes = plt.subplots(1, len(names), figsize=(panel[0] * len(names), panel[1]), layout="constrained",
                             sharey=True, squeeze=False)
    for ax, nm in zip(axes[0], names):
        for b, c in colors.items():
            curves = [v for (n, key), v in norm.curves.items() if n == nm and key[0] == b]
            if not curves:
                raise ValueError(f"normalization_slices: no runs of batch size {b} under {nm!r} normalization")
            ax.plot(norm.alphas, np.median(np.stack(curves), axis=0), color=c, label=f"batch {b}")
        unit = "weight units" if nm == "none" else f"{nm}-normalized"
        ax.set(title="no normalization" if nm == "none" else f"{nm} normalization",
               xlabel=f"step along the direction ({unit})", yscale="log", xticks=np.linspace(-1, 1, 5))
    axes[0, 0].set_ylabel("training loss (cross-entropy)")
    tidy_log_axis(axes[0, 0], "y")  # plain ticks, no overprinted minor labels
    axes[0, 0].legend(loc="best")
    return fig


def trajectory_plane(plane, pca, *, size: tuple[float, float] = (5.6, 4.6)):
    """A training trajectory on the loss contours of its first two principal components.

    ``plane``: the :class:`lls_core.visualize.Slice2D` spanned by ``pca.directions`` (weight
    units); ``pca``: its :class:`lls_core.visualize.TrajectoryPCA`, whose ``coords`` are drawn as
    the path (the final weights at the star). Returns the figure.
    """
    import matplotlib.pyplot as plt

    from . import visualize as vz

    fig, ax = plt.subplots(figsize=size, layout="constrained")
    vz.plot_slice(ax, plane, path=pca.coords, colorbar=True)
    ax.set(xlabel=f"PC1 (weight units; {100 * pca.explained[0]:.0f}% of variance)",
           ylabel=f"PC2 (weight units; {100 * pca.explained[1]:.0f}%)")
    return fig


def trajectory_embeddings(embeddings, runs, colors, *, panel: tuple[float, float] = (5.5, 4.4)):
    """Trajectories embedded together, one panel per method (``{method: visualize.TrajectoryEmbedding}``).

    ``runs``: one ``(batch size, seed)`` per trajectory, in the order of each embedding's
    ``coords``; each path is drawn in its batch size's colour (``colors``), a circle at the start
    and a star at the end. MDS axes are in weight units; PHATE's have none. Returns the figure.
    """
    import matplotlib.pyplot as plt

    runs = list(runs)
    if not embeddings:
        raise ValueError("trajectory_embeddings needs at least one embedding; got none")
    fig, axes = plt.subplots(1, len(embeddings), figsize=(panel[0] * len(embeddings), panel[1]),
                             layout="constrained", squeeze=False)
    for ax, (m, e) in zip(axes[0], embeddings.items()):
        if len(e.coords) != len(runs):
            raise ValueError(f"trajectory_embeddings: {m} has {len(e.coords)} trajectories but {len(runs)} runs")
        shown: set = set()
        for (b, _), c in zip(runs, e.coords):
            ax.plot(c[:, 0], c[:, 1], color=colors[b], linewidth=1, label=None if b in shown else f"batch {b}")
            shown.add(b)
            ax.scatter(*c[0], color=colors[b], marker="o", s=20)
            ax.scatter(*c[-1], color=colors[b], marker="*", s=60, edgecolor="black", linewidth=0.4)
        unit = " (weight units)" if m == "mds" else ""
        ax.set(title=m.upper(), xlabel=f"{m.upper()} 1{unit}", ylabel=f"{m.upper()} 2{unit}")
    axes[0, 0].legend(loc="best")
    return fig


def segment_losses(lmc, color: str, *, size: tuple[float, float] = (6.0, 3.6)):
    """Training loss along each straight segment of a :class:`lls_core.vizstudy.ChordBarriers` (one line per pair,
    ``t`` = 0 and 1 at the two solutions), log axis. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, layout="constrained")
    for curve in lmc.loss:
        ax.plot(lmc.ts, curve, color=color, alpha=0.8)
    ax.set(xlabel="t along the segment (0 and 1: the two solutions)", ylabel="training loss (cross-entropy)",
           yscale="log")
    return fig


def hessian_spectrum(sd, top_values, *, smoothing: float = 0.01, n: int = 800,
                     size: tuple[float, float] = (7.0, 3.6)):
    """Hessian eigenvalue density of a :class:`lls_core.hessian.SpectralDensity` on a log axis, with the
    eigenvalues ``top_values`` (e.g. the top Lanczos ones) as dashed lines.

    The density is smoothed by a Gaussian of width ``smoothing`` times the span of the Ritz
    values and drawn on ``n`` points reaching five widths beyond them. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    if not smoothing > 0:
        raise ValueError(f"smoothing={smoothing!r}: must be positive")
    lo, hi = sd.extremes
    sigma = smoothing * (hi - lo) if hi > lo else smoothing * max(abs(lo), 1.0)
    grid = np.linspace(lo - 5 * sigma, hi + 5 * sigma, n)
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    ax.semilogy(grid, np.maximum(sd.density(grid, sigma), 1e-12))
    for v in np.asarray(top_values, dtype=float).ravel():
        ax.axvline(v, color="grey", linestyle="--", linewidth=0.8)
    ax.set(xlabel=r"eigenvalue $\lambda$ (loss per squared weight unit)", ylabel="density (fraction of d per unit)",
           ylim=(1e-8, None))
    return fig


# ---------------------------------------------------------------------------
# The symmetry chapter: raw against aligned weight sets
# ---------------------------------------------------------------------------

_BARRIER_KINDS = (("straight line", "linear_height"), ("FourierPathFinder", "height"))


def raw_aligned_bars(frame, raw: str, aligned: str, *, ylabel: str, panel: tuple[float, float] = (5.6, 3.6)):
    """Per weight set, a hatched bar for column ``raw`` and a solid one for ``aligned``; one panel per ``arch``.

    ``frame`` has columns ``arch``, ``set``, ``raw`` and ``aligned`` (one row per set); bars keep
    the sets' book colours. Returns the figure.
    """
    import numpy as np

    missing = {"arch", "set", raw, aligned} - set(frame.columns)
    if missing:
        raise ValueError(f"raw_aligned_bars: missing columns {sorted(missing)}; the frame has {list(frame.columns)}")
    archs = list(dict.fromkeys(frame["arch"]))
    if not archs:
        raise ValueError("raw_aligned_bars needs at least one row; got an empty frame")
    fig, axes = _panel_grid(len(archs), None, panel)
    for ax, a in zip(axes, archs):
        sub = frame[frame["arch"] == a]
        xs = np.arange(len(sub))
        cols = [color(s) for s in sub["set"]]
        ax.bar(xs - 0.2, sub[raw], 0.4, color=cols, alpha=0.45, hatch="//", label="raw")
        ax.bar(xs + 0.2, sub[aligned], 0.4, color=cols, label="aligned")
        ax.set_xticks(xs, list(sub["set"]), rotation=30, ha="right")
        ax.set(xlabel="weight set", ylabel=ylabel, title=a)
        ax.legend(fontsize="x-small")
    return fig


def _barrier_pairs(bars, bars_aligned, sets, landscape: str):
    """Check the two ``{arch: {(set, landscape): Barriers}}`` mappings; return the architectures."""
    archs = list(bars)
    if not archs or set(archs) != set(bars_aligned):
        raise ValueError(f"need the same, non-empty architectures raw and aligned; got {archs} and {list(bars_aligned)}")
    for a in archs:
        for s in sets:
            for name, b in (("raw", bars[a]), ("aligned", bars_aligned[a])):
                if (s, landscape) not in b:
                    raise ValueError(f"no {name} barriers of {s!r} on the {landscape} landscape for {a!r}; "
                                     f"have {sorted(b)}")
    return archs


def network_name(arch: str) -> str:
    """The display name of a study network (``"fcp"`` -> ``"FCP"``, :data:`lls_core.study.NETWORK_NAMES`);
    any other label unchanged."""
    from .study import NETWORK_NAMES  # the study (and torch) only when a network panel is drawn

    return NETWORK_NAMES.get(arch, arch)


def _spans_decade(values) -> bool:
    """Whether positive ``values`` span more than a factor 10: the figures' rule for a log axis."""
    return bool(values.size and values.min() > 0 and values.max() > 10 * values.min())


def _landscape_loss(landscape: str) -> str:
    """``"training loss"`` or ``"test loss"``: the axis words for a landscape."""
    return "training loss" if landscape == "train" else f"{landscape} loss"


def barrier_shift_scatter(bars, bars_aligned, sets, *, landscape: str = "train",
                          panel: tuple[float, float] = (5.0, 4.2)):
    """Each pair's barrier after alignment against its raw barrier: rows are architectures, the left column
    the straight line, the right FourierPathFinder.

    ``bars`` / ``bars_aligned``: ``{arch: {(set, landscape): landscape.Barriers}}`` for the same
    pairs; points below the dashed diagonal were lowered by the alignment. Heights spanning more
    than a factor 10 get log axes. Returns the figure.
    """
    import numpy as np

    archs = _barrier_pairs(bars, bars_aligned, sets, landscape)
    loss = _landscape_loss(landscape)
    fig, axes = _panel_grid(2 * len(archs), 2, panel)
    for r, a in enumerate(archs):
        for c, (kind, attr) in enumerate(_BARRIER_KINDS):
            ax = axes[2 * r + c]
            vals = []
            for s in sets:
                x = np.asarray(getattr(bars[a][(s, landscape)], attr), dtype=float)
                y = np.asarray(getattr(bars_aligned[a][(s, landscape)], attr), dtype=float)
                vals += [x, y]
                ax.scatter(x, y, color=color(s), label=s, s=24, marker="o" if s.endswith("train") else "^")
            v = np.concatenate(vals)
            ax.plot([v.min(), v.max()], [v.min(), v.max()], color="0.5", ls="--", lw=1)
            if _spans_decade(v):
                ax.set(xscale="log", yscale="log")
            ax.set(xlabel=f"raw barrier height, {loss} ({kind})", ylabel=f"aligned barrier height, {loss}",
                   title=f"{a}: {kind}")
            ax.legend(fontsize="x-small")
    return fig


def barrier_shift_histograms(bars, bars_aligned, sets, *, landscape: str = "train", bins: int = 12,
                             panel: tuple[float, float] = (5.5, 3.8)):
    """Histograms of barrier heights per set after alignment (filled) with the raw heights as dashed outlines;
    rows are architectures, the left column the straight line, the right FourierPathFinder.

    Arguments as for :func:`barrier_shift_scatter`; both histograms of a panel share bin edges
    (logarithmic when the heights span more than a factor 10). Returns the figure.
    """
    import numpy as np

    archs = _barrier_pairs(bars, bars_aligned, sets, landscape)
    loss = _landscape_loss(landscape)
    fig, axes = _panel_grid(2 * len(archs), 2, panel)
    for r, a in enumerate(archs):
        for c, (kind, attr) in enumerate(_BARRIER_KINDS):
            ax = axes[2 * r + c]
            allv = np.concatenate([np.asarray(getattr(bb[a][(s, landscape)], attr), dtype=float)
                                   for bb in (bars, bars_aligned) for s in sets])
            log = _spans_decade(allv)
            edges = np.geomspace(allv.min(), allv.max(), bins + 1) if log else np.histogram_bin_edges(allv, bins=bins)
            for s in sets:
                ax.hist(getattr(bars_aligned[a][(s, landscape)], attr), bins=edges, color=color(s), alpha=0.35,
                        label=f"{s}, aligned")
                ax.hist(getattr(bars[a][(s, landscape)], attr), bins=edges, color=color(s), histtype="step",
                        ls="--", lw=1.4, label=f"{s}, raw")
            if log:
                ax.set_xscale("log")
            ax.set(xlabel=f"barrier height, {loss} ({kind})", ylabel="pairs", title=f"{a}: {kind}")
            ax.legend(fontsize="xx-small", ncol=2, loc="best")
    return fig


def alignment_summary(distances_raw=None, distances_aligned=None, barriers_raw=None, barriers_aligned=None, *,
                      name: str = "LSTM (authors)", set_name: str = "BFGS-train", loss: str = "cross-entropy",
                      unit: str = "nats",
                      missing: str = "authors' LSTM file not present", bins: int = 25,
                      size: tuple[float, float] = (10.5, 3.9)):
    """One weight set before and after alignment: pairwise distances (left, raw dashed, aligned filled) and
    each sampled pair's straight-line barrier after alignment against its raw value (right, dashed diagonal).

    ``distances_*``: ``(P,)`` distances between solutions (weight units); ``barriers_*``: ``(Q,)``
    barriers of the same pairs raw and aligned (training ``loss`` in ``unit``). With any of them
    ``None`` both panels say ``missing`` instead (the figure still exists, with its labels).
    Drawn in the colour of ``set_name``. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    given = [v is not None for v in (distances_raw, distances_aligned, barriers_raw, barriers_aligned)]
    if any(given) and not all(given):
        raise ValueError("alignment_summary needs all four arrays or none")
    fig, axes = plt.subplots(1, 2, figsize=size, layout="constrained")
    c = color(set_name)
    if all(given):
        d_raw, d_al = np.asarray(distances_raw, dtype=float), np.asarray(distances_aligned, dtype=float)
        edges = np.histogram_bin_edges(np.concatenate([d_raw, d_al]), bins=bins)
        axes[0].hist(d_raw, bins=edges, color=c, histtype="step", ls="--", lw=1.5, label="raw")
        axes[0].hist(d_al, bins=edges, color=c, alpha=0.5, label="aligned")
        axes[0].legend(fontsize="x-small")
        h_raw, h_al = np.asarray(barriers_raw, dtype=float), np.asarray(barriers_aligned, dtype=float)
        axes[1].scatter(h_raw, h_al, color=c, s=24)
        v = np.r_[h_raw, h_al]
        axes[1].plot([v.min(), v.max()], [v.min(), v.max()], color="0.5", ls="--", lw=1)
    else:
        for ax in axes:
            ax.text(0.5, 0.5, missing, ha="center", va="center", transform=ax.transAxes)
    axes[0].set(xlabel="distance between two solutions (weight units)", ylabel="pairs of solutions",
                title=f"{name}: pairwise distances")
    axes[1].set(xlabel=f"raw straight-line barrier (training {loss}, {unit})",
                ylabel=f"aligned straight-line barrier ({unit})", title=f"{name}: barriers")
    return fig


# ---------------------------------------------------------------------------
# The L-BFGS-GSS chapter (lls_core.comparison / lbfgs_gss.RunTrace results)
# ---------------------------------------------------------------------------

_NATS = "training loss (cross-entropy, nats)"


def line_search_trials(first, *, optimizer: str = "L-BFGS-GSS", size: tuple[float, float] = (6.5, 3.8)):
    """The loss along one search direction (grey line) and a line search's trials, numbered in order, with the
    accepted step as a star.

    ``first``: a :class:`lls_core.comparison.FirstLineSearch` (``t_grid``, ``loss_grid`` and
    ``search.trials``, ``search.step``, ``search.value``); steps in parameter-space distance, the
    loss in nats. Drawn in the colour of ``optimizer``. Returns the figure.
    """
    import matplotlib.pyplot as plt

    c = color(optimizer)
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    ax.plot(first.t_grid, first.loss_grid, color="0.5", lw=1.5, label=r"$\varphi(t) = L(w_0 + t u)$")
    for i, (t, v) in enumerate(first.search.trials, start=1):
        ax.scatter(t, v, color=c, zorder=3)
        ax.annotate(str(i), (t, v), textcoords="offset points", xytext=(4, 4), fontsize=9)
    ax.scatter(first.search.step, first.search.value, marker="*", s=220, color=c, edgecolor="k", zorder=4,
               label="accepted step")
    ax.set_xlabel("step length $t$ along the unit direction (parameter-space distance)")
    ax.set_ylabel(_NATS)
    ax.legend()
    return fig


def surface_paths(runs, levels=None, *, panel: tuple[float, float] = (5.0, 4.8)):
    """Optimizer paths on filled contours of registry surfaces, one panel per surface.

    ``runs``: ``{surface name: {optimizer: lbfgs_gss.RunTrace}}`` with recorded ``path``;
    ``levels``: ``{surface name: contour levels}`` (default: the contour's own). Paths start at
    the open circle and end at the star; the listed minima are white dots; the first panel
    carries the legend. Returns the figure.
    """
    from . import surfaces

    names = list(runs)
    if not names:
        raise ValueError("surface_paths needs at least one surface; got none")
    levels = dict(levels or {})
    fig, axes = _panel_grid(len(names), None, panel)
    for i, (ax, s) in enumerate(zip(axes, names)):
        surf = surfaces.get(s)
        paths = {}
        for n, tr in runs[s].items():
            if tr.path is None:
                raise ValueError(f"surface_paths: the {n} run on {s!r} has no recorded path")
            paths[label(n)] = tr.path
        plot_contour(surf, ax, levels=levels.get(s, 30), mark_critical=("minima",), colorbar=False, legend=(i == 0),
                     title=surf.title, paths=paths, path_kw={"marker": ".", "markersize": 3})
    return fig


def _trace_style(name: str, variants) -> dict:
    """Colour (and dashes for a variant) of one run: ``variants`` maps a variant's name to its optimizer."""
    if name in variants:
        return {"color": color(variants[name]), "ls": "--"}
    return {"color": color(name)}


def loss_curves(runs, *, budget: int | None = None, variants=None, panel: tuple[float, float] = (5.0, 4.3)):
    """Training loss of several runs against iterations, loss evaluations and wall-clock seconds (log axis).

    ``runs``: ``{name: lbfgs_gss.RunTrace}``; a name in ``variants`` (``{variant name: optimizer}``)
    is drawn dashed in its optimizer's colour, every other name in its own book colour.
    ``budget``: the evaluation budget, marked by a dotted line (the middle panel ends just past
    it). Returns the figure.
    """
    import numpy as np

    variants = dict(variants or {})
    if not runs:
        raise ValueError("loss_curves needs at least one run; got none")
    fig, axes = _panel_grid(3, None, panel, sharey=True)
    for n, tr in runs.items():
        style = _trace_style(n, variants)
        for ax, xs in zip(axes, (np.arange(len(tr.loss)), tr.evaluations, tr.seconds)):
            ax.plot(xs, tr.loss, label=label(n), lw=1.6, **style)
    for ax, xlabel in zip(axes, ("iterations", "loss evaluations (forward or forward+backward)", "wall clock (s)")):
        ax.set_xlabel(xlabel)
        ax.set_yscale("log")
    axes[0].set_ylabel(_NATS)
    if budget is not None:
        axes[1].set_xlim(0, 1.02 * budget)
        axes[1].axvline(budget, color="0.6", lw=0.8, ls=":")
    axes[0].legend()
    return fig


def evaluation_gap(per_iteration, step_ratios, *, variants=None, max_evaluations: int = 8,
                   size: tuple[float, float] = (12.0, 4.0)):
    """(a) The share of iterations that spent 1, 2, ... ``max_evaluations`` loss evaluations, per run;
    (b) histograms of the accepted step as a multiple of the quasi-Newton step (log axis).

    ``per_iteration``: ``{name: (n,) evaluations of each iteration}`` (integers);
    ``step_ratios``: ``{name: (m,) positive ratios}``; ``variants`` as in :func:`loss_curves`
    (a variant's bars are a lighter shade of its optimizer's colour). Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    variants = dict(variants or {})
    names = list(per_iteration)
    if not names:
        raise ValueError("evaluation_gap needs at least one run; got none")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=size, layout="constrained")
    width = 0.8 / len(names)
    ks = np.arange(1, max_evaluations + 1)
    for i, n in enumerate(names):
        counts = np.asarray(per_iteration[n], dtype=int)
        share = np.bincount(counts, minlength=max_evaluations + 1)[1:max_evaluations + 1] / max(len(counts), 1)
        c = color(variants.get(n, n))
        ax1.bar(ks + (i - (len(names) - 1) / 2) * width, share, width=width, color=c,
                alpha=0.45 if n in variants else 1.0, label=label(n))
    ax1.set(xlabel="loss evaluations in one iteration", ylabel="share of iterations")
    ax1.set_title("(a)", loc="left")
    ax1.legend(fontsize="x-small", loc="lower center", bbox_to_anchor=(0.5, 1.02), ncol=2)  # above the bars
    bins = np.logspace(-3, 1.5, 28)
    for n, r in step_ratios.items():
        ax2.hist(np.asarray(r, dtype=float), bins=bins, alpha=0.7, color=color(variants.get(n, n)), label=label(n))
    ax2.set_xscale("log")
    ax2.set(xlabel="accepted step / quasi-Newton step", ylabel="iterations")
    ax2.set_title("(b)", loc="left")
    ax2.legend()
    return fig


def mode_curves(runs, *, optimizer: str = "L-BFGS-GSS", size: tuple[float, float] = (8.0, 4.2)):
    """Training loss per iteration of L-BFGS-GSS in its two modes, with the iterations that matter marked.

    ``runs``: ``{"authors": RunTrace, "safe": RunTrace}`` with ``diagnostics``. The authors' mode
    is solid with open circles at its uphill steps; the safe mode dashed with crosses where it
    took no step. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    marks = {"authors": ("-", "o", "uphill", "uphill step"), "safe": ("--", "x", "no_decrease", "no step taken")}
    unknown = sorted(set(runs) - set(marks))
    if unknown or not runs:
        raise ValueError(f"mode_curves takes runs of the modes authors and safe; got {sorted(runs)}")
    c = color(optimizer)
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    for mode, tr in runs.items():
        line, marker, attr, what = marks[mode]
        if tr.diagnostics is None:
            raise ValueError(f"mode_curves: the {mode} run has no diagnostics (a truncated trace?)")
        ax.plot(np.arange(len(tr.loss)), tr.loss, line, color=c, lw=1.5, label=f"{mode} mode")
        hit = np.nonzero(np.asarray(getattr(tr.diagnostics, attr), dtype=bool))[0] + 1
        ax.plot(hit, tr.loss[hit], marker, mfc="none", color=c, ms=5, label=what)
    ax.set(xlabel="iteration", ylabel=_NATS, yscale="log")
    ax.legend()
    return fig


# ---------------------------------------------------------------------------
# The surfaces chapter
# ---------------------------------------------------------------------------


def contour_panels(panels, *, n: int = 201, panel: tuple[float, float] = (4.7, 4.2)):
    """A row of :func:`plot_contour` panels: ``panels`` is a sequence of ``(surface, options)``, the options
    being :func:`plot_contour` keywords for that panel (``levels``, ``title``, ``legend``, ...); ``n`` grid
    points per axis unless an option says otherwise. Returns the figure.
    """
    panels = list(panels)
    if not panels:
        raise ValueError("contour_panels needs at least one (surface, options) panel; got none")
    fig, axes = _panel_grid(len(panels), None, panel)
    for ax, (surface, options) in zip(axes, panels):
        plot_contour(surface, ax, **{"n": n, **dict(options)})
    return fig


def printed_saddle(printed_layer, bounded_layer, printed, top: float, *, wells=(), n: int = 201,
                   size: tuple[float, float] = (10.5, 4.2)):
    """Survey Fig. 10's saddle layer as printed against the book's bounded one.

    Left: both layers along the line ``x = -2`` (log axis), with the height ``top`` of the
    bounded surface's mound dotted. Right: the surface ``printed`` (panel (c) with the printed
    saddle) on levels from -3 to ``top``; where it lies above ``top`` it is white. ``wells``:
    ``(x, y)`` centres of the well layers, marked +. The printed layer is drawn in the colour
    of torch's L-BFGS (red), the bounded one in L-BFGS-GSS's (blue), as before. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    fig, axes = plt.subplots(1, 2, figsize=size, layout="constrained")
    y = torch.linspace(-3.5, 3.5, 400, dtype=torch.float64)
    line = torch.stack([torch.full_like(y, -2.0), y], dim=-1)
    axes[0].semilogy(y, printed_layer(line), label="as printed", color=color("L-BFGS"))
    axes[0].semilogy(y, bounded_layer(line), label="bounded (book)", color=color("L-BFGS-GSS"))
    axes[0].axhline(top, color="grey", ls=":", lw=1, label="top of the mound")
    axes[0].set(xlabel="$y$ (on the line $x = -2$)", ylabel="saddle layer height (log scale)", ylim=(1e-3, None))
    axes[0].legend()
    X, Y, Z = printed.grid(n=n)
    ax = plot_contour(printed, axes[1], n=n, levels=np.linspace(-3.0, top, 31), mark_critical=("minima",),
                      title="panel (c) as printed")
    ax.contourf(X, Y, Z, levels=[top, max(float(Z.max()), top + 1.0)], colors=["white"])
    wells = list(wells)
    if wells:
        ax.scatter(*zip(*wells), marker="+", color="k", s=60, label="wells of the layers alone", zorder=8)
    ax.legend(loc="upper right", fontsize="x-small", frameon=True)
    return fig


def noise_snapshots(snapshots, times, marks, *, levels, n: int = 201, panel: tuple[float, float] = (4.3, 4.0)):
    """Contours of the same surface at several times on one colour scale, with one point of each marked by a
    star (``snapshots``: surfaces; ``times``: their times; ``marks``: one ``(x, y)`` per snapshot, e.g. its
    lowest grid point; ``levels``: the shared contour levels). Returns the figure."""
    import numpy as np

    snapshots, times, marks = list(snapshots), list(times), list(marks)
    if not snapshots or not len(snapshots) == len(times) == len(marks):
        raise ValueError(f"noise_snapshots needs one time and one mark per snapshot; got {len(snapshots)} "
                         f"snapshots, {len(times)} times, {len(marks)} marks")
    levels = np.asarray(levels, dtype=float)
    fig, axes = _panel_grid(len(snapshots), None, panel)
    for ax, s, t, (x, y) in zip(axes, snapshots, times, marks):
        plot_contour(s, ax, n=n, levels=levels, mark_critical=False, colorbar=False, title=f"t = {t:g}")
        ax.plot(x, y, "*", color="white", markeredgecolor="k", markersize=12)
    fig.colorbar(axes[0].collections[0], ax=list(axes), shrink=0.85, label="$z = f(x, y)$",
                 ticks=colorbar_ticks(levels[0], levels[-1]))
    return fig


def toy_straight_path(toy, a, b, *, saddles=(), n: int = 201, size: tuple[float, float] = (10.5, 4.2)):
    """The straight path from ``a`` to ``b`` on the contours of ``toy`` (left) and the height along it (right),
    with the heights ``saddles`` (lowest first; at most two drawn) dotted. Returns the figure."""
    import matplotlib.pyplot as plt
    import torch

    t = torch.linspace(0, 1, 201, dtype=torch.float64)[:, None]
    line = (1 - t) * torch.tensor(a, dtype=torch.float64) + t * torch.tensor(b, dtype=torch.float64)
    fig, axes = plt.subplots(1, 2, figsize=size, gridspec_kw={"width_ratios": [1.1, 1]}, layout="constrained")
    plot_contour(toy, axes[0], n=n, levels=30, paths={"Linear": line})
    axes[1].plot(t[:, 0], toy(line), color=color("Linear"), label="straight path")
    for h, lab, c in zip(sorted(saddles)[:2], ("lower saddle", "second saddle"), ("k", "grey")):
        axes[1].axhline(h, ls=":", lw=1, color=c, label=lab)
    fmt = lambda p: f"({p[0]:.2f}, {p[1]:.2f})".replace("-", "−")  # noqa: E731
    axes[1].set(xlabel=f"path parameter $t$ (0 at {fmt(a)}, 1 at {fmt(b)})", ylabel="height $f$")
    axes[1].legend()
    return fig


# ---------------------------------------------------------------------------
# The path-finder chapter (lls_core.pathfinder.PathResult)
# ---------------------------------------------------------------------------

TOY_VIEW = ((-0.8, 0.8), (-0.75, 0.6))
"""The part of the toy landscape the path figures show, ``((x0, x1), (y0, y1))``."""


def toy_paths(toy, paths, *, colors: Literal["shades", "book"] = "shades", titles: bool = True, domain=TOY_VIEW,
              size: tuple[float, float] = (11.0, 4.5)):
    """Paths between the same two points of a 2-D surface: on its contours (left) and the loss along each
    against the curve parameter ``t`` (right), with the straight line dashed in both.

    ``paths``: ``{label: pathfinder.PathResult}`` (the first one's ``w1``, ``w2``, ``t`` and
    ``linear_losses`` give the straight line); ``colors``: ``"shades"`` of blue in order (a family
    such as several λ) or each label's ``"book"`` colour (labels such as ``"Bezier"``). Dots mark
    the discretised points. ``domain``: the window ``((x0, x1), (y0, y1))``. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    from . import pathfinder

    labels = list(paths)
    if not labels:
        raise ValueError("toy_paths needs at least one path; got none")
    if colors not in ("shades", "book"):
        raise ValueError(f"colors={colors!r}; valid: shades, book")
    shades = plt.get_cmap("Blues")(np.linspace(0.45, 0.95, len(labels)))
    colour = dict(zip(labels, shades)) if colors == "shades" else {lab: color(lab) for lab in labels}
    (x0, x1), (y0, y1) = domain
    gx, gy = np.meshgrid(np.linspace(x0, x1, 200), np.linspace(y0, y1, 200))
    gz = toy(torch.tensor(np.stack([gx, gy], -1))).numpy()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=size, layout="constrained")
    cs = ax.contour(gx, gy, gz, levels=30, cmap="viridis", linewidths=0.7)
    fig.colorbar(cs, ax=ax, label="f(x, y)")
    first = paths[labels[0]]
    straight = pathfinder.path_points(first.w1, first.w2, torch.zeros_like(first.b), first.t).numpy()
    ax.plot(straight[:, 0], straight[:, 1], "--", color=color("Linear"), label="straight line")
    bx.plot(first.t, first.linear_losses, "--", color=color("Linear"), label="straight line")
    for lab in labels:
        r, c = paths[lab], colour[lab]
        p = r.points.numpy()
        ax.plot(p[:, 0], p[:, 1], ".-", color=c, lw=1.2, ms=3, label=str(lab))
        bx.plot(r.t, r.losses, color=c, label=str(lab))
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y")
    bx.set(xlabel="curve parameter t", ylabel="f(w(t))")
    if titles:
        ax.set_title("(a) paths on the landscape")
        bx.set_title("(b) loss along the path")
    ax.legend(loc="upper left")
    bx.legend()
    return fig


def lambda_sweep(sweep, line, *, size: tuple[float, float] = (7.0, 4.0)):
    """Height (left axis) and length (right axis) of the found path against λ (log axis), with the straight
    line's height and length dotted.

    ``sweep``: a frame with columns ``lambda``, ``height``, ``length``; ``line``: any
    :class:`lls_core.pathfinder.PathResult` between the same points (its ``linear_height`` and
    ``linear_length``). Returns the figure.
    """
    import matplotlib.pyplot as plt

    missing = {"lambda", "height", "length"} - set(sweep.columns)
    if missing:
        raise ValueError(f"lambda_sweep: missing columns {sorted(missing)}")
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    ax.semilogx(sweep["lambda"], sweep["height"], "o-", color=color("FourierPathFinder"), label="height")
    ax.axhline(line.linear_height, ls=":", color=color("FourierPathFinder"))
    ax.set(xlabel="λ", ylabel="path height max f(w(tᵢ))")
    ax2 = ax.twinx()
    ax2.semilogx(sweep["lambda"], sweep["length"], "s--", color=color("Bezier"), label="length")
    ax2.axhline(line.linear_length, ls=":", color=color("Bezier"))
    ax2.set_ylabel("path length (units of x, y)")
    ax2.grid(False)
    fig.legend(loc="outside upper center", ncol=2)
    return fig


def network_path(result, *, loss: str = "training loss (cross-entropy)", size: tuple[float, float] = (7.0, 4.0)):
    """The loss along the straight line (dashed) and along the found path between two networks, against the
    curve parameter ``t`` (log axis); ``result``: a :class:`lls_core.pathfinder.PathResult`. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, layout="constrained")
    ax.plot(result.t, result.linear_losses, "--", color=color("Linear"), label="straight line")
    ax.plot(result.t, result.losses, color=color("FourierPathFinder"), label="FourierPathFinder")
    ax.set(xlabel="curve parameter t", ylabel=loss, yscale="log")
    ax.legend()
    return fig


def network_lambda_sweep(sweep, line, *, marked: float | None = None, size: tuple[float, float] = (7.0, 4.0)):
    """The found path's height between two networks against λ (log axes), the straight line's height dotted
    and the λ ``marked`` (e.g. the book's default) as a thin dashed line. ``sweep``: columns ``lambda`` and
    ``height``; ``line``: a :class:`lls_core.pathfinder.PathResult` between the same networks. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, layout="constrained")
    ax.semilogx(sweep["lambda"], sweep["height"], "o-", color=color("FourierPathFinder"), label="path height")
    ax.axhline(line.linear_height, ls=":", color=color("Linear"), label="straight line")
    if marked is not None:
        ax.axvline(marked, ls="--", color="0.6", lw=0.8)
    ax.set(xlabel="λ", ylabel="path height (training loss)", yscale="log")
    ax.legend()
    return fig


# ---------------------------------------------------------------------------
# The optimizer benchmark chapter (lls_core.optimizers.SurfaceRun, benchmark results)
# ---------------------------------------------------------------------------


def table4_paths(surface, runs, minimum, *, surface_index: int = 3, window: float = 4.0,
                 size: tuple[float, float] = (7.0, 6.0)):
    """The survey's Table 4 runs on one surface: contour lines, one path per algorithm (a dot where it ended),
    the common start (black dot) and the global ``minimum`` (star).

    ``runs``: the survey runs (``algorithms``, ``points`` ``(A, S, T, 2)``, ``start``);
    ``surface_index`` selects the surface within ``points``; the view is ``[-window, window]²``.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, layout="constrained")
    X, Y, Z = surface.grid(200, domain=((-window, window), (-window, window)))
    cs = ax.contour(X, Y, Z, levels=30, cmap="viridis", linewidths=0.7)
    fig.colorbar(cs, ax=ax, label="f(x, y)")
    for i, a in enumerate(runs.algorithms):
        p = runs.points[i, surface_index]
        ax.plot(p[:, 0], p[:, 1], color=color(a), lw=1.6, label=a)
        ax.plot(*p[-1], "o", color=color(a), ms=4)
    ax.plot(*runs.start, "ko", ms=6)
    ax.plot(*minimum, "*", color="crimson", ms=14, label="global minimum")
    ax.set(xlim=(-window, window), ylim=(-window, window), xlabel="x", ylabel="y", aspect="equal")
    ax.legend(fontsize="small", loc="lower right", ncol=2)
    return fig


def sgd_paths(surface_names, noisy, exact, *, n_paths: int, half_width: float = 0.0,
              panel: tuple[float, float] = (3.75, 4.0)):
    """Noisy-gradient paths (``noisy``, e.g. SGD) and exact-gradient paths from the same starts (``exact``,
    e.g. BGD, dashed) on each surface of ``surface_names``; dots at the starts, crosses where the noisy runs
    stopped. ``noisy``/``exact``: :class:`lls_core.optimizers.SurfaceRun` with trajectories, surfaces in the
    order of ``surface_names``; the first ``n_paths`` starts are drawn; each view is the surface's domain
    widened to at least ``half_width``. Returns the figure."""
    from . import surfaces

    names = list(surface_names)
    if not names:
        raise ValueError("sgd_paths needs at least one surface; got none")
    if noisy.trajectory is None or exact.trajectory is None:
        raise ValueError("sgd_paths needs runs that recorded their trajectories (record_every)")
    fig, axes = _panel_grid(len(names), None, panel)
    for k, (ax, name) in enumerate(zip(axes, names)):
        s = surfaces.get(name)
        (x0, x1), (y0, y1) = s.domain
        lim = max(abs(x0), abs(x1), half_width)
        X, Y, Z = s.grid(160, domain=((-lim, lim), (-lim, lim)))
        ax.contour(X, Y, Z, levels=25, cmap="viridis", linewidths=0.7)
        for i in range(n_paths):
            tr = noisy.trajectory[k, i].numpy()
            ax.plot(tr[:, 0], tr[:, 1], color=color(noisy.optimizer), lw=1)
            bt = exact.trajectory[k, i].numpy()
            ax.plot(bt[:, 0], bt[:, 1], color=color(exact.optimizer), lw=0.8, ls="--")
            ax.plot(*tr[0], "o", color="k", ms=3)
            ax.plot(*noisy.final_x[k, i].numpy(), "x", color="crimson", ms=5)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="x", ylabel="y" if k == 0 else "", title=s.title,
               aspect="equal")
    return fig


def loss_profiles(results, surface_names, *, panel: tuple[float, float] = (4.0, 3.5)):
    """Median loss (top row, symmetric-log) and median effective step ``|dx| / |g|`` (bottom row, log) against
    the iteration, one column per surface and one line per algorithm.

    ``results``: ``{algorithm: optimizers.SurfaceRun}`` recorded with ``record_every`` (``loss_trace``,
    ``step_ratio``, ``record_iters``), surfaces in the order of ``surface_names``. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    from . import surfaces

    names = list(surface_names)
    if not names or not results:
        raise ValueError(f"loss_profiles needs algorithms and surfaces; got {list(results)} and {names}")
    fig, axes = plt.subplots(2, len(names), figsize=(panel[0] * len(names), 2 * panel[1]), sharex=True,
                             squeeze=False, layout="constrained")
    for a, r in results.items():
        if r.record_iters is None or r.loss_trace is None or r.step_ratio is None:
            raise ValueError(f"loss_profiles: the {a} run recorded no trajectory (record_every)")
    for k, name in enumerate(names):
        for a, r in results.items():
            it = r.record_iters.numpy()
            axes[0, k].plot(it, np.nanmedian(r.loss_trace[k].numpy(), axis=0), color=color(a), lw=1.4, label=a)
            sr = r.step_ratio[k].numpy()
            ok = np.isfinite(sr).any(0)
            with np.errstate(all="ignore"):
                axes[1, k].plot(it[ok], np.nanmedian(sr[:, ok], axis=0), color=color(a), lw=1.2)
        axes[0, k].set(title=surfaces.get(name).title, yscale="symlog", ylabel="median loss")
        axes[1, k].set(yscale="log", xlabel="iteration", ylabel="|dx| / |g|")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=6, fontsize="small")
    return fig


def success_heatmaps(sweep, algorithms, surface_labels=("I", "II", "IV"), *, panel: tuple[float, float] = (5.0, 4.5)):
    """Success rate (%) of each algorithm (rows, in the order of ``algorithms``) at each learning rate
    (columns), one panel per surface label; the value is printed in each cell.

    ``sweep``: a frame with columns ``surface``, ``algorithm``, ``lr``, ``success_pct`` (e.g.
    :func:`lls_core.benchmark.lr_sweep`). Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    labels = list(surface_labels)
    if not labels:
        raise ValueError("success_heatmaps needs at least one surface; got none")
    fig, axes = plt.subplots(1, len(labels), figsize=(panel[0] * len(labels), panel[1]), sharey=True, squeeze=False,
                             layout="constrained")
    for ax, surf in zip(axes[0], labels):
        sub = sweep[sweep.surface == surf]
        if not len(sub):
            raise ValueError(f"success_heatmaps: no rows for surface {surf!r}; have {sorted(set(sweep.surface))}")
        grid = sub.pivot(index="algorithm", columns="lr", values="success_pct").loc[list(algorithms)]
        im = ax.imshow(grid.values, vmin=0, vmax=100, cmap="viridis", aspect="auto")
        ax.set_xticks(range(grid.shape[1]), [f"{c:g}" for c in grid.columns], rotation=45)
        ax.set_yticks(range(grid.shape[0]), list(grid.index))
        for (i, j), v in np.ndenumerate(grid.values):
            ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=7, color="w" if v < 60 else "k")
        ax.set(title=f"Use Case {surf}", xlabel="learning rate")
        ax.grid(False)
    fig.colorbar(im, ax=list(axes[0]), label="success (%)", shrink=0.8)
    return fig

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

import matplotlib

from . import checks, resources

__all__ = [
    "OPTIMIZER_COLORS",
    "SET_COLORS",
    "color",
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


_SET_LINESTYLES = {"train": "-", "test": "--"}


def set_linestyle(name: str) -> str:
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
        log = bool(heights.size and heights.min() > 0 and heights.max() > 10 * heights.min())
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
        ax.set_title(arch)
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


def distance_histograms(dists, *, bins: int = 12, panel: tuple[float, float] = (5.2, 3.6)):
    """Histograms of distances from a common origin, one panel per architecture (Yu & Morozov Figs. 5, S3).

    ``dists``: ``{arch: landscape.Distances}``; each panel shows the two sets of its
    ``between`` pair in their book colours on shared bin edges, and a dotted line at the
    distance between the two centroids. Returns the figure.
    """
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    if not dists:
        raise ValueError("distance_histograms needs at least one architecture's distances; got none")
    archs = list(dists)
    fig, axes = plt.subplots(1, len(archs), figsize=(panel[0] * len(archs), panel[1]), squeeze=False,
                             layout="constrained")
    for ax, a in zip(axes[0], archs):
        d = dists[a]
        pair = tuple(d.between)
        edges = np.histogram_bin_edges(np.concatenate([np.asarray(d.distance[s], dtype=float) for s in pair]),
                                       bins=bins)
        for s in pair:
            ax.hist(d.distance[s], bins=edges, histtype="stepfilled", color=color(s), alpha=0.3)
            ax.hist(d.distance[s], bins=edges, histtype="step", color=color(s), linewidth=1.6, label=s)
        ax.axvline(d.centroid_gap, color="0.3", ls=":", lw=1.5, label="centroid gap")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts of solutions
        ax.set(xlabel="distance from the common origin (weight units)", ylabel="solutions", title=a)
        ax.legend(fontsize="x-small")
    return fig


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
            kp, ax = sep.projections[(a, pair, k)], axes[r, c]
            for lab, s in enumerate(pair):
                m = kp.labels == lab
                ax.scatter(kp.scores[m, 0], kp.scores[m, 1], color=color(s), label=s, s=22)
            ax.set(xlabel="PC1", ylabel="PC2", title=f"{a}, {k} kernel: AUC(PC1) = {float(row['AUC (PC1)']):.2f}")
            ax.legend(fontsize="x-small")
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

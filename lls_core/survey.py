"""The LLS survey as data: its tables, the counts its abstract quotes, and its diagrams.

The survey's Tables 1, 2, 3, 5, 6, 7, its reference list, the numbers its abstract
states, and the content of Figures 1, 5 and 6 live as CSV files shipped with the package
(``lls_core/datafiles/survey/``, read through :mod:`lls_core.resources`).
Every file starts with ``#`` comment lines; the first names the source
(``# source: ...``), further ones (``# note: ...`` or ``# published: ...``) say how the
file was transcribed. :func:`read` parses a file, checks that its columns are
exactly the documented ones (:data:`SCHEMAS`) and converts each column to its
documented type, raising ``ValueError`` that names the file, column, row and bad
value otherwise.

:func:`counts` recomputes from the files the figures the abstract quotes (papers
in 2007, papers 2018-2021, number of algorithms, year span), and
:func:`claims_vs_data` sets them beside the stated numbers. The ``draw_*`` functions
draw the diagrams from the same files with matplotlib (networkx for the graphs);
each takes an optional ``ax`` and returns the figure.
"""

from __future__ import annotations

import dataclasses
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from . import resources

if TYPE_CHECKING:  # pragma: no cover
    import matplotlib.axes
    import matplotlib.figure
    import networkx as nx

__all__ = [
    "SCHEMAS",
    "SurveyTable",
    "SurveyCounts",
    "names",
    "read",
    "table",
    "counts",
    "papers_per_year",
    "claims_vs_data",
    "filter_stages",
    "reference_year_mismatches",
    "earlier_titles",
    "taxonomy",
    "lineage",
    "shorten_titles",
    "draw_timeline",
    "draw_algorithm_timeline",
    "draw_filter",
    "draw_taxonomy",
    "draw_levels",
    "draw_lineage",
]

# Column name -> type: "int", "int?" (may be empty), "bool", "bool?", "str".
SCHEMAS: dict[str, dict[str, str]] = {
    "references": {"number": "int", "authors": "str", "title": "str", "venue": "str", "year": "int?"},
    "table1_surveys": {"year": "int", "topic": "str", "title": "str", "authors": "str", "reference": "int"},
    "table2_timeline": {"year": "int", "reference": "int?", "authors": "str", "title": "str", "is_survey": "bool?"},
    "table3_algorithms": {"index": "int", "year": "int", "algorithm": "str", "reference": "int", "contribution": "str"},
    "table5_sec": {"index": "str", "criterion": "str", "ranking": "str"},
    "table6_lls_ssc": {"index": "str", "criterion": "str", "ranking": "str"},
    "table7_sgd_ssc": {"index": "str", "criterion": "str", "ranking": "str"},
    "published_claims": {"claim": "str", "stated": "int", "qualifier": "str", "quantity": "str", "where": "str",
                         "basis": "str"},
    "figure1_levels": {"level": "int", "field": "str", "evidence": "str"},
    "figure5_filter": {
        "stage": "int",
        "name": "str",
        "criteria": "str",
        "output": "str",
        "stated": "int?",
        "qualifier": "str",
        "data_file": "str",
    },
    "figure6_taxonomy_nodes": {"id": "str", "label": "str", "kind": "str", "evidence": "str"},
    "figure6_taxonomy_edges": {"parent": "str", "child": "str"},
    "themes": {
        "index": "int",
        "theme": "str",
        "section4_heading": "str",
        "reference": "int",
        "in_abstract": "bool",
        "chapter": "str",
        "related": "str",
    },
}
"""The documented columns of every file (in order) and their types."""


@dataclass(frozen=True, eq=False)
class SurveyTable:
    """One parsed data file: ``frame`` has exactly the columns of ``SCHEMAS[name]``."""

    name: str
    path: "Path | resources.Traversable"
    source: str
    """The text of the file's ``# source:`` line."""
    notes: tuple[str, ...]
    """The other leading comment lines, without the ``#``."""
    frame: pd.DataFrame


@dataclass(frozen=True)
class SurveyCounts:
    """Counts recomputed from the data files (all plain ints)."""

    papers_2007: int
    """Table 2 papers listed under 2007."""
    papers_2018_2021: int
    """Table 2 papers listed under 2018, 2019, 2020 and 2021."""
    papers_2018_2021_non_survey: int
    """The same, leaving out the papers the survey itself calls surveys."""
    table2_papers: int
    table2_first_year: int
    table2_last_year: int
    n_algorithms: int
    """Rows of Table 3."""
    n_algorithm_names: int
    """Distinct algorithm names in Table 3 (SDCA is listed twice)."""
    n_algorithm_references: int
    """Distinct reference numbers in Table 3."""
    first_year: int
    """Earliest year in Table 3."""
    last_year: int
    """Latest year in Table 3."""
    max_reference: int
    """Highest reference number in the reference list."""
    n_benchmarked: int
    """Algorithms in the taxonomy of Figure 6 (the survey's 10 benchmarked ones)."""

    def facts(self) -> dict[str, int]:
        """Every count by its field name, for the prose."""
        return dataclasses.asdict(self)
    n_themes_abstract: int
    n_themes_section4: int


def names() -> tuple[str, ...]:
    """The names of the data files :func:`read` knows (file stems)."""
    return tuple(SCHEMAS)


def _convert(values: pd.Series, kind: str, where: str) -> pd.Series:
    col = values.astype(str).str.strip()
    optional = kind.endswith("?")
    base = kind.rstrip("?")
    if base == "str":
        return col
    out: list[object] = []
    for row, v in enumerate(col, start=1):
        if v == "":
            if not optional:
                raise ValueError(f"{where}, data row {row}: empty value; this column is required ({kind})")
            out.append(pd.NA)
        elif base == "int":
            if not re.fullmatch(r"-?\d+", v):
                raise ValueError(f"{where}, data row {row}: {v!r} is not an integer")
            out.append(int(v))
        elif base == "bool":
            if v not in ("True", "False"):
                raise ValueError(f"{where}, data row {row}: {v!r} is not a boolean; valid: True, False")
            out.append(v == "True")
        else:  # pragma: no cover - SCHEMAS only uses the kinds above
            raise AssertionError(kind)
    dtype = "Int64" if base == "int" else "boolean"
    return pd.Series(out, index=values.index, dtype=dtype)


def read(name: str, data_dir: str | Path | None = None) -> SurveyTable:
    """Parse ``<data_dir>/<name>.csv`` and check it against ``SCHEMAS[name]``.

    Raises ``KeyError`` for an unknown ``name`` (listing the known ones),
    ``FileNotFoundError`` for a missing file and ``ValueError`` for a file without
    its ``# source:`` line, with other columns than the documented ones, or with a
    value of the wrong type.
    """
    if name not in SCHEMAS:
        raise KeyError(f"unknown survey data file {name!r}; known: {', '.join(SCHEMAS)}")
    folder = Path(data_dir) if data_dir is not None else resources.files("survey")  # default: the shipped files
    path = folder / f"{name}.csv"
    if not path.is_file():
        raise FileNotFoundError(f"survey data file {path} does not exist")
    lines = path.read_text(encoding="utf-8").splitlines()
    comments: list[str] = []
    while lines and lines[0].startswith("#"):
        comments.append(lines.pop(0).lstrip("#").strip())
    if not comments or not comments[0].startswith("source:"):
        raise ValueError(f"{path.name}: the first line must be a '# source: ...' comment naming the source")
    frame = pd.read_csv(io.StringIO("\n".join(lines)), dtype=str, keep_default_na=False)
    schema = SCHEMAS[name]
    if list(frame.columns) != list(schema):
        missing = [c for c in schema if c not in frame.columns]
        extra = [c for c in frame.columns if c not in schema]
        raise ValueError(
            f"{path.name}: columns {list(frame.columns)} differ from the documented {list(schema)}"
            f" (missing {missing}, unexpected {extra})"
        )
    for col, kind in schema.items():
        frame[col] = _convert(frame[col], kind, f"{path.name}, column {col!r}")
    return SurveyTable(
        name=name,
        path=path,
        source=comments[0].removeprefix("source:").strip(),
        notes=tuple(comments[1:]),
        frame=frame,
    )


def table(name: str, data_dir: str | Path | None = None) -> pd.DataFrame:
    """The data frame of :func:`read` (``read(name).frame``)."""
    return read(name, data_dir).frame


def papers_per_year(data_dir: str | Path | None = None) -> pd.Series:
    """Number of Table 2 papers per year (int, indexed by every year the table lists, zeros included)."""
    t2 = table("table2_timeline", data_dir)
    years = range(int(t2["year"].min()), int(t2["year"].max()) + 1)
    listed = t2.dropna(subset=["reference"]).groupby("year").size()
    return listed.reindex(years, fill_value=0).astype(int).rename("papers").rename_axis("year")


def counts(data_dir: str | Path | None = None) -> SurveyCounts:
    """Recompute the survey's headline counts from the data files."""
    t2 = table("table2_timeline", data_dir)
    t3 = table("table3_algorithms", data_dir)
    refs = table("references", data_dir)
    nodes = table("figure6_taxonomy_nodes", data_dir)
    themes = table("themes", data_dir)
    listed = t2.dropna(subset=["reference"])
    span = listed[(listed["year"] >= 2018) & (listed["year"] <= 2021)]
    return SurveyCounts(
        papers_2007=int((listed["year"] == 2007).sum()),
        papers_2018_2021=len(span),
        papers_2018_2021_non_survey=int((~span["is_survey"].astype(bool)).sum()),
        table2_papers=len(listed),
        table2_first_year=int(t2["year"].min()),
        table2_last_year=int(t2["year"].max()),
        n_algorithms=len(t3),
        n_algorithm_names=int(t3["algorithm"].nunique()),
        n_algorithm_references=int(t3["reference"].nunique()),
        first_year=int(t3["year"].min()),
        last_year=int(t3["year"].max()),
        max_reference=int(refs["number"].max()),
        n_benchmarked=int((nodes["kind"] == "algorithm").sum()),
        n_themes_abstract=int(themes["in_abstract"].sum()),
        n_themes_section4=len(themes),
    )


def claims_vs_data(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The abstract's numbers beside the recomputed ones.

    Columns: ``claim``, ``stated`` (int), ``qualifier``, ``computed`` (Int64, empty where
    the data cannot give it), ``agrees`` (boolean, empty where not computable; a stated
    bound 'over N' agrees with any computed value above N), ``basis`` (``count``: the
    data count what the survey counted; ``interpretation``: the book chose which data
    stand for the claim, so an agreement there is a reading, not a check).
    """
    claims = table("published_claims", data_dir)
    c = counts(data_dir)
    rows = []
    for r in claims.itertuples(index=False):
        computed = getattr(c, r.quantity) if r.quantity else None
        if r.quantity and not hasattr(c, r.quantity):
            raise ValueError(f"published_claims.csv: quantity {r.quantity!r} is not a SurveyCounts field")
        if computed is None:
            agrees = pd.NA
        elif r.qualifier == "over":
            agrees = computed > r.stated
        else:
            agrees = computed == r.stated
        rows.append(
            {
                "claim": r.claim,
                "stated": int(r.stated),
                "qualifier": r.qualifier,
                "computed": pd.NA if computed is None else int(computed),
                "agrees": agrees,
                "basis": r.basis,
            }
        )
    out = pd.DataFrame(rows)
    out["computed"] = out["computed"].astype("Int64")
    out["agrees"] = out["agrees"].astype("boolean")
    return out


def filter_stages(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Figure 5's stages with a ``computed`` count from the file each stage names.

    Rules: ``references.csv`` counts the numbered references (its highest number; the
    survey's extracted text keeps only entries 70-188), ``table2_timeline.csv`` the listed papers,
    ``table3_algorithms.csv`` the rows. A stage without a file gets an empty count.
    """
    stages = table("figure5_filter", data_dir).copy()
    c = counts(data_dir)
    rule = {
        "references.csv": c.max_reference,
        "table2_timeline.csv": c.table2_papers,
        "table3_algorithms.csv": c.n_algorithms,
    }
    unknown = sorted(set(stages["data_file"]) - set(rule) - {""})
    if unknown:
        raise ValueError(f"figure5_filter.csv names data files {unknown}; countable: {sorted(rule)}")
    stages["computed"] = pd.array([rule.get(f, pd.NA) for f in stages["data_file"]], dtype="Int64")
    return stages


def reference_year_mismatches(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Rows of Tables 1-3 whose year differs from the year their reference-list entry prints.

    Columns: ``table``, ``reference``, ``label``, ``table_year``, ``reference_year``.
    Only references whose entry is in the seed and prints a year are compared.
    """
    refs = table("references", data_dir).dropna(subset=["year"]).set_index("number")["year"]
    rows = []
    for name, label in (("table1_surveys", "title"), ("table2_timeline", "title"), ("table3_algorithms", "algorithm")):
        t = table(name, data_dir).dropna(subset=["reference"])
        for r in t.itertuples(index=False):
            ref = int(r.reference)
            if ref in refs.index and int(refs[ref]) != int(r.year):
                rows.append(
                    {
                        "table": name,
                        "reference": ref,
                        "label": getattr(r, label),
                        "table_year": int(r.year),
                        "reference_year": int(refs[ref]),
                    }
                )
    return pd.DataFrame(rows, columns=["table", "reference", "label", "table_year", "reference_year"])


def earlier_titles(data_dir: str | Path | None = None) -> pd.DataFrame:
    """Table 3 algorithms whose name appears in the title of an earlier-dated reference.

    A hint that the year in Table 3 is that of the cited source rather than of the
    algorithm's introduction. Columns: ``algorithm``, ``table_year``, ``reference``,
    ``reference_year``, ``title``.
    """
    refs = table("references", data_dir).dropna(subset=["year"])
    t3 = table("table3_algorithms", data_dir)
    rows = []
    for a in t3.itertuples(index=False):
        pattern = re.compile(rf"\b{re.escape(a.algorithm)}\b", re.IGNORECASE)
        for r in refs.itertuples(index=False):
            if int(r.year) < int(a.year) and pattern.search(r.title):
                rows.append(
                    {
                        "algorithm": a.algorithm,
                        "table_year": int(a.year),
                        "reference": int(r.number),
                        "reference_year": int(r.year),
                        "title": r.title,
                    }
                )
    return pd.DataFrame(rows, columns=["algorithm", "table_year", "reference", "reference_year", "title"])


def taxonomy(data_dir: str | Path | None = None) -> "nx.DiGraph":
    """Figure 6 as a directed tree (parent -> child), node attributes ``label`` and ``kind``.

    Raises ``ValueError`` if an edge names an unknown node or the links do not form
    one tree.
    """
    import networkx as nx

    nodes = table("figure6_taxonomy_nodes", data_dir)
    edges = table("figure6_taxonomy_edges", data_dir)
    g = nx.DiGraph()
    for r in nodes.itertuples(index=False):
        g.add_node(r.id, label=r.label, kind=r.kind)
    for r in edges.itertuples(index=False):
        for end in (r.parent, r.child):
            if end not in g:
                raise ValueError(f"figure6_taxonomy_edges.csv: node {end!r} is not in figure6_taxonomy_nodes.csv")
        g.add_edge(r.parent, r.child)
    if not nx.is_arborescence(g):
        raise ValueError("figure6_taxonomy_edges.csv: the links do not form a single tree over all nodes")
    return g


def lineage(data_dir: str | Path | None = None) -> "nx.DiGraph":
    """Name lineage among Table 3's algorithms (a DAG on row indices).

    An edge ``p -> c`` means the text of row ``c``'s contribution contains row ``p``'s
    abbreviation as a whole word or ``p``'s full contribution (both case-sensitive,
    multi-word contributions only), e.g. 'Nesterov ADAM' names ADAM; rows with the
    same abbreviation are linked earlier -> later (``rule='same name'``). These are
    links *by name*, the only relation the table supports: it records no citations.
    Node attributes: ``algorithm``, ``year``, ``reference``.
    """
    import networkx as nx

    t3 = table("table3_algorithms", data_dir)
    g = nx.DiGraph()
    for r in t3.itertuples(index=False):
        g.add_node(int(r.index), algorithm=r.algorithm, year=int(r.year), reference=int(r.reference))
    for p in t3.itertuples(index=False):
        abbrev = re.compile(rf"(?<![\w-]){re.escape(p.algorithm)}(?![\w-])")
        for c in t3.itertuples(index=False):
            if p.index == c.index:
                continue
            if p.algorithm == c.algorithm:
                if p.index < c.index:
                    g.add_edge(int(p.index), int(c.index), rule="same name")
            elif abbrev.search(c.contribution):
                g.add_edge(int(p.index), int(c.index), rule="abbreviation")
            elif " " in p.contribution and p.contribution in c.contribution:
                g.add_edge(int(p.index), int(c.index), rule="contribution")
    return g


# ----------------------------------------------------------------------------- drawing


def shorten_titles(frame: pd.DataFrame, width: int, columns: tuple[str, ...] = ("title",)) -> pd.DataFrame:
    """A copy of ``frame`` with every text in ``columns`` (those present) cut to ``width`` characters.

    A cut text ends in "…" and is exactly ``width`` long; shorter texts are kept.

    >>> shorten_titles(pd.DataFrame({"title": ["abcdef", "ab"]}), 4)["title"].tolist()
    ['abc…', 'ab']
    """
    if isinstance(width, bool) or not isinstance(width, int) or width < 2:
        raise ValueError(f"width={width!r}: must be an integer >= 2")
    out = frame.copy()
    for col in columns:
        if col in out:
            out[col] = [t if len(t) <= width else t[: width - 1] + "…" for t in out[col]]
    return out


def _axes(ax: "matplotlib.axes.Axes | None", size: tuple[float, float]) -> "matplotlib.axes.Axes":
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def _figure_of(ax: "matplotlib.axes.Axes") -> "matplotlib.figure.Figure":
    """The figure ``ax`` is drawn on (the top-level one when ``ax`` sits in a subfigure)."""
    from matplotlib.figure import Figure

    fig = ax.figure
    return fig if isinstance(fig, Figure) else fig.figure


def _book_color(name: str) -> str | None:
    from lls_core import plotting

    try:
        return plotting.color(name)
    except KeyError:
        return None


def draw_timeline(
    ax: "matplotlib.axes.Axes | None" = None, data_dir: str | Path | None = None
) -> "matplotlib.figure.Figure":
    """Bar chart of Table 2: key LLS papers per year, 2007 and 2018-2021 highlighted."""
    per_year = papers_per_year(data_dir)
    c = counts(data_dir)
    ax = _axes(ax, (8.0, 3.8))
    highlight = [(y == 2007 or 2018 <= y <= 2021) for y in per_year.index]
    colors = ["#D55E00" if h else "#9AA5B1" for h in highlight]
    ax.bar(per_year.index, per_year.values, color=colors, width=0.8)
    ax.axvspan(2017.5, 2021.5, color="#D55E00", alpha=0.08, lw=0)
    top = int(per_year.max())
    ax.annotate(f"{c.papers_2007} in 2007", (2007, c.papers_2007), xytext=(0, 4), textcoords="offset points",
                ha="center", fontsize="small")
    ax.text(2019.5, top + 0.9, f"{c.papers_2018_2021} in 2018–2021", ha="center", fontsize="small")
    ax.set_ylim(0, top + 2)
    ax.set_xticks(list(per_year.index))
    ax.set_xticklabels([str(y) for y in per_year.index], rotation=60, fontsize="x-small")
    ax.set_xlabel("year of publication")
    ax.set_ylabel("key LLS papers (count)")
    ax.grid(axis="x", visible=False)
    return _figure_of(ax)


def draw_algorithm_timeline(
    ax: "matplotlib.axes.Axes | None" = None, data_dir: str | Path | None = None
) -> "matplotlib.figure.Figure":
    """Table 3 by year: one labelled point per algorithm, in the book's colour where the book
    has one for that name (grey otherwise). The table is sorted by year, so the index is
    also the running count of algorithms."""
    t3 = table("table3_algorithms", data_dir)
    ax = _axes(ax, (9.0, 6.0))
    years = t3["year"].astype(int).to_numpy()
    idx = t3["index"].astype(int).to_numpy()
    for y, i, name in zip(years, idx, t3["algorithm"]):
        col = _book_color(name)
        ax.scatter([y], [i], s=36, color=col or "#9AA5B1", edgecolor="black" if col else "none", lw=0.6, zorder=3)
        ax.text(y + 0.8, i, name, va="center", fontsize="x-small")
    ax.set_ylim(len(t3) + 1, 0)
    ax.set_xlabel("year given in Table 3")
    ax.set_ylabel("Table 3 index (= running count: rows are in year order)")
    ax.set_xlim(years.min() - 3, years.max() + 8)
    return _figure_of(ax)


def draw_filter(
    ax: "matplotlib.axes.Axes | None" = None, data_dir: str | Path | None = None
) -> "matplotlib.figure.Figure":
    """Figure 5 as a funnel: one band per stage, width proportional to its count
    (the computed count where a data file gives one, the stated one otherwise)."""
    from matplotlib.patches import Polygon

    stages = filter_stages(data_dir)
    ax = _axes(ax, (8.0, 5.0))
    size = [int(c) if pd.notna(c) else int(s) for c, s in zip(stages["computed"], stages["stated"])]
    widest = max(size)
    half = [0.5 * s / widest for s in size] + [0.5 * size[-1] / widest * 0.8]
    palette = ["#DCE3EA", "#B7C6D6", "#8FA9C2", "#5E7FA3"]
    for k, r in enumerate(stages.itertuples(index=False)):
        top, bottom = -k, -k - 0.9
        poly = [(-half[k], top), (half[k], top), (half[k + 1], bottom), (-half[k + 1], bottom)]
        ax.add_patch(Polygon(poly, closed=True, color=palette[k % len(palette)], lw=0))
        stated = "" if pd.isna(r.stated) else f"{r.qualifier + ' ' if r.qualifier else ''}{int(r.stated)}"
        if pd.notna(r.computed):
            count = f"{int(r.computed)} in the data" + (f" (stated: {stated})" if stated else "")
        else:
            count = f"{stated} (stated; no data)"
        ax.text(0, top - 0.3, f"{r.name}: {r.criteria}", ha="center", va="center", fontsize="small", weight="bold")
        ax.text(0, top - 0.62, f"{r.output} — {count}", ha="center", va="center", fontsize="x-small")
    ax.set_xlim(-0.62, 0.62)
    ax.set_ylim(-len(stages) - 0.05, 0.05)
    ax.axis("off")
    return _figure_of(ax)


def _is_dark(hex_color: str | None) -> bool:
    """True for a fill on which black text would be hard to read (relative luminance < 0.35)."""
    if not hex_color:
        return False
    from matplotlib.colors import to_rgb

    r, g, b = to_rgb(hex_color)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.35


def _tree_layout(g: "nx.DiGraph", root: str) -> dict[str, tuple[float, float]]:
    """Left-to-right tidy layout: leaves on successive rows, parents centred on children."""
    pos: dict[str, tuple[float, float]] = {}
    row = [0.0]

    def place(node: str, depth: int) -> float:
        children = list(g.successors(node))
        if not children:
            y = row[0]
            row[0] += 1.0
        else:
            ys = [place(c, depth + 1) for c in children]
            y = (min(ys) + max(ys)) / 2
        pos[node] = (float(depth), -y)
        return y

    place(root, 0)
    return pos


def draw_taxonomy(
    ax: "matplotlib.axes.Axes | None" = None, data_dir: str | Path | None = None
) -> "matplotlib.figure.Figure":
    """Figure 6 as a tree drawn from the node and edge files (root on the left)."""
    import networkx as nx

    g = taxonomy(data_dir)
    root = next(n for n, d in g.in_degree() if d == 0)
    pos = _tree_layout(g, root)
    ax = _axes(ax, (10.0, 6.5))
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=False, edge_color="#8A94A0", width=1.0)
    fill = {"root": "#1F3A93", "class": "#5E7FA3", "method": "#DCE3EA", "group": "#B7C6D6"}
    for node, (x, y) in pos.items():
        kind = g.nodes[node]["kind"]
        face = _book_color(node) if kind == "algorithm" else fill.get(kind, "#FFFFFF")
        text_color = "white" if kind in ("root", "class") or _is_dark(face) else "black"
        ax.text(x, y, g.nodes[node]["label"], ha="center", va="center", fontsize="x-small", color=text_color,
                bbox={"boxstyle": "round,pad=0.3", "fc": face or "#FFFFFF", "ec": "#4A5560", "lw": 0.6,
                      "alpha": 0.9 if kind == "algorithm" else 1.0})
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.8, max(ys) + 0.8)
    ax.axis("off")
    return _figure_of(ax)


def draw_levels(
    ax: "matplotlib.axes.Axes | None" = None, data_dir: str | Path | None = None
) -> "matplotlib.figure.Figure":
    """Figure 1 as nested boxes, the broadest field outermost and SGD innermost."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    levels = table("figure1_levels", data_dir).sort_values("level")
    n = len(levels)
    ax = _axes(ax, (7.5, 6.0))
    cmap = plt.get_cmap("Blues")
    step = 0.045
    for k, r in enumerate(levels.itertuples(index=False)):
        x0, y0 = k * step, k * step * 0.9
        w, h = 1 - 2 * x0, 1 - 2 * y0
        ax.add_patch(FancyBboxPatch((x0, y0), w, h, boxstyle="round,pad=0,rounding_size=0.02",
                                    fc=cmap(0.12 + 0.75 * k / max(n - 1, 1)), ec="#24364F", lw=0.7))
        dark = k > n * 0.55
        ax.text(0.5, y0 + h - 0.024, f"{int(r.level)}. {r.field}", ha="center", va="center",
                fontsize="small" if k < n - 1 else "medium", weight="bold" if k == n - 1 else "normal",
                color="white" if dark else "black")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("auto")
    ax.axis("off")
    return _figure_of(ax)


def draw_lineage(
    ax: "matplotlib.axes.Axes | None" = None, data_dir: str | Path | None = None
) -> "matplotlib.figure.Figure":
    """The name lineage of :func:`lineage`, nodes placed by Table 3 year; only linked rows."""
    import networkx as nx

    g = lineage(data_dir)
    linked = g.subgraph([n for n in g if g.degree(n) > 0]).copy()
    ax = _axes(ax, (9.0, 4.8))
    # x: year; y: one row per algorithm, components one after another, parents first.
    rows: list[int] = []
    for comp in sorted(nx.weakly_connected_components(linked), key=lambda c: (-len(c), min(c))):
        rows.extend(nx.topological_sort(linked.subgraph(comp)))
    pos = {n: (float(g.nodes[n]["year"]), -float(k)) for k, n in enumerate(rows)}
    styles = {"abbreviation": "solid", "contribution": "solid", "same name": "dashed"}
    for rule, style in styles.items():
        edges = [(u, v) for u, v, d in linked.edges(data=True) if d["rule"] == rule]
        nx.draw_networkx_edges(linked, pos, edgelist=edges, ax=ax, style=style, edge_color="#6B7785",
                               arrows=True, arrowstyle="-|>", arrowsize=10, node_size=60,
                               connectionstyle="arc3,rad=0.05")
    for n, (x, y) in pos.items():
        name = g.nodes[n]["algorithm"]
        ax.scatter([x], [y], s=60, color=_book_color(name) or "#9AA5B1", edgecolor="black", lw=0.5, zorder=3)
        ax.text(x + 0.7, y + 0.25, f"{name} [{g.nodes[n]['reference']}]", fontsize="x-small", va="bottom")
    ax.tick_params(labelbottom=True)  # networkx switches tick labels off
    ax.set_xlabel("year given in Table 3")
    ax.set_yticks([])
    ax.grid(axis="y", visible=False)
    xs = [p[0] for p in pos.values()]
    ax.set_xlim(min(xs) - 4, max(xs) + 9)
    return _figure_of(ax)

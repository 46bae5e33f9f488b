"""The survey's data files: they parse, carry the documented columns, agree with each other,
and give the counts the chapter states (and, where they differ, not the abstract's)."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lls_core import plotting, resources, survey  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = ROOT / "notebooks" / "survey_data.md"


@pytest.mark.parametrize("name", survey.names())
def test_every_file_parses_with_its_documented_columns_and_source(name):
    t = survey.read(name)
    assert list(t.frame.columns) == list(survey.SCHEMAS[name])
    assert "LLS survey" in t.source and len(t.frame) > 0
    assert t.path.name in resources.files("survey", "README.md").read_text()


def test_table3_has_exactly_the_shared_columns():
    # The benchmark chapter (issue 3) joins on this file: no extra columns allowed.
    header = [ln for ln in resources.files("survey", "table3_algorithms.csv").read_text().splitlines() if not ln.startswith("#")][0]
    assert header == "index,year,algorithm,reference,contribution"


def test_abstract_counts_recomputed_from_the_data():
    c = survey.counts()
    assert c.papers_2007 == 4
    assert c.n_algorithms == 32 and (c.first_year, c.last_year) == (1951, 2024)
    # Table 2 lists 8 + 5 + 4 + 6 = 23 papers for 2018-2021; the abstract says 21. Leaving out
    # the two papers the survey itself calls surveys ([60] of Table 1 and Sun et al. [166]) gives 21.
    assert c.papers_2018_2021 == 23
    assert c.papers_2018_2021_non_survey == 21
    assert c.table2_papers == 42 and (c.table2_first_year, c.table2_last_year) == (2005, 2024)
    assert c.n_algorithm_names == 31 and c.n_algorithm_references == 31  # SDCA twice, [70] twice
    assert c.n_benchmarked == 10 and c.n_themes_abstract == 6 and c.n_themes_section4 == 7


def test_claims_table_flags_exactly_the_disagreement():
    cmp = survey.claims_vs_data().set_index("claim")
    assert cmp.loc["active LLS contributions 2018-2021", "stated"] == 21
    assert cmp.loc["active LLS contributions 2018-2021", "computed"] == 23
    disagree = cmp[cmp["agrees"].fillna(True) == False].index.tolist()  # noqa: E712
    assert disagree == ["active LLS contributions 2018-2021"]
    not_computable = cmp[cmp["computed"].isna()].index.tolist()
    assert set(not_computable) == {"research papers screened", "seminal papers selected"}


def test_papers_per_year_covers_every_year_with_zeros():
    per_year = survey.papers_per_year()
    assert list(per_year.index) == list(range(2005, 2025))
    assert per_year[2007] == 4 and per_year[2017] == 7 and per_year[2018] == 8 and per_year[2022] == 0
    assert per_year.sum() == survey.counts().table2_papers


def test_tables_are_well_formed():
    t3 = survey.table("table3_algorithms")
    assert t3["index"].tolist() == list(range(1, 33))
    assert t3["year"].is_monotonic_increasing  # so the index is also the running count
    t2 = survey.table("table2_timeline")
    assert sorted(set(t2["year"])) == list(range(2005, 2025))
    listed = t2.dropna(subset=["reference"])
    assert listed["reference"].is_unique
    empty_years = t2[t2["reference"].isna()]["year"]
    assert not set(empty_years) & set(listed["year"])  # a year is either '-' or has papers
    refs = survey.table("references")
    assert refs["number"].tolist() == list(range(70, 189))
    assert survey.table("table5_sec")["index"].tolist() == [f"E{i}" for i in range(1, 16)]
    t6, t7 = survey.table("table6_lls_ssc"), survey.table("table7_sgd_ssc")
    assert t6.equals(t7)  # the survey prints the same five criteria twice
    assert set(t6["ranking"]) == {"Pass/Fail"}
    assert survey.table("figure1_levels")["level"].tolist() == list(range(1, 10))


def test_table2_authors_and_titles_come_from_the_reference_list():
    refs = survey.table("references").set_index("number")
    t2 = survey.table("table2_timeline").dropna(subset=["reference"])
    checked = 0
    for r in t2.itertuples(index=False):
        if int(r.reference) in refs.index:
            assert (r.authors, r.title) == (refs.at[int(r.reference), "authors"], refs.at[int(r.reference), "title"])
            checked += 1
        elif int(r.reference) != 60:
            assert r.authors == "" and r.title == ""
    assert checked == 22
    t1 = survey.table("table1_surveys").set_index("reference")
    assert t2.set_index("reference").at[60, "title"] == t1.at[60, "title"]
    assert set(t2[t2["is_survey"].astype(bool)]["reference"]) == {60, 166}


def test_table_years_agree_with_the_reference_list():
    assert survey.reference_year_mismatches().empty
    earlier = survey.earlier_titles()
    # Table 3 dates RMSprop 2018 (Hinton's lecture [78]); the reference list has Tieleman & Hinton 2012.
    assert earlier[["algorithm", "reference", "reference_year"]].values.tolist() == [["RMSprop", 173, 2012]]


def test_filter_stage_counts():
    stages = survey.filter_stages()
    computed = stages["computed"].tolist()
    assert pd.isna(computed[0]) and computed[1:] == [188, 42, 32]
    assert (stages["computed"].dropna().diff().dropna() < 0).all()  # each filter narrows the set


def test_taxonomy_is_a_tree_with_the_ten_benchmarked_algorithms():
    g = survey.taxonomy()
    leaves = sorted(n for n in g if g.nodes[n]["kind"] == "algorithm")
    assert len(leaves) == 10 and all(g.out_degree(n) == 0 for n in leaves)
    for name in leaves:
        plotting.color(name)  # every one has the book's fixed colour
    assert next(n for n, d in g.in_degree() if d == 0) == "optimization"


def test_lineage_links_follow_names_forward_in_time():
    g = survey.lineage()
    named = {(g.nodes[u]["algorithm"], g.nodes[v]["algorithm"]) for u, v in g.edges}
    assert ("ADAM", "NADAM") in named and ("SAGA", "ASAGA") in named and ("SDCA", "SDCA") in named
    assert sum(1 for u, _ in g.edges if g.nodes[u]["algorithm"] == "SGD") == 9
    assert len(named) == 12
    assert all(g.nodes[u]["year"] <= g.nodes[v]["year"] for u, v in g.edges)


def test_themes_name_book_chapters():
    themes = survey.table("themes")
    assert themes["in_abstract"].sum() == 6
    slugs = set(themes["chapter"]) | {s for rel in themes["related"] for s in rel.split(";") if s}
    assert all(re.fullmatch(r"[a-z0-9_]+", s) for s in slugs)
    # The chapters planned for the book (some not written yet) or already in the table of contents.
    planned = {"surfaces", "optimizer_benchmark", "lbfgs_gss", "pathfinder", "training", "barriers", "visualization"}
    toc = ROOT / "_toc.yml"
    in_toc = set(re.findall(r"notebooks/(\w+)", toc.read_text())) if toc.exists() else set()
    unknown = sorted(slugs - planned - in_toc)
    assert not unknown, f"themes.csv names chapters that are neither planned nor in _toc.yml: {unknown}"


def test_bad_files_fail_with_a_clear_message(tmp_path):
    with pytest.raises(KeyError, match="valid: references"):
        survey.read("table4")
    for name in ("table3_algorithms",):
        (tmp_path / f"{name}.csv").write_bytes(resources.files("survey", f"{name}.csv").read_bytes())
    path = tmp_path / "table3_algorithms.csv"
    text = path.read_text()
    path.write_text(text.replace("index,year,algorithm,reference,contribution", "index,year,algorithm,reference,contribution,status"))
    with pytest.raises(ValueError, match=r"unexpected \['status'\]"):
        survey.read("table3_algorithms", tmp_path)
    path.write_text(text.replace("1,1951,SGD", "1,19x1,SGD"))
    with pytest.raises(ValueError, match=r"column 'year', data row 1: '19x1' is not an integer"):
        survey.read("table3_algorithms", tmp_path)
    path.write_text("\n".join(ln for ln in text.splitlines() if not ln.startswith("#")))
    with pytest.raises(ValueError, match="# source:"):
        survey.read("table3_algorithms", tmp_path)
    with pytest.raises(FileNotFoundError):
        survey.read("themes", tmp_path)


def test_timeline_bars_are_the_data():
    fig = survey.draw_timeline()
    bars = fig.axes[0].containers[0]  # the BarContainer
    per_year = survey.papers_per_year()
    assert [b.get_height() for b in bars] == per_year.tolist()
    plt.close(fig)


@pytest.mark.parametrize(
    "draw", ["draw_algorithm_timeline", "draw_filter", "draw_taxonomy", "draw_levels", "draw_lineage"]
)
def test_diagrams_draw(draw):
    fig = getattr(survey, draw)()
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert texts, f"{draw} drew no labels"
    plt.close(fig)


def test_chapter_glues_the_counts_it_states():
    if not CHAPTER.exists():
        pytest.skip("chapter not written yet")
    text = CHAPTER.read_text()
    for key in ("papers_2007", "papers_2018_2021", "papers_2018_2021_non_survey", "n_algorithms", "first_year", "last_year"):
        assert f"{{glue:text}}`{key}" in text, f"the chapter does not glue {key}"


def test_interpreted_claims_are_marked():
    cmp = survey.claims_vs_data().set_index("claim")
    assert set(cmp["basis"]) == {"count", "interpretation"}
    assert cmp.loc["key contributions analysed", "basis"] == "interpretation"
    assert cmp.loc["research themes", "basis"] == "interpretation"
    assert cmp.loc["foundational LLS papers in 2007", "basis"] == "count"

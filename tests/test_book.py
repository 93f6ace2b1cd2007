"""Every chapter executes under papermill with smoke=True, and the book builds with -W."""
import json
import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
import build_book  # scripts/build_book.py (scripts/ is on pytest's pythonpath)

CHAPTERS = build_book.chapters()
# tests that execute the chapters or build the site are marked slow by conftest.py; the
# static checks here (toc, install cell, intro table, workflow) run under -m 'not slow' too


def test_there_are_chapters():
    assert CHAPTERS and CHAPTERS[0].name == "01_representations.ipynb"


@pytest.mark.parametrize("name", [nb.name for nb in CHAPTERS])
def test_chapter_executes_in_smoke_mode(executed, name):
    _, _, outcome = executed
    if outcome[name] is not None:
        raise outcome[name]


def test_backoff_chapter_writes_every_setting(executed):
    _, results, outcome = executed
    assert outcome["02_knn_backoff.ipynb"] is None
    res = json.loads((results / "backoff.json").read_text())
    assert list(res) == ["snli-original", "snli-augmented", "anli", "hans", "anli-adversarial", "timing"]
    adv = res["anli-adversarial"]
    assert adv["seeds"]["seeds"] == [0] and len(adv["per_seed"]["seed"]) == 2   # the default: one split seed, ANLI and HANS
    assert {"gain_lo", "gain_hi"} <= set(adv["per_seed"])  # its paired bootstrap, which the one-seed verdict uses
    assert {"model_acc", "backoff_acc", "tau", "backoff_gain", "backoff_gain_ci95", "train", "verdict"} <= set(adv)
    for setting in (res[name] for name in ("snli-original", "snli-augmented", "anli", "hans")):
        for field in ("backbone", "k", "T", "tau", "lambda", "n_test", "model_acc", "knn_acc",
                      "backoff_acc", "interp_acc"):
            assert field in setting
        assert 0 <= setting["tau"] <= 1 and 0 <= setting["backoff_acc"] <= 1
    assert res["anli"]["train"] in ("anli/train", "mnli-matched/validation")
    assert len(res["snli-original"]["seeds"]["seeds"]) == 3


def test_spurious_chapter_writes_its_results(executed):
    _, results, outcome = executed
    assert outcome["04_spurious.ipynb"] is None
    res = json.loads((results / "spurious.json").read_text())
    assert set(res["pattern_stats"]) == {"original", "augmented"}
    assert "SNLI test/negation" in res["slice_accuracy"] and res["miner_top_tokens"]
    assert res["not_claim"]["closest_reading"]
    key = "P(contradiction | 'not' in premise or hypothesis)"
    for split in ("original", "augmented"):
        reading = res["not_claim"]["readings"][split][key]
        assert {"count", "n", "share"} <= set(reading) and reading["count"] <= reading["n"]
    assert set(res["example_selection"]) == {"colour", "negation"}
    for counts in res["example_selection"].values():
        assert counts["with pattern"] >= counts["changed prediction"] >= counts["paper direction"]
    for change in res["negation_entailment_change"].values():
        assert {"n", "before", "after", "diff", "lo", "hi"} <= set(change)


GLUE_ROLE = re.compile(r"\{glue(?::\w+)?\}`([^`:<]+)")            # {glue:text}`name:.1%`, {glue:md}`name`
GLUE_DIRECTIVE = re.compile(r"^```\{glue(?::\w+)?\}\s+(\S+)", re.M)  # ```{glue:md} name


@pytest.mark.parametrize("name", [nb.name for nb in CHAPTERS])
def test_every_name_the_text_quotes_is_glued_by_its_chapter(executed, name):
    src, _, outcome = executed
    if outcome[name] is not None:
        pytest.skip("the chapter failed to execute (its own test says why)")
    cells = json.loads((src / "book" / name).read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    quoted = set(GLUE_ROLE.findall(text)) | set(GLUE_DIRECTIVE.findall(text))
    glued = {out.get("metadata", {}).get("scrapbook", {}).get("name")
             for c in cells if c["cell_type"] == "code" for out in c.get("outputs", [])}
    assert quoted <= glued, f"{name} quotes names it never glues: {sorted(quoted - glued)}"


@pytest.mark.parametrize("name", ["representations", "backoff", "influence", "spurious", "mislabel", "hans"])
def test_every_chapter_records_where_its_time_went(executed, name):
    _, results, _ = executed
    timing = json.loads((results / f"{name}.json").read_text())["timing"]
    parts = ["fine-tuning", "encoding", "kNN", "LIME", "influence functions", "t-SNE", "other"]
    assert set(timing) == set(parts) | {"total", "fine_tunes"}
    for run in timing["fine_tunes"]:  # each fine-tune that ran (cache hits are not listed)
        assert set(run) == {"n_train", "epochs", "seconds", "continued"} and run["n_train"] > 0
    assert sum(timing[p] for p in parts) >= timing["total"] - 0.01 > 0
    assert all(timing[p] >= 0 for p in parts)


def test_results_page_writes_the_scorecard(executed):
    _, results, outcome = executed
    assert outcome["99_results.ipynb"] is None
    card = json.loads((results / "scorecard.json").read_text())
    assert card["verdicts"] == ["reproduced", "opposite", "ruled out", "inconclusive", "untested", "not comparable"]
    claims = card["claims"]
    assert len(claims) >= 12
    for c in claims:
        assert {"paper", "ours", "verdict", "link"} <= set(c) and c["verdict"] in card["verdicts"]


def test_mislabel_chapter_writes_its_results(executed):
    _, results, outcome = executed
    assert outcome["05_mislabeled.ipynb"] is None
    res = json.loads((results / "mislabel.json").read_text())
    assert set(res["knn"]) >= {"precision", "recall", "f1", "sd_f1", "n_candidates"}
    assert set(res["loss_baseline"]) >= {"fraction_for_knn_recall", "average_precision", "recall_at_knn_budget"}
    assert set(res["cleanlab"]) >= {"precision", "recall", "f1", "average_precision"}
    assert 0 <= res["ranked_knn"]["average_precision"] <= 1


def test_hans_chapter_writes_its_results(executed):
    _, results, outcome = executed
    assert outcome["06_hans_tsne.ipynb"] is None
    res = json.loads((results / "hans.json").read_text())
    for h in ("lexical_overlap", "subsequence", "constituent"):
        for label in ("entailment", "non-entailment"):
            cell = res[h][label]
            assert set(cell) == {"model_acc", "backoff_acc", "n", "paired"}
            # the paired test of backoff against the model, on the same pairs of the cell
            assert cell["paired"]["diff"] == pytest.approx(cell["backoff_acc"] - cell["model_acc"])
            assert cell["paired"]["lo"] <= cell["paired"]["diff"] <= cell["paired"]["hi"]
    assert set(res["slice_rule"]["taus"]) == {"lexical_overlap", "subsequence", "constituent"}


def test_representations_chapter_writes_its_results(executed):
    _, results, outcome = executed
    assert outcome["01_representations.ipynb"] is None
    res = json.loads((results / "representations.json").read_text())
    assert res["smoke"] is True and 0 <= res["model_val_acc"] <= 1
    assert len(res["knn_acc"]) == res["n_variants"] == 2 * 3 * 7
    # the pretraining confound: the un-fine-tuned backbone beside the fine-tuned model
    for key in ("unfinetuned", "unfinetuned_mean", "finetuned"):
        r = res[key]
        assert set(r) >= {"knn_acc", "knn_ci", "probe_acc", "probe_ci", "n_val", "n_train"}
        assert (r["n_val"], r["n_train"]) == (res["n_val"], res["n_train"])
        for name in ("knn", "probe"):
            lo, hi = r[f"{name}_ci"]
            assert 0 <= lo <= r[f"{name}_acc"] <= hi <= 1
    assert res["finetuned"]["model_acc"] == res["model_val_acc"]
    assert res["finetuned"]["knn_acc"] == pytest.approx(res["cls_last_norm_knn_acc"])
    # the tokenisation confound: every sampled CAD-original test pair is found in SNLI test
    tok = res["tokenisation"]
    assert set(tok) >= {"n_matched", "raw_acc", "tokenised_acc", "diff", "ci"}
    assert tok["n_matched"] == tok["n_raw"] > 0
    assert tok["diff"] == pytest.approx(tok["tokenised_acc"] - tok["raw_acc"])
    assert tok["ci"][0] <= tok["diff"] <= tok["ci"][1]


def test_influence_chapter_writes_its_results(executed):
    _, results, outcome = executed
    assert outcome["03_influence.ipynb"] is None
    res = json.loads((results / "influence.json").read_text())
    rm = res["removal"]
    assert rm["n_seeds"] == len(rm["seeds"]) == len(rm["full_acc"]) >= 1
    for fraction in ("0.1", "0.3"):
        assert set(rm["drops"][fraction]) == {"top", "random", "matched"}
        assert all(len(v) == rm["n_seeds"] for v in rm["drops"][fraction].values())
        for cond in ("top", "random", "matched"):
            assert rm["summary"]["drops"][fraction][cond]["n"] == rm["n_seeds"]
        assert set(rm["summary"]["gaps"][fraction]) == {"top_minus_random", "top_minus_matched"}
        assert set(res["removal_by_fraction"][fraction]) >= {"top_drop_mean", "top_drop_sd", "random_drop_mean",
                                                             "random_drop_sd", "matched_drop_mean"}
    # increments are drop(0.3) - drop(0.1), per seed
    for cond, values in rm["increments"].items():
        assert values == pytest.approx([b - a for a, b in zip(rm["drops"]["0.1"][cond], rm["drops"]["0.3"][cond])])
    assert rm["top_sets_from"] == "training queries" and rm["seconds_per_seed"] > 0
    assert res["paper"]["removal"]["increment"] == {"top": 6.0, "random": 4.0}
    overlap = res["retrieval"]["top_set_overlap_train_test"]["0.1"]
    assert 0 <= overlap["overlap"] <= 1 and overlap["n_shared"] <= overlap["n_top"]
    assert set(res["speed"]) >= {"n_train", "knn_s_per_example", "influence_s_per_example", "speedup"}
    assert res["speed"]["speedup"] == pytest.approx(
        res["speed"]["influence_s_per_example"] / res["speed"]["knn_s_per_example"])
    assert 0 <= res["topk_overlap"] <= 1
    conditions = {(r["fraction"], r["condition"]) for r in res["removal_runs"]}
    assert conditions == {(0.0, "full"), *((f, c) for f in (0.1, 0.3) for c in ("top", "random", "matched"))}


def test_results_page_finds_every_chapters_results(executed):
    import nbformat

    src, _, outcome = executed
    assert outcome["99_results.ipynb"] is None
    nb = nbformat.read(src / "book" / "99_results.ipynb", as_version=4)
    text = json.dumps([c.get("outputs", []) for c in nb.cells if c.cell_type == "code"])
    assert "Not run, so absent" not in text and "snli-augmented" in text and "constituent" in text
    assert "Smoke run" in text  # a smoke build says its numbers mean nothing
    assert "loss ranking" in text  # the mislabel rows of the scorecard
    assert "most retrieved" in text and "influence functions" in text


def test_no_chapter_code_line_is_over_110_characters():
    import nbformat

    long = [f"{nb.name}: {line[:40]}..." for nb in CHAPTERS for cell in nbformat.read(nb, as_version=4).cells
            if cell.cell_type == "code" for line in cell.source.splitlines() if len(line) > 110]
    assert not long, long


def test_every_chapter_is_in_the_toc():
    toc = (ROOT / "_toc.yml").read_text()
    for nb in CHAPTERS:
        assert f"book/{nb.stem}" in toc, f"{nb.name} missing from _toc.yml"


def test_book_builds_with_warnings_as_errors(site):
    assert (site / "index.html").exists()
    page = (site / "book" / "01_representations.html").read_text()
    assert "Representations" in page and "<img" in page  # the figures made it in
    intro = (site / "book" / "intro.html").read_text()
    assert "cdn.jsdelivr" not in intro and "mathjax/tex-chtml.js" in intro  # MathJax served locally
    assert (site / "mathjax" / "tex-chtml.js").exists()


def test_every_chapter_opens_with_the_colab_install_cell_for_this_repository():
    import tomllib

    import nbformat
    import yaml

    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    assert url.startswith("https://github.com/")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["urls"]["Repository"] == url
    for nb_path in CHAPTERS:
        nb = nbformat.read(nb_path, as_version=4)
        first = next(c for c in nb.cells if c.cell_type == "code")
        assert '"google.colab" in str(get_ipython())' in first.source, nb_path.name
        assert f"nbhelpers[colab] @ git+{url}" in first.source, nb_path.name
        assert "parameters" not in first.metadata.get("tags", [])


def test_pages_workflow_builds_with_make_book_and_publishes_the_site():
    import yaml

    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    steps = wf["jobs"]["build"]["steps"]
    assert any(s.get("run") == "make book" for s in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "_build/html"
    assert wf["jobs"]["deploy"]["steps"][0]["uses"].startswith("actions/deploy-pages")


def test_pages_workflow_keeps_the_content_addressed_cache_between_runs():
    import yaml

    wf = yaml.safe_load((ROOT / ".github" / "workflows" / "book.yml").read_text())
    build = wf["jobs"]["build"]
    steps = build["steps"]
    assert build["env"]["NBHELPERS_CACHE"].endswith("/.cache")
    restore = next(s for s in steps if s.get("uses", "").startswith("actions/cache/restore")
                   and s["with"]["path"] == ".cache")
    key = restore["with"]["key"]
    assert "hashFiles('nbhelpers/**', 'requirements.txt')" in key
    prefix = key.split("${{ hashFiles")[0]
    assert restore["with"]["restore-keys"].strip() == prefix     # a partial hit restores the newest older cache
    make = next(i for i, s in enumerate(steps) if s.get("run") == "make book")
    assert steps.index(restore) < make
    save = next(s for s in steps if s.get("uses", "").startswith("actions/cache/save"))
    assert steps.index(save) > make and save["with"]["path"] == ".cache"
    assert save["if"].startswith("always()")                     # a failed cold run still saves its models
    assert save["with"]["key"] == "${{ steps.%s.outputs.cache-primary-key }}" % restore["id"]


def test_intro_lists_every_chapters_parameters():
    import papermill

    intro = (ROOT / "book" / "intro.md").read_text()
    rows = [line for line in intro.splitlines() if line.startswith("| ") and "`smoke`" in line]
    chapters = [nb for nb in CHAPTERS if not nb.name.startswith("99_")]
    assert len(rows) == len(chapters)
    for nb, row in zip(chapters, rows):
        params = papermill.inspect_notebook(str(nb))
        missing = [name for name in params if f"`{name}`" not in row]
        assert not missing, f"{nb.name}: parameters {missing} missing from the intro's table"


def test_explorer_data_lands_next_to_its_page(executed, site):
    _, results, outcome = executed
    assert outcome["07_explorer.ipynb"] is None
    text = (results / "explorer-data.js").read_text()
    assert text.startswith("window.EXPLORER_DATA = {")
    assert (site / "book" / "explorer-data.js").read_text() == text  # copied by build_book.execute
    assert '<script src="explorer-data.js"></script>' in (site / "book" / "07_explorer.html").read_text()

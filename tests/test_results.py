"""The chapters' typed records: the schema is pinned here, so changing it fails this test."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from nbhelpers import results
from nbhelpers.results import BackoffRecord, MislabelRecord, RECORDS

FIXTURES = Path(__file__).parent / "data" / "results"
"""Results files from a smoke run of each chapter (timing left as it was measured)."""

SCHEMA = {
    "representations": ["backbone", "seed", "k", "smoke", "train", "validation", "n_train", "n_val", "recipe",
                        "model_val_acc", "recipes", "knn_acc", "best_variant", "cls_last_norm_knn_acc",
                        "cls_last_norm_rank", "n_variants", "paper", "model_val_ci", "finetuned", "unfinetuned",
                        "unfinetuned_mean", "tokenisation", "minutes", "timing"],
    "backoff": ["snli-original", "snli-augmented", "anli", "hans", "anli-adversarial", "timing"],
    "influence": ["backbone", "seed", "k", "n_train", "train", "test", "removal", "removal_by_fraction",
                  "removal_seeds", "removal_runs", "speed", "topk_overlap", "topk_overlap_random", "retrieval",
                  "support", "paper", "smoke", "seconds", "timing"],
    "spurious": ["pattern_stats", "not_claim", "slice_accuracy", "negation_entailment_change", "miner_top_tokens",
                 "miner_pattern_hits_top10", "examples", "example_selection", "lime", "setup", "timing"],
    "mislabel": ["knn", "loss_baseline", "cleanlab", "ranked_knn", "knn_only", "noisy_model", "paper", "per_seed",
                 "diagnostics", "setup", "augmented_flagged", "sweep", "sweep_setup", "sweep_conclusion", "timing"],
    "hans": ["lexical_overlap", "subsequence", "constituent", "slice_rule", "setting",
             "paper_table6_non_entailment", "timing"],
}
SETTING_KEYS = ["backbone", "k", "T", "tau", "lambda", "n_test", "model_acc", "knn_acc", "backoff_acc",
                "interp_acc", "train", "seed", "backoff_gain", "backoff_gain_ci95", "other_backbones", "paper",
                "seeds", "smoke", "per_seed", "verdict"]


def test_every_records_keys_are_pinned():
    assert list(RECORDS) == list(SCHEMA)
    for name, record in RECORDS.items():
        assert record.NAME == name
        assert record.keys() == SCHEMA[name], f"{name}: update SCHEMA (and the chapters) with the record"
    assert results.BackoffSetting.keys() == SETTING_KEYS


def _setting(**extra):
    s = {"backbone": "minilm", "k": 8, "T": 10.0, "tau": 0.5, "lambda": 0.25, "n_test": 4, "model_acc": 0.5,
         "knn_acc": 0.75, "backoff_acc": 0.75, "interp_acc": 0.5, "train": "cad-original/train", "seed": 0,
         "backoff_gain": 0.25, "backoff_gain_ci95": [0.0, 0.5]}
    return s | extra


def _backoff():
    paper = {name: _setting(other_backbones=[], paper=results.BackoffSetting.paper_numbers(name))
             for name in BackoffRecord.SETTINGS}
    paper["snli-original"] |= {"seeds": {"seeds": [0, 1], "model_acc_mean": 0.5, "model_acc_std": 0.0,
                                         "backoff_gain_mean": 0.01, "backoff_gain_std": 0.02}, "smoke": True}
    return paper | {"timing": {"total": 1.0}}


def test_backoff_record_round_trips_with_and_without_the_adversarial_setting(tmp_path):
    plain = _backoff()
    rec = BackoffRecord.from_dict(plain)
    assert rec.anli_adversarial is None and rec.to_dict() == plain  # absent stays absent
    assert rec.setting("snli-original").lambda_ == 0.25 and rec.snli_original.paper["bert_tau"] == 0.74
    adversarial = _setting(seeds={"seeds": [0, 1, 2], "anli_model_acc_mean": 0.4}, per_seed={"seed": [0, 1, 2]},
                           verdict={"reading": "(b)"})
    full = {**plain, "anli-adversarial": adversarial}
    full = {k: full[k] for k in SCHEMA["backoff"]}  # file order
    rec = BackoffRecord.from_dict(full)
    assert rec.anli_adversarial.seeds["seeds"] == [0, 1, 2] and rec.anli_adversarial.other_backbones is None
    path = rec.save(tmp_path)
    assert path == tmp_path / "backoff.json"
    assert path.read_text() == json.dumps(full, indent=1)  # what the chapters wrote by hand before
    assert BackoffRecord.load(tmp_path) == rec
    assert rec.paper_table().loc["anli", "paper BERT: tau"] == "0.95"
    assert "Over seeds [0, 1]" in rec.seeds_sentence()


def test_a_missing_or_unknown_key_fails_with_both_named():
    bad = _backoff()
    del bad["hans"]
    bad["HANS"] = _setting()
    with pytest.raises(ValueError, match=r"missing \['hans'\], unknown \['HANS'\]"):
        BackoffRecord.from_dict(bad)
    bad = _backoff()
    bad["anli"] = _setting(tau_bert=0.9)
    with pytest.raises(ValueError, match=r"BackoffRecord\['anli'\]: .*unknown \['tau_bert'\]"):
        BackoffRecord.from_dict(bad)


@pytest.mark.parametrize("key, value, message", [
    ("k", "8", r"\['k'\]: expected an integer, got str"),
    ("k", True, r"\['k'\]: expected an integer, got bool"),
    ("tau", None, r"\['tau'\]: expected a number, got NoneType"),
    ("backoff_gain_ci95", [0.0, "x"], r"\['backoff_gain_ci95'\]\[1\]: expected a number, got str"),
])
def test_a_value_of_the_wrong_type_fails_naming_the_field(key, value, message):
    bad = _backoff()
    bad["snli-augmented"][key] = value
    with pytest.raises(TypeError, match=message):
        BackoffRecord.from_dict(bad)


def test_save_refuses_what_load_would_refuse(tmp_path):
    rec = BackoffRecord.from_dict(_backoff())
    rec.anli.k = "eight"
    with pytest.raises(TypeError, match=r"\['anli'\]\['k'\]: expected an integer"):
        rec.save(tmp_path)
    assert not (tmp_path / "backoff.json").exists()


def _mislabel():
    stat = {"precision": 0.5, "recall": 0.5, "f1": 0.5, "sd_f1": 0.1, "n_candidates": 10.0}
    return {"knn": stat, "loss_baseline": {"fraction_for_knn_recall": 0.2, "average_precision": 0.3},
            "cleanlab": {"precision": 0.4, "recall": 0.3, "f1": 0.35, "average_precision": 0.3},
            "ranked_knn": {"average_precision": 0.3}, "noisy_model": {"val_acc": 0.6},
            "paper": {"precision": 0.84, "recall": 0.73, "f1": 0.78, "loss_fraction_for_knn_recall": 0.65},
            "per_seed": {"seed": [0]}, "setup": {"seeds": [0], "smoke": True}, "augmented_flagged": 3}


def test_mislabel_record_takes_a_sweep_and_diagnostics():
    plain = _mislabel()
    assert MislabelRecord.from_dict(plain).to_dict() == plain | {"sweep_conclusion": None}
    full = plain | {"knn_only": {"average_precision": 0.2}, "diagnostics": {"mean": {"a": 1.0}},
                    "sweep": [{"epochs": 1, "f1": 0.5}, {"epochs": 5, "f1": 0.3}],
                    "sweep_setup": {"regimes": [[1e-4, 1]], "seeds": [0], "folds": 3},
                    "sweep_conclusion": {"pattern": "x"}, "timing": {"total": 2.0}}
    full = {k: full[k] for k in SCHEMA["mislabel"]}  # file order
    rec = MislabelRecord.from_dict(full)
    assert rec.sweep[1]["epochs"] == 5 and rec.to_dict() == full
    assert json.loads(json.dumps(rec.to_dict())) == full and list(rec.to_dict()) == SCHEMA["mislabel"]
    assert rec.paper_table().loc["kNN candidates: precision / recall / F1", "paper (BERT)"] == "0.84 / 0.73 / 0.78"
    with pytest.raises(TypeError, match=r"\['sweep'\]: expected a list, got dict"):
        MislabelRecord.from_dict(full | {"sweep": {"epochs": 1}})


@pytest.mark.parametrize("name", [n for n in SCHEMA if (FIXTURES / f"{n}.json").exists()])
def test_a_smoke_runs_file_loads_and_saves_back_unchanged(name, tmp_path):
    text = (FIXTURES / f"{name}.json").read_text()
    rec = results.load(name, FIXTURES)
    assert rec.to_dict() == json.loads(text)
    assert rec.save(tmp_path).read_text() == json.dumps(json.loads(text), indent=1)


def test_takeaways_are_written_from_the_record():
    rep = results.load("representations", FIXTURES)
    lines = rep.takeaways()
    assert lines[0].startswith("**Smoke run**")
    assert f"**{rep.model_val_acc:.1%}** on SNLI validation" in lines[1]
    assert f"rank {rep.cls_last_norm_rank} of {rep.n_variants}" in lines[2]
    changed = copy.deepcopy(rep)
    changed.cls_last_norm_rank, changed.smoke = 1, False
    assert "the best of all variants, as the paper found" in changed.takeaways()[1]
    near, far = copy.deepcopy(rep), copy.deepcopy(rep)  # ranks below 1: the gap gets an interval
    near.cls_last_norm_rank = far.cls_last_norm_rank = 2
    near.n_val = far.n_val = 9842
    near.best_variant = {**rep.best_variant, "knn_acc": rep.cls_last_norm_knn_acc + 0.003}
    far.best_variant = {**rep.best_variant, "knn_acc": rep.cls_last_norm_knn_acc + 0.05}
    assert "+0.3 points [" in near.takeaways()[2] and "indistinguishable" in near.takeaways()[2]
    assert "+5.0 points [" in far.takeaways()[2] and "beyond the noise" in far.takeaways()[2]
    assert rep.paper_table().loc["fine-tuned model accuracy", "paper (BERT-base)"] == "75.7% (SNLI test)"


def test_load_all_gives_none_for_a_chapter_that_has_not_run(tmp_path):
    BackoffRecord.from_dict(_backoff()).save(tmp_path)
    loaded = results.load_all(tmp_path)
    assert list(loaded) == list(SCHEMA) and isinstance(loaded["backoff"], BackoffRecord)
    assert loaded["hans"] is None
    with pytest.raises(ValueError, match="unknown record 'scores'; expected one of"):
        results.load("scores", tmp_path)


def test_every_chapters_takeaways_and_tables_come_from_its_record():
    inf = results.load("influence", FIXTURES)
    lines = inf.takeaways(model_val_acc=0.5)
    assert f"{inf.n_train:,} CAD-original pairs, 50.0% on SNLI validation" in lines[0]
    assert "**The claims, by the scorecard's rule:**" in lines and lines[-1].startswith("- ")
    assert "speed-up" in inf.speed_table().index[0]
    sp = results.load("spurious", FIXTURES)
    lines = sp.takeaways(n_train={"original": 1666, "augmented": 8330})
    assert "pairs out of 1,666 and 8,330." in " ".join(lines)
    assert sp.summary_sentence().startswith("Closest reading of the 'not' claim")
    hans = results.load("hans", FIXTURES)
    lines = hans.takeaways(n_fixed=3, n_broken=1, n_val=150)
    assert "Backoff fixes 3 and breaks 1 of the 150 validation examples" in lines[2]
    assert hans.paper_table().loc["constituent", "paper: BERT → kNN-BERT"] == "18.2% → 24.6%"

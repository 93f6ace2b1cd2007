"""The chapters' typed records: schemas pinned, smoke-run files load, bad values refused by name.

The JSON schema of every record is pinned in ``tests/data/schemas/<name>.json``. After an
intended schema change (and the chapters changed with it), regenerate the snapshots with::

    PYTHONPATH=. python tests/test_results.py --write-schemas
"""
from __future__ import annotations

import copy
import json
import multiprocessing
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbhelpers import experiments, results
from nbhelpers.results import RECORDS, BackoffRecord, BackoffSetting, MislabelRecord

DATA = Path(__file__).parent / "data"
FIXTURES = DATA / "results"
"""Results files of a smoke run of chapters 1, 3, 4 and 6, as they write them (timing as measured)."""
SCHEMAS = DATA / "schemas"
SCHEMA_MODELS = {**RECORDS, "backoff_setting": BackoffSetting}


def write_schemas() -> None:
    """Write the JSON schema of every record to ``tests/data/schemas`` (see the module docstring)."""
    SCHEMAS.mkdir(parents=True, exist_ok=True)
    for name, model in SCHEMA_MODELS.items():
        (SCHEMAS / f"{name}.json").write_text(json.dumps(model.model_json_schema(), indent=1) + "\n")


@pytest.mark.parametrize("name", list(SCHEMA_MODELS))
def test_every_records_json_schema_matches_its_snapshot(name):
    pinned = json.loads((SCHEMAS / f"{name}.json").read_text())
    assert SCHEMA_MODELS[name].model_json_schema() == pinned, (
        f"the schema of {name} changed: update the chapters, then regenerate the snapshots "
        "(PYTHONPATH=. python tests/test_results.py --write-schemas)")


def test_jsonable_makes_numpy_tuples_and_keys_plain_and_names_what_is_not_json():
    plain = results.jsonable({"a": np.float32(0.5), 1: (np.int64(2), np.arange(2))})
    assert plain == {"a": 0.5, "1": [2, [0, 1]]}
    with pytest.raises(TypeError, match="value must be JSON .* got object"):
        results.jsonable({"a": [object()]})


def test_a_record_reads_nan_as_none_and_names_a_percentage_given_for_a_fraction():
    class Run(results.Record):
        NAME = "run"
        accuracy: results.Fraction
        sd: results.MaybeNumber

    assert Run(accuracy=0.5, sd=float("nan")).to_dict() == {"accuracy": 0.5, "sd": None}
    message = r"^Run: 1 invalid value: accuracy: Input should be less than or equal to 1, got 50\.0$"
    with pytest.raises(ValueError, match=message):
        Run.from_dict({"accuracy": 50.0, "sd": None})


def test_records_are_listed_by_file_name_in_reading_order():
    assert list(RECORDS) == ["representations", "backoff", "influence", "spurious", "mislabel", "hans"]
    assert all(record.NAME == name for name, record in RECORDS.items())


# --------------------------------------------------------------------------- files the chapters write

@pytest.mark.parametrize("name", [n for n in RECORDS if (FIXTURES / f"{n}.json").exists()])
def test_a_smoke_runs_file_loads_and_saves_back_unchanged(name, tmp_path):
    text = (FIXTURES / f"{name}.json").read_text()
    rec = results.load(name, FIXTURES)
    assert rec.model_dump(mode="json") == rec.to_dict() == json.loads(text)
    assert rec.save(tmp_path).read_text() == json.dumps(json.loads(text), indent=1)  # key order kept too


def test_load_all_gives_records_whose_dump_is_the_file(tmp_path):
    BackoffRecord.from_dict(_backoff()).save(tmp_path)
    loaded = results.load_all(tmp_path)
    assert list(loaded) == list(RECORDS) and isinstance(loaded["backoff"], BackoffRecord)
    assert loaded["hans"] is None  # that chapter has not run
    assert loaded["backoff"].model_dump(mode="json") == json.loads((tmp_path / "backoff.json").read_text())
    with pytest.raises(ValueError, match="name='scores' but expected one of 'representations', 'backoff'"):
        results.load("scores", tmp_path)


# --------------------------------------------------------------------------- chapter 2, built by hand

def _setting(**extra):
    s = {"backbone": "minilm", "k": 8, "T": 10.0, "tau": 0.5, "lambda": 0.25, "n_test": 4, "model_acc": 0.5,
         "knn_acc": 0.75, "backoff_acc": 0.75, "interp_acc": 0.5, "train": "cad-original/train", "seed": 0,
         "backoff_gain": 0.25, "backoff_gain_ci95": [0.0, 0.5]}
    return s | extra


def _backoff():
    out = {name: _setting(other_backbones=[], paper=BackoffSetting.paper_numbers(name))
           for name in BackoffRecord.SETTINGS}
    out["snli-original"] |= {"seeds": {"seeds": [0, 1], "model_acc_mean": 0.5, "model_acc_std": 0.0,
                                       "backoff_gain_mean": 0.01, "backoff_gain_std": 0.02}, "smoke": True}
    parts = ["fine-tuning", "encoding", "kNN", "LIME", "influence functions", "t-SNE", "other"]
    timing = dict.fromkeys(parts, 0.0)
    return out | {"timing": timing | {"total": 1.0, "fine_tunes": []}}


def test_backoff_record_round_trips_with_and_without_the_adversarial_setting(tmp_path):
    plain = _backoff()
    rec = BackoffRecord.from_dict(plain)
    assert rec.anli_adversarial is None and rec.to_dict() == plain  # absent stays absent
    assert rec.setting("snli-original").lambda_ == 0.25 and rec.snli_original.paper["bert_tau"] == 0.74
    adversarial = _setting(seeds={"seeds": [0], "anli_model_acc_mean": 0.4,
                                  "anli_model_acc_std": float("nan")},
                           per_seed={"test": ["anli", "hans"], "seed": [0, 0],
                                     "gain_lo": [0.0, np.float64(0.1)]},
                           verdict="inconclusive")
    full = {**plain, "anli-adversarial": adversarial}
    full = {k: full[k] for k in [*BackoffRecord.SETTINGS, "anli-adversarial", "timing"]}  # file order
    rec = BackoffRecord.from_dict(full)
    assert rec.anli_adversarial.seeds["anli_model_acc_std"] is None  # an sd over one seed: NaN -> null
    assert rec.anli_adversarial.other_backbones is None
    path = rec.save(tmp_path)
    assert path == tmp_path / "backoff.json"
    expected = copy.deepcopy(full)
    expected["anli-adversarial"]["seeds"]["anli_model_acc_std"] = None
    assert path.read_text() == json.dumps(expected, indent=1)  # what the chapters wrote by hand before
    assert BackoffRecord.load(path) == rec
    assert rec.setting("anli").paper["bert_tau"] == 0.95 and rec.snli_original.seeds["seeds"] == [0, 1]


def test_a_setting_built_from_a_summary_keeps_ints_and_leaves_out_what_is_none():
    s = {"k": np.int64(8), "T": 10, "tau": 0.5, "lambda": 0.25, "n_test": 4, "model_acc": 0.5,
         "knn_acc": 0.75, "backoff_acc": 0.75, "interp_acc": 0.5}
    r = BackoffSetting.from_summary(s, backbone="minilm", train="t", seed=0)
    out = r.to_dict()
    assert out["k"] == 8 and out["backoff_gain"] is None and out["backoff_gain_ci95"] is None
    assert "paper" not in out and "seeds" not in out
    assert list(out)[:5] == ["backbone", "k", "T", "tau", "lambda"]
    r = BackoffSetting.from_summary(s, backbone="minilm", train="t", seed=0, setting="anli",
                                    gain={"diff": np.float64(0.25), "lo": 0.0, "hi": 0.5})
    assert (r.backoff_gain, r.backoff_gain_ci95, r.paper["bert_tau"]) == (0.25, [0.0, 0.5], 0.95)


# --------------------------------------------------------------------------- what is refused, and how

def test_a_missing_or_unknown_key_fails_with_both_named():
    bad = _backoff()
    del bad["hans"]
    bad["HANS"] = _setting()
    message = r"^BackoffRecord: .*hans: Field required; HANS: Extra inputs are not permitted, got \{"
    with pytest.raises(ValueError, match=message):
        BackoffRecord.from_dict(bad)
    bad = _backoff()
    bad["anli"] = _setting(tau_bert=0.9)
    with pytest.raises(ValueError, match=r"anli\.tau_bert: Extra inputs are not permitted, got 0\.9"):
        BackoffRecord.from_dict(bad)
    bad = _backoff()
    bad["snli-original"]["paper"]["bert_taus"] = bad["snli-original"]["paper"].pop("bert_tau")
    with pytest.raises(ValueError, match=r"snli-original\.paper\.bert_tau: Field required"):
        BackoffRecord.from_dict(bad)


@pytest.mark.parametrize("key, value, message", [
    ("k", "8", r"snli-augmented\.k: .*integer.*'8'"),
    ("k", True, r"snli-augmented\.k: .*integer.*True"),
    ("tau", "0.5", r"snli-augmented\.tau: Input should be a valid number, got '0\.5'"),
    ("tau", None, r"snli-augmented\.tau: Input should be a valid number, got None"),
    ("model_acc", 50.0, r"snli-augmented\.model_acc: Input should be less than or equal to 1, got 50\.0"),
    ("knn_acc", -0.1, r"snli-augmented\.knn_acc: Input should be greater than or equal to 0, got -0\.1"),
    ("backoff_gain", float("nan"), r"snli-augmented\.backoff_gain: Input should be a finite number, got nan"),
    ("backoff_gain", float("inf"), r"snli-augmented\.backoff_gain: Input should be a finite number, got inf"),
    ("backoff_gain_ci95", [0.0, "x"], r"backoff_gain_ci95\.1: Input should be a valid number, got 'x'"),
    ("backoff_gain_ci95", [0.0], r"snli-augmented\.backoff_gain_ci95: .*at least 2"),
])
def test_a_value_of_the_wrong_type_or_range_fails_naming_the_field_and_value(key, value, message):
    bad = _backoff()
    bad["snli-augmented"][key] = value
    with pytest.raises(ValueError, match=message):
        BackoffRecord.from_dict(bad)


def test_nested_shapes_are_checked_too():
    hans = json.loads((FIXTURES / "hans.json").read_text())
    hans["constituent"]["non-entailment"]["model_acc"] = 50.0
    with pytest.raises(ValueError, match=r"model_acc: Input should be less than or equal to 1, got 50"):
        results.HansRecord.from_dict(hans)
    rep = json.loads((FIXTURES / "representations.json").read_text())
    rep["finetuned"]["knn_ci"] = [0.2, "0.4"]
    rep["timing"]["kNN"] = -1.0
    with pytest.raises(ValueError, match=r"2 invalid values: finetuned\.knn_ci\.1: .*timing\.kNN: "):
        results.RepresentationsRecord.from_dict(rep)


def test_building_or_assigning_a_bad_value_fails_at_once():
    rec = BackoffRecord.from_dict(_backoff())
    with pytest.raises(ValueError, match=r"k\n.*valid integer.*eight"):  # pydantic's own message
        rec.anli.k = "eight"
    with pytest.raises(ValueError, match=r"backoff_gain\.float\n.*finite number.*nan"):  # pydantic's too
        BackoffSetting(**{**rec.anli.model_dump(), "backoff_gain": float("nan")})


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_load_refuses_nan_and_infinity_naming_the_file_and_token(tmp_path, token):
    path = BackoffRecord.from_dict(_backoff()).save(tmp_path)
    where = re.escape(str(path))
    text = path.read_text()
    path.write_text(text.replace('"model_acc_std": 0.0', f'"model_acc_std": {token}'))  # even where None fits
    with pytest.raises(ValueError, match=rf"^{where}: not valid JSON: {token} is not valid JSON"):
        BackoffRecord.load(path)


def test_save_refuses_what_load_would_refuse_and_leaves_the_old_file(tmp_path):
    rec = BackoffRecord.from_dict(_backoff())
    path = rec.save(tmp_path)
    before = path.read_text()
    rec.anli.backoff_gain_ci95[1] = float("nan")  # an edit inside a list is not checked until save
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: .*anli\.backoff_gain_ci95\.1: .*finite"):
        rec.save(tmp_path)
    rec.anli.backoff_gain_ci95[1] = 0.5
    rec.hans.paper["bert_tau"] = "0.9"
    with pytest.raises(ValueError, match=r"hans\.paper\.bert_tau: Input should be a valid number, got '0.9'"):
        rec.save(tmp_path)
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["backoff.json"]
    assert "NaN" not in before and "Infinity" not in before


@pytest.mark.parametrize("damage, message", [
    (lambda text: text[: len(text) // 2], r"not valid JSON: Expecting"),
    (lambda text: "\ufeff" + text, r"not valid JSON: Unexpected UTF-8 BOM"),
    (lambda text: "", "not valid JSON"),
    (lambda text: "[1, 2]", r"\(the object itself\): .*valid dictionary"),
])
def test_a_damaged_file_fails_naming_it(tmp_path, damage, message):
    path = BackoffRecord.from_dict(_backoff()).save(tmp_path)
    path.write_text(damage(path.read_text()), encoding="utf-8")
    with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: .*{message}"):
        results.load("backoff", tmp_path)


# --------------------------------------------------------------------------- saving at once

def _save_many(args):
    folder, worker, n = args
    rec = BackoffRecord.from_dict(_backoff())
    for i in range(n):
        rec.snli_original.seed = worker * 1000 + i
        rec.save(folder)
    return n


def test_threads_and_processes_saving_the_same_record_at_once_do_not_collide(tmp_path):
    jobs = [(tmp_path, worker, 25) for worker in range(4)]
    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(_save_many, jobs)) == 100
    with multiprocessing.get_context("fork").Pool(3) as pool:
        assert sum(pool.map(_save_many, jobs[:3])) == 75
    rec = BackoffRecord.load(tmp_path / "backoff.json")  # whole: one of the last saves
    assert rec.snli_original.seed % 1000 == 24
    assert [p.name for p in tmp_path.iterdir()] == ["backoff.json"]


# --------------------------------------------------------------------------- chapter 5, built by hand

def _mislabel():
    rank = {"average_precision": 0.3, "f1_at_knn_budget": 0.2, "k": 16}
    return {"knn": {"precision": 0.5, "recall": 0.5, "f1": 0.5, "sd_f1": 0.1, "n_candidates": 10.0},
            "loss_baseline": {"fraction_for_knn_recall": 0.2, "average_precision": 0.3,
                              "recall_at_knn_budget": 0.4},
            "cleanlab": {"precision": 0.4, "recall": 0.3, "f1": 0.35, "average_precision": 0.3,
                         "f1_at_knn_budget": 0.3, "folds": 3},
            "ranked_knn": rank, "noisy_model": {"val_acc": 0.6, "flips_memorised": 0.5},
            "paper": {"precision": 0.84, "recall": 0.73, "f1": 0.78, "loss_fraction_for_knn_recall": 0.65,
                      "noise_rate": 0.1, "source": "Section 5"},
            "knn_only": rank, "diagnostics": {"mean": {}, "per_seed": {}}, "sweep": [],
            "per_seed": {"seed": [0], "kNN f1": [0.5]},
            "setup": {"backbone": "minilm", "seeds": [0], "noise_rate": 0.1, "n_train": 96, "n_val": 30,
                      "smoke": True},
            "augmented_flagged": 3}


def test_mislabel_record_takes_a_sweep_and_diagnostics():
    plain = _mislabel()
    assert MislabelRecord.from_dict(plain).to_dict() == plain | {"sweep_conclusion": None}
    conclusion = {"pattern_regimes": [], "explanation": "c", "memorisation_range": [0.1, 0.4],
                  "best": {"method": "loss", "regime": "lr 1e-04, 1 ep", "ap": 0.3}, "knn_beats_both": [],
                  "n_seeds": 1}
    full = plain | {"knn_only": _mislabel()["ranked_knn"],
                    "diagnostics": {"mean": {"recall_ceiling": 0.9, "memorised_recalled": float("nan")},
                                    "per_seed": {"seed": [0], "memorised_recalled": [float("nan")]}},
                    "sweep": [{"epochs": 1, "ap": {"loss": 0.5}}, {"epochs": 5, "ap": {"loss": 0.3}}],
                    "sweep_setup": {"regimes": [[1e-4, 1]], "seeds": [0], "folds": 3},
                    "sweep_conclusion": conclusion, "timing": _backoff()["timing"]}
    keys = [k for k in MislabelRecord.model_fields]
    rec = MislabelRecord.from_dict({k: full[k] for k in keys})
    out = rec.to_dict()
    assert rec.sweep[1]["epochs"] == 5 and list(out) == keys
    assert out["diagnostics"]["mean"]["memorised_recalled"] is None
    assert out["diagnostics"]["per_seed"]["memorised_recalled"] == [None] and json.dumps(out, allow_nan=False)
    assert (rec.paper["precision"], rec.paper["recall"], rec.paper["f1"]) == (0.84, 0.73, 0.78)
    with pytest.raises(ValueError, match=r"sweep: .*valid list"):
        MislabelRecord.from_dict(full | {"sweep": {"epochs": 1}})
    with pytest.raises(ValueError, match=r"sweep\.0\.ap\.loss: Input should be a finite number, got inf"):
        MislabelRecord.from_dict(full | {"sweep": [{"ap": {"loss": float("inf")}}]})



def _noisy_run_rows():
    """Two seeds' rows as :func:`nbhelpers.experiments.noisy_label_run` writes them (every key), by hand."""
    rows = []
    for seed, (precision, recall, f1, flagged) in enumerate([(0.25, 0.5, 1 / 3, 4), (0.5, 0.5, 0.5, 2)]):
        row = {"seed": seed, "flipped": 2, "model val acc": 0.6, "flips memorised": 0.5, "clean fitted": 0.9,
               "kNN precision": precision, "kNN recall": recall, "kNN f1": f1, "kNN n_flagged": flagged}
        for m in experiments.RANKINGS:
            row |= {f"{m} P@budget": 0.25, f"{m} R@budget": 0.5, f"{m} F1@budget": 0.3,
                    f"{m} AP": 0.2 + 0.1 * seed}
        row |= {"cleanlab own P": 0.2, "cleanlab own R": 1.0, "cleanlab own F1": 1 / 3, "cleanlab own n": 10,
                "loss: data for kNN recall": 0.1 * (seed + 1), "kNN budget share": flagged / 20,
                "diag n_flips": 2, "diag n_flagged": flagged, "diag n_flagging_queries": 5,
                "diag recall_ceiling": 1.0, "diag memorised_recalled": 0.0,
                "diag memorised_missed": [1.0, float("nan")][seed],
                "diag precision_per_flagged": precision, "diag precision_per_query": 0.4}
        rows.append(row)
    return pd.DataFrame(rows).set_index("seed")


def test_the_mislabel_record_is_built_from_the_runs_rows_and_the_sweep():
    kwargs = dict(backbone="minilm", noise_rate=0.1, n_train=20, n_val=8, smoke=True, cleanlab_folds=3,
                  ranked_k=4, augmented_flagged=np.int64(3))
    point = {"lr": 1e-4, "epochs": 1, "seed": 0, "flips_memorised": 0.5, "knn_f1": 0.4,
             "loss_f1_at_budget": 0.3, "loss_fraction_for_knn_recall": 0.2,
             "ap": dict.fromkeys(experiments.RANKINGS, 0.25)}
    rec = experiments.mislabel_record(_noisy_run_rows(), sweep_points=[point], **kwargs,
                                      sweep_setup={"regimes": [(1e-4, 1)], "seeds": [0], "folds": 2})
    out = rec.to_dict()
    assert out["knn"] == {"precision": 0.375, "recall": 0.5, "f1": pytest.approx(5 / 12),
                          "sd_f1": pytest.approx(np.std([1 / 3, 0.5], ddof=1)), "n_candidates": 3.0}
    assert out["loss_baseline"] == {"fraction_for_knn_recall": pytest.approx(0.15), "average_precision": 0.25,
                                    "recall_at_knn_budget": 0.5}
    assert out["cleanlab"]["folds"] == 3 and out["ranked_knn"]["k"] == out["knn_only"]["k"] == 4
    assert out["diagnostics"]["mean"]["memorised_missed"] == 1.0  # the mean over the seeds that have one
    assert out["diagnostics"]["per_seed"]["memorised_missed"] == [1.0, None]
    assert out["setup"]["seeds"] == out["per_seed"]["seed"] == [0, 1] and out["augmented_flagged"] == 3
    assert out["sweep_setup"]["regimes"] == [[1e-4, 1]] and out["sweep"][0]["epochs"] == 1
    assert out["sweep_conclusion"]["explanation"] == "c" and "by_regime" not in out["sweep_conclusion"]
    one = experiments.mislabel_record(_noisy_run_rows().iloc[:1], **kwargs)  # one seed, no sweep
    assert one.knn["sd_f1"] is None and one.sweep == [] and one.sweep_conclusion is None
    table = experiments.budget_table(_noisy_run_rows())
    assert table.loc["kNN candidates (the paper)", "precision"] == 0.375
    assert table.loc["loss, top-3 (same budget)", "AP"] == 0.25 and np.isnan(table.iloc[0]["AP"])
    assert table.loc["cleanlab find_label_issues (own budget)", "flagged"] == 10


# --------------------------------------------------------------------------- values one seed leaves empty

def test_a_record_keeps_values_that_one_seed_leaves_empty_as_none():
    inf = results.load("influence", FIXTURES)
    inf.support = {"right": 0.5, "wrong": float("nan")}  # the model was never wrong: nothing to average
    assert inf.support["wrong"] is None and inf.to_dict()["support"] == {"right": 0.5, "wrong": None}
    ml = MislabelRecord.from_dict(_mislabel() | {"knn": _mislabel()["knn"] | {"sd_f1": float("nan")}})
    assert ml.knn["sd_f1"] is None and ml.to_dict()["knn"]["precision"] == 0.5


if __name__ == "__main__":
    if sys.argv[1:] != ["--write-schemas"]:
        sys.exit(f"usage: PYTHONPATH=. python {sys.argv[0]} --write-schemas")
    write_schemas()
    print(f"wrote {len(SCHEMA_MODELS)} schemas to {SCHEMAS}")

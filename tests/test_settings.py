"""nbhelpers.settings: the settings' data and one answer to "the model for setting S"."""
import pytest

from nbhelpers import models, settings
from nbhelpers.cache import Cache


def test_recipe_for_by_size():
    assert settings.recipe_for(1666)["epochs"] == models.DEFAULT_RECIPE["epochs"]
    assert settings.recipe_for(8330)["epochs"] == settings.LARGE_TRAIN_EPOCHS
    assert settings.recipe_for(8330, smoke=True)["epochs"] == 1
    assert settings.recipe_for(100)["group_by_length"] is True


def test_unknown_setting_names_the_choices():
    with pytest.raises(ValueError, match="name='snli' but expected one of 'snli-original'"):
        settings.load_setting("snli")


def test_model_for_shares_one_checkpoint_between_chapters(tmp_path, monkeypatch):
    cache = Cache(tmp_path)
    pretrained = models.load_pretrained("minilm", cache=cache)
    calls = []

    def fake_train(train_df, path, *, seed, progress, **recipe):
        calls.append((len(train_df), recipe["epochs"]))
        return pretrained.model, pretrained.tokenizer, {"train_loss": [1.0]}

    monkeypatch.setattr(models, "_train", fake_train)
    anli, splits = settings.model_for("anli", smoke=True, cache=cache, progress=False)
    hans, _ = settings.model_for("hans", smoke=True, cache=cache, progress=False)
    again, _ = settings.model_for("anli", smoke=True, cache=cache, progress=False, splits=splits)
    assert anli.key == hans.key == again.key          # HANS uses the ANLI model; trained once
    assert calls == [(settings.SMOKE_SIZES["train"], 1)]
    other, _ = settings.model_for("anli", smoke=True, seed=1, cache=cache, progress=False)
    assert other.key != anli.key and len(calls) == 2


def test_adversarial_split_is_stratified_disjoint_and_seeded():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"premise": [f"p{i}" for i in range(300)], "hypothesis": [f"h{i}" for i in range(300)],
                       "label": rng.integers(0, 3, 300), "round": rng.integers(1, 4, 300)})
    tr, va = settings.adversarial_split(df, seed=1)
    assert len(tr) + len(va) == 300 and not set(tr["premise"]) & set(va["premise"])
    for (rnd, lab), group in df.groupby(["round", "label"]):
        n_tr = ((tr["round"] == rnd) & (tr["label"] == lab)).sum()
        assert n_tr == round(len(group) * 2 / 3)            # each stratum split 2:1
    again, _ = settings.adversarial_split(df, seed=1)
    other, _ = settings.adversarial_split(df, seed=2)
    assert again.equals(tr) and not other.equals(tr)
    with pytest.raises(ValueError, match="df lacks columns \\['round'\\]"):
        settings.adversarial_split(df.drop(columns="round"))
    with pytest.raises(ValueError, match="strictly between 0 and 1, got 1.5"):
        settings.adversarial_split(df, train_fraction=1.5)


def test_anli_source_is_explicit():
    from nbhelpers import data

    stand_in = settings.load_setting("hans", smoke=True)
    assert stand_in["sources"]["train"] == "mnli-matched/validation"
    with pytest.raises(ValueError, match=r"anli_source='hub' but expected one of 'stand-in', 'anli'"):
        settings.load_setting("anli", anli_source="hub")
    with pytest.raises(data.DataNotFoundError, match=r"no local copy of 'anli' 'train'"):
        settings.load_setting("anli", anli_source="anli")  # offline: fails, never falls back

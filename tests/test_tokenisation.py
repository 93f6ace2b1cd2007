"""Matching raw pairs to their tokenised copies, and the paired accuracy comparison."""
import pandas as pd
import pytest

from nbhelpers.tokenisation import _text_key, match_tokenised, tokenisation_cost


def _pairs(rows):
    return pd.DataFrame(rows, columns=["premise", "hypothesis"])


def test_text_key_ignores_case_spacing_and_punctuation():
    assert _text_key("A man doesn't eat lunch.", "He's hungry!") == \
        _text_key("a man does n't eat lunch .", "He 's hungry !")
    assert _text_key("A dog.", "Cats.") != _text_key("A dog.", "Cat.")
    # the separator keeps the sentences apart: moving a word across them changes the key
    assert _text_key("A dog runs", "fast.") != _text_key("A dog", "runs fast.")


def test_match_tokenised_finds_copies_and_leaves_out_the_rest():
    raw = _pairs([("He doesn't eat lunch.", "He is full."),      # copy at 2
                  ("Nobody is here.", "A crowd."),                # no copy
                  ("Two dogs run.", "Animals move.")])            # identical copy at 0
    tok = _pairs([("Two dogs run.", "Animals move."),
                  ("Something else .", "Other ."),
                  ("He does n't eat lunch .", "He is full .")])
    m = match_tokenised(raw, tok)
    assert m.to_dict("records") == [{"raw": 0, "tokenised": 2, "same_text": False},
                                    {"raw": 2, "tokenised": 0, "same_text": True}]
    assert m.dtypes.tolist() == ["int64", "int64", "bool"]


def test_match_tokenised_takes_the_first_of_duplicate_copies_and_ignores_the_index():
    raw = _pairs([("A cat sits.", "A cat.")]).set_index(pd.Index([7]))
    tok = _pairs([("x", "y"), ("A cat sits .", "A cat ."), ("a cat sits .", "a cat .")])
    tok.index = [10, 20, 30]
    assert match_tokenised(raw, tok).to_dict("records") == [{"raw": 0, "tokenised": 1, "same_text": False}]


def test_match_tokenised_with_nothing_in_common_is_empty():
    m = match_tokenised(_pairs([("a", "b")]), _pairs([("c", "d")]))
    assert len(m) == 0 and list(m.columns) == ["raw", "tokenised", "same_text"]


def test_match_tokenised_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"tokenised_df lacks columns \['hypothesis'\]"):
        match_tokenised(_pairs([("a", "b")]), pd.DataFrame({"premise": ["a"]}))
    with pytest.raises(TypeError, match=r"raw_df must be a DataFrame; got list"):
        match_tokenised([("a", "b")], _pairs([("a", "b")]))


def test_tokenisation_cost_hand_checked():
    r = tokenisation_cost([True, True, False, True] * 50, [True, False, False, True] * 50)
    assert (r["n_matched"], r["raw_acc"], r["tokenised_acc"], r["diff"]) == (200, 0.75, 0.5, -0.25)
    lo, hi = r["ci"]
    assert lo <= -0.25 <= hi < 0 and r["beyond_noise"] is True


def test_tokenisation_cost_within_noise_when_the_forms_agree_as_often_as_they_differ():
    # one pair right only in raw form, one only in tokenised form, the rest agree
    raw = [True, False] + [True] * 18
    tok = [False, True] + [True] * 18
    r = tokenisation_cost(raw, tok)
    assert r["diff"] == 0.0 and r["ci"][0] < 0 < r["ci"][1] and r["beyond_noise"] is False


def test_tokenisation_cost_rejects_unequal_lengths():
    with pytest.raises(ValueError, match=r"correct_raw is length 3 and correct_tokenised is length 2"):
        tokenisation_cost([1, 0, 1], [1, 0])

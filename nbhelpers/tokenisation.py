"""Raw against tokenised text: CAD's 400 original test pairs, raw in CAD, tokenised ("does n't") in SNLI."""
from __future__ import annotations

import re

import pandas as pd

from .checks import check_correct, check_pairs, check_same_length
from .stats import paired_bootstrap

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _text_key(premise: str, hypothesis: str) -> str:
    """A key equal for the raw and the tokenised form of a pair: lowercase letters and digits only.

    >>> _text_key("He doesn't eat lunch.", "No."), _text_key("He does n't eat lunch .", "No .")
    ('hedoesnteatlunch|no', 'hedoesnteatlunch|no')
    """
    return f"{_NOT_ALNUM.sub('', premise.lower())}|{_NOT_ALNUM.sub('', hypothesis.lower())}"


def match_tokenised(raw_df: pd.DataFrame, tokenised_df: pd.DataFrame) -> pd.DataFrame:
    """Position of each raw pair's first copy in ``tokenised_df`` (equal :func:`_text_key`); ``same_text``.

    >>> raw = pd.DataFrame({"premise": ["A dog's toy.", "Rain."], "hypothesis": ["Toy.", "Sun."]})
    >>> tok = pd.DataFrame({"premise": ["x", "A dog 's toy ."], "hypothesis": ["y", "Toy ."]})
    >>> match_tokenised(raw, tok).to_dict("records")
    [{'raw': 0, 'tokenised': 1, 'same_text': False}]
    """
    check_pairs(raw_df, need_label=False, name="raw_df")
    check_pairs(tokenised_df, need_label=False, name="tokenised_df")
    keys = list(map(_text_key, tokenised_df["premise"], tokenised_df["hypothesis"]))
    first = {key: j for j, key in reversed(list(enumerate(keys)))}  # the first copy of each key
    tok_p, tok_h = tokenised_df["premise"].tolist(), tokenised_df["hypothesis"].tolist()
    rows = [{"raw": i, "tokenised": j, "same_text": p == tok_p[j] and h == tok_h[j]}
            for i, (p, h) in enumerate(zip(raw_df["premise"], raw_df["hypothesis"]))
            if (j := first.get(_text_key(p, h))) is not None]
    return pd.DataFrame(rows, columns=["raw", "tokenised", "same_text"]).astype(
        {"raw": int, "tokenised": int, "same_text": bool})


def tokenisation_cost(correct_raw, correct_tokenised, *, n_resamples: int = 2000,
                      seed: int = 0, ci: float = 0.95) -> dict:
    """One model's accuracy on the raw and tokenised copies of the same pairs: ``diff`` (tokenised minus
    raw), its paired bootstrap ``ci`` and ``beyond_noise`` (the interval excludes 0).

    >>> r = tokenisation_cost([1, 1, 0, 1] * 50, [1, 0, 0, 1] * 50)
    >>> r["n_matched"], r["raw_acc"], r["tokenised_acc"], r["diff"], r["beyond_noise"]
    (200, 0.75, 0.5, -0.25, True)
    """
    raw = check_correct(correct_raw, "correct_raw")
    tok = check_correct(correct_tokenised, "correct_tokenised")
    check_same_length(len(raw), len(tok), "correct_raw", "correct_tokenised")
    boot = paired_bootstrap(raw, tok, n_resamples=n_resamples, seed=seed, ci=ci)
    return {"n_matched": int(len(raw)), "raw_acc": float(raw.mean()),
            "tokenised_acc": float(tok.mean()), "diff": float(tok.mean() - raw.mean()),
            "ci": [boot["lo"], boot["hi"]], "beyond_noise": bool(boot["lo"] > 0 or boot["hi"] < 0)}

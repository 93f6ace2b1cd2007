"""Raw against tokenised text: find the same pairs in two copies and measure what the form costs.

The local SNLI validation and test files are tokenised ("does n't", "lunch ."), while
the counterfactually augmented (CAD) files the models train on are raw text
("doesn't", "lunch."). The 400 CAD-original test pairs are SNLI test pairs, so each
can be found in both forms: :func:`match_tokenised` pairs them up by a key that ignores
case, spacing and punctuation, and :func:`tokenisation_cost` compares one model's
accuracy on the two forms, example by example.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .stats import paired_bootstrap
from .checks import check_pairs

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def text_key(premise: str, hypothesis: str) -> str:
    """A key equal for the raw and the tokenised form of the same pair.

    Lowercases both sentences and keeps only ASCII letters and digits, so spacing and
    punctuation (and therefore tokenisation) no longer matter; a ``|`` separates them.

    Example
    -------
    >>> text_key("He doesn't eat lunch.", "No.") == text_key("He does n't eat lunch .", "No .")
    True
    >>> text_key("He doesn't eat lunch.", "No.")
    'hedoesnteatlunch|no'
    """
    return f"{_NOT_ALNUM.sub('', str(premise).lower())}|{_NOT_ALNUM.sub('', str(hypothesis).lower())}"


def match_tokenised(raw_df: pd.DataFrame, tokenised_df: pd.DataFrame) -> pd.DataFrame:
    """Find each raw-text pair's copy in a tokenised data set.

    Two pairs match when their :func:`text_key` is equal (premise and hypothesis,
    lowercased, letters and digits only). Where several tokenised rows share a key, the
    first is taken.

    Parameters
    ----------
    raw_df : DataFrame, N rows, with ``premise`` and ``hypothesis``
    tokenised_df : DataFrame, M rows, with ``premise`` and ``hypothesis``

    Returns
    -------
    DataFrame
        One row per matched raw pair, in ``raw_df`` order, with the integer positions
        ``raw`` (into ``raw_df``) and ``tokenised`` (into ``tokenised_df``), and
        ``same_text`` (True where the two copies are character for character equal).
        Raw pairs without a copy are left out; ``len(result)`` is the number matched.

    Example
    -------
    >>> raw = pd.DataFrame({"premise": ["A dog's toy.", "Rain."], "hypothesis": ["Toy.", "Sun."]})
    >>> tok = pd.DataFrame({"premise": ["x", "A dog 's toy ."], "hypothesis": ["y", "Toy ."]})
    >>> match_tokenised(raw, tok).to_dict("records")
    [{'raw': 0, 'tokenised': 1, 'same_text': False}]
    """
    check_pairs(raw_df, need_label=False, name="raw_df")
    check_pairs(tokenised_df, need_label=False, name="tokenised_df")
    first = {}
    for j, (p, h) in enumerate(zip(tokenised_df["premise"], tokenised_df["hypothesis"])):
        first.setdefault(text_key(p, h), j)
    rows = []
    for i, (p, h) in enumerate(zip(raw_df["premise"], raw_df["hypothesis"])):
        j = first.get(text_key(p, h))
        if j is not None:
            same = (p == tokenised_df["premise"].iat[j]) and (h == tokenised_df["hypothesis"].iat[j])
            rows.append({"raw": i, "tokenised": j, "same_text": bool(same)})
    return pd.DataFrame(rows, columns=["raw", "tokenised", "same_text"]).astype(
        {"raw": int, "tokenised": int, "same_text": bool})


def tokenisation_cost(correct_raw, correct_tokenised, *, n_resamples: int = 2000,
                      seed: int = 0, ci: float = 0.95) -> dict:
    """One model's accuracy on the raw and the tokenised copies of the same pairs.

    Parameters
    ----------
    correct_raw, correct_tokenised : (n,) bool
        Per-pair correctness on the raw text and on its tokenised copy, in the same order.

    Returns
    -------
    dict
        ``n_matched`` (n), ``raw_acc``, ``tokenised_acc``, ``diff`` (tokenised minus raw:
        negative where the tokenised form costs accuracy), ``ci`` ([lo, hi], a paired
        bootstrap interval for ``diff``, :func:`nbhelpers.stats.paired_bootstrap`)
        and ``beyond_noise`` (True where the interval excludes 0).

    Example
    -------
    >>> r = tokenisation_cost([1, 1, 0, 1] * 50, [1, 0, 0, 1] * 50)
    >>> r["n_matched"], r["raw_acc"], r["tokenised_acc"], r["diff"], r["beyond_noise"]
    (200, 0.75, 0.5, -0.25, True)
    """
    raw = np.asarray(correct_raw, dtype=bool)
    tok = np.asarray(correct_tokenised, dtype=bool)
    if raw.shape != tok.shape or raw.ndim != 1 or len(raw) == 0:
        raise ValueError(f"correct_raw and correct_tokenised must be equal-length, non-empty 1-D "
                         f"arrays, got shapes {raw.shape} and {tok.shape}")
    boot = paired_bootstrap(raw, tok, n_resamples=n_resamples, seed=seed, ci=ci)
    return {"n_matched": int(len(raw)), "raw_acc": float(raw.mean()),
            "tokenised_acc": float(tok.mean()), "diff": float(tok.mean() - raw.mean()),
            "ci": [boot["lo"], boot["hi"]], "beyond_noise": bool(boot["lo"] > 0 or boot["hi"] < 0)}

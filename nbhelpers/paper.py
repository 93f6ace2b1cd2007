"""Numbers quoted from Rajani et al. (2020), each written once, with where it comes from.

Chapters take the paper's numbers from here and never type them; the results page and the
claims scorecard read the same constants. Every constant is a plain dict of module-level
data (no logic), with fractions as floats and accuracy changes in percentage points.
"""
from __future__ import annotations

__all__ = ["REMOVAL"]

REMOVAL = {
    "source": "Section 4",
    "model": "BERT",
    "metric": "SNLI test accuracy drop (points)",
    "top": {0.1: 4.6, 0.3: 10.6},
    "random": {0.1: 1.2, 0.3: 5.2},
    "increment": {"top": 6.0, "random": 4.0},
}
"""The removal test: retrain without the most retrieved (``"top"``) or random training examples.

- ``top[0.1]`` = 4.6 and ``random[0.1]`` = 1.2: stated in Section 4; removing the most
  retrieved 10% of the training set costs 4.6 points, a random 10% costs 1.2 (BERT, SNLI test).
- ``increment``: Section 4 continues that removing 30% costs "a further 6% vs 4%". This is an
  *increment*, the drop at 30% minus the drop at 10% (``top``: 6.0, ``random``: 4.0); it is
  not the total drop at 30%.
- ``top[0.3]`` = 10.6 and ``random[0.3]`` = 5.2: the *total* drops at 30%, derived here as
  the 10% drop plus the increment (4.6 + 6.0 and 1.2 + 4.0); the paper does not print them.
"""

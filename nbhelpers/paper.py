"""Every number the book quotes from Rajani et al. (2020), once, with where it comes from.

Rajani, N. F., Krause, B., Yin, W., Niu, T., Socher, R., & Xiong, C. (2020). *Explaining
and Improving Model Behavior with k Nearest Neighbor Representations*. arXiv:2010.09030.

Accuracies are fractions (0.757, not 75.7); differences of accuracy are *points*
(4.6 means 4.6 percentage points). Chapters and the claims scorecard read these
constants; no notebook types a number from the paper.
"""
from __future__ import annotations

import pandas as pd

from .data import HANS_HEURISTICS

TABLE4 = pd.DataFrame(
    {"snli-original": [75.7, 75.8, 82.8, 82.8], "snli-augmented": [70.5, 71.0, 76.8, 77.3],
     "anli": [47.2, 48.5, 44.4, 47.9], "hans": [52.4, 52.4, 59.3, 59.6]},
    index=pd.MultiIndex.from_tuples([("BERT", "model"), ("BERT", "kNN backoff"),
                                     ("RoBERTa", "model"), ("RoBERTa", "kNN backoff")],
                                    names=["backbone", "method"]),
) / 100
"""Table 4: test accuracy of the model alone and with kNN backoff, per setting."""

TABLE5 = pd.DataFrame(
    {"snli-original": [0.74, 0.55], "snli-augmented": [0.53, 0.40], "anli": [0.95, 0.96],
     "hans": [0.84, 0.62]}, index=pd.Index(["BERT", "RoBERTa"], name="backbone"))
"""Table 5: the backoff threshold tau tuned on validation, per setting."""

TABLE6 = pd.DataFrame(
    {"BERT": [23.3, 30.6, 18.2], "kNN-BERT": [25.4, 30.6, 24.6],
     "RoBERTa": [78.7, 79.6, 52.7], "kNN-RoBERTa": [79.4, 80.8, 54.7]},
    index=pd.Index(HANS_HEURISTICS, name="heuristic"),
) / 100
"""Table 6: HANS test accuracy on the non-entailment examples, model and kNN backoff."""

BERT_SNLI_TEST = 0.757
"""Table 4: BERT-base fine-tuned on the original split, SNLI test accuracy."""

REPRESENTATION = {"pooling": "cls", "layer": "last", "normalize": True, "source": "Section 2",
                  "text": "cls, last layer, normalised"}
"""The representation the paper chooses: the last layer's [CLS] state, normalised dataset-wise."""

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

SPEEDUP = {"factor": 300, "n_train_below": 2000, "source": "Section 4",
           "note": "kNN vs influence functions, < 2k training examples (BERT)"}
"""kNN finds influential examples about 300 times faster than influence functions on fewer
than 2,000 training examples, and the gap grows with the data."""

NOT_STATISTIC = {"original": 0.37, "augmented": 0.60}
"""Spurious associations (with Tables 1 and 2): "not" occurs in "approximately 37% and 60%" of the original and augmented
training data (read as P(contradiction | 'not' in premise or hypothesis), the reading
that matches; see the spurious-associations chapter)."""

NEGATION_ENTAILMENT_CHANGE = -0.10
"""Spurious associations (with Tables 1 and 2): entailment examples with negation lose about 10% accuracy after augmentation."""

MISLABEL = {"precision": 0.84, "recall": 0.73, "f1": 0.78, "loss_fraction_for_knn_recall": 0.65,
            "noise_rate": 0.10, "source": "Section 5, Figure 4"}
"""Mislabeled-example detection with 10% flipped labels: kNN's precision, recall and F1,
and the share of the data the training-loss ranking must inspect to reach kNN's recall."""

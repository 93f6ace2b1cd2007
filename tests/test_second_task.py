"""Not tied to NLI below the data layer: the method end to end on a second task.

200 IMDb reviews of the counterfactually augmented sentiment data (SOURCES.md section 6: two
classes, single texts) go through the own-data loader, a one-epoch fine-tune, the
representations, kNN, backoff and the paper's mislabel candidates, with no NLI assumption.
"""
import numpy as np
import pandas as pd
import pytest

from nbhelpers import data, knn, mislabel, models

SOURCE = data._find_data_dir(["sentiment_cad/orig/train.tsv"])


@pytest.mark.skipif(SOURCE is None, reason="no sentiment_cad data beside the repository")
def test_two_class_single_text_task_end_to_end(tmp_path, cache):
    reviews = pd.read_csv(SOURCE / "sentiment_cad" / "orig" / "train.tsv", sep="\t", dtype=str,
                          keep_default_na=False).head(200)
    path = tmp_path / "reviews.csv"
    reviews.rename(columns={"Text": "text", "Sentiment": "label"})[["text", "label"]].to_csv(path, index=False)
    splits = data.load_files(path)
    train, val = splits["train"], splits["validation"]
    assert splits["label_names"] == ("negative", "positive") and "premise" not in train

    model = models.fine_tune(train, epochs=1, batch_size=16, max_length=64, cache=cache, progress=False)
    p_model = models.predict_proba(model, val, max_length=64, cache=cache, progress=False)
    assert p_model.shape == (len(val), 2) and np.allclose(p_model.sum(1), 1, atol=1e-5)

    train_reps = models.encode(model, train, max_length=64, cache=cache, progress=False)
    val_reps = models.encode(model, val, max_length=64, cache=cache, progress=False)
    clf = knn.KNN(k=8, temperature=1.0).fit(train_reps, train["label"])
    p_knn = clf.predict_proba(val_reps)
    assert clf.classes_.tolist() == [0, 1] and p_knn.shape == (len(val), 2)

    # backoff keeps the model where it is confident, takes kNN elsewhere: tau 0 and 1 are the two ends
    assert (knn.backoff(p_model, p_knn, 0.0) == p_model.argmax(1)).all()
    assert (knn.backoff(p_model, p_knn, 1.0) == p_knn.argmax(1)).all()

    # the paper's mislabel candidates: nearest training neighbours whose label the prediction contradicts
    _, nearest = clf.kneighbors(val_reps, k=1)
    flagged = mislabel.knn_candidates(p_model.argmax(1), nearest[:, 0], train["label"].to_numpy())
    contradicted = p_model.argmax(1) != train["label"].to_numpy()[nearest[:, 0]]
    assert flagged.shape == (len(train),) and flagged.sum() == len(set(nearest[contradicted, 0]))

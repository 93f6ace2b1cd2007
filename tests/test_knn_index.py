"""The approximate FAISS indexes of nbhelpers.knn.KNN (index="ivf" / "hnsw") against the exact one."""
import faiss
import numpy as np
import pytest

from nbhelpers.knn import INDEXES, KNN, ivf_nlist

K = 10


@pytest.fixture(scope="module")
def clustered():
    """3,000 training and 300 query points in 32-d around 30 well-separated centres."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, 32)) * 4
    X = centres[rng.integers(0, 30, 3000)] + rng.normal(size=(3000, 32))
    Q = centres[rng.integers(0, 30, 300)] + rng.normal(size=(300, 32))
    y = rng.integers(0, 3, 3000)
    return X.astype(np.float32), y, Q.astype(np.float32)


@pytest.fixture(scope="module")
def exact(clustered):
    X, y, Q = clustered
    return KNN(k=K).fit(X, y).kneighbors(Q)


def centroids(knn):
    return knn.index_.quantizer.reconstruct_n(0, knn.nlist_)


def recall(I, I_exact):
    return np.mean([len(set(a) & set(b)) / len(b) for a, b in zip(I, I_exact)])


def test_default_is_the_exact_flat_index(clustered):
    X, y, _ = clustered
    knn = KNN(k=K)
    assert knn.index == "flat" and INDEXES == ("flat", "ivf", "hnsw")
    assert type(knn.fit(X, y).index_) is faiss.IndexFlatL2


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_approximate_indexes_have_high_recall(clustered, exact, index):
    X, y, Q = clustered
    D, I = KNN(k=K, index=index).fit(X, y).kneighbors(Q)
    assert recall(I, exact[1]) >= 0.95
    assert (np.diff(D, axis=1) >= 0).all()  # still nearest first


def test_ivf_structure(clustered):
    X, y, _ = clustered
    knn = KNN(k=K, index="ivf", nprobe=4).fit(X, y)
    assert isinstance(knn.index_, faiss.IndexIVFFlat)
    assert knn.nlist_ == knn.index_.nlist == ivf_nlist(3000) == min(round(4 * 3000**0.5), 3000 // 39)
    assert knn.index_.nprobe == 4 and knn.index_.ntotal == 3000


def test_ivf_nlist_rule():
    assert ivf_nlist(100_000) == 1265  # 4 sqrt(N)
    assert ivf_nlist(1_000) == 25  # capped: at least 39 points per cell
    assert ivf_nlist(1) == 1
    for n in (1, 38, 39, 500, 10_000, 10**6):
        assert 1 <= ivf_nlist(n) and (ivf_nlist(n) == 1 or n / ivf_nlist(n) >= 39)


def test_ivf_scanning_every_cell_is_exact(clustered, exact):
    X, y, Q = clustered
    knn = KNN(k=K, index="ivf", nprobe=ivf_nlist(len(X))).fit(X, y)
    D, I = knn.kneighbors(Q)
    np.testing.assert_array_equal(I, exact[1])
    np.testing.assert_allclose(D, exact[0], rtol=1e-4, atol=1e-3)
    # nprobe above nlist is clipped, not an error
    big = KNN(k=K, index="ivf", nprobe=10**6).fit(X, y)
    assert big.index_.nprobe == big.nlist_
    np.testing.assert_array_equal(big.kneighbors(Q)[1], exact[1])


def test_ivf_leave_one_out_matches_flat_when_exhaustive(clustered):
    X, y, _ = clustered
    flat = KNN(k=K).fit(X, y).kneighbors()
    ivf = KNN(k=K, index="ivf", nprobe=10**6).fit(X, y).kneighbors()
    np.testing.assert_array_equal(ivf[1], flat[1])


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_approximate_indexes_are_deterministic(clustered, index):
    X, y, Q = clustered
    a = KNN(k=K, index=index, nprobe=2, ef_search=16, seed=3).fit(X, y)
    b = KNN(k=K, index=index, nprobe=2, ef_search=16, seed=3).fit(X, y)
    Da, Ia = a.kneighbors(Q)
    Db, Ib = b.kneighbors(Q)
    np.testing.assert_array_equal(Ia, Ib)
    np.testing.assert_array_equal(Da, Db)
    if index == "ivf":
        np.testing.assert_array_equal(centroids(a), centroids(b))


def test_ivf_seed_changes_the_cells(clustered):
    X, y, _ = clustered
    a, b = (KNN(k=K, index="ivf", seed=s).fit(X, y) for s in (0, 1))
    assert not np.array_equal(centroids(a), centroids(b))


@pytest.mark.parametrize("index", ["ivf", "hnsw"])
def test_predict_proba_still_sums_to_one(clustered, index):
    X, y, Q = clustered
    knn = KNN(k=K, temperature=10.0, index=index).fit(X, y)
    for p in (knn.predict_proba(Q), knn.predict_proba()):
        assert p.shape[1] == 3
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
        assert (p >= 0).all()
    assert knn.predict(Q).shape == (len(Q),)


def test_hnsw_beam_narrower_than_k_still_returns_k(clustered):
    X, y, Q = clustered
    knn = KNN(k=50, index="hnsw", ef_search=1).fit(X, y)
    D, I = knn.kneighbors(Q)
    assert I.shape == (len(Q), 50) and (I >= 0).all()
    assert knn.index_.hnsw.efSearch == 1  # the beam is widened per search, not stored


def test_ivf_too_few_points_in_the_scanned_cells(clustered):
    X, y, Q = clustered
    knn = KNN(k=K, index="ivf", nprobe=1).fit(X, y)
    with pytest.raises(ValueError, match=r"fewer than 1000 neighbours.*increase nprobe"):
        knn.kneighbors(Q, k=1000)


@pytest.mark.parametrize("bad", ["annoy", "Flat", "", None, 1])
def test_bad_index_names_the_value_and_the_options(clustered, bad):
    X, y, _ = clustered
    with pytest.raises(ValueError, match=r"index=.* but expected one of 'flat', 'ivf', 'hnsw'") as err:
        KNN(index=bad).fit(X, y)
    assert repr(bad) in str(err.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"nprobe": 0}, r"nprobe == 0, must be >= 1"),
        ({"nprobe": -3}, r"nprobe == -3, must be >= 1"),
        ({"nprobe": 2.5}, r"nprobe must be an integer; got 2.5"),
        ({"nprobe": True}, r"nprobe must be an integer; got True"),
        ({"ef_search": 0}, r"ef_search == 0, must be >= 1"),
        ({"seed": -1}, r"seed == -1, must be >= 0"),
    ],
)
def test_bad_index_parameters(clustered, kwargs, message):
    X, y, _ = clustered
    with pytest.raises(ValueError, match=message):
        KNN(index="ivf", **kwargs).fit(X, y)


def test_repr_shows_the_index_and_its_parameters():
    assert "index='flat'" in repr(KNN())
    assert "index='ivf', nprobe=8, seed=2" in repr(KNN(index="ivf", nprobe=8, seed=2))
    assert "index='hnsw', ef_search=32" in repr(KNN(index="hnsw", ef_search=32))

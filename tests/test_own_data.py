"""Your own data: nbhelpers.data.load_files / read_nli_file on small files written here."""
import json
import re

import pytest

from nbhelpers import data
from nbhelpers.data import load_files, read_nli_file

ROWS = [("A dog runs.", "An animal moves.", "entailment"),
        ("A dog runs.", "The dog is fast.", "neutral"),
        ("A dog runs.", "A cat sleeps.", "contradiction")]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_tsv_and_jsonl_give_the_same_frame(tmp_path):
    csv_path = write(tmp_path / "a.csv", "label,premise,hypothesis,id\n"
                     + "".join(f'{y},"{p}",{h},{i}\n' for i, (p, h, y) in enumerate(ROWS)))
    tsv_path = write(tmp_path / "a.tsv", "premise\thypothesis\tlabel\n"
                     + "".join(f"{p}\t{h}\t{i}\n" for i, (p, h, _) in enumerate(ROWS)))
    jsonl_path = write(tmp_path / "a.jsonl", "\n".join(
        json.dumps({"premise": p, "hypothesis": h, "label": y.upper()}) for p, h, y in ROWS))
    expected = {"premise": ["A dog runs."] * 3,
                "hypothesis": ["An animal moves.", "The dog is fast.", "A cat sleeps."],
                "label": [0, 1, 2]}
    for path in (csv_path, tsv_path, jsonl_path):
        df = read_nli_file(path)
        assert df.to_dict("list") == expected, path.name
        assert df["label"].dtype == "int64" and list(df.columns) == ["premise", "hypothesis", "label"]


def test_bad_label_names_file_line_column_and_value(tmp_path):
    path = write(tmp_path / "bad.csv", "premise,hypothesis,label\nA.,B.,0\nA.,B.,maybe\n")
    with pytest.raises(ValueError, match=re.escape(
            f"{path}, line 3: unknown label 'maybe'; expected one of 'entailment', 'neutral', "
            "'contradiction', '0', '1', '2' (or '-', dropped) (column 'label')")):
        read_nli_file(path)
    path = write(tmp_path / "bad.jsonl", '{"premise": "A.", "hypothesis": "B.", "label": 3}\n')
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 1: unknown label '3'")):
        read_nli_file(path)


def test_missing_column_empty_text_and_wrong_type_are_named(tmp_path):
    path = write(tmp_path / "cols.tsv", "sentence1\tsentence2\tlabel\nA.\tB.\t0\n")
    with pytest.raises(ValueError, match=re.escape(
            f"{path}: missing column(s) ['premise', 'hypothesis'] in the header; expected the "
            "columns ['premise', 'hypothesis', 'label'] (tab-separated), found ['sentence1',")):
        read_nli_file(path)
    path = write(tmp_path / "empty.csv", "premise,hypothesis,label\nA.,B.,0\nA.,  ,1\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 3: empty hypothesis")):
        read_nli_file(path)
    path = write(tmp_path / "pairs.txt", "premise,hypothesis,label\n")
    with pytest.raises(ValueError, match=r"pairs\.txt: unknown file type '\.txt'; expected one of "
                                         r"\.csv, \.tsv, \.jsonl"):
        read_nli_file(path)
    with pytest.raises(ValueError, match=r"nowhere\.csv: no such file"):
        read_nli_file(tmp_path / "nowhere.csv")
    path = write(tmp_path / "keys.jsonl", '{"premise": "A.", "label": 0}\n')
    with pytest.raises(ValueError, match=re.escape(f"{path}, line 1: expected the keys ['premise', "
                                                   "'hypothesis', 'label'], found ['label', 'premise']")):
        read_nli_file(path)


def test_dash_rows_are_dropped_with_a_warning(tmp_path):
    path = write(tmp_path / "dash.csv", "premise,hypothesis,label\nA.,B.,-\nA.,C.,2\n")
    with pytest.warns(UserWarning, match=re.escape(f"{path}: dropped 1 row(s) labelled '-'")):
        df = read_nli_file(path)
    assert df["label"].tolist() == [2]


def test_one_file_is_split_by_label_reproducibly(tmp_path):
    rows = [(f"P{i}.", f"H{i}.", i % 3) for i in range(30)]  # 10 per label
    path = write(tmp_path / "all.csv", "premise,hypothesis,label\n"
                 + "".join(f"{p},{h},{y}\n" for p, h, y in rows))
    splits = load_files(str(path))
    sizes = {r: len(splits[r]) for r in data.SPLITS}
    assert sizes == {"train": 18, "validation": 6, "test": 6}
    for role in data.SPLITS:  # 60 / 20 / 20 of each label
        assert splits[role]["label"].value_counts().tolist() == [sizes[role] // 3] * 3
    seen = sum((splits[r]["premise"].tolist() for r in data.SPLITS), [])
    assert sorted(seen) == sorted(p for p, _, _ in rows)  # disjoint, together everything
    again = load_files(path)
    assert all(again[r].equals(splits[r]) for r in data.SPLITS)
    assert "all.csv (60%, split by label with seed 0)" in splits["sources"]["train"]
    small = load_files(path, max_rows={"train": 4, "validation": 2, "test": 2})
    assert [len(small[r]) for r in data.SPLITS] == [4, 2, 2]


def test_three_files_as_list_or_dict(tmp_path):
    paths = []
    for role, y in zip(data.SPLITS, ("entailment", "neutral", "contradiction")):
        paths.append(write(tmp_path / f"{role}.tsv", f"premise\thypothesis\tlabel\nA.\t{role}.\t{y}\n"))
    as_list = load_files(paths)
    as_dict = load_files({"test": paths[2], "train": paths[0], "validation": paths[1]})
    for splits in (as_list, as_dict):
        assert [splits[r]["label"].tolist() for r in data.SPLITS] == [[0], [1], [2]]
        assert splits["sources"] == {r: str(p) for r, p in zip(data.SPLITS, paths)}
    with pytest.raises(ValueError, match=re.escape("data_files has the keys ['dev', 'train']; "
                                                   "expected exactly ['train', 'validation', 'test']")):
        load_files({"train": paths[0], "dev": paths[1]})
    with pytest.raises(ValueError, match=r"data_files should be one file, \[train, validation, test\]"):
        load_files(paths[:2])
    with pytest.raises(ValueError, match=r"data_files is the text '\[a.csv, b.csv, c.csv\]', not a list.*-y"):
        load_files("[a.csv, b.csv, c.csv]")  # what papermill -p passes for a list


def test_too_few_pairs_to_split_says_so(tmp_path):
    path = write(tmp_path / "two.csv", "premise,hypothesis,label\nA.,B.,0\nA.,C.,1\n")
    with pytest.raises(ValueError, match=r"the validation split of .*two\.csv .* has no pairs"):
        load_files(path)


def test_anli_source_is_explicit():
    from nbhelpers import settings

    stand_in = settings.load_setting("hans", smoke=True)
    assert stand_in["sources"]["train"] == "mnli-matched/validation"
    with pytest.raises(ValueError, match=r"unknown anli_source 'hub'; expected one of stand-in, anli"):
        settings.load_setting("anli", anli_source="hub")
    with pytest.raises(data.DataNotFoundError, match=r"no local copy of 'anli' 'train'"):
        settings.load_setting("anli", anli_source="anli")  # offline: fails, never falls back

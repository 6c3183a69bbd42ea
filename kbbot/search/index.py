"""The search index on disk: sparse term -> article postings with BM25 weights precomputed.

Layout of `<index>/search/` (all arrays little-endian numpy, memory-mapped at load so a bot process starts in
well under a second and several processes on one host share the pages):

- `meta.json`                 format version, article count, build parameters
- `vocab.txt`                 one term per line; line number = column in the matrices
- `idf.npy`                   float32 per term
- `<m>.indptr.npy / .indices.npy / .data.npy`  CSC postings (term -> rows, rows sorted) for matrix m:
    `full`   BM25F over title, symptoms, error lines, keywords, body and error signatures
    `bigram` hashed word pairs of title + symptoms (phrases such as "page fault", "mail connector")
- `full.head.npy`, `full.title.npy`  BM25 over title + symptoms (what the article is *about*, not what it
                                     mentions) and over the title alone, aligned with `full.data`
- `ids.json`, `titles.json`, `products.json` (tag per row), `product_codes.npy`, `has_symptoms.npy`
- `text.bin` + `text_offsets.npy`  per row: title, symptom opening and literal error lines, for rapidfuzz on the
                                   short list only (never a scan over the KB)

Row r here is row r of the KnowledgeBase the index was built from.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from kbbot.errors import IndexError_
from kbbot.search.lexicon import Lexicon
from kbbot.search.text import _TOKEN, bigrams, normalise_text, signatures, version_terms, words

if TYPE_CHECKING:
    from kbbot.article import Article
    from kbbot.kb import KnowledgeBase

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
BIGRAM_BUCKETS = 1 << 21
K1 = 1.2

# name -> (weight, b). Title and symptoms say what an article is about; the body mentions many things in
# passing. Error signatures are counted once per article and weigh most: an exact code is strong evidence.
FIELDS: dict[str, tuple[float, float]] = {
    "title": (3.0, 0.3),
    "symptoms": (1.5, 0.6),
    "errors": (1.0, 0.5),
    "keywords": (1.0, 0.3),
    "body": (0.6, 0.75),
    "sig": (3.0, 0.0),
}
# Limits that keep indexing time and memory bounded on very long articles (code listings, indexes).
MAX_BODY_CHARS = 20_000
MAX_SYMPTOM_CHARS = 4_000
HEAD_TEXT_CHARS = 600
ERROR_TEXT_CHARS = 1_200

Matrix = tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float32]]


def bigram_bucket(pair: str) -> int:
    # crc32 is stable across processes (unlike hash()) and fast enough for a query's handful of pairs
    return zlib.crc32(pair.encode()) & (BIGRAM_BUCKETS - 1)


def symptom_text(article: Article) -> str:
    """The section saying what goes wrong; articles without SYMPTOMS use their opening section."""
    for name in ("SYMPTOMS", "SUMMARY"):
        text = article.sections.get(name)
        if text:
            return text
    for text in article.sections.values():
        if text:
            return text
    return ""


def product_key(article: Article, lexicon: Lexicon) -> str:
    """The article's product tag; for formats without one (web copies), the tag its product name maps to."""
    if article.product_tag:
        return article.product_tag.lower()
    if article.product:
        tag = lexicon.product_tag(article.product)
        if tag:
            return tag
        found = lexicon.products_in(_TOKEN.findall(normalise_text(article.product)))
        if len(found) == 1:
            return next(iter(found))
    return ""


def error_lines(article: Article) -> list[str]:
    return [sig.value for sig in article.error_signatures if sig.value]


def article_fields(article: Article) -> dict[str, str]:
    sym = symptom_text(article)
    body = "\n".join(
        text for name, text in article.sections.items() if text and text is not sym and name != "SYMPTOMS"
    )
    return {
        "title": article.title,
        "symptoms": sym[:MAX_SYMPTOM_CHARS],
        "errors": "\n".join(error_lines(article)),
        "keywords": " ".join((*article.keywords, article.product, article.product_tag)),
        "body": body[:MAX_BODY_CHARS],
    }


def _rapid_text(article: Article, fields: dict[str, str]) -> str:
    head = f"{article.title}\n{fields['symptoms'][:HEAD_TEXT_CHARS]}"
    errs = fields["errors"][:ERROR_TEXT_CHARS]
    # \x1f separates what the article is about from its literal error lines
    return f"{head}\x1f{errs}"


class _Triplets:
    """Growing (row, column, value) lists in compact arrays: the full corpus has tens of millions."""

    def __init__(self) -> None:
        self.rows = array("i")
        self.cols = array("i")
        self.vals = array("f")

    def add(self, row: int, counts: Counter[int]) -> None:
        for col, n in counts.items():
            self.rows.append(row)
            self.cols.append(col)
            self.vals.append(float(n))

    def arrays(self) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]:
        return (
            np.frombuffer(self.rows, dtype=np.int32),
            np.frombuffer(self.cols, dtype=np.int32),
            np.frombuffer(self.vals, dtype=np.float32),
        )


def _norm_tf(
    trip: _Triplets, lengths: npt.NDArray[np.float32], weight: float, b: float
) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]:
    rows, cols, tf = trip.arrays()
    avg = float(lengths.mean()) or 1.0
    norm = (1.0 - b) + b * (lengths / avg)
    return rows, cols, (weight * tf / norm[rows]).astype(np.float32)


def _bm25_matrix(
    parts: list[tuple[npt.NDArray[np.int32], npt.NDArray[np.int32], npt.NDArray[np.float32]]],
    n_rows: int,
    n_cols: int,
    idf: npt.NDArray[np.float32],
) -> sparse.csc_matrix:
    rows = np.concatenate([p[0] for p in parts])
    cols = np.concatenate([p[1] for p in parts])
    vals = np.concatenate([p[2] for p in parts])
    m = sparse.coo_matrix((vals, (rows, cols)), shape=(n_rows, n_cols), dtype=np.float32).tocsc()
    m.sum_duplicates()
    m.sort_indices()  # rows ascending within a column: the engine binary-searches them
    m.data = (m.data * (K1 + 1.0) / (m.data + K1)).astype(np.float32)
    # scale each column by its idf: data is grouped by column in CSC
    m.data *= np.repeat(idf, np.diff(m.indptr)).astype(np.float32)
    return m


def _align(full: sparse.csc_matrix, sub: sparse.csc_matrix) -> npt.NDArray[np.float32]:
    """`sub`'s values laid out on `full`'s sparsity pattern (zero where `sub` has no entry)."""
    n_rows = np.int64(full.shape[0])
    key_full = np.repeat(np.arange(full.shape[1], dtype=np.int64), np.diff(full.indptr)) * n_rows + full.indices
    key_sub = np.repeat(np.arange(sub.shape[1], dtype=np.int64), np.diff(sub.indptr)) * n_rows + sub.indices
    pos = np.searchsorted(key_full, key_sub)
    if len(pos) and (pos.max() >= len(key_full) or not np.array_equal(key_full[pos], key_sub)):
        raise IndexError_("search index build: a head/title posting is missing from the full postings")
    out = np.zeros(len(full.data), dtype=np.float32)
    out[pos] = sub.data
    return out


def _idf(df: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.float32]:
    return np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)


def _save_matrix(directory: Path, name: str, m: sparse.csc_matrix) -> None:
    np.save(directory / f"{name}.indptr.npy", m.indptr.astype(np.int64))
    np.save(directory / f"{name}.indices.npy", m.indices.astype(np.int32))
    np.save(directory / f"{name}.data.npy", m.data.astype(np.float32))


def build_search_index(kb: KnowledgeBase, directory: Path) -> None:
    """Build the search index for every article of `kb` into `directory` (replacing what is there)."""
    t0 = time.perf_counter()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    n = len(kb)
    lexicon = Lexicon.load()
    vocab: dict[str, int] = {}
    trip = {name: _Triplets() for name in FIELDS}
    lengths = {name: np.zeros(n, dtype=np.float32) for name in FIELDS}
    head_trip, title_trip, bi_trip = _Triplets(), _Triplets(), _Triplets()
    head_len = np.zeros(n, dtype=np.float32)
    bi_len = np.zeros(n, dtype=np.float32)
    ids: list[str] = []
    titles: list[str] = []
    tags: list[str] = []
    # the questions people bring are troubleshooting questions: articles with a SYMPTOMS section are the
    # likelier answer than indexes, lists and code samples that merely mention the same words
    has_symptoms = np.zeros(n, dtype=np.int8)
    blob = bytearray()
    offsets = np.zeros(n + 1, dtype=np.int64)

    def ids_of(terms: list[str]) -> Counter[int]:
        out: Counter[int] = Counter()
        for t in terms:
            col = vocab.get(t)
            if col is None:
                col = vocab[t] = len(vocab)
            out[col] += 1
        return out

    for row in range(n):
        article = kb.article_at(row)
        ids.append(article.id)
        titles.append(article.title)
        tags.append(product_key(article, lexicon))
        fields = article_fields(article)
        has_symptoms[row] = bool(article.sections.get("SYMPTOMS"))
        norm = {name: normalise_text(text) for name, text in fields.items()}
        terms = {name: words(text) for name, text in norm.items()}
        sigs = set()
        for text in norm.values():
            sigs.update(signatures(text))
        terms["sig"] = sorted(sigs)
        versions = {v for raw in article.versions for v in version_terms(_TOKEN.findall(normalise_text(raw)))}
        terms["keywords"] += sorted(versions)
        for name in FIELDS:
            counts = ids_of(terms[name])
            trip[name].add(row, counts)
            lengths[name][row] = len(terms[name])
        head_terms = terms["title"] + terms["symptoms"]
        head_trip.add(row, ids_of(head_terms))
        head_len[row] = len(head_terms)
        title_trip.add(row, ids_of(terms["title"]))
        pairs = bigrams(terms["title"]) + bigrams(terms["symptoms"])
        bi_trip.add(row, Counter(bigram_bucket(p) for p in pairs))
        bi_len[row] = len(pairs)
        blob += _rapid_text(article, fields).encode("utf-8", "replace")
        offsets[row + 1] = len(blob)
        if row and row % 10_000 == 0:
            log.info("search index: %s / %s articles tokenised", row, n)

    n_terms = len(vocab)
    # document frequency over any field, so idf is one number per term whatever field matched
    presence = sparse.coo_matrix(
        (
            np.ones(sum(len(trip[f].rows) for f in FIELDS), dtype=np.float32),
            (
                np.concatenate([trip[f].arrays()[0] for f in FIELDS]),
                np.concatenate([trip[f].arrays()[1] for f in FIELDS]),
            ),
        ),
        shape=(n, n_terms),
    ).tocsc()
    presence.sum_duplicates()
    df = np.diff(presence.indptr).astype(np.int64)
    del presence
    idf = _idf(df, n)
    full = _bm25_matrix([_norm_tf(trip[f], lengths[f], w, b) for f, (w, b) in FIELDS.items()], n, n_terms, idf)
    head = _bm25_matrix([_norm_tf(head_trip, head_len, 1.0, 0.5)], n, n_terms, idf)
    title = _bm25_matrix([_norm_tf(title_trip, lengths["title"], 1.0, 0.3)], n, n_terms, idf)
    _, b_cols, _ = bi_trip.arrays()
    bi_df = np.bincount(b_cols, minlength=BIGRAM_BUCKETS).astype(np.int64)
    bigram = _bm25_matrix([_norm_tf(bi_trip, bi_len, 1.0, 0.5)], n, BIGRAM_BUCKETS, _idf(bi_df, n))

    _save_matrix(directory, "full", full)
    _save_matrix(directory, "bigram", bigram)
    # head and title postings are subsets of the full ones: stored as data arrays aligned with `full`, so one
    # pass over the full postings scores all three (see engine.SearchEngine._combined)
    np.save(directory / "full.head.npy", _align(full, head))
    np.save(directory / "full.title.npy", _align(full, title))
    terms_sorted = sorted(vocab, key=vocab.__getitem__)
    (directory / "vocab.txt").write_text("\n".join(terms_sorted), encoding="utf-8")
    np.save(directory / "idf.npy", idf)
    np.save(directory / "has_symptoms.npy", has_symptoms)
    np.save(directory / "df.npy", df.astype(np.int32))
    tag_names = sorted(set(tags))
    tag_code = {t: i for i, t in enumerate(tag_names)}
    np.save(directory / "product_codes.npy", np.array([tag_code[t] for t in tags], dtype=np.int16))
    (directory / "ids.json").write_text(json.dumps(ids), encoding="utf-8")
    (directory / "titles.json").write_text(json.dumps(titles), encoding="utf-8")
    (directory / "products.json").write_text(json.dumps(tag_names), encoding="utf-8")
    (directory / "text.bin").write_bytes(bytes(blob))
    np.save(directory / "text_offsets.npy", offsets)
    meta = {
        "format": FORMAT_VERSION,
        "articles": n,
        "terms": n_terms,
        "bigram_buckets": BIGRAM_BUCKETS,
        "fields": FIELDS,
        "k1": K1,
        "build_seconds": round(time.perf_counter() - t0, 2),
    }
    # meta.json last: its presence marks a complete index
    (directory / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    log.info("search index: %s articles, %s terms in %.1f s", n, n_terms, time.perf_counter() - t0)


def search_index_is_current(directory: Path) -> bool:
    """Whether `directory` holds a complete search index this version of kbbot reads (an indexer that keeps
    the search folder when the articles are unchanged should still rebuild it when this says False)."""
    try:
        meta = json.loads((Path(directory) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT_VERSION


@dataclass(frozen=True, slots=True)
class Postings:
    """One CSC matrix, memory-mapped: column t's rows are indices[indptr[t]:indptr[t+1]]."""

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    data: npt.NDArray[np.float32]

    def gather(
        self, cols: list[int], weights: list[float]
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Rows and weighted values of every posting of the given columns, and each column's posting count
        (so per-term values can be spread over postings with np.repeat)."""
        if not cols:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        starts = self.indptr[c]
        ends = self.indptr[c + 1]
        rows = np.concatenate([self.indices[s:e] for s, e in zip(starts, ends, strict=True)])
        vals = np.concatenate(
            [self.data[s:e] * np.float32(w) for s, e, w in zip(starts, ends, weights, strict=True)]
        )
        return rows, vals, np.asarray(ends - starts, dtype=np.int64)


def _mapped(path: Path) -> npt.NDArray[Any]:
    # a plain ndarray view of the memory map: slicing np.memmap objects costs more than the arithmetic
    return np.asarray(np.load(path, mmap_mode="r"))


def _load_matrix(directory: Path, name: str) -> Postings:
    return Postings(
        indptr=np.load(directory / f"{name}.indptr.npy"),
        indices=_mapped(directory / f"{name}.indices.npy"),
        data=_mapped(directory / f"{name}.data.npy"),
    )


@dataclass(frozen=True, slots=True)
class SearchIndex:
    """The loaded index: read-only, shareable between threads."""

    ids: list[str]
    titles: list[str]
    product_names: list[str]
    product_codes: npt.NDArray[np.int16]
    has_symptoms: npt.NDArray[np.int8]
    vocab: dict[str, int]
    terms: list[str]
    idf: npt.NDArray[np.float32]
    df: npt.NDArray[np.int32]
    full: Postings
    head_data: npt.NDArray[np.float32]  # aligned with full.data
    title_data: npt.NDArray[np.float32]  # aligned with full.data
    bigram: Postings
    text_blob: npt.NDArray[np.uint8]
    text_offsets: npt.NDArray[np.int64]
    meta: dict[str, Any]

    def __len__(self) -> int:
        return len(self.ids)

    def rapid_text(self, row: int) -> tuple[str, str]:
        """(title + symptom opening, literal error lines) of one row, for rapidfuzz."""
        raw = (
            self.text_blob[self.text_offsets[row] : self.text_offsets[row + 1]]
            .tobytes()
            .decode("utf-8", "replace")
        )
        head, _, errs = raw.partition("\x1f")
        return head, errs

    @classmethod
    def load(cls, directory: Path) -> SearchIndex:
        directory = Path(directory)
        meta_path = directory / "meta.json"
        if not meta_path.is_file():
            raise IndexError_(f"no search index in {directory} (run `kbbot index`)")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT_VERSION:
            raise IndexError_(
                f"search index in {directory} has format {meta.get('format')}, this kbbot reads "
                f"{FORMAT_VERSION}; rebuild it with `kbbot index`"
            )
        text = (directory / "vocab.txt").read_text(encoding="utf-8")
        terms = text.split("\n") if text else []
        return cls(
            ids=json.loads((directory / "ids.json").read_text(encoding="utf-8")),
            titles=json.loads((directory / "titles.json").read_text(encoding="utf-8")),
            product_names=json.loads((directory / "products.json").read_text(encoding="utf-8")),
            product_codes=np.load(directory / "product_codes.npy"),
            has_symptoms=np.load(directory / "has_symptoms.npy"),
            vocab=dict(zip(terms, range(len(terms)), strict=True)),
            terms=terms,
            idf=np.load(directory / "idf.npy"),
            df=_mapped(directory / "df.npy"),
            full=_load_matrix(directory, "full"),
            head_data=_mapped(directory / "full.head.npy"),
            title_data=_mapped(directory / "full.title.npy"),
            bigram=_load_matrix(directory, "bigram"),
            text_blob=np.asarray(np.memmap(directory / "text.bin", dtype=np.uint8, mode="r"))
            if (directory / "text.bin").stat().st_size
            else np.zeros(0, dtype=np.uint8),
            text_offsets=np.load(directory / "text_offsets.npy"),
            meta=meta,
        )

"""The search index on disk: sparse term -> article postings with BM25 weights precomputed.

Layout of `<index>/search/` (all arrays little-endian numpy, memory-mapped at load so a bot process starts in
well under a second and several processes on one host share the pages):

- `meta.json`                 format version, article count, build parameters
- `vocab.txt`                 one term per line; line number = column in the matrices
- `idf.npy`                   float32 per term
- `<m>.indptr.npy / .indices.npy / .data.npy`  CSC postings (term -> rows, rows sorted) for matrix m:
    `full`   BM25F over title, symptoms, error lines, keywords, body and error signatures
    `bigram` word pairs of title + symptoms (phrases such as "page fault", "mail connector"); column c is
             the pair whose key (first column * terms + second column) is `bigram.keys.npy`[c] (sorted)
- `full.head.npy`, `full.title.npy`  BM25 over title + symptoms (what the article is *about*, not what it
                                     mentions) and over the title alone, aligned with `full.data`
- `ids.json`, `titles.json`, `products.json` (tag per row), `product_codes.npy`, `has_symptoms.npy`,
  `problem_title.npy` (no SYMPTOMS section, but the title names a problem: a modern KB's troubleshooting page)
- `forward.ptr.npy` + `forward.pos.npy`  article -> positions of its postings in `full` (the short list's features)
- `text.bin` + `text_offsets.npy`  per row: title, symptom opening and literal error lines, for rapidfuzz on the
                                   short list only (never a scan over the KB)
- `semantic.npy` + `semantic.scale.npy`  unit vector per row of its title + symptom opening, int8 codes times a
                                         per-row scale (kbbot/search/semantic.py)

Row r here is row r of the KnowledgeBase the index was built from.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import time
from array import array
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from scipy import sparse

from kbbot.errors import IndexFolderError
from kbbot.search.lexicon import Lexicon
from kbbot.search.params import PARAMS, IndexParams
from kbbot.search.semantic import packaged_vectors, quantise, table_fingerprint
from kbbot.search.text import (
    _TOKEN,
    context_signatures,
    names_problem,
    normalise_text,
    token_signature,
    version_terms,
    words,
)

if TYPE_CHECKING:
    from kbbot.article import Article
    from kbbot.kb import KnowledgeBase

log = logging.getLogger(__name__)

# 6: meta.json records the parameters the index was built with (kbbot/search/params.py)
# 7: problem_title.npy (troubleshooting articles without a SYMPTOMS heading)
FORMAT_VERSION = 7
SEMANTIC_BATCH = 4096

Matrix = tuple[npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.float32]]


def symptom_text(article: Article) -> str:
    """The section saying what goes wrong; articles without SYMPTOMS use their opening section."""
    return article.symptoms(any_section=True)


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


class ProductTags:
    """article -> its product tag (`product_key`), worked out once per (tag, product name) pair: a KB has a
    few hundred of them."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._tags: dict[tuple[str, str], str] = {}

    def __call__(self, article: Article) -> str:
        key = (article.product_tag, article.product)
        tag = self._tags.get(key)
        if tag is None:
            tag = self._tags[key] = product_key(article, self.lexicon)
        return tag


def article_fields(article: Article, params: IndexParams = PARAMS.index) -> dict[str, str]:
    sym = symptom_text(article)
    body = "\n".join(
        text for name, text in article.sections.items() if text and text is not sym and name != "SYMPTOMS"
    )
    return {
        "title": article.title,
        "symptoms": sym[: params.max_symptom_chars],
        "errors": "\n".join(error_lines(article)),
        "keywords": " ".join((*article.keywords, article.product, article.product_tag)),
        "body": body[: params.max_body_chars],
    }


def _rapid_text(article: Article, fields: dict[str, str], params: IndexParams) -> str:
    head = f"{article.title}\n{fields['symptoms'][: params.head_text_chars]}"
    errs = fields["errors"][: params.error_text_chars]
    # \x1f separates what the article is about from its literal error lines
    return f"{head}\x1f{errs}"


_FIELD_NAMES = ("title", "symptoms", "errors", "keywords", "body")  # fields with text of their own; "sig" too
_SEP = "\x00"  # joins an article's fields so they are normalised in one call (never whitespace to \s)


@dataclass(frozen=True, slots=True)
class PreparedArticle:
    """What the search index takes from one article that depends on that article alone: its fields
    normalised, its error signatures, its rapidfuzz text. Half of building the index, and free to run in
    worker processes while this one maps tokens to ids in row order (`SearchIndexBuilder.add_prepared`)."""

    id: str
    title: str
    tag: str  # product tag (`product_key`)
    has_symptoms: bool
    problem_title: bool
    parts: list[str]  # normalised text of each of _FIELD_NAMES
    signatures: list[str]  # error signatures of the whole text, first-seen order, once each
    versions: tuple[str, ...]  # the article's version strings as written
    rapid: bytes  # _rapid_text, UTF-8


def prepare_article(article: Article, tag: str, params: IndexParams = PARAMS.index) -> PreparedArticle:
    has_symptoms = bool(article.sections.get("SYMPTOMS"))
    fields = article_fields(article, params)
    texts = [fields[name] for name in _FIELD_NAMES]
    joined = _SEP.join(t.replace(_SEP, " ") if _SEP in t else t for t in texts)
    norm = normalise_text(joined)
    return PreparedArticle(
        id=article.id,
        title=article.title,
        tag=tag,
        has_symptoms=has_symptoms,
        # A modern KB writes many troubleshooting pages as a title and a summary ("Microsoft 365 Apps activation
        # error Product deactivated"): 29% of the Office KB, 15% of its dev questions' articles. In the archive
        # the SYMPTOMS heading marks them; here the title saying what goes wrong does.
        problem_title=not has_symptoms and names_problem(normalise_text(article.title)),
        parts=norm.split(_SEP),
        signatures=list(dict.fromkeys(context_signatures(norm))),
        versions=tuple(article.versions),
        rapid=_rapid_text(article, fields, params).encode("utf-8", "replace"),
    )


class SearchIndexBuilder:
    """Collects articles one at a time, then writes the search index (`finish`).

    Per article only three things run in Python: normalising the text once, `_TOKEN.findall` per field and
    mapping each raw token to an integer through a dict (in C, via `map`). Stemming, stop words, error-code
    recognition and the vocabulary are decided once per distinct raw token, not once per occurrence; the
    counting, BM25 weighting and word pairs are numpy/scipy passes over flat arrays of the whole corpus.

    `build_search_index(kb, directory)` feeds every article of a KnowledgeBase; an indexer that already has
    the parsed articles in hand (as they come back from its workers) can call `add` itself and overlap this
    with parsing, then `finish` once the rows are final (`add` order = row order).
    """

    def __init__(self, *, lexicon: Lexicon | None = None, params: IndexParams = PARAMS.index) -> None:
        if set(params.fields) != {*_FIELD_NAMES, "sig"}:
            expected = sorted({*_FIELD_NAMES, "sig"})
            raise ValueError(f"search fields must be {expected}, not {sorted(params.fields)}")
        self.lexicon = lexicon if lexicon is not None else Lexicon.load()
        self.params = params
        self.vocab: dict[str, int] = {}  # index term -> column
        self._raw: dict[str, int] = {}  # raw token -> raw id
        self._raw_col = array("i")  # raw id -> column of its word term, -1 for stop words
        self._raw_sig = array("i")  # raw id -> column of its error signature (hex / compiler code), or -1
        self._tokens = {name: array("i") for name in _FIELD_NAMES}  # raw ids, article after article
        self._counts = {name: array("i") for name in _FIELD_NAMES}  # raw tokens per article
        self._extra_rows = array("i")  # (row, column) of terms added outside the text: versions, signatures
        self._extra_cols = array("i")
        self._extra_field = array("b")  # 0: keywords (versions), 1: sig
        self._version_cache: dict[str, list[int]] = {}
        self._product = ProductTags(self.lexicon)
        self.ids: list[str] = []
        self.titles: list[str] = []
        self.tags: list[str] = []
        self.has_symptoms = array("b")
        self.problem_title = array("b")
        self.blob = bytearray()
        self.offsets = array("q", [0])
        self.started = time.perf_counter()

    # ------------------------------------------------------------------ per article
    def _col(self, term: str) -> int:
        col = self.vocab.get(term)
        if col is None:
            col = self.vocab[term] = len(self.vocab)
        return col

    def _new_raw(self, toks: list[str]) -> None:
        for tok in dict.fromkeys(toks):  # first-seen order, so a build is byte-for-byte reproducible
            if tok in self._raw:
                continue
            self._raw[tok] = len(self._raw_col)
            term = words(tok)  # the tokenizer's own rules (stop words, one-letter tokens, stemming)
            self._raw_col.append(self._col(term[0]) if term else -1)
            sig = token_signature(tok)
            self._raw_sig.append(self._col(sig) if sig else -1)

    def _raw_ids(self, text: str) -> list[int]:
        toks = _TOKEN.findall(text)
        try:
            return list(map(self._raw.__getitem__, toks))
        except KeyError:
            self._new_raw(toks)
            return list(map(self._raw.__getitem__, toks))

    def add(self, article: Article) -> None:
        self.add_prepared(prepare_article(article, self._product(article), self.params))

    def add_prepared(self, article: PreparedArticle) -> None:
        """`add` of an article whose text has been prepared (`prepare_article`, possibly in another process):
        what is left maps its tokens to ids and terms, which must run in row order in one place."""
        row = len(self.ids)
        self.ids.append(article.id)
        self.titles.append(article.title)
        self.tags.append(article.tag)
        self.has_symptoms.append(1 if article.has_symptoms else 0)
        self.problem_title.append(1 if article.problem_title else 0)
        for name, part in zip(_FIELD_NAMES, article.parts, strict=True):
            ids = self._raw_ids(part)
            self._tokens[name].extend(ids)
            self._counts[name].append(len(ids))
        for sig in article.signatures:
            self._extra(row, self._col(sig), 1)
        versions: set[int] = set()
        for raw in article.versions:
            cols = self._version_cache.get(raw)
            if cols is None:
                terms = version_terms(_TOKEN.findall(normalise_text(raw)))
                cols = self._version_cache[raw] = [self._col(t) for t in terms]
            versions.update(cols)
        for col in versions:
            self._extra(row, col, 0)
        self.blob += article.rapid
        self.offsets.append(len(self.blob))
        if row and row % 10_000 == 0:
            log.info("search index: %s articles tokenised", row)

    def _extra(self, row: int, col: int, field: int) -> None:
        self._extra_rows.append(row)
        self._extra_cols.append(col)
        self._extra_field.append(field)

    # ------------------------------------------------------------------ the whole corpus
    def finish(self, directory: Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        n = len(self.ids)
        n_terms = len(self.vocab)
        raw_col = _ints(self._raw_col, np.int32)
        raw_sig = _ints(self._raw_sig, np.int32)
        extra_rows = _ints(self._extra_rows, np.int32).astype(np.int64)
        extra_cols = _ints(self._extra_cols, np.int32).astype(np.int64)
        extra_field = _ints(self._extra_field, np.int8)

        # per field: (rows, columns) of every kept token in text order
        seq: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]] = {}
        sig_rows: list[npt.NDArray[np.int64]] = [extra_rows[extra_field == 1]]
        sig_cols: list[npt.NDArray[np.int64]] = [extra_cols[extra_field == 1]]
        for name in _FIELD_NAMES:
            raw = _ints(self._tokens[name], np.int32)
            rows = np.repeat(np.arange(n, dtype=np.int64), _ints(self._counts[name], np.int32))
            cols = raw_col[raw].astype(np.int64)
            keep = cols >= 0
            seq[name] = (rows[keep], cols[keep])
            sig = raw_sig[raw]
            has = sig >= 0
            sig_rows.append(rows[has])
            sig_cols.append(sig[has].astype(np.int64))
        kw_rows, kw_cols = seq["keywords"]
        is_kw = extra_field == 0
        seq["keywords"] = (
            np.concatenate([kw_rows, extra_rows[is_kw]]),
            np.concatenate([kw_cols, extra_cols[is_kw]]),
        )
        # error signatures count once per article
        sig_key = np.unique(np.concatenate(sig_rows) * n_terms + np.concatenate(sig_cols))
        seq["sig"] = (sig_key // max(n_terms, 1), sig_key % max(n_terms, 1))

        p = self.params
        lengths = {name: np.bincount(seq[name][0], minlength=n).astype(np.float32) for name in p.fields}
        parts = [_weighted_tf(*seq[f], lengths[f], fw.weight, fw.b, n, n_terms) for f, fw in p.fields.items()]
        full = _sum_csc(parts, n, n_terms)
        df = np.diff(full.indptr).astype(np.int64)  # every field's values are positive: nnz = df
        idf = _idf(df, n)
        _saturate(full, idf, p.k1)
        head_rows = np.concatenate([seq["title"][0], seq["symptoms"][0]])
        head_cols = np.concatenate([seq["title"][1], seq["symptoms"][1]])
        head_len = lengths["title"] + lengths["symptoms"]
        head = _sum_csc([_weighted_tf(head_rows, head_cols, head_len, 1.0, p.head_b, n, n_terms)], n, n_terms)
        _saturate(head, idf, p.k1)
        title_tf = _weighted_tf(*seq["title"], lengths["title"], 1.0, p.title_b, n, n_terms)
        title = _sum_csc([title_tf], n, n_terms)
        _saturate(title, idf, p.k1)

        # word pairs of the title and of the symptoms (never across the two), as exact pair ids
        p_rows, p_keys = [], []
        for name in ("title", "symptoms"):
            rows, cols = seq[name]
            same = rows[1:] == rows[:-1]
            p_rows.append(rows[1:][same])
            p_keys.append(cols[:-1][same] * n_terms + cols[1:][same])
        pair_keys, pair_cols = np.unique(np.concatenate(p_keys), return_inverse=True)
        pair_rows = np.concatenate(p_rows)
        bi_len = np.bincount(pair_rows, minlength=n).astype(np.float32)
        n_pairs = len(pair_keys)
        pair_tf = _weighted_tf(pair_rows, pair_cols.ravel(), bi_len, 1.0, p.bigram_b, n, n_pairs)
        bigram = _sum_csc([pair_tf], n, n_pairs)
        _saturate(bigram, _idf(np.diff(bigram.indptr).astype(np.int64), n), p.k1)

        _save_matrix(directory, "full", full)
        # article -> its postings (positions in `full`), so a short list's features read a few hundred entries
        # per article instead of searching every matched term's postings for it
        by_row = np.argsort(full.indices, kind="stable").astype(np.int32)
        forward_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(full.indices, minlength=n), out=forward_ptr[1:])
        np.save(directory / "forward.pos.npy", by_row)
        np.save(directory / "forward.ptr.npy", forward_ptr)
        _save_matrix(directory, "bigram", bigram)
        np.save(directory / "bigram.keys.npy", pair_keys.astype(np.int64))
        # head and title postings are subsets of the full ones: stored as data arrays aligned with `full`, so
        # one pass over the full postings scores all three (see engine.SearchEngine._combined)
        np.save(directory / "full.head.npy", _align(full, head))
        np.save(directory / "full.title.npy", _align(full, title))
        terms_sorted = sorted(self.vocab, key=self.vocab.__getitem__)
        (directory / "vocab.txt").write_text("\n".join(terms_sorted), encoding="utf-8")
        np.save(directory / "idf.npy", idf)
        np.save(directory / "has_symptoms.npy", _ints(self.has_symptoms, np.int8))
        np.save(directory / "problem_title.npy", _ints(self.problem_title, np.int8))
        np.save(directory / "df.npy", df.astype(np.int32))
        tag_names = sorted(set(self.tags))
        tag_code = {t: i for i, t in enumerate(tag_names)}
        np.save(directory / "product_codes.npy", np.array([tag_code[t] for t in self.tags], dtype=np.int16))
        (directory / "ids.json").write_text(json.dumps(self.ids), encoding="utf-8")
        (directory / "titles.json").write_text(json.dumps(self.titles), encoding="utf-8")
        (directory / "products.json").write_text(json.dumps(tag_names), encoding="utf-8")
        (directory / "text.bin").write_bytes(bytes(self.blob))
        np.save(directory / "text_offsets.npy", _ints(self.offsets, np.int64))
        vectors = _semantic_vectors(self.blob, self.offsets, p.semantic_chars)
        if vectors is not None:
            codes, scales = quantise(vectors)
            np.save(directory / "semantic.npy", codes)
            np.save(directory / "semantic.scale.npy", scales)
        meta = {
            "format": FORMAT_VERSION,
            "articles": n,
            "terms": n_terms,
            "bigrams": n_pairs,
            # compared on load (`index_params_differences`): an index built with other values is stale
            "params": p.to_json(),
            "semantic_table": table_fingerprint() if vectors is not None else None,
            "build_seconds": round(time.perf_counter() - self.started, 2),
        }
        # meta.json last: its presence marks a complete index
        (directory / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        log.info("search index: %s articles, %s terms in %.1f s", n, n_terms, time.perf_counter() - self.started)


def _semantic_vectors(blob: bytearray, offsets: array[int], chars: int) -> npt.NDArray[np.float32] | None:
    """One unit vector per row from its title + symptom opening (None, and a warning, without the token table)."""
    vectors = packaged_vectors("no semantic vectors in this index")
    if vectors is None:
        return None
    data = bytes(blob)
    n = len(offsets) - 1
    out = np.zeros((n, vectors.dims), dtype=np.float32)
    # in slices: the token ids of the whole KB at once would be millions of Python ints
    for start in range(0, n, SEMANTIC_BATCH):
        stop = min(n, start + SEMANTIC_BATCH)
        heads = (
            data[offsets[i] : offsets[i + 1]].decode("utf-8", "replace").partition("\x1f")[0][:chars]
            for i in range(start, stop)
        )
        out[start:stop] = vectors.embed_many(heads)
    return out


def _ints(values: array[int], dtype: type[np.integer[Any]]) -> npt.NDArray[Any]:
    """A numpy copy of a growing `array` (its buffer would stay pinned by a view)."""
    return np.array(values, dtype=dtype) if not len(values) else np.frombuffer(values, dtype=dtype).copy()


def _weighted_tf(
    rows: npt.NDArray[np.int64],
    cols: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.float32],
    weight: float,
    b: float,
    n_rows: int,
    n_cols: int,
) -> sparse.csr_matrix:
    """Term counts per (row, column), times `weight`, divided by BM25's length normalisation."""
    m = sparse.csr_matrix(
        (np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n_rows, n_cols), dtype=np.float32
    )
    m.sum_duplicates()
    avg = float(lengths.mean()) if len(lengths) else 1.0
    norm = ((1.0 - b) + b * (lengths / (avg or 1.0))).astype(np.float32)
    m.data *= np.float32(weight) / np.repeat(norm, np.diff(m.indptr))
    return m


def _sum_csc(parts: list[sparse.csr_matrix], n_rows: int, n_cols: int) -> sparse.csc_matrix:
    m = parts[0] if len(parts) == 1 else sum(parts[1:], parts[0])
    m = sparse.csc_matrix(m, shape=(n_rows, n_cols), dtype=np.float32)
    m.sum_duplicates()
    m.sort_indices()  # rows ascending within a column: the engine binary-searches them
    return m


def _saturate(m: sparse.csc_matrix, idf: npt.NDArray[np.float32], k1: float) -> None:
    """tf -> idf * tf (k1 + 1) / (tf + k1), in place; data is grouped by column in CSC."""
    m.data = (m.data * (k1 + 1.0) / (m.data + k1)).astype(np.float32)
    m.data *= np.repeat(idf, np.diff(m.indptr)).astype(np.float32)


def _align(full: sparse.csc_matrix, sub: sparse.csc_matrix) -> npt.NDArray[np.float32]:
    """`sub`'s values laid out on `full`'s sparsity pattern (zero where `sub` has no entry)."""
    n_rows = np.int64(full.shape[0])
    key_full = np.repeat(np.arange(full.shape[1], dtype=np.int64), np.diff(full.indptr)) * n_rows + full.indices
    key_sub = np.repeat(np.arange(sub.shape[1], dtype=np.int64), np.diff(sub.indptr)) * n_rows + sub.indices
    pos = np.searchsorted(key_full, key_sub)
    if len(pos) and (pos.max() >= len(key_full) or not np.array_equal(key_full[pos], key_sub)):
        raise IndexFolderError("search index build: a head/title posting is missing from the full postings")
    out = np.zeros(len(full.data), dtype=np.float32)
    out[pos] = sub.data
    return out


def _idf(df: npt.NDArray[np.int64], n: int) -> npt.NDArray[np.float32]:
    return np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)


def _save_matrix(directory: Path, name: str, m: sparse.csc_matrix) -> None:
    np.save(directory / f"{name}.indptr.npy", m.indptr.astype(np.int64))
    np.save(directory / f"{name}.indices.npy", m.indices.astype(np.int32))
    np.save(directory / f"{name}.data.npy", m.data.astype(np.float32))


def build_search_index(kb: KnowledgeBase, directory: Path, *, params: IndexParams = PARAMS.index) -> None:
    """Build the search index for every article of `kb` into `directory` (replacing what is there)."""
    builder = SearchIndexBuilder(params=params)
    for article in _prepared(kb, builder, params):
        builder.add_prepared(article)
    builder.finish(directory)


# A KB this large has its articles read and prepared by worker processes while this one maps their tokens: on
# two cores the 57k archive's tokenising took 24 s in one process. Below it a pool costs more than it saves.
_PREPARE_IN_WORKERS_FROM = 5_000
_PREPARE_CHUNK = 500  # articles a worker prepares per task
_PREPARE_BACKLOG = 4  # tasks per worker in flight: prepared text waits in memory for this process to take it

_worker: tuple[KnowledgeBase, ProductTags, IndexParams] | Exception | None = None


def _start_worker(path: str, params: IndexParams) -> None:
    global _worker
    # each worker reads the articles through a KnowledgeBase of its own (a shared one would share its file offset)
    from kbbot.kb import KnowledgeBase

    try:
        _worker = (KnowledgeBase.open(path, articles_only=True), ProductTags(Lexicon.load()), params)
    except Exception as exc:  # raised in an initializer it kills the worker, and the pool respawns it forever
        _worker = exc


def _prepare_rows(rows: tuple[int, int]) -> list[PreparedArticle]:
    if isinstance(_worker, Exception):
        raise _worker
    assert _worker is not None, "worker not started"
    kb, tags, params = _worker
    articles = (kb.article_at(row) for row in range(*rows))
    return [prepare_article(article, tags(article), params) for article in articles]


def _prepared(kb: KnowledgeBase, builder: SearchIndexBuilder, params: IndexParams) -> Iterator[PreparedArticle]:
    """Every article of `kb` prepared, in row order: in worker processes for a large KB on several cores (one
    fewer than the cores, this process being busy too), here otherwise."""
    n = len(kb)
    workers = min(max(1, (os.cpu_count() or 1) - 1), 8)
    methods = multiprocessing.get_all_start_methods()
    if n < _PREPARE_IN_WORKERS_FROM or (os.cpu_count() or 1) < 2 or "fork" not in methods:
        for row in range(n):
            article = kb.article_at(row)
            yield prepare_article(article, builder._product(article), params)
        return
    ctx = multiprocessing.get_context("fork")
    chunks = [(start, min(start + _PREPARE_CHUNK, n)) for start in range(0, n, _PREPARE_CHUNK)]
    log.info("search index: %s articles prepared in %s worker process(es)", n, workers)
    with ctx.Pool(processes=workers, initializer=_start_worker, initargs=(str(kb.path), params)) as pool:
        pending: deque[Any] = deque()
        for chunk in chunks:
            pending.append(pool.apply_async(_prepare_rows, (chunk,)))
            while len(pending) > workers * _PREPARE_BACKLOG:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()


def stale_reason(meta: object, params: IndexParams = PARAMS.index) -> str | None:
    """Why a saved index (its meta.json) cannot be searched by this version of kbbot, or None if it can."""
    if not isinstance(meta, dict):
        return "its meta.json is unreadable"
    if meta.get("format") != FORMAT_VERSION:
        return f"it has format {meta.get('format')}, this kbbot reads {FORMAT_VERSION}"
    differ = params.differences(meta.get("params"))
    if differ:
        return f"it was built with other search parameters ({', '.join(differ)})"
    # the articles' semantic vectors come from the packaged token table: a new table means new vectors
    if meta.get("semantic_table") not in (None, table_fingerprint()):
        return "its semantic vectors come from another token table"
    return None


def search_index_is_current(directory: Path, *, params: IndexParams = PARAMS.index) -> bool:
    """Whether `directory` holds a complete search index this version of kbbot reads, built with `params` (an
    indexer that keeps the search folder when the articles are unchanged rebuilds it when this says False)."""
    try:
        meta = json.loads((Path(directory) / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if stale_reason(meta, params) is not None:
        return False
    # an index made without the token table is rebuilt once the table is there
    return bool(meta.get("semantic_table") == table_fingerprint())


@dataclass(frozen=True, slots=True)
class Postings:
    """One CSC matrix, memory-mapped: column t's rows are indices[indptr[t]:indptr[t+1]]."""

    indptr: npt.NDArray[np.int64]
    indices: npt.NDArray[np.int32]
    data: npt.NDArray[np.float32]

    def gather(
        self, cols: list[int], weights: list[float], *, values: npt.NDArray[np.float32] | None = None
    ) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Rows and weighted values of every posting of the given columns, and each column's posting count
        (so per-term values can be spread over postings with np.repeat). `values`: per-posting values to weigh
        instead of the postings' own (aligned with them, as the engine's combined stage-1 values are)."""
        data = self.data if values is None else values
        if not cols:
            return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        c = np.asarray(cols, dtype=np.int64)
        starts = self.indptr[c]
        ends = self.indptr[c + 1]
        spans = list(zip(starts.tolist(), ends.tolist(), strict=True))
        rows = np.concatenate([self.indices[s:e] for s, e in spans])
        # a copy, scaled in place in one pass: a long message matches ~200,000 postings
        vals = np.concatenate([data[s:e] for s, e in spans])
        vals *= np.repeat(np.asarray(weights, dtype=np.float32), ends - starts)
        return rows, vals, np.asarray(ends - starts, dtype=np.int64)


def _read_array(path: Path) -> npt.NDArray[Any]:
    """The array in `path`, read into memory.

    Not memory-mapped, though that would let `serve --workers` processes share the pages: a file truncated or
    rewritten in place under a mapping kills the process with SIGBUS on the next query that touches it, and an
    index folder is a file tree anyone can edit. Read whole, the 57k archive costs ~8 MB more steady RSS
    (386 -> 394 MB after 2,500 queries) and ~0.5 s more at load; a damaged file is then an error at (re)load."""
    return np.load(path)


def _load_matrix(directory: Path, name: str) -> Postings:
    return Postings(
        indptr=np.load(directory / f"{name}.indptr.npy"),
        indices=_read_array(directory / f"{name}.indices.npy"),
        data=_read_array(directory / f"{name}.data.npy"),
    )


@dataclass(frozen=True, slots=True)
class SearchIndex:
    """The loaded index: read-only, shareable between threads."""

    ids: list[str]
    titles: list[str]
    product_names: list[str]
    product_codes: npt.NDArray[np.int16]
    has_symptoms: npt.NDArray[np.int8]
    problem_title: npt.NDArray[np.int8]
    vocab: dict[str, int]
    terms: list[str]
    idf: npt.NDArray[np.float32]
    df: npt.NDArray[np.int32]
    full: Postings
    head_data: npt.NDArray[np.float32]  # aligned with full.data
    title_data: npt.NDArray[np.float32]  # aligned with full.data
    bigram: Postings
    bigram_keys: npt.NDArray[np.int64]  # sorted pair keys, one per bigram column
    text_blob: npt.NDArray[np.uint8]
    text_offsets: npt.NDArray[np.int64]
    meta: dict[str, Any]
    forward_ptr: npt.NDArray[np.int64]  # article r's postings are forward_pos[forward_ptr[r]:forward_ptr[r + 1]]
    forward_pos: npt.NDArray[np.int32]  # positions in full.indices/data, grouped by article, terms ascending
    # rows x dims: the codes of unit vectors (None: an index built without the token table)
    semantic: npt.NDArray[np.int8] | None = None
    semantic_scale: npt.NDArray[np.float32] | None = None  # per row: code x scale = vector

    def __len__(self) -> int:
        return len(self.ids)

    def bigram_cols(self, pairs: list[tuple[int, int]]) -> list[int]:
        """Bigram columns of (first column, second column) word pairs; pairs no article has are left out."""
        if not pairs or not len(self.bigram_keys):
            return []
        keys = np.array([a * len(self.terms) + b for a, b in pairs], dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.bigram_keys, keys), len(self.bigram_keys) - 1)
        return [int(p) for p in pos[self.bigram_keys[pos] == keys]]

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
    def load(cls, directory: Path, *, params: IndexParams = PARAMS.index) -> SearchIndex:
        """Open a built index; one this kbbot cannot search as built (another format, other parameters) is
        refused, never used with weights it was not made for."""
        directory = Path(directory)
        meta_path = directory / "meta.json"
        if not meta_path.is_file():
            raise IndexFolderError(f"no search index in {directory} (run `kbbot index`)")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError:
            meta = None
        reason = stale_reason(meta, params)
        if reason is not None:
            raise IndexFolderError(
                f"the search index in {directory} is stale: {reason}; rebuild it with `kbbot index`"
            )
        text = (directory / "vocab.txt").read_text(encoding="utf-8")
        terms = text.split("\n") if text else []
        return cls(
            ids=json.loads((directory / "ids.json").read_text(encoding="utf-8")),
            titles=json.loads((directory / "titles.json").read_text(encoding="utf-8")),
            product_names=json.loads((directory / "products.json").read_text(encoding="utf-8")),
            product_codes=np.load(directory / "product_codes.npy"),
            has_symptoms=np.load(directory / "has_symptoms.npy"),
            problem_title=np.load(directory / "problem_title.npy"),
            vocab=dict(zip(terms, range(len(terms)), strict=True)),
            terms=terms,
            idf=np.load(directory / "idf.npy"),
            df=_read_array(directory / "df.npy"),
            full=_load_matrix(directory, "full"),
            head_data=_read_array(directory / "full.head.npy"),
            title_data=_read_array(directory / "full.title.npy"),
            bigram=_load_matrix(directory, "bigram"),
            bigram_keys=np.load(directory / "bigram.keys.npy"),
            text_blob=np.asarray(np.memmap(directory / "text.bin", dtype=np.uint8, mode="r"))
            if (directory / "text.bin").stat().st_size
            else np.zeros(0, dtype=np.uint8),
            text_offsets=np.load(directory / "text_offsets.npy"),
            meta=meta,
            forward_ptr=np.load(directory / "forward.ptr.npy"),
            forward_pos=_read_array(directory / "forward.pos.npy"),
            semantic=_read_array(directory / "semantic.npy")
            if (directory / "semantic.npy").is_file()
            else None,
            semantic_scale=np.load(directory / "semantic.scale.npy")
            if (directory / "semantic.scale.npy").is_file()
            else None,
        )

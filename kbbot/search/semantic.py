"""Meaning beyond shared words: static token vectors, so "smsapm32 keeps polling nonstop" can sit near "checks
continually for a logged-on user" although the two share one word.

A person's paraphrase of an article deliberately avoids its wording; lexical scoring cannot see that "dies" and
"access violation" are the same complaint. A sentence-embedding model can (all-MiniLM-L6-v2 re-ranking the pool
gains about three points of recall@3 in cross-validation), but it costs 12 ms a query and 24 ms an article on
two cores: over the latency budget a hundred times. So its knowledge is distilled into one vector per word piece
(`kbbot/data/token_vectors.npz`, made by `benchmarks/train_token_vectors.py`): the model's own vector of each
token, then refitted so that the mean of a text's token vectors lands where the model puts the whole text, over
the title and symptom openings of KB articles. A text's vector is the mean of its tokens' vectors: microseconds.

The tokenizer is BERT's uncased WordPiece (the model's vocabulary, `kbbot/data/wordpiece.txt`), written out here
so that no machine-learning library is needed at run time; the vectors were fitted with this same code.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse

from kbbot.search.lexicon import packaged_vocabulary

log = logging.getLogger(__name__)

# what is embedded of a query: the opening of a pasted log says what it is about, and the rest would only cost
MAX_TEXT_CHARS = 1000
MAX_TOKENS = 256
MAX_WORD_CHARS = 100  # longer "words" (base64, hex dumps) are unknown, as in BERT
UNKNOWN = "[UNK]"


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # ASCII symbols count as punctuation too ("$", "^", "`"), as in BERT's basic tokenizer
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


# ASCII text (nearly all of a KB): letters and digits run together, every other visible character is punctuation
_ASCII_WORDS = re.compile(r"[a-z0-9]+|[!-/:-@\[-`{-~]")


def basic_words(text: str) -> list[str]:
    """Lower-cased, accent-stripped words with each punctuation mark a word of its own (BERT's basic step)."""
    text = text.lower()
    if text.isascii():
        return _ASCII_WORDS.findall(text)
    text = unicodedata.normalize("NFD", text)
    out: list[str] = []
    word: list[str] = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Mn":  # combining accent
            continue
        if ch.isspace() or cat in {"Cc", "Cf"} or ch == "\ufffd":
            if word:
                out.append("".join(word))
                word = []
        elif _is_punctuation(ch):
            if word:
                out.append("".join(word))
                word = []
            out.append(ch)
        else:
            word.append(ch)
    if word:
        out.append("".join(word))
    return out


class WordPiece:
    """Greedy longest-match-first word pieces ("unaffable" -> una ##ffa ##ble) over a fixed vocabulary."""

    def __init__(self, vocab: list[str]) -> None:
        self.vocab = {token: i for i, token in enumerate(vocab)}
        self.unknown = self.vocab.get(UNKNOWN, -1)
        self._pieces = lru_cache(maxsize=200_000)(self._word_pieces)

    def _word_pieces(self, word: str) -> tuple[int, ...]:
        if len(word) > MAX_WORD_CHARS:
            return (self.unknown,)
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = -1
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                found = self.vocab.get(piece, -1)
                if found >= 0:
                    break
                end -= 1
            if found < 0:
                return (self.unknown,)
            pieces.append(found)
            start = end
        return tuple(pieces)

    def ids(self, text: str, *, limit: int = MAX_TOKENS) -> list[int]:
        """Token ids of `text` (its first MAX_TEXT_CHARS), at most `limit`."""
        out: list[int] = []
        for word in basic_words(text[:MAX_TEXT_CHARS]):
            out.extend(self._pieces(word))
            if len(out) >= limit:
                break
        return out[:limit]


def quantise(vectors: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float32]]:
    """Rows as int8 times a per-row scale: a quarter of float32's memory, cosines off by well under 1%."""
    scale = np.abs(vectors).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    codes = np.rint(vectors / scale[:, None]).astype(np.int8)
    return codes, scale.astype(np.float32)


@lru_cache(maxsize=1)
def table_fingerprint() -> str | None:
    """Which packaged token table this is (an index's vectors are only as current as the table they came from)."""
    try:
        data = (resources.files("kbbot") / "data" / "token_vectors.npz").read_bytes()
    except OSError:
        return None
    return hashlib.sha256(data).hexdigest()[:16]


class TokenVectors:
    """Text -> unit vector, the mean of its known tokens' vectors (zero for a text with none)."""

    def __init__(self, tokenizer: WordPiece, codes: npt.NDArray[np.int8], scales: npt.NDArray[np.float32]) -> None:
        self.tokenizer = tokenizer
        self.codes = codes  # int8 as stored: each text converts only the rows it uses
        self.scales = scales
        self.dims = int(codes.shape[1])

    @classmethod
    def load(cls, directory: Path | None = None) -> TokenVectors:
        """The table `benchmarks/train_token_vectors.py` wrote (kbbot/data/token_vectors.npz + wordpiece.txt)."""
        if directory is None:
            data = resources.files("kbbot") / "data"
            vocab = list(packaged_vocabulary())
            with resources.as_file(data / "token_vectors.npz") as path, np.load(path) as saved:
                codes, scales = saved["codes"], saved["scales"]
        else:
            vocab = (Path(directory) / "wordpiece.txt").read_text(encoding="utf-8").rstrip("\n").split("\n")
            with np.load(Path(directory) / "token_vectors.npz") as saved:
                codes, scales = saved["codes"], saved["scales"]
        if codes.ndim != 2 or len(vocab) != codes.shape[0] or scales.shape != (codes.shape[0],):
            raise ValueError(f"token vectors: a {codes.shape} table for {len(vocab)} word pieces")
        return cls(WordPiece(vocab), codes.astype(np.int8), scales.astype(np.float32))

    def _known(self, text: str) -> list[int]:
        unknown = self.tokenizer.unknown
        return [t for t in self.tokenizer.ids(text) if t != unknown]

    def embed(self, text: str) -> npt.NDArray[np.float32]:
        ids = self._known(text)
        if not ids:
            return np.zeros(self.dims, dtype=np.float32)
        v = (self.scales[ids] @ self.codes[ids].astype(np.float32)) / len(ids)
        norm = float(np.linalg.norm(v))
        return (v / norm if norm > 0 else v).astype(np.float32)

    def embed_each(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """`embed` of a few texts that share most of their words (a message and its sentences), one row each:
        each distinct token's row of the table is read and converted once, and one product makes every mean."""
        if len(texts) == 1:  # a short question: the plain mean costs a third
            return self.embed(texts[0])[None, :]
        out = np.zeros((len(texts), self.dims), dtype=np.float32)
        ids = [self._known(t) for t in texts]
        counts = np.array([len(i) for i in ids], dtype=np.int64)
        if not counts.sum():
            return out
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(counts.sum()))
        tokens, slot = np.unique(flat, return_inverse=True)
        weights = np.zeros((len(texts), len(tokens)), dtype=np.float32)
        np.add.at(weights, (np.repeat(np.arange(len(texts)), counts), slot), 1.0)
        weights *= self.scales[tokens][None, :] / np.maximum(counts, 1).astype(np.float32)[:, None]
        out = weights @ self.codes[tokens].astype(np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out

    def embed_many(self, texts: Iterable[str]) -> npt.NDArray[np.float32]:
        """One unit vector per text, as one sparse (texts x tokens) mean times the table: fast for a whole KB."""
        indptr = [0]
        indices: list[int] = []
        for text in texts:
            indices.extend(self._known(text))
            indptr.append(len(indices))
        n = len(indptr) - 1
        ends = np.asarray(indptr, dtype=np.int64)
        counts = ends[1:] - ends[:-1]
        token_ids = np.asarray(indices, dtype=np.int64)
        # the mean's weights carry each token's scale, so the int8 codes go into the product as they are
        values = (np.repeat(1.0 / np.maximum(counts, 1), counts) * self.scales[token_ids]).astype(np.float32)
        mean = sparse.csr_matrix((values, token_ids, ends), shape=(n, self.codes.shape[0]))
        out = np.asarray(mean @ self.codes.astype(np.float32), dtype=np.float32)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out


def packaged_vectors(purpose: str) -> TokenVectors | None:
    """The packaged token table, or None (with a warning naming `purpose`) when a broken install lacks it."""
    try:
        return TokenVectors.load()
    except (OSError, ValueError) as exc:
        log.warning("%s: the token table cannot be read (%s)", purpose, exc)
        return None

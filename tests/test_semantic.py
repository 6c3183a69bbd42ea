"""Semantic vectors: BERT's word pieces written out, the packaged token table, the vectors in the search index, and
the re-ranking feature that reads them."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from kbbot.search import SearchEngine, search_index_is_current
from kbbot.search.index import SearchIndex
from kbbot.search.model import SHORTLIST_FEATURES, VECTOR_FEATURES
from kbbot.search.semantic import TokenVectors, WordPiece, basic_words, quantise, table_fingerprint

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


@pytest.fixture(scope="module")
def vectors() -> TokenVectors:
    return TokenVectors.load()


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kbbot.indexer import run_index

    out = tmp_path_factory.mktemp("semantic-seeds") / "index"
    run_index([str(SEEDS)], out, progress=False)
    return out


def test_basic_words_split_punctuation_and_fold_case_and_accents() -> None:
    assert basic_words("Error: C:\\WINNT [008] X.400") == [
        "error", ":", "c", ":", "\\", "winnt", "[", "008", "]", "x", ".", "400"
    ]
    assert basic_words("Café  naïve\tmenu") == ["cafe", "naive", "menu"]  # the non-ASCII path
    assert basic_words("“quoted” — dash") == ["“", "quoted", "”", "—", "dash"]
    assert basic_words("") == []


def test_word_pieces_longest_match_first(vectors: TokenVectors) -> None:
    wp = vectors.tokenizer
    pieces = [list(wp.vocab)[i] for i in wp.ids("unaffable")]
    # what the model's own tokenizer gives (checked against it on 2,000 article heads when this was written)
    assert pieces == ["una", "##ffa", "##ble"]
    assert wp.ids("x" * 101) == [wp.unknown]  # over-long "words" (hex dumps) are unknown, as in BERT
    assert len(wp.ids("a, " * 5000)) == 256  # a pasted log is cut, not embedded whole
    assert len(wp.ids("mail " * 5000)) == 200  # (its first 1,000 characters at most)
    tiny = WordPiece(["[UNK]", "mail", "##box", "box"])
    assert tiny.ids("mailbox box mailx") == [1, 2, 3, 0]


def test_embeddings_are_unit_vectors_and_one_text_or_many_agree(vectors: TokenVectors) -> None:
    texts = ["IMC loses mail without an NDR", "[008] mailbag contention", "", "\x00\x01 ☃"]
    many = vectors.embed_many(texts)
    for text, row in zip(texts, many, strict=True):
        one = vectors.embed(text)
        assert np.allclose(one, row, atol=1e-5)
        assert abs(float(np.linalg.norm(one)) - 1.0) < 1e-4 or not one.any()
    assert not vectors.embed("").any()
    # a message and its sentences, embedded together (shared words read once) or one by one, agree
    each = vectors.embed_each([" ".join(texts), *texts])
    for text, row in zip([" ".join(texts), *texts], each, strict=True):
        assert np.allclose(vectors.embed(text), row, atol=1e-5)
    assert np.allclose(vectors.embed_each([texts[0]]), vectors.embed(texts[0]))
    assert not vectors.embed_each(["", "\x00"]).any()


def test_meaning_without_shared_words(vectors: TokenVectors) -> None:
    """The point of the vectors: a crash described two ways is closer than a crash and a paper tray."""
    crash = vectors.embed("the server crashed with an access violation")
    assert float(crash @ vectors.embed("service stops unexpectedly with an exception error")) > 0.3
    assert float(crash @ vectors.embed("how do I change the paper tray on the printer")) < 0.15
    mail = vectors.embed("outlook cannot send mail to internet recipients")
    assert float(mail @ vectors.embed("messages to smtp addresses are returned as undeliverable")) > float(
        mail @ vectors.embed("the printer prints blank pages")
    )


def test_quantised_rows_keep_their_direction() -> None:
    rng = np.random.default_rng(0)
    rows = rng.standard_normal((50, 384)).astype(np.float32)
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    codes, scales = quantise(rows)
    assert codes.dtype == np.int8 and scales.shape == (50,)
    back = codes.astype(np.float32) * scales[:, None]
    cosines = (back * rows).sum(1) / np.linalg.norm(back, axis=1)
    assert cosines.min() > 0.999
    zero_codes, zero_scales = quantise(np.zeros((2, 4), dtype=np.float32))
    assert not zero_codes.any() and (zero_scales > 0).all()


def test_index_holds_unit_vectors_of_every_article(seed_index: Path) -> None:
    index = SearchIndex.load(seed_index / "search")
    assert index.semantic is not None and index.semantic_scale is not None
    assert index.semantic.shape[0] == len(index) and index.semantic.dtype == np.int8
    norms = np.linalg.norm(index.semantic.astype(np.float32) * index.semantic_scale[:, None], axis=1)
    assert np.allclose(norms, 1.0, atol=0.01)
    assert index.meta["semantic_table"] == table_fingerprint()


def test_an_index_from_another_token_table_is_not_current(seed_index: Path, tmp_path: Path) -> None:
    copy = tmp_path / "search"
    copy.mkdir()
    meta = json.loads((seed_index / "search" / "meta.json").read_text())
    (copy / "meta.json").write_text(json.dumps(meta))
    assert search_index_is_current(copy)
    meta["semantic_table"] = "an older table"
    (copy / "meta.json").write_text(json.dumps(meta))
    assert not search_index_is_current(copy)  # `kbbot index` rebuilds the search part


def test_the_reranking_feature_is_the_cosine(seed_index: Path, vectors: TokenVectors) -> None:
    engine = SearchEngine.load(seed_index)
    query = "users mail never arrives and the post office log complains about the mailbag"
    ranked = engine.rank(query)
    assert ranked is not None
    column = ranked.features[:, len(VECTOR_FEATURES) + SHORTLIST_FEATURES.index("semantic")]
    heads = [engine.index.rapid_text(int(r))[0][:600] for r in ranked.rows]
    expected = vectors.embed_many(heads) @ vectors.embed(query)
    assert np.allclose(column, expected, atol=0.02)  # int8 codes: cosines off by well under 0.02
    assert column.max() > 0.2


def test_without_the_token_table_search_still_answers(
    seed_index: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(_directory: Path | None = None) -> TokenVectors:
        raise OSError("token_vectors.npz: no such file")

    monkeypatch.setattr(TokenVectors, "load", staticmethod(broken))
    with caplog.at_level(logging.WARNING):
        engine = SearchEngine.load(seed_index)
    assert engine.vectors is None and "semantic matching off" in caplog.text
    result = engine.search("[008] Failure delivering user mail due to mailbag contention")
    assert result.hits and result.hits[0].id == "Q237695"
    ranked = engine.rank("mailbag contention")
    assert ranked is not None
    assert not ranked.features[:, len(VECTOR_FEATURES) + SHORTLIST_FEATURES.index("semantic")].any()

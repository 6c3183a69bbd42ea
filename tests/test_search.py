"""Search on the seed articles: exact error signatures, each seed's own symptoms, hostile input, thread context,
save/load, and the query analysis underneath (tokens, signatures, Slack markup, abbreviations)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from kbbot.errors import IndexFolderError
from kbbot.kb import KnowledgeBase
from kbbot.search import (
    SearchContext,
    SearchEngine,
    SearchResult,
    build_search_index,
    render_search_text,
    search_index_is_current,
)
from kbbot.search.engine import _top_k, best_line
from kbbot.search.index import SearchIndex, symptom_text
from kbbot.search.lexicon import Lexicon
from kbbot.search.model import VECTOR_FEATURES
from kbbot.search.text import clean_query, normalise_text, signatures, stem, tokenize

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
MAILBAG = "[008] Failure delivering user mail due to mailbag contention"


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kbbot.indexer import run_index

    out = tmp_path_factory.mktemp("search-seeds") / "index"
    run_index([str(SEEDS)], out, progress=False)
    assert (out / "search" / "meta.json").is_file()
    return out


@pytest.fixture(scope="module")
def kb(seed_index: Path) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase.open(seed_index)
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def engine(seed_index: Path, kb: KnowledgeBase) -> SearchEngine:
    return SearchEngine.load(seed_index, kb)


# ------------------------------------------------------------------------------------------- finding


def test_error_signature_finds_mailbag_article(engine: SearchEngine) -> None:
    result = engine.search(MAILBAG)
    assert result.best is not None
    assert result.best.id == "Q237695"
    assert result.band == "answer"
    assert result.best.matched_error is not None and "[008]" in result.best.matched_error


def test_bare_code_alone_finds_its_article(engine: SearchEngine) -> None:
    result = engine.search("getting [008] in the NDR")
    assert result.best is not None and result.best.id == "Q237695"
    # a pasted code the KB knows is never "no match", however short the question
    assert engine.search("[008]").band in ("answer", "shortlist")


def test_each_seed_found_by_its_own_symptoms(engine: SearchEngine, kb: KnowledgeBase) -> None:
    for article in kb.iter_articles():
        text = symptom_text(article)[:400]
        assert text, article.id
        result = engine.search(text)
        assert result.best is not None and result.best.id == article.id, (article.id, result.to_json())


def test_article_number_is_a_lookup(engine: SearchEngine) -> None:
    for query in ("Q157684", "q157684", "KB157684", " 157684 "):
        result = engine.search(query)
        assert result.band == "answer" and [h.id for h in result.hits] == ["Q157684"], query
    assert engine.search("Q999999").band == "none"  # not in this KB: searched as words, finds nothing


def test_paraphrase_of_imc_article(engine: SearchEngine) -> None:
    result = engine.search("exch imc silently loses inbound mail and nobody gets an ndr")
    assert result.best is not None and result.best.id == "Q157684"


def test_typo_in_query_is_forgiven(engine: SearchEngine) -> None:
    result = engine.search("mailbag contenton")
    assert result.best is not None and result.best.id == "Q237695"
    swapped = engine.search("mialbag contention")  # two letters swapped count as one edit
    assert swapped.best is not None and swapped.best.id == "Q237695"


# ------------------------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize(
    "query", ["", "   ", "\n\t", ":smile: :tada:", "<@U123> <#C1|general>", "```\n```", "the a of"]
)
def test_nothing_to_search_gives_band_none(engine: SearchEngine, query: str) -> None:
    result = engine.search(query)
    assert result.band == "none"
    assert result.hits == ()
    assert result.confidence == 0.0


def test_binary_junk_does_not_crash(engine: SearchEngine) -> None:
    junk = bytes(range(256)).decode("latin-1") * 40 + "\x00\ufffd\U0001f600"
    result = engine.search(junk)
    assert result.band in ("none", "shortlist", "answer")
    assert isinstance(result.to_json(), dict)


def test_forty_thousand_characters_bounded(engine: SearchEngine) -> None:
    line = "12/01/1999 10:22:07 External: retry 3, [008] failure delivering to mailbag, contention on MBG file "
    query = (line * (40_000 // len(line) + 1))[:40_000]
    t0 = time.perf_counter()
    result = engine.search(query)
    assert time.perf_counter() - t0 < 1.0
    assert result.best is not None and result.best.id == "Q237695"


def test_emoji_and_slack_markup_around_a_real_question(engine: SearchEngine) -> None:
    query = "<@U0BOT> :rotating_light: our <https://wiki/imc|IMC> is *losing* mail, no NDR &amp; no events :cry:"
    result = engine.search(query)
    assert result.best is not None and result.best.id == "Q157684"


def test_limit_is_respected(engine: SearchEngine) -> None:
    assert len(engine.search("mail", limit=2).hits) <= 2
    assert len(engine.search("mail server backup", limit=1).hits) == 1
    assert engine.search("mail server backup", limit=0).hits == ()
    assert len(engine.search("mail server backup", limit=50).hits) == 5  # every seed mentions mail


# ------------------------------------------------------------------------------------------- context


def test_excluded_articles_never_returned(engine: SearchEngine) -> None:
    first = engine.search(MAILBAG)
    assert first.best is not None
    again = engine.search(MAILBAG, context=SearchContext(excluded=frozenset({first.best.id})))
    assert first.best.id not in [h.id for h in again.hits]


def test_excluding_everything_gives_no_hits(engine: SearchEngine, kb: KnowledgeBase) -> None:
    result = engine.search("mail", context=SearchContext(excluded=frozenset(kb.ids())))
    assert result.hits == () and result.band == "none"


def test_thread_product_is_preferred(engine: SearchEngine) -> None:
    query = "mail server message problem"
    plain = engine.search(query)
    steered = engine.search(query, context=SearchContext(product="exchange"))
    assert steered.best is not None
    assert "Exchange" in steered.best.product, steered.to_json()
    # and the display name works as well as the tag
    by_name = engine.search(query, context=SearchContext(product="Microsoft Mail For Appletalk Networks"))
    assert by_name.best is not None and "appletalk" in by_name.best.product.lower()
    assert plain.best is not None


def test_unknown_context_product_is_ignored(engine: SearchEngine) -> None:
    a = engine.search(MAILBAG)
    b = engine.search(MAILBAG, context=SearchContext(product="no such product"))
    assert [h.id for h in a.hits] == [h.id for h in b.hits]


# ------------------------------------------------------------------------------------------- persistence


def test_save_load_round_trip(kb: KnowledgeBase, engine: SearchEngine, tmp_path: Path) -> None:
    build_search_index(kb, tmp_path / "again")
    other = SearchEngine.load(tmp_path / "again", kb)
    for query in (MAILBAG, "imc loses mail", "tape backup server stops"):
        a, b = engine.search(query), other.search(query)
        assert [h.id for h in a.hits] == [h.id for h in b.hits]
        assert np.allclose([h.score for h in a.hits], [h.score for h in b.hits])
        assert a.band == b.band


def test_missing_or_foreign_index_is_a_clear_error(tmp_path: Path, seed_index: Path) -> None:
    with pytest.raises(IndexFolderError):
        SearchIndex.load(tmp_path)
    copy = tmp_path / "copy"
    copy.mkdir()
    meta = json.loads((seed_index / "search" / "meta.json").read_text())
    meta["format"] = -1
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(IndexFolderError):
        SearchIndex.load(copy)
    assert not search_index_is_current(copy) and not search_index_is_current(tmp_path / "nowhere")
    assert search_index_is_current(seed_index / "search")


def test_stage_one_score_equals_its_features(engine: SearchEngine) -> None:
    """The one-pass combined postings and the per-row features are two routes to the same linear score."""
    plan = engine.analyse("imc loses mail without an ndr [008] mailbag")
    score, reached, matched = engine._candidates(plan, None)
    rows = np.flatnonzero(reached).astype(np.int64)
    feats = engine.row_features(plan, rows, matched)
    w = engine.model.rank_vector(VECTOR_FEATURES)
    assert np.allclose(score[rows], feats @ w, rtol=1e-4, atol=1e-4)


def test_which_query_words_an_article_has_agrees_with_its_postings(engine: SearchEngine) -> None:
    """The vectorised lookup behind the confidence features' coverage against a scan of each word's postings."""
    ix = engine.index
    plan = engine.analyse("imc loses mail without an ndr [008] mailbag contention, mailbox store will not mount")
    cols = [*plan.typed_cols, 0, len(ix.terms) - 1]
    for row in range(len(ix.ids)):
        by_scan = {c for c in cols if row in ix.full.indices[ix.full.indptr[c] : ix.full.indptr[c + 1]].tolist()}
        assert engine._article_has(cols, row) == by_scan
    assert engine._article_has([], 0) == set()


def test_best_line_skips_only_lines_that_cannot_reach_the_cut_off() -> None:
    """The LCS bound in front of partial_ratio leaves the answer as a scan of every line would give it."""
    from rapidfuzz import fuzz

    rng = np.random.default_rng(11)
    alphabet = list("abcdefghij klmnop:0123")
    for _ in range(400):
        text = "".join(rng.choice(alphabet, int(rng.integers(1, 420))))
        lines = []
        for _ in range(int(rng.integers(1, 6))):
            n = int(rng.integers(1, 320))
            if rng.random() < 0.5 and len(text) > 2:  # a piece of the text, a little changed: near the cut-off
                start = int(rng.integers(0, len(text) - 1))
                piece = list(text[start : start + n])
                for j in rng.integers(0, len(piece), max(1, len(piece) // int(rng.integers(3, 30)))):
                    piece[int(j)] = str(rng.choice(alphabet))
                lines.append("".join(piece).upper() if rng.random() < 0.3 else "".join(piece))
            else:
                lines.append("".join(rng.choice(alphabet, n)))
        for cutoff in (80.0, 90.0):
            scan = max((fuzz.partial_ratio(text, line.lower()), len(line), line) for line in lines)
            expected = scan[2] if scan[0] >= cutoff else None
            assert best_line(text, lines, cutoff=cutoff) == expected


@pytest.mark.parametrize("reached_share", [1.0, 0.3, 0.002, 0.0])
def test_top_k_is_the_best_k_reached_articles(reached_share: float) -> None:
    """The sampled threshold and the widening windows are shortcuts to the plain answer: the k best finite
    scores among reached articles, whatever the scores and however few articles are reached."""
    rng = np.random.default_rng(7)
    for trial in range(20):
        n = int(rng.integers(1, 5000))
        score = rng.normal(0, 1 + 10 * (trial % 3), n)
        score[rng.random(n) < 0.05] = -np.inf
        reached = rng.random(n) < reached_share
        k = int(rng.integers(1, 150))
        got = _top_k(score, reached, k)
        eligible = np.flatnonzero(reached & np.isfinite(score))
        best = eligible[np.argsort(-score[eligible], kind="stable")][:k]
        assert len(got) == len(best) and len(set(got.tolist())) == len(got)
        assert np.allclose(np.sort(score[got]), np.sort(score[best]))


# ------------------------------------------------------------------------------------------- output


def test_json_contract_and_text_rendering(engine: SearchEngine) -> None:
    result = engine.search(MAILBAG, limit=3)
    data = result.to_json()
    assert data["query"] == MAILBAG and data["confident"] is True
    assert {"id", "title", "score"} <= set(data["hits"][0])
    text = render_search_text(result)
    assert "confident" in text and "Q237695" in text
    assert "no match" in render_search_text(SearchResult(query="", hits=(), band="none", confidence=0.0))
    unsure = SearchResult(query="x", hits=result.hits, band="shortlist", confidence=0.3)
    assert "not sure" in render_search_text(unsure)


# ------------------------------------------------------------------------------------------- analysis


def test_signatures_normalise_the_forms_people_paste() -> None:
    def sig(text: str) -> set[str]:
        return set(signatures(normalise_text(text)))

    assert sig("Event ID: 4018") == sig("event 4018") == sig("eventid 4018") == {"~e4018"}
    assert sig("error 2140") == sig("Error: 2140") == {"~r2140"}
    assert "~x1e" in sig("STOP 0x0000001E") and "~x1e" in sig("stop: 1e")
    assert "~xc0000005" in sig("exception c0000005") and "~xc0000005" in sig("0xC0000005")
    assert "~x80041600" in sig("0x80041600")
    assert sig("[008]") == {"~b8"}
    assert "~cc2248" in sig("error C2248: cannot access private member")
    assert not any(s.startswith("~c") for s in sig("see Q102087 and win95 sp3"))


def test_tokenizer_and_stemmer() -> None:
    assert tokenize("The mailbags were NOT delivered") == ["mailbag", "deliver"]
    assert "4.0" in tokenize("Windows NT 4.0") and "3.2.18" in tokenize("version 3.2.18")
    assert stem("processes") == "process" and stem("copies") == "copy" and stem("status") == "status"
    assert tokenize("user[ASCII 146]s don't") == tokenize("users dont")


def test_clean_query_strips_slack_markup() -> None:
    text = (
        "<@U123> hi <!here> see <https://x.example/a|the doc> and <https://y.example> ```code``` :smile: &lt;b&gt;"
    )
    assert clean_query(text) == "hi see the doc and code <b>"
    assert clean_query("") == ""
    assert clean_query("a\x00b\x07c") == "a b c"


def test_lexicon_products_and_abbreviations() -> None:
    lex = Lexicon.load()
    raw = ["exch", "5", "5", "imc"]
    assert lex.products_in(raw) == frozenset({"exchange"})
    abbr, _ = lex.expand(["ms", "mail", "ndr"])
    terms = {t for e in abbr for t in e.terms}
    assert {"microsoft", "mail", "deliv"} & terms
    assert lex.product_tag("Microsoft Exchange Server") == "exchange"
    assert lex.product_tag("nt4") == "winnt"


def test_token_signatures_agree_with_the_text_patterns() -> None:
    """The index finds stand-alone codes token by token; a query finds them in running text: same result."""
    from kbbot.search.text import _TOKEN, context_signatures, token_signature

    text = normalise_text("STOP 0x0000001E in c0000005, then LNK2001 and R6915; see Q102087, win95 12345678 [008]")
    by_token = {s for t in _TOKEN.findall(text) if (s := token_signature(t))}
    assert by_token | set(context_signatures(text)) == set(signatures(text))
    assert {"~x1e", "~xc0000005", "~clnk2001", "~cr6915", "~b8"} <= set(signatures(text))
    assert token_signature("q102087") is None and token_signature("12345678") is None


def test_builder_writes_what_the_engine_reads(kb: KnowledgeBase, tmp_path: Path) -> None:
    from kbbot.search.index import SearchIndexBuilder

    builder = SearchIndexBuilder()
    for article in kb.iter_articles():
        builder.add(article)
    builder.finish(tmp_path / "built")
    index = SearchIndex.load(tmp_path / "built")
    assert len(index) == len(kb) and search_index_is_current(tmp_path / "built")
    # word pairs are exact: a pair of the title is found, the same words reversed are not
    col = index.vocab
    assert index.bigram_cols([(col["mailbag"], col["contention"])])
    assert not index.bigram_cols([(col["contention"], col["mailbag"])])
    empty = SearchIndexBuilder()
    empty.finish(tmp_path / "empty")
    assert SearchEngine(index=SearchIndex.load(tmp_path / "empty")).search("mail").band == "none"


def test_multi_word_synonyms_are_searched_as_pairs() -> None:
    lex = Lexicon.load()
    _, syn = lex.expand(["app", "crashes"])
    phrases = {p for e in syn for p in e.phrases}
    assert ("access", "violation") in phrases
    # never as loose words: "access" alone would match every article about access rights
    assert "access" not in {t for e in syn for t in e.terms}


def _write_unrelated_articles(src: Path) -> None:
    """Four articles about something else, so a tied pair is not the whole KB."""
    for i in range(4):
        text = _tie_article(f"Q10000{i}", "Microsoft Mail", "msmail", "Seen on the post office.")
        text = text.replace("Your current password is about to expire in 0 days.", f"Mailbag {i} is locked.")
        (src / f"c{i}.txt").write_text(text.replace("Current Password Is About to Expire in 0 Days", "Locked"))


@contextmanager
def _small_kb(tmp_path: Path, articles: dict[str, str]) -> Iterator[SearchEngine]:
    """A real engine over `articles` (file name -> text) beside four unrelated ones."""
    from kbbot.indexer import run_index

    src = tmp_path / "src"
    src.mkdir()
    for name, text in articles.items():
        (src / name).write_text(text)
    _write_unrelated_articles(src)
    run_index([str(src)], tmp_path / "index", progress=False)
    kb = KnowledgeBase.open(tmp_path / "index")
    try:
        yield SearchEngine.load(tmp_path / "index", kb)
    finally:
        kb.close()


def _tie_article(qid: str, product: str, tag: str, extra: str) -> str:
    return f"""DOCUMENT:{qid}  10-NOV-1999  [{tag}]
TITLE   :Err Msg: Your Current Password Is About to Expire in 0 Days
PRODUCT :{product}
PROD/VER:WINDOWS:5.5
OPER/SYS:
KEYWORDS:

======================================================================

SYMPTOMS
========

When you log on, you may receive the following error message:

   Your current password is about to expire in 0 days.

{extra}

CAUSE
=====

The password age is computed from the server clock.
"""


def test_same_pasted_message_in_several_articles_is_a_short_list(tmp_path: Path) -> None:
    """Two articles print the same message: no ranker can tell which one the person has, so the bot offers
    both (band "shortlist") rather than answering confidently with either."""
    articles = {
        "a.txt": _tie_article("Q190433", "Microsoft Exchange", "exchange", "This happens in OWA."),
        "b.txt": _tie_article("Q236909", "Microsoft Exchange", "exchange", "It happens after SP1."),
    }
    with _small_kb(tmp_path, articles) as engine:
        query = "Your current password is about to expire in 0 days"
        result = engine.search(query)
        assert {h.id for h in result.hits[:2]} == {"Q190433", "Q236909"}
        assert result.band == "shortlist", result.to_json()
        ranked = engine.rank(query, all_features=False)
        assert ranked is not None and engine._error_tie(ranked, result.hits)


def test_same_error_code_in_several_articles_is_a_short_list(tmp_path: Path) -> None:
    """A bare code two articles log alike (one per version, say) is a tie as much as a shared message is."""
    articles = {}
    for qid, extra in (("Q190433", "This happens in OWA."), ("Q236909", "It happens after SP1.")):
        text = _tie_article(qid, "Microsoft Exchange", "exchange", extra)
        text = text.replace("Your current password is about to expire in 0 days.", "Event ID: 9409")
        articles[f"{qid}.txt"] = text.replace(
            "Err Msg: Your Current Password Is About to Expire in 0 Days", "Store Logs an Event"
        )
    with _small_kb(tmp_path, articles) as engine:
        result = engine.search("event 9409 in the application log")
        assert {h.id for h in result.hits[:2]} == {"Q190433", "Q236909"}
        assert result.hits[0].matched_error and result.hits[0].matched_error == result.hits[1].matched_error
        assert result.band == "shortlist", result.to_json()


# ------------------------------------------------------------------------------------------- parameters


def test_index_built_with_other_parameters_is_stale(kb: KnowledgeBase, tmp_path: Path) -> None:
    """meta.json records the build parameters; an index built with other field weights is never searched as if
    it were current: `search_index_is_current` says so (the indexer rebuilds) and the loader refuses it."""
    import dataclasses

    from kbbot.search.params import PARAMS, FieldWeight

    fields = dict(PARAMS.index.fields) | {"title": FieldWeight(weight=1.0, b=0.3)}
    other = dataclasses.replace(PARAMS.index, fields=fields)
    build_search_index(kb, tmp_path / "other", params=other)
    meta = json.loads((tmp_path / "other" / "meta.json").read_text())
    assert meta["params"]["fields"]["title"] == {"weight": 1.0, "b": 0.3}
    assert not search_index_is_current(tmp_path / "other")
    assert search_index_is_current(tmp_path / "other", params=other)
    with pytest.raises(IndexFolderError, match=r"other search parameters \(fields\)"):
        SearchIndex.load(tmp_path / "other")
    assert len(SearchIndex.load(tmp_path / "other", params=other)) == len(kb)


def test_indexer_rebuilds_a_search_index_with_stale_parameters(tmp_path: Path) -> None:
    from kbbot.indexer import run_index

    out = tmp_path / "index"
    run_index([str(SEEDS)], out, progress=False)
    meta_path = out / "search" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["params"]["k1"] = 2.0  # as an index from a kbbot with another BM25 k1 would say
    meta_path.write_text(json.dumps(meta))
    assert not search_index_is_current(out / "search")
    again = run_index([str(SEEDS)], out, progress=False)
    assert again.search_built and search_index_is_current(out / "search")
    assert SearchEngine.load(out, KnowledgeBase.open(out)).search(MAILBAG).best is not None


# ------------------------------------------------------------------------------------------- long messages


def test_pasted_error_dominates_a_long_chatty_message(engine: SearchEngine) -> None:
    message = (
        "Hi all, hope everyone had a good weekend. We run Exchange 5.5 on two servers at our law office and since "
        "Friday the MTA keeps bouncing internal mail. The event log shows: " + MAILBAG + ". We restarted the "
        "services and rebooted, no change. Any ideas? Thanks, Bob"
    )
    result = engine.search(message)
    assert result.best is not None and result.best.id == "Q237695"
    assert result.band == "answer"


def test_long_message_about_nothing_in_the_kb_is_not_answered(engine: SearchEngine) -> None:
    message = (
        "Hello team, our new hires need access to the Jira board and the Confluence space for the marketing "
        "launch next week, and I cannot find who approves that. I tried the service portal but the form only "
        "has laptop and phone options. Could someone point me to the right person? Cheers, Ana"
    )
    assert engine.search(message).band == "none"


def test_chatter_of_a_long_message_weighs_less(engine: SearchEngine) -> None:
    """Words only the setup and sign-off use count for less than the sentence that names the problem; a short
    question has no chatter."""
    message = (
        "Good morning from the office network team, we look after the Macintosh servers for the whole site. "
        "Our mail server stops the remote connection whenever the backup runs at night. "
        "Best regards and thanks from the network team."
    )
    plan = engine.analyse(message)
    assert plan.long
    weight = {engine.index.terms[c]: w for c, w in zip(plan.cols, plan.weights, strict=True)}
    q = engine.params.query
    assert weight["backup"] == 1.0 and weight["remote"] == 1.0
    chatter = {t for t in ("office", "network", "team", "macintosh", "site") if t in weight}
    assert chatter, "the seeds know some of the setup's words"
    assert all(weight[t] == pytest.approx(q.chatter_weight) for t in chatter)
    short = engine.analyse("the network team backup stops")
    typed = dict(zip(short.cols, short.weights, strict=True))
    assert not short.long and {typed[c] for c in short.typed_cols} == {1.0}


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("outgoing smtp mail disappears from exchange", "Q157684"),
        ("file server dies when the tape job starts", "Q99304"),
        ("the status message from the backup never arrives", "Q102087"),
    ],
)
def test_small_kb_answers_a_loose_paraphrase(engine: SearchEngine, question: str, expected: str) -> None:
    """On five articles most of a question's words are words the KB has never seen; they count against the match
    as a rare word of this KB would, not as a rare word of the 57,000-article archive the model was fitted on."""
    result = engine.search(question)
    assert result.best is not None and result.best.id == expected
    assert result.band == "answer"


@pytest.mark.parametrize(
    "question",
    [
        "the wifi in the meeting room keeps dropping",
        "my outlook calendar is not syncing with my phone",
        "where do i submit expense reports",
        "the projector in room 4 is broken",
    ],
)
def test_small_kb_does_not_answer_off_topic_questions(engine: SearchEngine, question: str) -> None:
    assert engine.search(question).band != "answer"


def test_troubleshooting_pages_without_a_symptoms_heading_are_known_by_their_title(tmp_path: Path) -> None:
    """A modern KB writes many fixes as a title and a summary: the title saying what goes wrong marks them as
    troubleshooting articles (`problem_title`), as the SYMPTOMS heading does in the archive; a how-to page
    with a summary is neither."""
    from kbbot.indexer import run_index
    from kbbot.search.model import FEATURES

    pages = {
        "shared-mailbox-folders-missing.md": (
            "Shared mailbox folders don't appear in Outlook",
            "## Summary\n\nAfter you add a shared mailbox, its folders stay empty in the folder pane.\n\n"
            "## Resolution\n\n1. Remove the shared mailbox from the profile.\n2. Add it again as an account.\n",
        ),
        "add-shared-mailbox.md": (
            "Add a shared mailbox to Outlook",
            "## Summary\n\nThis article describes how to add a shared mailbox so its folders show in the folder "
            "pane.\n\n## More information\n\n1. Open Account Settings.\n2. Choose Add.\n",
        ),
        "sync-stops-with-error.md": (
            "OneDrive sync stops with error 0x8004de40",
            "## Symptoms\n\nOneDrive stops syncing and shows error 0x8004de40.\n\n"
            "## Resolution\n\n1. Check the proxy settings.\n",
        ),
    }
    for name, (title, body) in pages.items():
        (tmp_path / "kb").mkdir(exist_ok=True)
        (tmp_path / "kb" / name).write_text(f"---\ntitle: {title}\n---\n# {title}\n\n{body}", encoding="utf-8")
    run_index([str(tmp_path / "kb")], tmp_path / "index", progress=False)
    kb = KnowledgeBase.open(tmp_path / "index")
    index = SearchIndex.load(tmp_path / "index" / "search")
    by_title = {kb.article_at(row).title: row for row in range(len(kb))}
    flags = {t: (int(index.has_symptoms[r]), int(index.problem_title[r])) for t, r in by_title.items()}
    assert flags == {
        "Shared mailbox folders don't appear in Outlook": (0, 1),
        "Add a shared mailbox to Outlook": (0, 0),
        "OneDrive sync stops with error 0x8004de40": (1, 0),
    }
    engine = SearchEngine(index=index, kb=kb)
    ranked = engine.rank("shared mailbox folders empty in outlook folder pane")
    assert ranked is not None
    column = FEATURES.index("problem_title")
    seen = {kb.article_at(int(row)).title: ranked.features[i, column] for i, row in enumerate(ranked.rows)}
    assert seen["Shared mailbox folders don't appear in Outlook"] == 1.0
    assert seen["Add a shared mailbox to Outlook"] == 0.0
    kb.close()


def test_a_large_kb_is_prepared_in_worker_processes_to_the_same_bytes(
    kb: KnowledgeBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The 57k archive's articles are read and prepared by worker processes (real ones, forked): the index they
    make must be the one a single process makes, file for file, byte for byte (build time aside)."""
    import kbbot.search.index as index_module

    build_search_index(kb, tmp_path / "one")
    monkeypatch.setattr(index_module, "_PREPARE_IN_WORKERS_FROM", 1)
    monkeypatch.setattr(index_module, "_PREPARE_CHUNK", 2)  # the seeds' five articles in three tasks
    monkeypatch.setattr(index_module, "_PREPARE_BACKLOG", 1)  # and some taken while others are still queued
    monkeypatch.setattr(index_module.os, "cpu_count", lambda: 3)
    with caplog.at_level("INFO", logger="kbbot.search.index"):
        build_search_index(kb, tmp_path / "workers")
    assert f"{len(kb)} articles prepared in 2 worker process(es)" in caplog.text
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "workers").iterdir())
    for name in names:
        a, b = (tmp_path / "one" / name).read_bytes(), (tmp_path / "workers" / name).read_bytes()
        if name == "meta.json":
            a_meta, b_meta = json.loads(a), json.loads(b)
            a_meta.pop("build_seconds"), b_meta.pop("build_seconds")
            assert a_meta == b_meta
        else:
            assert a == b, name


def test_a_worker_that_cannot_read_the_kb_fails_the_build_not_hangs_it(
    seed_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index folder removed once the build has started: the workers cannot open it, and the build fails
    with the error (which the indexer reports, keeping no search folder, and retries next run) rather than the
    pool respawning workers that die in their initializer, forever."""
    import kbbot.search.index as index_module

    copy = tmp_path / "index"
    shutil.copytree(seed_index, copy)
    monkeypatch.setattr(index_module, "_PREPARE_IN_WORKERS_FROM", 1)
    monkeypatch.setattr(index_module.os, "cpu_count", lambda: 2)
    kb = KnowledgeBase.open(copy)
    try:
        shutil.rmtree(copy)
        with pytest.raises(IndexFolderError):
            build_search_index(kb, tmp_path / "out")
    finally:
        kb.close()


def test_naming_a_platform_counts_against_no_other_product(tmp_path: Path) -> None:
    """People name the system they run ("on the spare Windows 95 PC") while the article is filed under the program
    that fails: a named platform (`platform: true` in products.yaml) favours its own articles but rules out no
    other product's; a named program still counts against other products' articles."""
    articles = {
        "a.txt": _tie_article("Q190433", "Microsoft Exchange", "exchange", "MIDI music is silent."),
        "b.txt": _tie_article("Q236909", "Microsoft Windows 95", "win95x", "MIDI music is silent."),
    }
    with _small_kb(tmp_path, articles) as engine:
        assert "win95x" in engine.lexicon.platforms and "exchange" not in engine.lexicon.platforms

        def product_features(query: str) -> dict[str, tuple[float, float]]:
            ranked = engine.rank(query)
            assert ranked is not None
            by_id = {engine.index.ids[int(r)]: ranked.features[i] for i, r in enumerate(ranked.rows)}
            col_same, col_other = VECTOR_FEATURES.index("product"), VECTOR_FEATURES.index("other_product")
            return {qid: (float(f[col_same]), float(f[col_other])) for qid, f in by_id.items()}

        on_platform = product_features("MIDI music is silent on my Windows 95 PC")
        assert on_platform["Q236909"] == (1.0, 0.0) and on_platform["Q190433"] == (0.0, 0.0)
        in_program = product_features("MIDI music is silent in Exchange")
        assert in_program["Q190433"] == (1.0, 0.0) and in_program["Q236909"] == (0.0, 1.0)


def test_a_product_said_to_work_fine_is_not_the_one_at_fault(tmp_path: Path) -> None:
    """"The fonts show up fine in Word" names the setup around the problem, not the product that fails: a product
    named only in clauses that say something works neither favours its articles nor counts against others'. When
    every product a message names is named so, they all count as before."""
    articles = {
        "a.txt": _tie_article("Q190433", "Microsoft Exchange", "exchange", "MIDI music is silent."),
        "b.txt": _tie_article("Q236909", "Microsoft Windows 95", "win95x", "MIDI music is silent."),
    }
    with _small_kb(tmp_path, articles) as engine:
        products = lambda query: engine.analyse(query).products  # noqa: E731
        assert products("MIDI music is silent on my Windows 95 PC. It plays fine in Exchange") == {"win95x"}
        assert products("MIDI is silent on the Windows 95 PC, but Exchange plays it without any problems") == {
            "win95x"
        }
        assert products("MIDI music is silent in Exchange on my Windows 95 PC") == {"exchange", "win95x"}
        assert products("Exchange plays MIDI music fine on my Windows 95 PC") == {"exchange", "win95x"}
        ranked = engine.rank("MIDI music is silent on my Windows 95 PC, while it plays fine in Exchange")
        assert ranked is not None
        other = VECTOR_FEATURES.index("other_product")
        assert all(f[other] == 0.0 for f in ranked.features)

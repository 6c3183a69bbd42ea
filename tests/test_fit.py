"""Fitting the search model on a tiny knowledge base built here: it runs, gives the same model twice, writes a
file the engine loads, and the packaged model names every feature the engine computes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kbbot.evaluate import Question
from kbbot.kb import KnowledgeBase
from kbbot.search import SearchEngine
from kbbot.search.fit import (
    FitSet,
    FitSettings,
    deal_folds,
    draw_small_kbs,
    fit_listwise,
    fit_logistic,
    fit_model,
    main,
    resolve_expected,
    write_model,
)
from kbbot.search.model import CONFIDENCE_FEATURES, FEATURES, ModelError, RankModel

# (title, symptoms, resolution, two ways a person might describe it)
ARTICLES: list[tuple[str, str, str, tuple[str, str]]] = [
    (
        "Print Spooler Stops When Printing Large Documents",
        "The print spooler service stops responding when you print a document larger than 20 megabytes. "
        "Jobs stay in the queue and the printer icon shows an error.",
        "Move the spool folder to a drive with more free space and restart the spooler service.",
        ("printing big files hangs the spooler", "jobs stuck in the print queue after a huge document"),
    ),
    (
        "Internet Mail Connector Loses Outbound Messages",
        "Messages sent to the Internet through the Internet Mail Connector are never delivered and no "
        "non-delivery report is returned to the sender.",
        "Set the connector's retry interval and check the outbound queue for corrupted messages.",
        ("mail to the internet vanishes without an ndr", "outgoing internet email silently lost by the connector"),
    ),
    (
        "Modem Dialing Fails With No Dial Tone Error",
        "When Dial-Up Networking dials, the modem reports that there is no dial tone even though the phone "
        "line works for voice calls.",
        "Turn off the wait for dial tone option in the modem properties.",
        ("dial up says no dial tone but the phone works", "modem will not dial, complains about dial tone"),
    ),
    (
        "Setup Stops Responding While Copying Files",
        "Setup stops responding at the file copy stage with the progress bar at 40 percent; the floppy drive "
        "light stays on.",
        "Disable the virus checker in the BIOS and run Setup again.",
        ("install freezes while copying files", "setup hangs during file copy at forty percent"),
    ),
    (
        "Screen Saver Password Not Requested After Resume",
        "After the computer resumes from suspend, the desktop appears without asking for the screen saver "
        "password.",
        "Install the updated power management driver.",
        ("no password prompt when the laptop wakes up", "screensaver lock skipped after suspend"),
    ),
    (
        "Logon Script Does Not Run for Windows 95 Clients",
        "Windows 95 clients log on to the domain but the logon script in the NETLOGON share never runs.",
        "Enable logon validation in the Client for Microsoft Networks properties.",
        ("login batch file not executed on win95", "domain logon script ignored by windows 95 machines"),
    ),
    (
        "Excel Macro Fails With Run-Time Error 1004",
        "Running a recorded macro that copies a worksheet fails with run-time error 1004 after about 50 copies.",
        "Save and close the workbook periodically inside the loop.",
        ("macro copying sheets crashes with error 1004", "recorded excel macro dies after many worksheet copies"),
    ),
    (
        "Access Database Reports Unrecognized Database Format",
        "Opening a shared database file gives the message that the database format is unrecognized after a "
        "network failure.",
        "Repair the database with the Compact and Repair command.",
        ("access says the mdb format is not recognised", "database file damaged after the network dropped"),
    ),
    (
        "Sound Card Plays No Sound After Upgrade",
        "After upgrading, the sound card is listed in Device Manager but no sound plays from the speakers.",
        "Remove the sound card from Device Manager and let Plug and Play detect it again.",
        ("speakers silent since the upgrade", "no audio although device manager lists the sound card"),
    ),
    (
        "System Clock Loses Time When Computer Is Idle",
        "The clock on the taskbar falls behind by several minutes a day when the computer is left idle.",
        "Disable the advanced power management idle setting.",
        ("taskbar clock runs slow overnight", "computer time drifts behind when idle"),
    ),
]
UNANSWERABLE = (
    "how do i book a meeting room for friday",
    "where is the expense form for travel",
    "the coffee machine on floor two is broken",
    "can someone reset my parking badge",
)


def _write_kb(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for number, (title, symptoms, resolution, _) in enumerate(ARTICLES, start=100001):
        (folder / f"Q{number}.TXT").write_text(
            f"DOCUMENT:Q{number}  10-NOV-1999  [winnt]\nTITLE   :{title}\nPRODUCT :Microsoft Windows NT\n"
            f"PROD/VER:4.0\nOPER/SYS:\nKEYWORDS:\n\n{'=' * 70}\n\nSYMPTOMS\n========\n\n{symptoms}\n\n"
            f"RESOLUTION\n==========\n\n{resolution}\n",
            encoding="utf-8",
        )


def _questions() -> list[Question]:
    out = [
        Question(query=text, expected=f"Q{number}", kind="paraphrase", line=0)
        for number, (*_, phrasings) in enumerate(ARTICLES, start=100001)
        for text in phrasings
    ]
    return out + [Question(query=text, expected=None, kind="ood", line=0) for text in UNANSWERABLE]


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kbbot.indexer import run_index

    root = tmp_path_factory.mktemp("fit")
    _write_kb(root / "kb")
    summary = run_index([str(root / "kb")], root / "index", progress=False)
    assert summary.search_built
    return root / "index"


@pytest.fixture(scope="module")
def engine(tiny_index: Path) -> Iterator[SearchEngine]:
    kb = KnowledgeBase.open(tiny_index)
    yield SearchEngine.load(tiny_index, kb)
    kb.close()


SETTINGS = FitSettings(folds=3, seeds=(0, 1))


def test_fit_runs_and_is_reproducible(engine: SearchEngine, tmp_path: Path) -> None:
    first = fit_model(engine, _questions(), settings=SETTINGS)
    second = fit_model(engine, _questions(), settings=SETTINGS)
    assert first.model == second.model
    assert set(first.model.rank_weights) == set(FEATURES)
    assert set(first.model.conf_weights) == set(CONFIDENCE_FEATURES)
    assert 0.2 <= first.model.answer_threshold <= 0.95
    assert any(line.startswith("CV ranking, short (20 questions") for line in first.summary)
    write_model(first, tmp_path / "model.yaml", sources=[Path("tiny.jsonl")])
    write_model(second, tmp_path / "again.yaml", sources=[Path("tiny.jsonl")])
    assert (tmp_path / "model.yaml").read_text() == (tmp_path / "again.yaml").read_text()
    assert RankModel.load(tmp_path / "model.yaml") == RankModel.load(tmp_path / "again.yaml")


def test_fitted_model_loads_and_ranks(engine: SearchEngine, tiny_index: Path, tmp_path: Path) -> None:
    result = fit_model(engine, _questions(), settings=SETTINGS)
    write_model(result, tmp_path / "model.yaml", sources=[Path("tiny.jsonl")])
    fitted = SearchEngine.load(tiny_index, engine.kb, model=RankModel.load(tmp_path / "model.yaml"))
    # every article found first for its first phrasing by the fitted ranking (these are the training questions:
    # this checks the written weights are the ones fitted and read back, not how well they generalise)
    found = [fitted.search(phrasings[0]).best for phrasings in (a[3] for a in ARTICLES)]
    expected = [f"Q{n}" for n in range(100001, 100001 + len(ARTICLES))]
    assert sum(hit is not None and hit.id == want for hit, want in zip(found, expected, strict=True)) >= 8


def test_fit_command_writes_a_model(tiny_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = tmp_path / "tiny.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"query": q.query, "expected": q.expected, "kind": q.kind}) + "\n" for q in _questions()
        )
    )
    out = tmp_path / "fitted.yaml"
    assert main([str(questions), "--index", str(tiny_index), "--out", str(out), "--cv-seeds", "0"]) == 0
    text = out.read_text()
    assert text.startswith("# Fitted by kbbot/search/fit.py on tiny.jsonl")
    assert "CV ranking, short" in capsys.readouterr().out
    RankModel.load(out)


def test_folds_keep_an_articles_questions_together() -> None:
    expected = ["Q1", "Q2", "Q1", None, "Q3", "Q2", None]
    for seed in (0, 1, 2):
        fold = deal_folds(expected, 3, seed)
        assert fold[0] == fold[2] and fold[1] == fold[5]
        assert set(fold.tolist()) <= {0, 1, 2}


def test_solvers_recover_a_clear_signal() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 2))
    y = (x[:, 0] > 0).astype(np.float64)
    w, _ = fit_logistic(x, y)
    assert w[0] > 3 * abs(w[1])
    # listwise: the right candidate always has the largest first feature
    groups = []
    for _ in range(50):
        cand = rng.normal(size=(6, 2))
        groups.append((cand, int(np.argmax(cand[:, 0]))))
    w = fit_listwise(groups, init=np.zeros(2))
    assert w[0] > 0 and w[0] > 3 * abs(w[1])


def test_packaged_model_names_every_feature() -> None:
    """The YAML is the only source of the weights: a feature it does not name would silently weigh zero."""
    model = RankModel.load()
    assert set(model.rank_weights) == set(FEATURES)
    assert set(model.conf_weights) == set(CONFIDENCE_FEATURES) == set(model.top3_weights)


def test_damaged_model_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_text("rank: {full: 1.0}\n")
    with pytest.raises(ModelError, match="incomplete or damaged"):
        RankModel.load(path)


def test_questions_naming_their_article_by_path_are_resolved(engine: SearchEngine) -> None:
    """A modern KB's dev set names articles by file path: the fit must see them as answerable questions with the
    article's id, not as unanswerable ones; a path no article has is an error."""
    assert engine.kb is not None
    rows = [
        Question(query="spooler hangs", expected=None, kind="describe", line=1, expected_path="kb/Q100001.TXT"),
        Question(query="mail lost", expected="100002", kind="describe", line=2),
        Question(query="parking badge", expected=None, kind="ood", line=3),
    ]
    resolved = resolve_expected(rows, engine.kb)
    assert [q.expected for q in resolved] == ["Q100001", "Q100002", None]
    with pytest.raises(ValueError, match="line 4"):
        stray = Question(query="x", expected=None, kind="describe", line=4, expected_path="Q100001.TXT.bak")
        resolve_expected([stray], engine.kb)


def test_fit_over_two_question_sets_reports_each(engine: SearchEngine) -> None:
    """Questions over a second KB are fitted on too, and the cross-validated figures are given per set as well
    as for all of them (here the second set is a share of the same tiny KB's questions)."""
    questions = _questions()
    second = FitSet(engine=engine, questions=questions[:8] + questions[-2:], name="team-kb")
    result = fit_model(engine, questions[8:-2], settings=SETTINGS, also=[second])
    assert any(line.startswith("CV ranking, team-kb short (8 questions") for line in result.summary)
    assert any(line.startswith("CV ranking, main short (12 questions") for line in result.summary)
    assert any(line.startswith("CV confidence, team-kb short:") for line in result.summary)
    assert set(result.model.rank_weights) == set(FEATURES)
    assert result.model.fitted_articles == len(engine.index)


def test_fit_command_takes_another_kb(
    tiny_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main_rows, other_rows = tmp_path / "archive.jsonl", tmp_path / "team-kb.jsonl"
    qs = _questions()
    main_rows.write_text("".join(json.dumps({"query": q.query, "expected": q.expected}) + "\n" for q in qs[6:]))
    other_rows.write_text(
        "".join(json.dumps({"query": q.query, "expected_path": f"{q.expected}.TXT"}) + "\n" for q in qs[:6])
    )
    out = tmp_path / "fitted.yaml"
    args = [str(main_rows), "--index", str(tiny_index), "--also", str(tiny_index), str(other_rows)]
    assert main([*args, "--out", str(out), "--cv-seeds", "0"]) == 0
    assert "CV ranking, team-kb short (6 questions" in capsys.readouterr().out
    assert out.read_text().startswith("# Fitted by kbbot/search/fit.py on archive.jsonl + team-kb.jsonl")


# ------------------------------------------------------------------------------------------- small KBs
SMALL = FitSettings(folds=3, seeds=(0, 1), sub_kb_sizes=(6,), sub_kb_draws=3, sub_kb_questions=2,
                    small_kb_articles=8)


def test_drawn_small_kbs_hold_their_kept_articles_and_not_the_left_out(engine: SearchEngine) -> None:
    base = FitSet(engine=engine, questions=_questions(), name="main")
    drawn = draw_small_kbs(base, SMALL)
    assert len(drawn) == 3
    for small in drawn:
        within = small.engine.within
        assert within is not None and int(within.sum()) == 6 and not small.ranking and small.group == "main"
        for q, article in zip(small.questions, small.articles, strict=True):
            if q.expected is not None:  # kept: answerable in this small KB
                assert article == q.expected and within[engine._row_of[q.expected]]
            elif article is not None:  # left out: unanswerable here, but keeps its article's fold
                assert not within[engine._row_of[article]]
        # a small KB's search never returns an article outside it
        for q in small.questions:
            hits = small.engine.search(q.query, limit=10).hits
            assert all(within[engine._row_of[h.id]] for h in hits)


def test_a_small_kb_answers_from_its_own_threshold(engine: SearchEngine) -> None:
    model = replace(engine.model, small_kb_articles=8, small_kb_min_articles=3, small_kb_answer_threshold=0.9999)
    whole = SearchEngine(index=engine.index, model=model, vectors=engine.vectors)  # 10 articles: not small
    question = ARTICLES[0][3][0]
    assert whole.search(question).band == "answer"
    within = np.zeros(len(engine.index), dtype=bool)
    within[:5] = True  # the printing article among them
    view = SearchEngine(index=engine.index, model=model, vectors=engine.vectors, within=within)
    result = view.search(question)
    assert result.hits and result.hits[0].id == whole.search(question).hits[0].id and result.band != "answer"


def test_fit_with_small_kbs_sets_their_threshold_and_no_weights(engine: SearchEngine) -> None:
    plain = fit_model(engine, _questions(), settings=replace(SMALL, sub_kb_sizes=()))
    small = fit_model(engine, _questions(), settings=SMALL)
    assert small.model.rank_weights == plain.model.rank_weights
    names = sorted(plain.model.conf_weights)
    assert np.allclose([small.model.conf_weights[n] for n in names], [plain.model.conf_weights[n] for n in names])
    assert small.model.answer_threshold == plain.model.answer_threshold
    assert (small.model.small_kb_min_articles, small.model.small_kb_articles) == (6, 8)
    assert plain.model.small_kb_articles == 0
    assert any("main small KBs" in line for line in small.summary)
    assert 0.2 <= small.model.small_kb_answer_threshold <= 0.95

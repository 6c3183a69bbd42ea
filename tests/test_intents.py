"""Intent recognition from intents/*.yaml: `match` (whole messages, older names) and `classify` (the thread's
moment, cues inside longer messages, questions kept as questions); config errors say what is wrong."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from kbbot.conversation.intents import KNOWN_INTENTS, IntentSet, Label, Moment, moment_of, normalise
from kbbot.conversation.state import ThreadState
from kbbot.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
WALKING, ANSWERED, LAST_STEP = Moment.WALKING, Moment.ANSWERED, Moment.LAST_STEP


@pytest.fixture(scope="module")
def intents() -> IntentSet:
    return IntentSet.load(REPO / "intents")


def test_shipped_yaml_covers_every_intent_the_engine_knows(intents: IntentSet) -> None:
    assert intents.names == KNOWN_INTENTS


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("next", "next"),
        ("Next!", "next"),
        ("nxt", "next"),
        ("ok next", "next"),
        ("next step please", "next"),
        ("done", "next"),
        ("back", "back"),
        ("go back", "back"),
        ("previous step", "back"),
        ("repeat", "repeat"),
        ("say that again", "repeat"),
        ("walk me through", "walk"),
        ("Walk me through the fix please", "walk"),
        ("show me the steps", "walk"),
        ("it worked", "worked"),
        ("It worked, thanks!", "worked"),
        ("that fixed it", "worked"),
        ("Thanks, it worked!", "worked"),
        ("great, that did the trick", "worked"),
        ("no, still the same", "failed"),
        ("fixed", "worked"),
        ("didn't work", "failed"),
        ("didnt work", "failed"),
        ("It didn’t work", "failed"),
        ("still broken", "failed"),
        ("all steps", "all_steps"),
        ("show all steps", "all_steps"),
        ("full article", "full"),
        ("not my problem", "not_mine"),
        ("that's not it", "not_mine"),
        ("start over", "start_over"),
        ("Let's start again", "start_over"),
        ("talk to a human", "escalate"),
        ("I want a human", "escalate"),
        ("agent", "escalate"),
        ("escalate", "escalate"),
        ("help", "help"),
        ("hi", "greeting"),
        ("Hello there", "greeting"),
        ("good morning", "greeting"),
        ("thanks", "thanks"),
        ("thank you very much", "thanks"),
        ("<@U0BOT> help", "help"),
        ("yes", "affirm"),
        ("Yes please", "affirm"),
        ("sure", "affirm"),
        ("no", "deny"),
        ("nope", "deny"),
        ("no thanks", "deny"),
    ],
)
def test_phrases(intents: IntentSet, text: str, name: str) -> None:
    match = intents.match(text)
    assert match is not None, text
    assert match.name == name


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("go to step 7", 7),
        ("step 7", 7),
        ("Step 12.", 12),
        ("jump to step 3", 3),
        ("step seven", 7),
        ("goto 4", 4),
        ("show step 2", 2),
        ("step twenty", 20),
    ],
)
def test_goto_carries_the_step_number(intents: IntentSet, text: str, n: int) -> None:
    match = intents.match(text)
    assert match is not None and match.name == "goto"
    assert match.step_number == n


@pytest.mark.parametrize(
    ("text", "qid"), [("Q102087", "102087"), ("q 99304", "99304"), ("show KB157684", "157684")]
)
def test_lookup_carries_the_article_number(intents: IntentSet, text: str, qid: str) -> None:
    match = intents.match(text)
    assert match is not None and match.name == "lookup" and match.slots["qid"] == qid


@pytest.mark.parametrize(
    "text",
    [
        "my mail won't go to the next server",
        "the next button in setup is greyed out",
        "exchange IMC is silently losing mail, no NDR",
        "[008] Failure delivering user mail due to mailbag contention",
        "after backup the server stops, going back to the old version did not work",
        "help me with the exchange connector",
        "hi, our mac mail backup says the status message could not be sent",
        "step 7 of the setup fails with error 0x80070005",
        "STOP 0x0000001E",
        "human resources mailbox is full",
        "thanks to the last update outlook crashes",
        "worked fine yesterday but today outlook crashes",
    ],
)
def test_questions_are_not_intents(intents: IntentSet, text: str) -> None:
    assert intents.match(text) is None
    for moment in (Moment.NEW, ANSWERED):  # and classify keeps them questions where nothing is being tried
        assert intents.classify(text, moment=moment).name == Label.QUESTION, (moment, text)


@pytest.mark.parametrize("text", ["", "   ", "👍", "🎉🎉", ":+1:", "?!", "x" * 40_000])
def test_odd_messages_match_nothing(intents: IntentSet, text: str) -> None:
    assert intents.match(text) is None


def test_normalise() -> None:
    assert normalise("  Go to STEP seven!! ") == "go to step 7"
    assert normalise("<@U123ABC> it didn’t work :cry:") == "it didn't work"


def test_a_team_adds_another_language_without_code(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text((REPO / "intents" / "en.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "de.yml").write_text(
        "language: de\n"
        "intents:\n"
        "  - name: next\n"
        "    examples: [weiter, nächster schritt]\n"
        "  - name: goto\n"
        "    patterns: ['^(gehe zu )?schritt (?P<n>\\d+)$']\n",
        encoding="utf-8",
    )
    intents = IntentSet.load(tmp_path)
    assert intents.match("Weiter")
    assert intents.match("Weiter").name == "next"  # type: ignore[union-attr]
    match = intents.match("gehe zu Schritt 5")
    assert match is not None and match.name == "goto" and match.step_number == 5
    assert intents.match("next").name == "next"  # type: ignore[union-attr]  # English still there


@pytest.mark.parametrize(
    ("yaml_text", "complaint"),
    [
        ("intents:\n  - name: next\n    exampels: [go]\n", "unknown keys ['exampels']"),
        ("intents:\n  - name: nxet\n    examples: [go]\n", "'nxet' is not one of"),
        ("intents:\n  - name: goto\n    patterns: ['step (?P<n>\\d+']\n", "bad pattern"),
        ("intents:\n  - name: next\n    examples: go\n", "examples must be a list"),
        ("intents:\n  - name: next\n    threshold: 200\n", "threshold"),
        ("intent:\n  - name: next\n", "unknown keys ['intent']"),
        ("intents: {name: next}\n", "expected a list"),
        ("intents:\n  - next\n", "expected a mapping"),
        ("intents: [\n", "cannot read intents"),
    ],
)
def test_bad_yaml_is_a_clear_config_error(tmp_path: Path, yaml_text: str, complaint: str) -> None:
    (tmp_path / "bad.yaml").write_text(yaml_text, encoding="utf-8")
    with pytest.raises(ConfigError) as excinfo:
        IntentSet.load(tmp_path)
    assert complaint in str(excinfo.value)
    assert "bad.yaml" in str(excinfo.value)


def test_missing_or_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        IntentSet.load(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="no intent files"):
        IntentSet.load(tmp_path)


# --- classify: the thread's moment, cues inside longer messages, questions kept as questions ------------------


@pytest.mark.parametrize(
    ("moment", "text", "label"),
    [
        # the same words at different moments
        (LAST_STEP, "yes", Label.WORKED),
        (WALKING, "yes", Label.NEXT),
        (ANSWERED, "yes", Label.WALK),
        (LAST_STEP, "nope", Label.FAILED),
        (ANSWERED, "nope", Label.NOT_MINE),
        (WALKING, "ok done", Label.NEXT),
        (ANSWERED, "ok", Label.SMALLTALK),
        (WALKING, "again", Label.REPEAT),
        (ANSWERED, "next", Label.WALK),
        (Moment.NEW, "next", Label.UNSURE),
        (Moment.EXHAUSTED, "yes please", Label.ESCALATE),
        # slang, typos, emoji
        (WALKING, "k", Label.NEXT),
        (WALKING, "nxt", Label.NEXT),
        (WALKING, "nexy pls", Label.NEXT),
        (WALKING, "bakc pls", Label.BACK),
        (WALKING, "moving on", Label.NEXT),
        (WALKING, "nah same error", Label.FAILED),
        (LAST_STEP, "yep thx", Label.WORKED),
        (LAST_STEP, "sort of, no", Label.FAILED),
        (WALKING, "👍", Label.NEXT),
        (LAST_STEP, ":white_check_mark:", Label.WORKED),
        (ANSWERED, ":ok_hand:", Label.SMALLTALK),
        # polite long forms and reports carrying their own description
        (WALKING, "Thank you, I have finished that one. What should I do next?", Label.NEXT),
        (WALKING, "I followed this step but Outlook still shows the same error message", Label.FAILED),
        (WALKING, "the calendar opens fine now that did the trick, thanks", Label.WORKED),
        (WALKING, "the next morning it stopped working again", Label.QUESTION),
        (LAST_STEP, "could someone from the service desk call me", Label.ESCALATE),
        (WALKING, "this article is about something else", Label.NOT_MINE),
        (WALKING, "forget it, let me rephrase", Label.START_OVER),
        (ANSWERED, "what can this bot do?", Label.HELP),
        (ANSWERED, "can you post every step in one message", Label.ALL_STEPS),
        (ANSWERED, "is there a longer version of the article?", Label.FULL),
        (LAST_STEP, "hello again", Label.SMALLTALK),
        (WALKING, "show the current step one more time", Label.REPEAT),
        (WALKING, "it is working now", Label.WORKED),
        (WALKING, "brb coffee", Label.SMALLTALK),
        # other languages
        (WALKING, "weiter bitte", Label.NEXT),
        (LAST_STEP, "ja, geht wieder, danke", Label.WORKED),
        (WALKING, "tu peux répéter cette étape ?", Label.REPEAT),
        (LAST_STEP, "no funciona", Label.FAILED),
        (WALKING, "retour à l'étape précédente", Label.BACK),
        (WALKING, "👎 meh", Label.FAILED),
        (Moment.SHORTLIST, "none of these, wrong articles", Label.NOT_MINE),
        # nothing to go on: ask rather than search
        (WALKING, "hmm", Label.UNSURE),
        (WALKING, "?", Label.UNSURE),
    ],
)
def test_classify_reads_the_moment(intents: IntentSet, moment: Moment, text: str, label: Label) -> None:
    assert intents.classify(text, moment=moment).name == label


@pytest.mark.parametrize(
    ("moment", "text", "n"),
    [
        (WALKING, "jump to step six", 6),
        (WALKING, "can we skip ahead to step 5? did 3 and 4 already", 5),
        (LAST_STEP, "what was the second step again", 2),
        (WALKING, "take me to the 4th step", 4),
        (WALKING, "step twelve", 12),
        (LAST_STEP, "schritt 3 nochmal", 3),
        (WALKING, "can you jump to number 4", 4),
        (WALKING, "Passons directement à l'étape 5, s'il te plaît.", 5),
        # the step after the go-there cue, not the first one named; "start from step 3" is from there
        (WALKING, "I think I did already step 5 before. Can we jump to step 6 please?", 6),
        (ANSWERED, "I already did the first two steps before, can we please start from step 3?", 3),
    ],
)
def test_classify_goto_carries_the_step(intents: IntentSet, moment: Moment, text: str, n: int) -> None:
    match = intents.classify(text, moment=moment)
    assert (match.name, match.step_number) == (Label.GOTO, n)


def test_a_step_number_beside_another_request_is_context(intents: IntentSet) -> None:
    # "completed step 3" names the step just done; the request is the next one
    assert intents.classify("completed step 3, onto the next", moment=WALKING).name == Label.NEXT
    assert intents.classify("show me all 6 steps at once", moment=WALKING).name == Label.ALL_STEPS


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (WALKING, "the backup never moves on to the next tape"),
        (WALKING, "my back end server returns error 5"),
        (WALKING, "the back button in the browser does nothing"),
        (WALKING, "also my mouse doesn't work anymore"),
        (WALKING, "excel crashes when I go to the next sheet"),
        (WALKING, "step 3 of the wizard says access denied"),
        (WALKING, "does this still work on windows 7?"),
        (ANSWERED, "outlook keeps repeating the reminder for the same meeting"),
        (ANSWERED, "how do I go back to the old outlook?"),
        (ANSWERED, "outlook doesn't work since the update"),
        (ANSWERED, "the start button does nothing"),
        (ANSWERED, "0x800CCC0E"),
        (LAST_STEP, "the next time I log in the profile is gone again"),
        (LAST_STEP, "we need this working again by monday"),
        (LAST_STEP, "different question: how do i change my display name"),
        (Moment.NEW, "exchange IMC is silently losing mail, no NDR"),
        (WALKING, "how long does step 3 take?"),
        (WALKING, "do i need to restart after this step?"),
    ],
)
def test_classify_keeps_questions(intents: IntentSet, moment: Moment, text: str) -> None:
    assert intents.classify(text, moment=moment).name == Label.QUESTION


@pytest.mark.parametrize(
    ("moment", "text", "label"),
    [
        # a common word is a word, not a slip of a cue word: "line" is not French "lien", "than" is not "thank"
        (LAST_STEP, "escalate pls, ive got a line of customers", Label.ESCALATE),
        (WALKING, "😂 this bot is smarter than our last IT guy", Label.SMALLTALK),
        (ANSWERED, "sorry my cat walked on the form", Label.QUESTION),
        # people drop the article of a phrase ("the full text")
        (LAST_STEP, "full text pls", Label.FULL),
        # a cue inside a longer cue is part of it: the steps were done, not asked for
        (LAST_STEP, "did all 6 steps and got an error at the end, it still wont sync", Label.FAILED),
        # a laugh with a remark that names no problem is chat; with a problem, or an apology, it is a question
        (WALKING, "lol my manager is watching over my shoulder", Label.SMALLTALK),
        (ANSWERED, "hahaha you sound like our old IT guy", Label.SMALLTALK),
        (ANSWERED, "lol outlook keeps crashing on startup", Label.QUESTION),
        (ANSWERED, "sorry, I meant the teams calendar", Label.QUESTION),
        (ANSWERED, "hi, calendar sharing with people outside the company", Label.QUESTION),
        # a request in a clause of its own, then its reason; a "different problem" opener then a new problem
        (WALKING, "escalate please, the pharmacy system is down for everyone", Label.ESCALATE),
        (LAST_STEP, "different problem: my calendar keeps repeating the same reminder", Label.QUESTION),
        # a yes-word or an outcome inside a question answers nothing
        (LAST_STEP, "can I do this from home or only in the clinic?", Label.QUESTION),
        (WALKING, "the button says Repair not Reset, same thing?", Label.QUESTION),
        (WALKING, "still not working?", Label.FAILED),
        # a ticket's priority and a clock time are not problem content
        (LAST_STEP, "raise a P1 ticket, this is affecting payroll", Label.ESCALATE),
        (LAST_STEP, "is there someone i can call? need this sorted before 3pm", Label.ESCALATE),
        # "restart" is a request only on its own: "restart outlook" and "do I need to restart" are not
        (LAST_STEP, "restart", Label.START_OVER),
        (WALKING, "can we redo step 3", Label.GOTO),
        # a cue something is compared with asks for nothing
        (WALKING, "haha this is easier than calling the helpdesk", Label.SMALLTALK),
        (LAST_STEP, "can someone from the helpdesk call me", Label.ESCALATE),
        # "back to 5" goes to step 5; "back one" is one step back
        (LAST_STEP, "back to 5 pls", Label.GOTO),
        (WALKING, "go back one, i missed something", Label.BACK),
        # a request's reason, after "so I can" or "because", or in a clause or sentence of its own
        (ANSWERED, "Could you put all the steps in one message please so I can print them", Label.ALL_STEPS),
        (WALKING, "this is beyond me, can someone from IT please come down to the front office", Label.ESCALATE),
        (
            ANSWERED,
            "Hi! Thank you so much for pulling that up so quickly. I'm not super technical, so would you mind "
            "guiding me through the fix one step at a time? It's close week and I can't afford to break anything.",
            Label.WALK,
        ),
        # a plain no first answers "Did it fix the problem?", whatever story follows; a request after it wins
        (
            LAST_STEP,
            "No, sadly it's still doing it. I followed every step carefully and rebooted twice, but Illustrator "
            "still tells me the license has expired.",
            Label.FAILED,
        ),
        (LAST_STEP, "no, need a real person now", Label.ESCALATE),
        # stepping away, wherever it is said
        (LAST_STEP, "sorry, got pulled into a meeting, one sec", Label.SMALLTALK),
        (ANSWERED, "Can we go back to the very beginning, I think I've muddled it", Label.START_OVER),
        # quoted words are what the screen says: 'no network' is no "no", 'Reset' no request
        (LAST_STEP, "tried everything, scanner still beeps and shows 'no network'", Label.FAILED),
        (WALKING, "it says 'Reset' at the bottom", Label.QUESTION),
        # after "Did it fix the problem?", a statement that something works now; but "works now but crashes"
        (LAST_STEP, "all 14 trucks showing on the map now", Label.WORKED),
        (LAST_STEP, "build went green :tada:", Label.WORKED),
        (LAST_STEP, "ERR_CERT_AUTHORITY_INVALID on the intranet page now", Label.QUESTION),
        (LAST_STEP, "well the editor opens now but crashes 2 min later so... no", Label.FAILED),
        # a request said with a failure is the ask
        (LAST_STEP, "nope, can you open a ticket for IT", Label.ESCALATE),
        # a question word asking for the card asks for the card
        (ANSWERED, "Where's the complete doc for this? I need to attach it to the checklist", Label.FULL),
        # "this one step at a time", "that one more time": the count keeps its noun
        (ANSWERED, "can we do this one step at a time? im at the counter with a customer", Label.WALK),
        (LAST_STEP, "can you say that one more time I didn't follow", Label.REPEAT),
        # a voice keyboard's "step for"
        (WALKING, "go to step for please", Label.GOTO),
        # a request turned down is not asked for
        (ANSWERED, "dont do the one-at-a-time thing, list all steps here", Label.ALL_STEPS),
        # "still rebooting" is a wait; "still beeps" a failure
        (LAST_STEP, "one sec, still rebooting", Label.SMALLTALK),
        (LAST_STEP, "did all 6 steps and the HMI still shows comm fail on lift station 4", Label.FAILED),
        # an outcome or a step request in a sentence of its own, after the story of what was done
        (
            WALKING,
            "Right, I've unplugged the interface, waited the 10 seconds, and plugged it into the other USB port "
            "like it said. Ready for the next one.",
            Label.NEXT,
        ),
        (WALKING, "Ah, that did it! Just cleared the cache as described and the page loads now.", Label.WORKED),
        # ... but not when an error code is pasted beside it, nor on an answer card before any fix was tried
        (WALKING, "the help file won't open, error 0x80004005", Label.QUESTION),
        (ANSWERED, "cant go back to an old version of a file in sharepoint, option is greyed out", Label.QUESTION),
        # "never mind, it works now" starts nothing over
        (WALKING, "never mind, it works now after this step :tada:", Label.WORKED),
        # a short question opener asks only where it opens a clause or its clause asks
        (ANSWERED, "can I just talk to a human? this is the third time the app ate a fob", Label.ESCALATE),
        (ANSWERED, "ok but what if I don't have admin rights on the POS terminal", Label.QUESTION),
        # a step number in a clause of its own goes with the carrier; in another clause's remark it does not
        (WALKING, "lets go straight to the last one, step 6", Label.GOTO),
        (LAST_STEP, "go back a step, I dont think step 5 took", Label.BACK),
        # "an error on this step" is where the error was, not "on it"
        (WALKING, "hit an error on this step: 'Access denied'", Label.FAILED),
        # a success said with 'but' and a problem, or a compliment with a heart, is no success report
        (LAST_STEP, "now the scanner connects but the barcodes come out as garbage characters", Label.QUESTION),
        (LAST_STEP, "you're a good bot ❤️", Label.SMALLTALK),
        # "the back", "my start": a thing, not a request
        (WALKING, "which cable, theres two coming out the back", Label.QUESTION),
        # "do this" after a subject is the fix described, not a yes; "every morning" is a time, not a hello
        (LAST_STEP, "will i have to do this every morning?", Label.QUESTION),
        (LAST_STEP, "can i do this on the other handhelds too or will it mess them up", Label.QUESTION),
        (LAST_STEP, "yes do it", Label.WORKED),
        (ANSWERED, "hi, good morning", Label.SMALLTALK),
        # "still" and what a thing keeps doing is a failure; "still rebooting" is a wait
        (WALKING, "did that, printer still blinking red", Label.FAILED),
        (WALKING, "still rebooting, one sec", Label.SMALLTALK),
        # the steps done, then "still": a report, not a request for all the steps
        (LAST_STEP, "still not working after all 6 steps", Label.FAILED),
        # an opinion after a request is its reason, and the step it names is context
        (LAST_STEP, "back one step pls i dont think step 5 took", Label.BACK),
        # from the top, whatever step the reason names
        (WALKING, "can we go from the top? I did step 2 wrong", Label.START_OVER),
        (WALKING, "lets restart from step 1, I messed up", Label.START_OVER),
        (LAST_STEP, "Merci, I'll test it after my next meeting and let you know.", Label.SMALLTALK),
        (ANSWERED, "Thanks, but this isn't the problem I have at all.", Label.NOT_MINE),
        (ANSWERED, "lets do the walkthrough", Label.WALK),
        (ANSWERED, "Ce n'est pas du tout mon problème, désolé.", Label.NOT_MINE),
        (ANSWERED, "necesito hablar con alguien de IT", Label.ESCALATE),
        # chat drops accents: "atras" is "atrás"
        (WALKING, "atras porfa", Label.BACK),
        # a consent after anything but yes / ok / please describes the fix
        (LAST_STEP, "can other people on my team do this themselves or does it need IT", Label.QUESTION),
        # "didn't even need the rest", "before I do the next one": turned down, not asked for
        (WALKING, "oh it works now, didn't even need the rest of the steps :tada:", Label.WORKED),
        (WALKING, "Before I do the next one, please tell me, will this delete my files in the Documents folder?",
         Label.QUESTION),
        # a slip is a word nobody means: "ok thanks" is no slip of "no thanks"
        (LAST_STEP, "ok thanks", Label.WORKED),
        (ANSWERED, "ok thanks", Label.SMALLTALK),
        # "click on it" is where to click; "if ... worked" asks; "i clicked next" tells of a button pressed
        (WALKING, "it says access denied now when I click on it what do I do", Label.QUESTION),
        (WALKING, "how do i know if step 3 actually worked", Label.QUESTION),
        (WALKING, "back pls i clicked next by accident 💀", Label.BACK),
        (WALKING, "on it", Label.NEXT),
        # "ok" and a wait is a wait, not "next"
        (WALKING, "ok, one moment please, I am doing it now", Label.SMALLTALK),
        (WALKING, "nochmal diesen Schritt bitte", Label.REPEAT),
        (WALKING, "I am sorry, I did not understand. Can you show me this step once more please?", Label.REPEAT),
        (LAST_STEP, "Kann bitte jemand vom IT-Support vorbeikommen? Ich sitze im 2. OG.", Label.ESCALATE),
    ],
)
def test_classify_reads_how_people_really_type(
    intents: IntentSet, moment: Moment, text: str, label: Label
) -> None:
    assert intents.classify(text, moment=moment).name == label


def test_common_words_are_never_repaired_into_cue_words(intents: IntentSet) -> None:
    reading = intents._reader.read("cat form guy save mac min line than crashed changes")
    assert reading.words == ("cat", "form", "guy", "save", "mac", "min", "line", "than", "crashed", "changes")
    assert intents._reader.read("bakc nxt wroked").words == ("back", "nxt", "worked")


def test_smalltalk_says_which_kind(intents: IntentSet) -> None:
    assert intents.classify("good morning", moment=ANSWERED).cue == "greeting"
    assert intents.classify("thanks a lot", moment=ANSWERED).cue == "thanks"
    assert intents.classify("haha nice bot", moment=ANSWERED).cue == "smalltalk"


def test_lookup_carries_the_article_number_at_any_moment(intents: IntentSet) -> None:
    for moment in Moment:
        match = intents.classify("show KB157684", moment=moment)
        assert (match.name, match.slots["qid"]) == (Label.LOOKUP, "157684")


def test_a_team_example_changes_the_result(tmp_path: Path) -> None:
    """The YAML stays how a team adds phrases: its own slang turns a question into an intent."""
    for name in ("en.yaml", "de.yaml"):
        (tmp_path / name).write_text((REPO / "intents" / name).read_text(encoding="utf-8"), encoding="utf-8")
    text = "ship it, chief"
    assert IntentSet.load(tmp_path).classify(text, moment=WALKING).name == Label.QUESTION
    (tmp_path / "team.yaml").write_text(
        "fillers: [chief]\nintents:\n  - name: next\n    examples: [ship it]\n", encoding="utf-8"
    )
    assert IntentSet.load(tmp_path).classify(text, moment=WALKING).name == Label.NEXT


def test_a_team_adds_step_words_for_its_language(tmp_path: Path) -> None:
    (tmp_path / "nl.yaml").write_text(
        "step_words: [stap]\nintents:\n  - name: goto\n    examples: [ga naar]\n", encoding="utf-8"
    )
    match = IntentSet.load(tmp_path).classify("ga naar stap 4", moment=WALKING)
    assert (match.name, match.step_number) == (Label.GOTO, 4)


def test_yes_and_no_in_yaml_stay_words(tmp_path: Path) -> None:
    # YAML 1.1 reads bare yes/no/on/off as booleans; in a phrase list they are what people type
    (tmp_path / "en.yaml").write_text(
        "fillers: [on]\nintents:\n"
        "  - name: affirm\n    examples: [yes, y]\n"
        "  - name: deny\n    examples: [no, n]\n",
        encoding="utf-8",
    )
    intents = IntentSet.load(tmp_path)
    assert intents.classify("no", moment=LAST_STEP).name == Label.FAILED
    assert intents.classify("yes", moment=LAST_STEP).name == Label.WORKED


def test_bad_word_lists_are_config_errors(tmp_path: Path) -> None:
    (tmp_path / "en.yaml").write_text("fillers: pls\nintents: []\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="fillers must be a list"):
        IntentSet.load(tmp_path)


def test_moment_of_maps_the_thread_state() -> None:
    assert moment_of(None, 0) is Moment.NEW
    assert moment_of(ThreadState(status="answered"), 6) is Moment.ANSWERED
    assert moment_of(ThreadState(status="walking", step_no=2), 6) is Moment.WALKING
    assert moment_of(ThreadState(status="walking", step_no=5), 6) is Moment.LAST_STEP
    assert moment_of(ThreadState(status="choosing"), 0) is Moment.SHORTLIST
    assert moment_of(ThreadState(status="choosing_product"), 0) is Moment.PRODUCT_ASKED
    assert moment_of(ThreadState(status="exhausted"), 6) is Moment.EXHAUSTED
    assert moment_of(ThreadState(status="resolved"), 6) is Moment.NEW


def _ms_per_call(intents: IntentSet, texts: list[str], rounds: int) -> float:
    for text in texts:  # warm the typo cache, as a running bot has
        intents.classify(text, moment=WALKING)
    start = time.perf_counter()
    for _ in range(rounds):
        for text in texts:
            intents.classify(text, moment=WALKING)
    return (time.perf_counter() - start) * 1000 / (rounds * len(texts))


def test_classify_is_cheap(intents: IntentSet) -> None:
    """The bot classifies every thread message: well under a millisecond for what people type."""
    typical = [
        "ok I've done that one now, could you please show me what I should do next?",
        "the backup never moves on to the next tape",
        "bakc pls",
        "yep thx",
        "jump to step six pls, did 4 and 5 already",
        "I followed this step but Outlook still shows the same error message",
    ]
    assert _ms_per_call(intents, typical, rounds=100) < 1.0
    assert _ms_per_call(intents, ["x" * 4000, "word " * 800], rounds=10) < 10.0  # pasted logs stay bounded


def test_importing_the_conversation_core_loads_no_numpy() -> None:
    code = "import sys, kbbot.conversation.intents, kbbot.conversation.intent_eval; print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"

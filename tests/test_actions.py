"""The button wire format: offers round-trip through action_id + value, and a value moved, altered or made up
is refused (issue 13's forged interactivity, at the codec)."""

from __future__ import annotations

import json

import pytest

from kbbot.conversation.replies import Action, Offer
from kbbot.conversation.state import ThreadKey
from kbbot.slack.actions import ButtonCodec, InvalidButtonError, action_id, action_of, derive_key

CODEC = ButtonCodec.from_secret("8f14e45fceea167a5a36dedd4bea2543")
THREAD_A = ThreadKey(team="T1", channel="C1", thread_ts="1700000000.000100")
THREAD_B = ThreadKey(team="T1", channel="C1", thread_ts="1700000000.000200")

OFFERS = [
    Offer(Action.WALK, 3, article_id="Q237695", suggested=True),
    Offer(Action.NEXT, 9, article_id="Q237695", procedure_no=0, step_no=3),
    Offer(Action.PRODUCT, 2, choice="Microsoft Exchange Server"),
    Offer(Action.ESCALATE, 5),
    Offer(Action.REF, 4, article_id="Q135932"),
    Offer(Action.WORKED, 1, article_id="Q102087", shared=True),
]


@pytest.mark.parametrize("offer", OFFERS, ids=lambda o: o.action.value)
def test_an_offer_round_trips_in_its_own_thread(offer: Offer) -> None:
    value = CODEC.encode(offer, where=THREAD_A)
    back = CODEC.decode(action_id(offer, 0), value, where=THREAD_A)
    # `suggested` is how the button is drawn, not something a click brings back
    assert back == Offer(offer.action, offer.version, article_id=offer.article_id, choice=offer.choice,
                         procedure_no=offer.procedure_no, step_no=offer.step_no, shared=offer.shared)


def test_lookup_and_share_carry_the_bare_article_id() -> None:
    for action in (Action.LOOKUP, Action.SHARE):
        offer = Offer(action, article_id="Q102087")
        assert CODEC.encode(offer, where=None) == "Q102087"
        assert CODEC.decode(action_id(offer, 2), "Q102087", where=THREAD_A) == offer


def test_listed_kinds_are_numbered_and_decode_to_their_action() -> None:
    assert action_id(Offer(Action.PICK, article_id="Q1"), 2) == "kb:pick:2"
    assert action_id(Offer(Action.WALK), 2) == "kb:walk"
    assert action_of("kb:product:4") is Action.PRODUCT
    assert action_of("kb:fixed") is Action.WORKED  # cards drawn before the one name for it
    assert action_of("kb:nonsense") is None and action_of("other") is None


def test_a_button_moved_to_another_thread_is_refused() -> None:
    value = CODEC.encode(OFFERS[0], where=THREAD_A)
    with pytest.raises(InvalidButtonError, match="seal"):
        CODEC.decode("kb:walk", value, where=THREAD_B)
    # a different action with the same value is refused too (the seal covers the action)
    with pytest.raises(InvalidButtonError, match="seal"):
        CODEC.decode("kb:worked", value, where=THREAD_A)


def test_a_shared_cards_seal_binds_its_channel() -> None:
    shared = OFFERS[-1]
    value = CODEC.encode(shared, where=THREAD_A)
    assert CODEC.decode("kb:worked", value, where=THREAD_B).shared  # the thread under it is not known yet
    with pytest.raises(InvalidButtonError):
        CODEC.decode("kb:worked", value, where=ThreadKey(team="T1", channel="C2", thread_ts="1.2"))


@pytest.mark.parametrize(
    "change",
    [{"v": True}, {"v": 1.0}, {"v": "1"}, {"v": None}, {"a": "Q999999"}, {"sh": 1}, {"h": None}, {"h": 1}],
    ids=["v-true", "v-float", "v-string", "v-null", "other-article", "claims-shared", "no-seal", "seal-int"],
)
def test_an_altered_value_is_refused(change: dict[str, object]) -> None:
    sealed = json.loads(CODEC.encode(Offer(Action.WALK, 1, article_id="Q237695"), where=THREAD_A))
    forged = {k: v for k, v in {**sealed, **change}.items() if v is not None}
    with pytest.raises(InvalidButtonError):
        CODEC.decode("kb:walk", json.dumps(forged), where=THREAD_A)


@pytest.mark.parametrize("value", ["", "not json", "[1,2]", '"s"', '{"v":777,"s":1}', "{"])
def test_garbage_and_unsealed_values_are_refused(value: str) -> None:
    with pytest.raises(InvalidButtonError):
        CODEC.decode("kb:escalate", value, where=THREAD_A)


def test_another_secret_makes_other_seals_and_the_key_is_not_the_secret() -> None:
    other = ButtonCodec.from_secret("another workspace's secret")
    value = CODEC.encode(OFFERS[0], where=THREAD_A)
    with pytest.raises(InvalidButtonError):
        other.decode("kb:walk", value, where=THREAD_A)
    assert derive_key("s3cret") != b"s3cret" and len(derive_key("s3cret")) == 32

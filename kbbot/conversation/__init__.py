"""The conversation engine: intents, thread state and the flow from question to fix, speaking in reply values.

    conversation = Conversation(kb=..., search=..., intents=IntentSet.load(folder), settings=...)
    turn = conversation.handle(state, UserTurn(user="U1", text="next"), now=time.time())
    turn.state, turn.replies (kbbot.conversation.replies), turn.reactions, turn.escalation

Pure: importing this package loads no Slack library, no database driver and no numpy (tests/test_conversation.py
checks it in a fresh interpreter). The Slack adapter (kbbot.slack) renders the replies.
"""

from kbbot.conversation.engine import Conversation, ConversationSettings, Escalation, Turn, UserTurn
from kbbot.conversation.replies import Action, Offer, Reply
from kbbot.conversation.state import ThreadEvent, ThreadKey, ThreadState

__all__ = [
    "Action",
    "Conversation",
    "ConversationSettings",
    "Escalation",
    "Offer",
    "Reply",
    "ThreadEvent",
    "ThreadKey",
    "ThreadState",
    "Turn",
    "UserTurn",
]

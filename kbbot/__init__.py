"""kbbot: a Slack support bot that turns knowledge-base articles into guided, stateful fixes."""

from kbbot.article import Article, ErrorSignature, Procedure, Step, normalise_qid
from kbbot.errors import KbBotError

__all__ = ["Article", "ErrorSignature", "KbBotError", "Procedure", "Step", "normalise_qid"]
__version__ = "0.1.0"

"""A stand-in for Slack on loopback, shipped with the package because `kbbot chat` runs the real bot on it.

    ids.py          the simulated workspace's team, bot, asker and channels
    signing.py      Slack's v0 request signature
    payloads.py     factories for what Slack sends: event envelopes, slash-command forms, button clicks
    webapi.py       SlackStandIn: the Web API on 127.0.0.1 (recording calls) and the sender of signed requests
    socket_mode.py  the Socket Mode WebSocket side
    blockkit.py     Block Kit checked as Slack checks it (invalid_blocks, msg_blocks_too_long)
    faults.py       Slack refusals and transport faults to queue per method
    records.py      what the stand-in remembers: calls, refused messages, deliveries
"""

from kbbot.standin.blockkit import Verdict, check_blocks, check_home_view
from kbbot.standin.faults import GATEWAY_PAGE, Fault, FaultKind, SlackError
from kbbot.standin.ids import (
    STANDIN_APP,
    STANDIN_BOT_ID,
    STANDIN_BOT_USER,
    STANDIN_CHANNEL,
    STANDIN_DM,
    STANDIN_HUMANS,
    STANDIN_TEAM,
    STANDIN_USER,
)
from kbbot.standin.payloads import block_actions_payload, event_callback, interactive_form, slash_command_form
from kbbot.standin.records import ApiCall, Delivery, Rejection
from kbbot.standin.signing import sign, signed_headers
from kbbot.standin.webapi import SlackStandIn

__all__ = [
    "GATEWAY_PAGE",
    "STANDIN_APP",
    "STANDIN_BOT_ID",
    "STANDIN_BOT_USER",
    "STANDIN_CHANNEL",
    "STANDIN_DM",
    "STANDIN_HUMANS",
    "STANDIN_TEAM",
    "STANDIN_USER",
    "ApiCall",
    "Delivery",
    "Fault",
    "FaultKind",
    "Rejection",
    "SlackError",
    "SlackStandIn",
    "Verdict",
    "block_actions_payload",
    "check_blocks",
    "check_home_view",
    "event_callback",
    "interactive_form",
    "sign",
    "signed_headers",
    "slash_command_form",
]

"""The simulated workspace's fixed ids: the team, the bot, an asker, the channels tests and `kbbot chat` use."""

from __future__ import annotations

STANDIN_TEAM = "T0STANDIN"
STANDIN_APP = "A0KBBOT"
STANDIN_BOT_USER = "U0KBBOT"
STANDIN_BOT_ID = "B0KBBOT"
STANDIN_USER = "U0ASKER"
STANDIN_CHANNEL = "C0SUPPORT"
STANDIN_DM = "D0ASKER"
STANDIN_HUMANS = "C0HUMANS"  # where escalations go in tests and `kbbot chat`

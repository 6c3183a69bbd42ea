"""A page with one section per error: the answer card shows, and "walk me through" walks, the case the question
is about (kbbot/conversation/focus.py), on a real index of pages written for these tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kbbot.conversation.focus import case_section
from kbbot.indexer import run_index
from kbbot.kb import KnowledgeBase
from kbbot.search import SearchEngine

SSH_PAGE = """---
title: Troubleshooting SSH
---

Problems people meet when they use SSH keys with the Git server.

## Could not resolve hostname

The client cannot find the server's name.

1. Check the host name in the remote URL.
2. Run `nslookup git.example.com` to see that it resolves.

## Error: Permission denied (publickey)

The server refused every key the client offered.

1. Run `ssh-add -l` to list the keys the agent holds.
2. Add your key to the agent with `ssh-add ~/.ssh/id_ed25519`.
3. Add the public key to your profile on the server.

## Error: Connection closed by remote host

The server closed the connection before the key exchange finished, often because a firewall drops it.

1. Connect with `ssh -vvv git@git.example.com` and read where it stops.
2. Ask the network team to allow port 22 to the server.
"""

METHODS_PAGE = """---
title: Outlook keeps asking for a password
---

## Symptoms

Outlook asks for the password again and again.

## Method 1: Clear the cached credentials

1. Open Credential Manager.
2. Remove every entry for Outlook.

## Method 2: Turn on modern authentication for the mailbox

1. Open the admin centre.
2. Turn on modern authentication.
"""

OTHER_PAGE = """---
title: VPN drops every hour
---

## Symptoms

The VPN disconnects every hour.

## Resolution

1. Update the VPN client.
2. Restart the computer.
"""


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("cases-kb")
    pages = (("git/ssh.md", SSH_PAGE), ("outlook/password.md", METHODS_PAGE), ("vpn/drops.md", OTHER_PAGE))
    for name, text in pages:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text, encoding="utf-8")
    out = tmp_path_factory.mktemp("cases-index") / "index"
    run_index([str(src)], out, progress=False)
    return out


@pytest.fixture(scope="module")
def engine(index: Path) -> SearchEngine:
    return SearchEngine.load(index, KnowledgeBase.open(index))


def _kb(index: Path) -> KnowledgeBase:
    return KnowledgeBase.open(index)


def test_the_case_the_question_names_is_chosen(index: Path, engine: SearchEngine) -> None:
    ssh = _kb(index).get("git/ssh")
    assert ssh is not None and ssh.fix_section() == "COULD NOT RESOLVE HOSTNAME"  # the page's first fix
    scores = engine.section_scores
    assert case_section(ssh, "git push says Permission denied (publickey)", scores) == (
        "ERROR: PERMISSION DENIED (PUBLICKEY)")
    assert case_section(ssh, "ssh connection closed by remote host when I push", scores) == (
        "ERROR: CONNECTION CLOSED BY REMOTE HOST")
    # the first case asked about, or nothing telling: the card shows the page's first fix as before
    assert case_section(ssh, "could not resolve hostname git.example.com", scores) is None
    assert case_section(ssh, "ssh problems with git", scores) is None
    assert case_section(ssh, "git push says Permission denied (publickey)", None) is None  # no scorer: no guess


def test_alternative_methods_and_a_single_fix_are_not_cases(index: Path, engine: SearchEngine) -> None:
    kb = _kb(index)
    methods, single = kb.get("outlook/password"), kb.get("vpn/drops")
    assert methods is not None and single is not None
    asked = "how do I turn on modern authentication for the mailbox"
    assert case_section(methods, asked, engine.section_scores) is None
    assert case_section(single, "vpn client needs an update", engine.section_scores) is None


def _chat(index: Path, lines: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "kbbot", "chat", "--index", str(index)],
        input="\n".join(lines) + "\n", capture_output=True, text=True, timeout=60, check=False,
        env=dict(os.environ),
    )  # fmt: skip
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return result.stdout


def test_the_card_and_the_walk_through_are_the_asked_about_case(index: Path) -> None:
    out = _chat(index, ["git push fails: Permission denied (publickey)", "walk me through", "next", "quit"])
    card = out.index("Troubleshooting SSH")
    assert "Error: Permission denied (publickey)" in out[card:]  # the case's own heading labels its fix
    step1 = out.index("Step 1 of 3", card)
    assert "ssh-add -l" in out[step1:] and "nslookup" not in out[card:]
    assert "Step 2 of 3" in out[step1:] and "ssh-add ~/.ssh/id_ed25519" in out[step1:]

"""Modern Markdown knowledge bases: a team's hand-written pages (tests/fixtures/team-kb), and Microsoft's own
troubleshooting articles (the shared Office KB archive, skipped when absent) with their hand labels."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pytest

from kbbot.article import Article
from kbbot.errors import ConfigError
from kbbot.indexer import run_index
from kbbot.kb import KnowledgeBase
from kbbot.parse import detect_format, parse_bytes, parse_file, parse_text
from kbbot.parse.markdown_doc import canonical_heading

REPO = Path(__file__).resolve().parents[1]
TEAM_KB = REPO / "tests" / "fixtures" / "team-kb"
SHARED = REPO.parent / "shared"
OFFICE = SHARED / "kb" / "officedocs-support.tar.xz"
STRUCTURE = SHARED / "eval" / "structure-dev.jsonl"

needs_office = pytest.mark.skipif(not OFFICE.exists(), reason="shared Office KB archive not present")


def team_page(rel: str, *, url_template: str | None = None) -> Article:
    return parse_file(TEAM_KB / rel, path_in_tree=rel, url_template=url_template)


# ------------------------------------------------------------------------------------------ team pages
def test_plain_how_to_page_gets_a_slug_id_sections_and_one_procedure_with_substeps() -> None:
    a = team_page("teams/camera-not-found.md")
    assert a.format == "markdown-doc"
    assert a.id == "teams/camera-not-found" and "camera-not-found" in a.aliases
    assert a.title == "Teams can't find my camera"  # the H1: there is no front matter
    assert list(a.sections) == ["SUMMARY", "CAUSE", "RESOLUTION"]
    assert "Teams can't find my camera" not in a.sections["SUMMARY"]  # the title is not body text
    (proc,) = a.procedures
    # written "1. 1. 1." (auto-numbering): four steps, the nested list is the third step's sub-steps
    assert [s.text.split()[0] for s in proc.steps] == ["Close", "Open", "Turn", "Quit"]
    assert proc.steps[2].substeps == (
        "If the switch is greyed out, ask IT to check the device policy.",
        "Restart the laptop after the policy changes.",
    )
    assert "3. Turn on **Let desktop apps access your camera**." in a.sections["RESOLUTION"]
    assert "   a. If the switch is greyed out" in a.sections["RESOLUTION"]


def test_front_matter_gives_id_title_product_url_and_keywords() -> None:
    a = team_page("outlook/clear-autocomplete-cache.md")
    assert a.id == "OUT-0042"
    assert a.title == "Outlook suggests old addresses when you type a name"
    assert a.product == "Outlook for Microsoft 365" and a.versions == ("Outlook 2021",)
    assert a.url == "https://kb.example.com/outlook/clear-autocomplete-cache"
    assert {"autocomplete", "nickname cache"} <= set(a.keywords)
    assert "outlook/clear-autocomplete-cache" in a.aliases


def test_methods_are_named_by_their_headings_and_reproduce_lists_are_not_fixes() -> None:
    a = team_page("outlook/clear-autocomplete-cache.md")
    assert [(p.label, len(p.steps)) for p in a.procedures] == [
        ("Method 1: Remove one suggestion", 2),
        ("Method 2: Empty the whole list", 3),
    ]
    assert "STEPS TO REPRODUCE" in a.sections  # kept as text, never offered as a fix


def test_docfx_extensions_become_plain_text() -> None:
    a = team_page("outlook/clear-autocomplete-cache.md")
    resolution = a.sections["RESOLUTION"]
    # the include is expanded from the same tree, its callout labelled
    assert resolution.startswith("Important: Back up the registry before you change it.")
    assert "Screenshot of the Empty Auto-Complete List button." in resolution  # image -> alt text
    assert "Note: HCW8078 can appear" in resolution  # > [!NOTE] -> a labelled note
    assert "Outlook 2021 | RoamCache folder" in resolution  # table readable, &nbsp; decoded
    step3 = a.procedures[1].steps[2].text
    assert "```\nRemove-Item" in step3 and step3.endswith("```")  # the code fence stays code, in its step
    for raw in (":::", "[!", "&nbsp;", "<", "##"):
        assert raw not in resolution


def test_error_signatures_of_today_never_from_code_callouts_or_images() -> None:
    a = team_page("outlook/clear-autocomplete-cache.md")
    codes = a.error_codes
    assert {"550 5.1.1", "5.1.1", "AADSTS50126"} <= set(codes)
    assert "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found" in codes  # the quoted bounce line
    assert "0x80070005" not in codes  # only in the PowerShell block
    assert "HCW8078" not in codes  # only in a callout


def test_url_template_links_pages_without_a_url_of_their_own() -> None:
    a = team_page("teams/camera-not-found.md", url_template="https://kb.example.com/{path}")
    assert a.url == "https://kb.example.com/teams/camera-not-found"
    b = team_page("outlook/clear-autocomplete-cache.md", url_template="https://kb.example.com/{path}")
    assert b.url == "https://kb.example.com/outlook/clear-autocomplete-cache"  # its own url wins


def test_stated_kb_number_is_the_id_and_the_1999_pages_keep_their_reader() -> None:
    page = "---\ntitle: Cannot sign in\nms.topic: troubleshooting\n---\n# Cannot sign in\n\n" \
           "_Original KB number:_ &nbsp; 2659085\n\n## Symptoms\n\nSign-in fails.\n"
    a = parse_text(page, source="x!docs/sign-in/cannot-sign-in.md", path="docs/sign-in/cannot-sign-in.md")
    assert a.id == "KB2659085" and "docs/sign-in/cannot-sign-in" in a.aliases
    assert "Original KB number" not in a.sections.get("SYMPTOMS", "")
    seed = next((REPO / "seeds").glob("002_*.txt"))
    assert detect_format(seed.read_text(encoding="utf-8", errors="replace"), source="kb/README.md") == "markdown"
    assert parse_file(seed).id == "Q99304"


@pytest.mark.parametrize(
    ("heading", "canonical"),
    [("Symptoms", "SYMPTOMS"), ("Root cause", "CAUSE"), ("How to fix", "RESOLUTION"),
     ("Resolution 2", "RESOLUTION"),
     ("Workaround example", "WORKAROUND"), ("Additional information", "MORE INFORMATION"),
     ("Applies to", "APPLIES TO"), ("Before you begin", "PREREQUISITES"), ("Why this happens:", "CAUSE"),
     ("Step 1: Add the `Item` type", "STEP 1: ADD THE ITEM TYPE")],
)
def test_heading_vocabulary(heading: str, canonical: str) -> None:
    assert canonical_heading(heading) == canonical


def test_team_kb_indexes_end_to_end_and_looks_up_by_any_name(tmp_path: Path) -> None:
    summary = run_index([str(TEAM_KB)], tmp_path / "index", workers=1,
                        url_template="https://kb.example.com/{path}")
    assert summary.articles == 2 and summary.files_seen == 4
    reasons = " ".join(summary.skipped)
    assert "repository page" in reasons and "include fragment" in reasons
    kb = KnowledgeBase.open(tmp_path / "index")
    try:
        names = ("teams/camera-not-found", "camera-not-found.md", "CAMERA-NOT-FOUND", "/teams/camera-not-found")
        for name in names:
            assert kb.resolve(name) == "teams/camera-not-found"
        assert kb.resolve("out-0042") == "OUT-0042"
        assert kb.resolve("no-such-page") is None
        assert kb.suggest("camera-not-fund", limit=1) == ["teams/camera-not-found"]
        article = kb.get("camera-not-found")
        assert article is not None and article.url == "https://kb.example.com/teams/camera-not-found"
    finally:
        kb.close()


def test_two_pages_stating_one_kb_number_are_both_kept(tmp_path: Path) -> None:
    src = tmp_path / "docs"
    for name in ("first", "second"):
        (src / name).mkdir(parents=True)
        (src / name / "page.md").write_text(
            f"# The {name} page\n\n_Original KB number:_ 555111\n\n## Resolution\n\n1. Restart.\n2. Retry.\n",
            encoding="utf-8",
        )
    summary = run_index([str(src)], tmp_path / "index", workers=1, search=False)
    assert summary.articles == 2
    (clash,) = summary.clashes
    (renamed,) = clash.renamed
    slug = "second/page" if clash.kept.endswith("first/page.md") else "first/page"
    assert clash.id == "KB555111" and renamed.endswith(f"page.md as {slug}")
    assert "id clashes: 1" in summary.render()
    kb = KnowledgeBase.open(tmp_path / "index")
    try:
        assert sorted(kb.ids()) == sorted(["KB555111", slug])
    finally:
        kb.close()


# ------------------------------------------------------------------------------------------ Office KB
LINK_RE = re.compile(r"\[(?:[^\[\]\n]|\[[^\]\n]*\])*\]\(https?://[^)\s]*\)")
FENCE_RE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
CODE_RE = re.compile(r"`[^`\n]*`")
RAW_MARKUP = {
    "heading": re.compile(r"^#{1,6} (?![^\n]*\|)", re.MULTILINE),  # a table row may start with a literal "#"
    "docfx directive": re.compile(r":::\s*(?:image|no-loc|zone|row|column|moniker|video|code)\b|^:::\s*$",
                                  re.MULTILINE),
    "docfx marker": re.compile(r"\[!(?:NOTE|TIP|IMPORTANT|WARNING|CAUTION|INCLUDE|div|VIDEO)", re.IGNORECASE),
    "html tag": re.compile(r"</?(?:a|b|i|p|br|div|span|img|sup|sub|strong|em|table|tr|td|ul|ol|li|h\d|details|"
                           r"summary|kbd|code)(?=[\s/>])[^>]*>", re.IGNORECASE),
    "entity": re.compile(r"&(?:nbsp|amp|lt|gt|quot|#\d+);"),
    "raw link": re.compile(r"\]\("),
}


def markup_left(text: str) -> list[str]:
    # code and links are allowed markup; a word stands in for them so that "*[link](url)*" stays balanced
    prose = LINK_RE.sub("linkspan", CODE_RE.sub("codespan", FENCE_RE.sub("", text)))
    found = [name for name, rx in RAW_MARKUP.items() if rx.search(prose)]
    if any(line.count("**") % 2 for line in prose.split("\n")):
        found.append("unbalanced **")
    return found


def office_articles() -> list[Article]:
    out = []
    with tarfile.open(OFFICE) as tar:
        for member in tar:
            fh = tar.extractfile(member) if member.isfile() else None
            if fh is None or not member.name.endswith(".md") or "/includes/" in member.name:
                continue
            if member.name.count("/") <= 1:
                continue  # the repository's README / SECURITY pages
            out.append(parse_bytes(fh.read(), source=member.name, path=member.name))
    return out


@pytest.fixture(scope="module")
def office() -> list[Article]:
    return office_articles()


@needs_office
def test_no_raw_markdown_or_docfx_markup_in_any_office_article(office: list[Article]) -> None:
    assert len(office) > 2400
    problems = []
    for a in office:
        texts = [a.title, *a.sections.values()]
        texts += [p.label for p in a.procedures]
        texts += [t for p in a.procedures for s in p.steps for t in (s.text, *s.substeps)]
        for text in texts:
            # a literal C++ "::::operator" in a quoted error is content, not a directive
            for found in markup_left(text.replace("::::", "")):
                problems.append(f"{a.source}: {found}: {text[:80]!r}")
    assert problems == []


@needs_office
def test_office_articles_have_sections_and_procedures(office: list[Article]) -> None:
    single_summary = sum(1 for a in office if list(a.sections) == ["SUMMARY"])
    with_steps = sum(1 for a in office if a.procedures)
    # one SUMMARY is right only for the pages that have no headings at all below the title (76 of 2,448);
    # before the Markdown reader it was 2,446
    assert single_summary < len(office) * 0.05
    assert with_steps > len(office) * 0.5


def _words(text: str, n: int) -> list[str]:
    text = LINK_RE.sub(lambda m: m.group(0)[1:m.group(0).index("](")], text)
    text = text.replace("**", "").replace("`", "").replace("*", "")
    words = [w.strip(".,:;>\"'()\u201c\u201d") for w in text.split()]
    return [w for w in words if w][:n]


@needs_office
@pytest.mark.skipif(not STRUCTURE.exists(), reason="structure labels not present")
def test_labelled_office_articles_give_their_sections_and_fix_procedures() -> None:
    rows = [json.loads(line) for line in STRUCTURE.read_text(encoding="utf-8").splitlines() if line.strip()]
    members: dict[str, bytes] = {}
    with tarfile.open(OFFICE) as tar:
        wanted = {f"OfficeDocs-Support/{r['path']}" for r in rows}
        for member in tar:
            if member.name in wanted:
                fh = tar.extractfile(member)
                assert fh is not None
                members[member.name] = fh.read()
    failures = []
    for row in rows:
        name = f"OfficeDocs-Support/{row['path']}"
        a = parse_bytes(members[name], source=name, path=name)
        sections = list(a.sections)
        if sections[:1] == ["SUMMARY"] and row["sections"][:1] != ["SUMMARY"]:
            sections = sections[1:]  # the untitled lead text before the first heading is not a labelled section
        if sections != list(dict.fromkeys(row["sections"])):
            failures.append(f"{row['path']}: sections {sections}")
        got = iter(a.procedures)
        for want in row["fix_procedures"]:
            # each labelled procedure, in order: label (when labelled), step count, first words of each step
            def matches(p: object, want: dict = want) -> bool:  # type: ignore[type-arg]
                steps = p.steps  # type: ignore[attr-defined]
                return (
                    (not want["label"] or p.label == want["label"])  # type: ignore[attr-defined]
                    and len(steps) == want["steps"]
                    and all(_words(s.text.split("\n")[0], len(w)) == _words(" ".join(w), len(w))
                            for s, w in zip(steps, want["first_words"], strict=False))
                )

            if not any(matches(p) for p in got):
                failures.append(f"{row['path']}: no procedure {want['label']!r} ({want['steps']} steps)")
    assert failures == []


def test_a_new_url_template_relinks_unchanged_files(tmp_path: Path) -> None:
    out = tmp_path / "index"
    run_index([str(TEAM_KB)], out, workers=1, search=False)
    again = run_index([str(TEAM_KB)], out, workers=1, search=False, url_template="https://wiki.example.com/{slug}")
    assert again.files_reused == 0 and again.files_parsed == 4
    kb = KnowledgeBase.open(out)
    try:
        article = kb.get("teams/camera-not-found")
        assert article is not None and article.url == "https://wiki.example.com/teams/camera-not-found"
    finally:
        kb.close()


def test_if_yes_if_no_troubleshooter_is_one_procedure_of_checks() -> None:
    checks = []
    for n, (name, follow) in enumerate([("Check the license", "Check the network"),
                                        ("Check the network", "Reset the cache"),
                                        ("Reset the cache", "Contact support")], start=1):
        checks.append(
            f"### {name}\n\n1. Open step {n}a.\n2. Select step {n}b.\n\nDid this fix the problem?\n\n"
            f"- If yes, you're done.\n- If no, see [{follow}](#x).\n"
        )
    page = "# Sign-in troubleshooter\n\n## Troubleshoot sign-in\n\n" + "\n".join(checks)
    a = parse_text(page, source="t.md", path="guides/sign-in-troubleshooter.md")
    (proc,) = a.procedures
    assert proc.label == "Troubleshoot sign-in"
    assert [s.text for s in proc.steps] == ["Check the license", "Check the network", "Reset the cache"]
    assert proc.steps[1].substeps == ("Open step 2a.", "Select step 2b.")


def test_an_archive_of_the_tree_gives_the_same_ids_and_expands_includes(tmp_path: Path) -> None:
    archive = tmp_path / "team-kb.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(TEAM_KB, arcname="team-kb")  # the archive's one root folder is not part of the ids
    summary = run_index([str(archive)], tmp_path / "index", workers=1, search=False)
    assert (summary.articles, summary.files_seen, summary.files_skipped) == (2, 4, 2)
    kb = KnowledgeBase.open(tmp_path / "index")
    try:
        assert sorted(kb.ids()) == ["OUT-0042", "teams/camera-not-found"]
        article = kb.get("OUT-0042")
        assert article is not None and article.source.endswith("!team-kb/outlook/clear-autocomplete-cache.md")
        assert article.sections["RESOLUTION"].startswith("Important: Back up the registry")
    finally:
        kb.close()


def test_a_url_template_with_an_unknown_field_is_refused_before_indexing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="url-template"):
        run_index([str(TEAM_KB)], tmp_path / "index", workers=1, url_template="https://kb.example.com/{name}")
    assert not (tmp_path / "index").exists()


# ------------------------------------------------------------------------------------------ steps in modern pages
def _page(body: str, *, path: str = "windows/service-does-not-start.md") -> Article:
    return parse_text("# The Netlogon service does not start\n\n" + body, source="t.md", path=path)


def test_each_substep_carries_its_own_commands_in_source_order() -> None:
    a = _page(
        "## Resolution\n\n"
        "1. Check the service:\n\n   `sc query NETLOGON`\n\n"
        "2. If the service is disabled:\n\n"
        "   1. Set it to start automatically:\n\n      `sc config NETLOGON start=auto`\n\n"
        "   1. Start it:\n\n      `sc start NETLOGON`\n\n"
        "      1. If it starts and you can sign in, stop here.\n\n"
        "   If it still does not start, check its dependencies.\n\n"
        "3. Restart the server.\n"
    )
    (proc,) = a.procedures
    assert [s.text for s in proc.steps] == [
        "Check the service:\n`sc query NETLOGON`", "If the service is disabled:", "Restart the server."
    ]
    # each command under its own sub-step; the list under a sub-step and the step's closing line after them
    assert proc.steps[1].substeps == (
        "Set it to start automatically:\n`sc config NETLOGON start=auto`",
        "Start it:\n`sc start NETLOGON`\n1. If it starts and you can sign in, stop here.\n"
        "If it still does not start, check its dependencies.",
    )


def test_a_note_inside_a_step_keeps_its_bullets_in_place() -> None:
    a = _page(
        "## Resolution\n\n"
        "1. Give the System account Full Control of the database folder.\n\n"
        "   > [!NOTE]\n   > The System account also needs Full Control of these folders:\n   >\n"
        "   > - The root of the drive\n   > - The Windows folder\n   >\n"
        "   > The Windows folder is usually C:\\Windows.\n\n"
        "2. Enable the protocols, and then restart the service.\n\n"
        "   > [!IMPORTANT]\n   >\n   > - Enable only Shared Memory for local connections.\n"
        "   > - Check the registry keys:\n   >\n   >     - `Sm\\Enabled`\n   >     - `Tcp\\Enabled`\n\n"
        "3. Start the service.\n"
    )
    (proc,) = a.procedures
    first, second, _ = proc.steps
    assert first.substeps == () and second.substeps == ()  # a note's bullets are never the step's sub-steps
    assert first.text == (
        "Give the System account Full Control of the database folder.\n"
        "Note: The System account also needs Full Control of these folders:\n"
        "- The root of the drive\n- The Windows folder\n"
        "The Windows folder is usually C:\\Windows."
    )
    assert second.text.split("\n")[1:] == [
        "Important:", "- Enable only Shared Memory for local connections.", "- Check the registry keys:",
        "  - `Sm\\Enabled`", "  - `Tcp\\Enabled`",
    ]


def test_a_note_after_the_last_step_is_no_substeps_of_it() -> None:
    a = _page(
        "## Resolution\n\n1. Stop the service.\n2. Mount the database with `-Force`.\n\n"
        "> [!NOTE]\n> - The change reaches every copy of the database.\n> - An update may delete the key.\n"
    )
    (proc,) = a.procedures
    assert [s.substeps for s in proc.steps] == [(), ()]
    assert a.sections["RESOLUTION"].endswith(
        "Note:\n- The change reaches every copy of the database.\n- An update may delete the key."
    )


def test_a_callout_at_the_margin_still_holds_a_procedure_of_its_own() -> None:
    a = _page(
        "## Workaround\n\nRecreate the proxy.\n\n"
        "> [!NOTE]\n> The My Site URL may still point to the old server. To fix it, follow these steps:\n>\n"
        "> 1. Open Central Administration.\n> 2. Select **Setup My Sites**.\n> 3. Change the host location.\n"
    )
    (proc,) = a.procedures
    assert [s.text.split()[0] for s in proc.steps] == ["Open", "Select", "Change"]


def test_lists_under_more_information_are_no_fix_beside_a_resolution() -> None:
    repro = _page(
        "## Resolution\n\nOverride `PreMessageLoop` and call `SetServiceStatus` from it.\n\n"
        "## More information\n\n1. Create a new project with the wizard.\n2. Build the project.\n"
        "3. Start the service.\n"
    )
    assert repro.procedures == ()
    offered = _page(
        "## Resolution\n\nInstall the update.\n\n## More information\n\n"
        "To work around this problem until you can update, follow these steps:\n\n"
        "1. Stop the service.\n2. Delete the cache folder.\n3. Start the service.\n"
    )
    assert [p.section for p in offered.procedures] == ["MORE INFORMATION"]
    pointed = _page(
        "## Resolution\n\nUse the method for your installation type. See the \"More information\" section.\n\n"
        "## More information\n\nTo find your installation type, follow these steps:\n\n"
        "1. Open Word.\n2. Select **File** > **Account**.\n"
    )
    assert [len(p.steps) for p in pointed.procedures] == [2]
    how_to = _page("## Summary\n\nThis page shows how.\n\n## More information\n\n"
                   "1. Open the console.\n2. Select the server.\n3. Select **Restart**.\n")
    assert [len(p.steps) for p in how_to.procedures] == [3]  # no fix section: its list is the how-to


def test_methods_are_named_by_their_lead_in_not_by_its_announcement() -> None:
    a = _page(
        "## Workaround\n\nUse one of the following methods:\n\n"
        "- Method 1\n\n    Change the Group Policy settings. To do this, follow these steps:\n\n"
        "    1. Open the Group Policy editor.\n    2. Select **Network Retrieval**.\n\n"
        "- Method 2\n\n    Increase the service time-out.\n\n"
        "    > [!IMPORTANT]\n    > Back up the registry first.\n\n"
        "    To increase the default service time-out, follow these steps:\n\n"
        "    1. Open Registry Editor.\n    2. Create the ServicesPipeTimeout value.\n\n"
        "## Resolution\n\nTo resolve this problem, follow these steps:\n\n1. Install the update.\n"
        "2. Restart the server.\n\n"
        "### Step 2: Check that the configuration database is running\n\n"
        "Open Services.msc, and start the database service.\n\n#### How to fix\n\n"
        "1. Connect to the database server.\n2. Add the service identity as a login.\n"
    )
    assert [p.label for p in a.procedures] == [
        "Method 1: Change the Group Policy settings",
        "Method 2: Increase the default service time-out",
        "Resolution",  # "To resolve this problem" names nothing
        "Step 2: Check that the configuration database is running",  # not "How to fix"
    ]

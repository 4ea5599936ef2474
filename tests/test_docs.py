"""README is a quickstart and the manual lives in docs/: every relative link in them resolves to a file and,
when it names one, a heading there; README stays short and opens with the two commands."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _outside_code(text: str) -> list[str]:
    lines, fence = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence:
            lines.append(line)
    return lines


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for line in _outside_code(path.read_text()):
        if m := re.match(r"#{1,6} (.+)", line):
            anchors.add(re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-"))
    return anchors


def _links(path: Path) -> list[str]:
    """Relative link targets, inline code removed (a `](x)` inside backticks is not a link)."""
    targets = []
    for line in _outside_code(path.read_text()):
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("<"):
                targets.append(target)
    return targets


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_point_to_a_file_and_heading(page):
    broken = []
    for target in _links(page):
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no file {dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading #{anchor} in {dest.relative_to(ROOT)}")
    assert broken == [], f"{page.relative_to(ROOT)}: broken links {broken}"


def test_pages_have_links_to_check():
    """The link check above is not vacuous: README links each docs page."""
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in _links(ROOT / "README.md")}
    manual = {p for p in PAGES if p.parent == ROOT / "docs"}
    assert manual - linked == set(), f"docs pages README does not link: {sorted(p.name for p in manual - linked)}"


def test_readme_is_a_short_quickstart_opening_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    commands = [line.split("#")[0].strip() for line in text.split("```bash\n", 1)[1].split("```", 1)[0].splitlines()]
    assert commands[:2] == ["scripts/dev.sh", "scripts/test.sh"]
    before = text.split("```bash\n", 1)[0]
    assert "```" not in before, "a code block comes before the two commands"


#: Every section heading of the README before it became a quickstart (the manual moved to docs/): each still
#: exists, in exactly one of README.md and the docs pages (docs/ARCHITECTURE.md has a "Layout" of its own).
MANUAL_HEADINGS = [
    'How it works',
    'Configuration',
    'App settings',
    'The routes document',
    'Route kinds, inputs and outputs',
    'Moving a v1 PipelineEndpoint route to a batch endpoint',
    'Plan before you spend compute',
    'Security guarantees',
    'Landing: when is a folder complete?',
    'Event intake rules',
    'Claims, self-healing and backfill',
    'The reconcile sweep',
    'Backfill',
    'The poison queue',
    'Delivery: outputs to sinks, verified',
    'Large outputs: resume, chunk budget, checksums',
    'Submit idempotency: one job per run attempt',
    'Knowing a job has finished: Azure ML events and smarter polling',
    'Watching a run: its state, `continue_as_new`, status outages',
    'HTTP API',
    'Errors and limits',
    'Webhooks',
    'Running locally by hand',
    'Local development host',
    'Run dashboard',
    'Deploy',
    'Durable backend: Azure Storage or the Durable Task Scheduler',
    'Roles',
    'What azd cannot do for you',
    'Data Factory: `adf/pipeline.json` replaces Run-BatchEndpoint',
    'Telemetry',
    'Tests and benchmarks',
    'The real worker, and the local host held to it',
    'Tested set = deployed set',
    'What the crash benchmark proves',
    'Layout',
]


def _headings(path: Path) -> list[str]:
    return [m.group(1).strip() for line in _outside_code(path.read_text()) if (m := re.match(r"#{2,6} (.+)", line))]


def test_no_section_of_the_manual_was_lost_or_written_twice():
    found = [h for page in PAGES if page.name != "ARCHITECTURE.md" for h in _headings(page)]
    assert {h: found.count(h) for h in MANUAL_HEADINGS if found.count(h) != 1} == {}

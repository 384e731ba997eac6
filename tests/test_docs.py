"""The documentation: the README is a front page, and the site in docs/ builds with `mkdocs build --strict` (no
broken link, no page outside the navigation), with its reference pages generated from the code."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_is_a_front_page_with_the_one_command_of_each_job():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    for command in ("make demo", "make test", "medxai train", "medxai explain", "medxai stack up",
                    "medxai dashboard", "medxai pacs receive"):
        assert command in text, command
    for link in ("docs/guides/ml-engineer.md", "docs/guides/platform-engineer.md", "docs/guides/clinician.md",
                 "docs/guides/pacs-administrator.md", "docs/guides/researcher.md"):
        assert f"]({link})" in text and (ROOT / link).is_file(), link


def test_the_site_builds_strictly_with_generated_reference_pages(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent)})
    assert result.returncode == 0, result.stdout + result.stderr
    cli = (ROOT / "docs" / "reference" / "cli.md").read_text()
    for command in ("medxai train", "medxai scope fit", "medxai bench scope", "medxai pacs receive", "medxai serve"):
        assert f"## `{command}`" in cli, command
    grpc = (ROOT / "docs" / "reference" / "grpc.md").read_text()
    assert "## service `ExplainService`" in grpc and "## message `Scope`" in grpc
    assert "MEDXAI_PRECISION" in (ROOT / "docs" / "reference" / "configuration.md").read_text()
    assert (tmp_path / "reference" / "python" / "index.html").is_file()


def test_every_link_of_a_written_page_reads_on_github_too():
    """Links of the written pages and the README resolve to committed files (or folders of them), not to pages or
    figures that only the site build generates (the hook points links into `reports/` at its copies)."""
    listed = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the committed files are unknown")
    committed = {ROOT / name for name in listed.stdout.splitlines()}
    committed |= {folder for path in committed for folder in path.parents}
    pages = [ROOT / "README.md", *(path for path in (ROOT / "docs").rglob("*.md") if path in committed)]
    broken = []
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", re.sub(r"`[^`\n]*`", "", text)):
            path = target.split("#")[0]
            if not path or re.match(r"[a-z]+:", path) or path.startswith("/"):
                continue
            if (page.parent / path).resolve() not in committed:
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, broken

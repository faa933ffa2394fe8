"""No secret in the repository: every text file that git would track (everything not matched by
.gitignore, outside .git/) is scanned for Replicate API tokens, Standard Webhooks signing secrets,
AWS access keys and private keys. (The template's own IAM/secrets checks are in test_template.py;
that no secret reaches a log at run time is tests/security/test_secrets_in_logs.py.)

Fake secrets in tests are allowed only when they are visibly fake: a `whsec_` whose decoded bytes
are readable text naming a test/sample, the public Standard Webhooks example secret, or AWS's
documented example key. A real secret is random bytes and never passes that."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path

import pathspec
import pytest

pytestmark = [pytest.mark.unit, pytest.mark.security]
ROOT = Path(__file__).resolve().parents[3]

PATTERNS = {
    "Replicate API token": re.compile(r"r8_[A-Za-z0-9]{30,}"),
    "webhook signing secret": re.compile(r"whsec_[A-Za-z0-9+/]{24,}={0,2}"),
    "AWS access key id": re.compile(r"(?:AKIA|ASIA)[0-9A-Z]{16}"),
    "AWS secret access key": re.compile(r"(?i)aws_secret_access_key[\"']?\s*[=:]\s*[\"']?[A-Za-z0-9/+]{40}"),
    "private key": re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----"),
}
PUBLIC_EXAMPLES = {
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",  # the Standard Webhooks specification's example secret
    "AKIAIOSFODNN7EXAMPLE",  # AWS documentation's example key id
}


def tracked_text_files() -> list[Path]:
    ignored = pathspec.GitIgnoreSpec.from_lines((ROOT / ".gitignore").read_text().splitlines())
    files = []
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT).as_posix()
        if relative == ".git" or relative.startswith(".git/") or not path.is_file() or ignored.match_file(relative):
            continue
        head = path.read_bytes()[:8192]
        if b"\0" not in head:
            files.append(path)
    return files


def visibly_fake(kind: str, value: str) -> bool:
    if value in PUBLIC_EXAMPLES:
        return True
    if kind != "webhook signing secret":
        return False
    try:
        decoded = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return False
    text = decoded.decode("ascii", "replace")
    return text.isprintable() and any(word in text for word in ("test", "sample", "example", "fake"))


def test_given_the_repository_when_scanned_then_it_has_text_files_to_scan():
    files = {p.relative_to(ROOT).as_posix() for p in tracked_text_files()}
    assert {"template.yaml", "README.md", "functions/api/app.py", "tests/conftest.py"} <= files
    assert not any(f.startswith((".venv/", "out/", "test-artifacts/")) for f in files)


def test_given_every_tracked_text_file_when_scanned_then_no_real_secret_is_found():
    found = []
    for path in tracked_text_files():
        text = path.read_text("utf-8", errors="replace")
        for kind, pattern in PATTERNS.items():
            for match in pattern.finditer(text):
                if not visibly_fake(kind, match.group(0)):
                    line = text.count("\n", 0, match.start()) + 1
                    found.append(f"{path.relative_to(ROOT)}:{line}: {kind} {match.group(0)[:12]}…")
    assert found == []


@pytest.mark.parametrize(("kind", "value"), [
    ("Replicate API token", "r8_" + "Ab3" * 12),
    ("webhook signing secret", "whsec_" + base64.b64encode(bytes(range(200, 232))).decode()),
    ("AWS access key id", "AKIA" + "Q7" * 8),
    ("AWS secret access key", "aws_secret_access_key = " + "wJalrXUtnFEMIK7MDENGbPxRfiCY" + "A1b2C3d4E5f6"),
    ("private key", "-----BEGIN RSA " + "PRIVATE KEY-----"),
])
def test_given_a_realistic_secret_when_scanned_then_the_scanner_catches_it(kind: str, value: str):
    assert PATTERNS[kind].search(value) and not visibly_fake(kind, PATTERNS[kind].search(value).group(0))

"""The level-1 learning loop: a student commits to answers, asks to see the real run, and the grader can tell.

``dbkata reveal EXERCISE`` records, in the workbook's ``.dbkata/reveals.json``, the sha256 of the
exercise's ``answers.toml`` at the moment the real run was shown. The grader compares it with the
submitted file: not revealed, revealed with the answers unchanged since, or revealed and changed
after. That is information for the instructor; it never changes automatic points.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

REVEALS = Path(".dbkata") / "reveals.json"
NOT_REVEALED = "not revealed"
UNCHANGED = "revealed; answers unchanged since"
CHANGED = "revealed; answers changed after the reveal"


def fingerprint(content: bytes) -> str:
    """The sha256 of an answers file, as recorded at reveal time."""
    return hashlib.sha256(content).hexdigest()


def read_reveals(text: bytes | str | None) -> dict[str, str]:
    """Exercise id → the answers' sha256 at reveal time; an absent or malformed file reveals nothing."""
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(data, dict):
        return {}
    found = {}
    for exercise, entry in data.items():
        if isinstance(entry, dict) and isinstance(entry.get("answers_sha256"), str):
            found[str(exercise)] = entry["answers_sha256"]
    return found


def record_reveal(workbook: Path, exercise: str, answers: bytes) -> None:
    """Remember that ``exercise``'s real run was shown while its answers file held ``answers``."""
    path = workbook / REVEALS
    data = json.loads(path.read_text()) if path.is_file() else {}
    if not isinstance(data, dict):
        data = {}
    data[exercise] = {"answers_sha256": fingerprint(answers)}
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def reveal_status(reveals: dict[str, str], exercise: str, answers: bytes | None) -> str:
    """Whether this exercise was revealed, and whether its submitted answers changed after the reveal."""
    recorded = reveals.get(exercise)
    if recorded is None:
        return NOT_REVEALED
    if answers is not None and fingerprint(answers) == recorded:
        return UNCHANGED
    return CHANGED

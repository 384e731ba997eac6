"""What the release gate recorded about a served model version (`provenance.json` in Triton's repository, written
by `medxai export`): here, the model-randomisation sanity check, which the Structured Report carries."""

import json
from pathlib import Path

PROVENANCE_FILE = "provenance.json"
SANITY_PHRASE = "sanity check"


def sanity_check(repository: Path | None, model: str, version: str) -> bool | None:
    """True if the version passed the sanity check, False if the gate recorded it failing, None if not known
    (no repository given, or no provenance for this version)."""
    if repository is None:
        return None
    path = Path(repository) / model / version / PROVENANCE_FILE
    if not path.is_file():
        return None
    refusals = json.loads(path.read_text()).get("gate_refusals", [])
    return not any(SANITY_PHRASE in reason for reason in refusals)

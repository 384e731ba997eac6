"""What Triton's repository says about each published version (`provenance.json`, written by `medxai
export`): checkpoint, architecture, validation metrics, calibration, parity, and the release gate's refusals, the
model-randomisation sanity check among them. Read only when the dashboard is given the repository folder."""

import json
from pathlib import Path

PROVENANCE_FILE = "provenance.json"
SANITY_PHRASE = "sanity check"


def read_provenance(repository: Path | None, model: str, version: str) -> dict | None:
    if repository is None:
        return None
    path = repository / model / version / PROVENANCE_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def gate_result(provenance: dict | None) -> str:
    if provenance is None:
        return "unknown (no model repository given)"
    refusals = provenance.get("gate_refusals", [])
    return "passed" if not refusals else "released despite: " + "; ".join(refusals)


def sanity_result(provenance: dict | None) -> str:
    """The model-randomisation sanity check of this version, as the release gate recorded it."""
    if provenance is None:
        return "unknown (no model repository given)"
    failed = [reason for reason in provenance.get("gate_refusals", []) if SANITY_PHRASE in reason]
    return f"failed: {failed[0]}" if failed else "passed"


def calibration_result(provenance: dict | None) -> str:
    """The served temperature and the validation ECE before and after it, as training recorded them."""
    if provenance is None:
        return "unknown (no model repository given)"
    calibration = provenance.get("metrics", {}).get("calibration")
    temperature = provenance.get("temperature", 1.0)
    if not calibration or not calibration.get("calibrated"):
        return f"not calibrated (T = {temperature:g})"
    return (f"T = {temperature:.3f}; validation ECE {calibration['ece_before']:.3f} before, "
            f"{calibration['ece_after']:.3f} after" + (f" (fit {calibration['fitted_temperature']:.3f}: "
                                                       f"{calibration['note']})" if calibration.get("note") else ""))

"""The Models page's calibration line, from a version's provenance.json."""

from dashboard.provenance import calibration_result


def test_calibration_line_names_the_temperature_and_ece_before_and_after():
    provenance = {"temperature": 1.6, "metrics": {"calibration": {"calibrated": True, "temperature": 1.6,
                                                                  "ece_before": 0.0812, "ece_after": 0.0231}}}
    assert calibration_result(provenance) == "T = 1.600; validation ECE 0.081 before, 0.023 after"


def test_a_fit_that_was_not_applied_says_why():
    calibration = {"calibrated": True, "temperature": 1.0, "fitted_temperature": 0.05, "ece_before": 0.068,
                   "ece_after": 0.068, "note": "not applied: ...; T = 1 kept"}
    assert calibration_result({"temperature": 1.0, "metrics": {"calibration": calibration}}) == (
        "T = 1.000; validation ECE 0.068 before, 0.068 after (fit 0.050: not applied: ...; T = 1 kept)")


def test_an_uncalibrated_or_old_version_says_so():
    assert calibration_result({"metrics": {"validation": {}}}) == "not calibrated (T = 1)"
    assert calibration_result(None).startswith("unknown")

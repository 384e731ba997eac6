"""`medxai pacs ...` as a user meets it: help with an example, and user errors in one line."""

import pytest

from tests.cli import assert_help_with_example, assert_user_error, medxai


@pytest.mark.parametrize("command", ["explain", "receive", "viewer"])
def test_every_pacs_command_has_help_with_an_example(command):
    assert_help_with_example("pacs", command)


@pytest.mark.parametrize("args, message", [
    (["store", "/nonexistent.dcm", "--dicomweb", "http://127.0.0.1:9/dicom-web"], "no DICOM file at /nonexistent.dcm"),
    (["explain", "--dicomweb", "http://127.0.0.1:9/dicom-web", "--study", "1.2.3"], "the PACS at http://127.0.0.1:9"),
    (["viewer", "--ohif", "/nonexistent", "--dicomweb", "http://127.0.0.1:9/dicom-web"], "no OHIF Viewer build in"),
    (["receive", "--dicomweb", "http://127.0.0.1:9/dicom-web", "--dicom-tls-cert", "/etc/hostname"],
     "DICOM over TLS needs all three"),
])
def test_user_errors_exit_2_with_one_clear_line(args, message):
    assert_user_error(medxai("pacs", *args), message)

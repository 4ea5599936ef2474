"""Every record of the app's loggers is redacted before handlers see it; other loggers are untouched."""

import logging
import subprocess
import sys
from pathlib import Path

import shared  # noqa: F401 - importing the package installs the redaction
from shared.log_redaction import RedactingFilter, is_app_logger

SIG = "c2lnbmF0dXJlLXZhbHVl"


def test_app_logger_records_are_redacted_in_message_args_and_traceback(caplog):
    caplog.set_level(logging.DEBUG)
    log = logging.getLogger("shared.some.module")
    log.info("connecting with %s", f"BlobEndpoint=https://a/;SharedAccessSignature=sv=1&sig={SIG}")
    try:
        raise RuntimeError(f"upload failed: https://a.blob.core.windows.net/c/b?sv=1&sig={SIG}")
    except RuntimeError:
        log.exception("copy failed")
    text = caplog.text
    assert SIG not in text
    assert "SharedAccessSignature=***" in text and "sig=***" in text
    assert "RuntimeError" in text  # the traceback itself survives


def test_other_loggers_are_not_rewritten(caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("somelib").info("token sig=%s", "visible")
    assert "sig=visible" in caplog.text
    assert is_app_logger("shared") and is_app_logger("shared.x") and not is_app_logger("sharedx")


def test_a_malformed_record_is_passed_on_unchanged():
    record = logging.LogRecord("shared.x", logging.INFO, __file__, 1, "%s %s", ("only one",), None)
    assert RedactingFilter().filter(record) and record.msg == "%s %s"


def test_importing_function_app_does_not_install_it_but_the_first_shared_import_does():
    root = Path(__file__).resolve().parents[1]
    code = ("import logging, function_app, sys; before = 'shared.log_redaction' in sys.modules;"
            "from shared.http_api import health; import logging;"
            "r = logging.getLogger('shared.t').makeRecord('shared.t', 20, 'f', 1, 'k sig=%s', ('SECRETSIG',), None);"
            "print(before, r.getMessage())")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False k sig=***"

"""The strict profile's body check: an invoke body must have the shape azure-ai-ml's ``invoke()`` sends.

The service itself probably reads keys case-insensitively (contract §1.4, [INFERRED]); the strict profile
does not, because the SDK's shape is the one known to work, so the app must send nothing else
(issue 17). Checked, at every level: keys spelled exactly as the SDK spells them (camelCase), enum values
spelled as the SDK sends them (``UriFolder``, not ``uri_folder``), and no key the service's ``BatchJob``
model does not have (contract §1.4, "Full field list"). Free-form maps (input and output names, ``tags``,
user ``properties``) and the legacy ``dataset``/``outputDataset`` bodies are not looked into.

Refusals use the service's validation-error shape (``validation_error``: 400 ``UserError``, the listing of
``PropertyName``/``ErrorMessage``/``AttemptedValue``); the wording is ours, marked [emulator].
"""
from __future__ import annotations

from typing import Any, Mapping

from .contract import ValidationIssue, validation_error

_FREE = "free"  # a map whose keys are names the client chooses

#: Enum values as the SDK (and the REST model, contract §1.4) spell them.
JOB_INPUT_TYPES = ("UriFile", "UriFolder", "MLTable", "Literal", "CustomModel", "MLFlowModel", "TritonModel")
JOB_OUTPUT_TYPES = ("UriFile", "UriFolder", "MLTable", "CustomModel", "MLFlowModel", "TritonModel")
INPUT_MODES = ("ReadOnlyMount", "ReadWriteMount", "Download", "Direct", "EvalMount", "EvalDownload")
OUTPUT_MODES = ("ReadWriteMount", "Upload")
LOGGING_LEVELS = ("Info", "Warning", "Debug")

_JOB_INPUT = {"jobInputType": JOB_INPUT_TYPES, "uri": None, "mode": INPUT_MODES, "value": None, "description": None}
_JOB_OUTPUT = {"jobOutputType": JOB_OUTPUT_TYPES, "uri": None, "mode": OUTPUT_MODES, "description": None}
_COMPUTE = {"instanceCount": None, "instanceType": None, "isLocal": None, "location": None, "properties": _FREE,
            "target": None}
_RETRY = {"maxRetries": None, "timeout": None}
#: The writable fields of the data-plane ``BatchJob`` (read-only ones such as ``status`` are answers only).
BATCH_JOB: Mapping[str, Any] = {
    "inputData": (_FREE, _JOB_INPUT), "outputData": (_FREE, _JOB_OUTPUT), "compute": _COMPUTE,
    "miniBatchSize": None, "maxConcurrencyPerInstance": None, "errorThreshold": None, "retrySettings": _RETRY,
    "loggingLevel": LOGGING_LEVELS, "outputFileName": None, "name": None, "description": None, "tags": _FREE,
    "properties": _FREE, "partitionKeys": None, "dataset": None, "outputDataset": None,
}
REQUEST = {"properties": BATCH_JOB}


def check_sdk_shape(body: Any) -> None:
    """Raise the service's 400 validation error listing every difference from the SDK's shape."""
    issues: list[ValidationIssue] = []
    if isinstance(body, Mapping):
        _walk(body, REQUEST, "", issues)
    if issues:
        raise validation_error(*issues)


def _walk(value: Mapping[str, Any], schema: Mapping[str, Any], path: str, issues: list[ValidationIssue]) -> None:
    by_lower = {k.lower(): k for k in schema}
    for key, inner in value.items():
        where = f"{path}.{key}" if path else str(key)
        spelled = by_lower.get(str(key).lower())
        if spelled is None:
            issues.append(ValidationIssue(where, f"[emulator] '{key}' is not a property of this object; "
                                                 f"known: {', '.join(schema)}.", key, "UnknownProperty"))
            continue
        if spelled != key:
            issues.append(ValidationIssue(where, f"[emulator] '{key}' is spelled '{spelled}' by the SDK's invoke()"
                                                 f" (property names are matched exactly).", key, "PropertyCasing"))
            continue
        _check(inner, schema[spelled], where, issues)


def _check(value: Any, rule: Any, where: str, issues: list[ValidationIssue]) -> None:
    if rule is None or rule == _FREE:
        return
    if isinstance(rule, tuple) and len(rule) == 2 and rule[0] == _FREE:  # a map of named entries
        if isinstance(value, Mapping):
            for name, entry in value.items():
                if isinstance(entry, Mapping):
                    _walk(entry, rule[1], f"{where}.{name}", issues)
        return
    if isinstance(rule, tuple):  # an enum
        if isinstance(value, str) and value not in rule:
            issues.append(ValidationIssue(where, f"[emulator] '{value}' is not one of {', '.join(rule)} (enum "
                                                 "values as the SDK's invoke() spells them).", value, "EnumValue"))
        return
    if isinstance(value, Mapping):
        _walk(value, rule, where, issues)

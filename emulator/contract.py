"""The invoke body of a batch endpoint: parsing and the service's validation errors.

The service deserialises keys case-insensitively (docs send PascalCase, the Python SDK camelCase), and
accepts enum values both as `UriFolder` and `uri_folder`. Messages below are copied from errors the
service is known to return (contract doc §1.6, §1.11); ones marked [emulator] are our own wording.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from shared.redact import redact, redact_data

VALIDATION_HEADER = ("The Job request provided has the following validation errors. "
                     "Please resolve them and try again.")
OUTPUT_TYPE_MESSAGE = "Job output type must be 'uri_file'."
NO_ROUTE_MESSAGE = ("No valid deployments to route to. Please check that the endpoint has at least one deployment "
                    "with positive weight values or use a deployment specific header to route.")

# Canonical data-plane enum names, keyed by a normalised spelling (lower case, no underscores).
_INPUT_TYPES = {"urifile": "UriFile", "urifolder": "UriFolder", "mltable": "MLTable", "literal": "Literal",
                "custommodel": "CustomModel", "mlflowmodel": "MLFlowModel", "tritonmodel": "TritonModel"}
_SNAKE = {"UriFile": "uri_file", "UriFolder": "uri_folder", "MLTable": "mltable", "Literal": "literal",
          "CustomModel": "custom_model", "MLFlowModel": "mlflow_model", "TritonModel": "triton_model"}


class ContractError(Exception):
    """A request the service would reject; carries the ARM error body."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None):
        message = redact(message)  # messages quote URIs, and an input URL may carry a SAS
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details = redact_data(details) if details else details

    def body(self) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            err["details"] = self.details
        return {"error": err}


@dataclass(frozen=True)
class ValidationIssue:
    property_name: str
    message: str
    attempted: Any = None
    code: str = "PredicateValidator"


def validation_error(*issues: ValidationIssue) -> ContractError:
    """Shape of the service's FluentValidation-style 400 (contract §1.6)."""
    listed = []
    for i in issues:
        item: dict[str, Any] = {"PropertyName": i.property_name, "ErrorMessage": i.message}
        if i.attempted is not None:
            item["AttemptedValue"] = i.attempted
        item["ErrorCode"] = i.code
        listed.append(item)
    message = f"{VALIDATION_HEADER}\nErrors:\n{json.dumps(listed, indent=2)}"
    details = [{"code": i.code, "target": i.property_name, "message": i.message} for i in issues]
    return ContractError(400, "UserError", message, details)


@dataclass(frozen=True)
class JobInput:
    name: str
    type: str  # UriFile | UriFolder
    uri: str


@dataclass(frozen=True)
class JobOutput:
    name: str
    type: str  # always UriFile once validated
    uri: str


@dataclass(frozen=True)
class Overrides:
    """Per-job overrides of the deployment settings (None = use the deployment's)."""
    mini_batch_size: int | None = None
    instance_count: int | None = None
    max_concurrency_per_instance: int | None = None
    error_threshold: int | None = None
    max_retries: int | None = None
    timeout: float | None = None
    output_file_name: str | None = None
    logging_level: str | None = None


@dataclass(frozen=True)
class SubmitRequest:
    input: JobInput
    output: JobOutput | None
    overrides: Overrides
    name: str | None
    experiment_name: str | None
    tags: Mapping[str, str] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)  # user properties (experimentName aside)
    description: str | None = None
    input_echo: Mapping[str, Any] = field(default_factory=dict)  # camelCase echo for the resource
    output_echo: Mapping[str, Any] = field(default_factory=dict)


def ci_get(obj: Any, key: str, default: Any = None) -> Any:
    """Case-insensitive key lookup, as the service's deserialiser does."""
    if not isinstance(obj, Mapping):
        return default
    if key in obj:
        return obj[key]
    low = key.lower()
    for k, v in obj.items():
        if isinstance(k, str) and k.lower() == low:
            return v
    return default


_ISO = re.compile(r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
                  r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$", re.IGNORECASE)


def parse_duration(value: Any) -> float:
    """ISO-8601 duration (PT30S, PT5M, P1DT2H) or plain seconds → seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    m = _ISO.match(str(value).strip()) if value is not None else None
    if not m or value in ("P", "PT") or not any(m.groupdict().values()):
        raise ValueError(f"not an ISO-8601 duration: {value!r}")
    g = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return g["d"] * 86400 + g["h"] * 3600 + g["m"] * 60 + g["s"]


def parse_iso_duration(value: Any) -> float:
    """Strict: only an ISO-8601 duration string (what the SDK sends, ``to_iso_duration_format``)."""
    if not isinstance(value, str):
        raise ValueError(f"not an ISO-8601 duration: {value!r}")
    return parse_duration(value)


def _canonical_type(value: Any) -> str | None:
    return _INPUT_TYPES.get(str(value).replace("_", "").replace("-", "").lower()) if value is not None else None


def parse_submit(raw: bytes) -> SubmitRequest:
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        raise ContractError(400, "BadRequest", f"The request body is not valid JSON: {exc}") from exc
    props = ci_get(body, "properties")
    if not isinstance(props, Mapping):
        raise ContractError(400, "BadRequest", "The request body must be a JSON object with a 'properties' object.")
    job_input = _parse_input(props)
    job_output = _parse_output(props)
    user_properties = ci_get(props, "properties") or {}
    if not isinstance(user_properties, Mapping):
        raise ContractError(400, "BadRequest", "'properties.properties' must be an object.")
    tags = ci_get(props, "tags") or {}
    if not isinstance(tags, Mapping):
        raise ContractError(400, "BadRequest", "'properties.tags' must be an object.")
    return SubmitRequest(
        input=job_input, output=job_output, overrides=_parse_overrides(props),
        name=_opt_str(ci_get(props, "name")),
        experiment_name=_opt_str(ci_get(user_properties, "experimentName")),
        tags={str(k): str(v) for k, v in tags.items()},
        properties={str(k): str(v) for k, v in user_properties.items() if str(k).lower() != "experimentname"},
        description=_opt_str(ci_get(props, "description")),
        input_echo={job_input.name: {"jobInputType": job_input.type, "uri": job_input.uri}},
        output_echo={job_output.name: {"jobOutputType": job_output.type, "uri": job_output.uri}} if job_output else {},
    )


def _opt_str(v: Any) -> str | None:
    return str(v) if v not in (None, "") else None


def _parse_input(props: Mapping[str, Any]) -> JobInput:
    inputs = ci_get(props, "inputData")
    if ci_get(props, "dataset") is not None and not inputs:
        raise ContractError(400, "BadRequest", "[emulator] The legacy 'dataset' body is not emulated; use InputData.")
    if not isinstance(inputs, Mapping) or not inputs:
        raise validation_error(ValidationIssue("InputData", "'Input Data' must not be empty.", code="NotEmptyValidator"))
    if len(inputs) > 1:  # model deployments take exactly one data input (contract §1.5)
        raise validation_error(ValidationIssue("InputData", "[emulator] Model deployments accept exactly one input."))
    name, spec = next(iter(inputs.items()))
    raw_type = ci_get(spec, "jobInputType")
    jtype = _canonical_type(raw_type)
    if jtype not in ("UriFile", "UriFolder"):
        shown = f"{jtype or raw_type}JobInput"
        raise validation_error(ValidationIssue(
            "InputData.Values[0]",
            f"The specified job input type '{shown}' is not supported. "
            "The supported types are: UriFileJobInput, UriFolderJobInput."))
    uri = ci_get(spec, "uri")
    if not isinstance(uri, str) or not uri.strip():
        raise validation_error(ValidationIssue("InputData.Values[0].Uri", "'Uri' must not be empty.",
                                               code="NotEmptyValidator"))
    return JobInput(str(name), jtype, uri.strip())


def _parse_output(props: Mapping[str, Any]) -> JobOutput | None:
    outputs = ci_get(props, "outputData")
    if outputs in (None, {}):
        return None
    if not isinstance(outputs, Mapping):
        raise ContractError(400, "BadRequest", "'OutputData' must be an object.")
    if len(outputs) > 1:  # model deployments have a single output, 'score' (contract §1.6)
        raise validation_error(ValidationIssue(
            "OutputData", f"[emulator] Model deployments have exactly one output; got {len(outputs)}: "
                          f"{', '.join(map(str, outputs))}.", len(outputs)))
    name, spec = next(iter(outputs.items()))
    raw_type = ci_get(spec, "jobOutputType")
    jtype = _canonical_type(raw_type)
    if jtype != "UriFile":
        attempted = _SNAKE.get(jtype or "", str(raw_type))
        raise validation_error(ValidationIssue("OutputData.Values[0].JobOutputType", OUTPUT_TYPE_MESSAGE, attempted))
    uri = ci_get(spec, "uri")
    if not isinstance(uri, str) or not uri.strip():
        raise validation_error(ValidationIssue("OutputData.Values[0].Uri", "'Uri' must not be empty.",
                                               code="NotEmptyValidator"))
    return JobOutput(str(name), jtype, uri.strip())


def _parse_overrides(props: Mapping[str, Any]) -> Overrides:
    issues: list[ValidationIssue] = []

    def as_int(key: str, value: Any, minimum: int) -> int | None:
        if value is None:
            return None
        try:
            n = int(value)
            if n < minimum or (isinstance(value, float) and n != value):
                raise ValueError
            return n
        except (TypeError, ValueError):
            issues.append(ValidationIssue(key, f"'{key}' must be an integer >= {minimum}.", value))
            return None

    retry = ci_get(props, "retrySettings") or {}
    compute = ci_get(props, "compute") or {}
    timeout = None
    if ci_get(retry, "timeout") is not None:
        try:
            timeout = parse_iso_duration(ci_get(retry, "timeout"))
        except ValueError:
            issues.append(ValidationIssue("RetrySettings.Timeout", "'Timeout' must be an ISO-8601 duration.",
                                          ci_get(retry, "timeout")))
    ov = Overrides(
        mini_batch_size=as_int("MiniBatchSize", ci_get(props, "miniBatchSize"), 1),
        instance_count=as_int("Compute.InstanceCount", ci_get(compute, "instanceCount"), 1),
        max_concurrency_per_instance=as_int("MaxConcurrencyPerInstance", ci_get(props, "maxConcurrencyPerInstance"), 1),
        error_threshold=as_int("ErrorThreshold", ci_get(props, "errorThreshold"), -1),
        max_retries=as_int("RetrySettings.MaxRetries", ci_get(retry, "maxRetries"), 0),
        timeout=timeout,
        output_file_name=_opt_str(ci_get(props, "outputFileName")),
        logging_level=_opt_str(ci_get(props, "loggingLevel")),
    )
    if issues:
        raise validation_error(*issues)
    return ov

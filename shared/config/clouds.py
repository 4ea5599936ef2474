"""The Azure cloud the app talks to (pure): token audiences, the ARM base URL and the Studio link.

One app setting, ``AZURE_CLOUD``, decides all three: ``AzurePublicCloud`` (default; ``AzureCloud``, the name
Bicep's ``environment().name`` and the az CLI use, is the same), ``AzureUSGovernment`` or ``AzureChinaCloud``.
Values are the azure-ai-ml SDK's (``_azure_environments.py``: ``RESOURCE_MANAGER_ENDPOINT``,
``AML_RESOURCE_ID``) and the Azure ML network docs (Studio: ``ml.azure.com`` | ``ml.azure.us`` |
``studio.ml.azure.cn``; API hosts: ``*.azureml.ms`` | ``*.ml.azure.us`` | ``*.ml.azure.cn``). An unknown
value is a configuration error that names the setting and the known values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

CLOUD_SETTING = "AZURE_CLOUD"
PUBLIC_ML_SCOPE = "https://ml.azure.com/.default"
PUBLIC_MANAGEMENT_SCOPE = "https://management.azure.com/.default"


@dataclass(frozen=True)
class Cloud:
    name: str
    management_url: str      # ARM, without a trailing '/'
    ml_audience: str         # batch-endpoint data plane (AML_RESOURCE_ID)
    studio_url: str          # Azure ML studio
    api_suffix: str          # regional API host: https://<region>.<api_suffix> (Run History)
    inference_suffix: str    # batch endpoints: https://<endpoint>.<region>.<inference_suffix>/jobs

    @property
    def management_scope(self) -> str:
        return self.management_url + "/.default"

    @property
    def ml_scope(self) -> str:
        return self.ml_audience + "/.default"

    def scope(self, public_scope: str) -> str:
        """The scope of this cloud for a call built with the public cloud's scope constant."""
        if public_scope == PUBLIC_ML_SCOPE:
            return self.ml_scope
        if public_scope == PUBLIC_MANAGEMENT_SCOPE:
            return self.management_scope
        return public_scope


PUBLIC = Cloud("AzurePublicCloud", "https://management.azure.com", "https://ml.azure.com", "https://ml.azure.com",
               "api.azureml.ms", "inference.ml.azure.com")
US_GOVERNMENT = Cloud("AzureUSGovernment", "https://management.usgovcloudapi.net", "https://ml.azure.us",
                      "https://ml.azure.us", "api.ml.azure.us", "inference.ml.azure.us")
CHINA = Cloud("AzureChinaCloud", "https://management.chinacloudapi.cn", "https://ml.azure.cn",
              "https://studio.ml.azure.cn", "api.ml.azure.cn", "inference.ml.azure.cn")

CLOUDS = {c.name: c for c in (PUBLIC, US_GOVERNMENT, CHINA)}
_ALIASES = {"azurecloud": PUBLIC}   # environment().name in Bicep, `az cloud show`


class UnknownCloudError(ValueError):
    pass


def cloud_named(name: Optional[str]) -> Cloud:
    """The cloud ``name`` (case-insensitive); empty or None is the public cloud."""
    if not name or not name.strip():
        return PUBLIC
    wanted = name.strip().lower()
    for cloud in CLOUDS.values():
        if cloud.name.lower() == wanted:
            return cloud
    if wanted in _ALIASES:
        return _ALIASES[wanted]
    shown = name if len(name) <= 40 and name.isprintable() else name[:40].encode("unicode_escape").decode() + "…"
    raise UnknownCloudError(f"{CLOUD_SETTING}: {shown!r} is not a known cloud; use one of"
                            f" {', '.join(CLOUDS)} (AzureCloud is AzurePublicCloud)")


def current_cloud(environ: Optional[Mapping[str, str]] = None) -> Cloud:
    """The cloud the app setting names (``os.environ`` unless ``environ`` is given)."""
    import os

    environ = os.environ if environ is None else environ
    return cloud_named(environ.get("AZURE_CLOUD"))

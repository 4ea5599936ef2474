"""Which Azure cloud the emulator stands in for: the token audiences each plane accepts.

Default: the public cloud (``app.DATA_PLANE_AUDIENCES`` / ``app.MANAGEMENT_AUDIENCES``). ``POST /_emulator/cloud``
with ``{"cloud": "AzureUSGovernment"}`` (or ``AzureChinaCloud``, ``AzurePublicCloud``) makes it accept only that
cloud's audiences (azure-ai-ml ``AML_RESOURCE_ID`` and ``RESOURCE_MANAGER_ENDPOINT``), so a token minted for
another cloud is refused as the real service refuses a wrong audience.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

AUDIENCES = {
    "AzurePublicCloud": None,   # the defaults in app.py
    "AzureUSGovernment": {"data": ("https://ml.azure.us", "https://ml.azure.us/"),
                          "management": ("https://management.core.usgovcloudapi.net/",
                                         "https://management.core.usgovcloudapi.net",
                                         "https://management.usgovcloudapi.net/", "https://management.usgovcloudapi.net")},
    "AzureChinaCloud": {"data": ("https://ml.azure.cn", "https://ml.azure.cn/"),
                        "management": ("https://management.core.chinacloudapi.cn/",
                                       "https://management.core.chinacloudapi.cn",
                                       "https://management.chinacloudapi.cn/", "https://management.chinacloudapi.cn")},
}


def audiences(emu: Any, plane: str, default: tuple[str, ...]) -> tuple[str, ...]:
    chosen = AUDIENCES.get(getattr(emu, "cloud", "AzurePublicCloud") or "AzurePublicCloud")
    return default if chosen is None else chosen[plane]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_emulator/cloud", get_cloud)
    app.router.add_post("/_emulator/cloud", post_cloud)


async def get_cloud(request: web.Request) -> web.Response:
    from .app import EMULATOR_KEY

    return web.json_response({"cloud": getattr(request.app[EMULATOR_KEY], "cloud", "AzurePublicCloud")})


async def post_cloud(request: web.Request) -> web.Response:
    from .app import EMULATOR_KEY, error_response

    try:
        name = (await request.json()).get("cloud")
    except (ValueError, AttributeError):
        name = None
    if name not in AUDIENCES:
        return error_response(400, "BadRequest", f"cloud must be one of {', '.join(AUDIENCES)}")
    request.app[EMULATOR_KEY].cloud = name
    return await get_cloud(request)

"""``GET /api/dashboard``: one self-contained page that shows runs, read from the runs API.

The page is a static file (``dashboard.html``) with its script and styles inline: no build step, no CDN,
nothing fetched from outside, so it works air-gapped. It needs a function key like the rest of the API and
passes the key it was opened with (``?code=``) to the API in the ``x-functions-key`` header; the key is never
written into the page by the server. A Content-Security-Policy allows only that inline script and style (by
hash) and requests to this app.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

import azure.functions as func

PAGE = Path(__file__).with_name("dashboard.html")


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


@lru_cache(maxsize=1)
def _page() -> tuple[bytes, str]:
    html = PAGE.read_text(encoding="utf-8")
    scripts = re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    policy = ("default-src 'none'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none';"
              " frame-ancestors 'none'; script-src " + " ".join(map(_hash, scripts)) +
              "; style-src " + " ".join(map(_hash, styles)))
    return html.encode("utf-8"), policy


def page() -> func.HttpResponse:
    body, policy = _page()
    return func.HttpResponse(body, status_code=200, mimetype="text/html", charset="utf-8", headers={
        "Content-Security-Policy": policy, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer"})

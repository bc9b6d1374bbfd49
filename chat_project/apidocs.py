"""The API's documentation pages, Swagger UI (/api/docs/) and ReDoc (/api/redoc/): their
scripts and styles from drf-spectacular-sidecar on this server, nothing from another origin,
and a Content-Security-Policy that holds them to it.

ReDoc's bundle shows Redocly's logo from cdn.redoc.ly in its sidebar's footer, whatever its
options say: the page hands out the sidecar's bundle itself (`?bundle`), without that one
address.
"""

import gzip
import hashlib
from functools import cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

# Both pages run only scripts from here (Swagger UI's start-up script too: the split view
# serves it at `?script`, not inline). Their elements are styled from their scripts (ReDoc
# writes <style> elements), and ReDoc indexes the schema for its search in a worker it
# makes from a Blob.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "worker-src blob:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
REDOC_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOCLY_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
# An image that fails to decode, without a request: ReDoc then leaves the logo out.
NO_LOGO = b"data:,"


class ContentSecurityPolicy:
    # Pages, read only: DRF's OPTIONS would draw its metadata into the page's template,
    # which needs what `get` puts in its context (a 500).
    http_method_names = ["get", "head"]

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response


class SwaggerView(ContentSecurityPolicy, SpectacularSwaggerSplitView):
    """Swagger UI."""


class RedocView(ContentSecurityPolicy, SpectacularRedocView):
    """ReDoc; `?bundle=<version>` answers its script."""

    @extend_schema(exclude=True)  # a page, not an operation of the API
    def get(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if "bundle" in request.GET:
            return redoc_bundle_response(request)
        return super().get(request, *args, **kwargs)

    def _redoc_standalone(self) -> str:
        # The version in the URL lets browsers keep the script for good.
        return f"{self.request.path}?bundle={redoc_bundle().version}"


class RedocBundle:
    def __init__(self, source: bytes) -> None:
        # Its source map stays a static file (the bundle names it relative to itself).
        source_map = f"sourceMappingURL={static(f'{REDOC_BUNDLE}.map')}".encode()
        self.plain = source.replace(REDOCLY_LOGO, NO_LOGO).replace(
            b"sourceMappingURL=redoc.standalone.js.map", source_map
        )
        self.gzipped = gzip.compress(self.plain, mtime=0)
        self.version = hashlib.sha256(self.plain).hexdigest()[:12]


@cache
def redoc_bundle() -> RedocBundle:
    return RedocBundle(Path(finders.find(REDOC_BUNDLE)).read_bytes())


def redoc_bundle_response(request: HttpRequest) -> HttpResponse:
    bundle = redoc_bundle()
    compressed = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    response = HttpResponse(
        bundle.gzipped if compressed else bundle.plain,
        content_type="text/javascript; charset=utf-8",
    )
    if compressed:
        response["Content-Encoding"] = "gzip"
    response["Vary"] = "Accept-Encoding"
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header takes gzip: named or `*`, with a q above 0."""
    for coding in accept_encoding.split(","):
        name, *parameters = (part.strip() for part in coding.split(";"))
        if name.lower() not in ("gzip", "*"):
            continue
        for parameter in parameters:
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    return float(value) > 0
                except ValueError:
                    return False
        return True
    return False

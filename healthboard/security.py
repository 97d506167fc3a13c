"""The Content-Security-Policy header (Django 5.2 has none built in).

The other security headers come from Django itself, configured in ``healthboard.settings``:
``SecurityMiddleware`` sends X-Content-Type-Options, Referrer-Policy and
Cross-Origin-Opener-Policy, ``XFrameOptionsMiddleware`` sends X-Frame-Options.

The policy (``settings.CONTENT_SECURITY_POLICY``) lets scripts come from this origin only: no
inline script, no ``eval``; every template loads its JavaScript from files. Styles may be
inline because Plotly and htmx set style attributes and add ``<style>`` elements at run time;
a style cannot run code.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from django.conf import settings
from django.http import HttpRequest, HttpResponse


def policy_header(directives: Mapping[str, Sequence[str]]) -> str:
    """``{"script-src": ["'self'"], …}`` → ``"script-src 'self'; …"`` (a directive without
    sources, such as ``upgrade-insecure-requests``, is written alone)."""
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


class ContentSecurityPolicyMiddleware:
    """Adds the policy to every response that does not set its own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.header = policy_header(settings.CONTENT_SECURITY_POLICY)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Content-Security-Policy", self.header)
        return response

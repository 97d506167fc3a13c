"""OpenAPI descriptions of our own authentication classes, so drf-spectacular documents the
bearer tokens (and ``check --deploy`` raises no drf_spectacular.W001 warning). Loaded from
``HealthboardConfig.ready``."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class PersonalTokenScheme(OpenApiAuthenticationExtension):
    target_class = "healthboard.tokens.PersonalTokenAuthentication"
    name = "personalToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A personal API token (`manage.py issue_token --user USERNAME`).",
        }


class IngestTokenScheme(OpenApiAuthenticationExtension):
    target_class = "healthboard.tokens.IngestTokenAuthentication"
    name = "ingestToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A system's ingest token (`manage.py issue_token SYSTEM`); ingest endpoints only.",
        }

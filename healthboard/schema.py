"""OpenAPI schema pieces: the error answers every operation documents (``AutoSchema``, the
``DEFAULT_SCHEMA_CLASS``), and descriptions of our own authentication classes, so drf-spectacular
documents the bearer tokens (and ``check --deploy`` raises no drf_spectacular.W001 warning).
The extensions are loaded from ``HealthboardConfig.ready``."""

from __future__ import annotations

from django.core.validators import ProhibitNullCharactersValidator
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse

from healthboard.api import ApiErrorSerializer

ERROR_DESCRIPTIONS = {
    "400": "Invalid request: a parameter or the body is malformed; `errors` names each field.",
    "401": "No credentials, or a wrong or revoked token.",
    "403": "Authenticated, but not allowed to do this (role or object permission).",
    "404": "No such object, or one the caller may not see.",
}
# No text the API takes may contain NUL (PostgreSQL cannot store it): DRF's CharField refuses it
# in bodies, healthboard.middleware.RejectNulMiddleware in the URL. The schema says so.
NO_NUL = {"pattern": "^[^\\x00]*$"}


def _free_text(schema: dict) -> bool:
    return schema.get("type") == "string" and not {"pattern", "enum", "format"} & schema.keys()


class AutoSchema(SpectacularAutoSchema):
    """Adds the error answers an operation can give, in the DESIGN.md §10 shape
    (``{"message", "errors"}``), to the responses its view declares: 401 when it needs
    credentials, 403 when it acts for a user (who may lack the permission), 404 when its path names an object, 400 when it takes a body or query
    parameters. A response the view documents itself is left as it is."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        codes = []
        security = operation.get("security", [])
        if security and {} not in security:
            codes.append("401")
        if any("cookieAuth" in requirement for requirement in security):
            codes.append("403")  # permissions, and session requests without their CSRF token
        if any(p["in"] == "path" for p in operation.get("parameters", [])):
            codes.append("404")
        if "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", [])):
            codes.append("400")
        for parameter in operation.get("parameters", []):
            if _free_text(parameter.get("schema", {})):
                parameter["schema"].update(NO_NUL)
        responses = operation["responses"]
        for code in sorted(codes):
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    OpenApiResponse(ApiErrorSerializer, description=ERROR_DESCRIPTIONS[code]), code
                )
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if (
            direction == "request"
            and _free_text(schema)
            and any(isinstance(v, ProhibitNullCharactersValidator) for v in field.validators)
        ):
            schema.update(NO_NUL)
        return schema


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

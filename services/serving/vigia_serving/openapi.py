"""The OpenAPI document of the model server (served at /openapi.json, Swagger UI at /docs).

Built from the loaded bundle, so the record schema lists the model's own features.
"""

from __future__ import annotations

from typing import Any

from vigia.bundle import BundleMetadata
from vigia.features import FeatureSpec

DOCS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>Vigía model server</title>
<link rel="stylesheet" href="/static_content/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static_content/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>
"""

_ERROR = {
    "type": "object",
    "properties": {
        "error": {"type": "string"},
        "field": {"type": "string", "description": "Where the input is wrong, e.g. rows[3].shift"},
    },
    "required": ["error"],
}


def _feature_schema(spec: FeatureSpec) -> dict[str, Any]:
    if spec.kind == "categorical":
        schema: dict[str, Any] = {"type": "string", "enum": list(spec.categories or ())}
    else:
        schema = {"type": "number"}
    if spec.nullable:
        schema["nullable"] = True
    return schema


def _row_schemas(meta: BundleMetadata | None) -> tuple[dict[str, Any], dict[str, Any]]:
    if meta is None:
        return {"type": "object"}, {"type": "array"}
    features = meta.schema.features
    record = {
        "type": "object",
        "properties": {f.name: _feature_schema(f) for f in features},
        "required": [f.name for f in features],
        "additionalProperties": False,
    }
    array = {
        "type": "array",
        "description": "Values in schema order: " + ", ".join(f.name for f in features),
        "minItems": len(features),
        "maxItems": len(features),
    }
    return record, array


def _post(summary: str, body: dict[str, Any], ok: dict[str, Any], codes: str) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "200": {"description": "OK", "content": {"application/json": {"schema": ok}}}
    }
    for code in codes.split():
        responses[code] = {
            "description": "Refused",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return {
        "post": {
            "summary": summary,
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": body}},
            },
            "responses": responses,
        }
    }


def build_openapi(meta: BundleMetadata | None) -> dict[str, Any]:
    """The OpenAPI 3.0 document for the model described by ``meta`` (None: not loaded)."""
    record, array = _row_schemas(meta)
    rows = {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": {"oneOf": [record, array]}}},
        "required": ["rows"],
    }
    item = {
        "type": "object",
        "properties": {"prediction_id": {"type": "string"}, "label": {"type": "string"}},
        "required": ["prediction_id", "label"],
    }
    classes = list(meta.classes) if meta else []
    title = f"Vigía model server: {meta.name} {meta.version}" if meta else "Vigía model server"
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": meta.version if meta else "unloaded"},
        "paths": {
            "/predict": _post(
                "Class, probabilities and prediction id for each row",
                rows, {"type": "object"}, "400 413 415 422 503",
            ),
            "/feedback": _post(
                f"The true label ({', '.join(classes) or 'a class'}) of earlier predictions",
                {"oneOf": [item, {"type": "array", "items": item}]},
                {"type": "object"}, "400 404 409 413 415 422 503",
            ),
            "/explain": _post(
                "SHAP attributions of each feature towards the predicted class",
                rows, {"type": "object"}, "400 413 415 422 501 503",
            ),
        },
        "components": {"schemas": {"Error": _ERROR}},
    }

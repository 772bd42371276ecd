"""The OpenAPI document of the model server (served at /openapi.json, Swagger UI at /docs).

Built from the loaded bundle, so the record schema lists the model's own features.
"""

from __future__ import annotations

from typing import Any

from vigia.bundle import BundleMetadata
from vigia.features import FeatureSpec

from .payloads import DEFAULT_PENDING_LIMIT, counting_pattern
from .store import PENDING_ORDERS

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
    responses.update(_refused(codes))
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


def _refused(codes: str) -> dict[str, Any]:
    return {
        code: {
            "description": "Refused",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes.split()
    }


def _feedback_item(classes: list[str]) -> dict[str, Any]:
    pid = {"type": "string", "description": "The id /predict returned"}
    label: dict[str, Any] = {"type": "string", "description": "The true class"}
    if classes:
        label["enum"] = classes
    correct = {
        "type": "boolean",
        "description": "Whether the prediction was right (when the true class is not given)",
    }
    return {"oneOf": [
        {"type": "object", "properties": {"prediction_id": pid, "label": label},
         "required": ["prediction_id", "label"], "additionalProperties": False},
        {"type": "object", "properties": {"prediction_id": pid, "correct": correct},
         "required": ["prediction_id", "correct"], "additionalProperties": False},
    ]}


def _value_item() -> dict[str, Any]:
    """A regressor's feedback item: the true value."""
    return {
        "type": "object",
        "properties": {
            "prediction_id": {"type": "string", "description": "The id /predict returned"},
            "value": {"type": "number", "description": "The true value, in the model's units"},
        },
        "required": ["prediction_id", "value"], "additionalProperties": False,
    }


def _pending(max_limit: int) -> dict[str, Any]:
    row = {
        "type": "object",
        "properties": {
            "prediction_id": {"type": "string"},
            "created_at": {"type": "string", "format": "date-time"},
            "version": {"type": "string"},
            "track": {"type": "string"},
            "inputs": {"type": "object", "nullable": True,
                       "description": "The features, null when they were not logged"},
            "class": {"type": "string"},
            "probabilities": {"type": "object", "additionalProperties": {"type": "number"}},
            "confidence": {"type": "number", "nullable": True},
        },
        "required": ["prediction_id", "created_at", "version", "track", "inputs", "class",
                     "probabilities", "confidence"],
    }
    answer = {
        "type": "object",
        "properties": {
            "model": {"type": "string"},
            "order": {"type": "string", "enum": list(PENDING_ORDERS)},
            "pending": {"type": "array", "items": row},
        },
        "required": ["model", "order", "pending"],
    }
    return {"get": {
        "summary": "Logged predictions still without feedback: the least confident first, "
                   "or a random sample",
        "parameters": [
            {"name": "limit", "in": "query", "required": False,
             "description": f"How many, a whole number from 1 to {max_limit}",
             "schema": {"type": "string", "pattern": counting_pattern(max_limit),
                        "default": str(min(DEFAULT_PENDING_LIMIT, max_limit))}},
            {"name": "order", "in": "query", "required": False,
             "schema": {"type": "string", "enum": list(PENDING_ORDERS),
                        "default": "uncertain"}},
        ],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {"schema": answer}}},
            **_refused("422 503"),
        },
    }}


_CLASSIFICATION_SAYS = {
    "predict": "Class, probabilities and prediction id for each row",
    "feedback": "",
    "explain": "SHAP attributions of each feature towards the predicted class",
}
_REGRESSION_SAYS = {
    "predict": "Value, prediction interval (when the bundle has one) and prediction id "
               "for each row",
    "feedback": "The true value of earlier predictions, in the model's units",
    "explain": "SHAP attributions of each feature towards the predicted value",
}


def build_openapi(meta: BundleMetadata | None, max_pending: int = 1000) -> dict[str, Any]:
    """The OpenAPI 3.0 document for the model described by ``meta`` (None: not loaded);
    the labelling queue gives at most ``max_pending`` predictions at once."""
    record, array = _row_schemas(meta)
    rows = {
        "type": "object",
        "properties": {"rows": {"type": "array", "items": {"oneOf": [record, array]}}},
        "required": ["rows"],
    }
    classes = list(meta.classes) if meta else []
    regression = meta is not None and meta.is_regression
    item = _value_item() if regression else _feedback_item(classes)
    title = f"Vigía model server: {meta.name} {meta.version}" if meta else "Vigía model server"
    said = _REGRESSION_SAYS if regression else _CLASSIFICATION_SAYS
    feedback_says = said["feedback"] or (
        f"The true label ({', '.join(classes) or 'a class'}) of earlier predictions, "
        "or whether they were right")
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": meta.version if meta else "unloaded"},
        "paths": {
            "/predict": _post(
                said["predict"],
                rows, {"type": "object"}, "400 413 415 422 503",
            ),
            "/feedback": _post(
                feedback_says,
                {"oneOf": [item, {"type": "array", "items": item}]},
                {"type": "object"}, "400 404 409 413 415 422 503",
            ),
            "/feedback/pending": _pending(max_pending),
            "/explain": _post(
                said["explain"],
                rows, {"type": "object"}, "400 413 415 422 501 503",
            ),
        },
        "components": {"schemas": {"Error": _ERROR}},
    }

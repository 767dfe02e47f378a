"""The OpenAPI 3 document of the blob, upload, batch existence, warm and metrics endpoints, at
/openapi.json.

CI runs schemathesis against a live server with it (tests/web/test_openapi.py): every
response's status, content type and body must be one the document names.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import reverse

from .missing import MAX_HASHES
from .responses import allow_methods
from .warm import MAX_CHUNK_SIZE

SHA1 = {"type": "string", "pattern": "^(sha1://)?[0-9a-fA-F]{40}$", "example": "4" * 40}
ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {
        400: "Malformed input",
        401: "No (valid) token or session",
        403: "Missing permission or scope, a bad signature or a failed CSRF check",
        404: "Not found",
        405: "Method not allowed",
        409: "No tier can take the request",
        411: "A chunked body: send it with a Content-Length",
        413: "Too large",
        415: "A form instead of the file itself",
        416: "The range holds no byte of the blob",
        503: "A tier (or the Celery broker) could not be asked: retry later",
    }
    return {
        str(code): {
            "description": reasons[code],
            "content": {"application/json": {"schema": ERROR}},
        }
        for code in codes
    }


def _blob_bytes(description: str) -> dict[str, Any]:
    content = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
    return {"description": description, "content": content}


UPLOAD_BODY = {
    "required": True,
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}
STORED = {
    "description": "Stored (201) or held by a tier already, nothing written (200)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Stored"}}},
}
UPLOAD_ERRORS = _errors(400, 401, 403, 409, 411, 413, 415, 503)


def _paths(prefix: str) -> dict[str, Any]:
    sha1_parameter = {"name": "sha1", "in": "path", "required": True, "schema": SHA1}
    return {
        f"{prefix}blobs/{{sha1}}": {
            "parameters": [sha1_parameter],
            "get": {
                "operationId": "getBlob",
                "summary": "The blob, streamed; one Range; ETag and If-None-Match",
                "parameters": [
                    {"name": "download", "in": "query", "schema": {"type": "string"}},
                    {"name": "Range", "in": "header", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _blob_bytes("The blob"),
                    "206": _blob_bytes("One range of the blob"),
                    "304": {"description": "The client holds these bytes"},
                    **_errors(400, 401, 403, 404, 416, 503),
                },
            },
            "put": {
                "operationId": "putBlob",
                "summary": "Upload the body as this blob (checked against the SHA1)",
                "requestBody": UPLOAD_BODY,
                "responses": {"200": STORED, "201": STORED, **UPLOAD_ERRORS},
            },
        },
        f"{prefix}blobs": {
            "post": {
                "operationId": "postBlob",
                "summary": "Upload the body as a blob; answers its SHA1",
                "requestBody": UPLOAD_BODY,
                "responses": {"200": STORED, "201": STORED, **UPLOAD_ERRORS},
            }
        },
        f"{prefix}blobs/missing": {
            "post": {
                "operationId": "findMissingBlobs",
                "summary": "Which of these SHA1s no tier holds (existence checks only)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/MissingRequest"}
                        }
                    },
                },
                "responses": {
                    "200": {
                        "description": "The SHA1s no tier holds, lower case, in input order",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Missing"}}
                        },
                    },
                    **_errors(400, 401, 403, 413, 503),
                },
            }
        },
        f"{prefix}warm": {
            "post": {
                "operationId": "startWarmJob",
                "summary": "Enqueue a warm job for a list of SHA1s",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/WarmRequest"}}
                    },
                },
                "responses": {
                    "202": {
                        "description": "Enqueued",
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/WarmStarted"}
                            }
                        },
                    },
                    **_errors(400, 401, 403, 409, 413, 503),
                },
            }
        },
        f"{prefix}warm/{{job_id}}": {
            "get": {
                "operationId": "getWarmJob",
                "summary": "A warm job's progress and counts",
                "parameters": [
                    {
                        "name": "job_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The job",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/WarmJob"}}
                        },
                    },
                    **_errors(401, 403, 404),
                },
            }
        },
        f"{prefix}metrics": {
            "get": {
                "operationId": "getMetrics",
                "summary": "Prometheus metrics (METRICS_ALLOWED_IPS or METRICS_TOKEN)",
                "security": [{}, {"metricsToken": []}],
                "responses": {
                    "200": {
                        "description": "Metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_errors(401, 403),
                },
            }
        },
    }


COUNT = {"type": "integer", "minimum": 0}
WHEN = {"type": ["string", "null"], "format": "date-time"}
SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "Stored": {
        "type": "object",
        "required": ["sha1", "size", "created", "url"],
        "properties": {
            "sha1": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
            "size": COUNT,
            "created": {"type": "boolean"},
            "url": {"type": "string"},
        },
    },
    "MissingRequest": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}, "maxItems": MAX_HASHES},
            {
                "type": "object",
                "required": ["hashes"],
                "properties": {
                    "hashes": {"type": "array", "items": {"type": "string"}},
                    "include_paid": {"type": "boolean"},
                },
            },
        ]
    },
    "Missing": {
        "type": "object",
        "required": ["missing"],
        "properties": {
            "missing": {"type": "array", "items": {"type": "string", "pattern": "^[0-9a-f]{40}$"}}
        },
    },
    "WarmRequest": {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
            {
                "type": "object",
                "required": ["hashes"],
                "properties": {
                    "hashes": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                    "chunk_size": {"type": "integer", "minimum": 1, "maximum": MAX_CHUNK_SIZE},
                },
            },
        ]
    },
    "WarmStarted": {
        "type": "object",
        "required": ["id", "url", "total", "malformed"],
        "properties": {"id": COUNT, "url": {"type": "string"}, "total": COUNT, "malformed": COUNT},
    },
    "WarmJob": {
        "type": "object",
        "required": ["id", "status", "total", "processed", "progress"],
        "properties": {
            "id": COUNT,
            "status": {"enum": ["queued", "running", "done", "done_with_errors"]},
            "total": COUNT,
            "processed": COUNT,
            "progress": {"type": "number", "minimum": 0, "maximum": 1},
            **{name: COUNT for name in ("already_cached", "warmed", "not_found", "invalid")},
            **{name: COUNT for name in ("failed", "malformed", "bytes", "chunks")},
            "created_at": WHEN,
            "started_at": WHEN,
            "finished_at": WHEN,
            "failed_hashes": {"type": "array", "items": {"type": "string"}},
            "invalid_hashes": {"type": "array", "items": {"type": "string"}},
        },
    },
}


def build(prefix: str) -> dict[str, Any]:
    """Return the document for endpoints mounted under the path `prefix` ("/bitstore/")."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "bitstore", "version": "1", "description": "Blobs by SHA1."},
        "paths": _paths(prefix),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer", "description": "An API token"},
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
                "metricsToken": {"type": "http", "scheme": "bearer"},
            },
        },
        "security": [{"token": []}, {"session": []}],
    }


@allow_methods("GET")
def document(request: HttpRequest) -> JsonResponse:
    """Serve the OpenAPI document, for the prefix the endpoints are mounted under."""
    prefix = reverse("bitstore:openapi").removesuffix("openapi.json")
    return JsonResponse(build(prefix), headers={"Access-Control-Allow-Origin": "*"})

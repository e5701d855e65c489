"""The hub's OpenAPI 3.0 description, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from sync.protocol import MAX_BATCH_RECORDS, WIRE_FIELDS

NULLABLE_STRING = {"type": "string", "nullable": True}
NULLABLE_NUMBER = {"type": "number", "nullable": True}


def _record_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {
        "id": {"type": "string", "format": "uuid"},
        "kiosk_id": {"type": "string"},
        "epoch": {"type": "string"},
        "seq": {"type": "integer", "minimum": 1},
        "kind": {"type": "string"},
        "wall_time": {"type": "string"},
        "clock_synced": {"type": "integer", "enum": [0, 1]},
        "boot_id": {"type": "string"},
        "boottime_ns": {"type": "integer"},
        "verdict": NULLABLE_STRING,
        "reason": NULLABLE_STRING,
        "estimate_c": NULLABLE_NUMBER,
        "threshold_c": NULLABLE_NUMBER,
        "object_c": NULLABLE_NUMBER,
        "ambient_c": NULLABLE_NUMBER,
        "pass_code": NULLABLE_STRING,
        "links_to": NULLABLE_STRING,
        "detail": {"type": "string", "description": "JSON text, as hashed"},
        "prev_hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
        "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    }
    assert set(properties) == set(WIRE_FIELDS)
    return {"type": "object", "properties": properties, "required": list(WIRE_FIELDS)}


def _error() -> dict[str, Any]:
    return {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def openapi_document() -> dict[str, Any]:
    ref = lambda name: {"$ref": f"#/components/schemas/{name}"}  # noqa: E731
    secured = [{"kioskToken": []}]
    page = [
        {
            "name": "since",
            "in": "query",
            "schema": {"type": "integer", "minimum": 0, "maximum": 2**62},
        },
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
        },
    ]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Menwei hub",
            "version": "1",
            "description": "Kiosks push ledger events and pull the roster. "
            "See docs/sync-protocol.md.",
        },
        "paths": {
            "/api/v1/enrol": {
                "post": {
                    "summary": "Trade a one-time enrolment code for a kiosk token",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["code"],
                                    "properties": {"code": {"type": "string", "maxLength": 64}},
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["kiosk_id", "token"],
                                "properties": {
                                    "kiosk_id": {"type": "string"},
                                    "token": {"type": "string"},
                                },
                            }
                        ),
                        "400": _error(),
                        "403": _error(),
                    },
                }
            },
            "/api/v1/events": {
                "post": {
                    "summary": "Store a batch of ledger events; answers per record",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["records"],
                                    "properties": {
                                        "records": {
                                            "type": "array",
                                            "maxItems": MAX_BATCH_RECORDS,
                                            "items": ref("Record"),
                                        },
                                        "queue": {"type": "integer", "minimum": 0},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["results"],
                                "properties": {
                                    "results": {"type": "array", "items": ref("Result")}
                                },
                            }
                        ),
                        "400": _error(),
                        "401": _error(),
                        "403": _error(),
                        "413": _error(),
                        "429": _error(),
                    },
                }
            },
            "/api/v1/held": {
                "post": {
                    "summary": "Which of these record ids does the hub hold?",
                    "security": secured,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["ids"],
                                    "properties": {
                                        "ids": {
                                            "type": "array",
                                            "maxItems": 1000,
                                            "items": {"type": "string", "maxLength": 64},
                                        }
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["held"],
                                "properties": {
                                    "held": {"type": "array", "items": {"type": "string"}}
                                },
                            }
                        ),
                        "400": _error(),
                        "401": _error(),
                        "403": _error(),
                    },
                }
            },
            "/api/v1/checkpoint": {
                "get": {
                    "summary": "What the hub holds of this kiosk, per epoch",
                    "security": secured,
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["kiosk_id", "epochs"],
                                "properties": {
                                    "kiosk_id": {"type": "string"},
                                    "epochs": {"type": "array", "items": ref("Epoch")},
                                },
                            }
                        ),
                        "401": _error(),
                        "403": _error(),
                    },
                }
            },
            "/api/v1/roster": {
                "get": {
                    "summary": "Roster changes after a version: passes, guards, areas, settings",
                    "security": secured,
                    "parameters": page,
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["version", "changes", "more"],
                                "properties": {
                                    "version": {"type": "integer"},
                                    "more": {"type": "boolean"},
                                    "changes": {"type": "array", "items": ref("Change")},
                                },
                            }
                        ),
                        "400": _error(),
                        "401": _error(),
                        "403": _error(),
                    },
                }
            },
            "/api/v1/ledger": {
                "get": {
                    "summary": "All stored events for other systems, paged by ingest sequence",
                    "security": [{"readerToken": []}],
                    "parameters": page,
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["next_since", "events", "more"],
                                "properties": {
                                    "next_since": {"type": "integer"},
                                    "more": {"type": "boolean"},
                                    "events": {"type": "array", "items": ref("Stored")},
                                },
                            }
                        ),
                        "400": _error(),
                        "401": _error(),
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {
                "kioskToken": {"type": "http", "scheme": "bearer"},
                "readerToken": {"type": "http", "scheme": "bearer"},
            },
            "schemas": {
                "Record": _record_schema(),
                "Result": {
                    "type": "object",
                    "required": ["id", "status"],
                    "properties": {
                        "id": NULLABLE_STRING,
                        "status": {
                            "type": "string",
                            "enum": ["stored", "duplicate", "quarantined", "conflict"],
                        },
                        "reason": {"type": "string"},
                    },
                },
                "Epoch": {
                    "type": "object",
                    "required": ["epoch", "count", "max_seq"],
                    "properties": {
                        "epoch": {"type": "string"},
                        "count": {"type": "integer"},
                        "max_seq": {"type": "integer"},
                    },
                },
                "Change": {
                    "type": "object",
                    "required": ["version", "kind", "key", "data"],
                    "properties": {
                        "version": {"type": "integer"},
                        "kind": {"type": "string"},
                        "key": {"type": "string"},
                        "data": {"type": "object", "nullable": True},
                    },
                },
                "Stored": {
                    "type": "object",
                    "required": ["ingest_seq", "chain_ok", "record"],
                    "properties": {
                        "ingest_seq": {"type": "integer"},
                        "chain_ok": {"type": "boolean"},
                        "record": ref("Record"),
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }

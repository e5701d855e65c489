"""The hub's OpenAPI 3.0 description, served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from sync.contract import FIELD_RULES, WIRE_FIELDS, FieldRule
from sync.protocol import MAX_BATCH_RECORDS, OPTIONAL_FIELDS

NULLABLE_STRING = {"type": "string", "nullable": True}


def _property(rule: FieldRule) -> dict[str, Any]:
    """One wire field's schema, from its rule in sync.protocol (the one declaration)."""
    prop: dict[str, Any] = {"type": rule.type}
    if rule.nullable:
        prop["nullable"] = True
    for key, value in (
        ("maxLength", rule.max_length),
        ("pattern", rule.pattern),
        ("minimum", rule.minimum),
        ("maximum", rule.maximum),
        ("description", rule.description or None),
    ):
        if value is not None:
            prop[key] = value
    if rule.enum is not None:
        prop["enum"] = [*rule.enum, None] if rule.nullable else list(rule.enum)
    return prop


def _record_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {name: _property(rule) for name, rule in FIELD_RULES.items()},
        "required": [name for name in WIRE_FIELDS if name not in OPTIONAL_FIELDS],
        "additionalProperties": False,
    }


def _error() -> dict[str, Any]:
    return {
        "description": "error",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _json(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def openapi_document() -> dict[str, Any]:
    secured: list[dict[str, list[str]]] = [{"kioskToken": []}]
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
    # The settings version the kiosk runs (docs/sync-protocol.md); absent: unknown.
    settings_version = {
        "type": "integer",
        "minimum": 0,
        "maximum": 2**62,
        "nullable": True,
        "description": "The roster version of the newest setting change the kiosk has applied",
    }
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
                                    "properties": {
                                        "code": {"type": "string", "maxLength": 64},
                                        "epoch": _property(FIELD_RULES["epoch"]),
                                        "next_seq": _property(FIELD_RULES["seq"]),
                                    },
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
                                    "chain_key": NULLABLE_STRING,
                                    "visitor_id_key": NULLABLE_STRING,
                                },
                            }
                        ),
                        "400": _error(),
                        "403": _error(),
                        "413": _error(),
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
                                        "settings_version": settings_version,
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
                        "413": _error(),
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
                    "summary": "Roster changes of the kiosk's compound (passes, guards, settings)",
                    "security": secured,
                    "parameters": [
                        *page,
                        {
                            "name": "settings_version",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0, "maximum": 2**62},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["version", "changes", "more", "settings_version"],
                                "properties": {
                                    "version": {"type": "integer"},
                                    "more": {"type": "boolean"},
                                    "settings_version": {"type": "integer", "minimum": 0},
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
                    "summary": "The events of the reader token's compound, by ingest sequence",
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

"""The OpenAPI 3.1 description of the kiosk API, served at /api/v1/openapi.json (format version 1)."""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}
CODE = {"type": "string", "minLength": 1, "maxLength": 200,
        "description": "The ballot's code as printed (dashes optional) or the whole QR payload."}
ROUND = {"type": "integer", "minimum": 1, "maximum": 2147483647,
         "description": "The round the kiosk serves; a ballot of another round is refused."}


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before sending again", "schema": {"type": "integer"}}}
WAIT = {429: "A code that matched no ballot, from a tablet or network that sent many lately: wait Retry-After "
             "seconds before the next code",
        503: "The server is busy or cannot reach its database: nothing was acknowledged; send the same request "
             "again (the same submission id) after Retry-After seconds"}


def _refusals(*statuses: int) -> dict:
    return {str(status): {"description": WAIT.get(status, "Refused, with a message in Vietnamese"),
                          "content": {"application/json": {"schema": ERROR}},
                          **({"headers": RETRY_AFTER} if status in WAIT else {})} for status in statuses}


def _json_body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def document() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "TrustVote kiosk API", "version": "1",
                 "description": "Open and cast one-time ballots from a tablet. The ballot's secret travels only "
                                "in request bodies."},
        "servers": [{"url": "/api/v1"}],
        "paths": {
            "/ballots/open": {"post": {
                "operationId": "openBallot",
                "summary": "Show the ballot a code opens, if it can be cast now",
                "requestBody": _json_body({"type": "object", "required": ["code"], "additionalProperties": False,
                                           "properties": {"code": CODE, "round": ROUND}}),
                "responses": {"200": {"description": "The round and its candidates", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Ballot"}}}},
                    **_refusals(400, 404, 409, 410, 413, 415, 429, 503)},
            }},
            "/ballots": {"post": {
                "operationId": "castBallot",
                "summary": "Cast a ballot: one mark per candidate, exactly once",
                "requestBody": _json_body({
                    "type": "object", "required": ["code", "marks", "submission"], "additionalProperties": False,
                    "properties": {
                        "code": CODE, "round": ROUND,
                        "marks": {"type": "string", "pattern": "^[0-3]{1,200}$",
                                  "description": "One digit per candidate in ballot order: 0 none, 1 high trust, "
                                                 "2 trust, 3 low trust."},
                        "submission": {"type": "string", "pattern": "^[A-Za-z0-9_-]{16,64}$",
                                       "description": "A random id the tablet chooses once per ballot and sends "
                                                      "again when it retries."}}}),
                "responses": {
                    "201": {"description": "Recorded", "content": {"application/json": {"schema": {
                        "$ref": "#/components/schemas/Recorded"}}}},
                    "200": {"description": "Already recorded (a retry of the same submission)", "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Recorded"}}}},
                    **_refusals(400, 404, 409, 410, 413, 415, 429, 503)},
            }},
            "/scan": {"post": {
                "operationId": "scanFrame",
                "summary": "Read the QR code in a camera frame",
                "requestBody": {"required": True, "content": {
                    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                    "image/png": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {"200": {"description": "Whether a QR code was found, and its text", "content": {
                    "application/json": {"schema": {"type": "object", "required": ["found"], "properties": {
                        "found": {"type": "boolean"}, "text": {"type": "string"}}}}}},
                    **_refusals(400, 413, 503)},
            }},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error", "message"],
                      "properties": {"error": {"type": "string"}, "message": {"type": "string"}}},
            "Ballot": {"type": "object", "required": ["round", "title", "candidates", "invalid_mark_policy"],
                       "properties": {
                           "round": {"type": "integer"}, "committee": {"type": "string"},
                           "conference": {"type": "string"}, "title": {"type": "string"},
                           "invalid_mark_policy": {"enum": ["ballot", "row"]},
                           # what the delegate does with the paper sheet once the tablet ballot is recorded
                           "after_vote": {"type": "string"},
                           "candidates": {"type": "array", "items": {
                               "type": "object", "required": ["name", "post"],
                               "properties": {"name": {"type": "string"}, "post": {"type": "string"}}}}}},
            "Recorded": {"type": "object", "required": ["status", "message"], "properties": {
                "status": {"enum": ["recorded", "already_recorded"]}, "message": {"type": "string"}}},
        }},
    }

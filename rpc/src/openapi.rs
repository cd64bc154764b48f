//! The OpenAPI 3.1 document of the HTTP gateway ([`crate::gateway`]), served at
//! `GET /v1/openapi.json`. The transaction and receipt schemas are derived from the wire types
//! (`schemars`), as in the OpenRPC document; a test keeps the copy in `specs/openapi.json`
//! current, and schemathesis checks the running gateway against it.

use schemars::generate::SchemaSettings;
use serde_json::{json, Value};

use crate::error::ErrorCode;
use crate::types::{ReceiptView, TxView};

/// An address or a hash: `0x` and 64 hex digits.
const ADDRESS_PATTERN: &str = "^0x[0-9a-fA-F]{64}$";

/// A contract in a path: an address, or a name (`specs/names.md`).
const TARGET_PATTERN: &str = "^(0x[0-9a-fA-F]{64}|[a-z0-9][a-z0-9-]{1,30}[a-z0-9])$";

/// The error body: `{"error": {"code", "name", "message", "data"?}}`.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "name", "message"],
                "properties": {
                    "code": {
                        "type": "integer",
                        "description": "the stable error code, the same as JSON-RPC's (specs/rpc.md)",
                        "enum": ErrorCode::ALL.iter().map(|c| c.code()).collect::<Vec<_>>(),
                    },
                    "name": { "type": "string" },
                    "message": { "type": "string" },
                    "data": {},
                },
            },
        },
    })
}

fn error(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
    })
}

fn limited(description: &str) -> Value {
    let mut response = error(description);
    response["headers"] = json!({
        "Retry-After": {
            "description": "seconds until the client's read-only budget allows the request",
            "schema": { "type": "integer", "minimum": 0 },
        },
    });
    response
}

fn call_headers() -> Value {
    let text =
        |description: &str| json!({ "description": description, "schema": { "type": "string" } });
    json!({
        "opmeter-status": text("success, revert, trap or outOfGas"),
        "opmeter-gas-used": text("gas the call used (decimal)"),
        "opmeter-gas-limit": text("the call's gas limit (decimal)"),
        "opmeter-height": text("the block whose committed state the call read"),
        "opmeter-schedule-hash": text("0x hash of the gas schedule that priced the call"),
        "opmeter-quota-daily": text("the contract's daily read-only gas (when it has a quota)"),
        "opmeter-quota-remaining": text("what is left of it after this call (when it has a quota)"),
        "opmeter-log": text("one of the contract's debug log lines, percent-encoded (repeated; with _logs=true or an `opmeter-logs: true` header)"),
    })
}

fn call_operation(method: &str, post: bool, call_gas_max: u64) -> Value {
    let summary = if post {
        "Run a read-only call of a contract with the JSON body as its arguments"
    } else {
        "Run a read-only call of a contract with the query's parameters as its arguments"
    };
    let mut parameters = vec![
        json!({ "name": "target", "in": "path", "required": true,
                "description": "the contract: 0x and 64 hex digits, or a registered name (3–32 of a-z, 0-9 and -, not starting with 0x)",
                "schema": { "type": "string", "pattern": TARGET_PATTERN } }),
        json!({ "name": "method", "in": "path", "required": true,
                "description": "the method to call", "schema": { "type": "string" } }),
        json!({ "name": "_gas", "in": "query", "required": false,
                "description": "gas limit (default and maximum: the server's callGasMax)",
                "schema": { "type": "integer", "minimum": 0, "maximum": call_gas_max } }),
        json!({ "name": "_height", "in": "query", "required": false,
                "description": "run against the state of this block (default: the head)",
                "schema": { "type": "integer", "minimum": 0, "maximum": 9007199254740991_u64 } }),
        json!({ "name": "_from", "in": "query", "required": false,
                "description": "the caller the contract sees (0x address or registered name; default zero)",
                "schema": { "type": "string", "pattern": TARGET_PATTERN } }),
        json!({ "name": "_logs", "in": "query", "required": false,
                "description": "return the contract's debug log lines in opmeter-log headers",
                "schema": { "type": "boolean" } }),
    ];
    if !post {
        parameters.push(json!({
            "name": "args", "in": "query", "required": false, "style": "form", "explode": true,
            "description": "the call's arguments: each parameter not starting with `_` is one field of a JSON object (a value that is JSON is that JSON, any other a string); no parameters, no input",
            "schema": {
                "type": "object",
                "propertyNames": { "pattern": "^[^_]" },
                "additionalProperties": { "type": "string" },
            },
        }));
    }
    let mut operation = json!({
        "operationId": method,
        "summary": summary,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "the call succeeded: the body is its output",
                "headers": call_headers(),
                "content": {
                    "application/json": { "schema": {} },
                    "application/octet-stream": { "schema": { "type": "string", "format": "binary" } },
                },
            },
            "400": error("malformed target, controls or arguments (-32602, -32700), or a gas limit above callGasMax (2002)"),
            "404": error("no such contract or method (2004 with the execution), no such name (2010), or no such block (2001)"),
            "422": error("the call reverted, trapped or ran out of gas (2004, data is the execution)"),
            "429": limited("the client's read-only budget (2003) or the contract's daily quota (2011) is used up"),
            "504": error("the call ran past the server's time limit and was stopped (2009)"),
        },
    });
    if post {
        operation["responses"]["408"] = error(
            "the body did not arrive within the server's body timeout (2012); the socket is closed",
        );
        operation["requestBody"] = json!({
            "required": false,
            "description": "the call's arguments as JSON (empty: no input)",
            "content": { "application/json": { "schema": {} } },
        });
        operation["responses"]["413"] = error("the body exceeds the server's limit (-32007)");
    }
    operation
}

/// The gateway's OpenAPI 3.1 document, for a server whose read-only calls take at most
/// `call_gas_max` gas.
pub fn document(call_gas_max: u64) -> Value {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "#/components/schemas/".into();
    let mut generator = settings.into_generator();
    let tx = generator.subschema_for::<TxView>();
    let receipt = generator.subschema_for::<ReceiptView>();
    let mut schemas: serde_json::Map<String, Value> = generator.take_definitions(true);
    schemas.insert("Error".into(), error_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Opmeter HTTP gateway",
            "version": "1",
            "description": "Contracts as plain web services: read-only calls with the output as the body, signed transactions, receipts. Errors carry the same stable codes as the JSON-RPC API (specs/rpc.md).",
        },
        "paths": {
            "/v1/c/{target}/{method}": {
                "get": call_operation("callGet", false, call_gas_max),
                "post": call_operation("callPost", true, call_gas_max),
            },
            "/v1/tx": {
                "post": {
                    "operationId": "sendTransaction",
                    "summary": "Submit a signed transaction (the encoding of specs/node.md), raw or as 0x hex",
                    "parameters": [{
                        "name": "wait", "in": "query", "required": false,
                        "description": "wait for the receipt (up to the server's receipt wait)",
                        "schema": { "type": "boolean" },
                    }],
                    "requestBody": {
                        "required": true,
                        "content": {
                            "application/octet-stream": { "schema": { "type": "string", "format": "binary" } },
                            "text/plain": { "schema": { "type": "string", "pattern": "^0x([0-9a-fA-F]{2})*$" } },
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "committed (wait=true): its receipt",
                            "content": { "application/json": { "schema": receipt } },
                        },
                        "202": {
                            "description": "admitted and pending: its hash",
                            "content": { "application/json": { "schema": {
                                "type": "object", "required": ["hash"],
                                "properties": { "hash": { "type": "string" } },
                            } } },
                        },
                        "400": error("refused at admission (1001–1011, 1015), or a body that is not hex"),
                        "408": error("the body did not arrive within the server's body timeout (2012); the socket is closed"),
                        "409": error("already known or its nonce is taken (1012, 1013)"),
                        "413": error("the body exceeds the server's limit (-32007, 1001)"),
                        "503": error("the mempool is full (1014)"),
                        "504": error("still pending after the wait (2006)"),
                    },
                },
            },
            "/v1/tx/{hash}": {
                "get": {
                    "operationId": "getTransaction",
                    "summary": "A pending or committed transaction and its receipt (null while pending)",
                    "parameters": [{
                        "name": "hash", "in": "path", "required": true,
                        "description": "0x and 64 hex digits",
                        "schema": { "type": "string", "pattern": ADDRESS_PATTERN },
                    }],
                    "responses": {
                        "200": {
                            "description": "the transaction",
                            "content": { "application/json": { "schema": {
                                "type": "object", "required": ["transaction", "receipt"],
                                "properties": {
                                    "transaction": tx,
                                    "receipt": { "anyOf": [receipt, { "type": "null" }] },
                                },
                            } } },
                        },
                        "400": error("not a transaction hash (-32602)"),
                        "404": error("no such transaction (2010)"),
                    },
                },
            },
            "/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document",
                    "responses": {
                        "200": {
                            "description": "the OpenAPI document",
                            "content": { "application/json": { "schema": { "type": "object" } } },
                        },
                    },
                },
            },
        },
        "components": { "schemas": schemas },
    })
}

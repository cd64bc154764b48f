//! The OpenRPC document (`rpc.discover`): every method with its parameters, result and errors.
//! Schemas are derived from the wire types themselves (`schemars`); a test checks that the
//! methods listed are exactly the methods the server registers, and that the copy in
//! `specs/openrpc.json` is current.

use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Value};

use opmeter_ledger::admission::AdmissionCode;
use opmeter_ledger::bundle::Bundle;

use crate::error::ErrorCode;
use crate::types::*;

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn s<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

struct Param {
    name: &'static str,
    required: bool,
    schema: SchemaFn,
    description: &'static str,
}

struct Method {
    name: &'static str,
    summary: &'static str,
    params: &'static [Param],
    result: SchemaFn,
    errors: &'static [ErrorCode],
    subscription: Option<(&'static str, &'static str)>,
}

const fn p(name: &'static str, schema: SchemaFn, description: &'static str) -> Param {
    Param {
        name,
        required: true,
        schema,
        description,
    }
}

const fn opt(name: &'static str, schema: SchemaFn, description: &'static str) -> Param {
    Param {
        name,
        required: false,
        schema,
        description,
    }
}

const HEIGHT: Param = opt("height", s::<u64>, "a block height; the head when absent");
const HASH: Param = p("hash", s::<String>, "0x transaction hash");
const READ_ERRORS: &[ErrorCode] = &[
    ErrorCode::InvalidParams,
    ErrorCode::CallGasAboveMax,
    ErrorCode::RateLimited,
    ErrorCode::QuotaExhausted,
    ErrorCode::ExecutionTimeout,
    ErrorCode::UnknownBlock,
    ErrorCode::NotFound,
    ErrorCode::Internal,
];

/// What an address-or-name parameter is.
const TARGET: &str =
    "0x address, or a registered name (resolved once, in the state the request reads; unknown: 2010)";

const AUDIT_ERRORS: &[ErrorCode] = &[
    ErrorCode::InvalidParams,
    ErrorCode::RateLimited,
    ErrorCode::Internal,
];

/// Admission codes documented once: `1000 + n`, n = 1..=`AdmissionCode::ALL.len()`.
const ADMISSION: ErrorCode = ErrorCode::Admission(AdmissionCode::TooLarge);

/// Prover codes documented once: `3000 + n`, n = 1..=`opmeter_prover::ErrorCode::ALL.len()`.
const PROVER: ErrorCode = ErrorCode::Prover(opmeter_prover::ErrorCode::NotProvable);

const JOB_ID: Param = p("id", s::<u64>, "the prove job's id (from proof_prove)");

const METHODS: &[Method] = &[
    Method {
        name: "chain_info",
        summary: "Chain id, head, gas schedule version and hash, and the server's call limits.",
        params: &[],
        result: s::<ChainInfo>,
        errors: &[ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "chain_getBlock",
        summary: "A block by height, 0x hash or \"latest\", optionally with its transactions; null when unknown.",
        params: &[
            p("block", s::<BlockId>, "height, 0x block hash, or \"latest\""),
            opt("withTransactions", s::<bool>, "include the transactions"),
        ],
        result: s::<Option<BlockView>>,
        errors: &[ErrorCode::InvalidParams, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "chain_getCommit",
        summary: "The commit certificate of a block of a replicated chain (the validators' precommits for its hash); null on a single-node chain or for an unknown block.",
        params: &[p("height", s::<u64>, "the block's height")],
        result: s::<Option<CommitView>>,
        errors: &[ErrorCode::InvalidParams, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "chain_head",
        summary: "The last committed block header.",
        params: &[],
        result: s::<HeaderView>,
        errors: &[ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "account_get",
        summary: "Balance, nonce and code hash of an account at the head or a height.",
        params: &[p("address", s::<String>, TARGET), HEIGHT],
        result: s::<AccountView>,
        errors: &[
            ErrorCode::InvalidParams,
            ErrorCode::UnknownBlock,
            ErrorCode::NotFound,
            ErrorCode::Internal,
        ],
        subscription: None,
    },
    Method {
        name: "name_get",
        summary: "A name's record (owner, target contract, registering block) at the head or a height, with its Merkle proof against that block's state root; registered: false when nobody holds it.",
        params: &[
            p("name", s::<String>, "the name (3–32 of a-z, 0-9, -; specs/names.md)"),
            HEIGHT,
        ],
        result: s::<NameView>,
        errors: &[ErrorCode::InvalidParams, ErrorCode::UnknownBlock, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "code_get",
        summary: "Code by code hash, or the code of the contract at an address; null when unknown.",
        params: &[
            opt("codeHash", s::<String>, "0x blake3 of the code"),
            opt("address", s::<String>, TARGET),
        ],
        result: s::<Option<CodeView>>,
        errors: &[ErrorCode::InvalidParams, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "code_validate",
        summary: "Every violation of the deployment rules by a module.",
        params: &[p("code", s::<String>, "0x wasm")],
        result: s::<ValidationView>,
        errors: &[ErrorCode::InvalidParams, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "tx_sendRaw",
        summary: "Admits a signed transaction (0x borsh); returns its hash once pending and persisted.",
        params: &[p("tx", s::<String>, "0x signed transaction")],
        result: s::<String>,
        errors: &[ErrorCode::InvalidParams, ADMISSION, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "tx_sendRawAndWait",
        summary: "Admits a signed transaction and waits for its receipt.",
        params: &[p("tx", s::<String>, "0x signed transaction")],
        result: s::<ReceiptView>,
        errors: &[
            ErrorCode::InvalidParams,
            ADMISSION,
            ErrorCode::ReceiptTimeout,
            ErrorCode::Internal,
        ],
        subscription: None,
    },
    Method {
        name: "tx_get",
        summary: "A pending or committed transaction; null when unknown.",
        params: &[HASH],
        result: s::<Option<TxView>>,
        errors: &[ErrorCode::InvalidParams, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "tx_receipt",
        summary: "The receipt of a committed transaction; null when unknown or pending.",
        params: &[HASH],
        result: s::<Option<ReceiptView>>,
        errors: &[ErrorCode::InvalidParams, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "audit_replay",
        summary: "Re-executes a committed transaction against the state it saw and compares its receipt field by field, plus the block's state and receipts roots; null when unknown.",
        params: &[HASH],
        result: s::<Option<ReplayReportView>>,
        errors: AUDIT_ERRORS,
        subscription: None,
    },
    Method {
        name: "audit_bundle",
        summary: "A self-contained bundle (code, input, block context, every value read with its Merkle proof, schedule, receipt) to verify a committed transaction offline; null when unknown.",
        params: &[HASH],
        result: s::<Option<Bundle>>,
        errors: AUDIT_ERRORS,
        subscription: None,
    },
    Method {
        name: "audit_trace",
        summary: "Where every unit of a committed transaction's gas went: intrinsic gas, then gas per wasm function and per host call in call order, nested contract calls as a tree; totals equal the receipt's. null when unknown.",
        params: &[HASH, opt("options", s::<TraceArgs>, "per-block profile and size bounds")],
        result: s::<Option<TraceView>>,
        errors: AUDIT_ERRORS,
        subscription: None,
    },
    Method {
        name: "contract_traceCall",
        summary: "contract_call with the gas trace of the execution (per wasm function and host call, nested calls as a tree).",
        params: &[
            p("call", s::<CallArgs>, "the call"),
            HEIGHT,
            opt("options", s::<TraceArgs>, "per-block profile and size bounds"),
        ],
        result: s::<TraceView>,
        errors: READ_ERRORS,
        subscription: None,
    },
    Method {
        name: "contract_call",
        summary: "Runs a call read-only against the head or a height: output, status, gas, breakdown, events, logs.",
        params: &[p("call", s::<CallArgs>, "the call"), HEIGHT],
        result: s::<CallResultView>,
        errors: READ_ERRORS,
        subscription: None,
    },
    Method {
        name: "contract_estimateGas",
        summary: "The smallest gas limit at which a transaction succeeds, verified by executing at exactly that limit.",
        params: &[p("args", s::<EstimateArgs>, "sender and transaction")],
        result: s::<EstimateView>,
        errors: &[
            ErrorCode::InvalidParams,
            ErrorCode::NotFound,
            ErrorCode::ExecutionFailed,
            ErrorCode::RateLimited,
            ErrorCode::QuotaExhausted,
            ErrorCode::ExecutionTimeout,
            ErrorCode::Internal,
        ],
        subscription: None,
    },
    Method {
        name: "contract_quota",
        summary: "A contract's daily quota of read-only gas (rolling 24 h): the budget, what its read-only calls used, what is left.",
        params: &[p("contract", s::<String>, TARGET)],
        result: s::<QuotaView>,
        errors: &[ErrorCode::InvalidParams, ErrorCode::NotFound, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "contract_storage",
        summary: "A storage value with its Merkle proof against a block's state root.",
        params: &[
            p("contract", s::<String>, TARGET),
            p("key", s::<String>, "0x storage key"),
            HEIGHT,
        ],
        result: s::<StorageProofView>,
        errors: &[
            ErrorCode::InvalidParams,
            ErrorCode::UnknownBlock,
            ErrorCode::NotFound,
            ErrorCode::Internal,
        ],
        subscription: None,
    },
    Method {
        name: "subscribe_newHeads",
        summary: "Every new block header, as notifications `newHead` (WebSocket).",
        params: &[],
        result: s::<HeaderView>,
        errors: &[ErrorCode::TooManySubscriptions],
        subscription: Some(("newHead", "unsubscribe_newHeads")),
    },
    Method {
        name: "subscribe_events",
        summary: "Events matching a filter (contract, topic prefix), as notifications `event` (WebSocket).",
        params: &[opt("filter", s::<EventFilter>, "which events; all when absent")],
        result: s::<EventNotice>,
        errors: &[ErrorCode::InvalidParams, ErrorCode::TooManySubscriptions],
        subscription: Some(("event", "unsubscribe_events")),
    },
    Method {
        name: "proof_prove",
        summary: "Starts proving a provable method of a contract (its code read from one committed state) on the node's bounded prover queue; returns the job at once.",
        params: &[p("args", s::<ProveArgs>, "contract, method, integer arguments, profile, height")],
        result: s::<ProofJobView>,
        errors: &[
            ErrorCode::InvalidParams,
            ErrorCode::UnknownBlock,
            ErrorCode::NotFound,
            ErrorCode::UnknownContract,
            PROVER,
            ErrorCode::Internal,
        ],
        subscription: None,
    },
    Method {
        name: "proof_job",
        summary: "A prove job: state, progress, and the proof or the error once finished; null when unknown.",
        params: &[JOB_ID],
        result: s::<Option<ProofJobView>>,
        errors: &[ErrorCode::InvalidParams, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "proof_get",
        summary: "A job's proof with its statement once done (null while queued or running); a failed job's typed error.",
        params: &[JOB_ID],
        result: s::<Option<ProofView>>,
        errors: &[
            ErrorCode::InvalidParams,
            ErrorCode::UnknownProofJob,
            PROVER,
            ErrorCode::Internal,
        ],
        subscription: None,
    },
    Method {
        name: "proof_verify",
        summary: "Verifies a proof of a statement with the node's verifying key (and re-derives the code commitment when the node has the code): valid, or a typed reason.",
        params: &[p("proof", s::<ProofView>, "the statement and proof (as proof_get returns)")],
        result: s::<ProofVerifyView>,
        errors: &[ErrorCode::InvalidParams, PROVER, ErrorCode::Internal],
        subscription: None,
    },
    Method {
        name: "contract_provability",
        summary: "Per provable: export of a contract's code, whether it is in the provable subset and why not (the first instruction outside it, with its offset).",
        params: &[p("contract", s::<String>, TARGET), HEIGHT],
        result: s::<ProvabilityView>,
        errors: &[
            ErrorCode::InvalidParams,
            ErrorCode::UnknownBlock,
            ErrorCode::NotFound,
            ErrorCode::UnknownContract,
            ErrorCode::Internal,
        ],
        subscription: None,
    },
    Method {
        name: "subscribe_proofJob",
        summary: "A prove job's progress, as notifications `proofJob` until it is done or failed (WebSocket).",
        params: &[JOB_ID],
        result: s::<ProofJobView>,
        errors: &[
            ErrorCode::InvalidParams,
            ErrorCode::UnknownProofJob,
            ErrorCode::TooManySubscriptions,
        ],
        subscription: Some(("proofJob", "unsubscribe_proofJob")),
    },
    Method {
        name: "dev_fund",
        summary: "Development chains only: moves an amount from the development account to an address.",
        params: &[
            p("address", s::<String>, TARGET),
            p("amount", s::<String>, "decimal amount"),
        ],
        result: s::<FundView>,
        errors: &[
            ErrorCode::InvalidParams,
            ErrorCode::DevOnly,
            ADMISSION,
            ErrorCode::ReceiptTimeout,
            ErrorCode::Internal,
        ],
        subscription: None,
    },
    Method {
        name: "rpc.discover",
        summary: "This OpenRPC document.",
        params: &[],
        result: s::<serde_json::Value>,
        errors: &[],
        subscription: None,
    },
];

/// Names of every method the document describes, unsubscribe methods included.
pub fn method_names() -> Vec<&'static str> {
    let mut names = Vec::new();
    for method in METHODS {
        names.push(method.name);
        if let Some((_, unsubscribe)) = method.subscription {
            names.push(unsubscribe);
        }
    }
    names
}

fn error_json(code: ErrorCode) -> Value {
    match code {
        ErrorCode::Admission(_) => json!({
            "code": 1000,
            "message": format!(
                "admission refused: the code is 1000 + n, n = 1..{} (data.reason names it; see specs/node.md)",
                AdmissionCode::ALL.len()
            ),
        }),
        ErrorCode::Prover(_) => json!({
            "code": 3000,
            "message": format!(
                "proof error: the code is 3000 + n, n = 1..{} (data.reason names it; see specs/proofs.md)",
                opmeter_prover::ErrorCode::ALL.len()
            ),
        }),
        code => json!({ "code": code.code(), "message": code.name() }),
    }
}

/// The OpenRPC 1.3 document.
pub fn document() -> Value {
    let mut settings = SchemaSettings::draft07();
    settings.definitions_path = "#/components/schemas/".into();
    let mut generator = settings.into_generator();
    let mut methods = Vec::new();
    for method in METHODS {
        let params: Vec<Value> = method
            .params
            .iter()
            .map(|param| {
                json!({
                    "name": param.name,
                    "description": param.description,
                    "required": param.required,
                    "schema": (param.schema)(&mut generator),
                })
            })
            .collect();
        let mut entry = json!({
            "name": method.name,
            "summary": method.summary,
            "paramStructure": "either",
            "params": params,
            "result": { "name": "result", "schema": (method.result)(&mut generator) },
            "errors": method.errors.iter().map(|c| error_json(*c)).collect::<Vec<_>>(),
        });
        if let Some((notification, unsubscribe)) = method.subscription {
            entry["x-subscription"] = json!({
                "notification": notification,
                "unsubscribe": unsubscribe,
            });
        }
        methods.push(entry);
    }
    let schemas: serde_json::Map<String, Value> = generator.take_definitions(true);
    json!({
        "openrpc": "1.3.2",
        "info": {
            "title": "Opmeter JSON-RPC",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Deterministic WebAssembly execution, metered to the opcode. Bytes are 0x hex; gas and amounts are decimal strings.",
        },
        "methods": methods,
        "components": { "schemas": schemas },
    })
}

//! Known-answer vectors for the TypeScript client (`clients/typescript`): transactions signed by
//! the Rust `Wallet` (encoding, hash, signature, wire bytes, contract address) and storage proofs
//! served by a real node store (inclusion, exclusion, and forgeries the verifier must refuse).
//!
//! The committed `clients/typescript/test/vectors.json` must equal what this test generates; the
//! TypeScript tests check every vector from the other side. Bless with
//! `UPDATE_VECTORS=1 cargo test -p opmeter-tests --test ts_vectors`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ed25519_dalek::SigningKey;
use opmeter_ledger::encoding::to_hex0x as hex0x;
use opmeter_ledger::state::{verify, ProofError, StateKey, StateProof};
use opmeter_ledger::tx::{Payload, SignedTransaction, Wallet};
use opmeter_node::genesis::{address_of, Genesis};
use opmeter_node::service::{BlockMode, Node, NodeConfig};
use opmeter_vm::{Address, CodeHash, U256};
use serde_json::{json, Value};

fn vectors_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("clients")
        .join("typescript")
        .join("test")
        .join("vectors.json")
}

/// A key from a readable seed: the seed bytes padded with zeroes to 32.
fn seeded_key(seed: &str) -> SigningKey {
    let mut bytes = [0u8; 32];
    bytes[..seed.len()].copy_from_slice(seed.as_bytes());
    SigningKey::from_bytes(&bytes)
}

fn payload_json(payload: &Payload) -> Value {
    match payload {
        Payload::Transfer { to, amount } => json!({
            "kind": "transfer", "to": to.to_hex(), "amount": amount.to_string(),
        }),
        Payload::Deploy {
            code,
            init_input,
            salt,
            value,
        } => json!({
            "kind": "deploy", "code": hex0x(code), "initInput": hex0x(init_input),
            "salt": hex0x(salt), "value": value.to_string(),
        }),
        Payload::Call {
            contract,
            method,
            input,
            value,
        } => json!({
            "kind": "call", "contract": contract.to_hex(), "method": method,
            "input": hex0x(input), "value": value.to_string(),
        }),
        Payload::RegisterName { name, target, salt } => json!({
            "kind": "registerName", "name": name, "target": target.to_hex(), "salt": hex0x(salt),
        }),
        Payload::PointName { name, target, salt } => json!({
            "kind": "pointName", "name": name, "target": target.to_hex(), "salt": hex0x(salt),
        }),
        Payload::TransferName { name, new_owner } => json!({
            "kind": "transferName", "name": name, "newOwner": new_owner.to_hex(),
        }),
    }
}

/// One signed transaction with every derived value a client must reproduce.
fn tx_vector(name: &str, seed: &str, wallet: &mut Wallet, payload: Payload) -> Value {
    let nonce = wallet.nonce;
    let signed = wallet.sign(payload);
    assert_eq!(
        wallet.nonce,
        nonce + 1,
        "the wallet numbers its transactions"
    );
    let tx = &signed.tx;
    let hash = signed.hash();
    signed
        .verify(&hash)
        .expect("the wallet's signature verifies");
    let wire = signed.encode();
    assert_eq!(SignedTransaction::decode(&wire).unwrap(), signed);
    let contract_address = match &tx.payload {
        Payload::Deploy { code, salt, .. } => {
            Some(Address::for_contract(&tx.sender(), &CodeHash::of(code), salt).to_hex())
        }
        _ => None,
    };
    json!({
        "name": name,
        "seed": hex0x(&wallet.key.to_bytes()),
        "seedText": seed,
        "publicKey": hex0x(&tx.public_key),
        "address": tx.sender().to_hex(),
        "chainId": tx.chain_id,
        "nonce": tx.nonce.to_string(),
        "gasLimit": tx.gas_limit.to_string(),
        "gasPrice": tx.gas_price.to_string(),
        "payload": payload_json(&tx.payload),
        "encoded": hex0x(&tx.encode()),
        "hash": hash.to_hex(),
        "signingBytes": hex0x(&tx.signing_bytes()),
        "signature": hex0x(&signed.signature),
        "signed": hex0x(&wire),
        "contractAddress": contract_address,
    })
}

fn transactions() -> Vec<Value> {
    let max = U256::MAX;
    let two_255_plus_1 = (U256::one() << 255) + U256::one();
    // 10^30 + 123456789: above 2^64 and 2^53, not a power of anything.
    let big = U256::exp10(30) + U256::from(123_456_789u64);
    let mut out = Vec::new();

    let mut alice = Wallet::new(seeded_key("alice"), "opmeter-dev");
    out.push(tx_vector(
        "transfer of 5 with the wallet's defaults (nonce 0, gas limit 10,000,000, price 1)",
        "alice",
        &mut alice,
        Payload::Transfer {
            to: Address([2; 32]),
            amount: U256::from(5u64),
        },
    ));
    alice.gas_price = big;
    alice.gas_limit = 21_000;
    out.push(tx_vector(
        "transfer of 2^255 + 1 at gas price 10^30 + 123456789 (nonce 1)",
        "alice",
        &mut alice,
        Payload::Transfer {
            to: address_of(&seeded_key("bob")),
            amount: two_255_plus_1,
        },
    ));

    let mut bob = Wallet::new(seeded_key("bob"), "chaîne-de-test/é");
    bob.nonce = (1 << 53) + 7;
    bob.gas_limit = u64::MAX;
    bob.gas_price = max;
    out.push(tx_vector(
        "transfer of 2^256 - 1, gas limit 2^64 - 1, nonce 2^53 + 7, non-ASCII chain id",
        "bob",
        &mut bob,
        Payload::Transfer {
            to: Address([0xff; 32]),
            amount: max,
        },
    ));

    let mut carol = Wallet::new(seeded_key("carol"), "opmeter-dev");
    carol.nonce = 3;
    carol.gas_limit = 5_000_000;
    carol.gas_price = U256::from(1_000_000_007u64);
    // A minimal valid module: the bytes do not matter to the encoding, their hash to the address.
    let code = wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "init")))"#)
        .expect("valid wat");
    out.push(tx_vector(
        "deploy with JSON init input, an empty salt and no value",
        "carol",
        &mut carol,
        Payload::Deploy {
            code: code.clone(),
            init_input: br#"{"start":5}"#.to_vec(),
            salt: Vec::new(),
            value: U256::zero(),
        },
    ));
    out.push(tx_vector(
        "deploy with a binary salt, empty init input and value 2^128",
        "carol",
        &mut carol,
        Payload::Deploy {
            code,
            init_input: Vec::new(),
            salt: vec![0, 1, 2, 0xfe, 0xff],
            value: U256::one() << 128,
        },
    ));
    out.push(tx_vector(
        "call with JSON arguments and value 10^30 + 123456789",
        "carol",
        &mut carol,
        Payload::Call {
            contract: Address([0xab; 32]),
            method: "increment".into(),
            input: br#"{"by":2}"#.to_vec(),
            value: big,
        },
    ));
    out.push(tx_vector(
        "call with a unicode method name and binary input",
        "carol",
        &mut carol,
        Payload::Call {
            contract: Address([0x01; 32]),
            method: "mëthod_✓".into(),
            input: vec![0, 0xff, 0x10, 0x80],
            value: U256::zero(),
        },
    ));
    // The Wallet's own helpers (no value, JSON as given).
    let mut dave = Wallet::new(seeded_key("dave"), "opmeter-dev");
    let signed = dave.call(Address([7; 32]), "get", "");
    out.push(tx_vector_of(
        "Wallet::call with empty arguments",
        "dave",
        &dave,
        &signed,
    ));
    // Names (`specs/names.md`).
    let signed = dave.register_name("hello", Address([0x11; 32]), b"");
    out.push(tx_vector_of(
        "Wallet::register_name with an empty salt",
        "dave",
        &dave,
        &signed,
    ));
    let signed = dave.point_name("my-app-2", Address([0x22; 32]), &[0, 1, 0xff]);
    out.push(tx_vector_of(
        "Wallet::point_name with a binary salt",
        "dave",
        &dave,
        &signed,
    ));
    let signed = dave.transfer_name(
        "abcdefghijklmnopqrstuvwxyz012345",
        address_of(&seeded_key("carol")),
    );
    out.push(tx_vector_of(
        "Wallet::transfer_name of a 32-byte name",
        "dave",
        &dave,
        &signed,
    ));
    out
}

/// As [`tx_vector`] for a transaction the wallet already signed through one of its helpers.
fn tx_vector_of(name: &str, seed: &str, wallet: &Wallet, signed: &SignedTransaction) -> Value {
    let mut replay = wallet.clone();
    replay.nonce = signed.tx.nonce;
    let vector = tx_vector(name, seed, &mut replay, signed.tx.payload.clone());
    assert_eq!(vector["signed"], hex0x(&signed.encode()));
    vector
}

/// A contract whose `put` stores its input under "k" and `put2` under "other".
const KV: &str = r#"(module
  (import "opmeter" "input_len" (func $len (result i32)))
  (import "opmeter" "input_read" (func $read (param i32)))
  (import "opmeter" "storage_write" (func $write (param i32 i32 i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "k")
  (data (i32.const 16) "other")
  (func (export "put") (call $read (i32.const 100))
    (call $write (i32.const 0) (i32.const 1) (i32.const 100) (call $len)))
  (func (export "put2") (call $read (i32.const 100))
    (call $write (i32.const 16) (i32.const 5) (i32.const 100) (call $len))))"#;

/// The offset of the first hash byte of the proof's first non-null sibling (borsh layout:
/// `Option<leaf>` (tag, 64 bytes), `u32` sibling count, siblings as tag 0 null / 1 internal /
/// 2 leaf, each but null followed by 64 bytes).
fn first_sibling_hash_byte(proof: &[u8]) -> usize {
    let mut at = if proof[0] == 1 { 65 } else { 1 };
    let count = u32::from_le_bytes(proof[at..at + 4].try_into().unwrap());
    at += 4;
    for _ in 0..count {
        if proof[at] != 0 {
            return at + 1;
        }
        at += 1;
    }
    panic!("a proof with only null siblings");
}

fn proof_vector(
    name: &str,
    root: [u8; 32],
    key: &StateKey,
    value: Option<&[u8]>,
    proof: &[u8],
) -> Value {
    let result = verify(root, key, value, proof);
    let (valid, error) = match &result {
        Ok(()) => (true, Value::Null),
        Err(ProofError::Malformed(_)) => (false, json!("malformed")),
        Err(ProofError::Mismatch(_)) => (false, json!("mismatch")),
    };
    let (contract, storage_key) = match key {
        StateKey::Storage(contract, k) => (json!(contract.to_hex()), json!(hex0x(k))),
        StateKey::Account(_) | StateKey::Name(_) => (Value::Null, Value::Null),
    };
    json!({
        "name": name,
        "stateRoot": hex0x(&root),
        "stateKey": hex0x(&key.encode()),
        "keyHash": hex0x(&key.key_hash().0),
        "contract": contract,
        "key": storage_key,
        "value": value.map(hex0x),
        "proof": hex0x(proof),
        "valid": valid,
        "error": error,
    })
}

/// Proofs from a node's store: a contract writes two storage values; then inclusion and exclusion
/// proofs at the head, and forgeries of each that the verifier must refuse.
fn proofs() -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let owner = seeded_key("proof owner");
    let mut balances = BTreeMap::new();
    balances.insert(address_of(&owner), "1000000000000".to_string());
    for seed in ["p1", "p2", "p3", "p4", "p5", "p6"] {
        balances.insert(address_of(&seeded_key(seed)), "7".to_string());
    }
    let genesis = Genesis {
        chain_id: "opmeter-vectors".into(),
        timestamp_ms: 1_000,
        block_gas_limit: 1_000_000_000,
        block_tx_max: 100,
        min_gas_price: "1".into(),
        fee_collector: Address([0xfe; 32]),
        balances,
        dev: false,
        schedule_version: 1,
        validators: Vec::new(),
    };
    let node = Node::open(&NodeConfig {
        data_dir: dir.path().to_path_buf(),
        genesis: Some(genesis),
        mode: BlockMode::Manual,
        sync_writes: false,
        mempool: Default::default(),
    })
    .unwrap();
    let mut wallet = Wallet::new(owner, "opmeter-vectors");
    let code = wat::parse_str(KV).unwrap();
    let deploy = wallet.deploy(&code, "", b"");
    let contract = Address::for_contract(&wallet.address(), &CodeHash::of(&code), b"");
    let put = wallet.call(contract, "put", "a value to prove");
    let put2 = wallet.call(contract, "put2", "");
    for tx in [&deploy, &put, &put2] {
        node.submit(&tx.encode()).expect("admitted");
    }
    let block = node.produce_block(true).unwrap().expect("a block");
    for receipt in &block.receipts {
        assert_eq!(receipt.status.name(), "success", "{receipt:?}");
    }
    let height = block.block.header.height;
    let root = block.block.header.state_root.0;
    let store = node.chain().store();
    let prove = |key: &StateKey| {
        let (value, proof): (Option<Vec<u8>>, StateProof) = store.prove(key, height).unwrap();
        (value, borsh::to_vec(&proof).unwrap())
    };

    let mut out = Vec::new();
    let stored = StateKey::Storage(contract, b"k".to_vec());
    let (value, proof) = prove(&stored);
    let value = value.expect("stored");
    assert_eq!(value, b"a value to prove");
    out.push(proof_vector(
        "storage inclusion",
        root,
        &stored,
        Some(&value),
        &proof,
    ));
    let mut forged = value.clone();
    forged[0] ^= 1;
    out.push(proof_vector(
        "storage inclusion, forged value",
        root,
        &stored,
        Some(&forged),
        &proof,
    ));
    out.push(proof_vector(
        "storage inclusion, value claimed absent",
        root,
        &stored,
        None,
        &proof,
    ));
    let mut other_root = root;
    other_root[31] ^= 0x80;
    out.push(proof_vector(
        "storage inclusion, another root",
        other_root,
        &stored,
        Some(&value),
        &proof,
    ));
    let mut sibling_flipped = proof.clone();
    sibling_flipped[first_sibling_hash_byte(&proof)] ^= 1;
    out.push(proof_vector(
        "storage inclusion, a sibling hash altered",
        root,
        &stored,
        Some(&value),
        &sibling_flipped,
    ));
    out.push(proof_vector(
        "storage inclusion, truncated proof",
        root,
        &stored,
        Some(&value),
        &proof[..proof.len() - 1],
    ));
    let mut trailing = proof.clone();
    trailing.push(0);
    out.push(proof_vector(
        "storage inclusion, trailing byte",
        root,
        &stored,
        Some(&value),
        &trailing,
    ));

    let empty = StateKey::Storage(contract, b"other".to_vec());
    let (value, proof) = prove(&empty);
    assert_eq!(value.as_deref(), Some(&b""[..]));
    out.push(proof_vector(
        "storage inclusion of an empty value",
        root,
        &empty,
        Some(b""),
        &proof,
    ));

    // Exclusion proofs of both shapes: one ending at another key's leaf, one at an empty subtree.
    let mut leaf_ended = None;
    let mut empty_ended = None;
    for i in 0u32..10_000 {
        let key = StateKey::Storage(contract, format!("absent-{i}").into_bytes());
        let (value, proof) = prove(&key);
        assert!(value.is_none());
        // borsh: `leaf: Option<_>` comes first, 1 = present.
        let slot = if proof[0] == 1 {
            &mut leaf_ended
        } else {
            &mut empty_ended
        };
        slot.get_or_insert((key, proof));
        if leaf_ended.is_some() && empty_ended.is_some() {
            break;
        }
    }
    let (key, proof) = leaf_ended.expect("an exclusion proof ending at a leaf");
    out.push(proof_vector(
        "storage exclusion ending at another key's leaf",
        root,
        &key,
        None,
        &proof,
    ));
    out.push(proof_vector(
        "storage exclusion, a value claimed",
        root,
        &key,
        Some(b"x"),
        &proof,
    ));
    let (key, proof) = empty_ended.expect("an exclusion proof ending at an empty subtree");
    out.push(proof_vector(
        "storage exclusion ending at an empty subtree",
        root,
        &key,
        None,
        &proof,
    ));
    out.push(proof_vector(
        "storage exclusion, another root",
        other_root,
        &key,
        None,
        &proof,
    ));
    // The exclusion proof of one key does not prove the absence of a present key.
    out.push(proof_vector(
        "storage exclusion proof used for a present key",
        root,
        &stored,
        None,
        &proof,
    ));

    let account = StateKey::Account(address_of(&seeded_key("p3")));
    let (value, proof) = prove(&account);
    out.push(proof_vector(
        "account inclusion (borsh(Account))",
        root,
        &account,
        value.as_deref(),
        &proof,
    ));
    out
}

fn generate() -> String {
    let vectors = json!({
        "format": "opmeter-ts-vectors/v1",
        "generatedBy": "tests/tests/ts_vectors.rs (UPDATE_VECTORS=1 cargo test -p opmeter-tests --test ts_vectors)",
        "transactions": transactions(),
        "proofs": proofs(),
    });
    let mut text = serde_json::to_string_pretty(&vectors).unwrap();
    text.push('\n');
    text
}

#[test]
fn typescript_vectors_are_current() {
    let generated = generate();
    assert_eq!(generated, generate(), "the vectors are deterministic");
    let path = vectors_path();
    if std::env::var_os("UPDATE_VECTORS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is stale: run `UPDATE_VECTORS=1 cargo test -p opmeter-tests --test ts_vectors` \
         and commit the file (the TypeScript tests check every vector)",
        path.display()
    );
}

#[test]
fn proof_vectors_cover_each_verdict() {
    let proofs = proofs();
    let count = |valid: bool, error: Value| {
        proofs
            .iter()
            .filter(|p| p["valid"] == valid && p["error"] == error)
            .count()
    };
    assert!(
        count(true, Value::Null) >= 4,
        "inclusion and exclusion proofs that verify"
    );
    assert!(count(false, json!("mismatch")) >= 5, "forgeries refused");
    assert!(
        count(false, json!("malformed")) >= 2,
        "undecodable proofs refused"
    );
}

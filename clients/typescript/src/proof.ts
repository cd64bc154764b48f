/**
 * State proofs: a Jellyfish Merkle tree (`jmt` 0.12) with blake3, checked against a block's
 * state root so a dapp need not trust the node for a value.
 *
 * - Key hash: `blake3("stor" ‖ contract ‖ key)` for storage, `blake3("acct" ‖ address)` for
 *   accounts; value hash: `blake3(value)`.
 * - Leaf hash: `blake3("JMT::LeafNode" ‖ keyHash ‖ valueHash)`; internal node:
 *   `blake3("JMT::IntrnalNode" ‖ left ‖ right)`; an empty subtree is the 32 bytes
 *   `"SPARSE_MERKLE_PLACEHOLDER_HASH__"`.
 * - The proof is `borsh(SparseMerkleProof)`: `leaf: Option<(keyHash, valueHash)>`, then
 *   `siblings: Vec<Node>` from the bottom level to the root, each `0` (empty), `1 left right`
 *   (internal) or `2 keyHash valueHash` (leaf).
 * - Sibling `i` of `n` pairs with bit `n − 1 − i` of the key hash (most significant bit first):
 *   when the bit is 1 the running hash is the right child.
 *
 * @module
 */

import { blake3 } from '@noble/hashes/blake3.js';

import { BorshReader } from './borsh.js';
import { bytesEqual, concatBytes, toBytes, toHex, utf8, type BytesLike, type Hex } from './bytes.js';
import { EncodingError, ProofError } from './errors.js';
import type { StorageProofView } from './schemas.js';

const LEAF_DOMAIN = utf8('JMT::LeafNode');
const INTERNAL_DOMAIN = utf8('JMT::IntrnalNode');
const PLACEHOLDER = utf8('SPARSE_MERKLE_PLACEHOLDER_HASH__');
/** A key hash has 256 bits: no path is longer. */
const MAX_SIBLINGS = 256;

/** The leaf a proof ends at: the key hash and value hash stored there. */
export interface SparseMerkleLeaf {
  /** The leaf's key hash (the proven key for an inclusion proof, another for an exclusion). */
  readonly keyHash: Uint8Array;
  /** blake3 of the leaf's value. */
  readonly valueHash: Uint8Array;
}

/** A sibling on the path. */
export type SparseMerkleNode =
  | {
      /** An empty subtree (hashes to the placeholder). */
      readonly kind: 'null';
    }
  | {
      /** An internal node. */
      readonly kind: 'internal';
      /** Its left child's hash. */
      readonly left: Uint8Array;
      /** Its right child's hash. */
      readonly right: Uint8Array;
    }
  | ({
      /** A leaf. */
      readonly kind: 'leaf';
    } & SparseMerkleLeaf);

/** A decoded `jmt::proof::SparseMerkleProof`. */
export interface SparseMerkleProof {
  /** The leaf the path ends at; `null`: an empty subtree (an exclusion proof). */
  readonly leaf: SparseMerkleLeaf | null;
  /** Siblings from the bottom level to the root. */
  readonly siblings: readonly SparseMerkleNode[];
}

/**
 * Decodes `borsh(SparseMerkleProof)`.
 *
 * @throws {@link ProofError} `malformed` when the bytes are not exactly one proof.
 */
export function decodeSparseMerkleProof(proof: BytesLike): SparseMerkleProof {
  try {
    const reader = new BorshReader(toBytes(proof, 'proof'), 'proof');
    const readLeaf = (): SparseMerkleLeaf => ({ keyHash: reader.fixed(32), valueHash: reader.fixed(32) });
    const leaf = reader.tag(2, 'leaf option') === 1 ? readLeaf() : null;
    const count = reader.u32();
    // Each sibling takes at least one byte: a larger count cannot be honest, and is not read.
    if (count > reader.remaining()) {
      throw new EncodingError(`proof: ${count} siblings announced, ${reader.remaining()} bytes left`);
    }
    const siblings: SparseMerkleNode[] = [];
    for (let i = 0; i < count; i++) {
      switch (reader.tag(3, 'sibling')) {
        case 0:
          siblings.push({ kind: 'null' });
          break;
        case 1:
          siblings.push({ kind: 'internal', left: reader.fixed(32), right: reader.fixed(32) });
          break;
        default:
          siblings.push({ kind: 'leaf', ...readLeaf() });
      }
    }
    reader.end();
    return { leaf, siblings };
  } catch (e) {
    if (e instanceof EncodingError) throw new ProofError('malformed', e.message);
    throw e;
  }
}

function leafHash(leaf: SparseMerkleLeaf): Uint8Array {
  return blake3(concatBytes(LEAF_DOMAIN, leaf.keyHash, leaf.valueHash));
}

function internalHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return blake3(concatBytes(INTERNAL_DOMAIN, left, right));
}

function nodeHash(node: SparseMerkleNode): Uint8Array {
  switch (node.kind) {
    case 'null':
      return PLACEHOLDER;
    case 'internal':
      return internalHash(node.left, node.right);
    case 'leaf':
      return leafHash(node);
  }
}

/** Bit `index` of a 32-byte hash, most significant bit first. */
function bit(hash: Uint8Array, index: number): boolean {
  return ((hash[index >> 3]! >> (7 - (index & 7))) & 1) === 1;
}

function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  let bits = 0;
  while (bits < 256 && bit(a, bits) === bit(b, bits)) bits++;
  return bits;
}

/** The state-tree key of a contract's storage slot: `"stor" ‖ contract ‖ key`. */
export function storageStateKey(contract: BytesLike, key: BytesLike): Uint8Array {
  return concatBytes(utf8('stor'), toBytes(contract, 'contract', 32), toBytes(key, 'key'));
}

/** The state-tree key of an account record: `"acct" ‖ address`. */
export function accountStateKey(address: BytesLike): Uint8Array {
  return concatBytes(utf8('acct'), toBytes(address, 'address', 32));
}

/** The state-tree key of a name's record: `"name" ‖ name` (`specs/names.md`). */
export function nameStateKey(name: string): Uint8Array {
  return concatBytes(utf8('name'), utf8(name));
}

/** The tree's key hash of a state key: `blake3(stateKey)`. */
export function stateKeyHash(stateKey: BytesLike): Hex {
  return toHex(blake3(toBytes(stateKey, 'state key')));
}

/**
 * Checks that `stateKey` holds `value` (`null`: is absent) in the state whose root is
 * `stateRoot`, given `borsh(SparseMerkleProof)`. The same checks, in the same order, as `jmt`
 * 0.12's `SparseMerkleProof::verify`.
 *
 * @throws {@link ProofError} `malformed` when the proof does not decode, `mismatch` when it
 *   does not lead from the key and value to the root.
 */
export function verifyStateProof(
  stateRoot: BytesLike,
  stateKey: BytesLike,
  value: Uint8Array | null,
  proof: BytesLike,
): void {
  const root = toBytes(stateRoot, 'state root', 32);
  const decoded = decodeSparseMerkleProof(proof);
  const { leaf, siblings } = decoded;
  if (siblings.length > MAX_SIBLINGS) {
    throw new ProofError('mismatch', `${siblings.length} siblings, more than ${MAX_SIBLINGS}`);
  }
  const keyHash = blake3(toBytes(stateKey, 'state key'));
  if (value !== null) {
    if (leaf === null) throw new ProofError('mismatch', 'a value was expected, the proof shows an empty subtree');
    if (!bytesEqual(leaf.keyHash, keyHash)) {
      throw new ProofError('mismatch', `the proof's leaf is key ${toHex(leaf.keyHash)}, not ${toHex(keyHash)}`);
    }
    if (!bytesEqual(leaf.valueHash, blake3(value))) {
      throw new ProofError('mismatch', 'the value does not hash to the proven value hash');
    }
  } else if (leaf !== null) {
    if (bytesEqual(leaf.keyHash, keyHash)) {
      throw new ProofError('mismatch', 'absence was expected, the proof shows the key present');
    }
    if (commonPrefixBits(keyHash, leaf.keyHash) < siblings.length) {
      throw new ProofError('mismatch', 'the key would not be in the subtree the proof ends at');
    }
  }
  let hash = leaf === null ? PLACEHOLDER : leafHash(leaf);
  siblings.forEach((sibling, i) => {
    const siblingHash = nodeHash(sibling);
    hash = bit(keyHash, siblings.length - 1 - i) ? internalHash(siblingHash, hash) : internalHash(hash, siblingHash);
  });
  if (!bytesEqual(hash, root)) {
    throw new ProofError('mismatch', `the proof leads to root ${toHex(hash)}, not ${toHex(root)}`);
  }
}

/**
 * Checks that `contract`'s storage `key` holds `value` (`null`: absent) under `stateRoot`.
 *
 * @throws {@link ProofError} as {@link verifyStateProof}.
 */
export function verifyStorage(
  stateRoot: BytesLike,
  contract: BytesLike,
  key: BytesLike,
  value: Uint8Array | null,
  proof: BytesLike,
): void {
  verifyStateProof(stateRoot, storageStateKey(contract, key), value, proof);
}

/**
 * Checks a `contract_storage` answer against a state root the dapp trusts (from a header it
 * got elsewhere, or has checked), and returns the proven value (`null`: proven absent).
 *
 * @throws {@link ProofError} `mismatch` when the answer is for another root, its key hash is not
 *   the key's, or the proof does not verify; `malformed` when the proof does not decode.
 */
export function verifyStorageProof(answer: StorageProofView, trustedStateRoot: BytesLike): Uint8Array | null {
  const root = toHex(toBytes(trustedStateRoot, 'state root', 32));
  if (answer.stateRoot !== root) {
    throw new ProofError('mismatch', `the answer is for state root ${answer.stateRoot}, not the trusted ${root}`);
  }
  const stateKey = storageStateKey(answer.contract, answer.key);
  if (stateKeyHash(stateKey) !== answer.keyHash) {
    throw new ProofError('mismatch', `keyHash ${answer.keyHash} is not blake3("stor" ‖ contract ‖ key)`);
  }
  verifyStateProof(root, stateKey, answer.value, answer.proof);
  return answer.value;
}

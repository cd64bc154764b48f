/**
 * The API's types, one per schema of `specs/openrpc.json` (same names, same fields), with gas
 * and amounts as `bigint`, variable-length bytes as `Uint8Array` and identifiers as {@link Hex}.
 * Each has a codec; `test/unit/openrpc.test.ts` checks the codecs against the document.
 *
 * @module
 */

import type { AddressOrName, Amount, BytesLike, Hex } from './bytes.js';
import {
  addressOrName,
  amount,
  array,
  boolean,
  bytes,
  bytesInput,
  constant,
  decimal,
  defaulted,
  gasAmount,
  hex,
  hex32,
  json,
  jsonInput,
  map,
  named,
  nullable,
  object,
  oneOf,
  optional,
  required,
  text,
  u32,
  u64,
  u8,
  type Codec,
  type JsonInput,
  type JsonValue,
  type Shape,
} from './codec.js';
import type { Violation } from './errors.js';

export type { JsonInput, JsonValue } from './codec.js';

/** A block header as served. */
export interface HeaderView {
  /** Chain id. */
  chainId: string;
  /** Height. */
  height: number;
  /** Hash of this header. */
  hash: Hex;
  /** Hash of the parent header. */
  parentHash: Hex;
  /**
   * `blake3(borsh(certificate))` of the parent's commit certificate this block carries (its
   * `lastCommit`); zeroes when it carries none (a chain one node produces; block 1).
   */
  lastCommitHash: Hex;
  /** Milliseconds since the Unix epoch. */
  timestampMs: number;
  /** State root: what storage proofs are checked against. */
  stateRoot: Hex;
  /** Transactions root. */
  transactionsRoot: Hex;
  /** Receipts root. */
  receiptsRoot: Hex;
  /** Gas used by the block. */
  gasUsed: bigint;
  /** Transactions in the block. */
  txCount: number;
  /** Hash of the gas schedule the block ran under. */
  scheduleHash: Hex;
}

/** What `chain_info` returns. */
export interface ChainInfo {
  /** Chain id (what transactions sign for). */
  chainId: string;
  /** The last committed header. */
  head: HeaderView;
  /** Version of the gas schedule. */
  scheduleVersion: number;
  /** Hash of the gas schedule. */
  scheduleHash: Hex;
  /** Whether development methods (`dev_fund`) are enabled. */
  dev: boolean;
  /** Lowest accepted gas price. */
  minGasPrice: bigint;
  /** Most gas one block may use. */
  blockGasLimit: bigint;
  /** Most gas a read-only call may use. */
  callGasMax: bigint;
}

/** A block: by height, by hash, or `"latest"`. */
export type BlockId = number | Hex | 'latest';

/** What a transaction does, as served. */
export type PayloadView =
  | {
      /** A value transfer. */
      kind: 'transfer';
      /** Recipient. */
      to: Hex;
      /** Amount. */
      amount: bigint;
    }
  | {
      /** A deployment. */
      kind: 'deploy';
      /** blake3 of the code. */
      codeHash: Hex;
      /** Size of the code. */
      codeSizeBytes: number;
      /** Input of `init`. */
      initInput: Uint8Array;
      /** Salt. */
      salt: Uint8Array;
      /** Value moved to the contract. */
      value: bigint;
    }
  | {
      /** A contract call. */
      kind: 'call';
      /** The contract. */
      contract: Hex;
      /** The method. */
      method: string;
      /** Input. */
      input: Uint8Array;
      /** Value moved to the contract. */
      value: bigint;
    }
  | {
      /** Registers a name for a contract the sender deployed. */
      kind: 'registerName';
      /** The name. */
      name: string;
      /** The contract it names. */
      target: Hex;
      /** The salt the sender deployed `target` with. */
      salt: Uint8Array;
    }
  | {
      /** Re-points a name the sender owns to another contract the sender deployed. */
      kind: 'pointName';
      /** The name. */
      name: string;
      /** The contract it names from now on. */
      target: Hex;
      /** The salt the sender deployed `target` with. */
      salt: Uint8Array;
    }
  | {
      /** Gives a name the sender owns to another account. */
      kind: 'transferName';
      /** The name. */
      name: string;
      /** Its next owner. */
      newOwner: Hex;
    };

/** A transaction as served. */
export interface TxView {
  /** Transaction hash. */
  hash: Hex;
  /** The sender's address. */
  sender: Hex;
  /** Ed25519 public key of the sender. */
  publicKey: Hex;
  /** Nonce. */
  nonce: number;
  /** Gas limit. */
  gasLimit: bigint;
  /** Gas price. */
  gasPrice: bigint;
  /** What it does. */
  payload: PayloadView;
  /** Signature (64 bytes). */
  signature: Hex;
  /** Size of the signed encoding. */
  lenBytes: number;
  /** `"pending"` or `"committed"`. */
  state: string;
  /** Block height once committed. */
  height: number | null;
  /** Position in the block once committed. */
  index: number | null;
}

/** A block as served. */
export interface BlockView {
  /** The header. */
  header: HeaderView;
  /** Hashes of its transactions, in order. */
  transactionHashes: Hex[];
  /** The transactions themselves, when asked for (`null` otherwise). */
  transactions: TxView[] | null;
  /**
   * On a replicated chain from block 2 on: the commit certificate of the parent block that this
   * block carries (its hash is the header's `lastCommitHash`), what shows block `height - 1`
   * decided. `null` on a chain one node produces and for block 1.
   */
  lastCommit: CommitView | null;
}

/** One precommit of a commit certificate. */
export interface CommitSignatureView {
  /** `0x` + the validator's 20-byte address. */
  validator: Hex;
  /** `0x` + its 64-byte ed25519 signature over the precommit. */
  signature: Hex;
}

/** The commit certificate of a block of a replicated chain (`specs/node.md`). */
export interface CommitView {
  /** The block's height. */
  height: number;
  /** The round it was decided in. */
  round: number;
  /** The block's hash. */
  blockHash: Hex;
  /** The precommits. */
  signatures: CommitSignatureView[];
}

/** An account as served. */
export interface AccountView {
  /** The address. */
  address: Hex;
  /** Balance. */
  balance: bigint;
  /** Next nonce (committed). */
  nonce: number;
  /** Next nonce counting the account's pending transactions: what its next transaction carries. */
  pendingNonce: number;
  /** Code hash, for contracts. */
  codeHash: Hex | null;
  /** The height the account was read at. */
  height: number;
}

/** Contract code as served. */
export interface CodeView {
  /** blake3 of the code. */
  codeHash: Hex;
  /** The original wasm, as uploaded. */
  code: Uint8Array;
  /** Its size. */
  sizeBytes: number;
}

/** One broken validation rule. */
export type ViolationView = Violation;

/** What `code_validate` returns. */
export interface ValidationView {
  /** Whether the module may be deployed. */
  valid: boolean;
  /** Code hash (of the bytes as given). */
  codeHash: Hex;
  /** Size of the module. */
  sizeBytes: number;
  /** Every violation (empty when valid). */
  violations: ViolationView[];
}

/** An event as served. */
export interface EventView {
  /** Emitting contract. */
  contract: Hex;
  /** Topics (topic 0 names the event for sdk contracts: `blake3(name)`). */
  topics: Hex[];
  /** Data (a JSON object for sdk contracts). */
  data: Uint8Array;
}

/** A receipt as served. */
export interface ReceiptView {
  /** Transaction hash. */
  txHash: Hex;
  /** Sender. */
  sender: Hex;
  /** Block height. */
  height: number;
  /** Position in the block. */
  index: number;
  /** Stable status code (0 success, 1 revert, 2 trap, 3 out of gas, 4–6 refused in the block). */
  statusCode: number;
  /** Status name. */
  status: string;
  /** Trap code when trapped. */
  trapCode: number | null;
  /** Gas used. */
  gasUsed: bigint;
  /** Gas limit. */
  gasLimit: bigint;
  /** Gas by category, summing to `gasUsed` (see {@link gasReport}). */
  gasBreakdown: Record<string, bigint>;
  /** Gas price. */
  gasPrice: bigint;
  /** Fee paid: `gasUsed × gasPrice`. */
  fee: bigint;
  /** Output or revert data. */
  output: Uint8Array;
  /** Events. */
  events: EventView[];
  /** Schedule hash. */
  scheduleHash: Hex;
  /** The deployed contract's address, for deployments. */
  contractAddress: Hex | null;
}

/** A read-only call (`contract_call`). */
export interface CallArgs {
  /** The caller the contract sees: `0x` address or registered name (default: the zero address). */
  from?: AddressOrName | null;
  /** The contract: `0x` address or registered name. */
  contract: AddressOrName;
  /** The method. */
  method: string;
  /** Arguments as JSON (sdk contracts); `bigint`s are written exactly. */
  args?: JsonInput;
  /** Raw input, instead of `args`. */
  input?: BytesLike | null;
  /** Value the call carries (default 0). */
  value?: Amount | null;
  /** Gas limit (default and maximum: `chainInfo.callGasMax`). */
  gasLimit?: Amount | null;
}

/** The result of a read-only call. A revert, trap or out of gas is a status, not an error. */
export interface CallResultView {
  /** `success`, `revert`, `trap` or `outOfGas`. */
  status: string;
  /** Stable status code (as in receipts). */
  statusCode: number;
  /** Trap code when trapped. */
  trapCode: number | null;
  /** Output or revert data. */
  output: Uint8Array;
  /** The output parsed as JSON, when it is JSON (`null` otherwise). */
  outputJson: JsonValue | null;
  /** Gas used. */
  gasUsed: bigint;
  /** Gas limit. */
  gasLimit: bigint;
  /** Gas by category, summing to `gasUsed`. */
  gasBreakdown: Record<string, bigint>;
  /** Events the call would emit. */
  events: EventView[];
  /** Debug log lines. */
  logs: string[];
  /** The height of the state it ran against. */
  height: number;
}

/** A transaction to estimate: the payload without a signature. */
export type TxRequest =
  | {
      /** A value transfer. */
      kind: 'transfer';
      /** Recipient: `0x` address or registered name. */
      to: AddressOrName;
      /** Amount. */
      amount: Amount;
    }
  | {
      /** A deployment. */
      kind: 'deploy';
      /** Wasm. */
      code: BytesLike;
      /** `init` arguments as JSON. */
      args?: JsonInput;
      /** Raw input of `init`, instead of `args`. */
      input?: BytesLike | null;
      /** Salt. */
      salt?: BytesLike | null;
      /** Value. */
      value?: Amount | null;
    }
  | {
      /** A call. */
      kind: 'call';
      /** The contract: `0x` address or registered name. */
      contract: AddressOrName;
      /** The method. */
      method: string;
      /** Arguments as JSON. */
      args?: JsonInput;
      /** Raw input, instead of `args`. */
      input?: BytesLike | null;
      /** Value. */
      value?: Amount | null;
    }
  | {
      /** Registers a name for a contract the sender deployed with `salt`. */
      kind: 'registerName';
      /** The name. */
      name: string;
      /** The contract it names. */
      target: Hex;
      /** The salt the sender deployed `target` with (default: empty). */
      salt?: BytesLike | null;
    }
  | {
      /** Re-points a name the sender owns to another contract the sender deployed with `salt`. */
      kind: 'pointName';
      /** The name. */
      name: string;
      /** The contract it names from now on. */
      target: Hex;
      /** The salt the sender deployed `target` with (default: empty). */
      salt?: BytesLike | null;
    }
  | {
      /** Gives a name the sender owns to another account. */
      kind: 'transferName';
      /** The name. */
      name: string;
      /** Its next owner. */
      newOwner: Hex;
    };

/** A name's record (`name_get`), with its Merkle proof against the state root of the block read. */
export interface NameView {
  /** The name. */
  name: string;
  /** Whether anyone registered it; `owner`, `target` and `registeredHeight` are `null` when not. */
  registered: boolean;
  /** The account that owns it. */
  owner: Hex | null;
  /** The contract it names. */
  target: Hex | null;
  /** The block that registered it. */
  registeredHeight: number | null;
  /** The block whose state it was read from. */
  height: number;
  /** That block's state root. */
  stateRoot: Hex;
  /** Key hash in the tree: `blake3("name" ‖ name)`. */
  keyHash: Hex;
  /** The value proven: `borsh(NameRecord)`, `null` when absent. */
  value: Uint8Array | null;
  /** Borsh of the `jmt` 0.12 proof (inclusion or exclusion). */
  proof: Uint8Array;
}

/** What `contract_estimateGas` takes. */
export interface EstimateArgs {
  /** The sender (its balance must cover `value`). */
  from: Hex;
  /** What the transaction does. */
  tx: TxRequest;
}

/** What `contract_estimateGas` returns. */
export interface EstimateView {
  /**
   * The smallest gas limit at which the transaction succeeds, verified by executing it at exactly
   * this limit (intrinsic gas included).
   */
  gasLimit: bigint;
  /** Gas it used at that limit. */
  gasUsed: bigint;
  /** Of which intrinsic (size) gas. */
  intrinsicGas: bigint;
  /** Gas by category at that limit. */
  gasBreakdown: Record<string, bigint>;
  /** Output at that limit. */
  output: Uint8Array;
  /** Executions it took to find and verify the limit. */
  executions: number;
  /** The height of the state it ran against. */
  height: number;
}

/** A storage value with its Merkle proof (`contract_storage`); see {@link verifyStorageProof}. */
export interface StorageProofView {
  /** The contract. */
  contract: Hex;
  /** Storage key. */
  key: Uint8Array;
  /** Value, `null` when absent. */
  value: Uint8Array | null;
  /** The block whose state it was read from. */
  height: number;
  /** That block's state root. */
  stateRoot: Hex;
  /** Key hash in the tree: `blake3("stor" ‖ contract ‖ key)`. */
  keyHash: Hex;
  /** Borsh encoding of the `jmt` 0.12 `SparseMerkleProof` (inclusion or exclusion). */
  proof: Uint8Array;
}

/** Which events `subscribe_events` delivers: of `contract` (any when absent) whose topics start with `topics` (`null` matches any). */
export interface EventFilter {
  /** Only events of this contract: `0x` address or registered name (resolved once, at the head, when the subscription starts). */
  contract?: AddressOrName | null;
  /** Topic prefixes (`null` matches any). */
  topics?: (Hex | null)[];
}

/** An event delivered by `subscribe_events`. */
export interface EventNotice {
  /** The event. */
  event: EventView;
  /** Hash of the transaction that emitted it. */
  txHash: Hex;
  /** Block height. */
  height: number;
  /** Transaction index in the block. */
  txIndex: number;
  /** Event index within the transaction. */
  eventIndex: number;
}

/** A contract's daily quota of read-only gas (`contract_quota`). */
export interface QuotaView {
  /** The contract. */
  contract: Hex;
  /** Its read-only gas per rolling window; `null`: unlimited. */
  dailyGas: bigint | null;
  /** Gas its read-only calls used in the window. */
  usedGas: bigint;
  /** What is left; `null`: unlimited. */
  remainingGas: bigint | null;
  /** Length of the rolling window in milliseconds (24 h). */
  windowMs: number;
}

/** What `dev_fund` returns. */
export interface FundView {
  /** The funded address. */
  address: Hex;
  /** Amount moved. */
  amount: bigint;
  /** Hash of the transfer from the development account. */
  txHash: Hex;
}

/** Options of `audit_trace` and `contract_traceCall`. */
export interface TraceArgs {
  /** Also profile every metered block (hits × cost, instruction counts); slower. */
  blocks?: boolean;
  /** Most blocks in the profile (default and maximum 1,000), the most expensive first. */
  maxBlocks?: number | null;
  /** Most entries in the tree (default and maximum 10,000). */
  maxNodes?: number | null;
}

/** One metered block of the profile. */
export interface BlockStatView {
  /** Code hash. */
  codeHash: Hex;
  /** Function index. */
  function: number;
  /** Function name. */
  name: string;
  /** Charge site. */
  site: number;
  /** Gas per execution of the block. */
  costPerHit: bigint;
  /** Executions. */
  hits: number;
  /** Gas. */
  gas: bigint;
  /** Original instructions in the block. */
  instructions: number;
}

/** One contract frame of a trace (or several merged ones). */
export interface FrameTraceView {
  /** The contract. */
  contract: Hex;
  /** Code hash, when the contract exists. */
  codeHash: Hex | null;
  /** The method (`init` for a deployment that runs it). */
  method: string;
  /** Call depth (1 at the top). */
  depth: number;
  /** How it ended. */
  status: string;
  /** Frames merged into this one. */
  calls: number;
  /** Gas: the sum of `entries`. */
  gasUsed: bigint;
  /** Where it went, in first-call order. */
  entries: TraceEntryView[];
}

/** One line of a trace. */
export type TraceEntryView =
  | {
      /** A flat charge of the frame (`deploy`, `instantiation`). */
      kind: 'charge';
      /** Breakdown category. */
      category: string;
      /** Gas. */
      gas: bigint;
    }
  | {
      /** A wasm function in one calling context. */
      kind: 'function';
      /** Index in the module. */
      index: number;
      /** Name (from the `name` section) or `func[N]`. */
      name: string;
      /** Calls merged. */
      calls: number;
      /** Inclusive gas. */
      gas: bigint;
      /** Its own metered instructions. */
      instructionsGas: bigint;
      /** Its own `memory.grow` charges. */
      memoryGas: bigint;
      /** What it called. */
      children: TraceEntryView[];
    }
  | {
      /** A host function in one calling context. */
      kind: 'host';
      /** The host function. */
      function: string;
      /** Calls merged. */
      calls: number;
      /** Its own charges. */
      gas: bigint;
      /** Its storage-bytes charges. */
      storageBytesGas: bigint;
      /** Contracts it called. */
      callees: FrameTraceView[];
    }
  | {
      /** Entries that did not fit, with their gas by category. */
      kind: 'truncated';
      /** Gas. */
      gas: bigint;
      /** By category. */
      breakdown: Record<string, bigint>;
    };

/** Where the gas of a transaction or call went. `intrinsicGas + root.gasUsed == gasUsed`. */
export interface TraceView {
  /** Transaction hash (`null` for a read-only call). */
  txHash: Hex | null;
  /** Status name. */
  status: string;
  /** Total gas used, as in the receipt. */
  gasUsed: bigint;
  /** The transaction's intrinsic gas (0 for a read-only call). */
  intrinsicGas: bigint;
  /** Output or revert data. */
  output: Uint8Array;
  /** The vm execution (`null` when the payload ran no code). */
  root: FrameTraceView | null;
  /** Some entries were folded into `truncated` entries. */
  truncated: boolean;
  /** The per-block profile (empty unless asked for), most gas first. */
  blocks: BlockStatView[];
  /** More blocks ran than returned. */
  blocksTruncated: boolean;
}

/** One compared field of a replay. */
export interface FieldCheck {
  /** The field (`status`, `gasUsed`, `gasBreakdown.instructions`, `block.stateRoot`, …). */
  field: string;
  /** The committed value, as text. */
  stored: string;
  /** The re-derived value, as text. */
  replayed: string;
  /** Whether they are equal. */
  matches: boolean;
}

/** What `audit_replay` reports. */
export interface ReplayReport {
  /** Transaction hash. */
  txHash: Hex;
  /** Its block. */
  height: number;
  /** Its position in the block. */
  index: number;
  /** Every field matched (the receipt's and the block's). */
  matches: boolean;
  /** The receipt's fields, then `block.stateRoot` and `block.receiptsRoot`. */
  fields: FieldCheck[];
  /** Transactions executed (the whole block). */
  replayedTransactions: number;
  /** The first field that differs, if any. */
  firstDifference: FieldCheck | null;
}

/** One code of a bundle. */
export interface BundleCode {
  /** blake3 of `wasm`. */
  hash: Hex;
  /** Original wasm bytes. */
  wasm: Uint8Array;
}

/** One proven state value of a bundle. */
export interface BundleRead {
  /** State key (`"acct" ‖ address` or `"stor" ‖ contract ‖ key`). */
  key: Uint8Array;
  /** Value in the parent state (`null`: absent). */
  value: Uint8Array | null;
  /** Borsh of the Merkle proof against the parent header's state root. */
  proof: Uint8Array;
}

/** One transaction of a bundle. */
export interface BundleTx {
  /** Position in the block. */
  index: number;
  /** Borsh of the signed transaction. */
  signed: Uint8Array;
  /** Merkle path of `blake3(signed)` to the header's transactions root. */
  path: Hex[];
}

/** A self-contained verification bundle (`specs/audit-bundle.md`). */
export interface Bundle {
  /** Bundle format. */
  format: string;
  /** The chain. */
  chainId: string;
  /** Version of the gas schedule that priced the block. */
  scheduleVersion: number;
  /** Hash of that schedule. */
  scheduleHash: Hex;
  /** The chain's fee collector. */
  feeCollector: Hex;
  /** Borsh of the parent block's header. */
  parentHeader: Uint8Array;
  /** Borsh of the block's header. */
  header: Uint8Array;
  /** The transactions to execute, in block order; the target is last. */
  transactions: BundleTx[];
  /** Borsh of the target's stored receipt. */
  receipt: Uint8Array;
  /** Its Merkle path to the header's receipts root. */
  receiptPath: Hex[];
  /** Every code run, by hash. */
  codes: BundleCode[];
  /** Every state value read from the parent state, with its proof. */
  reads: BundleRead[];
}

// ---------------------------------------------------------------------------------------------
// Codecs, named as the document's schemas.

const gasMap = map(decimal);

/** @internal */
export const HeaderViewCodec: Codec<HeaderView> = named('HeaderView', () =>
  object<HeaderView>({
    chainId: required(text),
    height: required(u64),
    hash: required(hex32),
    parentHash: required(hex32),
    lastCommitHash: required(hex32),
    timestampMs: required(u64),
    stateRoot: required(hex32),
    transactionsRoot: required(hex32),
    receiptsRoot: required(hex32),
    gasUsed: required(decimal),
    txCount: required(u32),
    scheduleHash: required(hex32),
  }),
);

/** @internal */
export const ChainInfoCodec: Codec<ChainInfo> = named('ChainInfo', () =>
  object<ChainInfo>({
    chainId: required(text),
    head: required(HeaderViewCodec),
    scheduleVersion: required(u32),
    scheduleHash: required(hex32),
    dev: required(boolean),
    minGasPrice: required(decimal),
    blockGasLimit: required(decimal),
    callGasMax: required(decimal),
  }),
);

const BLOCK_ID_SHAPE: Shape = {
  kind: 'anyOf',
  options: [
    { kind: 'integer', format: 'uint64' },
    { kind: 'string', format: 'text' },
  ],
};

/** @internal */
export const BlockIdCodec: Codec<BlockId> = named('BlockId', () => ({
  shape: BLOCK_ID_SHAPE,
  decode: (wire, path, ctx) =>
    typeof wire === 'number' ? u64.decode(wire, path, ctx) : (hex32.decode(wire, path, ctx) as BlockId),
  encode: (value, path) => {
    if (value === 'latest') return value;
    if (typeof value === 'number') return u64.encode(value, path);
    return hex32.encode(value, path);
  },
}));

/** @internal */
export const PayloadViewCodec: Codec<PayloadView> = named('PayloadView', () =>
  oneOf<PayloadView>({
    transfer: object({ kind: required(constant('transfer')), to: required(hex32), amount: required(decimal) }),
    deploy: object({
      kind: required(constant('deploy')),
      codeHash: required(hex32),
      codeSizeBytes: required(u32),
      initInput: required(bytes),
      salt: required(bytes),
      value: required(decimal),
    }),
    call: object({
      kind: required(constant('call')),
      contract: required(hex32),
      method: required(text),
      input: required(bytes),
      value: required(decimal),
    }),
    registerName: object({
      kind: required(constant('registerName')),
      name: required(text),
      target: required(hex32),
      salt: required(bytes),
    }),
    pointName: object({
      kind: required(constant('pointName')),
      name: required(text),
      target: required(hex32),
      salt: required(bytes),
    }),
    transferName: object({
      kind: required(constant('transferName')),
      name: required(text),
      newOwner: required(hex32),
    }),
  }),
);

/** @internal */
export const TxViewCodec: Codec<TxView> = named('TxView', () =>
  object<TxView>({
    hash: required(hex32),
    sender: required(hex32),
    publicKey: required(hex32),
    nonce: required(u64),
    gasLimit: required(decimal),
    gasPrice: required(decimal),
    payload: required(PayloadViewCodec),
    signature: required(hex(64)),
    lenBytes: required(u32),
    state: required(text),
    height: defaulted(nullable(u64), null),
    index: defaulted(nullable(u32), null),
  }),
);

/** @internal */
export const BlockViewCodec: Codec<BlockView> = named('BlockView', () =>
  object<BlockView>({
    header: required(HeaderViewCodec),
    transactionHashes: required(array(hex32)),
    transactions: defaulted(nullable(array(TxViewCodec)), null),
    lastCommit: defaulted(nullable(CommitViewCodec), null),
  }),
);

/** @internal */
export const CommitSignatureViewCodec: Codec<CommitSignatureView> = named('CommitSignatureView', () =>
  object<CommitSignatureView>({ validator: required(hex(20)), signature: required(hex(64)) }),
);

/** @internal */
export const CommitViewCodec: Codec<CommitView> = named('CommitView', () =>
  object<CommitView>({
    height: required(u64),
    round: required(u32),
    blockHash: required(hex32),
    signatures: required(array(CommitSignatureViewCodec)),
  }),
);

/** @internal */
export const AccountViewCodec: Codec<AccountView> = named('AccountView', () =>
  object<AccountView>({
    address: required(hex32),
    balance: required(decimal),
    nonce: required(u64),
    pendingNonce: required(u64),
    codeHash: defaulted(nullable(hex32), null),
    height: required(u64),
  }),
);

/** @internal */
export const CodeViewCodec: Codec<CodeView> = named('CodeView', () =>
  object<CodeView>({ codeHash: required(hex32), code: required(bytes), sizeBytes: required(u32) }),
);

/** @internal */
export const ViolationViewCodec: Codec<ViolationView> = named('ViolationView', () =>
  object<ViolationView>({
    rule: required(text),
    limit: defaulted(nullable(u64), null),
    actual: defaulted(nullable(u64), null),
    location: defaulted(nullable(text), null),
    message: required(text),
  }),
);

/** @internal */
export const ValidationViewCodec: Codec<ValidationView> = named('ValidationView', () =>
  object<ValidationView>({
    valid: required(boolean),
    codeHash: required(hex32),
    sizeBytes: required(u32),
    violations: required(array(ViolationViewCodec)),
  }),
);

/** @internal */
export const EventViewCodec: Codec<EventView> = named('EventView', () =>
  object<EventView>({ contract: required(hex32), topics: required(array(hex32)), data: required(bytes) }),
);

/** @internal */
export const ReceiptViewCodec: Codec<ReceiptView> = named('ReceiptView', () =>
  object<ReceiptView>({
    txHash: required(hex32),
    sender: required(hex32),
    height: required(u64),
    index: required(u32),
    statusCode: required(u8),
    status: required(text),
    trapCode: defaulted(nullable(u8), null),
    gasUsed: required(decimal),
    gasLimit: required(decimal),
    gasBreakdown: required(gasMap),
    gasPrice: required(decimal),
    fee: required(decimal),
    output: required(bytes),
    events: required(array(EventViewCodec)),
    scheduleHash: required(hex32),
    contractAddress: defaulted(nullable(hex32), null),
  }),
);

/** @internal */
export const CallArgsCodec: Codec<CallArgs> = named('CallArgs', () =>
  object<CallArgs>(
    {
      from: optional(nullable(addressOrName)),
      contract: required(addressOrName),
      method: required(text),
      args: optional(jsonInput),
      input: optional(nullable(bytesInput)),
      value: optional(nullable(amount)),
      gasLimit: optional(nullable(gasAmount)),
    },
    { closed: true },
  ),
);

/** @internal */
export const CallResultViewCodec: Codec<CallResultView> = named('CallResultView', () =>
  object<CallResultView>({
    status: required(text),
    statusCode: required(u8),
    trapCode: defaulted(nullable(u8), null),
    output: required(bytes),
    outputJson: defaulted(json, null),
    gasUsed: required(decimal),
    gasLimit: required(decimal),
    gasBreakdown: required(gasMap),
    events: required(array(EventViewCodec)),
    logs: required(array(text)),
    height: required(u64),
  }),
);

/** @internal */
export const TxRequestCodec: Codec<TxRequest> = named('TxRequest', () =>
  oneOf<TxRequest>({
    transfer: object({ kind: required(constant('transfer')), to: required(addressOrName), amount: required(amount) }),
    deploy: object({
      kind: required(constant('deploy')),
      code: required(bytesInput),
      args: optional(jsonInput),
      input: optional(nullable(bytesInput)),
      salt: optional(nullable(bytesInput)),
      value: optional(nullable(amount)),
    }),
    call: object({
      kind: required(constant('call')),
      contract: required(addressOrName),
      method: required(text),
      args: optional(jsonInput),
      input: optional(nullable(bytesInput)),
      value: optional(nullable(amount)),
    }),
    registerName: object({
      kind: required(constant('registerName')),
      name: required(text),
      target: required(hex32),
      salt: optional(nullable(bytesInput)),
    }),
    pointName: object({
      kind: required(constant('pointName')),
      name: required(text),
      target: required(hex32),
      salt: optional(nullable(bytesInput)),
    }),
    transferName: object({
      kind: required(constant('transferName')),
      name: required(text),
      newOwner: required(hex32),
    }),
  }),
);

/** @internal */
export const NameViewCodec: Codec<NameView> = named('NameView', () =>
  object<NameView>({
    name: required(text),
    registered: required(boolean),
    owner: defaulted(nullable(hex32), null),
    target: defaulted(nullable(hex32), null),
    registeredHeight: defaulted(nullable(u64), null),
    height: required(u64),
    stateRoot: required(hex32),
    keyHash: required(hex32),
    value: defaulted(nullable(bytes), null),
    proof: required(bytes),
  }),
);

/** @internal */
export const EstimateArgsCodec: Codec<EstimateArgs> = named('EstimateArgs', () =>
  object<EstimateArgs>({ from: required(hex32), tx: required(TxRequestCodec) }),
);

/** @internal */
export const EstimateViewCodec: Codec<EstimateView> = named('EstimateView', () =>
  object<EstimateView>({
    gasLimit: required(decimal),
    gasUsed: required(decimal),
    intrinsicGas: required(decimal),
    gasBreakdown: required(gasMap),
    output: required(bytes),
    executions: required(u32),
    height: required(u64),
  }),
);

/** @internal */
export const StorageProofViewCodec: Codec<StorageProofView> = named('StorageProofView', () =>
  object<StorageProofView>({
    contract: required(hex32),
    key: required(bytes),
    value: defaulted(nullable(bytes), null),
    height: required(u64),
    stateRoot: required(hex32),
    keyHash: required(hex32),
    proof: required(bytes),
  }),
);

/** @internal */
export const EventFilterCodec: Codec<EventFilter> = named('EventFilter', () =>
  object<EventFilter>(
    { contract: optional(nullable(addressOrName)), topics: optional(array(nullable(hex32))) },
    { closed: true },
  ),
);

/** @internal */
export const EventNoticeCodec: Codec<EventNotice> = named('EventNotice', () =>
  object<EventNotice>({
    event: required(EventViewCodec),
    txHash: required(hex32),
    height: required(u64),
    txIndex: required(u32),
    eventIndex: required(u32),
  }),
);

/** @internal */
export const QuotaViewCodec: Codec<QuotaView> = named('QuotaView', () =>
  object<QuotaView>({
    contract: required(hex32),
    dailyGas: defaulted(nullable(decimal), null),
    usedGas: required(decimal),
    remainingGas: defaulted(nullable(decimal), null),
    windowMs: required(u64),
  }),
);

/** @internal */
export const FundViewCodec: Codec<FundView> = named('FundView', () =>
  object<FundView>({ address: required(hex32), amount: required(decimal), txHash: required(hex32) }),
);

/** @internal */
export const TraceArgsCodec: Codec<TraceArgs> = named('TraceArgs', () =>
  object<TraceArgs>(
    {
      blocks: optional(boolean),
      maxBlocks: optional(nullable(u32)),
      maxNodes: optional(nullable(u32)),
    },
    { closed: true },
  ),
);

/** @internal */
export const BlockStatViewCodec: Codec<BlockStatView> = named('BlockStatView', () =>
  object<BlockStatView>({
    codeHash: required(hex32),
    function: required(u32),
    name: required(text),
    site: required(u32),
    costPerHit: required(decimal),
    hits: required(u64),
    gas: required(decimal),
    instructions: required(u32),
  }),
);

/** @internal */
export const FrameTraceViewCodec: Codec<FrameTraceView> = named('FrameTraceView', () =>
  object<FrameTraceView>({
    contract: required(hex32),
    codeHash: defaulted(nullable(hex32), null),
    method: required(text),
    depth: required(u32),
    status: required(text),
    calls: required(u64),
    gasUsed: required(decimal),
    entries: required(array(TraceEntryViewCodec)),
  }),
);

/** @internal */
export const TraceEntryViewCodec: Codec<TraceEntryView> = named('TraceEntryView', () =>
  oneOf<TraceEntryView>({
    charge: object({ kind: required(constant('charge')), category: required(text), gas: required(decimal) }),
    function: object({
      kind: required(constant('function')),
      index: required(u32),
      name: required(text),
      calls: required(u64),
      gas: required(decimal),
      instructionsGas: required(decimal),
      memoryGas: required(decimal),
      children: required(array(TraceEntryViewCodec)),
    }),
    host: object({
      kind: required(constant('host')),
      function: required(text),
      calls: required(u64),
      gas: required(decimal),
      storageBytesGas: required(decimal),
      callees: required(array(FrameTraceViewCodec)),
    }),
    truncated: object({ kind: required(constant('truncated')), gas: required(decimal), breakdown: required(gasMap) }),
  }),
);

/** @internal */
export const TraceViewCodec: Codec<TraceView> = named('TraceView', () =>
  object<TraceView>({
    txHash: defaulted(nullable(hex32), null),
    status: required(text),
    gasUsed: required(decimal),
    intrinsicGas: required(decimal),
    output: required(bytes),
    root: defaulted(nullable(FrameTraceViewCodec), null),
    truncated: required(boolean),
    blocks: required(array(BlockStatViewCodec)),
    blocksTruncated: required(boolean),
  }),
);

/** @internal */
export const FieldCheckCodec: Codec<FieldCheck> = named('FieldCheck', () =>
  object<FieldCheck>({
    field: required(text),
    stored: required(text),
    replayed: required(text),
    matches: required(boolean),
  }),
);

/** @internal */
export const ReplayReportCodec: Codec<ReplayReport> = named('ReplayReport', () =>
  object<ReplayReport>({
    txHash: required(hex32),
    height: required(u64),
    index: required(u32),
    matches: required(boolean),
    fields: required(array(FieldCheckCodec)),
    replayedTransactions: required(u32),
    firstDifference: defaulted(nullable(FieldCheckCodec), null),
  }),
);

/** @internal */
export const BundleCodeCodec: Codec<BundleCode> = named('BundleCode', () =>
  object<BundleCode>({ hash: required(hex32), wasm: required(bytes) }, { closed: true }),
);

/** @internal */
export const BundleReadCodec: Codec<BundleRead> = named('BundleRead', () =>
  object<BundleRead>(
    { key: required(bytes), value: defaulted(nullable(bytes), null), proof: required(bytes) },
    { closed: true },
  ),
);

/** @internal */
export const BundleTxCodec: Codec<BundleTx> = named('BundleTx', () =>
  object<BundleTx>(
    { index: required(u32), signed: required(bytes), path: required(array(hex32)) },
    { closed: true },
  ),
);

/** @internal */
export const BundleCodec: Codec<Bundle> = named('Bundle', () =>
  object<Bundle>(
    {
      format: required(text),
      chainId: required(text),
      scheduleVersion: required(u32),
      scheduleHash: required(hex32),
      feeCollector: required(hex32),
      parentHeader: required(bytes),
      header: required(bytes),
      transactions: required(array(BundleTxCodec)),
      receipt: required(bytes),
      receiptPath: required(array(hex32)),
      codes: required(array(BundleCodeCodec)),
      reads: required(array(BundleReadCodec)),
    },
    { closed: true },
  ),
);

/**
 * A Groth16 proof with the statement it proves (`proof_get`, the file `opmeter prove` writes,
 * the parameter of `proof_verify`). The public signals derive from `profile`, `scheduleHash`,
 * `method`, `codeCommitment`, `args`, `output` and `gasUsed` (`specs/proofs.md`).
 */
export interface ProofView {
  /** The profile's name (`s`, `m`, `l`). */
  profile: string;
  /** blake3 of the schedule the gas is billed under. */
  scheduleHash: Hex;
  /** The provable method (without `provable:`). */
  method: string;
  /** The code commitment: a BN254 scalar, big-endian, re-derived from the wasm by the public compiler. */
  codeCommitment: Hex;
  /** The arguments (`i32` zero-extended). */
  args: bigint[];
  /** The result as an unsigned integer (0 without a result). */
  output: bigint;
  /** Gas used, as the vm bills the provable call. */
  gasUsed: bigint;
  /** The 128-byte Groth16 proof (arkworks compressed). */
  proof: Uint8Array;
  /** blake3 of the wasm the method was compiled from, when known. */
  codeHash: Hex | null;
  /** The contract the prover read the code of, when known. */
  contract: Hex | null;
  /** The block whose state the code was read from, when known. */
  height: number | null;
  /** Who generated the prover's keys (`development`: whoever ran the setup could forge proofs; `ceremony`). */
  keyOrigin: string | null;
  /** blake3 (hex) of the prover's `vk.bin`. */
  vkBlake3: string | null;
  /** The fourteen public signals as decimal strings (snarkjs `public.json`). */
  publicSignals: string[];
  /** snarkjs Groth16 JSON: `{proof, verificationKey}`. */
  snarkjs: JsonValue | null;
}

/** A typed proof error: the JSON-RPC code (`3000 + n`), its stable name and a message. */
export interface ProofErrorView {
  /** `3000 + n` for prover error `n`. */
  code: number;
  /** The stable name (`notProvable`, `stepBoundExceeded`, `invalidProof`, …). */
  name: string;
  /** What went wrong. */
  message: string;
}

/** What `proof_prove` takes. */
export interface ProveArgs {
  /** The contract: `0x` address or registered name. */
  contract: AddressOrName;
  /** The provable method. */
  method: string;
  /** Its integer arguments (an `i32` argument must fit 32 bits). */
  args?: Amount[];
  /** The profile (`s`, `m`, `l`); default: the smallest served profile the call fits. */
  profile?: string | null;
  /** Read the contract's code at this height (default: the head). */
  height?: number | null;
}

/** A prove job (`proof_prove`, `proof_job`, notifications of `subscribe_proofJob`). */
export interface ProofJobView {
  /** The job id. */
  id: number;
  /** `queued`, `executing`, `proving`, `done` or `failed`. */
  state: string;
  /** Jobs ahead of it while queued. */
  queuePosition: number | null;
  /** The contract. */
  contract: Hex;
  /** blake3 of its code, read at `height`. */
  codeHash: Hex;
  /** The block whose committed state the code was read from. */
  height: number;
  /** The method. */
  method: string;
  /** The arguments. */
  args: bigint[];
  /** The profile. */
  profile: string;
  /** Steps the call runs (once executed). */
  steps: number | null;
  /** The profile's step bound. */
  stepBound: number;
  /** Milliseconds since the job was accepted. */
  elapsedMs: number;
  /** Milliseconds spent proving so far (or in total). */
  provingMs: number | null;
  /** How long proving is expected to take. */
  expectedProvingMs: number;
  /** The proof, once `done`. */
  proof: ProofView | null;
  /** Why it failed, once `failed`. */
  error: ProofErrorView | null;
}

/** What `proof_verify` returns. */
export interface ProofVerifyView {
  /** Whether the proof verifies (and the code commitment matches the code, when checked). */
  valid: boolean;
  /** Why not. */
  reason: ProofErrorView | null;
  /** The profile verified in. */
  profile: string;
  /** The origin of the node's verifying key. */
  keyOrigin: string;
  /** Whether the code commitment was re-derived from code the node has. */
  codeChecked: boolean;
}

/** Whether one `provable:` export is in the provable subset. */
export interface ProvableMethodView {
  /** The method. */
  method: string;
  /** Whether it compiles for the circuit. */
  provable: boolean;
  /** Instructions of the compiled program. */
  instructions: number | null;
  /** Why not: the first instruction outside the subset, or another reason. */
  reason: string | null;
  /** The module offset of that instruction. */
  offset: number | null;
}

/** What `contract_provability` returns (node-side information, not consensus data). */
export interface ProvabilityView {
  /** The contract. */
  contract: Hex;
  /** blake3 of its code. */
  codeHash: Hex;
  /** The block whose state the code was read from. */
  height: number;
  /** Every `provable:` export. */
  methods: ProvableMethodView[];
}

/** @internal */
export const ProofViewCodec: Codec<ProofView> = named('ProofView', () =>
  object<ProofView>({
    profile: required(text),
    scheduleHash: required(hex32),
    method: required(text),
    codeCommitment: required(hex32),
    args: required(array(decimal)),
    output: required(decimal),
    gasUsed: required(decimal),
    proof: required(bytes),
    codeHash: defaulted(nullable(hex32), null),
    contract: defaulted(nullable(hex32), null),
    height: defaulted(nullable(u64), null),
    keyOrigin: defaulted(nullable(text), null),
    vkBlake3: defaulted(nullable(text), null),
    publicSignals: defaulted(array(text), []),
    snarkjs: defaulted(json, null),
  }),
);

/** @internal */
export const ProofErrorViewCodec: Codec<ProofErrorView> = named('ProofErrorView', () =>
  object<ProofErrorView>({ code: required(u32), name: required(text), message: required(text) }),
);

/** @internal */
export const ProveArgsCodec: Codec<ProveArgs> = named('ProveArgs', () =>
  object<ProveArgs>(
    {
      contract: required(addressOrName),
      method: required(text),
      args: optional(array(amount)),
      profile: optional(nullable(text)),
      height: optional(nullable(u64)),
    },
    { closed: true },
  ),
);

/** @internal */
export const ProofJobViewCodec: Codec<ProofJobView> = named('ProofJobView', () =>
  object<ProofJobView>({
    id: required(u64),
    state: required(text),
    queuePosition: defaulted(nullable(u32), null),
    contract: required(hex32),
    codeHash: required(hex32),
    height: required(u64),
    method: required(text),
    args: required(array(decimal)),
    profile: required(text),
    steps: defaulted(nullable(u64), null),
    stepBound: required(u64),
    elapsedMs: required(u64),
    provingMs: defaulted(nullable(u64), null),
    expectedProvingMs: required(u64),
    proof: defaulted(nullable(ProofViewCodec), null),
    error: defaulted(nullable(ProofErrorViewCodec), null),
  }),
);

/** @internal */
export const ProofVerifyViewCodec: Codec<ProofVerifyView> = named('ProofVerifyView', () =>
  object<ProofVerifyView>({
    valid: required(boolean),
    reason: defaulted(nullable(ProofErrorViewCodec), null),
    profile: required(text),
    keyOrigin: required(text),
    codeChecked: required(boolean),
  }),
);

/** @internal */
export const ProvableMethodViewCodec: Codec<ProvableMethodView> = named('ProvableMethodView', () =>
  object<ProvableMethodView>({
    method: required(text),
    provable: required(boolean),
    instructions: defaulted(nullable(u32), null),
    reason: defaulted(nullable(text), null),
    offset: defaulted(nullable(u64), null),
  }),
);

/** @internal */
export const ProvabilityViewCodec: Codec<ProvabilityView> = named('ProvabilityView', () =>
  object<ProvabilityView>({
    contract: required(hex32),
    codeHash: required(hex32),
    height: required(u64),
    methods: required(array(ProvableMethodViewCodec)),
  }),
);

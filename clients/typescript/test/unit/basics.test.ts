// Encodings, decoding of answers, error mapping and gas arithmetic, without a node.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  admissionCode,
  AdmissionError,
  ADMISSION_REASONS,
  CallGasAboveMaxError,
  EncodingError,
  ErrorCode,
  ExecutionFailedError,
  formatGasReport,
  fromHex,
  gasLimitWithMargin,
  gasReport,
  OpmeterClient,
  parseDecimal,
  ProtocolError,
  RateLimitedError,
  receiptCost,
  RpcError,
  stringifyJson,
  toAmount,
  toHex,
  toRpcError,
  U256_MAX,
  type RpcResponse,
  type Transport,
} from '../../src/index.js';
import { BorshReader, BorshWriter } from '../../src/borsh.js';

describe('hex, decimals and amounts', () => {
  it('hex round-trips and refuses what the node refuses', () => {
    assert.equal(toHex(new Uint8Array([0, 1, 0xab, 0xff])), '0x0001abff');
    assert.deepEqual(fromHex('0x0001ABff'), new Uint8Array([0, 1, 0xab, 0xff]));
    assert.deepEqual(fromHex('0x'), new Uint8Array());
    for (const bad of ['0001', '0x0', '0xzz', '0x 1', '']) {
      assert.throws(() => fromHex(bad), EncodingError, bad);
    }
    assert.throws(() => fromHex('0x00', 'hash', 32), /expected 32 bytes/);
  });

  it('decimals are exact to 2^256 − 1 and nothing else parses', () => {
    assert.equal(parseDecimal(U256_MAX.toString()), U256_MAX);
    assert.equal(parseDecimal('0'), 0n);
    assert.throws(() => parseDecimal((U256_MAX + 1n).toString()), EncodingError);
    for (const bad of ['', '-1', '1.5', '1e3', ' 1', '0x10']) assert.throws(() => parseDecimal(bad), EncodingError, bad);
    assert.equal(toAmount(5), 5n);
    assert.throws(() => toAmount(2 ** 60), EncodingError, 'an unsafe number is refused, not rounded');
    assert.throws(() => toAmount(-1n), EncodingError);
    assert.throws(() => toAmount(1.5), EncodingError);
  });

  it('JSON is written with exact bigints', () => {
    assert.equal(stringifyJson({ by: 2n ** 70n, s: 'x"', a: [1, null, undefined], u: undefined }), '{"by":1180591620717411303424,"s":"x\\"","a":[1,null,null]}');
    assert.equal(stringifyJson('\u0000bigint:5'), '"\\u0000bigint:5"');
    assert.throws(() => stringifyJson({ n: Number.NaN }), EncodingError);
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    assert.throws(() => stringifyJson(cycle), EncodingError);
  });
});

describe('borsh', () => {
  it('writes and reads every primitive, little-endian', () => {
    const bytes = new BorshWriter()
      .u8(7)
      .u32(0x01020304)
      .u64((1n << 64n) - 1n)
      .u256(1n << 255n)
      .string('é')
      .bytes(new Uint8Array([9]))
      .finish();
    assert.equal(toHex(bytes.subarray(0, 5)), '0x0704030201');
    const reader = new BorshReader(bytes);
    assert.equal(reader.u8(), 7);
    assert.equal(reader.u32(), 0x01020304);
    assert.equal(reader.u64(), (1n << 64n) - 1n);
    assert.equal(reader.u256(), 1n << 255n);
    assert.equal(reader.string(), 'é');
    assert.deepEqual(reader.bytes(), new Uint8Array([9]));
    reader.end();
  });

  it('refuses out-of-range values, short input, bad UTF-8 and trailing bytes', () => {
    assert.throws(() => new BorshWriter().u64(1n << 64n), EncodingError);
    assert.throws(() => new BorshWriter().u256(-1n), EncodingError);
    assert.throws(() => new BorshReader(new Uint8Array([1, 0, 0])).u32(), /unexpected end/);
    assert.throws(() => new BorshReader(new Uint8Array([1, 0, 0, 0, 0xff])).string(), /UTF-8/);
    const reader = new BorshReader(new Uint8Array([1, 2]));
    reader.u8();
    assert.throws(() => reader.end(), /1 trailing bytes/);
  });
});

describe('errors', () => {
  it('every admission code maps to its reason and class', () => {
    assert.equal(ADMISSION_REASONS.length, 15);
    ADMISSION_REASONS.forEach((reason, i) => {
      const code = 1001 + i;
      assert.equal(admissionCode(reason), code);
      const data = reason === 'invalidCode' ? { reason, violations: [] } : { reason };
      const error = toRpcError('tx_sendRaw', { code, message: 'refused', data }, { strict: true });
      assert.ok(error instanceof AdmissionError);
      assert.equal(error.reason, reason);
      assert.equal(error.code, code);
      assert.equal(error.codeName, 'admission');
    });
  });

  it('structured data becomes typed fields', () => {
    const strict = { strict: true };
    const invalid = toRpcError(
      'tx_sendRaw',
      {
        code: 1011,
        message: 'invalid code',
        data: { reason: 'invalidCode', violations: [{ rule: 'importNotAllowed', limit: null, actual: null, location: 'import env.x', message: 'no' }] },
      },
      strict,
    );
    assert.ok(invalid instanceof AdmissionError);
    assert.equal(invalid.violations[0]?.rule, 'importNotAllowed');
    const limited = toRpcError('contract_call', { code: 2003, message: 'slow down', data: { retryAfterMs: 42 } }, strict);
    assert.ok(limited instanceof RateLimitedError);
    assert.equal(limited.retryAfterMs, 42);
    const failed = toRpcError(
      'contract_estimateGas',
      {
        code: 2004,
        message: 'fails',
        data: { status: 'revert', statusCode: 1, trapCode: null, output: '0x6e6f', outputText: 'no', gasUsed: '123' },
      },
      strict,
    );
    assert.ok(failed instanceof ExecutionFailedError);
    assert.deepEqual(failed.execution, {
      status: 'revert',
      statusCode: 1,
      trapCode: null,
      output: new Uint8Array([0x6e, 0x6f]),
      outputText: 'no',
      gasUsed: 123n,
    });
    const above = toRpcError('contract_call', { code: 2002, message: 'too much', data: { callGasMax: '100000000' } }, strict);
    assert.ok(above instanceof CallGasAboveMaxError);
    assert.equal(above.callGasMax, 100_000_000n);
    const unknown = toRpcError('chain_head', { code: ErrorCode.internal, message: 'disk' });
    assert.equal(unknown.constructor, RpcError);
    assert.equal(unknown.codeName, 'internal');
  });

  it('data of the wrong shape: a plain RpcError, or a ProtocolError when strict', () => {
    const wrong = { code: 1008, message: 'refused', data: { reason: 'nonceTaken' } };
    assert.equal(toRpcError('tx_sendRaw', wrong).constructor, RpcError);
    assert.throws(() => toRpcError('tx_sendRaw', wrong, { strict: true }), ProtocolError);
  });
});

/** A transport that answers from a table, recording what was asked. */
function fakeTransport(answers: Record<string, unknown>): Transport & { sent: [string, unknown[]][] } {
  const sent: [string, unknown[]][] = [];
  return {
    sent,
    async request(method: string, params: readonly unknown[]): Promise<RpcResponse> {
      sent.push([method, [...params]]);
      return { ok: true, result: answers[method] };
    },
    async close(): Promise<void> {},
  };
}

const HEADER = {
  chainId: 'c',
  height: 3,
  hash: `0x${'11'.repeat(32)}`,
  parentHash: `0x${'22'.repeat(32)}`,
  lastCommitHash: `0x${'00'.repeat(32)}`,
  timestampMs: 5,
  stateRoot: `0x${'33'.repeat(32)}`,
  transactionsRoot: `0x${'44'.repeat(32)}`,
  receiptsRoot: `0x${'55'.repeat(32)}`,
  gasUsed: '18446744073709551616',
  txCount: 0,
  scheduleHash: `0x${'66'.repeat(32)}`,
};

describe('decoding answers', () => {
  it('converts gas to bigint and keeps identifiers as lowercase hex', async () => {
    const client = new OpmeterClient({ transport: fakeTransport({ chain_head: { ...HEADER, hash: HEADER.hash.toUpperCase().replace('0X', '0x') } }) });
    const head = await client.chainHead();
    assert.equal(head.gasUsed, 1n << 64n);
    assert.equal(head.hash, HEADER.hash);
  });

  it('refuses answers of the wrong shape, naming where', async () => {
    for (const [answer, where] of [
      [{ ...HEADER, height: -1 }, /chain_head\.result\.height/],
      [{ ...HEADER, gasUsed: 5 }, /chain_head\.result\.gasUsed/],
      [{ ...HEADER, stateRoot: '0x12' }, /chain_head\.result\.stateRoot: expected 32 bytes/],
      [{ ...HEADER, height: 2 ** 53 }, /chain_head\.result\.height/],
      [(({ hash: _hash, ...rest }) => rest)(HEADER), /chain_head\.result\.hash: missing/],
    ] as const) {
      const client = new OpmeterClient({ transport: fakeTransport({ chain_head: answer }) });
      await assert.rejects(client.chainHead(), (e: unknown) => e instanceof ProtocolError && where.test(e.message));
    }
  });

  it('ignores unknown fields unless strict', async () => {
    const answers = { chain_head: { ...HEADER, future: 1 } };
    assert.equal((await new OpmeterClient({ transport: fakeTransport(answers) }).chainHead()).height, 3);
    await assert.rejects(
      new OpmeterClient({ transport: fakeTransport(answers), strict: true }).chainHead(),
      /chain_head\.result\.future: a field this client does not know/,
    );
  });

  it('writes parameters positionally, trailing optionals omitted, amounts as decimals', async () => {
    const transport = fakeTransport({ account_get: null, code_get: null, dev_fund: null, contract_call: null });
    const client = new OpmeterClient({ transport });
    const address = `0x${'AB'.repeat(32)}` as const;
    await client.accountGet(address).catch(() => undefined);
    await client.accountGet(address, 7).catch(() => undefined);
    await client.codeGet({ address }).catch(() => undefined);
    await client.devFund(address, 10n ** 30n).catch(() => undefined);
    await client
      .contractCall({ contract: address, method: 'get', args: { n: 2n ** 64n }, value: 1n, gasLimit: 5 })
      .catch(() => undefined);
    assert.deepEqual(transport.sent, [
      ['account_get', [address.toLowerCase()]],
      ['account_get', [address.toLowerCase(), 7]],
      ['code_get', [null, address.toLowerCase()]],
      ['dev_fund', [address.toLowerCase(), '1000000000000000000000000000000']],
      ['contract_call', [{ contract: address.toLowerCase(), method: 'get', args: { n: 2n ** 64n }, value: '1', gasLimit: '5' }]],
    ]);
    await assert.rejects(client.contractCall({ contract: address, method: 'get', gasLimit: 1n << 64n }), EncodingError);
    await assert.rejects(
      client.contractCall({ contract: address, method: 'get', extra: 1 } as never),
      /call\.extra: unknown field/,
    );
  });
});

describe('gas', () => {
  const receipt = {
    gasUsed: 44_848n,
    gasLimit: 53_808n,
    gasPrice: 3n,
    fee: 134_544n,
    gasBreakdown: { transaction: 23_984n, instructions: 7_040n, storage_write: 5_026n, caller: 50n, rest: 8_748n },
  };

  it('reports the breakdown, checked to sum to the gas used', () => {
    const report = gasReport(receipt);
    assert.equal(report.total, 44_848n);
    assert.equal(report.intrinsic, 23_984n);
    assert.equal(report.execution, 20_864n);
    assert.deepEqual(
      report.entries.map((e) => e.category),
      ['transaction', 'rest', 'instructions', 'storage_write', 'caller'],
    );
    assert.equal(report.entries[0]!.percent, 53.4784);
    const table = formatGasReport(report).split('\n');
    assert.equal(table[0], 'transaction    23,984   53.5%');
    assert.equal(table.at(-1), 'total          44,848  100.0%');
    assert.throws(() => gasReport({ ...receipt, gasUsed: 44_849n }), ProtocolError);
  });

  it('computes fees, refunds and margins', () => {
    assert.deepEqual(receiptCost(receipt), { reserved: 161_424n, fee: 134_544n, refund: 26_880n });
    assert.throws(() => receiptCost({ ...receipt, fee: 1n }), ProtocolError);
    // As the Rust client: limit + limit / 100 × 20 (integer division first).
    assert.equal(gasLimitWithMargin(53_808n, 10n ** 10n), 64_568n);
    assert.equal(gasLimitWithMargin(100n, 110n), 110n, 'capped at the block gas limit');
    assert.equal(gasLimitWithMargin(200n, 110n), 200n, 'never below the estimate');
  });
});

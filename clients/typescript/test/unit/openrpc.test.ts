// The client's method table and codecs against the node's OpenRPC document (`specs/openrpc.json`):
// every method, parameter, result, error code, subscription and schema field must match both
// ways, so the document cannot gain a method or change a type without this test failing.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { defineAll, SCHEMA_SHAPES, type Shape } from '../../src/codec.js';
import { ADMISSION_CODE_BASE, ADMISSION_REASONS, errorName, PROVER_CODE_BASE, PROVER_REASONS } from '../../src/errors.js';
import { clientMethodName, METHODS, type MethodSpec } from '../../src/methods.js';
import { OpmeterClient } from '../../src/client.js';
import '../../src/schemas.js';
import { REPO_DIR } from '../support/paths.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Doc = { [key: string]: Json };

/** A comparable form of a wire structure: what both the document and the codecs reduce to. */
type Canon =
  | { t: 'string' }
  | { t: 'const'; value: string }
  | { t: 'integer'; format: string }
  | { t: 'boolean' }
  | { t: 'json' }
  | { t: 'array'; items: Canon }
  | { t: 'map'; values: Canon }
  | { t: 'nullable'; inner: Canon }
  | { t: 'ref'; name: string }
  | { t: 'object'; fields: Record<string, { shape: Canon; required: boolean }>; closed: boolean }
  | { t: 'oneOf'; variants: Canon[] }
  | { t: 'anyOf'; options: Canon[] };

function obj(value: Json | undefined, where: string): Doc {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${where}: expected an object`);
  }
  return value;
}

function variantKey(variant: Canon): string {
  if (variant.t === 'object') {
    const kind = variant.fields['kind']?.shape;
    if (kind?.t === 'const') return kind.value;
  }
  return JSON.stringify(variant);
}

/** The document's JSON schema, reduced (descriptions, defaults and bounds dropped). */
function fromDoc(schema: Json | undefined, where: string): Canon {
  if (schema === true) return { t: 'json' };
  const s = obj(schema, where);
  if (typeof s['$ref'] === 'string') return { t: 'ref', name: s['$ref'].replace('#/components/schemas/', '') };
  if (Array.isArray(s['allOf'])) {
    assert.equal(s['allOf'].length, 1, `${where}: allOf of one reference`);
    return fromDoc(s['allOf'][0], `${where}.allOf[0]`);
  }
  if (Array.isArray(s['anyOf'])) {
    const options = s['anyOf'];
    const nonNull = options.filter((o) => !(obj(o, where)['type'] === 'null'));
    if (options.length === 2 && nonNull.length === 1) {
      return { t: 'nullable', inner: fromDoc(nonNull[0], `${where}.anyOf`) };
    }
    return { t: 'anyOf', options: options.map((o, i) => fromDoc(o, `${where}.anyOf[${i}]`)) };
  }
  if (Array.isArray(s['oneOf'])) {
    const variants = s['oneOf'].map((v, i) => fromDoc(v, `${where}.oneOf[${i}]`));
    return { t: 'oneOf', variants: variants.sort((a, b) => variantKey(a).localeCompare(variantKey(b))) };
  }
  if (typeof s['const'] === 'string') return { t: 'const', value: s['const'] };
  const type = s['type'];
  if (Array.isArray(type)) {
    const rest = type.filter((t) => t !== 'null');
    assert.ok(rest.length === 1 && type.length === 2, `${where}: a type or null`);
    return { t: 'nullable', inner: fromDoc({ ...s, type: rest[0]! }, where) };
  }
  switch (type) {
    case undefined:
      return { t: 'json' };
    case 'string':
      return { t: 'string' };
    case 'boolean':
      return { t: 'boolean' };
    case 'integer':
      assert.equal(typeof s['format'], 'string', `${where}: integers carry a format`);
      return { t: 'integer', format: s['format'] as string };
    case 'array':
      return { t: 'array', items: fromDoc(s['items'], `${where}.items`) };
    case 'object': {
      if (s['properties'] !== undefined) {
        const properties = obj(s['properties'], `${where}.properties`);
        const required = new Set((s['required'] as string[] | undefined) ?? []);
        for (const name of required) assert.ok(name in properties, `${where}: required ${name} is a property`);
        const fields: Record<string, { shape: Canon; required: boolean }> = {};
        for (const [name, property] of Object.entries(properties)) {
          fields[name] = { shape: fromDoc(property, `${where}.${name}`), required: required.has(name) };
        }
        return { t: 'object', fields, closed: s['additionalProperties'] === false };
      }
      if (s['additionalProperties'] !== undefined) {
        return { t: 'map', values: fromDoc(s['additionalProperties'], `${where}.additionalProperties`) };
      }
      return { t: 'json' };
    }
    default:
      throw new Error(`${where}: a type this test does not know: ${JSON.stringify(type)}`);
  }
}

/** The client's shape, reduced the same way (string formats are the client's business). */
function fromShape(shape: Shape): Canon {
  switch (shape.kind) {
    case 'string':
      return { t: 'string' };
    case 'const':
      return { t: 'const', value: shape.value };
    case 'integer':
      return { t: 'integer', format: shape.format };
    case 'boolean':
      return { t: 'boolean' };
    case 'json':
      return { t: 'json' };
    case 'array':
      return { t: 'array', items: fromShape(shape.items) };
    case 'map':
      return { t: 'map', values: fromShape(shape.values) };
    case 'nullable':
      return { t: 'nullable', inner: fromShape(shape.inner) };
    case 'ref':
      return { t: 'ref', name: shape.name };
    case 'object': {
      const fields: Record<string, { shape: Canon; required: boolean }> = {};
      for (const [name, field] of Object.entries(shape.fields)) {
        fields[name] = { shape: fromShape(field.shape), required: field.required };
      }
      return { t: 'object', fields, closed: shape.closed };
    }
    case 'oneOf': {
      const variants = shape.variants.map(fromShape);
      return { t: 'oneOf', variants: variants.sort((a, b) => variantKey(a).localeCompare(variantKey(b))) };
    }
    case 'anyOf':
      return { t: 'anyOf', options: shape.options.map(fromShape) };
  }
}

/** Every place where two reduced structures differ. */
function diff(doc: Canon, client: Canon, where: string, out: string[]): void {
  if (doc.t !== client.t) {
    out.push(`${where}: the document has ${doc.t}, the client ${client.t}`);
    return;
  }
  if (doc.t === 'object' && client.t === 'object') {
    if (doc.closed !== client.closed) out.push(`${where}: closed ${doc.closed} vs the client's ${client.closed}`);
    for (const name of new Set([...Object.keys(doc.fields), ...Object.keys(client.fields)])) {
      const d = doc.fields[name];
      const c = client.fields[name];
      if (!d) out.push(`${where}.${name}: only the client has it`);
      else if (!c) out.push(`${where}.${name}: a field the client does not know`);
      else {
        if (d.required !== c.required) out.push(`${where}.${name}: required ${d.required} vs the client's ${c.required}`);
        diff(d.shape, c.shape, `${where}.${name}`, out);
      }
    }
    return;
  }
  if (doc.t === 'oneOf' && client.t === 'oneOf') {
    if (doc.variants.length !== client.variants.length) {
      out.push(`${where}: ${doc.variants.length} variants vs the client's ${client.variants.length}`);
      return;
    }
    doc.variants.forEach((v, i) => diff(v, client.variants[i]!, `${where}<${variantKey(v)}>`, out));
    return;
  }
  if (JSON.stringify(doc) !== JSON.stringify(client)) {
    out.push(`${where}: ${JSON.stringify(doc)} vs the client's ${JSON.stringify(client)}`);
  }
}

/** Where the document's descriptions say "decimal" or `0x`, the client must read that format. */
function formatHints(schema: Json | undefined, shape: Shape, where: string, out: string[]): void {
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) return;
  const description = typeof schema['description'] === 'string' ? schema['description'] : '';
  let inner = shape;
  while (inner.kind === 'nullable') inner = inner.inner;
  if (inner.kind === 'string') {
    if (/decimal/i.test(description) && inner.format !== 'decimal') {
      out.push(`${where}: described as decimal, read as ${inner.format}`);
    }
    if (/^`?0x/.test(description) && inner.format !== 'hex' && inner.format !== 'bytes') {
      out.push(`${where}: described as 0x hex, read as ${inner.format}`);
    }
  }
  if (inner.kind === 'object' && typeof schema['properties'] === 'object' && schema['properties'] !== null) {
    for (const [name, field] of Object.entries(inner.fields)) {
      formatHints((schema['properties'] as Doc)[name], field.shape, `${where}.${name}`, out);
    }
  }
  if (inner.kind === 'oneOf' && Array.isArray(schema['oneOf'])) {
    for (const variant of schema['oneOf']) {
      const kind = ((variant as Doc)['properties'] as Doc | undefined)?.['kind'] as Doc | undefined;
      const match = inner.variants.find((v) => {
        const tag = v.fields['kind']?.shape;
        return tag?.kind === 'const' && tag.value === kind?.['const'];
      });
      if (match) formatHints(variant, match, `${where}<${String(kind?.['const'])}>`, out);
    }
  }
}

/** Every difference between the document and the client. */
function differences(doc: Doc): string[] {
  defineAll();
  const out: string[] = [];
  const schemas = obj(obj(doc['components'], 'components')['schemas'], 'schemas');
  for (const name of new Set([...Object.keys(schemas), ...SCHEMA_SHAPES.keys()])) {
    const shape = SCHEMA_SHAPES.get(name);
    if (!(name in schemas)) out.push(`schema ${name}: only the client has it`);
    else if (!shape) out.push(`schema ${name}: the client does not know it`);
    else {
      diff(fromDoc(schemas[name], name), fromShape(shape), name, out);
      formatHints(schemas[name], shape, name, out);
    }
  }
  const methods = doc['methods'] as Doc[];
  const table = METHODS as Record<string, MethodSpec>;
  const docNames = new Set(methods.map((m) => m['name'] as string));
  for (const name of Object.keys(table)) if (!docNames.has(name)) out.push(`method ${name}: only the client has it`);
  const prototype = OpmeterClient.prototype as unknown as Record<string, unknown>;
  for (const method of methods) {
    const name = method['name'] as string;
    const spec = table[name];
    if (!spec) {
      out.push(`method ${name}: the client does not know it`);
      continue;
    }
    if (typeof prototype[clientMethodName(name)] !== 'function') {
      out.push(`method ${name}: no OpmeterClient.${clientMethodName(name)}`);
    }
    const params = method['params'] as Doc[];
    if (params.length !== spec.params.length) {
      out.push(`method ${name}: ${params.length} params vs the client's ${spec.params.length}`);
    }
    params.forEach((param, i) => {
      const mine = spec.params[i];
      if (!mine) return;
      const where = `method ${name} param ${i}`;
      if (param['name'] !== mine.name) out.push(`${where}: named ${String(param['name'])} vs ${mine.name}`);
      if ((param['required'] === true) !== mine.required) out.push(`${where}: required ${String(param['required'])}`);
      diff(fromDoc(param['schema'], where), fromShape(mine.codec.shape), where, out);
    });
    const result = obj(method['result'], `${name}.result`)['schema'];
    diff(fromDoc(result, `${name}.result`), fromShape(spec.result.shape), `method ${name} result`, out);
    const errors = ((method['errors'] as Doc[]) ?? []).map((e) => e['code'] as number).sort((a, b) => a - b);
    const mine = [...spec.errors].sort((a, b) => a - b);
    if (JSON.stringify(errors) !== JSON.stringify(mine)) {
      out.push(`method ${name} errors: ${JSON.stringify(errors)} vs the client's ${JSON.stringify(mine)}`);
    }
    for (const code of errors) {
      if (code !== ADMISSION_CODE_BASE && code !== PROVER_CODE_BASE && errorName(code) === null) {
        out.push(`method ${name}: unknown error code ${code}`);
      }
    }
    const subscription = method['x-subscription'] ?? null;
    if (JSON.stringify(subscription) !== JSON.stringify(spec.subscription ?? null)) {
      out.push(`method ${name} x-subscription: ${JSON.stringify(subscription)} vs ${JSON.stringify(spec.subscription)}`);
    }
  }
  return out;
}

function loadDoc(): Doc {
  return JSON.parse(readFileSync(path.join(REPO_DIR, 'specs', 'openrpc.json'), 'utf8')) as Doc;
}

describe('OpenRPC document', () => {
  it('matches every method, parameter, result, error and schema of the client', () => {
    assert.deepEqual(differences(loadDoc()), []);
  });

  it('names the admission range the client knows', () => {
    const doc = loadDoc();
    const messages = (doc['methods'] as Doc[])
      .flatMap((m) => (m['errors'] as Doc[]) ?? [])
      .filter((e) => e['code'] === ADMISSION_CODE_BASE)
      .map((e) => e['message'] as string);
    assert.ok(messages.length >= 3);
    for (const message of messages) {
      const range = /n = 1\.\.(\d+)/.exec(message);
      assert.ok(range, message);
      assert.equal(Number(range[1]), ADMISSION_REASONS.length, message);
    }
  });

  it('names the prover range the client knows', () => {
    const doc = loadDoc();
    const messages = (doc['methods'] as Doc[])
      .flatMap((m) => (m['errors'] as Doc[]) ?? [])
      .filter((e) => e['code'] === PROVER_CODE_BASE)
      .map((e) => e['message'] as string);
    assert.ok(messages.length >= 3);
    for (const message of messages) {
      const range = /n = 1\.\.(\d+)/.exec(message);
      assert.ok(range, message);
      assert.equal(Number(range[1]), PROVER_REASONS.length, message);
    }
    assert.equal(errorName(3011), 'prover');
    assert.equal(errorName(PROVER_CODE_BASE + PROVER_REASONS.length), 'prover');
    assert.equal(errorName(PROVER_CODE_BASE + PROVER_REASONS.length + 1), null);
  });

  // The comparison itself: each kind of change to the document is reported.
  const mutations: [string, (doc: Doc) => void, RegExp][] = [
    [
      'a new method',
      (doc) => (doc['methods'] as Doc[]).push({ name: 'chain_new', params: [], result: { name: 'r', schema: true }, errors: [] }),
      /method chain_new: the client does not know it/,
    ],
    [
      'a removed method',
      (doc) => {
        doc['methods'] = (doc['methods'] as Doc[]).filter((m) => m['name'] !== 'tx_get');
      },
      /method tx_get: only the client has it/,
    ],
    [
      'a new field',
      (doc) => {
        const schema = ((doc['components'] as Doc)['schemas'] as Doc)['ReceiptView'] as Doc;
        (schema['properties'] as Doc)['tip'] = { type: 'string' };
      },
      /ReceiptView\.tip: a field the client does not know/,
    ],
    [
      'a changed type',
      (doc) => {
        const schema = ((doc['components'] as Doc)['schemas'] as Doc)['HeaderView'] as Doc;
        (schema['properties'] as Doc)['gasUsed'] = { type: 'integer', format: 'uint64' };
      },
      /HeaderView\.gasUsed: the document has integer, the client string/,
    ],
    [
      'a field made required',
      (doc) => {
        const schema = ((doc['components'] as Doc)['schemas'] as Doc)['TxView'] as Doc;
        (schema['required'] as string[]).push('height');
      },
      /TxView\.height: required true vs the client's false/,
    ],
    [
      'a new parameter',
      (doc) => {
        const method = (doc['methods'] as Doc[]).find((m) => m['name'] === 'chain_head')!;
        (method['params'] as Doc[]).push({ name: 'x', required: false, schema: { type: 'string' } });
      },
      /method chain_head: 1 params vs the client's 0/,
    ],
    [
      'a new error code',
      (doc) => {
        const method = (doc['methods'] as Doc[]).find((m) => m['name'] === 'tx_receipt')!;
        (method['errors'] as Doc[]).push({ code: 2099, message: 'new' });
      },
      /unknown error code 2099/,
    ],
    [
      'a new payload variant',
      (doc) => {
        const schema = ((doc['components'] as Doc)['schemas'] as Doc)['PayloadView'] as Doc;
        (schema['oneOf'] as Doc[]).push({
          properties: { kind: { const: 'stake', type: 'string' } },
          required: ['kind'],
          type: 'object',
        });
      },
      /PayloadView: 7 variants vs the client's 6/,
    ],
    [
      'an amount described as decimal but read as bytes',
      (doc) => {
        const schema = ((doc['components'] as Doc)['schemas'] as Doc)['CodeView'] as Doc;
        ((schema['properties'] as Doc)['code'] as Doc)['description'] = 'A decimal string.';
      },
      /CodeView\.code: described as decimal, read as bytes/,
    ],
  ];
  for (const [name, mutate, expected] of mutations) {
    it(`reports ${name}`, () => {
      const doc = loadDoc();
      mutate(doc);
      const found = differences(doc);
      assert.ok(found.some((d) => expected.test(d)), `expected ${expected} in ${JSON.stringify(found, null, 1)}`);
    });
  }
});

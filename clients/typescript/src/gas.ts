/**
 * Gas arithmetic on receipts, calls and estimates: the breakdown by category (which sums to the
 * gas used, to the unit), fees and refunds, and the margin added to verified estimates.
 *
 * @module
 */

import { ProtocolError } from './errors.js';

/** The breakdown category of intrinsic gas (`tx_base + tx_per_byte × length`). */
export const INTRINSIC_CATEGORY = 'transaction';

/** Extra gas on top of a verified estimate, in percent (as the Rust client and the CLI). */
export const GAS_MARGIN_PERCENT = 20;

/** One category of a {@link GasReport}. */
export interface GasReportEntry {
  /** The category (`instructions`, `storage_write`, `transaction`, …; see `specs/gas.md`). */
  readonly category: string;
  /** Its gas. */
  readonly gas: bigint;
  /** Its share of the total, in percent (for display; the gas is exact). */
  readonly percent: number;
}

/** A gas breakdown, checked and ordered. */
export interface GasReport {
  /** The gas used: the sum of every entry. */
  readonly total: bigint;
  /** Intrinsic (size) gas: the `transaction` category (0 for read-only calls). */
  readonly intrinsic: bigint;
  /** Gas of the execution: `total − intrinsic`. */
  readonly execution: bigint;
  /** Every category, most gas first (ties by name). */
  readonly entries: readonly GasReportEntry[];
}

/** Anything with a gas breakdown: receipts, call results, estimates. */
export interface HasGasBreakdown {
  /** Gas used. */
  readonly gasUsed: bigint;
  /** Gas by category. */
  readonly gasBreakdown: Readonly<Record<string, bigint>>;
}

/**
 * The breakdown of a receipt (or call result, or estimate) as a report.
 *
 * @throws {@link ProtocolError} when the categories do not sum to `gasUsed` (the node guarantees
 *   they do).
 */
export function gasReport(source: HasGasBreakdown): GasReport {
  let total = 0n;
  const raw = Object.entries(source.gasBreakdown);
  for (const [, gas] of raw) total += gas;
  if (total !== source.gasUsed) {
    throw new ProtocolError('gasBreakdown', `the categories sum to ${total}, not gasUsed ${source.gasUsed}`);
  }
  const entries = raw
    .map(([category, gas]) => ({
      category,
      gas,
      percent: total === 0n ? 0 : Number((gas * 1_000_000n) / total) / 10_000,
    }))
    .sort((a, b) => (a.gas === b.gas ? a.category.localeCompare(b.category) : a.gas > b.gas ? -1 : 1));
  const intrinsic = source.gasBreakdown[INTRINSIC_CATEGORY] ?? 0n;
  return { total, intrinsic, execution: total - intrinsic, entries };
}

/**
 * A report as an aligned text table (category, gas, share), ending with the total:
 *
 * ```text
 * transaction        23,984   53.4%
 * instructions        7,040   15.7%
 * …
 * total              44,848  100.0%
 * ```
 */
export function formatGasReport(report: GasReport): string {
  const group = (gas: bigint): string => gas.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const rows = report.entries.map((e) => [e.category, group(e.gas), `${e.percent.toFixed(1)}%`] as const);
  rows.push(['total', group(report.total), report.total === 0n ? '0.0%' : '100.0%']);
  const width = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i as 0 | 1 | 2].length)));
  return rows
    .map(([name, gas, share]) => `${name.padEnd(width[0]!)}  ${gas.padStart(width[1]!)}  ${share.padStart(width[2]!)}`)
    .join('\n');
}

/** What a receipt's sender paid and got back. */
export interface ReceiptCost {
  /** Reserved up front: `gasLimit × gasPrice`. */
  readonly reserved: bigint;
  /** The fee: `gasUsed × gasPrice`. */
  readonly fee: bigint;
  /** Returned after execution: `reserved − fee`. */
  readonly refund: bigint;
}

/** The cost of a receipt (`specs/node.md`, "Execution, fees and receipts"). */
export function receiptCost(receipt: {
  readonly gasUsed: bigint;
  readonly gasLimit: bigint;
  readonly gasPrice: bigint;
  readonly fee: bigint;
}): ReceiptCost {
  const reserved = receipt.gasLimit * receipt.gasPrice;
  if (receipt.fee !== receipt.gasUsed * receipt.gasPrice) {
    throw new ProtocolError('fee', `${receipt.fee} is not gasUsed × gasPrice`);
  }
  return { reserved, fee: receipt.fee, refund: reserved - receipt.fee };
}

/**
 * A gas limit for a transaction from a verified estimate: the estimate plus `marginPercent`
 * (never above `blockGasLimit`, never below the estimate). Only used gas is paid.
 */
export function gasLimitWithMargin(
  estimate: bigint,
  blockGasLimit: bigint,
  marginPercent: number = GAS_MARGIN_PERCENT,
): bigint {
  if (!Number.isInteger(marginPercent) || marginPercent < 0) {
    throw new RangeError('marginPercent must be a non-negative integer');
  }
  const withMargin = estimate + (estimate / 100n) * BigInt(marginPercent);
  const capped = withMargin < blockGasLimit ? withMargin : blockGasLimit;
  return capped > estimate ? capped : estimate;
}

/**
 * Chooses how an int8 "QOperator" model's weights are handed to onnxruntime, so that its answers
 * are the exact integer arithmetic on every CPU and as fast as the CPU allows.
 *
 * onnxruntime's MLAS runs uint8-activation × int8-weight products (u8s8) with:
 * - VNNI (`VPDPBUSD`, AVX-512 VNNI or AVX-VNNI) or AMX (`TDPBUSD`) on x86: four products summed
 *   into an int32 accumulator, exact;
 * - `VPMADDUBSW` on other AVX2 / AVX-512 x86 CPUs: adjacent products summed into a *saturating*
 *   int16, wrong for full-range weights (docs/model.md, "The same answers on every CPU");
 * - widening or dot-product instructions on ARM64 (NEON, SDOT/UDOT), exact.
 *
 * With the weights re-typed as uint8 ({@link unsignedWeightsModel}), the u8u8 kernels widen both
 * operands to 16 bits first and are exact on every CPU, but slower than the u8s8 ones (docs/model.md).
 * So `auto` keeps the weights signed where u8s8 is exact: on a CPU whose u8s8 kernels are exact,
 * and on every CPU for a model whose weights provably cannot saturate them (all within ±64, as
 * the served 7-bit backbone's: weight-range.ts). It re-types them everywhere else, including any
 * CPU this module cannot identify. Both forms give bit-identical outputs where u8s8 is exact
 * (checked on the 85 development photos by test/model/default-model.test.ts).
 */
import { readFileSync } from 'node:fs';
import { decodeModel, encodeModel } from '../onnx/codec.js';
import { hasSignedWeights, LINEAR_OPERATORS, unsignedWeightsModel } from './unsigned-weights.js';
import { int8WeightsCannotSaturate } from './weight-range.js';

/** The `INT8_WEIGHTS` setting: see the module comment. */
export type Int8WeightsSetting = 'auto' | 'unsigned' | 'as-is';

/** What the CPU offers, as far as the choice is concerned. */
export interface CpuFeatures {
  /** `process.arch`. */
  readonly arch: string;
  /** Feature flags as Linux's /proc/cpuinfo names them; empty when unknown. */
  readonly flags: ReadonlySet<string>;
}

/** x86 features with which MLAS picks an exact u8s8 kernel. */
const EXACT_X86_FEATURES = ['avx512_vnni', 'avx_vnni', 'amx_int8'];

/** This machine's architecture and, on Linux, its CPU flags (none elsewhere: the safe choice). */
export function hostCpuFeatures(cpuinfo = '/proc/cpuinfo'): CpuFeatures {
  let flags = new Set<string>();
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync(cpuinfo, 'utf8'));
    flags = new Set(line?.[1]?.trim().split(/\s+/) ?? []);
  } catch {
    // Not Linux, or no /proc: unknown features.
  }
  return { arch: process.arch, flags };
}

/** Whether onnxruntime's u8s8 kernels compute exact int32 sums on this CPU. */
export function signedInt8IsExact(cpu: CpuFeatures): boolean {
  if (cpu.arch === 'arm64') return true;
  if (cpu.arch === 'x64' || cpu.arch === 'ia32') return EXACT_X86_FEATURES.some((f) => cpu.flags.has(f));
  return false;
}

/**
 * How the weights were handed to onnxruntime, for logs and metrics: as the file has them,
 * re-typed as uint8, or unchanged because the model has no int8 weights to re-type.
 */
export type Int8WeightsForm = 'as-is' | 'unsigned' | 'none';

/** The model bytes to load and the form its int8 weights take. */
export interface PreparedModel {
  readonly bytes: Uint8Array;
  readonly int8Weights: Int8WeightsForm;
}

/**
 * Applies `setting` to a model: re-types its int8 weights as uint8 when asked to, or when `auto`,
 * this CPU's u8s8 kernels are not exact and the weights could saturate them; a model without
 * int8 weights is returned unchanged (`none`). Throws `UnsupportedQuantizedGraph` (onnx/dequantize.ts) when a rewrite is needed and impossible.
 */
export function prepareInt8Weights(bytes: Uint8Array, setting: Int8WeightsSetting, cpu: CpuFeatures = hostCpuFeatures()): PreparedModel {
  // Keeping the file as it is needs no decoding (a float model can be hundreds of megabytes).
  if (setting === 'as-is' || (setting === 'auto' && signedInt8IsExact(cpu))) return { bytes, int8Weights: 'as-is' };
  // Operator types are stored as plain strings: a model that never names one has nothing to re-type.
  if (!LINEAR_OPERATORS.some((op) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes(op))) {
    return { bytes, int8Weights: 'none' };
  }
  const model = decodeModel(bytes);
  if (!hasSignedWeights(model)) return { bytes, int8Weights: 'none' };
  if (setting === 'auto' && int8WeightsCannotSaturate(model)) return { bytes, int8Weights: 'as-is' };
  return { bytes: encodeModel(unsignedWeightsModel(model)), int8Weights: 'unsigned' };
}

/**
 * The CPU a benchmark ran on: its model and the flags that decide which int8 kernels onnxruntime
 * (the service and peer 2) runs, so that figures from machines with and without VNNI are not
 * compared unawares (src/model/int8/kernels.ts).
 */
import os from 'node:os';
import { hostCpuFeatures, signedInt8IsExact, type CpuFeatures } from '../../src/model/int8/kernels.js';

/**
 * Flags that matter to int8 inference on x86: AVX2 (`VPMADDUBSW`, saturating int16 pair sums),
 * AVX-512 BW (MLAS's AVX-512 integer kernels), AVX-512 VNNI and AVX-VNNI (`VPDPBUSD`, exact int32
 * sums), AMX (`TDPBUSD` tiles).
 */
export const INT8_FLAGS = ['avx2', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'amx_tile', 'amx_int8'] as const;

/** What the bench reports about the CPU. */
export interface BenchCpu {
  readonly model: string;
  readonly cores: number;
  /** The {@link INT8_FLAGS} this CPU has. */
  readonly int8Flags: readonly string[];
  /** The {@link INT8_FLAGS} it lacks. */
  readonly missingInt8Flags: readonly string[];
  /** Whether onnxruntime's u8s8 kernels sum exactly here (VNNI, AMX, ARM64), so `INT8_WEIGHTS=auto` keeps the weights signed. */
  readonly u8s8Exact: boolean;
}

/** Reads this machine's CPU (or the one given, for tests). */
export function benchCpu(features: CpuFeatures = hostCpuFeatures(), cpus: readonly os.CpuInfo[] = os.cpus()): BenchCpu {
  return {
    model: cpus[0]?.model.trim() || 'unknown CPU',
    cores: cpus.length,
    int8Flags: INT8_FLAGS.filter((f) => features.flags.has(f)),
    missingInt8Flags: INT8_FLAGS.filter((f) => !features.flags.has(f)),
    u8s8Exact: signedInt8IsExact(features),
  };
}

/** One line: `2 × AMD EPYC; int8 flags: avx2 avx512_vnni (not: amx_int8); u8s8 exact (VNNI/AMX)`. */
export function describeCpu(cpu: BenchCpu): string {
  const present = cpu.int8Flags.length ? cpu.int8Flags.join(' ') : 'none';
  const absent = cpu.missingInt8Flags.length ? ` (not: ${cpu.missingInt8Flags.join(' ')})` : '';
  const kernels = cpu.u8s8Exact
    ? "onnxruntime's u8s8 kernels exact (VNNI/AMX/ARM64): INT8_WEIGHTS=auto keeps signed weights"
    : "onnxruntime's u8s8 kernels saturate (no VNNI): INT8_WEIGHTS=auto re-types the weights as uint8, peer 2 keeps them";
  return `${cpu.cores} × ${cpu.model}; int8 flags: ${present}${absent}; ${kernels}`;
}

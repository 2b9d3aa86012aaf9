/**
 * Helpers that build ONNX graph pieces: nodes with attributes, typed inputs/outputs,
 * and a whole model around a graph.
 */
import type {
  AttributeProto,
  GraphProto,
  ModelProto,
  NodeProto,
  OperatorSetIdProto,
  TensorProto,
  ValueInfoProto,
} from '../../src/model/onnx/types.js';
import { AttributeType, DataType } from '../../src/model/onnx/types.js';

/** An attribute value: numbers become INT when integral, FLOAT otherwise, unless wrapped. */
export type AttributeValue =
  | number
  | string
  | readonly number[]
  | TensorProto
  | { readonly float: number }
  | { readonly floats: readonly number[] };

/** Builds one named attribute; integers are INT/INTS, use `{ float }`/`{ floats }` to force floats. */
export function attribute(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    return Number.isInteger(value) ? { name, type: AttributeType.INT, i: value } : { name, type: AttributeType.FLOAT, f: value };
  }
  if (Array.isArray(value)) {
    const list = value as readonly number[];
    return list.every((v) => Number.isInteger(v))
      ? { name, type: AttributeType.INTS, ints: [...list] }
      : { name, type: AttributeType.FLOATS, floats: [...list] };
  }
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: [...value.floats] };
  return { name, type: AttributeType.TENSOR, t: value as TensorProto };
}

/** Builds a node; `attributes` maps attribute names to values (see {@link attribute}). */
export function node(
  opType: string,
  inputs: readonly string[],
  outputs: readonly string[],
  attributes: Readonly<Record<string, AttributeValue>> = {},
  name?: string,
): NodeProto {
  const n: NodeProto = {
    opType,
    input: [...inputs],
    output: [...outputs],
    attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
  };
  if (name !== undefined) n.name = name;
  return n;
}

/** A dimension: a number is fixed, a string is symbolic (dynamic, such as `'N'`). */
export type DimSpec = number | string;

/** Describes a tensor-typed graph input or output. */
export function tensorValueInfo(name: string, elemType: number, dims: readonly DimSpec[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Describes a float32 graph input or output. */
export function floatValueInfo(name: string, dims: readonly DimSpec[]): ValueInfoProto {
  return tensorValueInfo(name, DataType.FLOAT, dims);
}

/** Options of {@link buildModel}. */
export interface BuildModelOptions {
  /** ONNX opset of the default domain. Default 13. */
  readonly opset?: number;
  /** Further opset imports (such as `com.microsoft`). */
  readonly extraOpsets?: readonly OperatorSetIdProto[];
  /** IR version. Default 7 (onnxruntime 1.x reads 3–10). */
  readonly irVersion?: number;
  /** Producer name written in the file. Default `catdog-classifier`. */
  readonly producerName?: string;
  /** Free-text documentation of the model. */
  readonly docString?: string;
}

/** Wraps a graph into a model with opset imports and producer metadata. */
export function buildModel(graph: GraphProto, options: BuildModelOptions = {}): ModelProto {
  const model: ModelProto = {
    irVersion: options.irVersion ?? 7,
    opsetImport: [{ domain: '', version: options.opset ?? 13 }, ...(options.extraOpsets ?? [])],
    producerName: options.producerName ?? 'catdog-classifier',
    graph,
  };
  if (options.docString !== undefined) model.docString = options.docString;
  return model;
}

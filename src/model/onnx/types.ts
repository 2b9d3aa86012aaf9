/**
 * Plain-object shapes of the ONNX messages this project reads and writes, as produced by
 * {@link decodeModel} (camelCased field names, int64 as `number`, bytes as `Uint8Array`).
 * Every field is optional, as in the proto2 schema.
 */

/** `TensorProto.DataType` values used here. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
} as const;

/** One of the {@link DataType} values (or any other ONNX data type number). */
export type DataTypeCode = number;

/** `AttributeProto.AttributeType` values used here. */
export const AttributeType = {
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  FLOATS: 6,
  INTS: 7,
} as const;

/** A tensor value (initialiser or attribute). */
export interface TensorProto {
  dims?: number[];
  dataType?: DataTypeCode;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  doubleData?: number[];
  name?: string;
  docString?: string;
  rawData?: Uint8Array;
  dataLocation?: number;
}

/** A node attribute. */
export interface AttributeProto {
  name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorProto;
  g?: GraphProto;
  floats?: number[];
  ints?: number[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  docString?: string;
}

/** A tensor dimension: a fixed size or a symbolic name. */
export interface Dimension {
  dimValue?: number;
  dimParam?: string;
  denotation?: string;
}

/** A value's type; only tensor types are used here. */
export interface TypeProto {
  tensorType?: { elemType?: DataTypeCode; shape?: { dim?: Dimension[] } };
  denotation?: string;
}

/** A graph input, output or intermediate value description. */
export interface ValueInfoProto {
  name?: string;
  type?: TypeProto;
  docString?: string;
}

/** An operator application. */
export interface NodeProto {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute?: AttributeProto[];
  docString?: string;
}

/** A computation graph. */
export interface GraphProto {
  node?: NodeProto[];
  name?: string;
  initializer?: TensorProto[];
  docString?: string;
  input?: ValueInfoProto[];
  output?: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
}

/** An operator set import. */
export interface OperatorSetIdProto {
  domain?: string;
  version?: number;
}

/** A key/value metadata entry. */
export interface StringStringEntryProto {
  key?: string;
  value?: string;
}

/** A whole model file. */
export interface ModelProto {
  irVersion?: number;
  opsetImport?: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: number;
  docString?: string;
  graph?: GraphProto;
  metadataProps?: StringStringEntryProto[];
}

/** Errors of the ONNX format modules and of the graph rewrites built on them. */

/** Thrown when bytes are not an ONNX model or a model object cannot be encoded. */
export class OnnxFormatError extends Error {
  readonly code = 'onnx-format-invalid';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OnnxFormatError';
  }
}

/**
 * Thrown for a quantised graph a rewrite cannot translate: an unknown quantised operator, int8
 * weights that are not initialisers, a weight tensor read as another input…
 */
export class UnsupportedQuantizedGraph extends Error {
  readonly code = 'unsupported-quantized-graph';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'UnsupportedQuantizedGraph';
  }
}

/** The generated client of the service and the `predict` command built on it. */
export {
  classifyImage,
  createClassifierClient,
  type ClassifierClient,
  type ClassifierClientOptions,
  type ClassifyOptions,
  type ClassifyResult,
  type Prediction,
  type Problem,
} from './client.js';
export { predict, type PredictIo } from './predict.js';
export {
  createGrpcClient,
  type GrpcClientOptions,
  type GrpcInferenceClient,
  type GrpcInferOptions,
  type GrpcInferResult,
  type GrpcPrediction,
} from './grpc.js';
export {
  binaryImageRequest,
  DEFAULT_MODEL_NAME,
  inferImages,
  modelMetadata,
  predictionsOf,
  type ImagePrediction,
  type InferenceResponse,
  type InferImagesOptions,
  type InferResult,
  type ModelMetadata,
  type V2Error,
} from './v2.js';

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

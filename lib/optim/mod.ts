/**
 * Optimizers and learning-rate schedules: {@link SGD}, {@link Adam}, {@link AdamW}
 * (torch.optim's update rules and defaults), {@link clipGradNorm}, and the schedules
 * {@link transformerLearningRate} (Noam) and {@link warmupCosineLearningRate}.
 *
 * @module
 */

export { type OptimizerParams } from "./_params.ts";
export {
  Optimizer,
  type OptimizerStateDict,
  type ParameterState,
  type ParameterStateDict,
} from "./optimizer.ts";
export { SGD, type SGDOptions, type SGDResolved } from "./sgd.ts";
export { Adam, type AdamOptions, type AdamResolved } from "./adam.ts";
export { AdamW } from "./adamw.ts";
export { clipGradNorm, type ClipGradNormOptions } from "./clip_grad_norm.ts";
export {
  transformerLearningRate,
  type TransformerLearningRateOptions,
} from "./transformer_learning_rate.ts";
export {
  warmupCosineLearningRate,
  type WarmupCosineLearningRateOptions,
} from "./warmup_cosine_learning_rate.ts";

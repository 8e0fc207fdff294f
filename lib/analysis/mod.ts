/**
 * Head analysis: scores that say what an attention head does, computed on
 * attention maps and on a model's parameters (Olsson et al. 2022).
 *
 * @module
 */

export { alignmentScore, type ExpectedAlignment } from "./alignment_score.ts";
export { copyingScore } from "./copying_score.ts";
export {
  prefixMatchingScore,
  type PrefixMatchingSpec,
  type PrefixMatchingTarget,
} from "./prefix_matching_score.ts";
export { previousTokenScore } from "./previous_token_score.ts";

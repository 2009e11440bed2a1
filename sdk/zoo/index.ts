// The model zoo: builders for standard ranking architectures with seeded
// weights. Every builder takes its own options (all optional: seed, scale of
// the table rows, architecture sizes) and returns a validated graph and its
// weights, ready for writeModel.
import type { BuiltModel } from "../../runtime/graph/builder";
import { buildBst, type BstOptions } from "./bst";
import { buildDcnv2, type Dcnv2Options } from "./dcnv2";
import { buildDeepfm, type DeepfmOptions } from "./deepfm";
import { buildDin, type DinOptions } from "./din";
import { buildDlrm, type DlrmOptions } from "./dlrm";
import { buildHstu, type HstuOptions } from "./hstu";
import { buildMmoe, type MmoeOptions } from "./mmoe";
import { buildMoe, type MoeOptions } from "./moe";
import { buildPle, type PleOptions } from "./ple";
import { buildRankmixer, type RankmixerOptions } from "./rankmixer";
import { buildWidedeep, type WidedeepOptions } from "./widedeep";

export interface ZooEntry<O> {
  summary: string;
  build(options?: Partial<O>): BuiltModel;
}

export interface ZooOptions {
  dlrm: DlrmOptions;
  dcnv2: Dcnv2Options;
  deepfm: DeepfmOptions;
  widedeep: WidedeepOptions;
  din: DinOptions;
  mmoe: MmoeOptions;
  ple: PleOptions;
  moe: MoeOptions;
  hstu: HstuOptions;
  rankmixer: RankmixerOptions;
  bst: BstOptions;
}

export type ZooName = keyof ZooOptions;

export const zoo: { [N in ZooName]: ZooEntry<ZooOptions[N]> } = {
  dlrm: { summary: "MLPerf DLRM-v2: 13 dense, 26 multi-hot sparse (dim 128), DCN-v2 low-rank cross ×3, top MLP", build: buildDlrm },
  dcnv2: { summary: "DCN-v2: full-rank cross network and deep MLP (stacked or parallel)", build: buildDcnv2 },
  deepfm: { summary: "DeepFM: first-order + factorization machine + deep MLP", build: buildDeepfm },
  widedeep: { summary: "Wide & Deep: linear model over sparse and cross features + deep MLP", build: buildWidedeep },
  din: { summary: "DIN: target attention over the user's behaviour sequence", build: buildDin },
  mmoe: { summary: "MMoE: shared experts, softmax gate per task (ctr, cvr)", build: buildMmoe },
  ple: { summary: "PLE: customized gate control with shared and task experts (ctr, cvr)", build: buildPle },
  moe: { summary: "sparse top-k mixture-of-experts block in a ranking model", build: buildMoe },
  hstu: { summary: "HSTU (DLRMv3-like): HSTU layers over the (item, action) history, candidates attend to it (M-FALCON)", build: buildHstu },
  rankmixer: { summary: "RankMixer: features as T tokens, token mixing + per-token FFN blocks", build: buildRankmixer },
  bst: { summary: "BST: transformer blocks over the item history (once per request), the target attends to it", build: buildBst },
};

export const zooNames = Object.keys(zoo) as ZooName[];

export function isZooName(name: string): name is ZooName {
  return Object.hasOwn(zoo, name);
}

export { parameterCount, flopsPerRow } from "./stats";
export { buildBst, buildDcnv2, buildDeepfm, buildDin, buildDlrm, buildHstu, buildMmoe, buildMoe, buildPle, buildRankmixer, buildWidedeep };
export type { BstOptions, Dcnv2Options, DeepfmOptions, DinOptions, DlrmOptions, HstuOptions, MmoeOptions, MoeOptions, PleOptions, RankmixerOptions, WidedeepOptions };

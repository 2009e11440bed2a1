// The DLRM-v2 cell of `bench onnx --pytorch`: the same model shape written in
// plain PyTorch (tests/onnx/pytorch/dlrm_v2.py: 26 nn.EmbeddingBag tables,
// low-rank DCN cross written as x0 * U(V(x)) + x) and exported with
// torch.onnx.export, against rankfn's zoo dlrm built with exactly that shape
// (table rows, multi-hot, MLPs, cross rank) — both run by rankfn, fp32, on the
// same rows. It answers whether the importer's graph of a real export is as
// fast as the graph rankfn builds itself.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { importOnnxFile } from "../runtime/onnx/importer";
import { Rng } from "../runtime/tensor/random";
import { type Tensor, tensor } from "../runtime/tensor/tensor";
import { Model } from "../sdk/model";
import { zoo } from "../sdk/zoo";
import { exportFolder } from "../tests/onnx/pytorch/manifest";
import type { Report } from "./report";
import { progress, time } from "./timing";

interface DlrmV2Shape {
  path: string;
  table_rows: number[];
  multi_hot: number[];
  dense: number;
  dim: number;
  bottom: number[];
  top: number[];
  cross_layers: number;
  cross_rank: number;
}

/** Rows for both models: dense in [0, 1), ids uniform over each table. */
function rowsFor(shape: DlrmV2Shape, n: number, rng: Rng): Record<string, Tensor> {
  const rows: Record<string, Tensor> = { dense: tensor("f32", [n, shape.dense], rng.floats(n * shape.dense, 0, 1)) };
  shape.multi_hot.forEach((hot, i) => {
    rows[`cat_${i}`] = tensor("i64", [n, hot], BigInt64Array.from({ length: n * hot }, () => BigInt(rng.int(shape.table_rows[i]!))));
  });
  return rows;
}

/** Add the PyTorch-DLRM-v2 vs zoo-dlrm section (python: the one with torch). */
export async function dlrmAgainstZoo(report: Report, python: string, quick: boolean): Promise<void> {
  const section = report.section("DLRM-v2 exported from PyTorch vs rankfn's zoo dlrm of the same shape (both rankfn fp32, same rows; target: within 10%)");
  progress("exporting the PyTorch DLRM-v2 (tests/onnx/pytorch/dlrm_v2.py)");
  const dir = exportFolder(python, "dlrm_v2.py", []);
  const shape = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as DlrmV2Shape;
  const fromPytorch = new Model(importOnnxFile(join(dir, shape.path), { context: [] }), { maxBatch: 2048 });
  const fromZoo = new Model(
    zoo.dlrm.build({ tableRows: shape.table_rows, multiHot: shape.multi_hot, denseFeatures: shape.dense, embeddingDim: shape.dim, bottomMlp: shape.bottom, topMlp: shape.top, crossLayers: shape.cross_layers, crossRank: shape.cross_rank, contextFeatures: 0 }),
    { maxBatch: 2048 },
  );
  try {
    const rng = new Rng(31);
    for (const batch of quick ? [64] : [1, 64, 512, 2048]) {
      const rows = { rows: rowsFor(shape, batch, rng) };
      progress(`dlrm-v2 batch ${batch}`);
      const opts = { warmup: 2, minCalls: 3, minSeconds: quick ? 0.3 : 1 };
      // Interleaved twice so a burst of load on the machine hits both sides.
      const pt = [await time(() => fromPytorch.rankSync(rows), opts), await time(() => fromPytorch.rankSync(rows), opts)];
      const zo = [await time(() => fromZoo.rankSync(rows), opts), await time(() => fromZoo.rankSync(rows), opts)];
      const tPt = Math.min(...pt.map((t) => t.median));
      const tZoo = Math.min(...zo.map((t) => t.median));
      section.add({ batch, "PyTorch export samples/s": batch / tPt, "zoo samples/s": batch / tZoo, "export ÷ zoo": tZoo / tPt });
    }
    const fused = fromPytorch.inspect().compiler.filter((l) => /^fuse-(cross|embeddings|lookup-pool|linear)/.test(l));
    section.note(`the export's fusions: ${fused.join(" | ")}`);
  } finally {
    fromPytorch.dispose();
    fromZoo.dispose();
  }
}

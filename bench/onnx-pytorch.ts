// The real-export section of `bench onnx`: every architecture of
// tests/onnx/pytorch/models.py as torch.onnx.export wrote it (opset 17), run
// by onnxruntime-node and by rankfn imported from the same file, fp32, at
// batch 64 and 512 (the exported fixed batch tiled), plus context mode on the
// sequence models (1 user × 200 candidates as one ranking request against the
// same 200 rows sent flat). A model rankfn cannot import yet is listed with
// the importer's message instead of figures.
import * as ort from "onnxruntime-node";
import { RankfnError } from "../runtime/errors";
import { importOnnxFile } from "../runtime/onnx/importer";
import { type Tensor, tensor } from "../runtime/tensor/tensor";
import { Model } from "../sdk/model";
import { flopsPerRow } from "../sdk/zoo";
import { type ExportedTensor, type PytorchExport, findTorchPython, pytorchExports } from "../tests/onnx/pytorch/manifest";
import { dlrmAgainstZoo } from "./onnx-pytorch-dlrm";
import type { Report } from "./report";
import { progress, time } from "./timing";

/** `rows` rows of an exported input: its fixed batch repeated. */
function tile(t: ExportedTensor, rows: number): ExportedTensor {
  const width = t.data.length / t.shape[0]!;
  const data = t.dtype === "f32" ? new Float32Array(rows * width) : new BigInt64Array(rows * width);
  for (let r = 0; r < rows; r++) (data as Float32Array).set((t.data as Float32Array).subarray((r % t.shape[0]!) * width, ((r % t.shape[0]!) + 1) * width), r * width);
  return { ...t, shape: [rows, ...t.shape.slice(1)], data } as ExportedTensor;
}

const flatWidth = (t: ExportedTensor) => t.data.length / t.shape[0]!;
const asTensor = (t: ExportedTensor, rows: number): Tensor => tensor(t.dtype, [rows, flatWidth(t)], t.data as never);

/** Add the real-export sections to `report`; skipped with a note where no python has torch. */
export async function pytorchSuite(report: Report, quick: boolean, peak: number): Promise<void> {
  const speed = report.section("real PyTorch exports (torch.onnx.export, opset 17): rankfn fp32 vs onnxruntime-node fp32 on the same file and rows");
  const found = findTorchPython();
  if (!("python" in found)) {
    speed.note(`skipped: ${found.missing}`);
    return;
  }
  progress("exporting the PyTorch suite (tests/onnx/pytorch/models.py)");
  const models = pytorchExports(found.python).models.filter((m) => m.opset === 17);
  const context = report.section("context mode on real exports: 1 user × 200 candidates as one ranking request vs the same 200 rows flat (rankfn fp32)");
  const refused: string[] = [];
  for (const m of models) {
    let built;
    try {
      built = importOnnxFile(m.path, { context: [] });
    } catch (err) {
      if (!(err instanceof RankfnError)) throw err;
      refused.push(`${m.name}: ${err.message.split("\n")[0]!.slice(0, 140)}`);
      continue;
    }
    const session = await ort.InferenceSession.create(m.path, { intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: "all", logSeverityLevel: 3 });
    const model = new Model(built, { maxBatch: 2048 });
    // Imported flat (no context inputs): every FLOP is per row.
    const f = flopsPerRow(built.graph);
    const flops = f.context + f.candidate;
    try {
      for (const batch of quick ? [64] : [64, 512]) {
        const inputs = m.inputs.map((t) => tile(t, batch));
        const feeds = Object.fromEntries(inputs.map((t) => [t.name, new ort.Tensor(t.dtype === "f32" ? "float32" : "int64", t.data, t.shape)]));
        const rows = Object.fromEntries(inputs.map((t) => [t.name, asTensor(t, batch)]));
        progress(`${m.name} batch ${batch}`);
        const tOrt = await time(() => session.run(feeds), { warmup: 2, minCalls: 3, minSeconds: quick ? 0.2 : 0.5 });
        const tRf = await time(() => model.rankSync({ rows }), { warmup: 2, minCalls: 3, minSeconds: quick ? 0.2 : 0.5 });
        speed.add({
          model: m.name, batch, "ORT samples/s": batch / tOrt.median, "rankfn samples/s": batch / tRf.median, "× ORT": tOrt.median / tRf.median,
          "% peak": (100 * flops * batch) / tRf.median / 1e9 / peak, fusions: fired(model, m),
        });
      }
      if (m.context.length > 0) context.add(await contextMode(m));
    } catch (err) {
      if (!(err instanceof RankfnError)) throw err;
      refused.push(`${m.name}: ${err.message.split("\n")[0]!.slice(0, 140)}`);
    } finally {
      model.dispose();
      await session.release();
    }
  }
  speed.note(`${models.length - refused.length} of ${models.length} exports import; × ORT = rankfn samples/s ÷ onnxruntime-node samples/s (2 threads each); % peak = rankfn GFLOP/s (flopsPerRow of the imported graph) ÷ the fp32 peak measured in this run`);
  for (const line of refused) speed.note(`not imported — ${line}`);
  await dlrmAgainstZoo(report, found.python, quick);
}

/** How many of the export's expected fusions fired, e.g. "2/2". */
function fired(model: Model, m: PytorchExport): string {
  const compiler = model.inspect().compiler.join("\n");
  return `${m.fusions.filter((f) => new RegExp(f).test(compiler)).length}/${m.fusions.length}`;
}

async function contextMode(m: PytorchExport): Promise<Record<string, string | number>> {
  const candidates = 200;
  const ranking = new Model(importOnnxFile(m.path), { maxBatch: 2048 });
  const flat = new Model(importOnnxFile(m.path, { context: [] }), { maxBatch: 2048 });
  try {
    const inputs = m.inputs.map((t) => tile(t, candidates));
    const request = {
      context: Object.fromEntries(inputs.filter((t) => m.context.includes(t.name)).map((t) => [t.name, tensor(t.dtype, [1, flatWidth(t)], t.data.slice(0, flatWidth(t)) as never)])),
      candidates: Object.fromEntries(inputs.filter((t) => !m.context.includes(t.name)).map((t) => [t.name, asTensor(t, candidates)])),
    };
    const rows = { rows: Object.fromEntries(inputs.map((t) => [t.name, asTensor(t, candidates)])) };
    const tCtx = await time(() => ranking.rankSync(request), { warmup: 2, minCalls: 3, minSeconds: 0.3 });
    const tFlat = await time(() => flat.rankSync(rows), { warmup: 2, minCalls: 3, minSeconds: 0.3 });
    return { model: m.name, "context ms": tCtx.median * 1e3, "flat ms": tFlat.median * 1e3, "context × flat": tFlat.median / tCtx.median };
  } finally {
    ranking.dispose();
    flat.dispose();
  }
}

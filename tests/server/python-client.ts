// Test fixture: rank through a client rankfn did not write — Python's urllib with
// the msgpack module (tests/server/rank_client.py) — and the same request
// built here, to score in-process as the reference.
import { join } from "node:path";
import type { RankRequest } from "../../sdk/request";
import type { GraphInput } from "../../runtime/graph/schema";
import { type Tensor, tensor } from "../../runtime/tensor/tensor";

/** The first python3 with the msgpack module (the Debian one at /usr/bin/python3 has it), or undefined. */
export function findPython(): string | undefined {
  for (const candidate of ["/usr/bin/python3", "python3", "/usr/local/bin/python3"]) {
    const p = Bun.spawnSync([candidate, "-c", "import msgpack"], { stderr: "ignore" });
    if (p.exitCode === 0) return candidate;
  }
  return undefined;
}

export interface PythonAnswer {
  status: number;
  content_type: string | null;
  body: { outputs?: Record<string, { shape: number[]; data: number[] } | number[][]>; error?: { code: string; message: string } };
}

/** Run rank_client.py against `url` (flags as its usage line says) and parse its one JSON line. */
export async function pythonRank(python: string, url: string, model: string, flags: string[] = []): Promise<PythonAnswer> {
  const proc = Bun.spawn([python, join(import.meta.dir, "rank_client.py"), url, model, ...flags], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = [await new Response(proc.stdout).text(), await new Response(proc.stderr).text(), await proc.exited];
  if (code !== 0) throw new Error(`rank_client.py exited ${code}: ${err}`);
  return JSON.parse(out) as PythonAnswer;
}

/** The request rank_client.py sends, for a model with these inputs. */
export function pythonRequest(inputs: GraphInput[], candidates: number): RankRequest {
  const make = (input: GraphInput, rows: number): Tensor => {
    const width = input.shape.reduce((a, b) => a * b, 1);
    const n = rows * width;
    if (input.dtype === "f32") return tensor("f32", [rows, width], Float32Array.from({ length: n }, (_, j) => ((7 * j) % 11) / 11 - 0.5));
    if (input.dtype === "i64") return tensor("i64", [rows, width], new BigInt64Array(n));
    return tensor("i32", [rows, width], new Int32Array(n));
  };
  const group = (role: "context" | "candidate", rows: number) => Object.fromEntries(inputs.filter((i) => i.role === role).map((i) => [i.name, make(i, rows)]));
  return { context: group("context", 1), candidates: group("candidate", candidates) };
}

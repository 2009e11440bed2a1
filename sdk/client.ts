// RankingClient: call a rankfn server over HTTP. msgpack by default (tensors
// travel as binary), JSON on request; 503s are retried with backoff and jitter
// within the deadline; 4xx answers become typed errors naming the field.
import { RankfnError } from "../runtime/errors";
import { MSGPACK, encodeTensor, packr } from "../runtime/server/wire";
import { packValue } from "../runtime/server/msgpack-writer";
import { type Tensor, tensor } from "../runtime/tensor/tensor";
import type { RankRequest } from "./request";

export interface ClientOptions {
  /** Server base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  apiKey?: string;
  format?: "msgpack" | "json";
  /** Default deadline for a call, retries included (ms). */
  deadlineMs?: number;
}

export interface RankOptions {
  deadlineMs?: number;
  priority?: number;
}

export interface ClientRankResponse {
  outputs: Record<string, Tensor<"f32">>;
  model: string;
  version: number;
  timing: { queue_ms: number; compute_ms: number; cold_start_ms?: number };
  /** The server scored with default embedding rows (its Redis tier failed). */
  degraded?: boolean;
  /** Histories longer than the model keeps, by input: events sent and kept (the most recent; the oldest were dropped). */
  truncated?: Record<string, { length: number; kept: number }>;
}

/** An error answer from the server (status, code and message as it sent them). */
export class ServerError extends RankfnError {
  override readonly name = "ServerError";
}

export class RankingClient {
  readonly #base: string;

  constructor(readonly options: ClientOptions) {
    this.#base = options.url.replace(/\/+$/, "");
  }

  /**
   * Score a request on `model`.
   * @example const { outputs } = await client.rank("dlrm", { context, candidates }, { deadlineMs: 50 });
   */
  async rank(model: string, request: RankRequest, { deadlineMs = this.options.deadlineMs ?? 1000, priority }: RankOptions = {}): Promise<ClientRankResponse> {
    const msgpack = (this.options.format ?? "msgpack") === "msgpack";
    const start = performance.now();
    const encodeGroup = (g: Record<string, Tensor> | undefined) => g && Object.fromEntries(Object.entries(g).map(([k, t]) => [k, msgpack ? encodeTensor(t) : { dtype: t.dtype, shape: t.shape, data: Array.from(t.data as ArrayLike<number | bigint>, (v) => (typeof v === "bigint" ? Number(v) : v)) }]));
    const body: Record<string, unknown> = "rows" in request ? { rows: encodeGroup(request.rows) } : { ...(request.user !== undefined ? { user: request.user } : {}), context: encodeGroup(request.context), candidates: encodeGroup(request.candidates) };
    if (priority !== undefined) body.priority = priority;
    for (let attempt = 0; ; attempt++) {
      const left = deadlineMs - (performance.now() - start);
      if (left <= 0) throw new ServerError(`deadline of ${deadlineMs} ms exceeded (${attempt} attempts)`, "deadline_exceeded", 504);
      body.deadline_ms = Math.max(1, Math.floor(left));
      const res = await fetch(`${this.#base}/v1/models/${encodeURIComponent(model)}/rank`, {
        method: "POST",
        headers: { "Content-Type": msgpack ? MSGPACK : "application/json", Accept: msgpack ? MSGPACK : "application/json", ...(this.options.apiKey ? { Authorization: `Bearer ${this.options.apiKey}` } : {}) },
        // Tensor bytes aligned in the body, so the server reads them in place instead of copying them.
        body: msgpack ? packValue(body, { alignBins: true }) : JSON.stringify(body),
        signal: AbortSignal.timeout(Math.max(1, Math.ceil(left))),
      }).catch((err: Error) => {
        if (err.name === "TimeoutError") throw new ServerError(`deadline of ${deadlineMs} ms exceeded`, "deadline_exceeded", 504);
        throw new ServerError(`cannot reach ${this.#base}: ${err.message}`, "unreachable", 503);
      });
      if (res.ok) return decodeResponse(new Uint8Array(await res.arrayBuffer()), res.headers.get("content-type"));
      const error = await readError(res);
      if (res.status !== 503) throw error;
      // Back off (exponential, full jitter), never past the deadline.
      const retryAfter = Number(res.headers.get("retry-after") ?? 0) * 1000;
      const wait = Math.min(deadlineMs - (performance.now() - start), Math.max(retryAfter > 0 ? Math.min(retryAfter, 50) : 0, Math.random() * 2 ** attempt * 5));
      if (wait <= 0) throw error;
      await Bun.sleep(wait);
    }
  }

  /** The models the server has loaded. */
  async models(): Promise<{ name: string; version: number | null; loaded: boolean }[]> {
    const res = await fetch(`${this.#base}/v1/models`, { headers: this.options.apiKey ? { Authorization: `Bearer ${this.options.apiKey}` } : {} });
    if (!res.ok) throw await readError(res);
    return ((await res.json()) as { models: { name: string; version: number | null; loaded: boolean }[] }).models;
  }
}

async function readError(res: Response): Promise<ServerError> {
  const bytes = new Uint8Array(await res.arrayBuffer());
  // Asked for msgpack only, the server answers errors in msgpack too.
  if ((res.headers.get("content-type") ?? "").includes(MSGPACK)) {
    try {
      const { error } = packr.unpack(bytes) as { error: { code: string; message: string } };
      return new ServerError(error.message, error.code, res.status);
    } catch {
      return new ServerError(res.statusText, "http_error", res.status);
    }
  }
  const text = new TextDecoder().decode(bytes);
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string } };
    return new ServerError(error.message, error.code, res.status);
  } catch {
    return new ServerError(text || res.statusText, "http_error", res.status);
  }
}

function decodeResponse(body: Uint8Array, contentType: string | null): ClientRankResponse {
  if ((contentType ?? "").includes(MSGPACK)) {
    const raw = packr.unpack(body) as Omit<ClientRankResponse, "outputs"> & { outputs: Record<string, { dtype: string; shape: number[]; data: Uint8Array }> };
    const outputs: Record<string, Tensor<"f32">> = {};
    for (const [name, t] of Object.entries(raw.outputs)) {
      const aligned = new Uint8Array(t.data.byteLength);
      aligned.set(t.data);
      outputs[name] = tensor("f32", t.shape, new Float32Array(aligned.buffer));
    }
    return { ...raw, outputs };
  }
  const raw = JSON.parse(new TextDecoder().decode(body)) as Omit<ClientRankResponse, "outputs"> & { outputs: Record<string, number[][]> };
  const outputs: Record<string, Tensor<"f32">> = {};
  for (const [name, rows] of Object.entries(raw.outputs)) outputs[name] = tensor("f32", [rows.length, rows[0]?.length ?? 1], Float32Array.from(rows.flat()));
  return { ...raw, outputs };
}

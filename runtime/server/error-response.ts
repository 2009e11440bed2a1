// The server's one onError handler: a RankfnError becomes its HTTP status with
// `{ error: { code, message } }` (503s with Retry-After, 415s with
// Accept-Encoding). A failure of ours — any other error, or a RankfnError with a
// 500 status — is logged with an error id, and the 500 carries the same id, so
// an operator can find the stack behind a client's report.
import type { Context } from "hono";
import { randomBytes } from "node:crypto";
import { RankfnError } from "../errors";
import { UnsupportedEncodingError } from "./body";
import { chooseFormat, mediaTypes } from "./negotiate";
import { packr } from "./wire";

const RANK_PATH = /^\/v1\/models\/[^/]+\/rank$/;

/** The response for an error thrown while handling `c`'s request. */
export function errorResponse(err: Error, c: Context): Response {
  const known = err instanceof RankfnError;
  const internal = !known || err.status === 500;
  const id = internal ? randomBytes(6).toString("hex") : undefined;
  if (internal) console.error(`rankfn server: error ${id} on ${c.req.method} ${c.req.path}: ${err.stack ?? err}`);
  const error = !known ? { code: "internal", message: `internal server error (error id ${id})`, id } : { code: err.code, message: err.message, ...(id ? { id } : {}) };
  const headers: Record<string, string> = err instanceof UnsupportedEncodingError ? { ...err.headers } : {};
  const retry = (err as RankfnError & { retryAfterMs?: number }).retryAfterMs;
  if (known && err.status === 503) headers["Retry-After"] = String(Math.max(1, Math.ceil((retry ?? 1000) / 1000)));
  // Error bodies are JSON (what curl, a browser or a log reader can show) unless a rank request's
  // Accept prefers msgpack over JSON (e.g. `Accept: application/msgpack`, as RankingClient sends).
  const rank = RANK_PATH.test(c.req.path);
  const format = rank ? (chooseFormat(c.req.header("accept"), "json") ?? "json") : "json";
  if (rank) headers.Vary = "Accept";
  const status = (known ? err.status : 500) as never;
  if (format === "msgpack") return c.body(packr.pack({ error }) as never, status, { ...headers, "Content-Type": mediaTypes.msgpack });
  return c.json({ error }, status, headers);
}

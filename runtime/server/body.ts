// Reading a request body under the body limit, decompressing `Content-Encoding:
// gzip` / `deflate` on the way. The limit applies to the DECOMPRESSED bytes and
// is checked while streaming: a zip bomb is cut off (413) after at most the
// limit plus one chunk, never inflated whole. Chunked uploads without a
// Content-Length are bounded the same way.
import { RankfnError } from "../errors";

/** The content codings a request body may use. */
export const supportedEncodings = ["gzip", "deflate", "identity"] as const;
type Encoding = (typeof supportedEncodings)[number];

/** An error carrying the `Accept-Encoding` header RFC 9110 asks a 415 for unknown codings to send. */
export class UnsupportedEncodingError extends RankfnError {
  override readonly name = "UnsupportedEncodingError";
  readonly headers = { "Accept-Encoding": "gzip, deflate" };
  constructor(encoding: string) {
    super(`Content-Encoding: ${encoding} is not supported (supported: ${supportedEncodings.join(", ")})`, "unsupported_encoding", 415);
  }
}

/** The codings of a Content-Encoding header, in the order they were applied; a 415 for any we do not decode. */
export function parseContentEncoding(header: string | undefined): Encoding[] {
  if (!header) return [];
  const codings = header.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  return codings.flatMap((c): Encoding[] => {
    if (c === "identity") return [];
    if (c === "gzip" || c === "x-gzip") return ["gzip"];
    if (c === "deflate") return ["deflate"];
    throw new UnsupportedEncodingError(c);
  });
}

const tooLarge = (limit: number, what: string) => new RankfnError(`${what} exceeds the limit of ${limit} bytes`, "body_too_large", 413);

/** Read `req`'s body (decoded per Content-Encoding) into one buffer of at most `maxBytes`, or a 413/415/400. */
export async function readBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const codings = parseContentEncoding(req.headers.get("content-encoding") ?? undefined);
  const length = Number(req.headers.get("content-length") ?? 0);
  // Refused before it is read: a compressed upload over the limit could only inflate to less if it were incompressible.
  if (length > maxBytes) throw tooLarge(maxBytes, `body of ${length} bytes`);
  if (!req.body) return new Uint8Array(0);
  // The hot path: an uncompressed body of declared length is read natively in one piece.
  if (codings.length === 0 && req.headers.has("content-length")) {
    const body = new Uint8Array(await req.arrayBuffer());
    if (body.byteLength > maxBytes) throw tooLarge(maxBytes, `body of ${body.byteLength} bytes`);
    return body;
  }
  let stream: ReadableStream<Uint8Array> = limited(req.body, maxBytes, "body", "body: cannot read the upload");
  // Decode in reverse order of application (RFC 9110 §8.4).
  for (const coding of [...codings].reverse()) {
    stream = limited(await decompress(stream, coding), maxBytes, `body decompressed (${coding})`, `body: not valid ${coding} data`);
  }
  return collect(stream);
}

/** `stream` decompressed; "deflate" accepts the zlib wrapping RFC 9110 names and the raw deflate some clients send. */
async function decompress(stream: ReadableStream<Uint8Array>, coding: Encoding): Promise<ReadableStream<Uint8Array>> {
  if (coding === "gzip") return stream.pipeThrough(new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  const reader = stream.getReader();
  // The first two bytes tell the wrappings apart; a network chunk may hold just one.
  let head: Uint8Array = new Uint8Array(0);
  let ended = false;
  while (head.length < 2 && !ended) {
    const next = await reader.read();
    if (next.done) ended = true;
    else head = head.length ? concat([head, next.value], head.length + next.value.byteLength) : next.value;
  }
  // A zlib header: compression method 8 and a header checksum divisible by 31 (RFC 1950).
  const zlib = head.length >= 2 && (head[0]! & 0x0f) === 8 && ((head[0]! << 8) | head[1]!) % 31 === 0;
  const rest = new ReadableStream<Uint8Array>({
    start(controller) {
      if (head.length) controller.enqueue(head);
      if (ended) controller.close();
    },
    async pull(controller) {
      const next = await reader.read();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return rest.pipeThrough(new DecompressionStream(zlib ? "deflate" : "deflate-raw") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
}

/**
 * `stream`, failing with a 413 as soon as more than `maxBytes` have passed (and cancelling its
 * source), and with a 400 starting `invalid` when the source fails (corrupt compressed data).
 */
function limited(stream: ReadableStream<Uint8Array>, maxBytes: number, what: string, invalid: string): ReadableStream<Uint8Array> {
  const reader = stream.getReader();
  let total = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await reader.read().catch((err: Error) => {
        throw err instanceof RankfnError ? err : new RankfnError(`${invalid} (${err.message})`, "bad_body", 400);
      });
      if (next.done) return controller.close();
      total += next.value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        throw tooLarge(maxBytes, what);
      }
      controller.enqueue(next.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = stream.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      total += value.byteLength;
    }
  } catch (err) {
    throw err instanceof RankfnError ? err : new RankfnError(`body: cannot read the upload (${(err as Error).message})`, "bad_body", 400);
  }
  return chunks.length === 1 ? chunks[0]! : concat(chunks, total);
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

// Content negotiation of the rank endpoint's response format (RFC 9110 §12.5.1):
// the Accept header's media ranges, wildcards and q-values decide between
// msgpack and JSON. curl and Python requests send `Accept: */*`, Java adds `*/*`
// at q=.2 to its default list, Go sends none: none of these may turn a msgpack
// request into a JSON answer, so on a tie the request's own format wins.
import { RankfnError } from "../errors";

export type WireFormat = "msgpack" | "json";

/** The media type each format is answered with. */
export const mediaTypes: Record<WireFormat, string> = { msgpack: "application/msgpack", json: "application/json" };

interface MediaRange {
  type: string;
  subtype: string;
  q: number;
}

/**
 * Parse an Accept header into media ranges. Malformed entries are skipped, as RFC 9110 lets a
 * server do, but two common deviations are read the way their senders mean them: Java's default
 * `*; q=.2` (a bare `*` for `*\/*`, a q-value without its leading 0).
 */
export function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(",")) {
    const [first = "", ...params] = part.split(";").map((s) => s.trim());
    const range = first === "*" ? "*/*" : first;
    const slash = range.indexOf("/");
    if (slash <= 0 || slash === range.length - 1) continue;
    let q = 1;
    for (const p of params) {
      const [k, v = ""] = p.split("=").map((s) => s.trim());
      if (k?.toLowerCase() !== "q") continue;
      q = /^(\d+(\.\d*)?|\.\d+)$/.test(v) && Number(v) <= 1 ? Number(v) : Number.NaN;
    }
    if (Number.isNaN(q)) continue;
    ranges.push({ type: range.slice(0, slash).toLowerCase(), subtype: range.slice(slash + 1).toLowerCase(), q });
  }
  return ranges;
}

/** The q-value Accept gives `mediaType`: from its most specific matching range (exact > type/* > *\/*), 0 if none matches. */
function quality(ranges: MediaRange[], mediaType: string): number {
  const [type, subtype] = mediaType.split("/") as [string, string];
  let best = -1;
  let q = 0;
  for (const r of ranges) {
    const specificity = r.type === type && r.subtype === subtype ? 2 : r.type === type && r.subtype === "*" ? 1 : r.type === "*" && r.subtype === "*" ? 0 : -1;
    if (specificity > best) {
      best = specificity;
      q = r.q;
    }
  }
  return q;
}

/** The format a request body is in, from its Content-Type (JSON unless it says msgpack). */
export function requestFormat(contentType: string | undefined): WireFormat {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  return type === mediaTypes.msgpack ? "msgpack" : "json";
}

/**
 * The response format for `accept` given the request's own format: the acceptable format with
 * the higher q-value, the request's format on a tie (no Accept, or `*\/*`), or null when Accept
 * allows neither.
 */
export function chooseFormat(accept: string | undefined, request: WireFormat): WireFormat | null {
  if (accept === undefined || accept.trim() === "") return request;
  const ranges = parseAccept(accept);
  // An Accept made only of entries we cannot parse is treated as absent.
  if (ranges.length === 0) return request;
  const qRequest = quality(ranges, mediaTypes[request]);
  const other: WireFormat = request === "msgpack" ? "json" : "msgpack";
  const qOther = quality(ranges, mediaTypes[other]);
  if (qRequest <= 0 && qOther <= 0) return null;
  return qOther > qRequest ? other : request;
}

/** chooseFormat's answers by Accept header and request format: clients send a handful of distinct headers. */
const chosen = new Map<string, WireFormat | null>();

/** chooseFormat, or a 406 naming the supported types. */
export function negotiateFormat(accept: string | undefined, request: WireFormat): WireFormat {
  const memo = `${request}\u0000${accept ?? ""}`;
  let format = chosen.get(memo);
  if (format === undefined) {
    format = chooseFormat(accept, request);
    if (chosen.size < 1024) chosen.set(memo, format);
  }
  if (!format) throw new RankfnError(`Accept: ${accept} allows none of the supported types (${mediaTypes.msgpack}, ${mediaTypes.json})`, "not_acceptable", 406);
  return format;
}

// The rank endpoint as clients rankfn did not write call it: Python urllib +
// msgpack and curl with their default headers (Accept: */*), gzip and deflate
// bodies from Python's gzip/zlib modules and from curl --data-binary @file.gz,
// content negotiation by q-value, 406/415/413 with the supported types named,
// and a zip bomb cut off under the body limit without inflating it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deflateSync, gzipSync } from "node:zlib";
import { Packr } from "msgpackr";
import { type LoopbackServer, startServer } from "./loopback";
import { findPython, pythonRank, pythonRequest } from "./python-client";
import { loadModel, writeModel, zoo } from "../../sdk";
import { chooseFormat } from "../../runtime/server/negotiate";
import { encodeTensor } from "../../runtime/server/wire";

const dir = mkdtempSync(join(tmpdir(), "rankfn-clients-"));
const built = zoo.dcnv2.build({ scale: 0.001, seed: 3 });
writeModel(join(dir, "m.safetensors"), built);
const python = findPython();
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
const LIMIT = 1 << 20;
let served: LoopbackServer;
const reference = loadModel(built);
const want = Array.from(reference.rankSync(pythonRequest(reference.graphInputs, 4)).outputs.ctr!.data);

beforeAll(async () => {
  served = await startServer({ models: { m: "m.safetensors" }, modelRoot: dir, maxBodyBytes: LIMIT, modelOptions: { worker: true } });
});
afterAll(async () => {
  await served.stop();
  reference.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A msgpack body of the same request rank_client.py sends. */
const msgpackBody = () => {
  const r = pythonRequest(reference.graphInputs, 4) as { context: Record<string, never>; candidates: Record<string, never> };
  const enc = (g: Record<string, never>) => Object.fromEntries(Object.entries(g).map(([k, t]) => [k, encodeTensor(t)]));
  return new Uint8Array(packr.pack({ context: enc(r.context), candidates: enc(r.candidates) }));
};
const scores = (data: Uint8Array) => Array.from(new Float32Array(new Uint8Array(data).buffer));

// curl with its default headers (it sends "Accept: */*"); returns status, content type and body bytes.
// Spawned asynchronously: the server answering it runs in this process.
async function curl(args: string[]): Promise<{ status: number; contentType: string; body: Uint8Array }> {
  const out = join(dir, `curl-${Math.random().toString(36).slice(2)}.out`);
  const p = Bun.spawn(["curl", "-sS", "-o", out, "-w", "%{http_code} %{content_type}", ...args], { stdout: "pipe", stderr: "pipe" });
  const [text, err, code] = [await new Response(p.stdout).text(), await new Response(p.stderr).text(), await p.exited];
  if (code !== 0) throw new Error(`curl failed: ${err}`);
  const [status, contentType = ""] = text.split(" ");
  return { status: Number(status), contentType, body: new Uint8Array(readFileSync(out)) };
}

describe("content negotiation", () => {
  test("q-values and wildcards decide; on a tie the request's own format wins", () => {
    expect(chooseFormat(undefined, "msgpack")).toBe("msgpack");
    expect(chooseFormat("*/*", "msgpack")).toBe("msgpack");
    expect(chooseFormat("*/*", "json")).toBe("json");
    expect(chooseFormat("application/*", "msgpack")).toBe("msgpack");
    expect(chooseFormat("application/json", "msgpack")).toBe("json");
    expect(chooseFormat("application/msgpack", "json")).toBe("msgpack");
    expect(chooseFormat("application/json;q=0.9, application/msgpack;q=0.5", "msgpack")).toBe("json");
    expect(chooseFormat("application/json;q=0.4, */*;q=0.8", "json")).toBe("msgpack");
    // The most specific range decides a type's q: msgpack is refused here even though */* allows it.
    expect(chooseFormat("application/msgpack;q=0, */*", "msgpack")).toBe("json");
    expect(chooseFormat("text/html, image/*", "msgpack")).toBeNull();
    expect(chooseFormat("application/json;q=0, application/msgpack;q=0", "json")).toBeNull();
    // Malformed q-values drop their entry; an Accept of nothing usable counts as absent.
    expect(chooseFormat("application/json;q=2", "msgpack")).toBe("msgpack");
    expect(chooseFormat("application/json;q=abc, application/msgpack;q=0.5", "json")).toBe("msgpack");
    // Java's HttpURLConnection default (a bare "*" and ".2" for 0.2) accepts anything at q 0.2.
    const java = "text/html, image/gif, image/jpeg, *; q=.2, */*; q=.2";
    expect(chooseFormat(java, "msgpack")).toBe("msgpack");
    expect(chooseFormat(java, "json")).toBe("json");
    // Go's net/http sends no Accept at all: the request's format.
    expect(chooseFormat(undefined, "json")).toBe("json");
  });

  test.skipIf(!python)("Python urllib + msgpack with Accept: */* gets msgpack, with exactly the in-process scores", async () => {
    const res = await pythonRank(python!, served.url, "m", ["--accept", "*/*"]);
    expect(res.status).toBe(200);
    expect(res.content_type).toBe("application/msgpack");
    expect((res.body.outputs!.ctr as { data: number[] }).data).toEqual(want);
  });

  test.skipIf(!python)("Accept: application/json (or a higher q for it) gets JSON; one allowing neither gets 406 naming the supported types", async () => {
    for (const accept of ["application/json", "application/msgpack;q=0.1, application/json"]) {
      const res = await pythonRank(python!, served.url, "m", ["--accept", accept]);
      expect(res.status).toBe(200);
      expect(res.content_type).toStartWith("application/json");
      expect((res.body.outputs!.ctr as number[][]).map(([v]) => Math.fround(v!))).toEqual(want);
    }
    const refused = await pythonRank(python!, served.url, "m", ["--accept", "text/html"]);
    expect(refused.status).toBe(406);
    expect(refused.body.error!.code).toBe("not_acceptable");
    expect(refused.body.error!.message).toBe("Accept: text/html allows none of the supported types (application/msgpack, application/json)");
  });

  test("curl's default Accept gets msgpack for a msgpack body; errors are JSON unless only msgpack is accepted", async () => {
    const file = join(dir, "body.msgpack");
    writeFileSync(file, msgpackBody());
    const ok = await curl(["--data-binary", `@${file}`, "-H", "Content-Type: application/msgpack", `${served.url}/v1/models/m/rank`]);
    expect(ok.status).toBe(200);
    expect(ok.contentType).toBe("application/msgpack");
    expect(scores((packr.unpack(ok.body) as { outputs: { ctr: { data: Uint8Array } } }).outputs.ctr.data)).toEqual(want);
    writeFileSync(file, new Uint8Array([0xc1, 0xff, 0x00]));
    const bad = await curl(["--data-binary", `@${file}`, "-H", "Content-Type: application/msgpack", `${served.url}/v1/models/m/rank`]);
    expect(bad.status).toBe(400);
    expect(bad.contentType).toStartWith("application/json");
    expect((JSON.parse(new TextDecoder().decode(bad.body)) as { error: { code: string } }).error.code).toBe("bad_body");
    const strict = await curl(["--data-binary", `@${file}`, "-H", "Content-Type: application/msgpack", "-H", "Accept: application/msgpack", `${served.url}/v1/models/m/rank`]);
    expect(strict.status).toBe(400);
    expect(strict.contentType).toBe("application/msgpack");
    expect((packr.unpack(strict.body) as { error: { message: string } }).error.message).toStartWith("body: not valid msgpack");
  });
});

describe("compressed bodies", () => {
  test.skipIf(!python)("gzip and deflate (zlib and raw) bodies from Python's gzip and zlib modules score like the plain body", async () => {
    for (const encoding of ["gzip", "deflate", "deflate-raw"]) {
      const res = await pythonRank(python!, served.url, "m", ["--encoding", encoding]);
      expect({ encoding, status: res.status }).toEqual({ encoding, status: 200 });
      expect((res.body.outputs!.ctr as { data: number[] }).data).toEqual(want);
    }
  });

  test("curl --data-binary @file.gz with Content-Encoding: gzip", async () => {
    const raw = join(dir, "req.msgpack");
    writeFileSync(raw, msgpackBody());
    // The gzip tool, not our code, compresses the file.
    expect(Bun.spawnSync(["gzip", "-kf", raw]).exitCode).toBe(0);
    const res = await curl(["--data-binary", `@${raw}.gz`, "-H", "Content-Type: application/msgpack", "-H", "Content-Encoding: gzip", `${served.url}/v1/models/m/rank`]);
    expect(res.status).toBe(200);
    expect(scores((packr.unpack(res.body) as { outputs: { ctr: { data: Uint8Array } } }).outputs.ctr.data)).toEqual(want);
  });

  test("other codings get 415 naming the coding and the supported ones; corrupt gzip gets 400", async () => {
    const post = (body: Uint8Array, encoding: string) => fetch(`${served.url}/v1/models/m/rank`, { method: "POST", body, headers: { "Content-Type": "application/msgpack", "Content-Encoding": encoding } });
    const br = await post(msgpackBody(), "br");
    expect(br.status).toBe(415);
    expect(br.headers.get("accept-encoding")).toBe("gzip, deflate");
    expect(((await br.json()) as { error: { message: string } }).error.message).toBe("Content-Encoding: br is not supported (supported: gzip, deflate, identity)");
    const corrupt = gzipSync(msgpackBody());
    corrupt.fill(0x55, 10, 40);
    const bad = await post(new Uint8Array(corrupt), "gzip");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toStartWith("body: not valid gzip data");
    // Still serving.
    expect((await post(new Uint8Array(gzipSync(msgpackBody())), "gzip")).status).toBe(200);
  });

  test("chunked uploads (no Content-Length) are bounded while streaming; a deflate body whose first chunk is one byte still decodes", async () => {
    const chunked = (chunks: Uint8Array[], headers: Record<string, string>) =>
      fetch(`${served.url}/v1/models/m/rank`, {
        method: "POST",
        body: new ReadableStream<Uint8Array>({
          pull(controller) {
            const next = chunks.shift();
            if (next) controller.enqueue(next);
            else controller.close();
          },
        }),
        headers: { "Content-Type": "application/msgpack", ...headers },
      });
    const big = Array.from({ length: 20 }, () => new Uint8Array(64 << 10));
    const tooBig = await chunked(big, {});
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as { error: { message: string } }).error.message).toBe(`body exceeds the limit of ${LIMIT} bytes`);
    const zlib = new Uint8Array(deflateSync(msgpackBody()));
    const res = await chunked([zlib.subarray(0, 1), zlib.subarray(1, 7), zlib.subarray(7)], { "Content-Encoding": "deflate" });
    expect(res.status).toBe(200);
    expect(scores((packr.unpack(new Uint8Array(await res.arrayBuffer())) as { outputs: { ctr: { data: Uint8Array } } }).outputs.ctr.data)).toEqual(want);
  });

  test("a zip bomb under the compressed limit gets 413 on its decompressed size, without being inflated whole", async () => {
    // 256 MiB of zeros gzip to about 256 KiB: well under the 1 MiB limit compressed, 256 times over it inflated.
    const bomb = gzipSync(new Uint8Array(256 << 20), { level: 9 });
    expect(bomb.byteLength).toBeLessThan(LIMIT);
    const rssBefore = process.memoryUsage().rss;
    const res = await fetch(`${served.url}/v1/models/m/rank`, { method: "POST", body: new Uint8Array(bomb), headers: { "Content-Type": "application/msgpack", "Content-Encoding": "gzip" } });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(`body decompressed (gzip) exceeds the limit of ${LIMIT} bytes`);
    // The server (this process) never held the 256 MiB: it stopped a chunk past the limit.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(128 << 20);
  });
});

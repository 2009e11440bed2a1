// `rankfn embeddings push` and `rankfn serve --redis` run as a user runs them: rows land in Redis byte for
// byte with their metadata, and a model loaded with remote tables from that
// Redis ranks exactly like the local file.
import { afterAll, expect, test } from "bun:test";
import { RedisClient } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel, writeModel } from "../../sdk";
import { RankingClient } from "../../sdk/client";
import { sampleRequests } from "../../sdk/sample-requests";
import { smallDlrm } from "./fixtures/models";
import { describeRedis, suiteRedis } from "./redis-server";

const dir = mkdtempSync(join(tmpdir(), "rankfn-emb-cli-"));
const cli = join(import.meta.dir, "..", "..", "sdk", "cli.ts");
const run = (...args: string[]) => {
  const p = Bun.spawnSync([process.execPath, cli, ...args]);
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
};
const dlrm = smallDlrm();
const path = join(dir, "dlrm.safetensors");
writeModel(path, dlrm);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("rankfn embeddings push explains its usage", () => {
  const r = run("embeddings", "push", path);
  expect(r.code).toBe(1);
  expect(r.err).toContain("usage: rankfn embeddings push <model.safetensors> --redis");
});

describeRedis("the command line with Redis", () => {
  const redis = suiteRedis();

  test("uploads every table with a progress bar; the pushed tables serve exactly", async () => {
    const r = run("embeddings", "push", path, "--redis", redis.url);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/pushing 5 tables to redis:\/\/127\.0\.0\.1:\d+ \[#{30}\] 100%/);
    expect(r.out).toMatch(/^pushed {4}5 tables \(emb_0\.table, emb_1\.table, emb_2\.table, emb_3\.table, emb_4\.table\)$/m);
    const client = new RedisClient(redis.url);
    const t = dlrm.weights.get("emb_3.table")!;
    const row = await client.getBuffer("rankfn:dlrm:emb_3.table:{5}:69");
    expect(Array.from(row!)).toEqual(Array.from(new Uint8Array(t.data.buffer, t.data.byteOffset + 69 * 64, 64)));
    expect(JSON.parse((await client.get("rankfn:dlrm:emb_3.table:meta"))!)).toMatchObject({ rows: 70, dim: 16, dtype: "f32" });
    expect(await client.send("DBSIZE", [])).toBe(500 + 40 + 900 + 70 + 1200 + 5);
    client.close();
    using local = loadModel(path);
    using remote = loadModel(path, { embeddings: { redis: redis.url, tables: "all", subscribe: false } });
    for (const req of sampleRequests(dlrm, { count: 2, candidates: 10 })) expect((await remote.rank(req)).outputs.ctr!.data).toEqual((await local.rank(req)).outputs.ctr!.data);
  }, 30_000);

  test("--hot-rows pushes only each table's cold rows (ranked by --counts); the split model serves exactly", async () => {
    const counts = join(dir, "counts.json");
    // emb_2: rows with an odd id are the frequent ones.
    await Bun.write(counts, JSON.stringify({ "emb_2.table": Array.from({ length: 900 }, (_, i) => (i % 2 ? 100 : 1)) }));
    const r = run("embeddings", "push", path, "--redis", redis.url, "--prefix", "rankfn:cold", "--tables", "emb_2.table,emb_3.table", "--hot-rows", "0.1", "--counts", counts);
    expect(r.code).toBe(0);
    expect(r.out).toContain("their cold rows only (hot rows: 0.1 per table, ranked by");
    const client = new RedisClient(redis.url);
    const keys = (t: string) => client.send("KEYS", [`rankfn:cold:${t}:{*`]) as Promise<string[]>;
    expect((await keys("emb_2.table")).length).toBe(810);
    expect((await keys("emb_3.table")).length).toBe(63);
    expect(await client.getBuffer("rankfn:cold:emb_2.table:{1}:1")).toBeNull(); // hot (odd): not uploaded
    expect(await client.getBuffer("rankfn:cold:emb_2.table:{2}:2")).not.toBeNull();
    expect(await client.getBuffer("rankfn:cold:emb_3.table:{0}:0")).toBeNull(); // no counts: the lowest ids are hot
    expect(JSON.parse((await client.get("rankfn:cold:emb_2.table:meta"))!)).toMatchObject({ rows: 900, pushedRows: 810 });
    client.close();
    const c2 = JSON.parse(await Bun.file(counts).text())["emb_2.table"] as number[];
    using local = loadModel(path);
    using remote = loadModel(path, { embeddings: { redis: redis.url, prefix: "rankfn:cold", tables: { "emb_2.table": { local: "hot", hotRows: 0.1, counts: c2 }, "emb_3.table": { local: "hot", hotRows: 0.1 } }, subscribe: false } });
    for (const req of sampleRequests(dlrm, { count: 2, candidates: 10 })) expect((await remote.rank(req)).outputs.ctr!.data).toEqual((await local.rank(req)).outputs.ctr!.data);
    expect(run("embeddings", "push", path, "--redis", redis.url, "--hot-rows", "-3").err).toContain("--hot-rows -3: a row count >= 1 or a fraction in (0, 1)");
    expect(run("embeddings", "push", path, "--redis", redis.url, "--counts", counts).err).toContain("--counts ranks the rows of a hot/cold split: give --hot-rows too");
  }, 30_000);

  test("rankfn serve --redis serves remote tables with the chosen fault policy", async () => {
    const proc = Bun.spawn([process.execPath, cli, "serve", "--model", `ctr=${path}`, "--model-root", dir, "--port", "0", "--redis", redis.url, "--on-redis-failure", "default", "--default-row", "mean"], { stdout: "pipe", stderr: "pipe" });
    try {
      const reader = proc.stdout.getReader();
      let text = "";
      while (!/on (http:\/\/\S+)/.test(text)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`rankfn serve exited: ${await new Response(proc.stderr).text()}`);
        text += new TextDecoder().decode(value);
      }
      const url = /on (http:\/\/\S+)/.exec(text)![1]!;
      const [req] = sampleRequests(dlrm, { count: 1, candidates: 6, seed: 9 });
      using local = loadModel(path);
      const res = await new RankingClient({ url, deadlineMs: 10_000 }).rank("ctr", req!);
      expect(Array.from(res.outputs.ctr!.data)).toEqual(Array.from((await local.rank(req!)).outputs.ctr!.data));
      expect(res.degraded).toBeUndefined();
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/^rankfn_embedding_remote_rows_total\{model="ctr",table="emb_4\.table"\} [1-9]\d*$/m);
    } finally {
      proc.kill();
      await proc.exited;
    }
  }, 30_000);

  test("rankfn serve rejects a bad fault policy", () => {
    const r = run("serve", "--model", `ctr=${path}`, "--redis", redis.url, "--on-redis-failure", "maybe");
    expect(r.code).toBe(1);
    expect(r.err).toContain('--on-redis-failure must be fail or default, got "maybe"');
  });
});

// Test fixture: a real redis-server on a free loopback port, in its own temp
// directory (append-only file, so a killed and restarted server keeps its rows),
// stopped by the test that started it. Where redis-server is missing the Redis
// suites skip with a message — except under CI=true, where that is a failure.
import { afterAll, beforeAll, describe, test } from "bun:test";
import { RedisClient } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pushTables } from "../../runtime/embeddings/push";
import { RedisEmbeddingStore } from "../../runtime/embeddings/redis-store";
import { isCI } from "../../runtime/ffi";
import type { BuiltModel } from "../../runtime/graph/builder";

export const redisServerPath = Bun.which("redis-server");

/** describe() when redis-server exists; otherwise a skip with a message (a failure under CI). */
export function describeRedis(name: string, body: () => void): void {
  if (redisServerPath) return describe(name, body);
  if (isCI()) {
    test(`${name}: redis-server is installed`, () => {
      throw new Error("redis-server is not installed, and CI=true requires the Redis tests to run (.ci/run installs it)");
    });
    return;
  }
  console.warn(`[rankfn tests] skipping "${name}": redis-server is not installed (apt-get install redis-server)`);
  describe.skip(name, body);
}

function freePort(): number {
  const s = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = s.port;
  s.stop(true);
  return port;
}

export class RedisProcess {
  readonly port = freePort();
  #dir: string | undefined;
  #proc: ReturnType<typeof Bun.spawn> | undefined;

  constructor(readonly extraArgs: string[] = []) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Start (or restart) the server and wait until it answers. */
  async start(): Promise<void> {
    this.#dir ??= mkdtempSync(join(tmpdir(), "rankfn-redis-"));
    this.#proc = Bun.spawn([redisServerPath!, "--port", String(this.port), "--bind", "127.0.0.1", "--dir", this.#dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--protected-mode", "no", ...this.extraArgs], { stdout: "ignore", stderr: "pipe" });
    for (let i = 0; i < 200; i++) {
      const c = new RedisClient(this.url, { connectionTimeout: 200, autoReconnect: false, enableOfflineQueue: false });
      try {
        await c.connect();
        if ((await c.send("PING", [])) === "PONG") return;
      } catch {
        // not up yet
      } finally {
        c.close();
      }
      await Bun.sleep(25);
    }
    throw new Error(`redis-server on port ${this.port} did not start`);
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    const p = this.#proc;
    this.#proc = undefined;
    if (!p) return;
    p.kill("SIGKILL");
    await p.exited;
  }

  async stop(): Promise<void> {
    await this.kill();
    if (this.#dir) rmSync(this.#dir, { recursive: true, force: true });
  }
}

export async function startRedis(): Promise<RedisProcess> {
  const r = new RedisProcess();
  await r.start();
  return r;
}

/**
 * The enclosing suite's redis-server: started before its tests with each model's
 * tables pushed under its prefix (all tables, or the listed ones), stopped after them.
 */
export function suiteRedis(pushes: { prefix: string; model: BuiltModel; tables?: string[] }[] = []): RedisProcess {
  const redis = new RedisProcess();
  beforeAll(async () => {
    await redis.start();
    for (const { prefix, model, tables } of pushes) {
      const store = new RedisEmbeddingStore({ url: redis.url, prefix });
      await pushTables(model, store, tables ? { tables } : undefined);
      store.close();
    }
  });
  afterAll(() => redis.stop());
  return redis;
}

/** A Redis Cluster of `n` masters on loopback (slots split evenly), ready when every node reports cluster_state:ok. */
export async function startRedisCluster(n = 3): Promise<RedisProcess[]> {
  const nodes = Array.from({ length: n }, () => new RedisProcess(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"]));
  await Promise.all(nodes.map((node) => node.start()));
  const clients = nodes.map((node) => new RedisClient(node.url));
  try {
    const per = Math.ceil(16384 / n);
    // ADDSLOTS with every slot (ADDSLOTSRANGE needs Redis 7).
    for (let i = 0; i < n; i++) {
      const slots = Array.from({ length: Math.min(16384, (i + 1) * per) - i * per }, (_, k) => String(i * per + k));
      await clients[i]!.send("CLUSTER", ["ADDSLOTS", ...slots]);
    }
    for (let i = 1; i < n; i++) await clients[0]!.send("CLUSTER", ["MEET", "127.0.0.1", String(nodes[i]!.port)]);
    for (;;) {
      const infos = await Promise.all(clients.map((c) => c.send("CLUSTER", ["INFO"])));
      if (infos.every((s) => String(s).includes("cluster_state:ok"))) break;
      await Bun.sleep(25);
    }
  } finally {
    for (const c of clients) c.close();
  }
  return nodes;
}

// The binary read path against a real redis-server: MGET replies come back as
// the exact bytes stored (CR/LF, 0xff, NUL inside values), missing keys as
// null, replies far larger than one socket chunk parse whole, pipelined
// commands answer in order, and an error reply rejects only its command.
import { expect, test } from "bun:test";
import { RedisClient } from "bun";
import { RespConnection } from "../../runtime/embeddings/resp-connection";
import { describeRedis, suiteRedis } from "./redis-server";

describeRedis("binary RESP connection", () => {
  const redis = suiteRedis();

  test("MGET returns stored bytes exactly, null for missing keys, in pipelined order", async () => {
    const writer = new RedisClient(redis.url);
    const values = Array.from({ length: 300 }, (_, k) => Uint8Array.from({ length: k === 7 ? 200_000 : 1 + (k % 97) }, (_, i) => [13, 10, 255, 0, 36, 42][(i + k) % 6]! ^ (i & 0x30)));
    for (let k = 0; k < values.length; k++) await writer.set(`resp:${k}`, values[k]!);
    writer.close();
    const conn = new RespConnection(redis.url, 1000);
    const keys = [...values.keys()].map((k) => `resp:${k}`);
    const [all, some, none] = await Promise.all([conn.mget([...keys, "resp:absent"]), conn.mget(["resp:7", "resp:absent", "resp:3"]), conn.mget(["nothing"])]);
    expect(all.length).toBe(301);
    all.slice(0, 300).forEach((v, k) => expect(v).toEqual(values[k]!));
    expect(all[300]).toBeNull();
    expect(some).toEqual([values[7]!, null, values[3]!]);
    expect(none).toEqual([null]);
    await expect(conn.command(["NOSUCHCOMMAND"])).rejects.toThrow(/unknown command/i);
    expect(await conn.mget(["resp:1"])).toEqual([values[1]!]); // still in step after the error
    expect(conn.connected).toBe(true);
    conn.close();
    await expect(conn.mget(["resp:1"])).rejects.toThrow(/closed/);
  });
});

// The FFI symbol table matches kernels/include/rankfn.h exactly, and the built
// library exports exactly those symbols.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CommandOp, declaredSymbols, loadLibrary, ndDTypes, seqMasks, tensorEnumPrefixes } from "../../runtime/ffi";
import { kernelsDir } from "../../kernels/source-hash";

function headerSymbols(): string[] {
  const header = readFileSync(join(kernelsDir, "include", "rankfn.h"), "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  return [...header.matchAll(/RF_API\s+[\w\s*]*?\b(rf_\w+)\s*\(/g)].map((m) => m[1]!).sort();
}

test("the TS symbol table declares exactly the functions of rankfn.h", () => {
  const fromHeader = headerSymbols();
  expect(fromHeader.length).toBeGreaterThan(30);
  expect((declaredSymbols() as string[]).sort()).toEqual(fromHeader);
});

test("the library exports exactly the functions of rankfn.h", () => {
  const nm = Bun.spawnSync(["nm", "-D", "--defined-only", loadLibrary().path]);
  const exported = new TextDecoder()
    .decode(nm.stdout)
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .filter((p) => p[1] === "T" && p[2]?.startsWith("rf_"))
    .map((p) => p[2]!)
    .sort();
  expect(exported).toEqual(headerSymbols());
});

test("the op-code lists of the general tensor kernels match rankfn.h's enums name by name", () => {
  const header = readFileSync(join(kernelsDir, "include", "rankfn.h"), "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  for (const [prefix, names] of Object.entries(tensorEnumPrefixes)) {
    const found = [...header.matchAll(new RegExp(`\\b${prefix}(\\w+)\\s*=\\s*(\\d+)`, "g"))].map((m) => [m[1]!.toLowerCase(), Number(m[2])] as const);
    expect(found.length).toBe(names.length);
    expect(found).toEqual(names.map((n, i) => [n, i] as const));
  }
  const bool = /\bRF_BOOL\s*=\s*(\d+)/.exec(header);
  expect(Number(bool?.[1])).toBe(ndDTypes.bool);
});

test("the TS command op codes follow rf_cmd_op of rankfn.h name by name", () => {
  const header = readFileSync(join(kernelsDir, "include", "rankfn.h"), "utf8").replace(/\/\*[\s\S]*?\*\//g, "");
  const camel = (s: string) => s.toLowerCase().replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
  const fromHeader = Object.fromEntries([...header.matchAll(/\bRF_CMD_(\w+)\s*=\s*(\d+)/g)].map((m) => [camel(m[1]!), Number(m[2])]));
  expect(Object.keys(fromHeader).length).toBeGreaterThanOrEqual(8);
  expect(fromHeader).toEqual({ ...CommandOp });
});

test("the TS mask names follow rf_seq_mask of rankfn.h", () => {
  const header = readFileSync(join(kernelsDir, "include", "rankfn.h"), "utf8");
  const fromHeader = [...header.matchAll(/RF_SEQ_MASK_(\w+)\s*=\s*(\d+)/g)].sort((a, b) => Number(a[2]) - Number(b[2])).map((m) => m[1]!.toLowerCase());
  expect(fromHeader).toEqual([...seqMasks]);
});

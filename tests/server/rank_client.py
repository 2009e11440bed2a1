"""A rank client the way a Python user writes one: urllib + the msgpack module.

Reads the model's inputs from GET /v1/models/<name>, builds a deterministic
request (value j of a float input: ((7 * j) % 11) / 11 - 0.5; ids are 0, the one
row every table has — tests/server/python-client.ts builds the same request), sends it as msgpack
(optionally gzip or zlib-deflate compressed) with the Accept header given, and
prints one JSON line: status, content type, and the decoded body (outputs as
flat float lists).

usage: rank_client.py URL MODEL [--candidates N] [--accept A] [--encoding gzip|deflate|deflate-raw|none]
"""
import argparse
import gzip
import json
import struct
import sys
import urllib.error
import urllib.request
import zlib

import msgpack

p = argparse.ArgumentParser()
p.add_argument("url")
p.add_argument("model")
p.add_argument("--candidates", type=int, default=4)
p.add_argument("--accept", default="*/*")
p.add_argument("--encoding", default="none")
args = p.parse_args()

with urllib.request.urlopen(f"{args.url}/v1/models/{args.model}") as res:
    info = json.load(res)


def tensor(spec, rows):
    width = 1
    for d in spec["shape"][1:]:
        width *= d
    n = rows * width
    if spec["dtype"] == "f32":
        data = struct.pack(f"<{n}f", *[((7 * j) % 11) / 11 - 0.5 for j in range(n)])
    elif spec["dtype"] == "i64":
        data = struct.pack(f"<{n}q", *[0] * n)
    else:
        data = struct.pack(f"<{n}i", *[0] * n)
    return {"dtype": spec["dtype"], "shape": [rows, width], "data": data}


context = {i["name"]: tensor(i, 1) for i in info["inputs"] if i["role"] == "context"}
candidates = {i["name"]: tensor(i, args.candidates) for i in info["inputs"] if i["role"] == "candidate"}
body = msgpack.packb({"context": context, "candidates": candidates}, use_bin_type=True)
headers = {"Content-Type": "application/msgpack", "Accept": args.accept}
if args.encoding == "gzip":
    body = gzip.compress(body)
    headers["Content-Encoding"] = "gzip"
elif args.encoding == "deflate":
    body = zlib.compress(body)
    headers["Content-Encoding"] = "deflate"
elif args.encoding == "deflate-raw":
    c = zlib.compressobj(wbits=-15)
    body = c.compress(body) + c.flush()
    headers["Content-Encoding"] = "deflate"

req = urllib.request.Request(f"{args.url}/v1/models/{args.model}/rank", data=body, headers=headers, method="POST")
try:
    with urllib.request.urlopen(req) as res:
        status, ctype, raw = res.status, res.headers.get("Content-Type"), res.read()
except urllib.error.HTTPError as err:
    status, ctype, raw = err.code, err.headers.get("Content-Type"), err.read()

if ctype and ctype.startswith("application/msgpack"):
    decoded = msgpack.unpackb(raw, raw=False)
    for name, t in decoded.get("outputs", {}).items():
        count = len(t["data"]) // 4
        decoded["outputs"][name] = {"shape": t["shape"], "data": list(struct.unpack(f"<{count}f", t["data"]))}
else:
    decoded = json.loads(raw)
json.dump({"status": status, "content_type": ctype, "body": decoded}, sys.stdout)

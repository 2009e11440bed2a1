// The 64-bit key of a request's `user` (the KV cache keys entries by (model
// version, this)): a seeded wyhash of its text, so "42" and 42 are one user.

/** The key of a user id; 0 is reserved for "no user". */
export function userKey(user: string | number): bigint {
  const h = Bun.hash.wyhash(String(user), 0x6b76n);
  return h === 0n ? 1n : h;
}

// Seeded HSTU ranking requests of returning users for the KV cache tests: each
// user's history of (item, action, timestamp) events grows by 1–5 events between
// visits; a request pads it on the oldest side to the model's history length.
import { type Tensor, tensor } from "../../runtime/tensor/tensor";
import type { RankingRequest } from "../../runtime/engine/request";
import { rng } from "./seeded-random";

export interface UserHistory {
  items: number[];
  actions: number[];
  times: number[];
}

export class UserVisits {
  readonly #rand: () => number;
  readonly histories = new Map<string, UserHistory>();

  constructor(
    seed: number,
    readonly L: number,
    readonly itemRows: number,
    readonly actions: number,
  ) {
    this.#rand = rng(seed);
  }

  int(n: number): number {
    return Math.floor(this.#rand() * n);
  }

  /** The user's history after this visit's new events (first visit: `first` events). */
  grow(user: string, first = 4 + this.int(12)): UserHistory {
    let h = this.histories.get(user);
    const add = h ? 1 + this.int(5) : first;
    if (!h) this.histories.set(user, (h = { items: [], actions: [], times: [] }));
    for (let i = 0; i < add && h.items.length < this.L; i++) {
      h.items.push(this.int(this.itemRows));
      h.actions.push(this.int(this.actions));
      h.times.push((h.times.at(-1) ?? 1_000_000) + 1 + this.int(5000));
    }
    return h;
  }

  /** A ranking request over `h` with `candidates` random items (and `user` when given). */
  request(h: UserHistory, candidates: number, user?: string): RankingRequest {
    const { L } = this;
    const pad = (xs: number[]) => {
      const out = new BigInt64Array(L).fill(-1n);
      xs.forEach((x, i) => (out[L - xs.length + i] = BigInt(x)));
      return out;
    };
    const context: Record<string, Tensor> = {
      hist_items: tensor("i64", [1, L], pad(h.items)),
      hist_actions: tensor("i64", [1, L], pad(h.actions)),
      hist_ts: tensor("i64", [1, L], pad(h.times)),
      request_ts: tensor("i64", [1, 1], BigInt64Array.of(BigInt((h.times.at(-1) ?? 0) + 100))),
    };
    const ids = BigInt64Array.from({ length: candidates }, () => BigInt(this.int(this.itemRows)));
    return { ...(user !== undefined ? { user } : {}), context, candidates: { item_id: tensor("i64", [candidates, 1], ids) } };
  }
}

/** A request without the inputs the model does not have (rab "position" models take no timestamps). */
export function only(req: RankingRequest, inputs: readonly string[]): RankingRequest {
  const keep = new Set(inputs);
  return { ...req, context: Object.fromEntries(Object.entries(req.context ?? {}).filter(([k]) => keep.has(k))) };
}

// Named models with versions. Loading a new version swaps it in atomically:
// requests already running finish on the old version, which is disposed when
// its last request ends; new requests go to the new one. Models may be
// registered lazily (loaded on first use) and unloaded when idle.
import { isAbsolute, relative, resolve } from "node:path";
import { RankfnError } from "../errors";
import type { Model } from "../engine/model";
import { type OpenOptions, openModel } from "../engine/open-model";
import type { RemoteEmbeddingOptions } from "../embeddings/remote-tables";

export interface ModelVersion {
  name: string;
  version: number;
  path: string;
  model: Model;
  loadedAt: number;
  coldStartMs: number;
  /** Requests currently using this version. */
  inflight: number;
  retired: boolean;
  /** Set on the first response served, so it can report the cold start once. */
  firstServed: boolean;
}

/** Where a model stands: what /readyz reports per model. */
export type ModelState = "not_loaded" | "loading" | "warming" | "ready" | "failed";

interface Slot {
  path: string;
  current?: ModelVersion;
  loading?: Promise<ModelVersion>;
  /** The running load was started by a request (lazy or after idle unload), which waits for it; others get a 503. */
  onDemand: boolean;
  /** The phase of the running load. */
  phase: "loading" | "warming";
  /** Why the last load failed (cleared by the next success). */
  error?: string;
  lastUsed: number;
  versions: number;
}

/** Who names a model file: the operator (--model, createApp's models: any path) or a PUT request (only under the model root). */
export interface PathSource {
  trusted?: boolean;
}

export interface RegistryOptions {
  /** PUT may only load files under this folder (no path traversal); relative operator paths resolve against it. Default: the current directory. */
  modelRoot?: string;
  /** Options every model is loaded with (precision, worker, maxBatch...). */
  modelOptions?: OpenOptions;
  /** Per model name: serve its embedding tables from Redis, with its own fault policy. */
  embeddings?: Record<string, RemoteEmbeddingOptions>;
  /** Unload a model unused for this long (ms); 0 = never. */
  idleUnloadMs?: number;
  /** Before a version serves (and /readyz counts it), run its batch buckets up to this many rows once; 0 = no warm-up. Default 0. */
  warmRows?: number;
  onLoad?: (v: ModelVersion) => void;
  /** Called once a retired version has finished its last request and been disposed. */
  onDispose?: (v: ModelVersion) => void;
}

export class ModelRegistry {
  readonly #slots = new Map<string, Slot>();
  readonly #root: string;
  #idleTimer: ReturnType<typeof setInterval> | undefined;

  constructor(readonly options: RegistryOptions = {}) {
    this.#root = resolve(options.modelRoot ?? ".");
    if (options.idleUnloadMs) {
      this.#idleTimer = setInterval(() => this.#unloadIdle(), Math.max(50, options.idleUnloadMs / 4));
      this.#idleTimer.unref?.();
    }
  }

  /** A path under the model root, or a 403 (what PUT may load: never a file outside it). */
  resolvePath(path: string): string {
    const full = this.#absolute(path);
    const rel = relative(this.#root, full);
    if (rel.startsWith("..") || isAbsolute(rel)) {
      throw new RankfnError(`path: ${path} is outside the model root ${this.#root} (--model-root); PUT may only load files under it`, "forbidden_path", 403);
    }
    return full;
  }

  /** `path` as the operator gave it (relative to the model root), confined to the root unless `trusted`. */
  #path(path: string, { trusted = false }: PathSource = {}): string {
    return trusted ? this.#absolute(path) : this.resolvePath(path);
  }

  #absolute(path: string): string {
    if (typeof path !== "string" || path.length === 0) throw new RankfnError("path: expected a model file path", "bad_path", 400);
    return resolve(this.#root, path);
  }

  /** Register a model to load on first use (serverless style); `trusted` (the operator's own paths) lifts the model-root confinement. */
  register(name: string, path: string, source: PathSource = {}): void {
    checkName(name);
    const slot = this.#slots.get(name);
    if (slot) slot.path = this.#path(path, source);
    else this.#slots.set(name, newSlot(this.#path(path, source)));
  }

  /** Load (or reload: hot swap) `name` from `path` now; `trusted` (the operator's own paths) lifts the model-root confinement. */
  async load(name: string, path?: string, source: PathSource & { onDemand?: boolean } = {}): Promise<ModelVersion> {
    checkName(name);
    let slot = this.#slots.get(name);
    if (!slot) {
      if (!path) throw new RankfnError(`model "${name}" is not registered`, "model_not_found", 404);
      slot = newSlot(this.#path(path, source));
      this.#slots.set(name, slot);
    } else if (path) {
      slot.path = this.#path(path, source);
    }
    const s = slot;
    s.phase = "loading";
    const loading = (async () => {
      // Reading and compiling the file is synchronous: start it on a later turn, so the caller (a
      // server starting up, a PUT handler) can answer other requests first.
      await Bun.sleep(0);
      const t0 = performance.now();
      // The file is validated (and fails with its problem) before anything is swapped.
      const embeddings = this.options.embeddings?.[name] ?? this.options.modelOptions?.embeddings;
      // A rankfn model file, or an ONNX file imported (planned per size bucket when it has dynamic dims).
      const model = openModel(s.path, { ...this.options.modelOptions, ...(embeddings ? { embeddings } : {}) });
      try {
        await model.ready();
        s.phase = "warming";
        if (this.options.warmRows) await model.warm(this.options.warmRows);
      } catch (err) {
        model.dispose();
        throw err;
      }
      const v: ModelVersion = { name, version: ++s.versions, path: s.path, model, loadedAt: Date.now(), coldStartMs: performance.now() - t0, inflight: 0, retired: false, firstServed: false };
      const old = s.current;
      s.current = v;
      s.error = undefined;
      if (old) this.#retire(old);
      this.options.onLoad?.(v);
      return v;
    })();
    s.loading = loading;
    s.onDemand = source.onDemand ?? false;
    try {
      return await loading;
    } catch (err) {
      s.error = (err as Error).message;
      throw err;
    } finally {
      if (s.loading === loading) s.loading = undefined;
    }
  }

  /** The current version of `name` for one request (loading it if needed); call release() after. */
  async acquire(name: string): Promise<ModelVersion> {
    const slot = this.#slots.get(name);
    if (!slot) throw new RankfnError(`model "${name}" is not loaded (known: ${[...this.#slots.keys()].join(", ") || "none"})`, "model_not_found", 404);
    slot.lastUsed = Date.now();
    if (!slot.current && slot.loading && !slot.onDemand) {
      // A start-up (or PUT) load is under way: answer now rather than hold the request until its deadline.
      const err = new RankfnError(`model "${name}" is ${slot.phase} and not ready yet; retry shortly (GET /readyz lists what is still loading)`, `model_${slot.phase}`, 503);
      throw Object.assign(err, { retryAfterMs: 1000 });
    }
    const v = slot.current ?? (await (slot.loading ?? this.load(name, undefined, { onDemand: true })));
    v.inflight++;
    return v;
  }

  release(v: ModelVersion): void {
    v.inflight--;
    if (v.retired && v.inflight === 0) this.#dispose(v);
  }

  async remove(name: string): Promise<boolean> {
    const slot = this.#slots.get(name);
    if (!slot) return false;
    this.#slots.delete(name);
    if (slot.loading) await slot.loading.catch(() => undefined);
    if (slot.current) this.#retire(slot.current);
    return true;
  }

  /** The registered models; paths are relative to the model root when under it, absolute otherwise. */
  list(): { name: string; version: number | null; loaded: boolean; path: string }[] {
    return [...this.#slots].map(([name, s]) => ({ name, version: s.current?.version ?? null, loaded: !!s.current, path: this.#display(s.path) }));
  }

  #display(path: string): string {
    const rel = relative(this.#root, path);
    return rel.startsWith("..") || isAbsolute(rel) ? path : rel;
  }

  /** Is `name` registered (loaded or not)? */
  has(name: string): boolean {
    return this.#slots.has(name);
  }

  /** Each model's state: ready (a version serves), loading / warming (its first version is on the way), failed (with why), or not_loaded (lazy or idle-unloaded). */
  states(): { name: string; state: ModelState; error?: string }[] {
    return [...this.#slots].map(([name, s]) => {
      const state: ModelState = s.current ? "ready" : s.loading ? s.phase : s.error ? "failed" : "not_loaded";
      return { name, state, ...(state === "failed" ? { error: s.error } : {}) };
    });
  }

  current(name: string): ModelVersion | undefined {
    return this.#slots.get(name)?.current;
  }

  /**
   * The server can take traffic: every model serves, or loads on its first request (registered
   * lazily or unloaded when idle — a load a request started counts too). A start-up or PUT load
   * still running, or a failed one with no version serving, makes it not ready.
   */
  ready(): boolean {
    return [...this.#slots.values()].every((s) => s.current !== undefined || (s.loading ? s.onDemand : s.error === undefined));
  }

  async close(): Promise<void> {
    if (this.#idleTimer) clearInterval(this.#idleTimer);
    for (const name of [...this.#slots.keys()]) await this.remove(name);
  }

  #retire(v: ModelVersion): void {
    v.retired = true;
    if (v.inflight === 0) this.#dispose(v);
  }

  #dispose(v: ModelVersion): void {
    v.model.dispose();
    this.options.onDispose?.(v);
  }

  #unloadIdle(): void {
    const idle = this.options.idleUnloadMs ?? 0;
    const now = Date.now();
    for (const slot of this.#slots.values()) {
      if (slot.current && slot.current.inflight === 0 && now - slot.lastUsed > idle) {
        this.#retire(slot.current);
        slot.current = undefined;
      }
    }
  }
}

function newSlot(path: string): Slot {
  return { path, onDemand: false, phase: "loading", lastUsed: Date.now(), versions: 0 };
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new RankfnError(`model name "${name}" must be 1-64 letters, digits, '_', '.' or '-'`, "bad_model_name", 400);
}

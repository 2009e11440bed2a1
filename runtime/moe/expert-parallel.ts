// Expert parallelism of one model: its devices (opened from a spec or given),
// one ExpertLayer per MoE node (shared by every batch-size plan), and the
// metrics they produce — per-expert load, per-device busy time, imbalance,
// dispatched bytes — for model.stats() and /metrics.
import { type Device, openDevices } from "../devices";
import type { DeviceDescription } from "../devices/device";
import { type ExpertLayer, type ExpertParallelOptions, type LayerStats } from "./expert-layer";
import type { PlacementReport } from "./placement";

export interface ExpertParallelConfig extends ExpertParallelOptions {
  /** Devices to place experts on: a spec ("cpu:2", "cpu:2x1") or opened devices (the caller keeps ownership). */
  devices: string | Device[];
}

export interface MoeStats {
  devices: (DeviceDescription & { busyMs: number })[];
  layers: LayerStats[];
}

export class ExpertParallel {
  readonly devices: Device[];
  readonly options: ExpertParallelOptions;
  readonly #ownsDevices: boolean;
  readonly #layers = new Map<string, ExpertLayer>();

  constructor(config: ExpertParallelConfig) {
    const { devices, ...options } = config;
    this.#ownsDevices = typeof devices === "string";
    this.devices = typeof devices === "string" ? openDevices(devices) : devices;
    this.options = options;
  }

  /** The layer of MoE node `name`, built on first use. */
  layer(name: string, build: () => ExpertLayer): ExpertLayer {
    let l = this.#layers.get(name);
    if (!l) {
      l = build();
      this.#layers.set(name, l);
    }
    return l;
  }

  /** Re-plan every layer's placement from the routing seen since its last re-plan. */
  replan(): Record<string, PlacementReport> {
    return Object.fromEntries([...this.#layers].map(([name, l]) => [name, l.replan()]));
  }

  stats(): MoeStats {
    return {
      devices: this.devices.map((d) => ({ ...d.describe(), busyMs: d.stats().busyMs })),
      layers: [...this.#layers.values()].map((l) => l.stats()),
    };
  }

  dispose(): void {
    for (const l of this.#layers.values()) l.dispose();
    this.#layers.clear();
    if (this.#ownsDevices) for (const d of this.devices) d.dispose();
  }
}

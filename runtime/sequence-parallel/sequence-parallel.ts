// Sequence parallelism of one model (issue 16): the devices a long history's
// attention and GEMMs are split over (CPU core groups, or OpenCL devices and
// sub-devices), the history length
// from which it applies, and counters of the requests that used it.
import { type Device, openDevices, waitAll } from "../devices";
import type { DeviceDescription } from "../devices/device";
import { RankfnError } from "../errors";

export interface SequenceParallelConfig {
  /** Devices to split a long history over: a spec ("cpu:2", "cpu:2x1") or opened devices (the caller keeps ownership). */
  devices: string | Device[];
  /** Histories with at least this many events run split (default 4096); shorter ones run on the calling thread as before. */
  minLength?: number;
}

export interface SequenceParallelStats {
  devices: (DeviceDescription & { busyMs: number })[];
  /** History layers (one request's layer) run split over the devices. */
  historyLayers: number;
  /** Candidate-to-history attention calls (one run of candidates sharing a history) run split. */
  candidateRuns: number;
}

/** Validate a sequenceParallel option before any device opens. */
export function checkSequenceParallel(config: SequenceParallelConfig): void {
  const m = config.minLength ?? 4096;
  if (!Number.isSafeInteger(m) || m < 1) throw new RankfnError(`sequenceParallel.minLength: must be an integer >= 1, got ${m}`, "bad_option", 400);
  if (typeof config.devices !== "string" && (!Array.isArray(config.devices) || config.devices.length < 1)) {
    throw new RankfnError("sequenceParallel.devices: give a spec like \"cpu:2\" or at least one opened device", "bad_option", 400);
  }
}

export class SequenceParallel {
  readonly devices: Device[];
  readonly minLength: number;
  readonly #ownsDevices: boolean;
  readonly counters = { historyLayers: 0, candidateRuns: 0 };

  constructor(config: SequenceParallelConfig) {
    checkSequenceParallel(config);
    this.#ownsDevices = typeof config.devices === "string";
    this.devices = typeof config.devices === "string" ? openDevices(config.devices) : config.devices;
    this.minLength = config.minLength ?? 4096;
  }

  /** Does a history of `events` events run split? */
  applies(events: number): boolean {
    return events >= this.minLength;
  }

  /**
   * Wait for every device, then throw the first failure (a DeviceError naming the device): no
   * command may still run on the batch's buffers when the error reaches the caller.
   */
  waitAll(): void {
    waitAll(this.devices);
  }

  stats(): SequenceParallelStats {
    return { devices: this.devices.map((d) => ({ ...d.describe(), busyMs: d.stats().busyMs })), ...this.counters };
  }

  dispose(): void {
    if (this.#ownsDevices) for (const d of this.devices) d.dispose();
  }
}

// The error types of rankfn. Every error carries an HTTP status so the server's
// one onError handler can answer with it (4xx: the caller's input; 5xx: ours).

/** Base class of every error rankfn throws on purpose. */
export class RankfnError extends Error {
  override readonly name: string = "RankfnError";
  constructor(
    message: string,
    /** Machine-readable reason, e.g. "shape_mismatch". */
    readonly code: string,
    /** HTTP status a server should answer with. */
    readonly status: number = 400,
  ) {
    super(message);
  }
}

/** A request field is malformed: 400, naming the field. */
export class RequestError extends RankfnError {
  override readonly name: string = "RequestError";
  constructor(message: string, code = "bad_request") {
    super(message, code, 400);
  }
}

/** A tensor (or a request field) has the wrong shape, dtype or length. */
export class TensorError extends RankfnError {
  override readonly name = "TensorError";
  constructor(message: string, code = "invalid_tensor") {
    super(message, code, 400);
  }
}

/** The kernel library rejected a call or failed; `kernelStatus` is its rf_status. */
export class KernelError extends RankfnError {
  override readonly name = "KernelError";
  constructor(
    message: string,
    readonly kernelStatus: number,
    readonly op: string,
  ) {
    // Out-of-range ids and invalid arguments are caused by the input; the rest is ours.
    super(message, kernelStatusCode(kernelStatus), kernelStatus === 1 || kernelStatus === 2 ? 400 : 500);
  }
}

/** The native library is missing, stale or fails to load. */
export class LibraryError extends RankfnError {
  override readonly name = "LibraryError";
  constructor(message: string) {
    super(message, "library_unavailable", 500);
  }
}

const kernelStatusNames = ["ok", "invalid_argument", "out_of_range", "unsupported", "out_of_memory", "device_error", "internal"];

/** The rf_status code as a word ("out_of_range"). */
export function kernelStatusCode(status: number): string {
  return kernelStatusNames[status] ?? `status_${status}`;
}

// Preloaded by `bun test` (bunfig.toml): kernel parity and e2e suites run real
// native code, servers and workers, so each test gets generous time. bunfig's
// [test] section has no timeout key; setDefaultTimeout in a preload is what applies.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(120_000);

// Test fixture: a rankfn app served on a free loopback port.
import { type AppOptions, type RankfnApp, createApp } from "../../runtime/server/app";

export interface LoopbackServer {
  rankfn: RankfnApp;
  url: string;
  /** Stop the HTTP server, then close the app (coalescers drained, models disposed). */
  stop(): Promise<void>;
}

export async function startServer(options: AppOptions): Promise<LoopbackServer> {
  const rankfn = createApp(options);
  await rankfn.ready;
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: rankfn.app.fetch });
  return {
    rankfn,
    url: `http://127.0.0.1:${server.port}`,
    async stop() {
      server.stop(true);
      await rankfn.close();
    },
  };
}

/**
 * Entry point for FC custom runtimes and local use: listens on 0.0.0.0 (FC custom runtimes cannot
 * reach 127.0.0.1) at PORT, else FC_CUSTOM_LISTEN_PORT, else FC_SERVER_PORT, else 9000. Chromium is
 * launched before the first request (FC's POST /initialize waits for that same launch, see
 * http/lifecycle.ts). On SIGTERM/SIGINT: stop accepting, let in-flight captures finish, close
 * Chromium, exit 0.
 */
// First: before puppeteer loads the `debug` package (puppeteer-debug.ts).
import './puppeteer-debug.js';
import { loadConfig } from './config.js';
import { createService } from './service.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const service = await createService(config);
  const { app } = service;

  await app.listen({ host: '0.0.0.0', port: config.port });
  service.browser.warm().catch((err) => app.log.error({ err }, 'chromium failed to launch; the next request retries'));

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      app.log.error('shutdown grace period over; exiting');
      process.exit(1);
    }, config.requestTimeoutMs + 5000);
    force.unref();
    await service.close();
    // A capture file is removed as its answer ends; one left now had no answer to go with.
    const left = await service.files.discardAll();
    if (left > 0) app.log.warn({ files: left }, 'capture files removed at shutdown');
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

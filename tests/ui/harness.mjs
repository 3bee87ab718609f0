// Shared by the UI test and scripts/docs/ui-screenshots.mjs: start a pushgate
// child on 127.0.0.1:0, talk HTTP to it, and launch the system chromium
// through playwright-core. Settings come from the environment that
// tests/ui/run.sh (or scripts/docs/ui-screenshots.sh) prepares.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(join(process.env.UI_NODE_DIR || ".", "package.json"));
const { chromium } = require("playwright-core");

const START_DEADLINE_MS = 5000;
const STOP_DEADLINE_MS = 3000;

// Starts pushgate with `flags`; resolves to { address, stop } once the
// "Listening on" log line names the bound address.
export function startGateway(flags = []) {
  const bin = process.env.PUSHGATE_BIN;
  const child = spawn(bin, ["--web.listen-address=127.0.0.1:0", "--persistence.file=", ...flags], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  return new Promise((resolve, reject) => {
    let buffered = "";
    let listening = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("pushgate did not log its address within 5 s"));
    }, START_DEADLINE_MS);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error("pushgate exited early with " + code));
    });
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (chunk) => {
      for (const line of chunk.split("\n")) if (line) process.stderr.write("  [pushgate] " + line + "\n");
      if (listening) return;
      buffered += chunk;
      const m = /msg="Listening on" address=(\S+)/.exec(buffered);
      if (m) {
        listening = true;
        clearTimeout(timer);
        child.removeAllListeners("exit");
        resolve({
          address: m[1],
          // SIGTERM, then SIGKILL after a deadline: an idle keep-alive
          // connection (browser, fetch pool) may delay a graceful exit.
          stop: () =>
            new Promise((done) => {
              if (child.exitCode !== null) return done();
              const kill = setTimeout(() => child.kill("SIGKILL"), STOP_DEADLINE_MS);
              child.once("exit", (code, signal) => {
                clearTimeout(kill);
                done({ code, signal });
              });
              child.kill("SIGTERM");
            }),
        });
      }
    });
  });
}

// One HTTP request; resolves to { status, text }.
export async function request(url, method = "GET", body = undefined) {
  const response = await fetch(url, { method, body });
  return { status: response.status, text: await response.text() };
}

// Launches headless chromium with a fresh profile; returns { context, close }.
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), "pushgate-ui-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    viewport: { width: 1280, height: 900 },
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

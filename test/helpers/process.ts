// Spawning the gateway as a real process, the way a person or the container starts it.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { delimiter, dirname } from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface Spawned {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** Kills whatever of the process and its children is still running (for finally blocks). */
  stop(): void;
}

export function spawnNode(args: string[], env: Record<string, string>, cwd = process.cwd()): Spawned {
  return spawnProcess(process.execPath, args, env, cwd);
}

/** Any command, with a clean environment: only what the test passes, plus PATH/HOME. */
export function spawnProcess(command: string, args: string[], env: Record<string, string>, cwd = process.cwd()): Spawned {
  const child = spawn(command, args, {
    cwd,
    // The Node running the tests comes first, so a script's `node` is the same one.
    env: { PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so stop() reaches a grandchild (npm's shell's Node) too.
    detached: true,
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += String(chunk)));
  child.stderr?.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const stop = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  return { child, output: () => output, exited, stop };
}

/** Polls url until it answers 200; returns the milliseconds it took. */
export async function waitForOk(url: string, timeoutMs = 15_000): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    try {
      const response = await fetch(url);
      if (response.ok) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { signToken, type TokenRequest } from '../../src/auth/tokens';
import { TEST_JWT_SECRET } from './server';

/** A server started as operators start it (`node dist/src/main.js`), in a process of its own. */
export interface ServerProcess {
  url: string;
  wsUrl: string;
  token(request: TokenRequest): Promise<string>;
  /** Log lines it wrote, parsed. */
  logs: Array<Record<string, unknown>>;
  /** SIGTERM, and the exit. */
  stop(): Promise<void>;
}

/** Starts the built server (npm test builds first) on a free port against `databaseUrl`; resolves once it listens. */
export async function startServerProcess(databaseUrl: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, [path.join(__dirname, '..', '..', 'dist', 'src', 'main.js')], {
    env: {
      PATH: process.env.PATH,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: databaseUrl,
      AUTH_JWT_SECRET: TEST_JWT_SECRET,
      SEED_DEMO: 'false',
      LOG_LEVEL: 'info',
      NOTIFICATION_WORKER: 'false',
      RATE_LIMITS: 'off',
      FILES_DIR: path.join(os.tmpdir(), `care-messaging-files-${randomUUID()}`),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let buffered = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server process did not listen: ${buffered}`)), 30_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === 'listening') {
            clearTimeout(timer);
            resolve(String(entry.url));
          }
        } catch {
          // not a log line
        }
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the server process exited (${code})`));
    });
  });
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    token: (request) => signToken(TEST_JWT_SECRET, request),
    logs,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

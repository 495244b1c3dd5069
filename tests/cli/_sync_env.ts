/**
 * Test environment for `login`, `plan` and `sync`: a fake Bitwarden server, a temporary data
 * directory configured for it, and a JSON directory file the test rewrites between runs.
 * @module
 */

import { join } from "node:path";
import {
  type FakeBitwarden,
  type FakeOptions,
  type FakeRequest,
  startFakeBitwarden,
} from "../fakes/bitwarden.ts";
import {
  json,
  type RosterOptions,
  type RosterResult,
  seedConfig,
  tempDataDir,
} from "../_helpers.ts";

/** A user of the JSON directory file (roster's JSON export format). */
export interface DirUser {
  id: string;
  email: string | null;
  disabled?: boolean;
  deleted?: boolean;
}

/** A group of the JSON directory file. */
export interface DirGroup {
  id: string;
  name: string;
  members?: string[];
}

/** A running environment; dispose it with `await using`. */
export interface SyncEnv extends AsyncDisposable {
  fake: FakeBitwarden;
  dataDir: string;
  root: string;
  /** The directory file roster reads. */
  directoryPath: string;
  /** Rewrites the directory file. */
  writeDirectory(users: DirUser[], groups?: DirGroup[]): Promise<void>;
  /** Runs roster with `--data-dir` (and `ROSTER_CLIENT_SECRET` set to the fake's secret). */
  run(args: readonly string[], options?: RosterOptions): Promise<RosterResult>;
  /** Replaces `config.json` (the `server` settings pointing at the fake are added). */
  writeConfig(config: { directory: unknown; sync?: unknown }): Promise<void>;
  /** `roster login` with the fake's key; fails the test when it does not exit 0. */
  login(): Promise<void>;
  /** Import requests the fake received (any status). */
  imports(): FakeRequest[];
  /** Emails of the organization's members, sorted. */
  emails(): string[];
  /**
   * Removes a member as an admin would by hand, behind roster's back (through the fake's own
   * API, since the fake has no removal hook).
   */
  removeByHand(externalId: string): Promise<void>;
}

/** `n` users `user01@example.com` … with ids `u01` …. */
export function users(n: number, from = 1): DirUser[] {
  return Array.from({ length: n }, (_, i) => {
    const number = String(from + i).padStart(2, "0");
    return { id: `u${number}`, email: `user${number}@example.com` };
  });
}

/** Starts the fake and writes a data directory whose config points at it. */
export async function syncEnv(
  options: {
    fake?: FakeOptions;
    config?: Record<string, unknown>;
    users?: DirUser[];
    groups?: DirGroup[];
  } = {},
): Promise<SyncEnv> {
  const fake = await startFakeBitwarden(options.fake ?? {});
  const dir = await tempDataDir();
  const directoryPath = join(dir.root, "directory.json");
  const writeDirectory = async (list: DirUser[], groups: DirGroup[] = []) => {
    await Deno.writeTextFile(directoryPath, JSON.stringify({ users: list, groups }, null, 2));
  };
  await writeDirectory(options.users ?? [], options.groups ?? []);
  await seedConfig(dir, {
    server: fake.serverConfig,
    directory: { type: "file", file: { path: directoryPath } },
    ...(options.config === undefined ? {} : { sync: options.config }),
  });
  const run = (args: readonly string[], runOptions: RosterOptions = {}) =>
    dir.run(args, {
      ...runOptions,
      env: { ROSTER_CLIENT_SECRET: fake.credentials.clientSecret, ...(runOptions.env ?? {}) },
    });
  return {
    fake,
    dataDir: dir.dataDir,
    root: dir.root,
    directoryPath,
    writeDirectory,
    run,
    async writeConfig(config) {
      await Deno.writeTextFile(
        join(dir.dataDir, "config.json"),
        JSON.stringify({ server: fake.serverConfig, ...config }, null, 2),
      );
    },
    async login() {
      const result = await run(["login", "--client-id", fake.credentials.clientId]);
      if (result.code !== 0) {
        throw new Error(`login failed (${result.code}): ${result.stdout}${result.stderr}`);
      }
    },
    imports: () =>
      fake.requests().filter((r) => r.method === "POST" && r.path.endsWith("/organization/import")),
    emails: () => fake.state().members.map((m) => m.email).sort(),
    async removeByHand(externalId) {
      const token = fake.mintToken();
      const response = await fetch(`${fake.apiUrl}/public/organization/import`, {
        method: "POST",
        headers: { "authorization": `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({
          groups: [],
          members: [{ email: null, externalId, deleted: true }],
          overwriteExisting: false,
        }),
      });
      await response.body?.cancel();
      if (response.status !== 200) throw new Error(`removal failed: ${response.status}`);
    },
    async [Symbol.asyncDispose]() {
      await fake.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

/** Parses a JSON document and returns it as a record. */
export function doc(text: string): Record<string, unknown> {
  const value = json(text);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error(`not a JSON object: ${text}`);
  }
  return Object.fromEntries(Object.entries(value));
}

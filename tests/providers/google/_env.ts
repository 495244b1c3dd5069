/**
 * Test environment for the Google provider: the fake Directory API with a virtual clock shared
 * with the provider (so backoff and quota windows move without real waiting), and a read that
 * gathers the pages the way the sync pipeline does.
 * @module
 */

import { configSchema } from "../../../src/config/schema.ts";
import { buildSyncData } from "../../../src/engine/mod.ts";
import type { SyncData } from "../../../src/engine/types.ts";
import type { ReadCounters } from "../../../src/output/progress.ts";
import {
  createGoogleProvider,
  type GoogleReadTuning,
  type GoogleSettings,
} from "../../../src/providers/google/mod.ts";
import { readDirectory, type ReadResult } from "../../../src/sync/read.ts";
import { type VirtualClock, virtualClock } from "../../fakes/_clock.ts";
import { type FakeGoogle, type FakeGoogleOptions, startFakeGoogle } from "../../fakes/google.ts";

/** Options of {@link googleEnv}. */
export interface GoogleEnvOptions {
  fake?: FakeGoogleOptions;
  /** `directory.google.*` beyond the fake's URLs and admin. */
  google?: Record<string, unknown>;
  /** `sync.*`. */
  sync?: Record<string, unknown>;
  /**
   * The secret `directory.google.privateKey`: the whole JSON key file (default), the bare PEM
   * (`pem`, with `clientEmail` set unless `google.clientEmail` is null), or a literal value.
   */
  secret?: "keyFile" | "pem" | { value: string };
  tuning?: GoogleReadTuning;
}

/** A running environment; dispose it with `await using`. */
export interface GoogleEnv extends AsyncDisposable {
  fake: FakeGoogle;
  clock: VirtualClock;
  /** Progress reports received. */
  progress: ReadCounters[];
  /** Log lines received. */
  logs: string[];
  /** Reads the directory through the provider (pages gathered as the pipeline does). */
  read(mode?: "full" | "incremental"): Promise<ReadResult>;
  /** The engine's result for a read, with the `sync.*` set filters applied. */
  engine(read: ReadResult): SyncData;
  /** Directory API requests the fake received (path without prefix, params), in order. */
  apiRequests(): { path: string; params: Record<string, string>; status: number }[];
}

/** Starts the fake and returns an environment reading it. */
export async function googleEnv(options: GoogleEnvOptions = {}): Promise<GoogleEnv> {
  const clock = virtualClock();
  const fake = await startFakeGoogle({ now: clock.now, ...options.fake });
  const google: Record<string, unknown> = {
    adminUser: fake.adminUser,
    apiUrl: fake.url,
    tokenUrl: fake.tokenUrl,
    ...options.google,
  };
  const secretKind = options.secret ?? "keyFile";
  let secret: string;
  if (secretKind === "keyFile") secret = fake.serviceAccount.keyFile;
  else if (secretKind === "pem") {
    secret = fake.serviceAccount.privateKey;
    if (!("clientEmail" in google)) google["clientEmail"] = fake.serviceAccount.clientEmail;
  } else secret = secretKind.value;
  for (const [key, value] of Object.entries(google)) if (value === null) delete google[key];
  const config = configSchema.parse({
    directory: { type: "google", google },
    sync: options.sync ?? {},
  });
  const settings: GoogleSettings = { google: config.directory.google, sync: config.sync };
  const progress: ReadCounters[] = [];
  const logs: string[] = [];
  const provider = createGoogleProvider({
    settings,
    secret: (key) => Promise.resolve(key === "directory.google.privateKey" ? secret : undefined),
    log: (level, message) => logs.push(`${level}: ${message}`),
    progress: (counters) => progress.push({ ...counters }),
  }, { now: clock.now, sleep: clock.sleep, random: () => 0.5, ...options.tuning });
  return {
    fake,
    clock,
    progress,
    logs,
    read: (mode = "full") => readDirectory(provider, { users: true, groups: true, mode }),
    engine: (read) =>
      buildSyncData(read.snapshot, {
        syncUsers: true,
        syncGroups: true,
        removeDisabled: false,
        setFilters: {
          ...(config.sync.userFilter === undefined ? {} : { users: config.sync.userFilter }),
          ...(config.sync.groupFilter === undefined ? {} : { groups: config.sync.groupFilter }),
        },
      }),
    apiRequests: () =>
      fake.requests().filter((r) => r.path.startsWith("/admin/directory/v1/")).map((r) => ({
        path: r.path.slice("/admin/directory/v1".length),
        params: r.params,
        status: r.status,
      })),
    async [Symbol.asyncDispose]() {
      await fake.stop();
    },
  };
}

/** `{email: [group names]}`-free summary: each group's name and its flattened member emails. */
export function membership(data: SyncData): Record<string, string[]> {
  const emailOf = new Map(data.users.map((u) => [u.externalId, u.email ?? `(${u.externalId})`]));
  const out: Record<string, string[]> = {};
  for (const group of data.groups) {
    out[group.name] = group.memberExternalIds.map((id) => emailOf.get(id) ?? `?${id}`).sort();
  }
  return out;
}

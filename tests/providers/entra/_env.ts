/**
 * Test environment for the Entra provider: the fake Graph on a virtual clock, the provider's
 * settings pointing at it, and helpers to read and to run the engine on what was read.
 * @module
 */

import { type Config, configSchema } from "../../../src/config/schema.ts";
import type { DirectorySnapshot, SyncData } from "../../../src/engine/types.ts";
import type { ProgressReporter } from "../../../src/output/progress.ts";
import type { ReadOptions } from "../../../src/providers/provider.ts";
import {
  createEntraProvider,
  type EntraProviderOptions,
  type EntraSettings,
} from "../../../src/providers/entra/mod.ts";
import { readDirectory, type ReadResult } from "../../../src/sync/read.ts";
import { buildData } from "../../../src/sync/source.ts";
import { type VirtualClock, virtualClock } from "../../fakes/_clock.ts";
import { type FakeGraph, type FakeGraphOptions, startFakeGraph } from "../../fakes/graph.ts";

/** A running fake and the settings of a provider pointed at it. */
export interface EntraEnv {
  fake: FakeGraph;
  clock: VirtualClock;
  /** A whole config for the fake (`directory.type entra`), with `overrides` merged in. */
  config(overrides?: { entra?: Record<string, unknown>; sync?: Record<string, unknown> }): Config;
  /** Reads through the provider with `config` (default {@link EntraEnv.config}()). */
  read(
    options?: Omit<Partial<ReadOptions>, "state"> & {
      state?: Readonly<Record<string, string>> | undefined;
      config?: Config;
      secret?: string | undefined;
      provider?: EntraProviderOptions;
      progress?: ProgressReporter;
    },
  ): Promise<ReadResult>;
  /** Runs the engine as `test` does on a read. */
  engine(read: ReadResult, config?: Config): SyncData;
}

/** Starts the fake (virtual clock shared with the provider) and runs `run`. */
export async function withEntra(
  options: FakeGraphOptions,
  run: (env: EntraEnv) => Promise<void>,
): Promise<void> {
  const clock = virtualClock();
  const fake = await startFakeGraph({ now: clock.now, ...options });
  const config: EntraEnv["config"] = (overrides = {}) =>
    configSchema.parse({
      directory: {
        type: "entra",
        entra: {
          tenant: fake.tenantId,
          applicationId: fake.credentials.clientId,
          authorityUrl: fake.authorityUrl,
          graphUrl: fake.graphUrl,
          ...overrides.entra,
        },
      },
      sync: { users: true, groups: true, ...overrides.sync },
    });
  try {
    await run({
      fake,
      clock,
      config,
      read: async (o = {}) => {
        const whole = o.config ?? config();
        const settings: EntraSettings = { entra: whole.directory.entra, sync: whole.sync };
        const secret = "secret" in o ? o.secret : fake.credentials.secret;
        const provider = createEntraProvider({
          settings,
          secret: (key) => Promise.resolve(key === "directory.entra.key" ? secret : undefined),
          log: () => {},
          ...(o.progress === undefined ? {} : { progress: o.progress }),
        }, { now: clock.now, sleep: clock.sleep, random: () => 0.5, ...o.provider });
        return await readDirectory(provider, {
          users: o.users ?? true,
          groups: o.groups ?? whole.sync.groups,
          mode: o.mode ?? "full",
          ...(o.state === undefined ? {} : { state: o.state }),
        });
      },
      engine: (read, whole = config()) => buildData(whole, read),
    });
  } finally {
    await fake.close();
  }
}

/** Users and groups of a snapshot, sorted by externalId, member refs sorted: for comparisons. */
export function canonical(snapshot: DirectorySnapshot): DirectorySnapshot {
  return {
    users: [...snapshot.users].sort((a, b) => a.externalId.localeCompare(b.externalId)),
    groups: [...snapshot.groups].map((g) => ({ ...g, memberRefs: [...g.memberRefs].sort() }))
      .sort((a, b) => a.externalId.localeCompare(b.externalId)),
    skipped: [],
  };
}

/** Emails of the synced users, sorted. */
export function emails(data: SyncData): string[] {
  return data.users.map((u) => u.email ?? `(deleted ${u.externalId})`).sort();
}

/** Group name → sorted member externalIds. */
export function memberships(data: SyncData): Record<string, string[]> {
  return Object.fromEntries(
    data.groups.map((g) => [g.name, [...g.memberExternalIds].sort()]),
  );
}

export { makeCertificate } from "../../fakes/_front.ts";

/**
 * Test environment of the `onelogin` provider: the fake OneLogin account on a virtual clock
 * shared with the provider, so rate-limit resets, token expiry and retry waits take no time.
 * @module
 */

import { configSchema } from "../../../src/config/schema.ts";
import type { DirectoryPage, ReadOptions } from "../../../src/providers/provider.ts";
import {
  createOneLoginProvider,
  type OneLoginSettings,
} from "../../../src/providers/onelogin/mod.ts";
import { readDirectory, type ReadResult } from "../../../src/sync/read.ts";
import {
  type FakeOneLogin,
  type FakeOneLoginOptions,
  startFakeOneLogin,
} from "../../fakes/onelogin.ts";
import { type VirtualClock, virtualClock } from "../../fakes/_clock.ts";
import type { ReadCounters } from "../../../src/output/progress.ts";

/** A fake account, a clock, and a way to read it. */
export interface OneLoginEnv extends AsyncDisposable {
  fake: FakeOneLogin;
  clock: VirtualClock;
  /** Log lines the provider wrote. */
  logs: string[];
  /** Progress reports. */
  progress: ReadCounters[];
  /** Reads the account through `readDirectory`. */
  read(options?: Partial<ReadOptions>, settings?: SettingsInit): Promise<ReadResult>;
  /** Reads the raw pages. */
  pages(options?: Partial<ReadOptions>, settings?: SettingsInit): Promise<DirectoryPage[]>;
  /** Calls a test hook after the provider's `n`-th progress report. */
  onProgress(n: number, hook: () => void): void;
}

/** Settings overrides. */
export interface SettingsInit {
  onelogin?: Record<string, unknown>;
  sync?: Record<string, unknown>;
  secret?: string;
}

/** Starts the fake (at 2026-01-01 plus a day, so objects are older than any read). */
export function oneLoginEnv(
  options: FakeOneLoginOptions = {},
  base: SettingsInit = {},
): OneLoginEnv {
  const clock = virtualClock();
  clock.advance(86_400_000);
  const fake = startFakeOneLogin({ now: clock.now, ...options });
  const logs: string[] = [];
  const progress: ReadCounters[] = [];
  const hooks = new Map<number, () => void>();
  const settingsOf = (init: SettingsInit): OneLoginSettings => {
    const config = configSchema.parse({
      directory: {
        type: "onelogin",
        onelogin: {
          clientId: fake.clientId,
          apiUrl: fake.apiUrl,
          ...base.onelogin,
          ...init.onelogin,
        },
      },
      sync: { ...base.sync, ...init.sync },
    });
    return { onelogin: config.directory.onelogin, sync: config.sync };
  };
  const provider = (init: SettingsInit = {}) => {
    const secret = init.secret ?? base.secret ?? fake.clientSecret;
    return createOneLoginProvider({
      settings: settingsOf(init),
      secret: (key) =>
        Promise.resolve(key === "directory.onelogin.clientSecret" ? secret : undefined),
      log: (level, message) => logs.push(`${level}: ${message}`),
      progress: (counters) => {
        progress.push(counters);
        hooks.get(progress.length)?.();
      },
    }, { now: clock.now, sleep: clock.sleep, random: () => 0.5 });
  };
  const readOptions = (options: Partial<ReadOptions>): ReadOptions => ({
    users: true,
    groups: true,
    mode: "full",
    ...options,
  });
  return {
    fake,
    clock,
    logs,
    progress,
    read: (options = {}, settings = {}) => readDirectory(provider(settings), readOptions(options)),
    async pages(options = {}, settings = {}) {
      const out: DirectoryPage[] = [];
      for await (const page of provider(settings).read(readOptions(options))) out.push(page);
      return out;
    },
    onProgress: (n, hook) => {
      hooks.set(progress.length + n, hook);
    },
    async [Symbol.asyncDispose]() {
      await fake.close();
    },
  };
}

/** `email` of each user, sorted. */
export function emails(result: ReadResult): (string | null)[] {
  return result.snapshot.users.map((u) => u.email).sort();
}

/** Each group as `name: member ids sorted`. */
export function memberships(result: ReadResult): string[] {
  return result.snapshot.groups.map((g) =>
    `${g.name}: ${[...g.memberRefs].map((r) => r.replace("user:", "")).sort().join(",")}`
  ).sort();
}

/**
 * Test environment for the `okta` provider: the fake Okta org on a shared virtual clock, the
 * provider built with that clock, and helpers to read, merge a delta and compare snapshots.
 * @module
 */

import { configSchema } from "../../../src/config/schema.ts";
import type { ProgressReporter } from "../../../src/output/progress.ts";
import { applyDelta } from "../../../src/engine/delta.ts";
import type { DirectorySnapshot } from "../../../src/engine/types.ts";
import { createOktaProvider, oktaSource } from "../../../src/providers/okta/mod.ts";
import type { OktaSettings } from "../../../src/providers/okta/settings.ts";
import type { ReadOptions } from "../../../src/providers/provider.ts";
import { readDirectory, type ReadResult } from "../../../src/sync/read.ts";
import { type FakeOkta, type FakeOktaOptions, startFakeOkta } from "../../fakes/okta.ts";

/**
 * A virtual clock that several concurrent sleepers can share. Sleeps asked for in the same turn
 * of the event loop end together: the time moves to the latest of their ends (not by the sum of
 * their lengths), then they all return. No real waiting beyond one zero-length timer.
 */
export interface SharedClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  advance: (ms: number) => void;
  /** Every wait asked for, in ms, in order. */
  sleeps: number[];
}

/** A {@link SharedClock} starting at `start` (default 2026-01-01T00:00:10Z). */
export function sharedClock(start = Date.UTC(2026, 0, 1, 0, 0, 10)): SharedClock {
  let time = start;
  const sleeps: number[] = [];
  let pending: { end: number; resolve: () => void }[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    for (const sleeper of batch) time = Math.max(time, sleeper.end);
    for (const sleeper of batch) sleeper.resolve();
  };
  return {
    now: () => time,
    sleep: (ms) => {
      sleeps.push(ms);
      return new Promise<void>((resolve) => {
        if (pending.length === 0) setTimeout(flush, 0);
        pending.push({ end: time + Math.max(0, ms), resolve });
      });
    },
    advance: (ms) => {
      time += ms;
    },
    sleeps,
  };
}

/** Options of {@link oktaEnv}. */
export interface OktaEnvOptions {
  fake?: FakeOktaOptions;
  /** `sync.*` settings. */
  sync?: Record<string, unknown>;
  /** `directory.okta.*` settings besides orgUrl. */
  okta?: Record<string, unknown>;
  /** The token roster holds. Default: the fake's. */
  token?: string;
  /** Workers. Default 4. */
  concurrency?: number;
  /** Gets the provider's progress reports. */
  progress?: ProgressReporter;
}

/** A running environment; dispose with `await using`. */
export interface OktaEnv extends AsyncDisposable {
  fake: FakeOkta;
  clock: SharedClock;
  settings: OktaSettings;
  /** Reads through the provider and gathers the pages. */
  read(options?: Partial<ReadOptions>): Promise<ReadResult>;
}

/** Starts the fake on a shared clock and builds the settings for it. */
export function oktaEnv(options: OktaEnvOptions = {}): OktaEnv {
  const clock = sharedClock();
  const fake = startFakeOkta({ now: clock.now, ...options.fake });
  const config = configSchema.parse({
    directory: { type: "okta", okta: { orgUrl: fake.orgUrl, ...options.okta } },
    sync: { users: true, groups: true, ...options.sync },
  });
  const settings = oktaSource.settings(config);
  const token = options.token ?? fake.token;
  return {
    fake,
    clock,
    settings,
    read: (read = {}) => {
      const provider = createOktaProvider({
        settings,
        secret: (key) => Promise.resolve(key === "directory.okta.token" ? token : undefined),
        log: () => {},
        ...(options.progress === undefined ? {} : { progress: options.progress }),
      }, {
        concurrency: options.concurrency ?? 4,
        now: clock.now,
        sleep: clock.sleep,
        random: () => 0.5,
      });
      return readDirectory(provider, {
        users: true,
        groups: true,
        mode: "full",
        ...read,
      });
    },
    [Symbol.asyncDispose]: () => fake.close(),
  };
}

/** `base` with the delta read `delta` merged in, as the pipeline merges it. */
export function merged(base: DirectorySnapshot, delta: ReadResult): DirectorySnapshot {
  return applyDelta(base, {
    changed: delta.snapshot,
    removed: delta.removed ?? { users: [], groups: [] },
  });
}

/** A snapshot in a canonical order (users and groups by id, members sorted), for comparison. */
export function canonical(snapshot: DirectorySnapshot): DirectorySnapshot {
  const byId = <T extends { externalId: string }>(a: T, b: T) =>
    a.externalId < b.externalId ? -1 : a.externalId > b.externalId ? 1 : 0;
  return {
    users: [...snapshot.users].sort(byId),
    groups: [...snapshot.groups].map((g) => ({ ...g, memberRefs: [...g.memberRefs].sort() }))
      .sort(byId),
    skipped: [...snapshot.skipped].sort((a, b) =>
      a.referenceId < b.referenceId ? -1 : a.referenceId > b.referenceId ? 1 : 0
    ),
  };
}

/** What the fake holds, as the snapshot a full read must return. */
export function expectedSnapshot(fake: FakeOkta): DirectorySnapshot {
  const snapshot: DirectorySnapshot = { users: [], groups: [], skipped: [] };
  for (const user of fake.users()) {
    const deleted = user.status === "DEPROVISIONED";
    const email = user.profile.email ?? null;
    if (email === null && !deleted) {
      snapshot.skipped.push({
        referenceId: user.id,
        kind: "user",
        reason: `no email address (profile.email is empty; login ${user.profile.login})`,
      });
      continue;
    }
    snapshot.users.push({
      referenceId: user.id,
      externalId: user.id,
      email,
      disabled: user.status === "SUSPENDED",
      deleted,
    });
  }
  for (const group of fake.groups()) {
    snapshot.groups.push({
      referenceId: group.id,
      externalId: group.id,
      name: group.profile.name,
      memberRefs: [...group.members],
    });
  }
  return canonical(snapshot);
}

/**
 * The run lock: one `sync` at a time per data directory, so two runs (a timer and an admin,
 * two daemons, cron and a CI job) never send imports at once.
 *
 * The lock lives in the state store with a time to live; the holder renews it while it runs
 * and releases it when done. A process that dies leaves a lock that expires by itself.
 * @module
 */

import { LockedError } from "../errors.ts";
import type { LockRecord, StateStore } from "../state/store.ts";

/** How long a lock lasts without renewal: 10 minutes. */
export const LOCK_TTL_MS = 10 * 60_000;

/** A held lock. */
export interface HeldLock {
  /** The lock as taken. */
  readonly lock: LockRecord;
  /** Set when renewing found the lock taken over by another run. */
  readonly lost: LockedError | undefined;
  /**
   * Throws the {@link LockedError} when the lock was lost, or the abort reason when the run was
   * stopped (call before sending).
   */
  check(): void;
}

/** Options of {@link withLock}. */
export interface WithLockOptions {
  /** The command that holds it, shown to a refused run (e.g. `sync`). */
  command: string;
  /** Lifetime without renewal. @default LOCK_TTL_MS */
  ttlMs?: number;
  /** Renew this often. @default a third of the lifetime */
  renewEveryMs?: number;
  /** The clock, for the refusal message. @default () => new Date() */
  now?: () => Date;
  /** Told when an expired lock of a dead run is taken over. */
  onTakeOver?: (previous: LockRecord) => void;
  /**
   * Aborted when the run must stop (SIGINT, SIGTERM): {@link HeldLock.check} then throws the
   * signal's reason, so no further batch starts while the lock is being released.
   */
  signal?: AbortSignal;
}

/** The message of a refused run: who holds the lock, since when, until when. */
export function lockedError(holder: LockRecord, dataDir: string): LockedError {
  return new LockedError(
    `Cannot start: another roster run holds the lock on ${dataDir}: ${holder.command} (pid ${holder.pid} on ${holder.host}) since ${holder.acquiredAt}, until ${holder.expiresAt} unless renewed`,
    {
      hint:
        `Wait for that run to finish (roster status shows the lock). A lock left by a run that died expires by itself at ${holder.expiresAt}`,
      details: {
        holder: {
          pid: holder.pid,
          host: holder.host,
          command: holder.command,
          acquiredAt: holder.acquiredAt,
          expiresAt: holder.expiresAt,
        },
      },
    },
  );
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/**
 * Whether a lock holder is a process on this host that no longer exists (Linux only: looks
 * for `/proc/<pid>`). Elsewhere, or on another host, a holder is presumed alive.
 */
export async function holderIsDead(holder: LockRecord): Promise<boolean> {
  if (Deno.build.os !== "linux" || holder.host !== hostname() || holder.pid === Deno.pid) {
    return false;
  }
  try {
    await Deno.stat(`/proc/${holder.pid}`);
    return false;
  } catch (error) {
    return error instanceof Deno.errors.NotFound;
  }
}

/**
 * Takes the lock of `store`'s data directory, runs `fn` while renewing it, and releases it
 * whatever happens. The lock of a run that died on this host (killed, Ctrl-C) is taken over
 * at once rather than after it expires.
 *
 * @throws {LockedError} when another run holds an unexpired lock (naming it).
 */
export async function withLock<T>(
  store: StateStore,
  dataDir: string,
  options: WithLockOptions,
  fn: (held: HeldLock) => Promise<T>,
): Promise<T> {
  const ttlMs = options.ttlMs ?? LOCK_TTL_MS;
  const owner = { pid: Deno.pid, host: hostname(), command: options.command };
  let result = await store.acquireLock(owner, ttlMs);
  if (!result.acquired && await holderIsDead(result.holder)) {
    const dead = result.holder;
    await store.releaseLock(dead.token);
    result = await store.acquireLock(owner, ttlMs);
    if (result.acquired) result = { ...result, tookOverFrom: dead };
  }
  if (!result.acquired) throw lockedError(result.holder, dataDir);
  if (result.tookOverFrom !== undefined) options.onTakeOver?.(result.tookOverFrom);
  let lost: LockedError | undefined;
  const held: HeldLock = {
    lock: result.lock,
    get lost() {
      return lost;
    },
    check() {
      if (lost !== undefined) throw lost;
      options.signal?.throwIfAborted();
    },
  };
  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    renewing = store.renewLock(result.lock.token, ttlMs).catch((error) => {
      if (error instanceof LockedError) lost = error;
    });
  }, options.renewEveryMs ?? Math.max(1000, Math.floor(ttlMs / 3)));
  try {
    return await fn(held);
  } finally {
    clearInterval(timer);
    await renewing;
    await store.releaseLock(result.lock.token);
  }
}

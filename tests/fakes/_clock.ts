/**
 * A virtual clock for tests: `sleep` advances `now` instead of waiting, and records the waits.
 * Share one between a fake server and a client so that rate-limit windows and token expiry
 * move together with the client's backoff, with no real waiting.
 * @module
 */

/** A clock whose time only moves when someone sleeps (or {@link VirtualClock.advance}). */
export interface VirtualClock {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  advance: (ms: number) => void;
  /** Every wait asked for, in order. */
  sleeps: number[];
}

/** Makes a {@link VirtualClock} starting at `start` (default 2026-01-01T00:00:00Z). */
export function virtualClock(start = Date.UTC(2026, 0, 1)): VirtualClock {
  let time = start;
  const sleeps: number[] = [];
  return {
    now: () => time,
    sleep: (ms: number) => {
      sleeps.push(ms);
      time += Math.max(0, ms);
      return Promise.resolve();
    },
    advance: (ms: number) => {
      time += ms;
    },
    sleeps,
  };
}

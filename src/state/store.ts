/**
 * The state store: everything roster remembers between runs that is not configuration, in a
 * Deno KV database at `<dataDir>/state.kv` (files mode 0600).
 *
 * | KV key | value |
 * | --- | --- |
 * | `["secret", <dot path>]` | a directory secret, e.g. `directory.ldap.password` |
 * | `["sync", "lastUserSync"]`, `["sync", "lastGroupSync"]` | ISO date of the last sync |
 * | `["sync", "hash"]` | hash of the last import sent (skips unchanged syncs) |
 * | `["sync", "providerState"]` | provider state such as delta links |
 * | `["auth"]` | the Bitwarden API key and token ({@link AuthRecord}) |
 * | `["runs", <startedAt ms>, <id>]` | a {@link RunRecord}; the last {@link HISTORY_LIMIT} are kept |
 * | `["lock"]` | the {@link LockRecord} of the run holding the data directory |
 * | `["device", "identifier"]` | the `deviceIdentifier` sent to the identity server |
 * | `["sync", "lastFullRead"]` | users and groups of the last successful full read (health gate) |
 * | `["guard", "sent"]`, `["guard", "chunk", <generation>, <n>]` | what the last successful sync sent: each group's externalId, name and hashed member externalIds, binary, in pieces of at most 60,000 bytes (the deletion guard's baseline, see `sent.ts`) |
 *
 * Always {@link StateStore.close} the store (commands use `withState` in `src/commands/context.ts`).
 *
 * Deno KV is SQLite underneath: two processes writing at the same instant make one of them fail
 * with "database is locked" (SQLite's busy error, which its busy timeout does not cover when a
 * read turns into a write). Every operation here retries that for up to
 * {@link BUSY_RETRY_MS} milliseconds (each operation is an atomic check-and-set or an idempotent
 * write, so a retry is safe), then throws a {@link StateBusyError} (exit 12). A damaged file
 * ("database disk image is malformed", "file is not a database") throws a
 * {@link StateDamagedError} (exit 13) naming the file.
 * @module
 */

import { LockedError, StateBusyError, StateDamagedError } from "../errors.ts";
import type { SentSnapshot } from "../engine/guard.ts";
import { decodeSnapshot, encodeSnapshot } from "./sent.ts";

/** How long a busy state store is retried before giving up: 5 seconds. */
export const BUSY_RETRY_MS = 5000;

/** Whether an error from Deno KV is SQLite's busy error. */
export function isBusyError(error: unknown): boolean {
  return error instanceof Error &&
    /database is locked|SQLITE_BUSY|database is busy/i.test(error.message);
}

/** Whether an error from Deno KV says the database file is damaged. */
export function isDamageError(error: unknown): boolean {
  return error instanceof Error &&
    /malformed|not a database|SQLITE_CORRUPT|SQLITE_NOTADB|file is encrypted|disk image/i.test(
      error.message,
    );
}

/** The error for a damaged state store at `path`. */
export function stateDamagedError(path: string, cause: unknown): StateDamagedError {
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new StateDamagedError(`The state store ${path} is damaged: ${detail}`, {
    hint:
      `Move it aside (mv ${path} ${path}.damaged, and any ${path}-wal and ${path}-shm next to it), then run roster login and set the secrets again (roster config set <secret setting>). config.json is a separate file and keeps every setting; the next sync reads the whole directory and sends it again`,
    cause,
    details: { path },
  });
}

/** The error for a state store that stayed busy. */
function stateBusyError(path: string, cause: unknown): StateBusyError {
  return new StateBusyError(
    `The state store ${path} stayed busy for ${
      BUSY_RETRY_MS / 1000
    } seconds: another roster process keeps writing it`,
    {
      hint:
        "Another roster run is using this data directory (roster status shows the lock); wait for it to finish and try again",
      cause,
      details: { path },
    },
  );
}

/** How many run records are kept. */
export const HISTORY_LIMIT = 200;

/** Object counts of a run: what was read from the directory, or sent to Bitwarden. */
export interface Counts {
  users: number;
  groups: number;
}

/** How a run ended. */
export type RunOutcome = "ok" | "error" | "refused" | "no-change";

/** One run of a command, kept in the history. */
export interface RunRecord {
  /** Unique id (UUID). */
  id: string;
  /** The command, e.g. `test` or `sync`. */
  command: string;
  /** ISO start time. */
  startedAt: string;
  /** ISO end time. */
  endedAt: string;
  outcome: RunOutcome;
  /** The exit status of the run. */
  exitCode: number;
  /** Users and groups read from the directory. */
  read: Counts;
  /** Users and groups sent to Bitwarden (0 for `test`). */
  sent: Counts;
  /** The Bitwarden API URL, when the run talked to Bitwarden. */
  server?: string;
  /** The error message, when the run failed. */
  error?: string;
}

/** The Bitwarden organization API key and the current access token. */
export interface AuthRecord {
  /** `organization.<uuid>`. */
  clientId: string;
  clientSecret: string;
  organizationId: string;
  accessToken?: string;
  /** ISO expiry of the access token. */
  accessTokenExpiresAt?: string;
}

/** Who runs: written into the lock so that a refused run can say who holds it. */
export interface LockOwner {
  pid: number;
  host: string;
  /** The command holding the lock, e.g. `sync`. */
  command: string;
}

/** The lock on a data directory. */
export interface LockRecord extends LockOwner {
  /** Identifies this holder for renew and release. */
  token: string;
  /** ISO time the lock was taken. */
  acquiredAt: string;
  /** ISO time after which another run may take the lock over. */
  expiresAt: string;
}

/** The result of {@link StateStore.acquireLock}. */
export type LockResult =
  | { acquired: true; lock: LockRecord; tookOverFrom?: LockRecord }
  | { acquired: false; holder: LockRecord };

/** The last sync times. */
export interface SyncTimes {
  users: Date | undefined;
  groups: Date | undefined;
}

/** Options of {@link openStateStore}. */
export interface StateStoreOptions {
  /**
   * What to do when the file is damaged: `throw` a {@link StateDamagedError}, or `empty`: open
   * an empty in-memory store instead ({@link StateStore.damaged} says why), for the commands that
   * can work without state (`status`, `config`, `test`). Such a store refuses to store secrets
   * and the login, and forgets everything else when closed. @default "throw"
   */
  ifDamaged?: "throw" | "empty";
  /** The file, for messages. @default "state.kv" */
  path?: string;
  /** Waits between busy retries (tests inject one). @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /** The clock. @default () => new Date() */
  now?: () => Date;
  /** Run records kept. @default HISTORY_LIMIT */
  historyLimit?: number;
}

const LOCK_KEY = ["lock"] as const;
const SENT_KEY = ["guard", "sent"] as const;
const CHUNK_PREFIX = ["guard", "chunk"] as const;
/** Bytes per stored piece of the sent record (Deno KV values are limited to 64 KiB). */
const SNAPSHOT_CHUNK_BYTES = 60_000;
const DEVICE_KEY = ["device", "identifier"] as const;
const FULL_READ_KEY = ["sync", "lastFullRead"] as const;
const SYNC_KEYS = {
  users: ["sync", "lastUserSync"],
  groups: ["sync", "lastGroupSync"],
  hash: ["sync", "hash"],
  providerState: ["sync", "providerState"],
  orgFingerprint: ["sync", "orgFingerprint"],
} as const;

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    Object.values(value).every((entry) => typeof entry === "string");
}

function isLockRecord(value: unknown): value is LockRecord {
  if (typeof value !== "object" || value === null) return false;
  return "token" in value && typeof value.token === "string" && "expiresAt" in value &&
    typeof value.expiresAt === "string";
}

function isRunRecord(value: unknown): value is RunRecord {
  return typeof value === "object" && value !== null && "id" in value && "command" in value &&
    "startedAt" in value && "outcome" in value;
}

function isAuthRecord(value: unknown): value is AuthRecord {
  return typeof value === "object" && value !== null && "clientId" in value &&
    typeof value.clientId === "string" && "organizationId" in value;
}

/** Roster's state in Deno KV. Open with {@link openStateStore}; close when done. */
export class StateStore {
  readonly #db: Deno.Kv;
  readonly #now: () => Date;
  readonly #historyLimit: number;
  readonly #sleep: (ms: number) => Promise<void>;
  /** The state file. */
  readonly path: string;
  /** Set when the file is damaged and this is an empty stand-in (see `ifDamaged`). */
  readonly damaged: StateDamagedError | undefined;

  /** Use {@link openStateStore}. */
  constructor(
    kv: Deno.Kv,
    options: StateStoreOptions & { damaged?: StateDamagedError } = {},
  ) {
    this.#db = kv;
    this.#now = options.now ?? (() => new Date());
    this.#historyLimit = options.historyLimit ?? HISTORY_LIMIT;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.path = options.path ?? "state.kv";
    this.damaged = options.damaged;
  }

  /**
   * Runs `fn` against the database: retries SQLite's busy error for up to
   * {@link BUSY_RETRY_MS} (then {@link StateBusyError}), and turns damage into
   * {@link StateDamagedError}.
   */
  async #run<T>(fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
    let waited = 0;
    for (let attempt = 0;; attempt++) {
      try {
        return await fn(this.#db);
      } catch (error) {
        if (isDamageError(error)) throw stateDamagedError(this.path, error);
        if (!isBusyError(error)) throw error;
        if (waited >= BUSY_RETRY_MS) throw stateBusyError(this.path, error);
        const delay = Math.min(200, 5 * 2 ** attempt) + Math.floor(Math.random() * 10);
        await this.#sleep(delay);
        waited += delay;
      }
    }
  }

  #refuseWhenDamaged(what: string): void {
    if (this.damaged === undefined) return;
    throw new StateDamagedError(`Cannot store ${what}: ${this.damaged.message}`, {
      ...(this.damaged.hint === undefined ? {} : { hint: this.damaged.hint }),
      cause: this.damaged,
      ...(this.damaged.details === undefined ? {} : { details: this.damaged.details }),
    });
  }

  /** Closes the database. */
  close(): void {
    this.#db.close();
  }

  /** `using store = …` closes the store at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  // --- secrets ---

  /** Reads a secret by its dot path. */
  async getSecret(key: string): Promise<string | undefined> {
    return await this.#run(async (kv): Promise<string | undefined> => {
      const entry = await kv.get<unknown>(["secret", key]);
      return typeof entry.value === "string" ? entry.value : undefined;
    });
  }

  /** Stores a secret by its dot path. */
  async setSecret(key: string, value: string): Promise<void> {
    this.#refuseWhenDamaged(`the secret ${key}`);
    return await this.#run(async (kv): Promise<void> => {
      await kv.set(["secret", key], value);
    });
  }

  /** Removes a secret. */
  async deleteSecret(key: string): Promise<void> {
    this.#refuseWhenDamaged(`the removal of the secret ${key}`);
    return await this.#run(async (kv): Promise<void> => {
      await kv.delete(["secret", key]);
    });
  }

  // --- sync state ---

  /** The last successful user and group sync times. */
  async getSyncTimes(): Promise<SyncTimes> {
    return await this.#run(async (kv): Promise<SyncTimes> => {
      const [users, groups] = await kv.getMany<unknown[]>([SYNC_KEYS.users, SYNC_KEYS.groups]);
      const date = (value: unknown) => typeof value === "string" ? new Date(value) : undefined;
      return { users: date(users?.value), groups: date(groups?.value) };
    });
  }

  /** Records sync times; `undefined` leaves a time as it is. */
  async setSyncTimes(times: { users?: Date; groups?: Date }): Promise<void> {
    return await this.#run(async (kv): Promise<void> => {
      const atomic = kv.atomic();
      if (times.users !== undefined) atomic.set(SYNC_KEYS.users, times.users.toISOString());
      if (times.groups !== undefined) atomic.set(SYNC_KEYS.groups, times.groups.toISOString());
      await atomic.commit();
    });
  }

  /** The hash of the last import sent. */
  async getLastSyncHash(): Promise<string | undefined> {
    return await this.#run(async (kv): Promise<string | undefined> => {
      const entry = await kv.get<unknown>(SYNC_KEYS.hash);
      return typeof entry.value === "string" ? entry.value : undefined;
    });
  }

  /** Stores the hash of the import just sent. */
  async setLastSyncHash(hash: string): Promise<void> {
    return await this.#run(async (kv): Promise<void> => {
      await kv.set(SYNC_KEYS.hash, hash);
    });
  }

  /** Provider state kept between runs (e.g. delta links). */
  async getProviderState(): Promise<Record<string, string> | undefined> {
    return await this.#run(async (kv): Promise<Record<string, string> | undefined> => {
      const entry = await kv.get<unknown>(SYNC_KEYS.providerState);
      return isStringRecord(entry.value) ? entry.value : undefined;
    });
  }

  /** Stores provider state; `undefined` removes it. */
  async setProviderState(state: Record<string, string> | undefined): Promise<void> {
    return await this.#run(async (kv): Promise<void> => {
      if (state === undefined) await kv.delete(SYNC_KEYS.providerState);
      else await kv.set(SYNC_KEYS.providerState, state);
    });
  }

  /**
   * Clears the sync times and provider state (not the hash): what changing the directory type
   * needs, so that the next read is full.
   */
  async clearSyncTimes(): Promise<void> {
    return await this.#run(async (kv): Promise<void> => {
      await kv.atomic()
        .delete(SYNC_KEYS.users)
        .delete(SYNC_KEYS.groups)
        .delete(SYNC_KEYS.providerState)
        .delete(SYNC_KEYS.orgFingerprint)
        .commit();
    });
  }

  /**
   * The fingerprint of the organization's linked members after the last successful sync (see
   * `src/sync/drift.ts`): lets an incremental run that finds no directory change notice that
   * the organization was changed by hand.
   */
  async getOrgFingerprint(): Promise<string | undefined> {
    return await this.#run(async (kv): Promise<string | undefined> => {
      const entry = await kv.get<unknown>(SYNC_KEYS.orgFingerprint);
      return typeof entry.value === "string" ? entry.value : undefined;
    });
  }

  /** Stores the organization's fingerprint after a successful sync. */
  async setOrgFingerprint(fingerprint: string): Promise<void> {
    return await this.#run(async (kv): Promise<void> => {
      await kv.set(SYNC_KEYS.orgFingerprint, fingerprint);
    });
  }

  /**
   * Clears the sync cache: sync times, the last hash and provider state (deltas). Secrets,
   * auth, history and the lock are kept.
   */
  async clearSyncCache(): Promise<void> {
    return await this.#run(async (kv): Promise<void> => {
      await kv.atomic()
        .delete(SYNC_KEYS.users)
        .delete(SYNC_KEYS.groups)
        .delete(SYNC_KEYS.hash)
        .delete(SYNC_KEYS.providerState)
        .commit();
    });
  }

  // --- Bitwarden auth ---

  /** The stored Bitwarden API key and token, if logged in. */
  async getAuth(): Promise<AuthRecord | undefined> {
    return await this.#run(async (kv): Promise<AuthRecord | undefined> => {
      const entry = await kv.get<unknown>(["auth"]);
      return isAuthRecord(entry.value) ? entry.value : undefined;
    });
  }

  /** Stores the Bitwarden API key and token. */
  async setAuth(auth: AuthRecord): Promise<void> {
    this.#refuseWhenDamaged("the login");
    return await this.#run(async (kv): Promise<void> => {
      await kv.set(["auth"], auth);
    });
  }

  /** Forgets the Bitwarden API key and token. */
  async deleteAuth(): Promise<void> {
    return await this.#run(async (kv): Promise<void> => {
      await kv.delete(["auth"]);
    });
  }

  // --- history ---

  /** Appends a run record, dropping the oldest beyond the history limit. */
  async addRun(record: RunRecord): Promise<void> {
    return await this.#run(async (kv): Promise<void> => {
      await kv.set(["runs", Date.parse(record.startedAt), record.id], record);
      let kept = 0;
      for await (const entry of kv.list({ prefix: ["runs"] }, { reverse: true })) {
        kept++;
        if (kept > this.#historyLimit) await kv.delete(entry.key);
      }
    });
  }

  /** The most recent run records, newest first. */
  async listRuns(limit: number = HISTORY_LIMIT): Promise<RunRecord[]> {
    return await this.#run(async (kv): Promise<RunRecord[]> => {
      const runs: RunRecord[] = [];
      if (limit <= 0) return runs;
      const entries = kv.list<unknown>({ prefix: ["runs"] }, { reverse: true, limit });
      for await (const entry of entries) {
        if (isRunRecord(entry.value)) runs.push(entry.value);
      }
      return runs;
    });
  }

  // --- sync bookkeeping (added for `sync`, `plan` and `login`) ---

  /**
   * The `deviceIdentifier` sent with token requests: a random UUID created on first use and
   * kept (also across `logout`), so that Vaultwarden sees one device per installation.
   */
  async deviceIdentifier(): Promise<string> {
    return await this.#run(async (kv): Promise<string> => {
      const entry = await kv.get<unknown>(DEVICE_KEY);
      if (typeof entry.value === "string") return entry.value;
      const id = crypto.randomUUID();
      const result = await kv.atomic().check(entry).set(DEVICE_KEY, id).commit();
      return result.ok ? id : await this.deviceIdentifier();
    });
  }

  /** Counts of the last successful full directory read: the source-health gate's baseline. */
  async getLastFullRead(): Promise<(Counts & { at: string }) | undefined> {
    return await this.#run(async (kv): Promise<(Counts & { at: string }) | undefined> => {
      const entry = await kv.get<unknown>(FULL_READ_KEY);
      const value = entry.value;
      if (
        typeof value === "object" && value !== null && "users" in value &&
        typeof value.users === "number" && "groups" in value && typeof value.groups === "number" &&
        "at" in value && typeof value.at === "string"
      ) {
        return { users: value.users, groups: value.groups, at: value.at };
      }
      return undefined;
    });
  }

  /** Records the counts of a successful full directory read (kept by `clear-cache`). */
  async setLastFullRead(counts: Counts & { at: string }): Promise<void> {
    return await this.#run(async (kv): Promise<void> => {
      await kv.set(FULL_READ_KEY, {
        users: counts.users,
        groups: counts.groups,
        at: counts.at,
      });
    });
  }

  // --- the deletion guard's record of what was sent ---

  /** Whether a record of what the last successful sync sent exists (cheap: reads no pieces). */
  async hasSentSnapshot(): Promise<boolean> {
    return await this.#run(async (kv) => (await kv.get<unknown>(SENT_KEY)).value !== null);
  }

  /** What the last successful sync sent (groups and hashed members), or null before the first. */
  async getSentSnapshot(): Promise<SentSnapshot | null> {
    return await this.#run(async (kv): Promise<SentSnapshot | null> => {
      const head = await kv.get<unknown>(SENT_KEY);
      const value = head.value;
      if (
        typeof value !== "object" || value === null || !("generation" in value) ||
        typeof value.generation !== "string" || !("chunks" in value) ||
        typeof value.chunks !== "number" || !("bytes" in value) || typeof value.bytes !== "number"
      ) {
        return null;
      }
      const bytes = new Uint8Array(value.bytes);
      let offset = 0;
      for await (
        const entry of kv.list<unknown>({ prefix: [...CHUNK_PREFIX, value.generation] })
      ) {
        if (!(entry.value instanceof Uint8Array)) return null;
        if (offset + entry.value.length > bytes.length) return null;
        bytes.set(entry.value, offset);
        offset += entry.value.length;
      }
      if (offset !== bytes.length) return null;
      return decodeSnapshot(bytes);
    });
  }

  /**
   * Replaces the record of what was sent: writes the new pieces under a new generation, then
   * switches to it in one atomic write and deletes the old pieces, so a run killed halfway leaves
   * the previous record intact.
   */
  async setSentSnapshot(snapshot: SentSnapshot): Promise<void> {
    const bytes = encodeSnapshot(snapshot);
    const generation = crypto.randomUUID();
    const chunks: Uint8Array[] = [];
    for (let offset = 0; offset < bytes.length; offset += SNAPSHOT_CHUNK_BYTES) {
      chunks.push(bytes.subarray(offset, offset + SNAPSHOT_CHUNK_BYTES));
    }
    await this.#run(async (kv) => {
      for (let first = 0; first < chunks.length; first += 10) {
        const atomic = kv.atomic();
        chunks.slice(first, first + 10).forEach((chunk, i) =>
          atomic.set([...CHUNK_PREFIX, generation, first + i], chunk)
        );
        await atomic.commit();
      }
    });
    await this.#run(async (kv) => {
      await kv.set(SENT_KEY, { generation, chunks: chunks.length, bytes: bytes.length });
    });
    await this.#run(async (kv) => {
      for await (const entry of kv.list({ prefix: CHUNK_PREFIX })) {
        if (entry.key[2] !== generation) await kv.delete(entry.key);
      }
    });
  }

  // --- lock ---

  /** The current lock holder, expired or not. */
  async getLock(): Promise<LockRecord | undefined> {
    return await this.#run(async (kv): Promise<LockRecord | undefined> => {
      const entry = await kv.get<unknown>(LOCK_KEY);
      return isLockRecord(entry.value) ? entry.value : undefined;
    });
  }

  /**
   * Takes the lock for `ttlMs`, atomically. When another run holds an unexpired lock, returns
   * its holder; an expired lock is taken over (and reported in `tookOverFrom`).
   */
  async acquireLock(owner: LockOwner, ttlMs: number): Promise<LockResult> {
    return await this.#run(async (kv): Promise<LockResult> => {
      for (let attempt = 0; attempt < 5; attempt++) {
        const entry = await kv.get<unknown>(LOCK_KEY);
        const now = this.#now();
        const current = isLockRecord(entry.value) ? entry.value : undefined;
        if (current !== undefined && Date.parse(current.expiresAt) > now.getTime()) {
          return { acquired: false, holder: current };
        }
        const lock: LockRecord = {
          token: crypto.randomUUID(),
          pid: owner.pid,
          host: owner.host,
          command: owner.command,
          acquiredAt: now.toISOString(),
          expiresAt: new Date(now.getTime() + ttlMs).toISOString(),
        };
        const result = await kv.atomic().check(entry).set(LOCK_KEY, lock).commit();
        if (result.ok) {
          return current === undefined
            ? { acquired: true, lock }
            : { acquired: true, lock, tookOverFrom: current };
        }
      }
      const holder = await this.getLock();
      if (holder !== undefined) return { acquired: false, holder };
      throw new LockedError("Cannot take the lock on the data directory: it keeps changing", {
        hint: "Another roster run is starting; try again",
      });
    });
  }

  /**
   * Extends a held lock by `ttlMs` from now. Throws a {@link LockedError} when the lock was
   * lost (it expired and another run took it over).
   */
  async renewLock(token: string, ttlMs: number): Promise<LockRecord> {
    return await this.#run(async (kv): Promise<LockRecord> => {
      const entry = await kv.get<unknown>(LOCK_KEY);
      const current = isLockRecord(entry.value) ? entry.value : undefined;
      if (current === undefined || current.token !== token) {
        throw new LockedError("Lost the lock on the data directory: another run took it over", {
          hint: "Make sure only one roster run uses a data directory at a time",
          details: current === undefined ? {} : { holder: { ...current, token: undefined } },
        });
      }
      const renewed: LockRecord = {
        ...current,
        expiresAt: new Date(this.#now().getTime() + ttlMs).toISOString(),
      };
      const result = await kv.atomic().check(entry).set(LOCK_KEY, renewed).commit();
      if (!result.ok) return await this.renewLock(token, ttlMs);
      return renewed;
    });
  }

  /** Releases the lock if `token` still holds it; returns whether it did. */
  async releaseLock(token: string): Promise<boolean> {
    return await this.#run(async (kv): Promise<boolean> => {
      const entry = await kv.get<unknown>(LOCK_KEY);
      if (!isLockRecord(entry.value) || entry.value.token !== token) return false;
      const result = await kv.atomic().check(entry).delete(LOCK_KEY).commit();
      return result.ok;
    });
  }
}

/**
 * Opens the state store of a data directory (which must exist), and restricts its files to
 * mode 0600.
 */
export async function openStateStore(
  path: string,
  options: StateStoreOptions = {},
): Promise<StateStore> {
  const named = { ...options, path: options.path ?? path };
  let kv: Deno.Kv;
  try {
    kv = await openWithRetry(path, named);
  } catch (error) {
    if (!isDamageError(error)) throw error;
    const damaged = stateDamagedError(named.path, error);
    if (options.ifDamaged !== "empty") throw damaged;
    return new StateStore(await Deno.openKv(":memory:"), { ...named, damaged });
  }
  if (Deno.build.os !== "windows") {
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      try {
        await Deno.chmod(file, 0o600);
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) {
          kv.close();
          throw error;
        }
      }
    }
  }
  const store = new StateStore(kv, named);
  // Damage deep in the file shows only when a page is read: touch every table once.
  try {
    await store.getLock();
    await store.listRuns(1);
  } catch (error) {
    if (!(error instanceof StateDamagedError)) {
      store.close();
      throw error;
    }
    store.close();
    if (options.ifDamaged !== "empty") throw error;
    return new StateStore(await Deno.openKv(":memory:"), { ...named, damaged: error });
  }
  return store;
}

async function openWithRetry(path: string, options: StateStoreOptions): Promise<Deno.Kv> {
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  let waited = 0;
  for (let attempt = 0;; attempt++) {
    try {
      return await Deno.openKv(path);
    } catch (error) {
      if (!isBusyError(error)) throw error;
      if (waited >= BUSY_RETRY_MS) throw stateBusyError(options.path ?? path, error);
      const delay = Math.min(200, 5 * 2 ** attempt);
      await sleep(delay);
      waited += delay;
    }
  }
}

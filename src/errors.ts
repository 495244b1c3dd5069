/**
 * Typed errors. Every error roster raises on purpose is a {@link RosterError} with a stable
 * `code` and the process exit status it maps to. Only `main.ts` turns them into an exit.
 *
 * Messages follow the house style: sentence case, no trailing period, what failed first, then a
 * colon and the detail. `hint` says what the user should do about it.
 * @module
 */

/** Exit statuses, documented in `roster --help` and the README. */
export const ExitCode = {
  /** Success: synced, applied, or nothing to do. */
  Ok: 0,
  /** An unexpected error (a bug): please report it. */
  Internal: 1,
  /** Bad usage or configuration. */
  Usage: 2,
  /** `plan --detailed-exitcode`: changes are pending. */
  ChangesPending: 3,
  /** The deletion guard refused a sync that would remove too many members. */
  RemovalGuard: 4,
  /** The directory read was incomplete, so nothing was sent. */
  SourceIncomplete: 5,
  /** The directory could not be read (connection, credentials, TLS, API error). */
  DirectoryUnavailable: 6,
  /** The directory returned data roster cannot sync (duplicate emails, malformed export). */
  DirectoryData: 7,
  /** Bitwarden refused the API key or token (not logged in, bad key, missing scope). */
  BitwardenAuth: 8,
  /** Bitwarden rejected the import (validation, plan features). */
  BitwardenRejected: 9,
  /** The organization has no seats left for the new members. */
  SeatLimit: 10,
  /** Bitwarden could not be reached or kept failing after retries. */
  BitwardenUnavailable: 11,
  /** Another roster run holds the lock on this data directory, or keeps its state store busy. */
  Locked: 12,
  /** The state store (`state.kv`) is damaged: move it aside, log in and set the secrets again. */
  StateDamaged: 13,
  /** A run was stopped by SIGINT or SIGTERM (128 + SIGINT's number, as shells report it). */
  Interrupted: 130,
} as const;

/** One of the {@link ExitCode} values. */
export type ExitCodeValue = typeof ExitCode[keyof typeof ExitCode];

/** Options shared by every {@link RosterError}. */
export interface RosterErrorOptions {
  /** What the user can do to fix it. */
  hint?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Structured detail for `--output json` (must be JSON-serialisable). */
  details?: Record<string, unknown>;
}

/** Base class of every error roster raises on purpose. */
export class RosterError extends Error {
  /** Stable machine-readable code, e.g. `config_invalid`. */
  readonly code: string;
  /** Process exit status for this error. */
  readonly exitCode: ExitCodeValue;
  /** What the user can do to fix it. */
  readonly hint: string | undefined;
  /** Structured detail for JSON output. */
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: string,
    exitCode: ExitCodeValue,
    message: string,
    options: RosterErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** Bad command-line usage. */
export class UsageError extends RosterError {
  constructor(message: string, options: RosterErrorOptions = {}) {
    super("usage", ExitCode.Usage, message, options);
  }
}

/** Invalid or incomplete configuration. Nothing was saved or sent. */
export class ConfigError extends RosterError {
  constructor(message: string, options: RosterErrorOptions = {}) {
    super("config_invalid", ExitCode.Usage, message, options);
  }
}

/** The deletion guard refused the sync. */
export class RemovalGuardError extends RosterError {
  constructor(message: string, options: RosterErrorOptions = {}) {
    super("removal_guard", ExitCode.RemovalGuard, message, options);
  }
}

/** The directory read was partial; no change may be based on it. */
export class SourceIncompleteError extends RosterError {
  constructor(message: string, options: RosterErrorOptions = {}) {
    super("source_incomplete", ExitCode.SourceIncomplete, message, options);
  }
}

/** The directory could not be read at all. */
export class DirectoryError extends RosterError {
  constructor(message: string, options: RosterErrorOptions & { code?: string } = {}) {
    super(options.code ?? "directory_unavailable", ExitCode.DirectoryUnavailable, message, options);
  }
}

/** The directory returned data that cannot be synced as it is. */
export class DirectoryDataError extends RosterError {
  constructor(message: string, options: RosterErrorOptions & { code?: string } = {}) {
    super(options.code ?? "directory_data", ExitCode.DirectoryData, message, options);
  }
}

/** Bitwarden authentication failed, or roster is not logged in. */
export class BitwardenAuthError extends RosterError {
  constructor(message: string, options: RosterErrorOptions & { code?: string } = {}) {
    super(options.code ?? "bitwarden_auth", ExitCode.BitwardenAuth, message, options);
  }
}

/** Bitwarden answered, and refused the request. */
export class BitwardenRejectedError extends RosterError {
  /** HTTP status of the refusal. */
  readonly status: number;
  constructor(message: string, status: number, options: RosterErrorOptions = {}) {
    super("bitwarden_rejected", ExitCode.BitwardenRejected, message, options);
    this.status = status;
  }
}

/** The organization is out of seats for the members the sync would invite. */
export class SeatLimitError extends RosterError {
  constructor(message: string, options: RosterErrorOptions = {}) {
    super("seat_limit", ExitCode.SeatLimit, message, options);
  }
}

/** Bitwarden could not be reached, or kept failing after bounded retries. */
export class BitwardenUnavailableError extends RosterError {
  constructor(message: string, options: RosterErrorOptions = {}) {
    super("bitwarden_unavailable", ExitCode.BitwardenUnavailable, message, options);
  }
}

/** Another run holds the lock on the data directory. */
export class LockedError extends RosterError {
  constructor(message: string, options: RosterErrorOptions = {}) {
    super("locked", ExitCode.Locked, message, options);
  }
}

/**
 * The state store stayed busy (SQLite's "database is locked") through every retry: another
 * roster process keeps writing it. Exit 12, as for a held lock.
 */
export class StateBusyError extends RosterError {
  constructor(message: string, options: RosterErrorOptions = {}) {
    super("state_busy", ExitCode.Locked, message, options);
  }
}

/**
 * The state store (`<dataDir>/state.kv`) cannot be read: truncated, overwritten, or not a
 * database. `config.json` is a separate file and is not affected.
 */
export class StateDamagedError extends RosterError {
  constructor(message: string, options: RosterErrorOptions = {}) {
    super("state_damaged", ExitCode.StateDamaged, message, options);
  }
}

/** A run stopped by a signal: recorded in the history, its lock released. */
export class InterruptedError extends RosterError {
  constructor(message: string, options: RosterErrorOptions = {}) {
    super("interrupted", ExitCode.Interrupted, message, options);
  }
}

/** Returns the message of any thrown value. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === "string") return error;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
}

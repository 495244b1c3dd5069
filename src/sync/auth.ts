/**
 * The Bitwarden login of a data directory: where the organization API key comes from
 * (`roster login`), where it is kept (the state store's auth record), and the client a command
 * builds from it.
 *
 * The client secret is never a command-line value (it would show in `ps` and the shell
 * history): it comes from `--client-secret-file`, `ROSTER_CLIENT_SECRET`, bwdc's
 * `BW_CLIENTSECRET`, or stdin when stdin is not a terminal. It is never printed or logged.
 * @module
 */

import { BitwardenClient, type ServerUrls } from "../bitwarden/client.ts";
import { organizationIdOf } from "../bitwarden/auth.ts";
import { resolveServerUrls } from "../bitwarden/urls.ts";
import type { Config } from "../config/schema.ts";
import { BitwardenAuthError, errorMessage, UsageError } from "../errors.ts";
import type { Logger } from "../output/log.ts";
import type { ProgressFactory } from "../output/progress.ts";
import type { Io } from "../output/render.ts";
import type { AuthRecord, StateStore } from "../state/store.ts";

/** Where each part of the API key came from, for the login message. */
export interface ApiKeySource {
  clientId: string;
  clientSecret: string;
  /** e.g. `--client-id`, `ROSTER_CLIENT_ID`. */
  clientIdFrom: string;
  /** e.g. `--client-secret-file`, `ROSTER_CLIENT_SECRET`, `stdin`. */
  clientSecretFrom: string;
}

/** The login options that name the key. */
export interface ApiKeyOptions {
  /** `--client-id`. */
  clientId?: string | undefined;
  /** `--client-secret-file`. */
  clientSecretFile?: string | undefined;
}

const SECRET_HINT =
  'Give the secret with ROSTER_CLIENT_SECRET, --client-secret-file FILE, or on stdin (echo "$SECRET" | roster login --client-id organization.<id>); it is never taken as a command-line value';

function nonBlank(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

/**
 * Finds the organization API key: the client id from `--client-id`, `ROSTER_CLIENT_ID` or
 * `BW_CLIENTID`; the secret from `--client-secret-file`, `ROSTER_CLIENT_SECRET`,
 * `BW_CLIENTSECRET`, or stdin when it is not a terminal (first line, trimmed).
 *
 * @throws {UsageError} when a part is missing or the secret file cannot be read.
 */
export async function resolveApiKey(io: Io, options: ApiKeyOptions): Promise<ApiKeySource> {
  let clientId: string | undefined;
  let clientIdFrom = "";
  for (
    const [value, from] of [
      [options.clientId, "--client-id"],
      [io.env("ROSTER_CLIENT_ID"), "ROSTER_CLIENT_ID"],
      [io.env("BW_CLIENTID"), "BW_CLIENTID"],
    ] as const
  ) {
    const found = nonBlank(value);
    if (found !== undefined) {
      clientId = found;
      clientIdFrom = from;
      break;
    }
  }
  if (clientId === undefined) {
    throw new UsageError("Missing the Bitwarden client id", {
      hint:
        "Give the organization API key's client_id with --client-id organization.<id> (or ROSTER_CLIENT_ID); find it in the Admin Console → Settings → Organization info → View API key",
    });
  }

  let clientSecret: string | undefined;
  let clientSecretFrom = "";
  if (options.clientSecretFile !== undefined) {
    const path = options.clientSecretFile;
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch (error) {
      throw new UsageError(`Cannot read the client secret file "${path}": ${errorMessage(error)}`, {
        hint: "Give a readable file that holds the organization API key's client_secret",
        cause: error,
      });
    }
    clientSecret = nonBlank(text.split(/\r?\n/)[0]);
    clientSecretFrom = "--client-secret-file";
    if (clientSecret === undefined) {
      throw new UsageError(`Invalid client secret file "${path}": its first line is empty`, {
        hint: "Put the organization API key's client_secret on the first line of the file",
      });
    }
  } else {
    for (const name of ["ROSTER_CLIENT_SECRET", "BW_CLIENTSECRET"]) {
      const found = nonBlank(io.env(name));
      if (found !== undefined) {
        clientSecret = found;
        clientSecretFrom = name;
        break;
      }
    }
    if (clientSecret === undefined && !io.stdinIsTerminal()) {
      clientSecret = nonBlank((await io.readStdin()).split(/\r?\n/)[0]);
      clientSecretFrom = "stdin";
    }
  }
  if (clientSecret === undefined) {
    throw new UsageError("Missing the Bitwarden client secret", { hint: SECRET_HINT });
  }
  return { clientId, clientSecret, clientIdFrom, clientSecretFrom };
}

/** The auth record roster stores, with the server the key was checked against. */
export interface StoredAuth extends AuthRecord {
  /** The API URL the key was verified against at login. */
  apiUrl?: string;
  /** ISO time of the login. */
  loggedInAt?: string;
}

/** The error of a command that needs a login when there is none. */
export function notLoggedIn(): BitwardenAuthError {
  return new BitwardenAuthError("Not logged in to Bitwarden: no organization API key is stored", {
    code: "not_logged_in",
    hint:
      "Run roster login --client-id organization.<id> with the secret in ROSTER_CLIENT_SECRET, --client-secret-file FILE or on stdin",
  });
}

/**
 * Returns the stored login.
 * @throws {BitwardenAuthError} `not_logged_in` when there is none.
 */
export async function requireAuth(store: StateStore): Promise<StoredAuth> {
  const auth = await store.getAuth();
  if (auth === undefined) throw notLoggedIn();
  const stored: StoredAuth = { ...auth };
  if ("apiUrl" in auth && typeof auth.apiUrl === "string") stored.apiUrl = auth.apiUrl;
  return stored;
}

/** What a command needs to talk to Bitwarden. */
export interface ClientContext {
  /** Where the client's progress and retry notices go. */
  log: Pick<Logger, "debug" | "info" | "warn"> & { progress?: ProgressFactory | undefined };
  /** Progress of long reads on stderr; default: the logger's (`--progress`). */
  progress?: Pick<ProgressFactory, "organization">;
}

/** Options of {@link createClient}. */
export interface CreateClientOptions {
  /** The API key; the client id decides the organization. */
  apiKey: { clientId: string; clientSecret: string };
  /** The state store, for the device identifier. */
  store: StateStore;
}

/**
 * Builds a {@link BitwardenClient} for the configured server (`server.*`) and `apiKey`, with
 * the data directory's device identifier; its progress and retry notices go to the log.
 *
 * @throws {ConfigError} when the server URLs or the client id are invalid.
 */
export async function createClient(
  context: ClientContext & { config: Config },
  options: CreateClientOptions,
): Promise<BitwardenClient> {
  const urls: ServerUrls = resolveServerUrls(context.config.server);
  organizationIdOf(options.apiKey.clientId);
  const log = context.log;
  const progress = context.progress ?? log.progress;
  return new BitwardenClient({
    urls,
    apiKey: options.apiKey,
    deviceIdentifier: await options.store.deviceIdentifier(),
    ...(context.config.server.caFile === undefined ? {} : { caFile: context.config.server.caFile }),
    ...(context.config.server.maxRequestsPerMinute === undefined ? {} : {
      maxRequestsPerMinute: context.config.server.maxRequestsPerMinute === 0
        ? null
        : context.config.server.maxRequestsPerMinute,
    }),
    ...(progress === undefined ? {} : { onProgress: progress.organization() }),
    log: (level, message) => log[level](message),
  });
}

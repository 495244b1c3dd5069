/**
 * The service-account credential of the Google Workspace source. Pure: no I/O.
 *
 * The secret setting `directory.google.privateKey` holds either the PEM private key alone, or the
 * whole JSON key file the Google Cloud console downloads (`roster config set
 * directory.google.privateKey --secret-file key.json`), from which roster takes `client_email`
 * and `private_key`. Google issues unencrypted PKCS#8 keys (`-----BEGIN PRIVATE KEY-----`).
 * A PEM pasted from the JSON with literal `\n` sequences (as bwdc's `GOOGLE_PRIVATE_KEY`
 * environment variable is often written) is accepted too.
 * @module
 */

import { ConfigError } from "../../errors.ts";
import { isRecord } from "../../guards.ts";

/** The credential roster signs its token requests with. */
export interface ServiceAccountKey {
  /** The service account's email: the JWT's `iss`. */
  clientEmail: string;
  /** The PKCS#8 PEM private key, with real newlines. */
  privateKey: string;
  /** `private_key_id` from a JSON key file (the JWT header's `kid`), or null. */
  privateKeyId: string | null;
  /**
   * `client_id` from a JSON key file: the OAuth client id domain-wide delegation is granted to
   * in the Admin console; null with a bare PEM.
   */
  clientId: string | null;
}

/** Options of {@link parseServiceAccountKey}. */
export interface ServiceAccountKeyOptions {
  /** `directory.google.clientEmail`, when set. Required with a bare PEM. @default undefined */
  clientEmail?: string | undefined;
}

const SETTING = "directory.google.privateKey";
const HOW =
  "roster config set directory.google.privateKey --secret-file key.json (the service account's " +
  "JSON key file from the Google Cloud console, or its PEM private key)";

function invalidKey(detail: string, hint = `Set it with ${HOW}`): ConfigError {
  return new ConfigError(`Invalid ${SETTING}: ${detail}`, {
    hint,
    details: { setting: SETTING },
  });
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/;

/** Checks a PEM private key and returns it with real newlines. */
function checkPem(text: string, from: string): string {
  const pem = text.includes("\\n") && !text.includes("\n") ? text.replaceAll("\\n", "\n") : text;
  const block = PEM_BLOCK.exec(pem);
  if (block === null) {
    throw invalidKey(
      from === "the secret"
        ? "the secret is neither a PEM private key nor a service-account JSON key file"
        : `${from} is not a PEM private key`,
    );
  }
  const label = block[1] ?? "";
  if (label === "ENCRYPTED PRIVATE KEY") {
    throw invalidKey(
      `${from} is an encrypted private key`,
      `Give the unencrypted key: create a JSON key for the service account in the Google Cloud console and set it with ${HOW}`,
    );
  }
  if (label === "RSA PRIVATE KEY") {
    throw invalidKey(
      `${from} is a PKCS#1 RSA key, not the PKCS#8 key Google issues`,
      `Convert it with openssl pkcs8 -topk8 -nocrypt -in key.pem, or set the JSON key file with ${HOW}`,
    );
  }
  if (label !== "PRIVATE KEY") {
    throw invalidKey(`${from} holds a ${label}, not a private key`);
  }
  const body = (block[2] ?? "").replace(/\s+/g, "");
  if (body === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) {
    throw invalidKey(`${from} is a damaged PEM block (its base64 body does not decode)`);
  }
  return block[0].endsWith("\n") ? block[0] : `${block[0]}\n`;
}

/**
 * Checks the form of the secret `directory.google.privateKey` without a client email: a JSON key
 * file must parse as a service-account key ({@link parseServiceAccountKey}), anything else must
 * be an unencrypted PKCS#8 PEM private key.
 * @returns true when the secret is a bare PEM key, which needs `directory.google.clientEmail`.
 * @throws {ConfigError} naming `directory.google.privateKey` as {@link parseServiceAccountKey}
 *   does, e.g. when the secret is neither a JSON key file nor a PEM private key.
 */
export function checkServiceAccountKey(secret: string): boolean {
  const text = secret.trim();
  if (text === "") throw invalidKey("it is empty");
  if (text.startsWith("{")) {
    parseServiceAccountKey(text);
    return false;
  }
  checkPem(text, "the secret");
  return true;
}

/**
 * Reads the secret `directory.google.privateKey`: a PEM private key, or a whole
 * service-account JSON key file.
 * @param secret The secret as stored.
 * @param options `clientEmail` from `directory.google.clientEmail`.
 * @returns The client email (the JSON file's `client_email`, else the setting), the PEM key,
 *   the key id and the client id (both null with a bare PEM).
 * @throws {ConfigError} naming `directory.google.privateKey` and `--secret-file` when the secret
 *   is neither form, is another kind of Google credential (`authorized_user`, …), or its PEM is
 *   encrypted, PKCS#1 or damaged; naming `directory.google.clientEmail` when a bare PEM comes
 *   without it, or when it disagrees with the key file's `client_email`.
 */
export function parseServiceAccountKey(
  secret: string,
  options: ServiceAccountKeyOptions = {},
): ServiceAccountKey {
  const text = secret.trim();
  const configured = options.clientEmail?.trim() || undefined;
  if (text === "") throw invalidKey("it is empty");
  if (!text.startsWith("{")) {
    const privateKey = checkPem(text, "the secret");
    if (configured === undefined) {
      throw new ConfigError(
        "Google service account incomplete: directory.google.clientEmail is not set",
        {
          hint: "Set directory.google.clientEmail to the service account's email " +
            "(…@….iam.gserviceaccount.com), or give the whole JSON key file with " + HOW,
          details: { setting: "directory.google.clientEmail" },
        },
      );
    }
    return { clientEmail: configured, privateKey, privateKeyId: null, clientId: null };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalidKey(
      `the secret starts with { but is not valid JSON (${
        error instanceof Error ? error.message : String(error)
      })`,
    );
  }
  if (!isRecord(parsed)) throw invalidKey("the JSON key file is not an object");
  const type = parsed["type"];
  if (type !== undefined && type !== "service_account") {
    throw invalidKey(
      `the JSON file is a credential of type ${String(type)}, not a service-account key`,
      `Create a key for the service account (IAM → Service accounts → Keys → Add key → JSON) and set it with ${HOW}`,
    );
  }
  const clientEmail = parsed["client_email"];
  const privateKey = parsed["private_key"];
  if (typeof privateKey !== "string" || privateKey.trim() === "") {
    throw invalidKey("the JSON key file has no private_key");
  }
  if (typeof clientEmail !== "string" || clientEmail.trim() === "") {
    throw invalidKey("the JSON key file has no client_email");
  }
  if (configured !== undefined && configured.toLowerCase() !== clientEmail.trim().toLowerCase()) {
    throw new ConfigError(
      `Google service account mismatch: directory.google.clientEmail is ${configured} but the key file belongs to ${clientEmail.trim()}`,
      {
        hint: "Unset directory.google.clientEmail (the key file names its service account), " +
          "or set the key file of that account with " + HOW,
        details: { setting: "directory.google.clientEmail" },
      },
    );
  }
  const keyId = parsed["private_key_id"];
  const clientId = parsed["client_id"];
  return {
    clientEmail: clientEmail.trim(),
    privateKey: checkPem(privateKey, "private_key of the JSON key file"),
    privateKeyId: typeof keyId === "string" && keyId !== "" ? keyId : null,
    clientId: typeof clientId === "string" && clientId.trim() !== "" ? clientId.trim() : null,
  };
}

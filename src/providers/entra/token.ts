/**
 * Access tokens for Microsoft Graph: the OAuth 2.0 client-credentials grant of the Microsoft
 * identity platform (v2.0 token endpoint), with a client secret or a certificate.
 *
 * - Secret: `client_secret` in the form (as bwdc does).
 * - Certificate: a client assertion, a JWT signed with the certificate's RSA private key
 *   (PS256), whose header names the certificate by its SHA-256 thumbprint (`x5t#S256`) and
 *   whose claims are `aud` = the token endpoint, `iss` = `sub` = the application id, a fresh
 *   `jti`, `nbf`, `iat` and a 10-minute `exp`, as the Microsoft identity platform documents for
 *   certificate credentials. bwdc has no certificate option.
 *
 * The token is cached and renewed 5 minutes before it expires (bwdc: 2 minutes), or at once
 * after Graph refused it ({@link TokenSource.invalidate}). Token errors are the AADSTS errors of
 * the identity platform, each mapped to the setting to fix.
 * @module
 */

import {
  createHash,
  createPrivateKey,
  type KeyObject,
  randomUUID,
  X509Certificate,
} from "node:crypto";
import { importPKCS8, SignJWT } from "jose";
import { ConfigError, DirectoryError } from "../../errors.ts";
import {
  describeHttpError,
  type FetchedToken,
  HttpCaFileError,
  type HttpClient,
  httpRetryDecision,
  HttpStatusError,
  readAccessToken,
  retry,
  TokenCache,
} from "../../http/mod.ts";
import { isRecord } from "../../guards.ts";
import { caFileError } from "../cloud/errors.ts";
import type { EntraEndpoints } from "./hosts.ts";

/** How the app proves its identity. */
export type EntraCredential =
  | { kind: "secret"; secret: string }
  | { kind: "certificate"; path: string };

/** Options of {@link createTokenSource}. */
export interface TokenSourceOptions {
  /** Where to ask, and for which scope. */
  endpoints: EntraEndpoints;
  /** The tenant as configured (`directory.entra.tenant`), for messages. */
  tenant: string;
  /** The application (client) id. */
  clientId: string;
  credential: EntraCredential;
  /** Clock in ms. @default `Date.now` */
  now?: () => number;
  /** Waits `ms` between retries. @default a timer */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Renew this long before expiry, in ms (at most half the token's lifetime).
   * @default 300000 (5 minutes)
   */
  refreshMarginMs?: number;
}

/** A cached access token. */
export interface TokenSource {
  /**
   * A valid access token, fetched when none is cached or the cached one is within the refresh
   * margin of its expiry.
   * @throws {ConfigError} the certificate file cannot be read or used.
   * @throws {DirectoryError} the token endpoint refused the request or could not be reached.
   */
  token(): Promise<string>;
  /** Forgets the cached token (Graph answered 401 with it). */
  invalidate(): void;
}

const CERT_SETTING = "directory.entra.certificatePath";

/** A loaded certificate credential: the signing key and the thumbprint. */
export interface LoadedCertificate {
  /** PKCS#8 PEM of the private key. */
  keyPem: string;
  /** base64url SHA-256 thumbprint of the certificate's DER (`x5t#S256`). */
  thumbprint: string;
  /** When the certificate expires (ms since the epoch). */
  notAfter: number;
}

function certificateError(path: string, detail: string): ConfigError {
  return new ConfigError(`Cannot use the certificate ${path}: ${detail}`, {
    hint:
      `Set ${CERT_SETTING} to a PEM file holding the certificate uploaded to the app registration ` +
      "and its unencrypted RSA private key (e.g. cat cert.pem key.pem > entra.pem)",
    details: { setting: CERT_SETTING, path },
  });
}

/**
 * Reads a PEM file holding a certificate and its RSA private key (PKCS#8 `PRIVATE KEY` or
 * PKCS#1 `RSA PRIVATE KEY`, unencrypted), and checks that they belong together.
 * @throws {ConfigError} naming `directory.entra.certificatePath` when the file cannot be read,
 *   lacks either block, the key is encrypted or not RSA, or the key does not match the
 *   certificate.
 */
export async function loadCertificate(path: string): Promise<LoadedCertificate> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw certificateError(path, error instanceof Error ? error.message : String(error));
  }
  const certBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text);
  if (certBlock === null) throw certificateError(path, "the file holds no CERTIFICATE block");
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    throw certificateError(path, "the private key is encrypted");
  }
  const keyBlock = /-----BEGIN (RSA )?PRIVATE KEY-----[\s\S]+?-----END (RSA )?PRIVATE KEY-----/
    .exec(text);
  if (keyBlock === null) throw certificateError(path, "the file holds no PRIVATE KEY block");
  let cert: X509Certificate;
  let key: KeyObject;
  try {
    cert = new X509Certificate(certBlock[0]);
    key = createPrivateKey(keyBlock[0]);
  } catch (error) {
    throw certificateError(path, error instanceof Error ? error.message : String(error));
  }
  if (key.asymmetricKeyType !== "rsa") {
    throw certificateError(
      path,
      `the private key is ${key.asymmetricKeyType ?? "of an unknown type"}, not RSA`,
    );
  }
  if (!cert.checkPrivateKey(key)) {
    throw certificateError(path, "the private key does not belong to the certificate");
  }
  const thumbprint = createHash("sha256").update(cert.raw).digest("base64url");
  const keyPem = key.export({ format: "pem", type: "pkcs8" });
  return {
    keyPem: typeof keyPem === "string" ? keyPem : new TextDecoder().decode(keyPem),
    thumbprint,
    notAfter: Date.parse(cert.validTo),
  };
}

/**
 * Signs a client assertion (PS256, `x5t#S256` header) for `audience` (the token endpoint).
 * `nowMs`: the current time in ms. The assertion is valid for 10 minutes.
 */
export async function signClientAssertion(
  certificate: LoadedCertificate,
  claims: { clientId: string; audience: string; nowMs: number },
): Promise<string> {
  const key = await importPKCS8(certificate.keyPem, "PS256");
  const seconds = Math.floor(claims.nowMs / 1000);
  return await new SignJWT({})
    .setProtectedHeader({ alg: "PS256", typ: "JWT", "x5t#S256": certificate.thumbprint })
    .setAudience(claims.audience)
    .setIssuer(claims.clientId)
    .setSubject(claims.clientId)
    .setJti(randomUUID())
    .setNotBefore(seconds)
    .setIssuedAt(seconds)
    .setExpirationTime(seconds + 600)
    .sign(key);
}

/** The AADSTS number of a token error body, or null. */
export function aadstsCode(body: unknown): number | null {
  if (!isRecord(body)) return null;
  const codes = body.error_codes;
  if (Array.isArray(codes) && typeof codes[0] === "number") return codes[0];
  const description = body.error_description;
  if (typeof description === "string") {
    const match = /AADSTS(\d+)/.exec(description);
    if (match !== null) return Number(match[1]);
  }
  return null;
}

const SECRET_HINT =
  "Create a new client secret under App registrations > <your app> > Certificates & secrets and " +
  "store its Value (not its Secret ID): roster config set directory.entra.key --secret-env VAR";

/**
 * The hint for an AADSTS error of the token endpoint: which setting to fix and where.
 * Returns null for codes without a specific fix.
 */
export function aadstsHint(
  code: number | null,
  context: { tenant: string; clientId: string; credential: EntraCredential["kind"] },
): string | null {
  switch (code) {
    case 90002:
    case 900023:
    case 90072:
      return `Tenant ${context.tenant} was not found in this cloud: set directory.entra.tenant to ` +
        "the tenant id (a GUID, Entra admin center > Overview) or a verified domain, and " +
        "directory.entra.identityAuthority to the tenant's cloud";
    case 700016:
      return `No application ${context.clientId} in tenant ${context.tenant}: set ` +
        "directory.entra.applicationId to the Application (client) ID of the app registration, " +
        "and check directory.entra.tenant";
    case 7000215:
    case 7000222:
      return (code === 7000222 ? "The client secret has expired. " : "") + SECRET_HINT;
    case 7000218:
      return "Set directory.entra.key (a client secret) or directory.entra.certificatePath";
    case 700027:
      return "Upload the certificate of directory.entra.certificatePath to App registrations > " +
        "<your app> > Certificates & secrets > Certificates (the .cer/.pem without the key), " +
        "or check that it has not expired";
    case 700024:
      return "The client assertion's time is off: check this machine's clock";
    case 500011:
    case 1002012:
      return "Set directory.entra.identityAuthority to the cloud the tenant lives in " +
        "(login.microsoftonline.com, login.microsoftonline.us or login.chinacloudapi.cn)";
    case 7000112:
      return "The application is disabled: enable it in Enterprise applications > <your app> > " +
        "Properties";
    default:
      return null;
  }
}

/**
 * Makes a {@link TokenSource} on `http` (the provider's HTTP client, with its CA file and
 * proxy). Network failures, 429 and 5xx answers of the token endpoint are retried with the
 * shared policy.
 */
export function createTokenSource(http: HttpClient, options: TokenSourceOptions): TokenSource {
  const now = options.now ?? Date.now;
  const margin = options.refreshMarginMs ?? 300_000;
  const { endpoints, clientId, credential } = options;
  let certificate: LoadedCertificate | null = null;

  async function form(): Promise<URLSearchParams> {
    const body = new URLSearchParams({
      client_id: clientId,
      scope: endpoints.scope,
      grant_type: "client_credentials",
    });
    if (credential.kind === "secret") {
      body.set("client_secret", credential.secret);
    } else {
      certificate ??= await loadCertificate(credential.path);
      body.set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
      body.set(
        "client_assertion",
        await signClientAssertion(certificate, {
          clientId,
          audience: endpoints.tokenUrl,
          nowMs: now(),
        }),
      );
    }
    return body;
  }

  async function fetchToken(): Promise<FetchedToken> {
    const host = new URL(endpoints.tokenUrl).host;
    let response;
    try {
      response = await retry(async () => {
        const body = await form();
        return await http.json({
          method: "POST",
          url: endpoints.tokenUrl,
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: body.toString(),
        });
      }, {
        isRetriable: (error) => {
          if (error instanceof HttpStatusError && error.status < 500 && error.status !== 429) {
            return false;
          }
          return httpRetryDecision(error, { idempotent: true, now });
        },
        now,
        ...(options.sleep === undefined ? {} : { sleep: options.sleep }),
        maxAttempts: 4,
      });
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      if (error instanceof HttpCaFileError) {
        throw caFileError(error, "entra");
      }
      if (error instanceof HttpStatusError) {
        const code = aadstsCode(error.body);
        const description = isRecord(error.body) && typeof error.body.error_description === "string"
          ? error.body.error_description.split(/\r?\n/)[0]?.trim() ?? ""
          : describeHttpError(error);
        const hint = aadstsHint(code, {
          tenant: options.tenant,
          clientId,
          credential: credential.kind,
        });
        throw new DirectoryError(
          `Entra ID refused the token request for tenant ${options.tenant} at ${host}: ${description}`,
          {
            hint: hint ??
              "Check directory.entra.tenant, directory.entra.applicationId and the credential " +
                "(directory.entra.key or directory.entra.certificatePath)",
            details: { status: error.status, aadsts: code, endpoint: endpoints.tokenUrl },
            cause: error,
          },
        );
      }
      throw new DirectoryError(
        `Cannot get a Graph access token from ${host}: ${describeHttpError(error)}`,
        {
          hint: "Check the network path to the sign-in host (proxy, firewall, " +
            "directory.entra.authorityUrl, directory.entra.caFile)",
          details: { endpoint: endpoints.tokenUrl },
          cause: error,
        },
      );
    }
    const answer = readAccessToken(response.body);
    if (answer === null) {
      throw new DirectoryError(
        `Entra ID answered the token request at ${host} without an access token`,
        { hint: "Check directory.entra.authorityUrl: it must be the Microsoft identity platform" },
      );
    }
    return { ...answer, issuedAt: now() };
  }

  const cache = new TokenCache(fetchToken, { marginMs: margin, now });
  return { token: () => cache.get(), invalidate: () => cache.invalidate() };
}

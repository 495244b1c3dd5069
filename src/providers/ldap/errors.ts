/**
 * The `ldap` provider's error mapping: connection, TLS and bind failures become
 * `DirectoryError`s with a code (`ldap_bind_failed`, `ldap_tls_untrusted`, …) and a hint naming
 * the setting to change; any failed or limited search becomes `SourceIncompleteError` (a
 * missing search base is a `DirectoryError`); a dead or silent server (`liveness.ts`) is a
 * `DirectoryError` while connecting and a `SourceIncompleteError` mid-search. AD bind failures
 * are told apart by the `data` code in the server's diagnostic text (`52e` invalid
 * credentials, `775` locked out, …).
 * @module
 */

import { DirectoryError, errorMessage, RosterError, SourceIncompleteError } from "../../errors.ts";
import { ConnectionDeadError } from "./liveness.ts";
import { LDAP_PASSWORD_KEY } from "./settings.ts";
import type { Connection, ReadPlan, SearchSpec } from "./settings.ts";

const AD_BIND_REASONS: Record<string, string> = {
  "525": "user not found",
  "52e": "invalid credentials",
  "530": "logon not permitted at this time",
  "531": "logon not permitted at this workstation",
  "532": "password expired",
  "533": "account disabled",
  "701": "account expired",
  "773": "password must be reset",
  "775": "account locked out",
};

function codeOf(error: unknown): unknown {
  return error instanceof Error && "code" in error ? error.code : undefined;
}

function ldapResultCode(error: unknown): number | undefined {
  const code = codeOf(error);
  return typeof code === "number" && error instanceof Error && error.name.endsWith("Error")
    ? code
    : undefined;
}

function errorCode(error: unknown): string | undefined {
  const code = codeOf(error);
  return typeof code === "string" ? code : undefined;
}

/** The server's diagnostic text of an ldapts result error, without ldapts' ` Code: 0x..`. */
function diagnostic(error: unknown): string {
  return errorMessage(error).replace(/\s*Code: 0x[0-9a-f]+$/i, "").trim();
}

const UNTRUSTED_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE",
]);

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EADDRNOTAVAIL",
]);

/** Maps a failure while connecting (`stage`: connect, starttls, bind) to a roster error. */
export function connectError(error: unknown, c: Connection, stage: string): RosterError {
  if (error instanceof RosterError) return error;
  const where = `${c.host}:${c.port}`;
  const code = errorCode(error);
  const message = errorMessage(error);
  const details = { host: c.host, port: c.port, tls: c.mode, stage };
  const resultCode = ldapResultCode(error);
  if (error instanceof ConnectionDeadError) {
    return new DirectoryError(
      error.reason === "silent"
        ? `LDAP server ${where} stopped answering during ${stage}: ${error.message}`
        : `LDAP server ${where} closed the connection during ${stage}: ${error.message}`,
      {
        code: "ldap_connection_lost",
        hint: "Check that the LDAP server is running and answering (its logs), and " +
          "directory.ldap.port; directory.ldap.connectTimeout (seconds, at least 3 here) is " +
          "how long roster waits for an answer",
        cause: error,
        details: { ...details, reason: error.reason },
      },
    );
  }
  if (resultCode === 49) {
    const data = /data ([0-9a-f]{3})/i.exec(message)?.[1]?.toLowerCase();
    const reason = data !== undefined && AD_BIND_REASONS[data] !== undefined
      ? AD_BIND_REASONS[data]
      : "invalid credentials";
    return new DirectoryError(`LDAP bind failed for ${c.username}: ${reason}`, {
      code: "ldap_bind_failed",
      hint: `Check directory.ldap.username (a DN, or user@domain for AD) and the secret ` +
        `${LDAP_PASSWORD_KEY} (roster config set ${LDAP_PASSWORD_KEY} --secret-env VAR)`,
      cause: error,
      details: { ...details, resultCode, setting: "directory.ldap.username" },
    });
  }
  if (resultCode === 8 || resultCode === 13) {
    return new DirectoryError(
      `LDAP server ${where} refused the bind: it requires an encrypted connection`,
      {
        code: "ldap_tls_required",
        hint: "Turn on directory.ldap.startTls (StartTLS on this port) or directory.ldap.ssl " +
          "(LDAPS, usually port 636)",
        cause: error,
        details: { ...details, resultCode },
      },
    );
  }
  if (stage === "starttls" && resultCode !== undefined) {
    return new DirectoryError(
      `StartTLS failed on ${where}: the server refused it (${diagnostic(error) || resultCode})`,
      {
        code: "ldap_starttls_refused",
        hint: "Enable TLS on the server, or use LDAPS: set directory.ldap.ssl and unset " +
          "directory.ldap.startTls (port usually 636). roster never falls back to plaintext",
        cause: error,
        details: { ...details, resultCode },
      },
    );
  }
  if (
    code === "ERR_TLS_CERT_ALTNAME_INVALID" || /altname|NotValidForName/i.test(message)
  ) {
    return new DirectoryError(
      `TLS certificate of ${where} does not match the host name ${c.host}: ${message}`,
      {
        code: "ldap_tls_name_mismatch",
        hint: "Set directory.ldap.hostname to a name the certificate lists (its subject " +
          "alternative names), or fix the server certificate; directory.ldap.sslAllowUnauthorized " +
          "turns verification off (testing only)",
        cause: error,
        details,
      },
    );
  }
  if (
    (code !== undefined && UNTRUSTED_CODES.has(code)) ||
    /self.signed|unknown.?issuer|issuer certificate|verify the first certificate/i.test(message)
  ) {
    return new DirectoryError(`TLS certificate of ${where} is not trusted: ${message}`, {
      code: "ldap_tls_untrusted",
      hint: `Set ${c.caSetting} to the PEM file of the CA that signed the server certificate ` +
        "(directory.ldap.sslCaPath and tlsCaPath are both accepted); " +
        "directory.ldap.sslAllowUnauthorized turns verification off (testing only)",
      cause: error,
      details: { ...details, setting: c.caSetting },
    });
  }
  if (code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID") {
    return new DirectoryError(`TLS certificate of ${where} is not valid now: ${message}`, {
      code: "ldap_tls_untrusted",
      hint: "Renew the server certificate; directory.ldap.sslAllowUnauthorized turns " +
        "verification off (testing only)",
      cause: error,
      details,
    });
  }
  if (
    (code !== undefined && UNREACHABLE_CODES.has(code)) || /Connection timeout/i.test(message)
  ) {
    const reason = code === "ECONNREFUSED"
      ? "connection refused"
      : code === "ENOTFOUND" || code === "EAI_AGAIN"
      ? "host name not found"
      : /timeout/i.test(message) || code === "ETIMEDOUT"
      ? `no answer within ${c.connectTimeoutMs / 1000} s`
      : message;
    return new DirectoryError(`Cannot connect to LDAP server ${where}: ${reason}`, {
      code: "ldap_unreachable",
      hint: "Check directory.ldap.hostname and directory.ldap.port, and that this host may " +
        "reach the server (firewall); directory.ldap.connectTimeout sets the wait",
      cause: error,
      details: { ...details, setting: "directory.ldap.hostname" },
    });
  }
  if (c.mode !== "plain" && (code === "ECONNRESET" || /TLS|SSL|secure/i.test(message))) {
    return new DirectoryError(`TLS handshake with ${where} failed: ${message}`, {
      code: "ldap_tls_handshake",
      hint: c.mode === "ldaps"
        ? `Is ${c.port} an LDAPS port (usually 636)? For StartTLS on the plain port, set ` +
          "directory.ldap.startTls instead of ssl"
        : "Check that the server offers StartTLS on this port",
      cause: error,
      details,
    });
  }
  if (/Connection closed|Operation timed out|Socket error/i.test(message)) {
    return new DirectoryError(`LDAP server ${where} closed the connection during ${stage}`, {
      code: "ldap_connection_lost",
      hint: c.mode === "plain"
        ? "Is this an LDAPS port? Set directory.ldap.ssl for ldaps://, or check the port"
        : "Check directory.ldap.port and the server's logs",
      cause: error,
      details,
    });
  }
  return new DirectoryError(`LDAP ${stage} with ${where} failed: ${message}`, {
    code: "ldap_failed",
    hint: "Check the directory.ldap settings and the server's logs",
    cause: error,
    details: { ...details, ...(resultCode === undefined ? {} : { resultCode }) },
  });
}

/** Maps a failed search that had read `read` entries to a roster error. */
export function searchError(
  error: unknown,
  spec: SearchSpec,
  read: number,
  plan: ReadPlan,
): RosterError {
  if (error instanceof RosterError) return error;
  const resultCode = ldapResultCode(error);
  const message = errorMessage(error);
  const details = {
    search: spec.what,
    base: spec.base,
    filter: spec.filter,
    entriesRead: read,
    paged: plan.paged,
    ...(resultCode === undefined ? {} : { resultCode }),
  };
  const head = `LDAP ${spec.what} search under ${spec.base || "the root DSE"} was incomplete`;
  const after = `after ${read} entries`;
  if (resultCode === 32) {
    return new DirectoryError(`LDAP ${spec.what} search base does not exist: ${spec.base}`, {
      code: "ldap_base_not_found",
      hint: `Check directory.ldap.rootPath and ${spec.baseSetting}`,
      cause: error,
      details: { ...details, setting: spec.baseSetting },
    });
  }
  if (resultCode === 4) {
    return new SourceIncompleteError(`${head}: size limit exceeded ${after}`, {
      hint: plan.paged
        ? `The server limits paged searches too: raise its size limit for ` +
          `${plan.connection.username} (OpenLDAP size.prtotal, AD MaxResultSetSize)`
        : "Turn on directory.ldap.pagedSearch (RFC 2696 paging), or raise the server's size " +
          `limit for ${plan.connection.username}`,
      cause: error,
      details,
    });
  }
  if (resultCode === 3 || /Operation timed out/i.test(message)) {
    return new SourceIncompleteError(`${head}: time limit exceeded ${after}`, {
      hint: "Raise directory.ldap.timeout (seconds) or the server's time limit, or narrow the " +
        "search with sync.userPath/groupPath and filters",
      cause: error,
      details,
    });
  }
  if (resultCode === 11) {
    return new SourceIncompleteError(`${head}: administrative limit exceeded ${after}`, {
      hint: "Lower directory.ldap.pageSize (AD MaxPageSize is 1000), or raise the server's " +
        "limits for the bind account",
      cause: error,
      details,
    });
  }
  if (resultCode === 10 || resultCode === 9) {
    return new SourceIncompleteError(
      `${head}: the server referred roster to another server (${
        resultCode === 10 ? "referral" : "partial results"
      }: ${diagnostic(error) || "no detail"}) ${after}`,
      {
        hint: `roster does not follow referrals. Point directory.ldap.hostname at the server ` +
          `holding ${spec.base} (for AD, a domain controller of that domain, or a global ` +
          `catalog on port 3268), or correct ${spec.baseSetting} and directory.ldap.rootPath`,
        cause: error,
        details,
      },
    );
  }
  if (resultCode === 12) {
    return new SourceIncompleteError(
      `${head}: the server does not support a control roster marked critical ${after}`,
      {
        hint: spec.showDeleted === true
          ? "Listing deleted objects needs Active Directory (the show-deleted control); turn " +
            "off directory.ldap.ad for other servers"
          : "Check the server's logs; turning off directory.ldap.pagedSearch avoids the paging " +
            "control",
        cause: error,
        details,
      },
    );
  }
  if (resultCode === 51 || resultCode === 52 || resultCode === 53) {
    const what = resultCode === 51 ? "busy" : resultCode === 52 ? "unavailable" : "unwilling";
    return new SourceIncompleteError(
      `${head}: the server is ${what} (${diagnostic(error) || resultCode}) ${after}`,
      {
        hint: resultCode === 53
          ? "Check the server's logs: it refused the search (a limit or a policy for " +
            `${plan.connection.username}); lowering directory.ldap.pageSize may help`
          : "Run again later, or point directory.ldap.hostname at another server",
        cause: error,
        details,
      },
    );
  }
  if (error instanceof ConnectionDeadError && error.reason === "silent") {
    return new SourceIncompleteError(`${head}: the server stopped answering ${after}`, {
      hint: `${error.message}; check the server (it keeps the connection open but sends ` +
        "nothing), then run again. directory.ldap.connectTimeout (seconds, at least 3 here) " +
        "is how long roster waits for data before asking the server whether it is alive",
      cause: error,
      details: { ...details, reason: error.reason },
    });
  }
  if (
    error instanceof ConnectionDeadError ||
    /Connection closed|Socket error|ECONNRESET|EPIPE/i.test(message)
  ) {
    return new SourceIncompleteError(`${head}: the connection was lost ${after}`, {
      hint: "Check the server and the network, then run again; nothing was sent",
      cause: error,
      details,
    });
  }
  return new SourceIncompleteError(`${head}: ${diagnostic(error) || message} ${after}`, {
    hint: "Check the server's logs and the bind account's rights, then run again",
    cause: error,
    details,
  });
}

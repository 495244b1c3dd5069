/**
 * One read of the `entra` source: checks the settings, picks the credential (a client secret,
 * or a certificate in `directory.entra.certificatePath`), opens the Graph client
 * (`./graph.ts`), gets the access token first (a refused credential is a `DirectoryError`
 * before any Graph call), then reads a delta (`./delta_read.ts`) when asked for an
 * incremental read and the stored delta links allow it, else the whole directory
 * (`./full_read.ts`), with a `fullReadInstead` notice saying why.
 * @module
 */

import { ConfigError } from "../../errors.ts";
import { createHttpClient } from "../../http/mod.ts";
import type { DirectoryPage, ProviderContext, ReadOptions } from "../provider.ts";
import { deltaPlan, readDelta } from "./delta_read.ts";
import { entraFilterHandling, parseEntraGroupFilter, parseEntraUserFilter } from "./filter.ts";
import { fullRead } from "./full_read.ts";
import { EntraGraph, type EntraProviderOptions } from "./graph.ts";
import { entraEndpoints } from "./hosts.ts";
import type { EntraSettings } from "./settings.ts";
import type { EntraCredential } from "./token.ts";

/**
 * Reads the tenant as provider pages (see the module documentation).
 * @throws {ConfigError} for missing settings, bad URLs and malformed filters, before any
 *   request, and for a filter naming a group or administrative unit Graph does not have.
 * @throws {DirectoryError} when the token or the first Graph call is refused.
 * @throws {SourceIncompleteError} for any failure once data has been read.
 */
export async function* readEntra(
  context: ProviderContext<EntraSettings>,
  options: EntraProviderOptions,
  read: ReadOptions,
): AsyncGenerator<DirectoryPage> {
  const { entra, sync } = context.settings;
  const userFilter = parseEntraUserFilter(sync.userFilter);
  const groupFilter = parseEntraGroupFilter(sync.groupFilter);
  const providerFilters = entraFilterHandling(sync) === "provider";
  if (entra.tenant === undefined || entra.applicationId === undefined) {
    const missing = [
      ...(entra.tenant === undefined ? ["directory.entra.tenant"] : []),
      ...(entra.applicationId === undefined ? ["directory.entra.applicationId"] : []),
    ];
    throw new ConfigError(`Directory configuration incomplete: ${missing.join(", ")} not set`, {
      hint: `roster config set ${missing[0]} <value>`,
      details: { missing },
    });
  }
  const endpoints = entraEndpoints({
    identityAuthority: entra.identityAuthority,
    tenant: entra.tenant,
    authorityUrl: entra.authorityUrl,
    graphUrl: entra.graphUrl,
  });
  const credential = await credentialOf(context);
  const http = createHttpClient({
    ...(entra.caFile === undefined ? {} : { caFile: entra.caFile }),
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  try {
    const graph = new EntraGraph(context, options, http, {
      endpoints,
      tenant: entra.tenant,
      clientId: entra.applicationId,
      credential,
      userFilter,
      groupFilter,
      providerFilters,
      read,
    });
    yield* run(graph);
  } finally {
    http.close();
  }
}

/**
 * The credential of the settings: the certificate when `directory.entra.certificatePath` is
 * set, else the client secret `directory.entra.key`.
 * @throws {ConfigError} when neither is set.
 */
async function credentialOf(
  context: ProviderContext<EntraSettings>,
): Promise<EntraCredential> {
  const path = context.settings.entra.certificatePath;
  if (path !== undefined) return { kind: "certificate", path };
  const secret = await context.secret("directory.entra.key");
  if (secret !== undefined && secret !== "") return { kind: "secret", secret };
  throw new ConfigError(
    "Directory configuration incomplete: neither directory.entra.key nor directory.entra.certificatePath is set",
    {
      hint: "roster config set directory.entra.key --secret-env VAR (a client secret), or " +
        "roster config set directory.entra.certificatePath <PEM with certificate and key>",
      details: { missing: ["directory.entra.key", "directory.entra.certificatePath"] },
    },
  );
}

/** The token, then a delta read when possible, else a full read. */
async function* run(graph: EntraGraph): AsyncGenerator<DirectoryPage> {
  const { read } = graph.setup;
  // The token first: a refused credential is a DirectoryError before any Graph call.
  await graph.tokens.token();
  if (read.mode === "incremental") {
    const plan = deltaPlan(graph);
    if ("links" in plan) {
      const delta = await readDelta(graph, plan.links);
      if ("pages" in delta) {
        yield* delta.pages;
        graph.progress(true);
        yield { kind: "done", incremental: true, delta: true, state: delta.state };
        return;
      }
      yield {
        kind: "notice",
        code: "fullReadInstead",
        level: "warn",
        message: `Entra ID: reading the whole directory: ${delta.reason}`,
      };
    } else {
      yield {
        kind: "notice",
        code: "fullReadInstead",
        level: "info",
        message: `Entra ID: reading the whole directory: ${plan.reason}`,
      };
    }
  }
  yield* fullRead(graph);
}

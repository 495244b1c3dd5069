/**
 * `roster plan`: what a sync would change in the organization, without changing anything.
 *
 * Reads the whole directory and the organization (members, groups and their members), replays
 * the server's import rules (`src/engine/plan.ts`) and prints the members to invite, link,
 * remove and leave alone, the emails the server would skip, the group changes, and anything
 * the server (or the deletion guard) would refuse. Vaultwarden has no read API: the plan then
 * describes the requests alone and says so.
 * @module
 */

import { Command, InvalidArgumentError, Option } from "commander";
import { isBitwardenCloud } from "../bitwarden/urls.ts";
import {
  buildImportRequests,
  changeHash,
  type GuardCheck,
  type Plan,
  type PlanMember,
  refusalText,
  type SyncData,
} from "../engine/mod.ts";
import { errorMessage, ExitCode, RosterError } from "../errors.ts";
import { createClient, requireAuth } from "../sync/auth.ts";
import {
  allowancesOf,
  guardLimits,
  importOptions,
  planStep,
  preflight,
  type Refusal,
  removalWhy,
  type SyncRunRecord,
} from "../sync/run.ts";
import { buildData, readSource } from "../sync/source.ts";
import {
  type CliDeps,
  type CommandContext,
  commandContext,
  readProgress,
  withState,
} from "./context.ts";
import { plural } from "../output/render.ts";

/**
 * `plan --output json`. Every list is sorted (members by email, then externalId; groups by
 * name, then externalId; refusals by code, then subject).
 */
export interface PlanDocument extends Omit<Plan, "summary" | "removalsUnknown"> {
  object: "plan";
  organizationId: string;
  server: { api: string; identity: string };
  /** What was read from the directory (always a full read). */
  read: { users: number; groups: number };
  /** Import requests a sync would send. */
  requests: number;
  /** The request hash equals the one recorded by the last sync. */
  hashUnchanged: boolean;
  /** Whether a sync would change anything (see the README). */
  pending: boolean;
  /** What the server or the deletion guard would refuse. */
  refusals: Refusal[];
  /**
   * The deletion guard's verdict, as `sync` would give it: member removals in the first
   * fields, and every check (member removals, membership removals, group deletions, user and
   * group shrink) in `checks`.
   */
  guard: {
    allowed: boolean;
    removals: number;
    limit: number;
    removalsUnknown: boolean;
    maxRemovals: number;
    maxRemovalsPercent: number;
    allowRemovals: number | null;
    checks: GuardCheck[];
  };
  /** Things roster wants you to know about the plan (no organization view, dropped members). */
  notices: string[];
  summary: Plan["summary"];
}

/** Options of the `plan` action. */
export interface PlanOptions {
  detailedExitcode: boolean;
  /** The `--allow-*` flags, as `sync` takes them. */
  allowRemovals: number | undefined;
  allowMembershipRemovals?: number | undefined;
  allowGroupDeletions?: number | undefined;
  allowShrink?: number | undefined;
}

async function makePlan(
  context: CommandContext,
  options: PlanOptions,
  progress: { read?: { users: number; groups: number }; server?: string },
): Promise<{ document: PlanDocument; data: SyncData }> {
  const config = await context.loadConfig();
  return await withState(context, async (store) => {
    const auth = await requireAuth(store);
    const client = await createClient({ log: context.log, config }, { apiKey: auth, store });
    progress.server = client.urls.api;
    try {
      const read = await readSource({
        store,
        config,
        incremental: false,
        log: (level, message) => context.log[level](message),
        dataDir: context.paths.dir,
        ...readProgress(context, config),
      });
      progress.read = { users: read.counts.users, groups: read.counts.groups };
      const data = buildData(config, read);
      const requests = buildImportRequests(data, importOptions(config));
      const refusals = preflight(requests, {
        cloud: isBitwardenCloud(client.urls),
      });
      const org = await client.readOrganization();
      const notices: string[] = [];
      if (org === null) {
        notices.push(
          "No organization view: the server has no read API (Vaultwarden), so this plan lists what a sync would send, not what it would change",
        );
      }
      const step = await planStep({
        config,
        store,
        requests,
        org,
        read: { counts: read.counts, incremental: false },
        data,
        allowances: allowancesOf(options),
      });
      notices.push(...step.notices);
      const { plan, verdict } = step;
      for (const check of verdict.checks) {
        if (check.allowed) continue;
        refusals.push({
          code: "removal_guard",
          subject: `${check.kind} ${check.count}`,
          message: `the deletion guard would refuse: ${
            refusalText(check, guardLimits(config), plan.orgView)
          }`,
        });
      }
      const members = verdict.checks.find((c) => c.kind === "memberRemovals");
      const hash = changeHash(requests, {
        apiUrl: client.urls.api,
        orgId: client.organizationId,
      });
      const stored = await store.getLastSyncHash();
      const hashUnchanged = stored !== undefined &&
        (stored === hash.hash || stored === hash.legacyHash);
      const pending = requests.length > 0 &&
        (org === null ? !hashUnchanged : plan.summary.changes > 0);
      const { summary, removalsUnknown: _unknown, ...lists } = plan;
      const document: PlanDocument = {
        object: "plan",
        organizationId: client.organizationId,
        server: { api: client.urls.api, identity: client.urls.identity },
        read: { users: read.counts.users, groups: read.counts.groups },
        requests: requests.length,
        hashUnchanged,
        pending,
        ...lists,
        refusals,
        guard: {
          allowed: verdict.allowed,
          removals: members?.count ?? 0,
          limit: members?.limit ?? 0,
          removalsUnknown: members?.unknown ?? false,
          maxRemovals: config.sync.maxRemovals,
          maxRemovalsPercent: config.sync.maxRemovalsPercent,
          allowRemovals: options.allowRemovals ?? null,
          checks: verdict.checks,
        },
        notices,
        summary,
      };
      return { document, data };
    } finally {
      client.close();
    }
  });
}

const GUARD_LABELS: Record<GuardCheck["kind"], string> = {
  memberRemovals: "member removals",
  membershipRemovals: "group membership removals",
  groupDeletions: "groups gone from the directory",
  userShrink: "fewer users than the last complete read",
  groupShrink: "fewer groups than the last complete read",
};

function memberRows(list: readonly PlanMember[]): string[][] {
  return list.map((m) => [m.email ?? "(no email)", m.externalId ?? ""]);
}

/** Renders a plan for people. */
export function planLines(
  document: PlanDocument,
  context: Pick<CommandContext, "out">,
  data?: SyncData,
): string[] {
  const { out } = context;
  const bold = out.style.bold;
  const s = document.summary;
  const lines: string[] = [];
  const section = (title: string, body: string[]): void => {
    lines.push("", bold(title));
    lines.push(...(body.length > 0 ? body : ["  (none)"]));
  };
  lines.push(
    `Organization ${document.organizationId} at ${document.server.api}: ${
      document.orgView
        ? `${s.orgMembers} members read`
        : "no organization view (the server has no read API)"
    }`,
  );
  for (const notice of document.notices) lines.push(`notice: ${notice}`);
  const headers = ["EMAIL", "EXTERNAL ID"];
  if (document.orgView) {
    section(
      `Invite (${s.invite})`,
      document.invite.length === 0 ? [] : out.table(memberRows(document.invite), { headers }),
    );
    section(
      `Link by email (${s.link})`,
      document.link.length === 0 ? [] : out.table(memberRows(document.link), { headers }),
    );
  } else {
    section(
      `Add or update (${s.upsert})`,
      document.upsert.length === 0 ? [] : out.table(memberRows(document.upsert), { headers }),
    );
  }
  section(
    `Remove (${s.remove})`,
    document.remove.length === 0 ? [] : out.table(
      document.remove.map((
        r,
      ) => [r.email ?? "(no email)", r.externalId ?? "", removalWhy(r, data)]),
      { headers: [...headers, "WHY"] },
    ),
  );
  if (document.orgView) {
    lines.push("", bold(`Leave alone (${s.unchanged})`));
    lines.push(
      s.unchanged === 0
        ? "  (none)"
        : `  ${s.unchanged} linked members stay as they are (--output json lists them)`,
    );
    section(
      `Skipped by the server (${s.skipped})`,
      document.skipped.length === 0 ? [] : out.table(
        document.skipped.map((k) => [k.email, k.externalId, k.reason]),
        { headers: [...headers, "REASON"] },
      ),
    );
  }
  if (document.protectedOwners.length > 0) {
    section(
      `Owners the import never removes (${s.protectedOwners})`,
      out.table(memberRows(document.protectedOwners), { headers }),
    );
  }
  const groupCount = document.groups.length;
  section(
    document.orgView
      ? `Groups: ${s.groupsCreate} to create, ${s.groupsRename} to rename, ${s.groupsUpdate} to update, ${s.groupsUnchanged} unchanged`
      : `Groups: ${groupCount} to create or update`,
    groupCount === 0 ? [] : out.table(
      document.groups.map((g) => [
        g.action,
        g.previousName === null ? g.name : `${g.previousName} → ${g.name}`,
        `+${g.add.length}`,
        `-${g.remove.length}`,
      ]),
      { headers: ["ACTION", "GROUP", "ADD", "REMOVE"], alignRight: [2, 3] },
    ),
  );
  section(
    `Refusals (${document.refusals.length})`,
    document.refusals.map((r) => `  - ${r.message}`),
  );
  if (document.warnings.length > 0) {
    section(`Warnings (${document.warnings.length})`, document.warnings.map((w) => `  - ${w}`));
  }
  lines.push("", `Deletion guard: ${document.guard.allowed ? "allowed" : "REFUSED"}`);
  lines.push(
    ...out.table(
      document.guard.checks.map((c) => [
        GUARD_LABELS[c.kind],
        String(c.count),
        c.allowance === null ? `limit ${c.limit}` : `allowed ${c.allowance} (${c.flag})`,
        c.allowed ? "allowed" : "REFUSED",
      ]),
      { alignRight: [1] },
    ),
  );
  const what = document.orgView
    ? `${s.invite} to invite, ${s.link} to link, ${s.remove} to remove, ${s.unchanged} unchanged; ${
      plural(s.groupsCreate + s.groupsRename + s.groupsUpdate, "group")
    } to change (${s.membershipAdds} memberships added, ${s.membershipRemoves} removed)`
    : `${plural(s.upsert, "member")} and ${plural(groupCount, "group")} would be sent${
      document.hashUnchanged ? " (unchanged since the last sync: a sync sends nothing)" : ""
    }`;
  lines.push(
    `Plan: ${what}. ${
      document.pending ? "A sync would change the organization" : "Nothing to do"
    }; nothing was sent.`,
  );
  return lines;
}

async function planAction(context: CommandContext, options: PlanOptions): Promise<void> {
  const startedAt = context.now();
  const progress: { read?: { users: number; groups: number }; server?: string } = {};
  const record = async (fields: Partial<SyncRunRecord> & Pick<SyncRunRecord, "outcome">) => {
    await withState(context, (store) => {
      const run: SyncRunRecord = {
        id: crypto.randomUUID(),
        command: "plan",
        startedAt: startedAt.toISOString(),
        endedAt: context.now().toISOString(),
        exitCode: ExitCode.Ok,
        read: progress.read ?? { users: 0, groups: 0 },
        sent: { users: 0, groups: 0 },
        readMode: "full",
        ...(progress.server === undefined ? {} : { server: progress.server }),
        ...fields,
      };
      return store.addRun(run);
    });
  };
  let made: { document: PlanDocument; data: SyncData };
  try {
    made = await makePlan(context, options, progress);
  } catch (error) {
    await record({
      outcome: "error",
      exitCode: error instanceof RosterError ? error.exitCode : ExitCode.Internal,
      error: errorMessage(error),
    });
    throw error;
  }
  const { document, data } = made;
  const exitCode = options.detailedExitcode && document.pending
    ? ExitCode.ChangesPending
    : ExitCode.Ok;
  if (context.out.json) context.out.printJson(document);
  else context.out.printLines(planLines(document, context, data));
  await record({
    outcome: document.pending ? "ok" : "no-change",
    exitCode,
    requests: document.requests,
    plan: document.summary,
    answer: document.pending ? "changes pending" : "nothing to do",
  });
  context.setExitCode(exitCode);
}

function parseCount(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError("expected a whole number (0 or more)");
  return Number(value);
}

/** Builds the `plan` command. */
export function planCommand(deps: CliDeps): Command {
  return new Command("plan")
    .summary("show what a sync would change in the organization (changes nothing)")
    .description(
      "Read the whole directory and the organization, and print what a sync would change: " +
        "members to invite, link, remove and leave alone, emails the server would skip, groups " +
        "to create, rename or update, and anything the server or the deletion guard would " +
        "refuse. Nothing is sent. On Vaultwarden (no read API) the plan lists what would be " +
        "sent and says so.",
    )
    .option(
      "--detailed-exitcode",
      "exit 0 when there is nothing to do, 3 when a sync would change something",
    )
    .addOption(
      new Option("--allow-removals <n>", "show the guard's verdict as with sync --allow-removals N")
        .argParser(parseCount),
    )
    .addOption(
      new Option("--allow-membership-removals <n>", "as with sync --allow-membership-removals N")
        .argParser(parseCount),
    )
    .addOption(
      new Option("--allow-group-deletions <n>", "as with sync --allow-group-deletions N")
        .argParser(parseCount),
    )
    .addOption(
      new Option("--allow-shrink <n>", "as with sync --allow-shrink N").argParser(parseCount),
    )
    .action(async (options: Record<string, unknown>, command: Command) => {
      const number = (name: string) => {
        const value = options[name];
        return typeof value === "number" ? value : undefined;
      };
      await planAction(commandContext(deps, command), {
        detailedExitcode: options["detailedExitcode"] === true,
        allowRemovals: number("allowRemovals"),
        allowMembershipRemovals: number("allowMembershipRemovals"),
        allowGroupDeletions: number("allowGroupDeletions"),
        allowShrink: number("allowShrink"),
      });
    })
    .addHelpText(
      "after",
      `
Examples:
  roster plan
  roster plan --output json | jq '.remove[] | .email'
  roster plan --detailed-exitcode || echo "changes pending (exit 3) or an error"`,
    );
}

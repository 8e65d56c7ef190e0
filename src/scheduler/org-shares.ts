/**
 * How the schedulers share room among orgs, so one org's backlog never keeps another org's rows
 * out: even shares of memory or of a claim, and which org gives way when room runs out. Pure:
 * the schedulers own the counts.
 */

import type { ClaimQuota } from "../store/port.ts";

/**
 * `budget` rows split evenly over `orgs`; the remainder (or, with fewer rows than orgs, the one
 * row each) goes to the orgs from index `turn` on, so that over successive claims every org gets it.
 */
export function evenQuotas(orgs: readonly string[], budget: number, turn: number): ClaimQuota[] {
  const n = orgs.length;
  if (n === 0 || budget < 1) return [];
  const base = Math.floor(budget / n);
  const extra = budget - base * n;
  const quotas: ClaimQuota[] = [];
  for (let i = 0; i < n; i++) {
    const fromTurn = (((i - turn) % n) + n) % n;
    const limit = base + (fromTurn < extra ? 1 : 0);
    if (limit > 0) quotas.push({ orgId: orgs[i]!, limit });
  }
  return quotas;
}

/**
 * How many more rows `orgId` may hold within an even share of `capacity` among the orgs holding
 * some (`held`: count per org, none listed at zero), counting it among them when it holds none yet.
 */
export function roomInShare(held: ReadonlyMap<string, number>, orgId: string, capacity: number): number {
  const own = held.get(orgId) ?? 0;
  return Math.floor(capacity / (held.size + (own === 0 ? 1 : 0))) - own;
}

/** The org holding the most, other than `except`: the one that gives way. */
export function richestOrg(held: ReadonlyMap<string, number>, except: string): string | undefined {
  let richest: string | undefined;
  for (const [org, n] of held) if (org !== except && (richest === undefined || n > held.get(richest)!)) richest = org;
  return richest;
}

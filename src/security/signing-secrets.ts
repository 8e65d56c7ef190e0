/**
 * The plaintext signing secrets of endpoints, opened from their sealed form on demand: for the
 * delivery engine (which secrets sign a delivery now) and for the API (reveal, mask). A sealed
 * string never changes meaning, so opened ones are cached without invalidation.
 */
import { LRUCache } from "lru-cache";
import type { EndpointRow } from "../store/port.ts";
import type { SecretBox } from "./secret-box.ts";
import { maskSecret } from "./tokens.ts";

export function createSigningSecrets(secretBox: SecretBox, clock: () => number) {
  const opened = new LRUCache<string, string>({ max: 50_000 });
  const open = (sealed: string): string => {
    let plain = opened.get(sealed);
    if (plain === undefined) {
      plain = secretBox.open(sealed);
      opened.set(sealed, plain);
    }
    return plain;
  };
  return {
    seal: (secret: string): string => secretBox.seal(secret),
    /** The endpoint's current secret. */
    current: (row: Pick<EndpointRow, "secretEnc">): string => open(row.secretEnc),
    /** The secrets that sign a delivery now: the current one, then a previous one still in grace. */
    signing(row: EndpointRow, now = clock()): string[] {
      const secrets = [open(row.secretEnc)];
      if (row.previousSecretEnc && (row.previousSecretExpiresAt ?? 0) > now) secrets.push(open(row.previousSecretEnc));
      return secrets;
    },
    masked: (row: Pick<EndpointRow, "secretEnc">): string => maskSecret(open(row.secretEnc)),
  };
}
export type SigningSecrets = ReturnType<typeof createSigningSecrets>;

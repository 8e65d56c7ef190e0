/**
 * Keyset pages over id-ordered lists (orgs, API keys): `?limit=&after=<last id seen>`, so a page
 * costs the same however far in it is, and a response holds at most MAX_LIST_PAGE rows.
 */
import { t } from "elysia";

export const MAX_LIST_PAGE = 100;

export const KeysetQuery = t.Object(
  {
    limit: t.Optional(t.Numeric({ minimum: 1, maximum: MAX_LIST_PAGE, default: MAX_LIST_PAGE, description: `Rows per page (at most ${MAX_LIST_PAGE})` })),
    after: t.Optional(t.String({ maxLength: 64, description: "The last id of the previous page (its pagination.nextAfter)" })),
  },
  { additionalProperties: false },
);

export const KeysetPagination = t.Object({
  limit: t.Integer(),
  hasMore: t.Boolean(),
  nextAfter: t.Union([t.String(), t.Null()], { description: "Pass as `after` for the next page; null on the last", examples: ["org_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
});

export interface KeysetRequest {
  after: string | null;
  limit: number;
}

/** The request a query asks for (limit floored, as t.Numeric lets 1.5 through). */
export function keysetRequest(query: { limit?: number; after?: string }): KeysetRequest {
  return { after: query.after ?? null, limit: Math.floor(query.limit ?? MAX_LIST_PAGE) };
}

/** A page from `limit + 1` rows read after the cursor: the extra row only says there is more. */
export function keysetPage<T extends { id: string }>(rows: T[], limit: number) {
  const hasMore = rows.length > limit;
  const items = hasMore ? rows.slice(0, limit) : rows;
  return { items, pagination: { limit, hasMore, nextAfter: hasMore ? items.at(-1)!.id : null } };
}

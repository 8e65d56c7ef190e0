/** What the API shows of an API key, org or admin: never the key, only what tells keys apart. */
import { t } from "elysia";
import type { ApiKeyRow } from "../store/port.ts";
import { Id, iso, IsoDate, NullableIsoDate } from "./common.ts";

export const KeyFields = {
  id: Id.key,
  name: t.Union([t.String(), t.Null()], { examples: ["backend"] }),
  prefix: t.String({ description: "The key's first characters, to tell keys apart", examples: ["sk_live_AbCd"] }),
  createdAt: IsoDate,
  revokedAt: NullableIsoDate,
};

export const ShownOnce = t.Object({ key: t.String({ description: "The key itself: shown once", examples: ["sk_live_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCD"] }) });

export const keyFieldsView = (k: ApiKeyRow) => ({
  id: k.id,
  name: k.name,
  prefix: k.keyPrefix,
  createdAt: iso(k.createdAt),
  revokedAt: iso(k.revokedAt),
});

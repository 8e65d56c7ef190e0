import { t, type TSchema } from "elysia";
import { SIGNING_SECRET_SHAPE } from "../../security/tokens.ts";
import { MAX_DESCRIPTION_CHARS, MAX_EVENTS_PER_ENDPOINT, MAX_URL_LENGTH } from "./endpoint-rules.ts";
import { IsoDate, NullableIsoDate } from "../common.ts";
import { MAX_GRACE_SECONDS } from "./service.ts";

export const Url = t.String({ minLength: 1, maxLength: MAX_URL_LENGTH, examples: ["https://your-app.com/webhook"] });
export const Events = t.Array(t.String({ minLength: 1, maxLength: 128 }), {
  minItems: 1,
  maxItems: MAX_EVENTS_PER_ENDPOINT,
  description: 'Event types (1-10): catalog names, "*" for all, or "prefix.*"',
  examples: [["call.ended", "call.failed", "contact.created"]],
});
// The schema bounds UTF-16 units (two per emoji); the service counts the 500 characters.
export const Description = t.Union([t.String({ maxLength: 2 * MAX_DESCRIPTION_CHARS, description: `At most ${MAX_DESCRIPTION_CHARS} characters` }), t.Null()], {
  examples: ["Production webhook"],
});

const alias = <T extends TSchema>(schema: T, of: string, seed: string) =>
  t.Optional({ ...schema, description: `The same as \`${of}\` (seed ${seed}'s name)`, examples: undefined } as T);

export const EndpointStatus = t.Union([t.Literal("enabled"), t.Literal("disabled")]);

export const DisabledReason = t.Union([t.Literal("manual"), t.Literal("too_many_failures"), t.Literal("gone"), t.Null()], {
  description: "manual (you disabled it), too_many_failures (exhausted deliveries in a row), gone (the receiver answered 410 Gone)",
});

export const SigningSecret = t.String({
  pattern: SIGNING_SECRET_SHAPE.source,
  description: "Your own signing secret (whsec_ + base64 of 24-64 random bytes), so a receiver that verifies signatures passes the probe; generated when absent",
  examples: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwC2ZhXyM3c0o="],
});

export const CreateEndpointBody = t.Object(
  {
    url: Url,
    events: t.Optional(Events),
    description: t.Optional(Description),
    secret: t.Optional(SigningSecret),
    isActive: t.Optional(t.Boolean({ description: "false creates the endpoint disabled" })),
    enabled_events: alias(Events, "events", "003"),
    event_types: alias(Events, "events", "004"),
    enabled: alias(t.Boolean(), "isActive", "004"),
  },
  { additionalProperties: false },
);
export type CreateEndpointBody = typeof CreateEndpointBody.static;

export const UpdateEndpointBody = t.Object(
  {
    url: t.Optional(Url),
    events: t.Optional(Events),
    description: t.Optional(Description),
    isActive: t.Optional(t.Boolean()),
    enabled_events: alias(Events, "events", "003"),
    event_types: alias(Events, "events", "004"),
    enabled: alias(t.Boolean(), "isActive", "004"),
    status: alias(EndpointStatus, "isActive", "003"),
  },
  { additionalProperties: false },
);
export type UpdateEndpointBody = typeof UpdateEndpointBody.static;

export const GracePeriodSeconds = t.Integer({
  minimum: 0,
  maximum: MAX_GRACE_SECONDS,
  description: "Keep signing with the old secret too for this long (at most 7 days)",
});

export const RotateSecretBody = t.Optional(
  t.Object(
    { gracePeriodSeconds: t.Optional(GracePeriodSeconds), grace_period_seconds: alias(GracePeriodSeconds, "gracePeriodSeconds", "003") },
    { additionalProperties: false },
  ),
);

/** Not length-capped: an id of any other shape is a 404 (the service checks it), never a 400. */
export const EndpointIdParams = t.Object({ id: t.String({ examples: ["wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }) });

export const Endpoint = t.Object({
  id: t.String({ examples: ["wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
  url: t.String(),
  events: t.Array(t.String()),
  description: t.Union([t.String(), t.Null()]),
  isActive: t.Boolean(),
  status: EndpointStatus,
  disabledReason: DisabledReason,
  disabledAt: NullableIsoDate,
  consecutiveFailures: t.Integer(),
  failureCount: t.Integer(),
  lastTriggeredAt: NullableIsoDate,
  secret: t.String({ description: "In full only when created or rotated; masked elsewhere", examples: ["whsec_••••••••Ab3="] }),
  createdAt: IsoDate,
  updatedAt: IsoDate,
});
export type Endpoint = typeof Endpoint.static;

export const SecretResponse = t.Object({ secret: t.String({ examples: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] }) });

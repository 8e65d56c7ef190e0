import { t, type TSchema } from "elysia";
import { SIGNING_SECRET_SHAPE } from "../../security/tokens.ts";
import { MAX_DESCRIPTION_CHARS, MAX_EVENTS_PER_ENDPOINT, MAX_URL_LENGTH } from "./endpoint-rules.ts";
import { BODY_ERRORS, IsoDate, NullableIsoDate, ORG_POST_ERRORS, ORG_WRITE_ERRORS, type ErrorCode } from "../common.ts";
import { MAX_GRACE_SECONDS } from "./service.ts";

/**
 * The examples' URL: a placeholder that says so, under .example (RFC 2606), which never resolves,
 * so with the probe on it is always refused the same way, and with it off it is stored.
 */
export const PLACEHOLDER_URL = "https://your-receiver.example/webhook";
/** Said on every create: what a person trying the example will see. */
export const PROBE_NOTE =
  "With the probe on (the default) the URL must answer a signed POST with a 2xx within 10 s: the example's URL is a placeholder that answers nothing, so it is refused with 400 URL_PROBE_FAILED. Put your receiver's URL.";
export const Url = t.String({
  minLength: 1,
  maxLength: MAX_URL_LENGTH,
  description:
    "Your receiver's URL (https). The example is a placeholder: with the probe on (the default) webhookd first POSTs a signed probe to the URL and answers 400 URL_PROBE_FAILED unless it gets a 2xx within 10 s, so put your receiver's URL here",
  examples: [PLACEHOLDER_URL],
});
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
  // Whole-body examples: Swagger UI would otherwise fill in every alias (`["string"]`) and a fixed secret.
  { additionalProperties: false, examples: [{ url: PLACEHOLDER_URL, events: ["call.ended"], description: "Production webhook" }] },
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
  { additionalProperties: false, examples: [{ events: ["call.ended", "call.failed"], description: "Production webhook" }] },
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
    { additionalProperties: false, examples: [{ gracePeriodSeconds: 3600 }] },
  ),
);

/** Not length-capped: an id of any other shape is a 404 (the service checks it), never a 400. */
export const EndpointIdParams = t.Object({
  id: t.String({
    description: "An endpoint id (`wh_…`) from the create or list response; the example is a placeholder, and answers 404",
    examples: ["wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E"],
  }),
});

// What creating and updating an endpoint can answer, on every dialect: the URL's checks first.
export const CREATE_ERRORS: ErrorCode[] = ["URL_PROBE_FAILED", "URL_NOT_ALLOWED", "MAX_ENDPOINTS", ...ORG_POST_ERRORS];
export const UPDATE_ERRORS: ErrorCode[] = ["URL_PROBE_FAILED", "URL_NOT_ALLOWED", ...BODY_ERRORS, ...ORG_WRITE_ERRORS];

// Examples on the answers' fields too, so Swagger UI shows a plausible endpoint, not "string".
export const ShownUrl = t.String({ examples: [PLACEHOLDER_URL] });
export const ShownEvents = t.Array(t.String(), { examples: [["call.ended"]] });
export const ShownDescription = t.Union([t.String(), t.Null()], { examples: ["Production webhook"] });

export const Endpoint = t.Object({
  id: t.String({ examples: ["wh_01JH2W8Q4V3N6X0Z9K7B5C1D2E"] }),
  url: ShownUrl,
  events: ShownEvents,
  description: ShownDescription,
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

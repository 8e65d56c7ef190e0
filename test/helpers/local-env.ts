/**
 * The settings every local test and bench run of webhookd shares: loopback only, a fixed admin
 * key, private http targets allowed (receivers are on 127.0.0.1), no probe, no rate limits.
 */
export const ADMIN_KEY = "sk_admin_TestAdminKey0123456789abcdefghijkl";

export const LOCAL_ENV: Readonly<Record<string, string>> = {
  WEBHOOKD_HOST: "127.0.0.1",
  WEBHOOKD_PORT: "0",
  WEBHOOKD_ADMIN_KEY: ADMIN_KEY,
  WEBHOOKD_ALLOW_PRIVATE_TARGETS: "true",
  WEBHOOKD_ALLOW_HTTP: "true",
  WEBHOOKD_PROBE: "false",
  WEBHOOKD_RATE_LIMIT: "0",
  WEBHOOKD_ORG_PUBLISH_RATE: "0",
};

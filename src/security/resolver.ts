import { lookup } from "node:dns/promises";

/** Resolves a host name to all its addresses. Injectable so tests can play DNS (rebinding, mixed answers). */
export type Resolver = (hostname: string) => Promise<string[]>;

/**
 * The OS resolver (getaddrinfo), so /etc/hosts applies as it would to a plain connect. Every answer
 * is returned because the guard must vet all of them; verbatim keeps the OS preference order.
 * Lookup failures are thrown as-is (ENOTFOUND etc.).
 */
export const systemResolver: Resolver = async (hostname) => {
  const answers = await lookup(hostname, { all: true, verbatim: true });
  return answers.map((answer) => answer.address);
};

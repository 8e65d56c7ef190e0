/**
 * Throwaway certificates for HTTPS tests, made with the openssl CLI so no key material is
 * checked into the repo.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCert {
  cert: string;
  key: string;
  /** What a client must trust: the certificate itself if self-signed, else its CA. */
  trust: string;
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

/** `subjectAltNames` uses openssl syntax, e.g. ["DNS:localhost", "IP:127.0.0.1"]. */
export function selfSignedCert(subjectAltNames: string[]): TestCert {
  return inTempDir((dir) => {
    const [certPath, keyPath] = [join(dir, "cert.pem"), join(dir, "key.pem")];
    openssl("req", "-x509", ...EC_KEY, "-days", "1", "-subj", "/CN=webhookd-test",
      "-addext", `subjectAltName=${subjectAltNames.join(",")}`, "-keyout", keyPath, "-out", certPath);
    const cert = readFileSync(certPath, "utf8");
    return { cert, key: readFileSync(keyPath, "utf8"), trust: cert };
  });
}

/** A leaf certificate issued by a fresh throwaway CA (`trust` is that CA's certificate). */
export function caSignedCert(subjectAltNames: string[]): TestCert {
  return inTempDir((dir) => {
    const path = (name: string) => join(dir, name);
    openssl("req", "-x509", ...EC_KEY, "-days", "1", "-subj", "/CN=webhookd-test-ca",
      "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
      "-keyout", path("ca.key"), "-out", path("ca.pem"));
    openssl("req", "-new", ...EC_KEY, "-subj", "/CN=webhookd-test", "-keyout", path("leaf.key"), "-out", path("leaf.csr"));
    writeFileSync(path("leaf.ext"), `subjectAltName=${subjectAltNames.join(",")}\n`);
    openssl("x509", "-req", "-in", path("leaf.csr"), "-CA", path("ca.pem"), "-CAkey", path("ca.key"),
      "-CAcreateserial", "-days", "1", "-extfile", path("leaf.ext"), "-out", path("leaf.pem"));
    return {
      cert: readFileSync(path("leaf.pem"), "utf8"),
      key: readFileSync(path("leaf.key"), "utf8"),
      trust: readFileSync(path("ca.pem"), "utf8"),
    };
  });
}

function inTempDir<T>(work: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "webhookd-tls-"));
  try {
    return work(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openssl(...args: string[]): void {
  const result = Bun.spawnSync(["openssl", ...args], { stdout: "ignore", stderr: "pipe" });
  if (!result.success) throw new Error(`openssl ${args[0]} failed: ${result.stderr.toString()}`);
}

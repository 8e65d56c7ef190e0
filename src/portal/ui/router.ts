/** Routes live in the URL hash: the server serves one page, and a reload or a shared link finds the same screen. */
import { useEffect, useState } from "preact/hooks";

export const currentPath = () => decodeURIComponent(location.hash.replace(/^#/, "")) || "/";

export function navigate(path: string): void {
  location.hash = path;
}

export function usePath(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const on = () => {
      setPath(currentPath());
      // Move focus to the new screen's heading, so keyboard and screen reader users land on it;
      // a screen that loads first shows its heading a few frames later.
      let frames = 0;
      const focus = () => {
        const heading = document.querySelector<HTMLElement>("main h1");
        if (heading) heading.focus();
        else if (++frames < 60) requestAnimationFrame(focus);
      };
      requestAnimationFrame(focus);
    };
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return path;
}

/** Matches "/endpoints/:id" against a path; the named parts, or null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split("/");
  const a = path.split("?")[0]!.split("/");
  if (p.length !== a.length) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i]!.startsWith(":")) out[p[i]!.slice(1)] = a[i]!;
    else if (p[i] !== a[i]) return null;
  }
  return out;
}

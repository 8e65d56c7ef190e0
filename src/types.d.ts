// Bun's text-import loader: SQL migrations are embedded in the binary as strings.
declare module "*.sql" {
  const text: string;
  export default text;
}

// Swagger UI's assets, imported with { type: "file" } so the binary embeds them.
declare module "swagger-ui-dist/*" {
  const path: string;
  export default path;
}

// The portal's bundle (src/portal/dist/, built by scripts/build-portal.ts), imported with { type: "file" }.
declare module "*/dist/portal.js" {
  const path: string;
  export default path;
}
declare module "*/dist/login.js" {
  const path: string;
  export default path;
}
declare module "*/dist/portal.css" {
  const path: string;
  export default path;
}

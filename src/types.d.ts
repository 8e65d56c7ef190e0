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

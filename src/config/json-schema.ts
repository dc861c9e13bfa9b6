/** JSON Schema of `openclaw.json`; loads the zod schema on demand. */
export async function loadConfigJsonSchema(): Promise<Record<string, unknown>> {
  const { configJsonSchema } = await import("./schema.ts");
  return configJsonSchema();
}

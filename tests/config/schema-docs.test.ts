import assert from "node:assert/strict";
import { test } from "node:test";
import { configJsonSchema, configSchema } from "../../src/config/schema.ts";

type JsonSchema = {
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  description?: string;
  examples?: unknown[];
};

/** Every key under `properties`, anywhere in the schema, with its path. */
function everyKey(schema: JsonSchema, path: string, found: Array<{ path: string; schema: JsonSchema }>): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    found.push({ path: path ? `${path}.${key}` : key, schema: child });
    everyKey(child, path ? `${path}.${key}` : key, found);
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === "object") everyKey(schema.additionalProperties, `${path}.<name>`, found);
  if (schema.items) everyKey(schema.items, `${path}[]`, found);
  for (const option of schema.anyOf ?? []) everyKey(option, path, found);
}

test("every key in `faraday config schema` has a description and an example (editor hover and completion)", () => {
  const keys: Array<{ path: string; schema: JsonSchema }> = [];
  everyKey(configJsonSchema() as JsonSchema, "", keys);
  assert.ok(keys.length > 60, `walked ${keys.length} keys`);
  const undocumented = keys.filter(({ schema }) => !schema.description || !Array.isArray(schema.examples) || schema.examples.length === 0).map(({ path }) => path);
  assert.deepEqual(undocumented, []);
});

test("every example in the schema is itself valid where it stands", () => {
  const keys: Array<{ path: string; schema: JsonSchema }> = [];
  everyKey(configJsonSchema() as JsonSchema, "", keys);
  // Top-level sections: an example for a section must validate as that section of a config.
  const topLevel = keys.filter(({ path }) => !path.includes(".") && !path.includes("["));
  for (const { path, schema } of topLevel) {
    for (const example of schema.examples ?? []) {
      const result = configSchema.safeParse({ [path]: example });
      assert.ok(result.success, `${path} example ${JSON.stringify(example)}: ${result.success ? "" : result.error.message}`);
    }
  }
});

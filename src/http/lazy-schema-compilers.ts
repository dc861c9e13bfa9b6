import { createRequire } from "node:module";
import type { FastifyServerOptions } from "fastify";

/** fastify's own compilers, resolved from fastify's folder (they are its dependencies, not ours). */
const requireFromFastify = createRequire(createRequire(import.meta.url).resolve("fastify"));

type CompilersFactory = Required<NonNullable<NonNullable<FastifyServerOptions["schemaController"]>["compilersFactory"]>>;
type BuildValidator = CompilersFactory["buildValidator"];
type BuildSerializer = CompilersFactory["buildSerializer"];

/**
 * fastify's `schemaController.compilersFactory`, loading ajv and fast-json-stringify only when a
 * route actually has a schema. fastify otherwise requires both (~1.3 MB of JavaScript: ajv,
 * ajv-formats, fast-uri, fast-json-stringify) while it builds the app, before the first
 * `/healthz` can answer, even though no route of ours declares one; compiling them is a
 * fifth of a start with an empty compile cache (a fresh volume). The factories are fastify's
 * defaults, only deferred.
 */
export function lazySchemaCompilers(): CompilersFactory {
  let validatorFactory: BuildValidator | undefined;
  let serializerFactory: BuildSerializer | undefined;
  return {
    buildValidator: (externalSchemas, options) => {
      validatorFactory ??= (requireFromFastify("@fastify/ajv-compiler") as () => BuildValidator)();
      return validatorFactory(externalSchemas, options);
    },
    buildSerializer: (externalSchemas, options) => {
      serializerFactory ??= (requireFromFastify("@fastify/fast-json-stringify-compiler") as () => BuildSerializer)();
      return serializerFactory(externalSchemas, options);
    },
  };
}

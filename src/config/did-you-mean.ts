/**
 * "did you mean …?" for a misspelt key or name: the closest known word by Levenshtein distance,
 * when it is close enough to be a typo (at most a third of the word's length, and at most 3 edits).
 */

/** Edit distance (insertions, deletions, substitutions, swaps of neighbours) between two strings, case-insensitive. */
export function levenshtein(left: string, right: string): number {
  const a = left.toLowerCase();
  const b = right.toLowerCase();
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= b.length; j += 1) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + cost);
      // Two neighbours swapped ("modle") is one edit, the commonest typo.
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, (beforePrevious[j - 2] as number) + 1);
      current.push(distance);
    }
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length] as number;
}

/** The candidate closest to `word` when it is plausibly a typo of it; undefined otherwise. */
export function suggestClosest(word: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = levenshtein(word, candidate);
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { candidate, distance };
  }
  return best?.candidate;
}

/** The subset of zod 4's schema internals this walks (`schema._zod.def`). */
interface SchemaNode {
  _zod?: { def?: { type?: string; shape?: Record<string, SchemaNode>; innerType?: SchemaNode; options?: SchemaNode[]; valueType?: SchemaNode; element?: SchemaNode; in?: SchemaNode; getter?: () => SchemaNode } };
}

/**
 * The keys an object in `schema` may have at `path` (array indexes and record keys are walked
 * through), gathered over every branch of a union. Empty when the path leads to no object.
 */
export function knownKeysAt(schema: unknown, path: ReadonlyArray<PropertyKey>): string[] {
  const keys = new Set<string>();
  const visit = (node: SchemaNode | undefined, depth: number, seen: number): void => {
    const definition = node?._zod?.def;
    if (definition === undefined || seen > 64) return;
    switch (definition.type) {
      case "optional":
      case "nullable":
      case "default":
      case "prefault":
      case "readonly":
      case "catch":
        return visit(definition.innerType, depth, seen + 1);
      case "pipe":
        return visit(definition.in, depth, seen + 1);
      case "lazy":
        return visit(definition.getter?.(), depth, seen + 1);
      case "union":
        for (const option of definition.options ?? []) visit(option, depth, seen + 1);
        return;
      case "object": {
        if (depth === path.length) {
          for (const key of Object.keys(definition.shape ?? {})) keys.add(key);
          return;
        }
        return visit(definition.shape?.[String(path[depth])], depth + 1, seen + 1);
      }
      case "record":
        if (depth < path.length) visit(definition.valueType, depth + 1, seen + 1);
        return;
      case "array":
        if (depth < path.length) visit(definition.element, depth + 1, seen + 1);
        return;
      default:
        return;
    }
  };
  visit(schema as SchemaNode, 0, 0);
  return [...keys];
}

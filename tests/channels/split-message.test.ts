import assert from "node:assert/strict";
import { test } from "node:test";
import { splitMessage } from "../../src/channels/split-message.ts";

test("short text is one message", () => {
  assert.deepEqual(splitMessage("hello", 4096), ["hello"]);
});

test("long text splits on paragraphs, then lines, then words, every piece within the limit", () => {
  const paragraphs = Array.from({ length: 30 }, (_, index) => `Paragraph ${index} ${"word ".repeat(30)}`.trim()).join("\n\n");
  const pieces = splitMessage(paragraphs, 500);
  assert.ok(pieces.length > 1);
  for (const piece of pieces) assert.ok(piece.length <= 500, `${piece.length}`);
  assert.ok(pieces.every((piece) => piece.startsWith("Paragraph")), "cut at paragraph boundaries");
  assert.equal(pieces.join(" ").replace(/\s+/g, " "), paragraphs.replace(/\s+/g, " "), "nothing lost");
  const words = splitMessage("alpha ".repeat(400), 100);
  assert.ok(words.every((piece) => piece.length <= 100 && !piece.startsWith(" ") && /alpha$/.test(piece)));
});

test("never splits a surrogate pair", () => {
  const emoji = "😀".repeat(3000); // 6000 UTF-16 units, no spaces
  const pieces = splitMessage(emoji, 2000);
  for (const piece of pieces) {
    assert.ok(piece.length <= 2000);
    assert.ok(!/^[\uDC00-\uDFFF]/.test(piece) && !/[\uD800-\uDBFF]$/.test(piece), "no broken pair");
  }
  assert.equal(pieces.join(""), emoji);
});

test("a code fence cut in two is closed and reopened", () => {
  const code = "```ts\n" + Array.from({ length: 200 }, (_, index) => `const value${index} = ${index};`).join("\n") + "\n```\nAfter the code.";
  const pieces = splitMessage(code, 1000);
  assert.ok(pieces.length > 2);
  for (const piece of pieces.slice(0, -1)) {
    assert.equal((piece.match(/^```/gm) ?? []).length % 2, 0, `balanced fences in: ${piece.slice(0, 40)}…${piece.slice(-20)}`);
    assert.ok(piece.length <= 1000);
  }
  assert.ok(pieces[1]!.startsWith("```ts\n"), "reopened with its language");
  assert.match(pieces.at(-1)!, /After the code\.$/);
});

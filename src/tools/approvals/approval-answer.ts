/**
 * Reading a person's chat reply to "Reply YES to go ahead or NO to cancel". A closed list of
 * words, matched against the whole message: a question ("Yes?", "是不是", "好不好"), a second
 * clause ("好，不要", "ok but not today") or any other word is neither a yes nor a no. The old
 * `^(yes|…|好|是)\W*$` read every non-ASCII character as `\W`, so "是不是" approved a cancel.
 */

/** Whole-message yes-words, already case-folded and NFKC-normalised. */
const YES_WORDS: ReadonlySet<string> = new Set([
  // English
  "yes", "y", "yeah", "yep", "yup", "ok", "okay", "sure", "approve", "approved", "confirm", "confirmed", "go ahead", "do it",
  // Chinese
  "好", "好的", "是", "是的", "可以", "确认", "確認", "同意", "行",
  // Spanish, Portuguese, Italian
  "sí", "si", "vale", "de acuerdo", "adelante", "sim", "pode",
  // French
  "oui", "d'accord", "d’accord", "vas-y", "allez-y",
  // German, Dutch
  "ja", "jawohl", "einverstanden",
  // Japanese, Korean
  "はい", "네", "예",
]);

/** Whole-message no-words. */
const NO_WORDS: ReadonlySet<string> = new Set([
  // English
  "no", "n", "nope", "nah", "cancel", "deny", "denied", "stop", "don't", "don’t", "do not",
  // Chinese
  "不", "否", "不要", "不用", "不是", "不行", "取消", "拒绝", "拒絕", "别", "別",
  // Spanish, Portuguese, Italian
  "cancelar", "cancela", "não", "nao",
  // French
  "non", "annuler", "annule",
  // German, Dutch
  "nein", "abbrechen", "nee",
  // Japanese, Korean
  "いいえ", "아니요", "아니",
]);

/**
 * `yes` or `no` when the whole message — trimmed, NFKC-normalised (full-width letters and "！"
 * become ASCII), case-folded, inner spaces collapsed — is one of the closed list of words,
 * optionally followed by `.`, `!` or `。`; otherwise undefined (not an answer: ask again).
 */
export function parseApprovalAnswer(text: string): "yes" | "no" | undefined {
  const normalised = text.normalize("NFKC").trim().toLowerCase().replace(/\s+/gu, " ");
  const word = normalised.replace(/[.!。]+$/u, "").trimEnd();
  if (YES_WORDS.has(word)) return "yes";
  if (NO_WORDS.has(word)) return "no";
  return undefined;
}

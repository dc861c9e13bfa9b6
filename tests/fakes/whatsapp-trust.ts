/**
 * Makes Baileys trust the WhatsApp fake's certificate root, as a test CA is trusted for TLS.
 *
 *   node --import ./tests/fakes/whatsapp-trust.ts dist/index.js gateway …   (a child gateway)
 *   import "./whatsapp-trust.ts";                                            (in-process tests)
 *
 * Importing it overwrites, in place, the bytes of `WA_CERT_DETAILS.PUBLIC_KEY` — the mutable Buffer
 * that Baileys' Noise handler verifies the server's intermediate certificate against — with the
 * fake's deterministic root public key (see `whatsapp/root-key.ts`). Importing it twice is harmless.
 *
 * Baileys 7.0.0-rc14 does not actually need it: its `Curve.verify` wraps libsignal's
 * `verifySignature` in try/catch, but that function returns false instead of throwing, so every
 * well-formed signature "verifies" and only `issuerSerial === 0` is really checked. Import it
 * anyway: the day Baileys fixes that, a gateway without it fails with "noise intermediate
 * certificate signature invalid" (Boom 400). whatsapp-fake.test.ts watches for that change.
 *
 * "baileys" resolves to node_modules/baileys/lib/index.js, the same module instance the gateway's
 * adapter imports, so the change is seen by every socket the process opens afterwards (the key
 * is read at handshake time, not at import time). Never import this from production code.
 */
import { WA_CERT_DETAILS } from "baileys";
import { FAKE_ROOT_PUBLIC_KEY } from "./whatsapp/root-key.ts";

if (WA_CERT_DETAILS.PUBLIC_KEY.length !== FAKE_ROOT_PUBLIC_KEY.length) {
  throw new Error(`whatsapp-trust: WA_CERT_DETAILS.PUBLIC_KEY is ${WA_CERT_DETAILS.PUBLIC_KEY.length} bytes, expected ${FAKE_ROOT_PUBLIC_KEY.length}; has the Baileys version changed?`);
}
WA_CERT_DETAILS.PUBLIC_KEY.set(FAKE_ROOT_PUBLIC_KEY);

/** True when Baileys currently trusts the fake's root (for assertions in tests). */
export function isWhatsAppFakeTrusted(): boolean {
  return WA_CERT_DETAILS.PUBLIC_KEY.equals(FAKE_ROOT_PUBLIC_KEY);
}

export { FAKE_ROOT_PUBLIC_KEY };

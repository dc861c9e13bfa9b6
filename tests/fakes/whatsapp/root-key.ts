/**
 * The WhatsApp fake's certificate root: a Curve25519 key pair derived from a fixed, public seed,
 * so that `tests/fakes/whatsapp-trust.ts` (which makes Baileys trust it) and the fake (which signs
 * its intermediate certificate with it) agree without sharing any state — the same way a test CA
 * is trusted for TLS. It protects nothing: anyone can derive it, which is the point.
 *
 * Protocol fact: Baileys (noise-handler.js) checks the server's Noise certificate chain against
 * the hard-coded `WA_CERT_DETAILS.PUBLIC_KEY` (WhatsApp's "WhatsAppLongTerm1" root, 32 raw bytes)
 * and requires the intermediate's `issuerSerial` to equal `WA_CERT_DETAILS.SERIAL` (0). Signatures
 * are XEdDSA over Curve25519 keys (libsignal's `curve.calculateSignature`).
 */
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";

const SEED_LABEL = "faraday whatsapp-fake certificate root v1";
const PKCS8_X25519_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");
const SPKI_X25519_PREFIX_LENGTH = 12;

/** A Curve25519 key pair as Baileys' `Curve` uses it: 32-byte private, 32-byte public (no 0x05 prefix). */
export interface RawKeyPair {
  private: Buffer;
  public: Buffer;
}

/** Deterministic Curve25519 key pair from a label (clamped like X25519 does). */
export function keyPairFromLabel(label: string): RawKeyPair {
  const privateKey = createHash("sha256").update(label).digest();
  privateKey[0] = privateKey[0]! & 248;
  privateKey[31] = (privateKey[31]! & 127) | 64;
  const nodeKey = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, privateKey]), format: "der", type: "pkcs8" });
  const spki = createPublicKey(nodeKey).export({ format: "der", type: "spki" });
  return { private: privateKey, public: Buffer.from(spki.subarray(SPKI_X25519_PREFIX_LENGTH)) };
}

/** The fake's root key pair. Only the fake signs with the private half. */
export const FAKE_ROOT_KEY_PAIR: RawKeyPair = keyPairFromLabel(SEED_LABEL);

/** The 32 bytes `whatsapp-trust.ts` writes over `WA_CERT_DETAILS.PUBLIC_KEY`. */
export const FAKE_ROOT_PUBLIC_KEY: Buffer = Buffer.from(FAKE_ROOT_KEY_PAIR.public);

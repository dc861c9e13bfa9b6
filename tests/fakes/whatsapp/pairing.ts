/**
 * The phone's side of linking a companion device, for the WhatsApp fake: QR parsing, the
 * `pair-success` stanza, checking the companion's `pair-device-sign`, and the pairing-code
 * (link code) key exchange.
 *
 * Protocol facts (Baileys 7.0.0-rc14, Utils/validate-connection.js and Socket/messages-recv.js):
 * - QR text: `https://wa.me/settings/linked_devices#<ref>,<noise pub b64>,<identity pub b64>,<adv secret b64>,<platform id>`.
 *   The adv secret exists only in the QR (never on the wire): whoever scans it can sign.
 * - pair-success: `<iq type=set><pair-success><device-identity>ADVSignedDeviceIdentityHMAC</>
 *   <platform name/><device jid lid/></pair-success></iq>`. HMAC-SHA256(advSecret, details);
 *   details = ADVSignedDeviceIdentity{details: ADVDeviceIdentity{rawId, timestamp, keyIndex},
 *   accountSignatureKey, accountSignature = sign(account key, 06 00 || deviceDetails || companion
 *   identity pub)}. `keyIndex` must be set (Baileys calls keyIndex.toString()). (Baileys rc14's
 *   signature checks here never fail — see whatsapp-trust.ts — but the HMAC check is real.)
 * - The companion answers `<iq type=result><pair-device-sign><device-identity key-index>` with
 *   ADVSignedDeviceIdentity (accountSignatureKey stripped) plus deviceSignature = sign(companion
 *   identity, 06 01 || deviceDetails || companion identity pub || account key). The server then
 *   ends the stream with `<stream:error code="515"/>` and the client reconnects and logs in.
 * - Pairing code: the companion sends `link_code_companion_reg stage=companion_hello` with its
 *   ephemeral pub wrapped as salt(32) || iv(16) || AES-256-CTR(pub, PBKDF2-SHA256(code, salt,
 *   131072 iterations)). The phone answers with a `link_code_companion_reg` notification carrying
 *   its identity pub and its own wrapped ephemeral pub; the companion sends `companion_finish` with
 *   salt(32) || iv(12) || AES-GCM(companion identity || primary identity || random(32)) under
 *   HKDF(ECDH(ephemerals), salt, "link_code_pairing_key_bundle_encryption_key"), and both derive
 *   advSecret = HKDF(ECDH(ephemerals) || ECDH(phone identity, companion identity) || random,
 *   info "adv_secret"). Then the phone sends pair-success as for a QR.
 */
import { createCipheriv, createDecipheriv, createHmac, pbkdf2Sync, randomBytes } from "node:crypto";
import { aesDecryptGCM, Curve, hkdf, proto, type BinaryNode } from "baileys";
import { bytes, child, node, unixSeconds } from "./binary-node.ts";

const ACCOUNT_SIGNATURE_PREFIX = Buffer.from([6, 0]);
const DEVICE_SIGNATURE_PREFIX = Buffer.from([6, 1]);
const QR_PREFIX = "https://wa.me/settings/linked_devices#";

export interface ParsedQr {
  ref: string;
  noiseKey: Buffer;
  identityKey: Buffer;
  advSecret: Buffer;
  platformId: string;
}

/** Parses the string Baileys emits as `connection.update.qr`. Throws on anything else. */
export function parseQr(qr: string): ParsedQr {
  if (!qr.startsWith(QR_PREFIX)) throw new Error(`not a WhatsApp linking QR: ${qr.slice(0, 40)}…`);
  const [ref, noise, identity, adv, platformId] = qr.slice(QR_PREFIX.length).split(",");
  if (!ref || !noise || !identity || !adv) throw new Error("QR is missing fields (ref, noise key, identity key, adv secret)");
  return {
    ref,
    noiseKey: Buffer.from(noise, "base64"),
    identityKey: Buffer.from(identity, "base64"),
    advSecret: Buffer.from(adv, "base64"),
    platformId: platformId ?? "",
  };
}

export interface PairSuccessInput {
  iqId: string;
  deviceJid: string;
  deviceLid: string;
  keyIndex: number;
  deviceId: number;
  companionIdentityKey: Buffer;
  advSecret: Buffer;
  /** The phone's identity key pair, which signs for the account. */
  accountKeyPair: { private: Uint8Array; public: Uint8Array };
  platform: string;
  businessName?: string;
}

/** Builds the `pair-success` iq and returns the device details bytes for verifying the reply. */
export function buildPairSuccess(input: PairSuccessInput): { stanza: BinaryNode; deviceDetails: Buffer } {
  const deviceDetails = Buffer.from(proto.ADVDeviceIdentity.encode({
    rawId: input.deviceId,
    timestamp: Math.floor(Date.now() / 1000),
    keyIndex: input.keyIndex,
  }).finish());
  const accountSignature = Curve.sign(
    Buffer.from(input.accountKeyPair.private),
    Buffer.concat([ACCOUNT_SIGNATURE_PREFIX, deviceDetails, input.companionIdentityKey]),
  );
  const signedIdentity = Buffer.from(proto.ADVSignedDeviceIdentity.encode({
    details: deviceDetails,
    accountSignatureKey: input.accountKeyPair.public,
    accountSignature,
  }).finish());
  const hmac = createHmac("sha256", input.advSecret).update(signedIdentity).digest();
  const identityHmac = proto.ADVSignedDeviceIdentityHMAC.encode({ details: signedIdentity, hmac }).finish();
  const content: BinaryNode[] = [
    node("device-identity", {}, identityHmac),
    node("platform", { name: input.platform }),
    node("device", { jid: input.deviceJid, lid: input.deviceLid }),
  ];
  if (input.businessName) content.push(node("biz", { name: input.businessName }));
  return {
    stanza: node("iq", { from: "s.whatsapp.net", type: "set", id: input.iqId, t: unixSeconds() }, [node("pair-success", {}, content)]),
    deviceDetails,
  };
}

/** Checks the companion's `pair-device-sign` reply. Returns an error message, or undefined when valid. */
export function checkPairDeviceSign(reply: BinaryNode, deviceDetails: Buffer, companionIdentityKey: Buffer, accountPublicKey: Uint8Array): string | undefined {
  if (reply.attrs.type !== "result") return `pairing reply is type=${reply.attrs.type}`;
  const identity = bytes(child(child(reply, "pair-device-sign"), "device-identity"));
  if (!identity) return "pairing reply has no pair-device-sign/device-identity";
  const signed = proto.ADVSignedDeviceIdentity.decode(identity);
  if (!signed.details || !Buffer.from(signed.details).equals(deviceDetails)) return "pairing reply signs different device details";
  if (!signed.deviceSignature) return "pairing reply has no device signature";
  const message = Buffer.concat([DEVICE_SIGNATURE_PREFIX, deviceDetails, companionIdentityKey, accountPublicKey]);
  if (!Curve.verify(companionIdentityKey, message, signed.deviceSignature)) return "device signature does not verify";
  return undefined;
}

/** The PBKDF2 key a pairing code wraps ephemeral keys with (same parameters as Baileys). */
function pairingCodeKey(code: string, salt: Buffer): Buffer {
  return pbkdf2Sync(Buffer.from(code, "utf8"), salt, 2 << 16, 32, "sha256");
}

/** Unwraps salt(32) || iv(16) || AES-CTR(pub) with the pairing code. */
export function unwrapWithPairingCode(wrapped: Buffer, code: string): Buffer {
  const salt = wrapped.subarray(0, 32);
  const iv = wrapped.subarray(32, 48);
  const payload = wrapped.subarray(48, 80);
  const decipher = createDecipheriv("aes-256-ctr", pairingCodeKey(code, salt), iv);
  return Buffer.concat([decipher.update(payload), decipher.final()]);
}

export function wrapWithPairingCode(publicKey: Uint8Array, code: string): Buffer {
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const cipher = createCipheriv("aes-256-ctr", pairingCodeKey(code, salt), iv);
  return Buffer.concat([salt, iv, cipher.update(publicKey), cipher.final()]);
}

/**
 * The phone's half of `companion_finish`: decrypts the key bundle and derives the adv secret.
 * Throws when the bundle does not decrypt (a wrong code gives a different ephemeral key).
 */
export function finishLinkCode(input: {
  wrappedKeyBundle: Buffer;
  companionEphemeralPublic: Buffer;
  primaryEphemeral: { private: Uint8Array; public: Uint8Array };
  primaryIdentity: { private: Uint8Array; public: Uint8Array };
}): { advSecret: Buffer; companionIdentityKey: Buffer } {
  const companionShared = Curve.sharedKey(Buffer.from(input.primaryEphemeral.private), input.companionEphemeralPublic);
  const salt = input.wrappedKeyBundle.subarray(0, 32);
  const iv = input.wrappedKeyBundle.subarray(32, 44);
  const ciphertext = input.wrappedKeyBundle.subarray(44);
  const bundleKey = Buffer.from(hkdf(companionShared, 32, { salt, info: "link_code_pairing_key_bundle_encryption_key" }));
  const plaintext = aesDecryptGCM(ciphertext, bundleKey, iv, Buffer.alloc(0));
  const companionIdentityKey = plaintext.subarray(0, 32);
  const primaryIdentityKey = plaintext.subarray(32, 64);
  const random = plaintext.subarray(64, 96);
  if (!primaryIdentityKey.equals(Buffer.from(input.primaryIdentity.public))) throw new Error("key bundle names a different primary identity");
  const identityShared = Curve.sharedKey(Buffer.from(input.primaryIdentity.private), companionIdentityKey);
  const advSecret = Buffer.from(hkdf(Buffer.concat([companionShared, identityShared, random]), 32, { info: "adv_secret" }));
  return { advSecret, companionIdentityKey: Buffer.from(companionIdentityKey) };
}

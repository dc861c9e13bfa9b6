/**
 * The server half of WhatsApp Web's Noise XX handshake and frame transport, mirroring the client
 * half in node_modules/baileys/lib/Utils/noise-handler.js step for step.
 *
 * Protocol facts (Baileys 7.0.0-rc14):
 * - The client's first WebSocket message starts with a 4-byte intro `WA 06 03` (`NOISE_WA_HEADER`;
 *   the 3 is the binary-dictionary version), or `ED 00 01` + 3-byte length + routing info + that
 *   header when creds hold `routingInfo`. Every frame, both ways, is a 3-byte big-endian length
 *   and the payload; the intro is sent once, client side only.
 * - Symmetric state: `hash` starts as `NOISE_MODE` ("Noise_XX_25519_AESGCM_SHA256\0\0\0\0", exactly
 *   32 bytes, so not hashed); salt = key = hash; the header and the client's ephemeral key are
 *   mixed into the hash. mixIntoKey(dh) = HKDF-SHA256(dh, 64, salt) -> salt = first 32 bytes,
 *   key = last 32, counter = 0. Handshake AES-256-GCM uses ONE counter for both directions, IV =
 *   8 zero bytes + the counter as uint32 BE, AAD = the running hash; the ciphertext is then
 *   mixed into the hash.
 * - -> ClientHello{ephemeral}. <- ServerHello{ephemeral, static = enc(server static pub),
 *   payload = enc(CertChain)}, with dh(e, client e) before `static` and dh(s, client e) before
 *   `payload`. -> ClientFinish{static = enc(client noise key pub), payload = enc(ClientPayload)},
 *   with dh(e, client s) between the two.
 * - CertChain: `intermediate.details` (NoiseCertificate.Details, issuerSerial must be 0) is
 *   verified against WA_CERT_DETAILS.PUBLIC_KEY; `leaf.details` against the intermediate's `key`.
 *   Baileys does not check that the leaf key is the Noise static key (we make it so anyway), and
 *   in rc14 its `Curve.verify` never fails on a well-formed signature (libsignal returns false
 *   rather than throwing), so in practice only `issuerSerial === 0` is enforced. The fake signs
 *   properly regardless, so a fixed Baileys still accepts it once whatsapp-trust.ts is imported.
 * - Transport: HKDF(empty, 64, salt) -> [write, read]: the client encrypts with `write` and
 *   decrypts with `read`, so the server does the opposite. Separate counters per direction, AAD
 *   empty. Transport plaintext is a binary node: one flags byte (bit 2 = zlib) + the node.
 */
import {
  aesDecryptGCM, aesEncryptGCM, Curve, hkdf, NOISE_MODE, NOISE_WA_HEADER, proto, sha256,
} from "baileys";
import { FAKE_ROOT_KEY_PAIR, keyPairFromLabel, type RawKeyPair } from "./root-key.ts";

const INTERMEDIATE_KEY_PAIR = keyPairFromLabel("faraday whatsapp-fake intermediate certificate v1");
const INTERMEDIATE_SERIAL = 1;

function counterIv(counter: number): Buffer {
  const iv = Buffer.alloc(12);
  iv.writeUInt32BE(counter, 8);
  return iv;
}

/** Builds the certificate chain the fake presents: root (test key) -> intermediate -> leaf (static key). */
export function buildCertChain(staticPublicKey: Uint8Array): Uint8Array {
  const now = Math.floor(Date.now() / 1000);
  const intermediateDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: INTERMEDIATE_SERIAL,
    issuerSerial: 0, // must equal WA_CERT_DETAILS.SERIAL
    key: INTERMEDIATE_KEY_PAIR.public,
    notBefore: now - 3600,
    notAfter: now + 30 * 86_400,
  }).finish();
  const leafDetails = proto.CertChain.NoiseCertificate.Details.encode({
    serial: 2,
    issuerSerial: INTERMEDIATE_SERIAL,
    key: staticPublicKey,
    notBefore: now - 3600,
    notAfter: now + 86_400,
  }).finish();
  return proto.CertChain.encode({
    intermediate: { details: intermediateDetails, signature: Curve.sign(FAKE_ROOT_KEY_PAIR.private, intermediateDetails) },
    leaf: { details: leafDetails, signature: Curve.sign(INTERMEDIATE_KEY_PAIR.private, leafDetails) },
  }).finish();
}

/** What the server learns from ClientFinish. */
export interface ClientFinishResult {
  /** The client's long-term Noise key (`creds.noiseKey.public`), 32 bytes. */
  clientStatic: Buffer;
  /** The decrypted `proto.ClientPayload` bytes (login or registration). */
  payload: Buffer;
}

export interface NoiseServer {
  /** Consumes ClientHello's ephemeral key; returns the encoded ServerHello HandshakeMessage. */
  serverHello(clientEphemeral: Uint8Array): Uint8Array;
  /** Consumes ClientFinish; switches to transport mode. Throws on a bad tag (wrong keys). */
  clientFinish(encryptedStatic: Uint8Array, encryptedPayload: Uint8Array): ClientFinishResult;
  /** Transport encryption of one outgoing frame payload (server -> client). */
  encrypt(plaintext: Uint8Array): Buffer;
  /** Transport decryption of one incoming frame payload (client -> server). */
  decrypt(ciphertext: Uint8Array): Buffer;
}

/** One Noise session per WebSocket connection. `staticKeyPair` is the fake server's long-term key. */
export function makeNoiseServer(staticKeyPair: RawKeyPair): NoiseServer {
  let hash: Buffer = Buffer.from(NOISE_MODE);
  let salt: Buffer = hash;
  let key: Buffer = hash;
  let counter = 0;
  let ephemeral: RawKeyPair | undefined;
  let transport: { encryptKey: Buffer; decryptKey: Buffer; readCounter: number; writeCounter: number } | undefined;

  const authenticate = (data: Uint8Array): void => {
    hash = sha256(Buffer.concat([hash, data]));
  };
  const mixIntoKey = (data: Uint8Array): void => {
    const expanded = Buffer.from(hkdf(Buffer.from(data), 64, { salt, info: "" }));
    salt = expanded.subarray(0, 32);
    key = expanded.subarray(32);
    counter = 0;
  };
  const handshakeEncrypt = (plaintext: Uint8Array): Buffer => {
    const result = aesEncryptGCM(plaintext, key, counterIv(counter++), hash);
    authenticate(result);
    return result;
  };
  const handshakeDecrypt = (ciphertext: Uint8Array): Buffer => {
    const result = aesDecryptGCM(ciphertext, key, counterIv(counter++), hash);
    authenticate(ciphertext);
    return result;
  };

  authenticate(NOISE_WA_HEADER);

  return {
    serverHello(clientEphemeral) {
      authenticate(clientEphemeral);
      const generated = Curve.generateKeyPair();
      const pair: RawKeyPair = { private: Buffer.from(generated.private), public: Buffer.from(generated.public) };
      ephemeral = pair;
      authenticate(pair.public);
      mixIntoKey(Curve.sharedKey(pair.private, clientEphemeral));
      const encryptedStatic = handshakeEncrypt(staticKeyPair.public);
      mixIntoKey(Curve.sharedKey(staticKeyPair.private, clientEphemeral));
      const encryptedPayload = handshakeEncrypt(buildCertChain(staticKeyPair.public));
      return proto.HandshakeMessage.encode({
        serverHello: { ephemeral: pair.public, static: encryptedStatic, payload: encryptedPayload },
      }).finish();
    },
    clientFinish(encryptedStatic, encryptedPayload) {
      if (!ephemeral) throw new Error("ClientFinish before ClientHello");
      const clientStatic = handshakeDecrypt(encryptedStatic);
      mixIntoKey(Curve.sharedKey(ephemeral.private, clientStatic));
      const payload = handshakeDecrypt(encryptedPayload);
      const expanded = Buffer.from(hkdf(Buffer.alloc(0), 64, { salt, info: "" }));
      transport = {
        decryptKey: expanded.subarray(0, 32), // the client's `write` key
        encryptKey: expanded.subarray(32), // the client's `read` key
        readCounter: 0,
        writeCounter: 0,
      };
      return { clientStatic, payload };
    },
    encrypt(plaintext) {
      if (!transport) throw new Error("transport not ready");
      return aesEncryptGCM(plaintext, transport.encryptKey, counterIv(transport.writeCounter++), Buffer.alloc(0));
    },
    decrypt(ciphertext) {
      if (!transport) throw new Error("transport not ready");
      return aesDecryptGCM(ciphertext, transport.decryptKey, counterIv(transport.readCounter++), Buffer.alloc(0));
    },
  };
}

/** Prefixes a frame payload with its 3-byte big-endian length. */
export function frame(payload: Uint8Array): Buffer<ArrayBufferLike> {
  if (payload.length >= 1 << 24) throw new Error(`frame too large: ${payload.length} bytes`);
  const header = Buffer.from([(payload.length >>> 16) & 0xff, (payload.length >>> 8) & 0xff, payload.length & 0xff]);
  return Buffer.concat([header, payload]);
}

/**
 * Splits a byte stream into frames. The first call strips the client's intro (`WA 06 03`, or the
 * `ED` routing-info variant). Returns complete frames; keeps the remainder for the next call.
 */
export function makeFrameReader(): (chunk: Buffer) => Buffer[] {
  let pending: Buffer = Buffer.alloc(0);
  let introDone = false;
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    if (!introDone) {
      if (pending.length >= 2 && pending[0] === 0x45 && pending[1] === 0x44) {
        // "ED" 00 01 + 3-byte routing length + routing info + WA header
        if (pending.length < 7) return [];
        const routingLength = (pending[4]! << 16) | pending.readUInt16BE(5);
        const introLength = 7 + routingLength + NOISE_WA_HEADER.length;
        if (pending.length < introLength) return [];
        pending = pending.subarray(introLength);
      } else {
        if (pending.length < NOISE_WA_HEADER.length) return [];
        if (!pending.subarray(0, NOISE_WA_HEADER.length).equals(NOISE_WA_HEADER)) {
          throw new Error(`unexpected intro ${pending.subarray(0, 4).toString("hex")}`);
        }
        pending = pending.subarray(NOISE_WA_HEADER.length);
      }
      introDone = true;
    }
    const frames: Buffer[] = [];
    while (pending.length >= 3) {
      const size = (pending[0]! << 16) | (pending[1]! << 8) | pending[2]!;
      if (pending.length < size + 3) break;
      frames.push(pending.subarray(3, size + 3));
      pending = pending.subarray(size + 3);
    }
    return frames;
  };
}

/**
 * A Signal protocol participant on the fake's side of the wire: a contact, or the account's own
 * phone (primary device 0). It is built from Baileys' own pieces — `initAuthCreds()` for its
 * identity, signed pre-key and registration id, an in-memory key store with
 * `addTransactionCapability`, and the default `makeSignalRepository` (libsignal underneath) — so
 * its ciphertexts are exactly what Baileys expects from a peer.
 *
 * Protocol facts:
 * - A key bundle on the wire (`iq xmlns=encrypt` answers and pre-key uploads): `registration`
 *   (uint32 BE), `type` (0x05), `identity` (32 bytes, no 0x05 prefix), `skey` {id (uint24 BE),
 *   value, signature}, `key` {id, value}. Signatures are over the 33-byte (0x05-prefixed) key.
 * - Plaintext is `proto.Message` bytes padded with 1..16 bytes whose value is the pad length
 *   (`encodeWAMessage` / `unpadRandomMax16`).
 * - One-time pre-keys are handed out once each (the server deletes a pre-key it gives away; the
 *   phone uploads more when told it runs low). A second fetch gets the next one; with none left
 *   the bundle has no `<key>` (signed pre-key only), which both Baileys
 *   (`parseAndInjectE2ESessions`, Utils/signal.js) and whatsmeow (`nodeToPreKeyBundle`,
 *   prekeys.go) accept. libsignal deletes a one-time pre-key once a `pkmsg` built on it is
 *   decrypted (`SessionBuilder.initIncoming` → `removePreKey`); a later `pkmsg` with a new base key
 *   on that same pre-key fails with libsignal's "Invalid PreKey ID" — what a real phone answers
 *   with a retry receipt.
 * - `pkmsg` is a PreKeyWhisperMessage (first message of a session), `msg` a WhisperMessage,
 *   `skmsg` a sender-key (group) message whose key arrives in a `senderKeyDistributionMessage`
 *   inside a 1:1 `pkmsg`/`msg`.
 */
import {
  addTransactionCapability, DEFAULT_CONNECTION_CONFIG, encodeBigEndian, encodeWAMessage, generateSignalPubKey,
  getNextPreKeys, initAuthCreds, proto, unpadRandomMax16,
  type AuthenticationCreds, type BinaryNode, type SignalDataSet, type SignalDataTypeMap, type SignalKeyStore,
  type SignalRepositoryWithLIDStore,
} from "baileys";
import { pino } from "pino";

const silentLogger = pino({ level: "silent" });

/** A pre-key bundle as `injectE2ESession` wants it. */
export interface PreKeyBundle {
  registrationId: number;
  /** 33 bytes, 0x05-prefixed. */
  identityKey: Uint8Array;
  signedPreKey: { keyId: number; publicKey: Uint8Array; signature: Uint8Array };
  preKey?: { keyId: number; publicKey: Uint8Array };
}

export interface SignalParty {
  /** Phone-number JID of this device, e.g. `15557654321@s.whatsapp.net`. */
  readonly pnJid: string;
  /** LID JID of this device, e.g. `200015557654321@lid`. */
  readonly lidJid: string;
  readonly creds: AuthenticationCreds;
  /** The identity key (32 bytes). */
  readonly identityPublicKey: Buffer;
  /** A bundle node `<user jid=…>` for a key-fetch answer; consumes one pre-key (none when all are used up). */
  bundleNode(jid: string): Promise<{ node: BinaryNode; bundle: PreKeyBundle }>;
  /** Encrypts `message` for `toJid`, starting a session from `bundle` when there is none. */
  encrypt(toJid: string, message: proto.IMessage, bundle: () => PreKeyBundle | undefined): Promise<{ type: "pkmsg" | "msg"; ciphertext: Uint8Array }>;
  /** Decrypts a `pkmsg`/`msg` that `fromJid` sent to this party. */
  decrypt(fromJid: string, type: "pkmsg" | "msg", ciphertext: Uint8Array): Promise<proto.Message>;
  /** Sender-key encryption for a group; the distribution message must reach each recipient first. */
  encryptGroup(groupJid: string, message: proto.IMessage): Promise<{ ciphertext: Uint8Array; senderKeyDistributionMessage: Uint8Array }>;
  /** Processes a sender-key distribution message from `authorJid` in a group. */
  processSenderKeyDistribution(authorJid: string, item: proto.Message.ISenderKeyDistributionMessage): Promise<void>;
  decryptGroup(groupJid: string, authorJid: string, ciphertext: Uint8Array): Promise<proto.Message>;
}

/** A plain in-memory `SignalKeyStore` (also handy as a Baileys auth key store in tests). */
export function makeMemoryKeyStore(): SignalKeyStore {
  const data = new Map<string, Map<string, unknown>>();
  return {
    get(type, ids) {
      const bucket = data.get(type);
      const result: { [id: string]: SignalDataTypeMap[typeof type] } = {};
      for (const id of ids) {
        const value = bucket?.get(id);
        if (value !== undefined) result[id] = value as SignalDataTypeMap[typeof type];
      }
      return result;
    },
    set(values: SignalDataSet) {
      for (const [type, entries] of Object.entries(values)) {
        let bucket = data.get(type);
        if (!bucket) data.set(type, (bucket = new Map()));
        for (const [id, value] of Object.entries(entries ?? {})) {
          if (value === null || value === undefined) bucket.delete(id);
          else bucket.set(id, value);
        }
      }
    },
    clear() {
      data.clear();
    },
  };
}

function decodePadded(plaintext: Uint8Array): proto.Message {
  return proto.Message.decode(unpadRandomMax16(plaintext));
}

/**
 * Creates a party with a fresh identity and `preKeyCount` one-time pre-keys. With `refill` (the
 * default) it uploads `preKeyCount` more when they run out, as a phone does; without, later
 * bundles carry no one-time pre-key.
 */
export async function makeSignalParty(pnJid: string, lidJid: string, preKeyCount = 50, refill = true): Promise<SignalParty> {
  const creds = initAuthCreds();
  const keys = addTransactionCapability(makeMemoryKeyStore(), silentLogger, { maxCommitRetries: 1, delayBetweenTriesMs: 10 });
  // No LID lookups on this side: the party addresses the gateway device by the JID we pass.
  const repository: SignalRepositoryWithLIDStore = DEFAULT_CONNECTION_CONFIG.makeSignalRepository(
    { creds, keys }, silentLogger, async () => undefined,
  );
  const unusedPreKeys: number[] = [];
  const topUp = async (): Promise<void> => {
    const { update, preKeys } = await getNextPreKeys({ creds, keys }, preKeyCount);
    Object.assign(creds, update);
    unusedPreKeys.push(...Object.keys(preKeys).map(Number));
  };
  await topUp();

  return {
    pnJid,
    lidJid,
    creds,
    identityPublicKey: Buffer.from(creds.signedIdentityKey.public),
    async bundleNode(jid) {
      if (!unusedPreKeys.length && refill) await topUp();
      const preKeyId = unusedPreKeys.shift();
      const preKey = preKeyId === undefined ? undefined : (await keys.get("pre-key", [String(preKeyId)]))[String(preKeyId)];
      if (preKeyId !== undefined && !preKey) throw new Error(`pre-key ${preKeyId} missing`);
      const bundle: PreKeyBundle = {
        registrationId: creds.registrationId,
        identityKey: generateSignalPubKey(creds.signedIdentityKey.public),
        signedPreKey: {
          keyId: creds.signedPreKey.keyId,
          publicKey: generateSignalPubKey(creds.signedPreKey.keyPair.public),
          signature: creds.signedPreKey.signature,
        },
        ...(preKey && preKeyId !== undefined ? { preKey: { keyId: preKeyId, publicKey: generateSignalPubKey(preKey.public) } } : {}),
      };
      const content: BinaryNode[] = [
        { tag: "registration", attrs: {}, content: encodeBigEndian(creds.registrationId) },
        { tag: "type", attrs: {}, content: Buffer.from([5]) },
        { tag: "identity", attrs: {}, content: Buffer.from(creds.signedIdentityKey.public) },
        {
          tag: "skey",
          attrs: {},
          content: [
            { tag: "id", attrs: {}, content: encodeBigEndian(creds.signedPreKey.keyId, 3) },
            { tag: "value", attrs: {}, content: Buffer.from(creds.signedPreKey.keyPair.public) },
            { tag: "signature", attrs: {}, content: Buffer.from(creds.signedPreKey.signature) },
          ],
        },
      ];
      if (preKey && preKeyId !== undefined) {
        content.push({
          tag: "key",
          attrs: {},
          content: [
            { tag: "id", attrs: {}, content: encodeBigEndian(preKeyId, 3) },
            { tag: "value", attrs: {}, content: Buffer.from(preKey.public) },
          ],
        });
      }
      return { node: { tag: "user", attrs: { jid }, content }, bundle };
    },
    async encrypt(toJid, message, bundle) {
      const { exists } = await repository.validateSession(toJid);
      if (!exists) {
        const session = bundle();
        if (!session) throw new Error(`no Signal session with ${toJid} and no pre-keys uploaded for it`);
        await repository.injectE2ESession({ jid: toJid, session });
      }
      return repository.encryptMessage({ jid: toJid, data: encodeWAMessage(message) });
    },
    async decrypt(fromJid, type, ciphertext) {
      return decodePadded(await repository.decryptMessage({ jid: fromJid, type, ciphertext }));
    },
    async encryptGroup(groupJid, message) {
      return repository.encryptGroupMessage({ group: groupJid, meId: pnJid, data: encodeWAMessage(message) });
    },
    async processSenderKeyDistribution(authorJid, item) {
      await repository.processSenderKeyDistributionMessage({ authorJid, item });
    },
    async decryptGroup(groupJid, authorJid, ciphertext) {
      return decodePadded(await repository.decryptGroupMessage({ group: groupJid, authorJid, msg: ciphertext }));
    },
  };
}

/** Converts a raw 32-byte public key to the 33-byte form libsignal wants. */
export function signalPublicKey(key: Uint8Array): Uint8Array {
  return generateSignalPubKey(key);
}

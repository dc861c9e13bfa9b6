import pino, { type Logger, type LevelWithSilent, type DestinationStream } from "pino";

export type { Logger };

/** Paths pino censors wherever they appear: a last line of defence; we also never log secrets on purpose. */
const REDACT_PATHS = [
  "token", "apiKey", "botToken", "secret", "password", "authorization",
  "*.token", "*.apiKey", "*.botToken", "*.secret", "*.password", "*.authorization",
  "headers.authorization", "req.headers.authorization", "req.headers.cookie",
];

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where lines go; default stdout. */
  destination?: NodeJS.WritableStream;
  /** Human-readable lines instead of JSON; default: when the destination is a TTY. */
  pretty?: boolean;
  /** Also hand every line (JSON, after redaction) here: the gateway's in-memory log for `/api/logs`. */
  tee?: (line: string) => void;
  /**
   * Secret values (e.g. from the environment) replaced by "[redacted]" wherever they appear in a
   * line, whatever key holds them: the key-based redaction only knows field names.
   */
  redactValues?: readonly string[];
}

/** Values shorter than this are not scrubbed from lines (they would match ordinary text). */
const MIN_SCRUBBED_LENGTH = 12;

/** The values of environment variables that name secrets (`*_TOKEN`, `*_KEY`, `*SECRET*`, `*PASSWORD*`). */
export function secretValuesFrom(variables: Readonly<Record<string, string | undefined>>): string[] {
  const values = new Set<string>();
  for (const [name, value] of Object.entries(variables)) {
    if (value && value.length >= MIN_SCRUBBED_LENGTH && /(TOKEN|_KEY|APIKEY|SECRET|PASSWORD|CREDENTIAL)/i.test(name)) values.add(value);
  }
  return [...values];
}

function scrubber(values: readonly string[]): (line: string) => string {
  // A value appears in a JSON line as its JSON-escaped form.
  const forms = [...new Set(values.filter((value) => value.length >= MIN_SCRUBBED_LENGTH).flatMap((value) => [value, JSON.stringify(value).slice(1, -1)]))];
  if (forms.length === 0) return (line) => line;
  return (line) => {
    for (const form of forms) if (line.includes(form)) line = line.split(form).join("[redacted]");
    return line;
  };
}

/** pino, JSON when not a TTY, short readable lines when it is. Never a secret. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stdout;
  const pretty = options.pretty ?? Boolean((destination as NodeJS.WriteStream).isTTY);
  const output: DestinationStream = pretty ? prettyStream(destination) : (destination as DestinationStream);
  const scrub = scrubber(options.redactValues ?? []);
  const tee = options.tee;
  const sink: DestinationStream = tee || options.redactValues?.length
    ? {
        write(line: string) {
          const clean = scrub(line);
          tee?.(clean);
          output.write(clean);
        },
      }
    : output;
  return pino(
    {
      level: options.level ?? "info",
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    sink,
  );
}

const LEVEL_NAMES: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };
const OMIT = new Set(["level", "time", "pid", "hostname", "msg"]);

function prettyStream(destination: NodeJS.WritableStream): DestinationStream {
  return {
    write(line: string) {
      try {
        const entry = JSON.parse(line) as Record<string, unknown>;
        const time = typeof entry.time === "string" ? entry.time.slice(11, 19) : "";
        const extras = Object.entries(entry)
          .filter(([key]) => !OMIT.has(key))
          .map(([key, value]) => `${key}=${typeof value === "string" ? value : JSON.stringify(value)}`)
          .join(" ");
        destination.write(`${time} ${LEVEL_NAMES[entry.level as number] ?? entry.level} ${entry.msg ?? ""}${extras ? ` ${extras}` : ""}\n`);
      } catch {
        destination.write(line);
      }
    },
  };
}

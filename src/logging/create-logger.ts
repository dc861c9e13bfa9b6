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
}

/** pino, JSON when not a TTY, short readable lines when it is. Never a secret. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.destination ?? process.stdout;
  const pretty = options.pretty ?? Boolean((destination as NodeJS.WriteStream).isTTY);
  return pino(
    {
      level: options.level ?? "info",
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pretty ? prettyStream(destination) : (destination as DestinationStream),
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

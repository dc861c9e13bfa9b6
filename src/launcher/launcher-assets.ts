import { readFile } from "node:fs/promises";

/** The page's files, bundled with the package (no CDN); read relative to this module in src/ and dist/. */
const ASSETS_DIR = new URL("../../assets/launcher/", import.meta.url);

const FILES = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/launcher.css": { file: "launcher.css", type: "text/css; charset=utf-8" },
  "/launcher.js": { file: "launcher.js", type: "text/javascript; charset=utf-8" },
} as const;

export type AssetPath = keyof typeof FILES;
export const ASSET_PATHS = Object.keys(FILES) as AssetPath[];

export interface Asset {
  readonly type: string;
  readonly body: Buffer;
}

/** Load every asset once. @throws when a file is missing (a broken install). */
export async function loadAssets(directory: URL = ASSETS_DIR): Promise<Map<AssetPath, Asset>> {
  const assets = new Map<AssetPath, Asset>();
  for (const path of ASSET_PATHS) {
    const entry = FILES[path];
    assets.set(path, { type: entry.type, body: await readFile(new URL(entry.file, directory)) });
  }
  return assets;
}

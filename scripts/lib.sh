# Shared by scripts/demo and scripts/test: a Python >= 3.11 virtual environment in .venv.

# Run a command as root: directly when we are root, else through sudo when it exists.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "need root for: $*" >&2; return 1
  fi
}

# Install the Debian packages named, those not installed yet, with one apt-get update.
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "please install: ${missing[*]}" >&2; return 1
  fi
  echo "installing Debian packages: ${missing[*]}" >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
}

# Create .venv with a Python >= 3.11 (installing Debian's venv module when it is missing).
make_venv() {
  local python=${PYTHON:-python3}
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "syncd needs Python >= 3.11; $python is $("$python" --version 2>&1)" >&2; return 1; }
  if [ ! -x .venv/bin/python ]; then
    "$python" -c 'import ensurepip, venv' 2>/dev/null \
      || apt_install "python3-venv" || apt_install "python$("$python" -c \
        'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')-venv"
    "$python" -m venv .venv
  fi
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
}

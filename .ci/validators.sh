# Sourced by .ci/run: installs the offline checkers the verification tests call (see
# $SIGIL_SHARED/validators/README.md) into .validators/ (git-ignored) and exports where they are:
#   SIGIL_PYTHON     a Python with eql==1.0.1 and duckdb-kql[duckdb]==1.1.2 (eql_eval.py, kql_exec.py)
#   SIGIL_NODE_PATH  a node_modules folder holding @kusto/language-service-next@12.4.1 (kql_check.js:
#                    NODE_PATH=$SIGIL_NODE_PATH node $SIGIL_SHARED/validators/kql_check.js ...)
# Idempotent: a stamp file records the pinned versions; a second run with the same pins installs
# nothing. Quiet on success; on failure prints the installer's output and returns non-zero.
# Usable by hand too: `source .ci/validators.sh` from the repository root.

sigil_install_validators() {
    local root py_pins node_pin stamp log
    root="$PWD/.validators"
    py_pins='eql==1.0.1 duckdb-kql[duckdb]==1.1.2'
    node_pin='@kusto/language-service-next@12.4.1'
    stamp="$root/installed"
    log="$root/install.log"
    mkdir -p "$root"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$py_pins | $node_pin" ] \
        || [ ! -x "$root/py/bin/python" ] \
        || [ ! -d "$root/node/node_modules/@kusto/language-service-next" ]; then
        rm -f "$stamp"
        # shellcheck disable=SC2086 # the pins are separate words on purpose
        if ! {
            { [ -x "$root/py/bin/python" ] || python3 -m venv "$root/py"; } \
                && "$root/py/bin/pip" install -q --disable-pip-version-check $py_pins \
                && mkdir -p "$root/node" \
                && (cd "$root/node" && npm install --silent --no-audit --no-fund "$node_pin")
        } >"$log" 2>&1; then
            echo "validator install failed; its output:" >&2
            cat "$log" >&2
            return 1
        fi
        echo "$py_pins | $node_pin" >"$stamp"
    fi
    export SIGIL_PYTHON="$root/py/bin/python"
    export SIGIL_NODE_PATH="$root/node/node_modules"
    # check the tools load, so a broken install fails here rather than as skipped tests
    "$SIGIL_PYTHON" -c 'import eql, duckdb, duckdb_kql' \
        && NODE_PATH="$SIGIL_NODE_PATH" node -e 'require("@kusto/language-service-next/bridge.js")' \
        || { echo "validators installed but do not load (see $log)" >&2; return 1; }
}

#!/usr/bin/env bash
# Evidence from a real TPM (swtpm) for the Windows attestation checks of scripts/windows.sh (issue 14): the Linux
# keyseal plays the machine, exactly as in enrol.sh, and a check command then runs against what it made while the
# swtpm is still up (so it can activate a credential the Windows keyseal.exe made).
#   tests/attest/windows_fixture.sh MODULE KEYSEAL_CLI CMD [ARGS...]
# MODULE and KEYSEAL_CLI are the Linux build's libkeyseal.so and keyseal. The fixture reuses enrol.sh's setup and
# steps (everything above its first run_step, sourced unchanged: a swtpm manufactured with EK certificates by a
# swtpm-localca of its own, on loopback; a test CA), then:
#   manufacture -> swtpm started -> test CA -> TPM token with an EC P-256 key (id 01) -> attest-ak -> the EK
#   certificate checked -> make-credential/activate on Linux -> AK certificate issued and stored -> attest (tpm and
#   json) with a fresh nonce, verified on Linux.
# CMD then runs with these variables exported (paths in the fixture's temp dir, removed afterwards with the
# swtpm stopped, unless IX_KEEP=1):
#   FIX_EVIDENCE (JSON evidence of key 01), FIX_STATEMENT (the same as a WebAuthn/ACME "tpm" statement),
#   FIX_NONCE (hex), FIX_CA_ROOT (test CA), FIX_EK_ROOTS (swtpm-localca root + intermediate), FIX_AK (attest-ak
#   document), FIX_EK_CERT (the EK certificate the CA checked), FIX_LINUX_KEYSEAL (a wrapper: the Linux keyseal
#   with the module, store and TCTI of this TPM token, e.g. for `attest-ak --activate`).
# Exit status: CMD's; 1 when the fixture could not be made (no swtpm, a failing step: its output is shown).
set -euo pipefail
[[ $# -ge 3 ]] || { echo "usage: $0 MODULE KEYSEAL_CLI CMD [ARGS...]" >&2; exit 2; }
FIX_ENROL=$(cd "$(dirname "$0")" && pwd)/enrol.sh
[[ -r "$FIX_ENROL" ]] || { echo "windows_fixture.sh: $FIX_ENROL not found" >&2; exit 1; }
FIX_CMD=("${@:3}")
set -- "$1" "$2"
# enrol.sh's head (requirements, ix_init with its temp dir, cleanup trap and swtpm bookkeeping, the step functions)
# without its run_step sequence. The cut is checked below: a changed enrol.sh fails here, never silently.
# shellcheck source=enrol.sh
source <(sed '/^run_step manufacture /,$d' "$FIX_ENROL")
for f in step_manufacture step_test_ca step_attest_ak step_ek_cert step_credential step_issue_ak_cert step_attest \
         ix_start_swtpm ix_create_token ix_slot_id ix_keygen run_step; do
  declare -F "$f" > /dev/null || { echo "windows_fixture.sh: enrol.sh no longer defines $f" >&2; exit 1; }
done

# need NAME DESCRIPTION FUNCTION [ARGS...]: run_step, and stop at the first failure (every step needs the last).
need() {
  run_step "$@"
  (( ${#IX_FAILED[@]} == 0 )) || { echo "== windows_fixture.sh: step $1 failed: no evidence" >&2; exit 1; }
}

need manufacture "swtpm_setup --create-ek-cert --create-platform-cert with a swtpm-localca in the temp dir" \
  step_manufacture
ix_start_swtpm
need test-ca "a test CA (EC P-256) made with openssl in the temp dir" step_test_ca
need create-token "create the TPM token '$IX_LABEL'" ix_create_token
SLOT=$(ix_slot_id)
need keygen-ec "pkcs11-tool --keypairgen EC P-256 on the TPM token (id 01)" ix_keygen EC:prime256v1 01 ec-key
need attest-ak "keyseal attest-ak: the AK, the EK and its certificates; ak_name recomputed" step_attest_ak
need ek-cert "the CA picks the EK certificate of ek_public and checks its chain (openssl verify)" step_ek_cert
need credential "make-credential (random secret) -> attest-ak --activate -> same secret (Linux)" step_credential
need ak-cert "AK certificate from the test CA -> attest-ak --store-cert" step_issue_ak_cert
need attest-ec "attest the EC key (tpm and json) with a fresh nonce; verify-attestation passes (Linux)" \
  step_attest 01 ec

cat > "$W/linux-keyseal" <<EOF
#!/bin/sh
export KEYSEAL_STORE='$KEYSEAL_STORE' KEYSEAL_CONF='$KEYSEAL_CONF' KEYSEAL_BACKEND=tpm KEYSEAL_TCTI='$KEYSEAL_TCTI'
exec '$CLI' --module '$MODULE' "\$@"
EOF
chmod +x "$W/linux-keyseal"
export FIX_EVIDENCE=$CA/ec.json FIX_STATEMENT=$CA/ec.tpm FIX_NONCE FIX_CA_ROOT=$CA/ca.pem FIX_EK_ROOTS=$W/ek-roots.pem \
  FIX_AK=$CA/ak.json FIX_EK_CERT=$CA/ekcert.pem FIX_LINUX_KEYSEAL=$W/linux-keyseal
FIX_NONCE=$(cat "$CA/ec.nonce")
echo "== windows_fixture.sh: evidence from swtpm ($KEYSEAL_TCTI) in $W; running: ${FIX_CMD[*]}"
rc=0
"${FIX_CMD[@]}" || rc=$?
exit "$rc"

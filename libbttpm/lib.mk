# libbttpm: node key custody in a TPM 2.0 (tpm2-tss ESAPI), a software
# fallback, TPM attestation and admission.  Variables only; the rules are
# in the top-level Makefile.
bttpm_DESC        := BlockTree key custody: node keys sealed in a TPM 2.0, software fallback, TPM attestation and admission
bttpm_DEPS        := btcore
bttpm_PKGS        := tss2-esys tss2-tctildr tss2-mu tss2-rc libcrypto
bttpm_PC_REQ      :=
bttpm_PC_REQPRIV  := tss2-esys tss2-tctildr tss2-mu tss2-rc libcrypto
bttpm_BENCH_LIBS  :=

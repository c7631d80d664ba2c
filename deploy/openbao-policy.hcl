# The OpenBao (or Vault) policy of privacy_saas's token: one transit key per scope, and the register of
# destroyed keys. Mount paths are the defaults (OPENBAO_TRANSIT_MOUNT=transit, OPENBAO_KV_MOUNT=privacy-saas)
# and key names the default prefix (PRIVACY_SAAS_KEYSTORE_PREFIX=privacy-saas): adjust all three together.
#
#   bao policy write privacy-saas deploy/openbao-policy.hcl
#   bao token create -policy=privacy-saas -period=768h     (a periodic token; renew it, or use AppRole)
#
# tests/crypto/test_crypto_keystore.py runs the key store with a token of exactly this policy.

# Create a scope's key, read its versions, allow and carry out its deletion, rotate it.
path "transit/keys/privacy-saas-*" {
  capabilities = ["create", "read", "update", "delete"]
}

# The start-up check lists every key once.
path "transit/keys" {
  capabilities = ["list"]
}

# Wrap, unwrap, re-wrap. `update` only: with `create`, encrypt would re-create a missing (destroyed) key.
path "transit/encrypt/privacy-saas-*" {
  capabilities = ["update"]
}
path "transit/decrypt/privacy-saas-*" {
  capabilities = ["update"]
}
path "transit/rewrap/privacy-saas-*" {
  capabilities = ["update"]
}

# The register of destroyed keys: name, versions, date. Written once per destruction, never deleted.
path "privacy-saas/destroyed/*" {
  capabilities = ["create", "read"]
}
path "privacy-saas/destroyed" {
  capabilities = ["list"]
}

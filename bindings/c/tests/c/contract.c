/*
 * The C contract: what a caller's mistake gives (a status and a stable code, never a crash),
 * what each accessor reads from the golden tokens, and that NULL is accepted wherever the
 * header says so.
 *
 *   contract VECTORS_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "licet.h"

static const char *dir;
static int checks, failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            printf("FAIL line %d: %s\n", __LINE__, #cond);                 \
        }                                                                  \
    } while (0)

static unsigned char *slurp(const char *rel, size_t *len) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    *len = buf ? fread(buf, 1, (size_t)n, f) : 0;
    fclose(f);
    return buf;
}

/* The call failed with `status` and `code`; frees the error. */
static int failed_with(licet_status st, licet_error *err, licet_status status, const char *code) {
    int ok = st == status && err && licet_error_status(err) == status &&
             strcmp(licet_error_code(err), code) == 0 && strlen(licet_error_message(err)) > 0;
    if (!ok)
        printf("  got status %d code %s\n", (int)st, err ? licet_error_code(err) : "(none)");
    licet_error_free(err);
    return ok;
}

static int streq(licet_str s, const char *want) {
    return s.data && s.len == strlen(want) && memcmp(s.data, want, s.len) == 0 &&
           s.data[s.len] == '\0';
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    dir = argv[1];
    licet_error *err = NULL;
    licet_status st;

    CHECK(strlen(licet_version()) > 0);
    CHECK(licet_error_code(NULL) == NULL && licet_error_message(NULL) == NULL);
    licet_error_free(NULL);
    licet_keyset_free(NULL);
    licet_context_free(NULL);
    licet_license_free(NULL);
    licet_revocations_free(NULL);
    licet_offline_request_free(NULL);
    licet_receipt_free(NULL);
    licet_client_free(NULL);
    licet_client_config_free(NULL);
    licet_bytes_free(NULL);

    /* Keys: a caller's mistakes, and the forms a vendor's key comes in. */
    licet_keyset *keys = NULL;
    CHECK(licet_keyset_new(&keys, &err) == LICET_STATUS_OK && err == NULL);
    st = licet_keyset_add_pem(NULL, "x", 1, &err);
    CHECK(failed_with(st, err, LICET_STATUS_INVALID_ARGUMENT, "invalid_argument"));
    err = NULL;
    st = licet_keyset_add_pem(keys, "\xff\xfe", 2, &err);
    CHECK(failed_with(st, err, LICET_STATUS_INVALID_ARGUMENT, "invalid_utf8"));
    err = NULL;
    st = licet_keyset_add_pem(keys, NULL, 10, &err);
    CHECK(failed_with(st, err, LICET_STATUS_INVALID_ARGUMENT, "invalid_argument"));
    err = NULL;
    st = licet_keyset_add_pem(keys, "no key here", 11, &err);
    CHECK(failed_with(st, err, LICET_STATUS_REFUSED, "invalid_key"));
    err = NULL;
    unsigned char short_key[31] = {0};
    st = licet_keyset_add_ed25519(keys, short_key, sizeof short_key, &err);
    CHECK(failed_with(st, err, LICET_STATUS_INVALID_ARGUMENT, "invalid_argument"));
    err = NULL;
    /* A small-order point is not a key. */
    unsigned char small[32] = {1};
    st = licet_keyset_add_ed25519(keys, small, 32, &err);
    CHECK(failed_with(st, err, LICET_STATUS_REFUSED, "invalid_key"));
    err = NULL;
    CHECK(licet_keyset_len(keys) == 0);
    /* The golden key with CRLF line ends and blank lines around it, as a file from Windows. */
    size_t pem_len;
    char *pem = (char *)slurp("keys/ed25519-a.pem", &pem_len);
    char *crlf = malloc(2 * pem_len + 8);
    size_t n = 0;
    crlf[n++] = '\n';
    for (size_t i = 0; i < pem_len; i++) {
        if (pem[i] == '\n') crlf[n++] = '\r';
        crlf[n++] = pem[i];
    }
    crlf[n++] = '\r';
    crlf[n++] = '\n';
    CHECK(licet_keyset_add_pem(keys, crlf, n, &err) == LICET_STATUS_OK);
    free(crlf);
    free(pem);
    CHECK(licet_keyset_len(keys) == 1);
    /* No error object wanted: the status alone. */
    CHECK(licet_keyset_add_pem(keys, "junk", 4, NULL) == LICET_STATUS_REFUSED);

    /* The context of the golden cases. */
    const char *fp = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    licet_context *ctx = NULL;
    CHECK(licet_context_new(1800000000, "acme-pro", 8, &ctx, &err) == LICET_STATUS_OK);
    CHECK(licet_context_set_fingerprint(ctx, fp, strlen(fp), &err) == LICET_STATUS_OK);
    CHECK(licet_context_set_domain(ctx, "example.com", 11, &err) == LICET_STATUS_OK);
    CHECK(licet_context_add_entitlement(ctx, "pro", 3, &err) == LICET_STATUS_OK);
    st = licet_context_set_device_key(ctx, short_key, 31, &err);
    CHECK(failed_with(st, err, LICET_STATUS_INVALID_ARGUMENT, "invalid_argument"));
    err = NULL;

    /* Every claim of the token that carries them all. */
    size_t len;
    unsigned char *token = slurp("tokens/valid-all-claims.cbor", &len);
    licet_license *l = NULL;
    st = licet_verify(token, len, keys, ctx, NULL, &err);
    CHECK(failed_with(st, err, LICET_STATUS_INVALID_ARGUMENT, "invalid_argument"));
    err = NULL;
    CHECK(licet_verify(token, len, keys, ctx, &l, &err) == LICET_STATUS_OK && err == NULL);
    free(token);
    CHECK(licet_license_is_verified(l));
    CHECK(streq(licet_license_id(l), "LIC-0001"));
    CHECK(streq(licet_license_product(l), "acme-pro"));
    CHECK(streq(licet_license_issuer(l), "licet"));
    CHECK(streq(licet_license_subject(l), "customer-42"));
    CHECK(streq(licet_license_audience(l), "acme-desktop"));
    CHECK(streq(licet_license_kind(l), "subscription"));
    CHECK(streq(licet_license_algorithm(l), "EdDSA"));
    CHECK(licet_license_issued_at(l) == 1799913600);
    int64_t t = 0;
    CHECK(licet_license_expires_at(l, &t) && t == 1831536000);
    CHECK(licet_license_not_before(l, &t) && t == 1799913600);
    CHECK(licet_license_refresh_after(l, &t) && t == 1800086400);
    uint64_t grace = 0;
    CHECK(licet_license_offline_grace(l, &grace) && grace == 604800);
    uint32_t seats = 0;
    CHECK(licet_license_seats(l, &seats) && seats == 5);
    unsigned char id[16], kid[8], hwid[16], device[32];
    CHECK(licet_license_token_id(l, id) && id[0] == 0x11 && id[15] == 0x11);
    CHECK(licet_license_kid(l, kid) && kid[0] == 0x90 && kid[7] == 0x3b);
    CHECK(licet_license_hwid(l, hwid) && hwid[0] == 0x62 && hwid[15] == 0x22);
    CHECK(licet_license_device_key(l, device));
    CHECK(licet_license_domain_count(l) == 1 && streq(licet_license_domain(l, 0), "example.com"));
    CHECK(licet_license_domain(l, 1).data == NULL);
    CHECK(licet_license_entitlement_count(l) == 3);
    CHECK(streq(licet_license_entitlement(l, 0), "export"));
    CHECK(licet_license_has_entitlement(l, "sso", 3));
    CHECK(!licet_license_has_entitlement(l, "enterprise", 10));
    CHECK(licet_license_metadata_count(l) == 3);
    licet_meta m = licet_license_metadata_get(l, "plan", 4);
    CHECK(m.kind == LICET_META_KIND_TEXT && streq(m.text, "team") && streq(m.key, "plan"));
    m = licet_license_metadata_get(l, "max_projects", 12);
    CHECK(m.kind == LICET_META_KIND_INT && m.integer == 20);
    m = licet_license_metadata_get(l, "beta", 4);
    CHECK(m.kind == LICET_META_KIND_BOOL && m.boolean);
    CHECK(licet_license_metadata_get(l, "nope", 4).kind == LICET_META_KIND_NONE);
    CHECK(licet_license_metadata(l, 3).kind == LICET_META_KIND_NONE);
    CHECK(!licet_license_revocations_stale(l));
    /* A signature that is not the bound device key's proves nothing. */
    unsigned char sig[64] = {0};
    st = licet_license_verify_possession(l, (const unsigned char *)"c", 1, sig, 64, &err);
    CHECK(failed_with(st, err, LICET_STATUS_REFUSED, "device_key_mismatch"));
    err = NULL;
    licet_license_free(l);
    l = NULL;
    /* NULL handles read as absent. */
    CHECK(licet_license_id(NULL).data == NULL && licet_license_issued_at(NULL) == 0);
    CHECK(!licet_license_expires_at(NULL, &t));

    /* An expired token is refused by verify and still readable by inspect. */
    licet_context *later = NULL;
    CHECK(licet_context_new(1831536000, "acme-pro", 8, &later, &err) == LICET_STATUS_OK);
    CHECK(licet_context_set_fingerprint(later, fp, strlen(fp), &err) == LICET_STATUS_OK);
    CHECK(licet_context_set_domain(later, "example.com", 11, &err) == LICET_STATUS_OK);
    token = slurp("tokens/expired.txt", &len);
    st = licet_verify(token, len, keys, later, &l, &err);
    licet_context_free(later);
    CHECK(failed_with(st, err, LICET_STATUS_REFUSED, "expired") && l == NULL);
    err = NULL;
    CHECK(licet_inspect(token, len, &l, &err) == LICET_STATUS_OK);
    CHECK(!licet_license_is_verified(l) && streq(licet_license_product(l), "acme-pro"));
    licet_license_free(l);
    free(token);
    st = licet_inspect((const unsigned char *)"!!", 2, &l, &err);
    CHECK(failed_with(st, err, LICET_STATUS_REFUSED, "bad_encoding"));
    err = NULL;

    /* A revocation list, and what it names. */
    unsigned char *list_bytes = slurp("revocations/revoked-tokens.cbor", &len);
    licet_revocations *list = NULL;
    CHECK(licet_revocations_verify(list_bytes, len, keys, NULL, &list, &err) == LICET_STATUS_OK);
    uint64_t seq = licet_revocations_sequence(list);
    CHECK(seq > 0 && licet_revocations_token_count(list) > 0);
    uint64_t newer = seq + 1;
    licet_revocations *old = NULL;
    st = licet_revocations_verify(list_bytes, len, keys, &newer, &old, &err);
    CHECK(failed_with(st, err, LICET_STATUS_REFUSED, "revocation_rollback") && old == NULL);
    err = NULL;
    free(list_bytes);
    bool found = true;
    unsigned char unknown[16] = {0xab};
    CHECK(licet_revocations_contains_token(list, unknown, 16, &found, &err) == LICET_STATUS_OK &&
          !found);
    st = licet_revocations_contains_token(list, unknown, 15, &found, &err);
    CHECK(failed_with(st, err, LICET_STATUS_INVALID_ARGUMENT, "invalid_argument"));
    err = NULL;
    CHECK(licet_context_set_revocations(ctx, list, false, &err) == LICET_STATUS_OK);
    /* The context keeps its own reference: the list may go first. */
    licet_revocations_free(list);
    token = slurp("tokens/revoked-token-id.cbor", &len);
    st = licet_verify(token, len, keys, ctx, &l, &err);
    CHECK(failed_with(st, err, LICET_STATUS_REFUSED, "revoked"));
    err = NULL;
    free(token);

    /* An offline request as the vendor reads it. */
    unsigned char *req_bytes = slurp("offline/request-valid.armor", &len);
    licet_offline_request *req = NULL;
    CHECK(licet_offline_request_verify(req_bytes, len, &req, &err) == LICET_STATUS_OK);
    free(req_bytes);
    licet_str p = licet_offline_request_product(req);
    CHECK(p.len == 8 && memcmp(p.data, "acme-pro", 8) == 0);
    licet_str note = licet_offline_request_note(req);
    CHECK(note.len == strlen("line 3, cell 2") && memcmp(note.data, "line 3, cell 2", note.len) == 0);
    CHECK(licet_offline_request_created_at(req) == 1800000000 - 3600);
    st = licet_offline_request_check_age(req, 1800000000 + 8 * 86400, 7 * 86400, &err);
    CHECK(failed_with(st, err, LICET_STATUS_REFUSED, "request_expired"));
    err = NULL;
    licet_offline_request_free(req);

    /* A proof of possession that is not the key's. */
    unsigned char device_a[32] = {0};
    st = licet_verify_possession(device_a, 32, (const unsigned char *)"c", 1, sig, 64, &err);
    CHECK(st == LICET_STATUS_REFUSED || st == LICET_STATUS_INVALID_ARGUMENT);
    licet_error_free(err);
    err = NULL;

    /* The fingerprint needs its buffer. */
    char small_buf[10];
    st = licet_machine_fingerprint("acme-pro", 8, small_buf, sizeof small_buf, &err);
    CHECK(failed_with(st, err, LICET_STATUS_INVALID_ARGUMENT, "invalid_argument"));
    err = NULL;
    char fp_buf[LICET_FINGERPRINT_LEN + 1];
    CHECK(licet_machine_fingerprint("acme-pro", 8, fp_buf, sizeof fp_buf, &err) ==
              LICET_STATUS_OK &&
          strlen(fp_buf) == LICET_FINGERPRINT_LEN);

    /* A client needs a pinned key. */
    licet_keyset *empty = NULL;
    licet_client_config *cfg = NULL;
    licet_keyset_new(&empty, NULL);
    st = licet_client_config_new("http://127.0.0.1:1", 18, "acme-pro", 8, empty, &cfg, &err);
    CHECK(failed_with(st, err, LICET_STATUS_INVALID_ARGUMENT, "invalid_argument") && cfg == NULL);
    licet_keyset_free(empty);

    licet_context_free(ctx);
    licet_keyset_free(keys);
    printf("contract: %d checks, %d failed\n", checks, failures);
    return failures == 0 && checks > 0 ? 0 : 1;
}
